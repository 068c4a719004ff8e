"""Layer normalization over the last axis, forward and backward."""

from kernels.numpy_ref.common import array_module


def layer_norm_forward(x, weight, bias, eps):
    """Normalize each row over the last axis to mean 0 and variance 1, then scale and shift.

    x: (..., D); weight, bias: (D,) or None; eps: added to the variance.
    -> y: (..., D) = (x - mean) * rstd * weight + bias, mean: (..., 1), rstd: (..., 1) = 1 / sqrt(var + eps),
    with the biased variance (divided by D), as PyTorch. Several trailing axes: merge them into one first.
    """
    xp = array_module(x)
    mean = x.mean(axis=-1, keepdims=True)
    centered = x - mean
    rstd = 1 / xp.sqrt((centered * centered).mean(axis=-1, keepdims=True) + eps)
    y = centered * rstd
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y, mean, rstd


def layer_norm_backward(grad, x, weight, mean, rstd):
    """Gradients of layer_norm_forward, from the mean and rstd it returned.

    grad, x: (..., D); weight: (D,) or None; mean, rstd: (..., 1)
    -> grad_x: (..., D), grad_weight: (D,), grad_bias: (D,) (both summed over every leading axis).
    With xhat = (x - mean) * rstd and g = grad * weight, the chain rule through mean and variance gives
    grad_x = rstd * (g - mean(g) - xhat * mean(g * xhat)), means over the last axis.
    """
    xhat = (x - mean) * rstd
    lead = tuple(range(x.ndim - 1))
    grad_weight = (grad * xhat).sum(axis=lead)
    grad_bias = grad.sum(axis=lead)
    g = grad if weight is None else grad * weight
    grad_x = rstd * (g - g.mean(axis=-1, keepdims=True) - xhat * (g * xhat).mean(axis=-1, keepdims=True))
    return grad_x, grad_weight, grad_bias
