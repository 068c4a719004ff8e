"""Layer normalization over the last axis, forward and backward: one row per thread."""

import math

import numpy as np

from kernels import numpy_ref
from kernels.numba_cpu.common import (
    EXP,
    REORDER_SUMS,
    contiguous,
    flat,
    numba,
    run_kernel,
    same_floats,
    threaded,
    warms_up,
)


@threaded(fastmath=REORDER_SUMS)
def _layer_norm_forward(x, weight, bias, eps, y, mean, rstd):
    width, one = x.dtype.type(x.shape[1]), x.dtype.type(1)  # typed: float32 / int64 would give float64
    for i in numba.prange(x.shape[0]):
        row, out = x[i], y[i]
        total = x.dtype.type(0)
        for j in range(row.size):
            total += row[j]
        mu = total / width
        squares = x.dtype.type(0)
        for j in range(row.size):
            squares += (row[j] - mu) * (row[j] - mu)
        r = one / math.sqrt(squares / width + eps)
        for j in range(row.size):
            out[j] = (row[j] - mu) * r * weight[j] + bias[j]
        mean[i], rstd[i] = mu, r


def layer_norm_forward(x, weight, bias, eps):
    """Normalize each row over the last axis to mean 0 and variance 1, then scale and shift.

    x: (..., D); weight, bias: (D,) or None -> y: (..., D), mean: (..., 1), rstd: (..., 1), as the reference
    (biased variance, two passes over each row: mean, then squared deviations). Threads split the rows;
    a missing weight (bias) is a row of ones (zeros), which changes no value.
    """
    affine = tuple(a for a in (weight, bias) if a is not None)
    usable = same_floats(x, *affine) and x.ndim > 0 and x.size > 0
    if not (usable and all(a.shape == x.shape[-1:] for a in affine)):
        return numpy_ref.layer_norm_forward(x, weight, bias, eps)
    width = x.shape[-1]
    rows = contiguous(x).reshape(-1, width)
    weight = np.ones(width, x.dtype) if weight is None else contiguous(weight)
    bias = np.zeros(width, x.dtype) if bias is None else contiguous(bias)
    y, mean, rstd = np.empty_like(rows), np.empty(rows.shape[0], x.dtype), np.empty(rows.shape[0], x.dtype)
    run_kernel(_layer_norm_forward, EXP * rows.size, rows, weight, bias, x.dtype.type(eps), y, mean, rstd)
    stats_shape = (*x.shape[:-1], 1)
    return y.reshape(x.shape), mean.reshape(stats_shape), rstd.reshape(stats_shape)


@threaded(fastmath=REORDER_SUMS)
def _layer_norm_backward(grad, x, weight, mean, rstd, grad_x, weight_partial, bias_partial):
    rows, width = x.shape
    chunks, float_width = weight_partial.shape[0], x.dtype.type(width)
    # Chunk c of the rows adds its grad_weight and grad_bias terms into row c of the partials: no two
    # threads write the same memory, and the sums do not depend on the number of threads.
    for c in numba.prange(chunks):
        for i in range(c * rows // chunks, (c + 1) * rows // chunks):
            g_row, x_row, out = grad[i], x[i], grad_x[i]
            mu, r = mean[i], rstd[i]
            mean_g, mean_g_xhat = x.dtype.type(0), x.dtype.type(0)
            for j in range(width):
                xhat = (x_row[j] - mu) * r
                g = g_row[j] * weight[j]
                mean_g += g
                mean_g_xhat += g * xhat
                weight_partial[c, j] += g_row[j] * xhat
                bias_partial[c, j] += g_row[j]
            mean_g, mean_g_xhat = mean_g / float_width, mean_g_xhat / float_width
            for j in range(width):
                xhat = (x_row[j] - mu) * r
                out[j] = r * (g_row[j] * weight[j] - mean_g - xhat * mean_g_xhat)


def layer_norm_backward(grad, x, weight, mean, rstd):
    """Gradients of layer_norm_forward, from the mean and rstd it returned.

    grad, x: (..., D); weight: (D,) or None; mean, rstd: (..., 1) -> grad_x: (..., D), grad_weight: (D,),
    grad_bias: (D,). grad_x = rstd * (g - mean(g) - xhat * mean(g * xhat)) with g = grad * weight, one row
    per thread; grad_weight and grad_bias are summed over up to 64 chunks of rows (one partial sum per
    chunk, so threads never race), then over the chunks.
    """
    weights = () if weight is None else (weight,)
    usable = same_floats(grad, x, mean, rstd, *weights) and x.ndim > 0 and x.size > 0
    shapes_agree = usable and grad.shape == x.shape and mean.shape == rstd.shape == (*x.shape[:-1], 1)
    if not (shapes_agree and all(w.shape == x.shape[-1:] for w in weights)):
        return numpy_ref.layer_norm_backward(grad, x, weight, mean, rstd)
    width = x.shape[-1]
    rows = x.size // width
    weight = np.ones(width, x.dtype) if weight is None else contiguous(weight)
    chunks = min(rows, 64)
    weight_partial, bias_partial = np.zeros((chunks, width), x.dtype), np.zeros((chunks, width), x.dtype)
    grad_x = np.empty((rows, width), x.dtype)
    run_kernel(
        _layer_norm_backward, EXP * x.size, contiguous(grad).reshape(rows, width),
        contiguous(x).reshape(rows, width), weight, flat(mean), flat(rstd), grad_x, weight_partial, bias_partial,
    )  # fmt: skip
    return grad_x.reshape(x.shape), weight_partial.sum(axis=0), bias_partial.sum(axis=0)


@warms_up
def warm_up(dtype: np.dtype) -> None:
    """Compile both layer-norm kernels for dtype (see common.warms_up)."""
    x = np.linspace(-3, 3, 12).astype(dtype).reshape(3, 4)
    y, mean, rstd = layer_norm_forward(x, x[0].copy(), x[1].copy(), 1e-5)
    layer_norm_backward(y, x, x[0].copy(), mean, rstd)
