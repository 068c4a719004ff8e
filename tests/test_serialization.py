"""Checkpoints: tn.save / tn.load round trips, atomic writes, damaged files, and load_state_dict's checks."""

import math
import os
from collections import OrderedDict

import numpy as np
import pytest

import tinynet as tn
from tinynet import nn


def assert_identical(a, b, where="obj"):
    """Same types all the way down (tuple stays tuple, int key stays int), same values and dtypes."""
    assert type(a) is type(b), f"{where}: {type(a).__name__} came back as {type(b).__name__}"
    if isinstance(a, tn.Tensor):
        assert a.dtype == b.dtype and a.requires_grad == b.requires_grad, where
        assert type(a.array) is type(tn.zeros(1).array), f"{where}: not on the active backend"
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=where)
    elif isinstance(a, (np.ndarray, np.generic)):
        assert a.dtype == b.dtype, where
        np.testing.assert_array_equal(a, b, err_msg=where)
    elif isinstance(a, dict):
        assert list(a) == list(b), where
        for (ka, va), kb in zip(a.items(), b):
            assert type(ka) is type(kb), f"{where}: key {ka!r}"
            assert_identical(va, b[kb], f"{where}[{ka!r}]")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (va, vb) in enumerate(zip(a, b)):
            assert_identical(va, vb, f"{where}[{i}]")
    elif isinstance(a, float) and math.isnan(a):
        assert math.isnan(b), where
    else:
        assert a == b, where


def test_nested_values_round_trip_with_their_types(backend_name, tmp_path):
    obj = {
        "model": OrderedDict(weight=tn.randn(3, 2), counts=tn.arange(4), mask=tn.tensor([True, False])),
        "optimizer": {
            "state": {0: {"step": 3, "exp_avg": np.ones((3, 2), dtype=np.float32)}},
            "param_groups": [{"lr": 0.01, "betas": (0.9, 0.999), "params": [0, 1]}],
        },
        "step": 7,
        "loss": np.float64(0.25),
        "history": [1.5, float("nan"), float("inf"), None, True, "text", (1, [2, (3,)])],
        (1, "pair"): "a tuple key",
        2.5: {},
        "grad": tn.zeros(2, dtype=tn.float64, requires_grad=True),
        "param": nn.Parameter(tn.ones(2)),
        "empty": np.zeros((0, 3), dtype=np.int16),
    }
    tn.save(obj, tmp_path / "ckpt.npz")
    assert_identical(obj, tn.load(tmp_path / "ckpt.npz"))


def test_path_is_used_as_given(tmp_path):
    tn.save({"a": 1}, str(tmp_path / "model.ckpt"))
    assert os.listdir(tmp_path) == ["model.ckpt"]
    assert tn.load(str(tmp_path / "model.ckpt")) == {"a": 1}


def make_model():
    return nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 4))


def train(model, optimizer, x, y, steps):
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = nn.CrossEntropyLoss()(model(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def test_a_reloaded_model_and_adam_continue_training_identically(backend_name, tmp_path):
    x, y = tn.randn(16, 3), tn.randint(0, 4, (16,))
    model = make_model()
    optimizer = tn.optim.Adam(model.parameters(), lr=0.05, betas=(0.8, 0.99))
    train(model, optimizer, x, y, steps=3)
    tn.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": 3}, tmp_path / "ckpt.npz")
    expected = train(model, optimizer, x, y, steps=4)

    tn.manual_seed(123)  # a fresh model starts from other weights
    fresh = make_model()
    fresh_optimizer = tn.optim.Adam(fresh.parameters(), lr=1.0)
    checkpoint = tn.load(tmp_path / "ckpt.npz")
    fresh.load_state_dict(checkpoint["model"])
    fresh_optimizer.load_state_dict(checkpoint["optimizer"])
    assert checkpoint["step"] == 3
    assert fresh_optimizer.param_groups[0]["betas"] == (0.8, 0.99) and fresh_optimizer.param_groups[0]["lr"] == 0.05
    assert train(fresh, fresh_optimizer, x, y, steps=4) == expected


def test_a_crash_before_the_rename_leaves_the_old_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.npz"
    tn.save({"version": 1, "w": tn.ones(3)}, path)

    def crash(src, dst):
        raise OSError("simulated crash between write and rename")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="simulated crash"):
        tn.save({"version": 2, "w": tn.zeros(3)}, path)
    monkeypatch.undo()
    old = tn.load(path)
    assert old["version"] == 1 and old["w"].tolist() == [1, 1, 1]
    assert os.listdir(tmp_path) == ["ckpt.npz"]  # no temporary file left behind


def test_a_failed_save_leaves_no_file_and_names_the_bad_value(tmp_path):
    with pytest.raises(TypeError, match=r"obj\['layers'\]\[1\] of type object"):
        tn.save({"layers": [1, object()]}, tmp_path / "ckpt.npz")
    with pytest.raises(TypeError, match="Python objects"):
        tn.save({"a": np.array([{}, 1], dtype=object)}, tmp_path / "ckpt.npz")
    assert os.listdir(tmp_path) == []


def flip(data: bytes, start: int, count: int = 8) -> bytes:
    return data[:start] + bytes(b ^ 0xFF for b in data[start : start + count]) + data[start + count :]


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data[: len(data) // 2],  # truncated
        lambda data: data[:-30],  # the end of the zip directory cut off
        lambda data: flip(data, 200),  # in the metadata entry
        lambda data: flip(data, len(data) // 2),  # in the array entry
        lambda data: b"not a checkpoint at all",
        lambda data: b"",
    ],
    ids=["half", "tail", "flipped-meta", "flipped-array", "text", "empty"],
)
def test_damaged_files_are_refused_naming_the_path(tmp_path, damage):
    path = tmp_path / "ckpt.npz"
    tn.save({"w": tn.randn(40, 40), "step": 1}, path)
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(ValueError, match=r"ckpt\.npz.*not a readable tinynet checkpoint"):
        tn.load(path)


def test_other_npz_files_are_refused(tmp_path):
    np.savez(tmp_path / "plain.npz", a=np.zeros(2))
    with pytest.raises(ValueError, match=r"plain\.npz.*__meta__"):
        tn.load(tmp_path / "plain.npz")
    with pytest.raises(FileNotFoundError):
        tn.load(tmp_path / "missing.npz")


def test_load_state_dict_reports_every_mismatch_at_once_as_pytorch_does():
    # PyTorch's rules (this test used to hold tinynet's own): shapes, missing and unexpected keys and non-tensor
    # values are errors, all listed in one RuntimeError in PyTorch's words; integers into a float parameter are
    # not an error (copy_ casts them), so they load.
    torch = pytest.importorskip("torch")
    messages, biases = {}, {}
    for lib in (torch, tn):
        model = lib.nn.Sequential(lib.nn.Linear(2, 3), lib.nn.Linear(3, 1))
        state = model.state_dict()
        state["0.weight"] = lib.zeros(4, 2)  # wrong shape
        state["0.bias"] = lib.arange(3)  # integers for a float parameter
        state["1.weight"] = [[1, 2, 3]]  # not a tensor
        del state["1.bias"]
        state["2.weight"] = lib.zeros(1)
        with pytest.raises(RuntimeError) as err:
            model.load_state_dict(state)
        messages[lib] = str(err.value).replace("torch.Size([", "(").replace("])", ")")
        del state["0.weight"], state["1.weight"]
        model.load_state_dict(state, strict=False)
        biases[lib] = (str(model[0].bias.dtype).replace("torch.", ""), model[0].bias.tolist())
    assert messages[tn] == messages[torch]
    assert biases[tn] == biases[torch] == ("float32", [0.0, 1.0, 2.0])


def test_load_state_dict_casts_between_float_precisions():
    model = nn.Linear(2, 2)
    state = {name: t.numpy().astype(np.float64) + 1 for name, t in model.state_dict().items()}
    model.load_state_dict(state)
    assert model.weight.dtype == tn.float32
    np.testing.assert_allclose(model.weight.numpy(), state["weight"], rtol=1e-6)
