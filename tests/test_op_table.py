"""The table of ops (``tinynet ops``): every Function's docstring gives its forward, derivative and kernels,
and the kernels it names are exactly those its forward and backward call."""

import importlib
import inspect
import pkgutil

import pytest

import tinynet.functions
from kernels import numpy_ref
from tinynet import autograd, backend, op_table
from tinynet.autograd import Function
from tinynet.cli import main


def _defined_functions() -> list[type]:
    found = []
    for module_info in pkgutil.iter_modules(tinynet.functions.__path__):
        module = importlib.import_module(f"tinynet.functions.{module_info.name}")
        found += [
            obj for obj in vars(module).values()
            if inspect.isclass(obj) and issubclass(obj, Function) and obj.__module__ == module.__name__
        ]  # fmt: skip
    return found


@pytest.mark.parametrize("function", _defined_functions(), ids=lambda f: f.__name__)
def test_every_function_writes_its_forward_derivative_and_kernels(function):
    entries = op_table.fields(function)
    assert set(entries) == set(op_table.FIELDS), (
        f"{function.__name__}'s docstring lacks {set(op_table.FIELDS) - set(entries)}"
    )
    assert all(len(text) > 5 for text in entries.values()), entries


def test_the_kernels_a_docstring_names_are_the_kernels_the_op_calls(monkeypatch):
    """Run the catalogue with every kernel of the reference table recording its calls, and every Function's
    forward and backward recording that they run: each Function called exactly the kernels it names. A gradient its
    backward returns as parts (autograd.DeferredSum) is made later, when backward takes it: its kernels are the
    Function's too."""
    stack: list[type] = []
    called: dict[type, set[str]] = {}

    def recording_kernel(name, kernel):
        def record(*args, **kwargs):
            for function in stack:  # Conv1d's forward runs Conv2d's: both call the kernel
                called[function].add(name)
            return kernel(*args, **kwargs)

        return record

    def running(function, method):
        def run(*args, **kwargs):
            stack.append(function)
            called.setdefault(function, set())
            try:
                return method(*args, **kwargs)
            finally:
                stack.pop()

        return staticmethod(run)

    def made_by_the_running_function(kind):
        def init(self, *args, **kwargs):
            self.made_by = stack[-1]
            kind_init(self, *args, **kwargs)

        def array(self):
            return running(self.made_by, kind_array).__func__(self)

        kind_init, kind_array = kind.__init__, kind.array
        monkeypatch.setattr(kind, "__init__", init)
        monkeypatch.setattr(kind, "array", array)

    for kind in autograd.DeferredSum.__subclasses__():
        made_by_the_running_function(kind)
    table = backend.load("numpy")
    for name in numpy_ref.KERNELS:
        monkeypatch.setattr(table, name, recording_kernel(name, getattr(table, name)))
    for function in _defined_functions():
        monkeypatch.setattr(function, "forward", running(function, function.forward))
        monkeypatch.setattr(function, "backward", running(function, function.backward))
    with tinynet.use_backend("numpy"):
        functions = op_table.catalogue_functions()
    assert set(functions) == set(_defined_functions())  # the catalogue runs every op
    wrong = {
        f.__name__: (sorted(op_table.kernel_names(op_table.fields(f)["kernels"])), sorted(called[f]))
        for f in functions
        if set(op_table.kernel_names(op_table.fields(f)["kernels"])) != called[f]
    }
    assert wrong == {}, "(named in the docstring, called) differ"


def test_tinynet_ops_prints_every_op_with_the_backends_that_override_each_kernel(capsys):
    assert main(["ops"]) == 0
    out = capsys.readouterr().out
    for function in _defined_functions():
        assert f"\n{function.__name__}  (tinynet/functions/" in out
    numba = backend.overrides("numba")
    relu = "relu_forward [numba, cupy]" if "relu_forward" in numba else "relu_forward [cupy]"
    assert relu in out and "forward     y = max(x, 0)" in out
    assert "kernels     none: computed inline" in out  # the inline ops say so
    assert f"{len(_defined_functions())} ops:" in out
    with pytest.raises(SystemExit, match="no op named nosuchop"):
        main(["ops", "--only", "nosuchop"])
