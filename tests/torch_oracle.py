"""PyTorch as the oracle: run one function on PyTorch and on tinynet, compare values, dtypes and gradients.

    check(lambda lib, x: lib.sin(x) * 2, (3, 4))
    check(lambda lib, x, i: x.gather(1, i), (3, 4), np.array([[0], [2], [1]]))

The function takes the library first (``torch`` or ``tinynet``), then the inputs: a shape tuple becomes a
float32 array of normal values (or ``values`` draws them), a NumPy array is used as it is. Floating-point
inputs require grad; after the forward, both frameworks run backward from the same random upstream gradient
and every input's gradient must agree (both None, or close). Tests that use it skip cleanly without torch
(CI installs it: ``.ci/run``).
"""

from __future__ import annotations

import numpy as np
import pytest

import tinynet as tn

torch = pytest.importorskip("torch", reason="these tests compare with PyTorch, which is not installed")


def _as_array(spec, rng, low, high, dtype) -> np.ndarray:
    if isinstance(spec, tuple):
        values = rng.standard_normal(spec) if low is None else rng.uniform(low, high, spec)
        return values.astype(dtype)
    return np.asarray(spec)


def _outputs(value) -> list:
    if isinstance(value, (tuple, list)):
        return [item for part in value for item in _outputs(part)]
    return [value]


def _host(value):
    if isinstance(value, torch.Tensor):
        return value.detach().numpy()
    if isinstance(value, tn.Tensor):
        return value.numpy()
    return np.asarray(value)


def compare(what: str, got, expected, atol: float = 1e-5, rtol: float = 1e-4) -> None:
    """tinynet's ``got`` has PyTorch's ``expected`` shape, dtype and values (NaN where PyTorch has NaN)."""
    got_array, expected_array = _host(got), _host(expected)
    assert got_array.shape == expected_array.shape, f"{what}: shape {got_array.shape}, PyTorch {expected_array.shape}"
    if isinstance(expected, torch.Tensor):
        expected_dtype = str(expected.dtype).removeprefix("torch.")
        assert str(got_array.dtype) == expected_dtype, f"{what}: dtype {got_array.dtype}, PyTorch {expected_dtype}"
    if expected_array.dtype.kind == "f":
        np.testing.assert_allclose(got_array, expected_array, atol=atol, rtol=rtol, equal_nan=True, err_msg=what)
    else:
        np.testing.assert_array_equal(got_array, expected_array, err_msg=what)


def check(fn, *inputs, grad: bool = True, atol: float = 1e-5, rtol: float = 1e-4, low=None, high=None,
          dtype=np.float32, seed: int = 0):  # fmt: skip
    """Run ``fn(lib, *inputs)`` on PyTorch and tinynet; assert equal shapes, dtypes, values and gradients."""
    rng = np.random.default_rng(seed)
    arrays = [_as_array(spec, rng, low, high, dtype) for spec in inputs]
    wants_grad = [grad and a.dtype.kind == "f" for a in arrays]
    torch_inputs = [torch.tensor(a, requires_grad=g) for a, g in zip(arrays, wants_grad)]
    tn_inputs = [tn.tensor(a, dtype=a.dtype, requires_grad=g) for a, g in zip(arrays, wants_grad)]

    expected, got = _outputs(fn(torch, *torch_inputs)), _outputs(fn(tn, *tn_inputs))
    assert len(got) == len(expected), f"{len(got)} outputs, PyTorch {len(expected)}"
    for k, (g, e) in enumerate(zip(got, expected)):
        compare(f"output {k}", g, e, atol, rtol)

    differentiable = [(g, e) for g, e in zip(got, expected) if isinstance(e, torch.Tensor) and e.requires_grad]
    if not differentiable:
        return
    torch_loss, tn_loss = 0, 0
    for g, e in differentiable:
        upstream = rng.standard_normal(tuple(e.shape)).astype(_host(e).dtype)
        torch_loss = torch_loss + (e * torch.tensor(upstream)).sum()
        tn_loss = tn_loss + (g * tn.tensor(upstream, dtype=upstream.dtype)).sum()
    torch_loss.backward()
    tn_loss.backward()
    for k, (g, e) in enumerate(zip(tn_inputs, torch_inputs)):
        if e.grad is None:
            assert g.grad is None or not np.any(g.grad.numpy()), f"input {k}: a gradient where PyTorch has none"
        else:
            assert g.grad is not None, f"input {k}: no gradient; PyTorch has one"
            compare(f"gradient of input {k}", g.grad, e.grad, atol * 10, rtol * 10)
