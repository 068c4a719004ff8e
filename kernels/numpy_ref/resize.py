"""Resampling along one axis, forward and backward: each output position is a weighted sum of a few input
positions (interpolate's modes: nearest takes one, linear two, cubic four)."""

import numpy as np

from kernels.numpy_ref.common import array_module


def resample_forward(x, axis, index, weight):
    """out[..., o, ...] = sum over t of weight[o, t] * x[..., index[o, t], ...], along ``axis``.

    x: any shape; index: (O, T) int64, positions along ``axis``; weight: (O, T) of x's dtype, or None for one tap of
    weight 1 (nearest) -> x's shape with O at ``axis``.
    """
    xp = array_module(x)
    taps = [xp.take(x, xp.asarray(index[:, t]), axis=axis) for t in range(index.shape[1])]
    if weight is None:
        return taps[0]
    w = xp.asarray(weight).reshape(weight.shape[0], *(1,) * (x.ndim - axis - 1), weight.shape[1])
    return sum(tap * w[..., t] for t, tap in enumerate(taps)).astype(x.dtype, copy=False)


def resample_backward(grad, axis, index, weight, size):
    """dL/dx of resample_forward: grad mapped back along ``axis`` by the (O, size) matrix of the forward's weights,
    transposed: grad_x[..., l, ...] = sum of weight[o, t] * grad[..., o, ...] over the (o, t) with index[o, t] = l.

    grad: the forward's output; index, weight: the forward's; size: x.shape[axis] -> x's shape.
    """
    xp = array_module(grad)
    matrix = np.zeros((index.shape[0], size))
    rows = np.broadcast_to(np.arange(index.shape[0])[:, None], index.shape)
    np.add.at(matrix, (rows, index), 1.0 if weight is None else weight)
    moved = xp.moveaxis(grad, axis, -1) @ xp.asarray(matrix, dtype=grad.dtype)
    return xp.moveaxis(moved, -1, axis)
