"""The real PyTorch-style programs of tests/programs/: which to run (``CASES``) and how to load one on tinynet or,
its import lines read as ``torch``, on PyTorch (``load_program``). Shared by tests/test_pytorch_programs.py and
benchmarks/programs.py; it imports neither pytest nor PyTorch."""

from __future__ import annotations

import re
import sys
import types
from dataclasses import dataclass, field
from pathlib import Path

PROGRAMS = Path(__file__).parent / "programs"
_IMPORT_LINE = re.compile(r"^(\s*)(import|from) tinynet(?=[.\s])", re.MULTILINE)


@dataclass(frozen=True)
class Case:
    """One program, and the arguments of its ``make_model`` (``compare_kwargs`` added when compared)."""

    program: str
    args: tuple = ()
    compare_kwargs: dict = field(default_factory=dict)
    steps: int | None = None  # the program's own default when None

    @property
    def id(self) -> str:
        return "-".join([self.program, *map(str, self.args)])


CASES = [
    Case("polynomial_manual"),
    Case("polynomial_autograd"),
    Case("polynomial_nn"),
    Case("dynamic_net"),
    Case("nn_really"),
    Case("mnist_cnn"),
    Case("dcgan"),
    *(Case("word_language_model", (kind,), {"dropout": 0.0}) for kind in ("LSTM", "GRU", "RNN_TANH", "Transformer")),
    Case("gpt"),
    Case("makemore"),
]


def load_program(name: str, library: str) -> types.ModuleType:
    """The program ``tests/programs/<name>.py`` as a fresh module, on tinynet or (imports swapped) on PyTorch."""
    path = PROGRAMS / f"{name}.py"
    source = path.read_text()
    if library == "torch":
        source = _IMPORT_LINE.sub(r"\1\2 torch", source)
    module_name = f"_program_{name}_{library}"
    module = types.ModuleType(module_name)
    module.__file__ = str(path)
    sys.modules[module_name] = module  # dataclasses look their module up here
    try:
        exec(compile(source, str(path), "exec"), module.__dict__)
    except BaseException:
        del sys.modules[module_name]
        raise
    return module
