"""Elementwise activations, forward and backward: relu, sigmoid, tanh, gelu, silu, hardtanh, leaky_relu, hardswish,
hardsigmoid.

Each kernel is one fused pass over the flattened arrays, threads splitting it; any shape or strides in,
C-contiguous out. Other dtypes, and backward arguments of different shapes, go to the reference.
"""

import math

import numpy as np

from kernels import numpy_ref
from kernels.numba_cpu.common import (
    CHEAP,
    EXP,
    FUSED,
    erfc,
    exp,
    flat,
    numba,
    range_kernel,
    run_range,
    same_floats,
    tanh,
    warms_up,
)

# Below this many elements, NumPy's ufuncs (the reference's) take less time than entering a compiled kernel: a
# numba call costs about 0.6 us more (its dispatcher checks each argument's type). tanh's forward at 32 values:
# 1.21 us against 0.54, its backward 1.45 against 0.92; at 4096, 2.64 against 1.32 and 1.90 against 1.84 (float32).
# That is the step of a small MLP (the XOR bench's: 2-8-1). Sigmoid's forward keeps its kernel at every size: its
# reference, which must not overflow, takes three passes (1.15 against 3.87 us at 32 values).
UFUNCS_BELOW = 4096


def _unary(kernel, reference, x, cost: int = EXP, ufuncs_below: int = 0, scalars: tuple = ()):
    """y = f(x) elementwise: ``kernel(x_flat, y_flat, *scalars)`` fills y; any shape or strides in, C-contiguous out.
    cost: units of work per element (see common.SPLIT_WORK); below ``ufuncs_below`` elements, the reference;
    scalars: the activation's numbers (hardtanh's bounds), given to the kernel in x's dtype."""
    if x.size < ufuncs_below or not same_floats(x):
        return reference(x, *scalars)
    y = np.empty(x.shape, x.dtype)
    run_range(kernel, cost * x.size, x.size, flat(x), y.reshape(-1), *(x.dtype.type(v) for v in scalars))
    return y


def _binary(kernel, reference, a, b, cost: int = EXP, ufuncs_below: int = 0, scalars: tuple = ()):
    """out = f(a, b) elementwise, for a and b of one shape (other shapes broadcast in the reference); below
    ``ufuncs_below`` elements, the reference; scalars as _unary's."""
    if a.size < ufuncs_below or not (same_floats(a, b) and a.shape == b.shape):
        return reference(a, b, *scalars)
    out = np.empty(a.shape, a.dtype)
    run_range(kernel, cost * a.size, a.size, flat(a), flat(b), out.reshape(-1), *(a.dtype.type(v) for v in scalars))
    return out


@range_kernel()
def _relu_forward(start, stop, x, y):
    zero = x.dtype.type(0)
    for i in range(start, stop):
        y[i] = zero if x[i] < 0 else x[i]  # NaN stays NaN, as with np.maximum


def relu_forward(x):
    """y = max(x, 0). x: any shape -> y: same shape and dtype."""
    return _unary(_relu_forward, numpy_ref.relu_forward, x, CHEAP, UFUNCS_BELOW)


@range_kernel()
def _relu_backward(start, stop, grad_y, x, grad_x):
    zero, one = x.dtype.type(0), x.dtype.type(1)
    for i in range(start, stop):
        grad_x[i] = grad_y[i] * (one if x[i] > 0 else zero)  # a product, as the reference: inf * 0 is NaN


def relu_backward(grad_y, x):
    """dL/dx = dL/dy where x > 0, else 0. grad_y, x: same shape."""
    return _binary(_relu_backward, numpy_ref.relu_backward, grad_y, x, CHEAP, UFUNCS_BELOW)


@numba.njit(inline="always")
def _logistic(v, one):
    """sigmoid(v) of one value (one: 1 in v's type), exp only ever of -|v|, in (0, 1]: it never overflows."""
    e = exp(-abs(v))
    return one / (one + e) if v >= 0 else e / (one + e)


@range_kernel(fastmath=FUSED)
def _sigmoid_forward(start, stop, x, y):
    one = x.dtype.type(1)
    for i in range(start, stop):
        y[i] = _logistic(x[i], one)


def sigmoid_forward(x):
    """y = 1 / (1 + exp(-x)), without overflow for large |x|. x: any shape."""
    return _unary(_sigmoid_forward, numpy_ref.sigmoid_forward, x)


@range_kernel()
def _sigmoid_backward(start, stop, grad_y, y, grad_x):
    one = y.dtype.type(1)
    for i in range(start, stop):
        grad_x[i] = grad_y[i] * y[i] * (one - y[i])


def sigmoid_backward(grad_y, y):
    """dL/dx = dL/dy * y * (1 - y), from the forward's output y. grad_y, y: same shape."""
    return _binary(_sigmoid_backward, numpy_ref.sigmoid_backward, grad_y, y, CHEAP, UFUNCS_BELOW)


@range_kernel(fastmath=FUSED)
def _silu_forward(start, stop, x, y):
    one = x.dtype.type(1)
    for i in range(start, stop):
        y[i] = x[i] * _logistic(x[i], one)


def silu_forward(x):
    """y = x * sigmoid(x), in one pass (the reference takes a sigmoid's three, then a product). x: any shape."""
    return _unary(_silu_forward, numpy_ref.silu_forward, x)


@range_kernel(fastmath=FUSED)
def _silu_backward(start, stop, grad_y, x, grad_x):
    one = x.dtype.type(1)
    for i in range(start, stop):
        s = _logistic(x[i], one)
        grad_x[i] = grad_y[i] * s * (one + x[i] * (one - s))


def silu_backward(grad_y, x):
    """dL/dx = dL/dy * s * (1 + x * (1 - s)), s = sigmoid(x) computed again from x. grad_y, x: same shape."""
    return _binary(_silu_backward, numpy_ref.silu_backward, grad_y, x)


@range_kernel()
def _hardtanh_forward(start, stop, x, y, low, high):
    for i in range(start, stop):
        y[i] = low if x[i] < low else (high if x[i] > high else x[i])  # NaN stays NaN, as np.clip


def hardtanh_forward(x, min_val, max_val):
    """y = min(max(x, min_val), max_val). x: any shape (integers: the reference's, which keeps them)."""
    return _unary(_hardtanh_forward, numpy_ref.hardtanh_forward, x, CHEAP, UFUNCS_BELOW, (min_val, max_val))


@range_kernel()
def _hardtanh_backward(start, stop, grad_y, x, grad_x, low, high):
    zero = grad_y.dtype.type(0)
    for i in range(start, stop):
        grad_x[i] = grad_y[i] if low < x[i] < high else zero  # picked, not multiplied: inf * 0 is not NaN here


def hardtanh_backward(grad_y, x, min_val, max_val):
    """dL/dx = dL/dy where min_val < x < max_val, else 0. grad_y, x: same shape."""
    bounds = (min_val, max_val)
    return _binary(_hardtanh_backward, numpy_ref.hardtanh_backward, grad_y, x, CHEAP, UFUNCS_BELOW, bounds)


@range_kernel()
def _leaky_relu_forward(start, stop, x, y, slope):
    for i in range(start, stop):
        y[i] = x[i] if x[i] > 0 else slope * x[i]  # NaN: slope * NaN, NaN


def leaky_relu_forward(x, negative_slope):
    """y = x where x > 0, else negative_slope * x, in one pass at every size: the reference's select takes seven
    (on (128, 512) float32 it took 89 us, PyTorch 8). x: any shape."""
    return _unary(_leaky_relu_forward, numpy_ref.leaky_relu_forward, x, CHEAP, 0, (negative_slope,))


@range_kernel()
def _leaky_relu_backward(start, stop, grad_y, x, grad_x, slope):
    for i in range(start, stop):
        grad_x[i] = grad_y[i] if x[i] > 0 else slope * grad_y[i]


def leaky_relu_backward(grad_y, x, negative_slope):
    """dL/dx = dL/dy where x > 0, else negative_slope * dL/dy. grad_y, x: same shape."""
    return _binary(_leaky_relu_backward, numpy_ref.leaky_relu_backward, grad_y, x, CHEAP, 0, (negative_slope,))


@numba.njit(inline="always")
def _relu6_of_shifted(v, three, six):
    """min(max(v + 3, 0), 6), NaN staying NaN (as np.clip), in v's type."""
    c = v + three
    return type(v)(0) if c < 0 else (six if c > six else c)


@range_kernel()
def _hardswish_forward(start, stop, x, y):
    three, six = x.dtype.type(3), x.dtype.type(6)
    for i in range(start, stop):
        y[i] = x[i] * _relu6_of_shifted(x[i], three, six) / six  # the reference's operations, in its order


def hardswish_forward(x):
    """y = x * relu6(x + 3) / 6 in one pass, at every size: the reference's four passes (its clip the slowest) took
    1.3 ms on (32, 32, 32, 32) float32, PyTorch 0.14. x: any shape."""
    return _unary(_hardswish_forward, numpy_ref.hardswish_forward, x, CHEAP)


@range_kernel()
def _hardswish_backward(start, stop, grad_y, x, grad_x):
    three, half, zero = x.dtype.type(3), x.dtype.type(0.5), grad_y.dtype.type(0)
    for i in range(start, stop):
        v = x[i]
        grad_x[i] = zero if v <= -three else (grad_y[i] * (v / three + half) if v < three else grad_y[i])


def hardswish_backward(grad_y, x):
    """dL/dx = 0 for x <= -3, dL/dy (x / 3 + 1/2) for -3 < x < 3, dL/dy for x >= 3 (the reference's two selects:
    4.5 ms on (32, 32, 32, 32)). grad_y, x: same shape."""
    return _binary(_hardswish_backward, numpy_ref.hardswish_backward, grad_y, x, CHEAP)


@range_kernel()
def _hardsigmoid_forward(start, stop, x, y):
    three, six = x.dtype.type(3), x.dtype.type(6)
    for i in range(start, stop):
        y[i] = _relu6_of_shifted(x[i], three, six) / six


def hardsigmoid_forward(x):
    """y = relu6(x + 3) / 6 in one pass. x: any shape."""
    return _unary(_hardsigmoid_forward, numpy_ref.hardsigmoid_forward, x, CHEAP)


@range_kernel()
def _hardsigmoid_backward(start, stop, grad_y, x, grad_x):
    three, six, zero = x.dtype.type(3), grad_y.dtype.type(6), grad_y.dtype.type(0)
    for i in range(start, stop):
        grad_x[i] = grad_y[i] / six if -three < x[i] < three else zero


def hardsigmoid_backward(grad_y, x):
    """dL/dx = dL/dy / 6 where -3 < x < 3, else 0. grad_y, x: same shape."""
    return _binary(_hardsigmoid_backward, numpy_ref.hardsigmoid_backward, grad_y, x, CHEAP)


@range_kernel(fastmath=FUSED)
def _tanh_forward(start, stop, x, y):
    for i in range(start, stop):
        y[i] = tanh(x[i])


def tanh_forward(x):
    """y = tanh(x). x: any shape.

    Computed from expm1 (vectorized, see `common.tanh`) rather than libm's scalar tanh, which measured
    30x (float32) and 12x (float64) slower on 1M values.
    """
    return _unary(_tanh_forward, numpy_ref.tanh_forward, x, EXP, UFUNCS_BELOW)


@range_kernel()
def _tanh_backward(start, stop, grad_y, y, grad_x):
    one = y.dtype.type(1)
    for i in range(start, stop):
        grad_x[i] = grad_y[i] * (one - y[i] * y[i])


def tanh_backward(grad_y, y):
    """dL/dx = dL/dy * (1 - y^2), from the forward's output y. grad_y, y: same shape."""
    return _binary(_tanh_backward, numpy_ref.tanh_backward, grad_y, y, CHEAP, UFUNCS_BELOW)


@range_kernel(fastmath=FUSED)
def _gelu_forward(start, stop, x, y):
    half, sqrt_half = x.dtype.type(0.5), x.dtype.type(math.sqrt(0.5))
    for i in range(start, stop):
        y[i] = half * x[i] * erfc(-x[i] * sqrt_half)


def gelu_forward(x):
    """y = x * Phi(x), Phi the standard normal CDF = (1 + erf(x / sqrt 2)) / 2. x: any shape.

    Phi is computed as erfc(-x / sqrt 2) / 2, the same value but without the cancellation in 1 + erf for
    x << 0, which in float32 would leave few correct digits there (the reference computes in float64).
    """
    return _unary(_gelu_forward, numpy_ref.gelu_forward, x)


@range_kernel(fastmath=FUSED)
def _gelu_backward(start, stop, grad_y, x, grad_x):
    half, sqrt_half = x.dtype.type(0.5), x.dtype.type(math.sqrt(0.5))
    inv_sqrt_2pi = x.dtype.type(1 / math.sqrt(2 * math.pi))
    for i in range(start, stop):
        cdf = half * erfc(-x[i] * sqrt_half)  # see gelu_forward
        pdf = exp(-half * x[i] * x[i]) * inv_sqrt_2pi
        grad_x[i] = grad_y[i] * (cdf + x[i] * pdf)


def gelu_backward(grad_y, x):
    """dL/dx = dL/dy * (Phi(x) + x * phi(x)), phi the standard normal density. grad_y, x: same shape."""
    return _binary(_gelu_backward, numpy_ref.gelu_backward, grad_y, x)


@warms_up
def warm_up(dtype: np.dtype) -> None:
    """Compile every activation kernel for dtype (see common.warms_up)."""
    x = np.linspace(-3, 3, UFUNCS_BELOW).astype(dtype).reshape(-1, 4)
    for unary in (relu_forward, sigmoid_forward, tanh_forward, gelu_forward, silu_forward):
        unary(x)
    for binary in (relu_backward, sigmoid_backward, tanh_backward, gelu_backward, silu_backward):
        binary(x, x)
    hardtanh_forward(x, 0.0, 6.0)
    hardtanh_backward(x, x, 0.0, 6.0)
    leaky_relu_forward(x, 0.01)
    leaky_relu_backward(x, x, 0.01)
    for forward, backward in ((hardswish_forward, hardswish_backward), (hardsigmoid_forward, hardsigmoid_backward)):
        backward(x, forward(x))
