"""Numerical stability where the other op tests do not reach: layer norm at +-1e4 and on constant rows,
and the class losses on a batch of one and a batch of 100,000, each against float64 references.
(Activations, softmax, cross-entropy and BCE at +-1e4: test_functional.py; attention with huge scores
and fully masked rows: test_attention.py and test_kernels_attention.py.)"""

import numpy as np
import pytest

import tinynet as tn
import tinynet.nn.functional as F

DTYPES = [tn.float32, tn.float64]


def _tolerance(dtype) -> dict:
    return dict(rtol=2e-4, atol=2e-5) if dtype == tn.float32 else dict(rtol=1e-9, atol=1e-12)


def _layer_norm_reference(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float, grad: np.ndarray):
    """y and dL/dx, dL/dweight, dL/dbias in float64, for loss = sum(y * grad)."""
    mean = x.mean(-1, keepdims=True)
    centred = x - mean
    rstd = 1 / np.sqrt((centred**2).mean(-1, keepdims=True) + eps)
    xhat = centred * rstd
    g = grad * weight
    n = x.shape[-1]
    grad_x = rstd * (g - g.mean(-1, keepdims=True) - xhat * (g * xhat).sum(-1, keepdims=True) / n)
    return xhat * weight + bias, grad_x, (grad * xhat).reshape(-1, n).sum(0), grad.reshape(-1, n).sum(0)


@pytest.mark.filterwarnings("error::RuntimeWarning")
@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
def test_layer_norm_at_plus_minus_1e4_and_on_constant_rows(backend_name, dtype):
    rng = np.random.default_rng(0)
    x = np.stack([
        1e4 + rng.standard_normal(8),  # a huge offset: the mean must come out before the variance
        rng.choice([-1e4, 1e4], 8),  # huge spread
        np.full(8, 1e4),  # constant: variance 0, so rstd = 1/sqrt(eps), and y = bias
        np.zeros(8),
    ])  # fmt: skip
    x = x.astype(dtype).astype(np.float64)  # the values the tensor really holds
    weight, bias, grad = rng.standard_normal(8), rng.standard_normal(8), rng.standard_normal((4, 8))
    xt = tn.tensor(x, dtype=dtype, requires_grad=True)
    wt, bt = (tn.tensor(a, dtype=dtype, requires_grad=True) for a in (weight, bias))
    y = F.layer_norm(xt, (8,), wt, bt, eps=1e-5)
    (y * tn.tensor(grad, dtype=dtype)).sum().backward()
    expected = _layer_norm_reference(x, weight, bias, 1e-5, grad)
    for got, want in zip((y, xt.grad, wt.grad, bt.grad), expected):
        assert got.dtype == dtype and np.isfinite(got.numpy()).all()
        # Row 0's x - mean keeps float32's rounding of 1e4 (~1e-3): relative to its spread of ~1, not tiny.
        tolerance = dict(rtol=1e-2, atol=1e-2) if dtype == tn.float32 else _tolerance(dtype)
        np.testing.assert_allclose(got.numpy(), want, **tolerance)


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("batch", [1, 100_000])
def test_class_losses_on_a_batch_of_one_and_of_a_hundred_thousand(backend_name, dtype, batch):
    rng = np.random.default_rng(batch)
    logits = rng.standard_normal((batch, 10)) * 30  # confident rows, some of them wrong
    labels = rng.integers(0, 10, batch)
    x = tn.tensor(logits, dtype=dtype, requires_grad=True)
    loss = F.cross_entropy(x, tn.tensor(labels))
    loss.backward()
    shifted = logits - logits.max(1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(1, keepdims=True))
    onehot = np.eye(10)[labels]
    assert np.isfinite(loss.item()) and np.isfinite(x.grad.numpy()).all()
    assert loss.item() == pytest.approx(-log_p[np.arange(batch), labels].mean(), rel=1e-5)
    np.testing.assert_allclose(x.grad.numpy(), (np.exp(log_p) - onehot) / batch, **_tolerance(dtype))
    # BCE with logits on the same scale, summed over the batch: a big sum must stay accurate.
    z, t = logits[:, 0], (labels % 2).astype(np.float64)
    zt = tn.tensor(z, dtype=dtype, requires_grad=True)
    bce = F.binary_cross_entropy_with_logits(zt, tn.tensor(t, dtype=dtype), reduction="sum")
    bce.backward()
    expected = np.maximum(z, 0) - z * t + np.log1p(np.exp(-np.abs(z)))
    assert bce.item() == pytest.approx(expected.sum(), rel=1e-5)
    np.testing.assert_allclose(zt.grad.numpy(), 1 / (1 + np.exp(-z)) - t, **_tolerance(dtype))
