"""Resampling along one axis, forward and backward (interpolate's nearest, linear and cubic modes): one block of the
axes before it per thread, each output position a weighted sum of a few input rows of the axes after it (of single
numbers along the last axis, in the same kernel: one of its own, 2-D, took 0.5 s more to compile for 10 us less on a
(32, 32, 14, 7) upsampling). Nearest's one tap gets a weight of 1, so that one compiled kernel serves every mode (two,
without a weight, took as long again to compile).

The reference takes one NumPy gather a tap and, backward, a dense (O, L) matrix product after moving the axis last:
a nearest upsampling by 2 of (32, 32, 7, 7) float32, forward and backward, took 1.3 and 1.6 ms (a conv
autoencoder's step, 8.1 ms in all; PyTorch's whole step 8.6).
"""

import numpy as np

from kernels import numpy_ref
from kernels.numba_cpu.common import CHEAP, contiguous, range_kernel, run_range, same_floats, warms_up


def _usable(a, index, weight, length: int) -> bool:
    """Whether the kernels take these: float32 or float64 values (weight of a's dtype, or None), int64 positions in
    [0, length) (the kernels do not check: one outside would read, or write, past the array; the reference raises),
    nothing empty."""
    floats = same_floats(a) if weight is None else same_floats(a, weight)
    if not (floats and a.size > 0 and index.dtype == np.int64 and index.ndim == 2 and index.size > 0):
        return False
    return 0 <= index.min() and index.max() < length


def _outer_inner(shape: tuple, axis: int) -> tuple[int, int]:
    """(how many numbers the axes before ``axis`` hold, and the axes after it). The kernels take an array as
    (outer, size * inner): position o along the axis at columns o * inner onwards."""
    return int(np.prod(shape[:axis])), int(np.prod(shape[axis + 1 :]))


@range_kernel()
def _resample_forward(start, stop, x, index, weight, out, inner):
    positions, taps = index.shape
    for a in range(start, stop):
        for o in range(positions):
            if inner == 1:  # the last axis: no inner loop of one number (1.8 ns a value with it, one thread; 0.8)
                total = weight[o, 0] * x[a, index[o, 0]]
                for t in range(1, taps):
                    total += weight[o, t] * x[a, index[o, t]]
                out[a, o] = total
                continue
            source, w, at = index[o, 0] * inner, weight[o, 0], o * inner
            for i in range(inner):
                out[a, at + i] = w * x[a, source + i]
            for t in range(1, taps):
                source, w = index[o, t] * inner, weight[o, t]
                for i in range(inner):
                    out[a, at + i] += w * x[a, source + i]


def _weights(index, weight, dtype):
    """The taps' weights as the kernels take them: C-contiguous, of the values' dtype; nearest's one tap (None), 1."""
    return np.ones(index.shape, dtype) if weight is None else contiguous(weight)


def resample_forward(x, axis, index, weight):
    """out[..., o, ...] = sum over t of weight[o, t] * x[..., index[o, t], ...] along ``axis``. x: any shape;
    index: (O, T) int64; weight: (O, T) of x's dtype, or None (one tap of weight 1) -> x's shape with O at axis."""
    if not _usable(x, index, weight, x.shape[axis]):
        return numpy_ref.resample_forward(x, axis, index, weight)
    outer, inner = _outer_inner(x.shape, axis)
    out = np.empty((outer, index.shape[0] * inner), x.dtype)
    x2, weight = contiguous(x).reshape(outer, -1), _weights(index, weight, x.dtype)
    run_range(_resample_forward, CHEAP * out.size * index.shape[1], outer, x2, contiguous(index), weight, out, inner)
    return out.reshape(*x.shape[:axis], index.shape[0], *x.shape[axis + 1 :])


@range_kernel()
def _resample_backward(start, stop, grad, index, weight, grad_x, inner):
    positions, taps = index.shape
    for a in range(start, stop):
        for j in range(grad_x.shape[1]):
            grad_x[a, j] = 0
        for o in range(positions):  # each output's taps added where they came from, in order
            for t in range(taps):
                target, w, at = index[o, t] * inner, weight[o, t], o * inner
                if inner == 1:  # the last axis, as the forward's
                    grad_x[a, target] += w * grad[a, at]
                    continue
                for i in range(inner):
                    grad_x[a, target + i] += w * grad[a, at + i]


def resample_backward(grad, axis, index, weight, size):
    """dL/dx of resample_forward: grad_x[..., l, ...] = sum of weight[o, t] * grad[..., o, ...] over the (o, t)
    with index[o, t] = l. grad: the forward's output; size: x.shape[axis] -> x's shape."""
    if not _usable(grad, index, weight, size) or grad.shape[axis] != index.shape[0]:
        return numpy_ref.resample_backward(grad, axis, index, weight, size)
    outer, inner = _outer_inner(grad.shape, axis)
    grad_x = np.empty((outer, size * inner), grad.dtype)
    grad2, weight = contiguous(grad).reshape(outer, -1), _weights(index, weight, grad.dtype)
    work = CHEAP * grad.size * index.shape[1]
    run_range(_resample_backward, work, outer, grad2, contiguous(index), weight, grad_x, inner)
    return grad_x.reshape(*grad.shape[:axis], size, *grad.shape[axis + 1 :])


@warms_up
def warm_up(dtype: np.dtype) -> None:
    """Compile both kernels for ``dtype``, with weights (linear, cubic) and without (nearest)."""
    x = np.linspace(-3, 3, 12).astype(dtype).reshape(1, 3, 4)
    index = np.array([[0, 1], [1, 2], [2, 2]])  # positions along either axis
    for axis in (1, 2):  # an axis with one after it, and the last
        out = resample_forward(x, axis, index, np.full((3, 2), 0.5, dtype))
        resample_backward(out, axis, index, None, x.shape[axis])
