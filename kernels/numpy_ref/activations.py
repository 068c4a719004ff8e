"""Elementwise activations and their derivatives: y = f(x), dL/dx = dL/dy * f'(x)."""

import numpy as np

from kernels.numpy_ref.common import array_module, select


def relu_forward(x):
    """y = max(x, 0). x: any shape -> y: same shape."""
    return array_module(x).maximum(x, 0)


def relu_backward(grad_y, x):
    """dL/dx = dL/dy where x > 0, else 0. grad_y, x: same shape."""
    return grad_y * (x > 0)


def sigmoid_forward(x):
    """y = 1 / (1 + exp(-x)), computed without overflow for large |x|. x: any shape."""
    xp = array_module(x)
    e = xp.exp(-xp.abs(x))  # in (0, 1], never overflows
    return xp.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)


def sigmoid_backward(grad_y, y):
    """dL/dx = dL/dy * y * (1 - y), from the forward's output y. grad_y, y: same shape."""
    return grad_y * y * (1 - y)


def silu_forward(x):
    """y = x * sigmoid(x) (SiLU, or swish). x: any shape."""
    return x * sigmoid_forward(x)


def silu_backward(grad_y, x):
    """dL/dx = dL/dy * s * (1 + x * (1 - s)), s = sigmoid(x), from the forward's input x (as PyTorch's
    silu_backward). grad_y, x: same shape."""
    s = sigmoid_forward(x)
    return grad_y * s * (1 + x * (1 - s))


def hardtanh_forward(x, min_val, max_val):
    """y = min(max(x, min_val), max_val) (ReLU6: 0 and 6); NaN stays NaN; integer x stays integer. x: any shape."""
    return array_module(x).clip(x, min_val, max_val).astype(x.dtype, copy=False)


def hardtanh_backward(grad_y, x, min_val, max_val):
    """dL/dx = dL/dy where min_val < x < max_val, else 0 (no gradient at the bounds, as PyTorch's).
    grad_y, x: same shape."""
    return select((x > min_val) & (x < max_val), grad_y, 0).astype(grad_y.dtype, copy=False)


def leaky_relu_forward(x, negative_slope):
    """y = x where x > 0, else negative_slope * x (NaN stays NaN). x: any shape."""
    return select(x > 0, x, negative_slope * x)


def leaky_relu_backward(grad_y, x, negative_slope):
    """dL/dx = dL/dy where x > 0, else negative_slope * dL/dy (at 0 the slope's side, as PyTorch's). grad_y, x: same
    shape."""
    return select(x > 0, grad_y, negative_slope * grad_y)


def hardswish_forward(x):
    """y = x * relu6(x + 3) / 6: 0 for x <= -3, x for x >= 3, x (x + 3) / 6 between. x: any shape."""
    return x * array_module(x).clip(x + 3, 0, 6) / 6


def hardswish_backward(grad_y, x):
    """dL/dx = 0 for x <= -3, dL/dy (x / 3 + 1/2) for -3 < x < 3, dL/dy for x >= 3. grad_y, x: same shape."""
    return select(x <= -3, 0, select(x < 3, grad_y * (x / 3 + 0.5), grad_y)).astype(grad_y.dtype, copy=False)


def hardsigmoid_forward(x):
    """y = relu6(x + 3) / 6, a piecewise-linear sigmoid. x: any shape."""
    return array_module(x).clip(x + 3, 0, 6) / 6


def hardsigmoid_backward(grad_y, x):
    """dL/dx = dL/dy / 6 where -3 < x < 3, else 0. grad_y, x: same shape."""
    return select((x > -3) & (x < 3), grad_y / 6, 0).astype(grad_y.dtype, copy=False)


def tanh_forward(x):
    """y = tanh(x). x: any shape."""
    return array_module(x).tanh(x)


def tanh_backward(grad_y, y):
    """dL/dx = dL/dy * (1 - y^2), from the forward's output y. grad_y, y: same shape."""
    return grad_y * (1 - y * y)


def _erf(x):
    # NumPy has no erf; SciPy's (or CuPy's twin of it) is exact to the last bit.
    if array_module(x) is np:
        from scipy.special import erf
    else:
        from cupyx.scipy.special import erf
    return erf(x)


def gelu_forward(x):
    """y = x * Phi(x), Phi the standard normal CDF = (1 + erf(x / sqrt 2)) / 2. x: any shape."""
    return (0.5 * x * (1 + _erf(x / np.sqrt(2)))).astype(x.dtype, copy=False)


def gelu_backward(grad_y, x):
    """dL/dx = dL/dy * (Phi(x) + x * phi(x)), phi the standard normal density. grad_y, x: same shape."""
    xp = array_module(x)
    cdf = 0.5 * (1 + _erf(x / np.sqrt(2)))
    pdf = xp.exp(-0.5 * x * x) / np.sqrt(2 * np.pi)
    return (grad_y * (cdf + x * pdf)).astype(x.dtype, copy=False)
