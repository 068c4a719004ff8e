"""Resampling along one axis, forward and backward (interpolate's nearest, linear and cubic modes): one block of the
axes before it per thread, each output position a weighted sum of a few input rows of the axes after it.

The reference takes one NumPy gather a tap and, backward, a dense (O, L) matrix product after moving the axis last:
a nearest upsampling by 2 of (32, 32, 7, 7) float32, forward and backward, took 1.3 and 1.6 ms (a conv
autoencoder's step, 8.1 ms in all; PyTorch's whole step 8.6).
"""

import numpy as np

from kernels import numpy_ref
from kernels.numba_cpu.common import CHEAP, contiguous, range_kernel, run_range, same_floats, warms_up


def _usable(a, index, weight) -> bool:
    """Whether the kernels take these: float32 or float64 values (weight of a's dtype, or None), int64 positions,
    nothing empty."""
    floats = same_floats(a) if weight is None else same_floats(a, weight)
    return floats and a.size > 0 and index.dtype == np.int64 and index.ndim == 2 and index.size > 0


def _three_axes(shape: tuple, axis: int, size: int) -> tuple:
    """shape as (the axes before ``axis`` in one, ``size``, the axes after it in one)."""
    return int(np.prod(shape[:axis])), size, int(np.prod(shape[axis + 1 :]))


@range_kernel()
def _resample_forward(start, stop, x, index, weight, out):
    positions, taps, inner = out.shape[1], index.shape[1], out.shape[2]
    for a in range(start, stop):
        for o in range(positions):
            source = index[o, 0]
            if weight is None:  # nearest: one tap of weight 1
                for i in range(inner):
                    out[a, o, i] = x[a, source, i]
            else:
                w = weight[o, 0]
                for i in range(inner):
                    out[a, o, i] = w * x[a, source, i]
                for t in range(1, taps):
                    source, w = index[o, t], weight[o, t]
                    for i in range(inner):
                        out[a, o, i] += w * x[a, source, i]


@range_kernel()
def _resample_last_forward(start, stop, x, index, weight, out):
    """_resample_forward along the last axis (nothing after it): out[a, o] = sum over t of w[o, t] x[a, index[o, t]],
    without an inner loop of one number (1.8 ns a value with it, one thread)."""
    positions, taps = out.shape[1], index.shape[1]
    for a in range(start, stop):
        for o in range(positions):
            if weight is None:
                out[a, o] = x[a, index[o, 0]]
            else:
                total = weight[o, 0] * x[a, index[o, 0]]
                for t in range(1, taps):
                    total += weight[o, t] * x[a, index[o, t]]
                out[a, o] = total


def resample_forward(x, axis, index, weight):
    """out[..., o, ...] = sum over t of weight[o, t] * x[..., index[o, t], ...] along ``axis``. x: any shape;
    index: (O, T) int64; weight: (O, T) of x's dtype, or None (one tap of weight 1) -> x's shape with O at axis."""
    if not _usable(x, index, weight):
        return numpy_ref.resample_forward(x, axis, index, weight)
    outer, length, inner = _three_axes(x.shape, axis, x.shape[axis])
    out_shape = (*x.shape[:axis], index.shape[0], *x.shape[axis + 1 :])
    out = np.empty((outer, index.shape[0], inner), x.dtype)
    x3, index = contiguous(x).reshape(outer, length, inner), contiguous(index)
    weight = None if weight is None else contiguous(weight)
    work = CHEAP * out.size * index.shape[1]
    if inner == 1:
        run_range(_resample_last_forward, work, outer, x3[:, :, 0], index, weight, out[:, :, 0])
    else:
        run_range(_resample_forward, work, outer, x3, index, weight, out)
    return out.reshape(out_shape)


@range_kernel()
def _resample_backward(start, stop, grad, index, weight, grad_x):
    positions, taps, inner = grad.shape[1], index.shape[1], grad.shape[2]
    for a in range(start, stop):
        for row in range(grad_x.shape[1]):
            for i in range(inner):
                grad_x[a, row, i] = 0
        for o in range(positions):  # each output's taps added where they came from, in order
            for t in range(taps):
                target = index[o, t]
                if weight is None:
                    for i in range(inner):
                        grad_x[a, target, i] += grad[a, o, i]
                else:
                    w = weight[o, t]
                    for i in range(inner):
                        grad_x[a, target, i] += w * grad[a, o, i]


@range_kernel()
def _resample_last_backward(start, stop, grad, index, weight, grad_x):
    """_resample_backward along the last axis, without an inner loop of one number."""
    positions, taps = grad.shape[1], index.shape[1]
    for a in range(start, stop):
        for row in range(grad_x.shape[1]):
            grad_x[a, row] = 0
        for o in range(positions):
            for t in range(taps):
                grad_x[a, index[o, t]] += grad[a, o] if weight is None else weight[o, t] * grad[a, o]


def resample_backward(grad, axis, index, weight, size):
    """dL/dx of resample_forward: grad_x[..., l, ...] = sum of weight[o, t] * grad[..., o, ...] over the (o, t)
    with index[o, t] = l. grad: the forward's output; size: x.shape[axis] -> x's shape."""
    if not _usable(grad, index, weight) or grad.shape[axis] != index.shape[0]:
        return numpy_ref.resample_backward(grad, axis, index, weight, size)
    outer, positions, inner = _three_axes(grad.shape, axis, grad.shape[axis])
    grad_x = np.empty((outer, size, inner), grad.dtype)
    grad3, index = contiguous(grad).reshape(outer, positions, inner), contiguous(index)
    weight = None if weight is None else contiguous(weight)
    work = CHEAP * grad.size * index.shape[1]
    if inner == 1:
        run_range(_resample_last_backward, work, outer, grad3[:, :, 0], index, weight, grad_x[:, :, 0])
    else:
        run_range(_resample_backward, work, outer, grad3, index, weight, grad_x)
    return grad_x.reshape(*grad.shape[:axis], size, *grad.shape[axis + 1 :])


@warms_up
def warm_up(dtype: np.dtype) -> None:
    """Compile both kernels for ``dtype``, with weights (linear, cubic) and without (nearest)."""
    x = np.linspace(-3, 3, 12).astype(dtype).reshape(1, 3, 4)
    index = np.array([[0, 1], [1, 2], [2, 3]])
    for weight, taps in ((np.full((3, 2), 0.5, dtype), index), (None, index[:, :1])):
        for axis in (1, 2):  # an axis with one after it, and the last
            out = resample_forward(x, axis, taps, weight)
            resample_backward(out, axis, taps, weight, x.shape[axis])
