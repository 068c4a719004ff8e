"""Real PyTorch-style programs (tests/programs/) run on tinynet with only the import swapped (issue 13).

Each program in ``tests/programs/`` is written as a learner writes PyTorch, with ``import tinynet as torch``
(and ``tinynet.nn as nn``...) as its only tinynet-specific lines; it offers ``make_model()``, which builds the
model (or the tensors of parameters), and ``train(model, steps)``, which trains on synthetic data made in the
program and returns the loss at each step. Here each program runs

- on tinynet, on every backend usable here: the loss must fall;
- where PyTorch is installed, also on PyTorch (the same source with ``tinynet`` read as ``torch`` in its import
  lines), from PyTorch's initial weights copied into tinynet's model: the losses must agree to 1e-5.

Randomness the two libraries draw differently is kept out of the comparison: the data and batches come from
NumPy, dropout is off (p = 0), and only samples that do not depend on the random stream are compared.
"""

from __future__ import annotations

import ast
import importlib.util
import re
import types

import numpy as np
import pytest
from program_cases import CASES, PROGRAMS, Case, load_program

import tinynet

TOLERANCE = 1e-5  # float32, as the issue asks


def _train(module: types.ModuleType, case: Case, model) -> list[float]:
    steps = {} if case.steps is None else {"steps": case.steps}
    losses = module.train(model, **steps)
    assert len(losses) >= 2 and all(np.isfinite(losses)), f"{case.id}: losses {losses}"
    return [float(loss) for loss in losses]


def _dropout_off(model, nn) -> None:
    """Sets every Dropout module's p to 0: the libraries' random masks differ."""
    models = model if isinstance(model, tuple) else (model,)
    for part in models:
        if isinstance(part, nn.Module):
            for m in part.modules():
                if isinstance(m, nn.Dropout):
                    m.p = 0.0


def _copy_weights(source, target) -> None:
    """PyTorch's initial weights into tinynet's model, through NumPy (modules, tuples of them, dicts of tensors)."""
    if isinstance(source, tuple):
        for s, t in zip(source, target, strict=True):
            _copy_weights(s, t)
    elif isinstance(source, dict):
        assert source.keys() == target.keys()
        with tinynet.no_grad():
            for key, value in source.items():
                target[key].copy_(tinynet.from_numpy(value.detach().numpy().copy()))
    else:
        state = {key: tinynet.from_numpy(value.detach().numpy().copy()) for key, value in source.state_dict().items()}
        target.load_state_dict(state)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_loss_falls_on_tinynet(case: Case, backend_name: str) -> None:
    program = load_program(case.program, "tinynet")
    losses = _train(program, case, program.make_model(*case.args))
    assert losses[-1] < losses[0], f"{case.id} on {backend_name}: the loss did not fall: {losses}"


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_same_losses_as_pytorch(case: Case, backend_name: str) -> None:
    torch = pytest.importorskip("torch", reason="PyTorch is not installed: nothing to compare the programs with")
    on_torch, on_tinynet = load_program(case.program, "torch"), load_program(case.program, "tinynet")
    torch.manual_seed(0)
    torch_model = on_torch.make_model(*case.args, **case.compare_kwargs)
    tinynet_model = on_tinynet.make_model(*case.args, **case.compare_kwargs)
    _dropout_off(torch_model, torch.nn)
    _dropout_off(tinynet_model, tinynet.nn)
    _copy_weights(torch_model, tinynet_model)

    expected = _train(on_torch, case, torch_model)
    got = _train(on_tinynet, case, tinynet_model)
    np.testing.assert_allclose(got, expected, rtol=TOLERANCE, atol=TOLERANCE, err_msg=f"{case.id} losses")
    if case.program == "gpt":  # top_k=1 picks the likeliest character: no randomness left to differ
        assert on_tinynet.sample(tinynet_model, top_k=1) == on_torch.sample(torch_model, top_k=1)


def test_makemore_bigram_counts_and_samples(backend_name: str) -> None:
    """The bigram model's likelihood is PyTorch's; its samples (a different random stream) are names."""
    program = load_program("makemore", "tinynet")
    nll, samples = program.bigram(program.words)
    assert len(samples) == 5 and all(set(name) <= set(program.chars) for name in samples)
    names = program.sample(program.make_model(), n=3)
    assert len(names) == 3 and all(set(name) <= set(program.chars) for name in names)
    if importlib.util.find_spec("torch") is None:
        pytest.skip("PyTorch is not installed: the likelihood is not compared")
    expected, _ = load_program("makemore", "torch").bigram(program.words)
    assert abs(nll - expected) <= TOLERANCE * max(1.0, abs(expected))


def test_gpt_generates_with_sampling(backend_name: str) -> None:
    """generate() with multinomial and top-k sampling gives characters of the vocabulary, of the asked length."""
    program = load_program("gpt", "tinynet")
    text = program.sample(program.make_model(), top_k=5, max_new_tokens=6)
    assert text.startswith("the ") and len(text) == 10 and set(text) <= set(program.chars)


def test_programs_read_as_pytorch() -> None:
    """Only import lines name tinynet: the code of every program is PyTorch code as written for PyTorch."""
    programs = sorted(PROGRAMS.glob("*.py"))
    assert len(programs) >= len({case.program for case in CASES})
    for path in programs:
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            assert not (isinstance(node, ast.Name) and node.id == "tinynet"), f"{path.name}:{node.lineno}"
        assert re.search(r"^import tinynet as torch$", path.read_text(), re.MULTILINE), path.name
