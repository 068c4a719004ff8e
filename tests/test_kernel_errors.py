"""Whose fault is an error? A kernel that fails on inputs its op accepted is a bug in the kernel: the error
names the kernel and its backend, says so, and chains the kernel's own error, whose traceback shows the
failing line. What the caller got wrong is still said about the caller's inputs."""

import traceback

import numpy as np
import pytest

import tinynet as tn
import tinynet.nn.functional as F
from kernels.numpy_ref import activations


class _Broken:
    """An array module whose ``maximum`` fails: a bug planted inside the reference relu kernel."""

    @staticmethod
    def maximum(x, y):
        raise ValueError("operands could not be broadcast together (a bug planted in the kernel)")


def test_a_failing_kernel_is_named_with_its_backend_and_keeps_its_cause(monkeypatch):
    monkeypatch.setattr(activations, "array_module", lambda *arrays: _Broken)
    with tn.use_backend("numpy"), pytest.raises(tn.KernelError) as caught:
        F.relu(tn.tensor([-1.0, 2.0, 3.0, -4.0, 5.0]))
    err = caught.value
    assert str(err).startswith("relu: kernel relu_forward of backend numpy failed on inputs of shapes (5,)")
    assert "bug in the kernel, not in the caller's inputs" in str(err)
    assert not isinstance(err, ValueError)  # an ArgumentError (a ValueError) would blame the inputs
    assert isinstance(err.__cause__, ValueError) and "planted" in str(err.__cause__)
    shown = "".join(traceback.format_exception(err))
    assert f'File "{activations.__file__}"' in shown and "in relu_forward" in shown
    assert "return array_module(x).maximum(x, 0)" in shown  # the kernel's own line


def test_a_kernel_failing_in_backward_is_named_too(monkeypatch):
    x = tn.tensor([-1.0, 0.5, 2.0], requires_grad=True)
    y = F.gelu(x).sum()

    def broken_erf(values):
        raise IndexError("index 3 is out of bounds (a bug planted in the kernel)")

    monkeypatch.setattr(activations, "_erf", broken_erf)
    with tn.use_backend("numpy"), pytest.raises(tn.KernelError) as caught:
        y.backward()
    assert str(caught.value).startswith("gelu (backward): kernel gelu_backward of backend numpy failed on inputs")
    assert isinstance(caught.value.__cause__, IndexError)


def test_what_no_kernel_raised_is_still_said_about_the_inputs():
    a = tn.tensor(np.ones((2, 3)))
    with pytest.raises(tn.ShapeError, match=r"add: shapes \(2, 3\) and \(4,\) cannot broadcast"):
        a + tn.tensor(np.ones(4))
    with pytest.raises(tn.DTypeError, match="softmax: expected a floating-point tensor"):
        F.softmax(tn.tensor([True, False]), 0)


def test_a_failing_numba_kernel_is_named_with_its_backend(monkeypatch):
    pytest.importorskip("numba", reason="numba is not installed: the numba backend cannot run here")
    from kernels.numba_cpu import activations as numba_activations

    def planted(kernel, work, *arrays):
        raise TypeError("No implementation of function (a bug planted in the kernel)")

    monkeypatch.setattr(numba_activations, "run_range", planted)
    with tn.use_backend("numba"), pytest.raises(tn.KernelError) as caught:
        F.sigmoid(tn.tensor([[0.5, -1.0], [2.0, 3.0]]))
    assert str(caught.value).startswith(
        "sigmoid: kernel sigmoid_forward of backend numba failed on inputs of shapes (2, 2) and dtypes float32"
    )
    assert isinstance(caught.value.__cause__, TypeError)


def test_a_failing_fallback_says_the_reference_ran_for_the_active_backend(monkeypatch):
    import types

    from tinynet import backend

    partial = types.ModuleType("partial")  # a backend with no kernels of its own: every one falls back
    partial.array_module = lambda: np
    monkeypatch.setitem(backend._loaded, "partial", backend.Backend("partial", partial))
    monkeypatch.setattr(activations, "array_module", lambda *arrays: _Broken)
    with tn.use_backend("partial"), pytest.raises(tn.KernelError) as caught:
        F.relu(tn.tensor([1.0, -1.0]))
    assert "kernel relu_forward of backend numpy (the reference, which backend partial fell back on)" in str(
        caught.value
    )
