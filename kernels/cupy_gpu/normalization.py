"""Layer normalization over the last axis, batch normalization, group normalization and the per-channel scale and
shift (layernorm.cu), forward and backward.

The forward and the input gradient run one block per row, its ``row_threads(cols)`` threads striding
over the columns and summing across the block; the weight and bias gradients are column sums over every
row, tiled 32 columns a block.
"""

from kernels import numpy_ref
from kernels.cupy_gpu.common import THREADS, blocks, contiguous, cupy, fits, launch, row_threads


def layer_norm_forward(x, weight, bias, eps):
    """Normalize each row over the last axis to mean 0 and variance 1, then scale and shift.

    x: (..., D); weight, bias: (D,) or None -> y: (..., D), mean: (..., 1), rstd: (..., 1). One block per row.
    """
    if not fits(x, *(a for a in (weight, bias) if a is not None)):
        return numpy_ref.layer_norm_forward(x, weight, bias, eps)
    cols = x.shape[-1]
    rows = contiguous(x).reshape(-1, cols)
    weight, bias = (None if a is None else contiguous(a) for a in (weight, bias))
    y = cupy.empty_like(rows)
    mean, rstd = cupy.empty((len(rows), 1), dtype=x.dtype), cupy.empty((len(rows), 1), dtype=x.dtype)
    real = x.dtype.type
    launch(
        "layernorm", "layer_norm_forward", x.dtype, (len(rows),), (row_threads(cols),),
        rows, weight, bias, y, mean, rstd, cols, real(eps),
    )  # fmt: skip
    stats_shape = (*x.shape[:-1], 1)
    return y.reshape(x.shape), mean.reshape(stats_shape), rstd.reshape(stats_shape)


def layer_norm_backward(grad, x, weight, mean, rstd):
    """Gradients of layer_norm_forward, from the mean and rstd it returned.

    grad, x: (..., D); weight: (D,) or None; mean, rstd: (..., 1) -> grad_x: (..., D), grad_weight: (D,),
    grad_bias: (D,). grad_x: one block per row; grad_weight and grad_bias: column sums, 32 columns a block.
    """
    if not fits(grad, x, mean, rstd, *(() if weight is None else (weight,))) or grad.shape != x.shape:
        return numpy_ref.layer_norm_backward(grad, x, weight, mean, rstd)
    cols = x.shape[-1]
    grad_rows, rows = contiguous(grad).reshape(-1, cols), contiguous(x).reshape(-1, cols)
    mean, rstd = contiguous(mean).reshape(-1), contiguous(rstd).reshape(-1)
    weight = None if weight is None else contiguous(weight)
    grad_x = cupy.empty_like(rows)
    launch(
        "layernorm", "layer_norm_backward_input", x.dtype, (len(rows),), (row_threads(cols),),
        grad_rows, rows, weight, mean, rstd, grad_x, cols,
    )  # fmt: skip
    grad_weight, grad_bias = cupy.empty(cols, dtype=x.dtype), cupy.empty(cols, dtype=x.dtype)
    # Blocks of 32 columns x 8 row lanes (COLUMN_TILE x ROW_LANES in layernorm.cu).
    launch(
        "layernorm", "layer_norm_backward_params", x.dtype, (-(-cols // 32),), (32, 8),
        grad_rows, rows, mean, rstd, grad_weight, grad_bias, len(rows), cols,
    )  # fmt: skip
    return grad_x.reshape(x.shape), grad_weight, grad_bias


def batch_norm_forward(x, weight, bias, eps):
    """As numpy_ref.batch_norm_forward: x: (N, C, L); weight, bias: (C,) or None. One block per channel."""
    given = tuple(a for a in (weight, bias) if a is not None)
    if x.ndim != 3 or not fits(x, *given) or any(a.shape != x.shape[1:2] for a in given):
        return numpy_ref.batch_norm_forward(x, weight, bias, eps)
    batch, channels, length = x.shape
    x = contiguous(x)
    weight, bias = (None if a is None else contiguous(a) for a in (weight, bias))
    y, mean, rstd = cupy.empty_like(x), cupy.empty(channels, dtype=x.dtype), cupy.empty(channels, dtype=x.dtype)
    launch(
        "layernorm", "batch_norm_forward", x.dtype, (channels,), (row_threads(batch * length),),
        x, weight, bias, y, mean, rstd, batch, channels, length, x.dtype.type(eps),
    )  # fmt: skip
    return y, mean, rstd


def batch_norm_backward(grad, x, weight, mean, rstd):
    """As numpy_ref.batch_norm_backward: grad, x: (N, C, L); weight: (C,) or None; mean, rstd: (C,)."""
    vectors = (mean, rstd) if weight is None else (mean, rstd, weight)
    shapes_agree = x.ndim == 3 and grad.shape == x.shape and all(v.shape == x.shape[1:2] for v in vectors)
    if not (shapes_agree and fits(grad, x, *vectors)):
        return numpy_ref.batch_norm_backward(grad, x, weight, mean, rstd)
    batch, channels, length = x.shape
    grad, x, mean, rstd = (contiguous(a) for a in (grad, x, mean, rstd))
    weight = None if weight is None else contiguous(weight)
    grad_x = cupy.empty_like(x)
    grad_weight, grad_bias = cupy.empty(channels, dtype=x.dtype), cupy.empty(channels, dtype=x.dtype)
    launch(
        "layernorm", "batch_norm_backward", x.dtype, (channels,), (row_threads(batch * length),),
        grad, x, weight, mean, rstd, grad_x, grad_weight, grad_bias, batch, channels, length,
    )  # fmt: skip
    return grad_x, grad_weight, grad_bias


def channel_affine_forward(x, scale, shift):
    """As numpy_ref.channel_affine_forward: x: (N, C, L); scale, shift: (C,). A grid-stride loop over x."""
    if x.ndim != 3 or not fits(x, scale, shift) or scale.shape != x.shape[1:2] or shift.shape != scale.shape:
        return numpy_ref.channel_affine_forward(x, scale, shift)
    x, scale, shift = contiguous(x), contiguous(scale), contiguous(shift)
    y = cupy.empty_like(x)
    launch(
        "layernorm", "channel_affine_forward", x.dtype, (blocks(x.size),), (THREADS,),
        x, scale, shift, y, x.size, x.shape[1], x.shape[2],
    )  # fmt: skip
    return y


def channel_affine_backward(grad, x, scale):
    """As numpy_ref.channel_affine_backward: grad, x: (N, C, L); scale: (C,). One block per channel."""
    if x.ndim != 3 or grad.shape != x.shape or scale.shape != x.shape[1:2] or not fits(grad, x, scale):
        return numpy_ref.channel_affine_backward(grad, x, scale)
    batch, channels, length = x.shape
    grad, x, scale = contiguous(grad), contiguous(x), contiguous(scale)
    grad_x = cupy.empty_like(x)
    grad_scale, grad_shift = cupy.empty(channels, dtype=x.dtype), cupy.empty(channels, dtype=x.dtype)
    launch(
        "layernorm", "channel_affine_backward", x.dtype, (channels,), (row_threads(batch * length),),
        grad, x, scale, grad_x, grad_scale, grad_shift, batch, channels, length,
    )  # fmt: skip
    return grad_x, grad_scale, grad_shift


def group_norm_forward(x, weight, bias, groups, eps):
    """As numpy_ref.group_norm_forward: x: (N, C, L); weight, bias: (C,) or None. One block per (sample, group)."""
    given = tuple(a for a in (weight, bias) if a is not None)
    shapes_agree = x.ndim == 3 and x.shape[1] % groups == 0 and all(a.shape == x.shape[1:2] for a in given)
    if not (shapes_agree and fits(x, *given)):
        return numpy_ref.group_norm_forward(x, weight, bias, groups, eps)
    batch, channels, length = x.shape
    x = contiguous(x)
    weight, bias = (None if a is None else contiguous(a) for a in (weight, bias))
    y, mean, rstd = cupy.empty_like(x), cupy.empty((batch, groups), x.dtype), cupy.empty((batch, groups), x.dtype)
    per_group = channels // groups
    launch(
        "layernorm", "group_norm_forward", x.dtype, (batch * groups,), (row_threads(per_group * length),),
        x, weight, bias, y, mean, rstd, groups, per_group, length, x.dtype.type(eps),
    )  # fmt: skip
    return y, mean, rstd


def group_norm_backward(grad, x, weight, mean, rstd, groups):
    """As numpy_ref.group_norm_backward: grad, x: (N, C, L); weight: (C,) or None; mean, rstd: (N, groups)."""
    vectors = () if weight is None else (weight,)
    shapes_agree = x.ndim == 3 and grad.shape == x.shape and x.shape[1] % groups == 0
    shapes_agree = shapes_agree and mean.shape == rstd.shape == (x.shape[0], groups)
    if not (shapes_agree and all(v.shape == x.shape[1:2] for v in vectors) and fits(grad, x, mean, rstd, *vectors)):
        return numpy_ref.group_norm_backward(grad, x, weight, mean, rstd, groups)
    batch, channels, length = x.shape
    grad, x, mean, rstd = (contiguous(a) for a in (grad, x, mean, rstd))
    weight = None if weight is None else contiguous(weight)
    grad_x = cupy.empty_like(x)
    weight_part, bias_part = cupy.empty((batch, channels), x.dtype), cupy.empty((batch, channels), x.dtype)
    per_group = channels // groups
    launch(
        "layernorm", "group_norm_backward", x.dtype, (batch * groups,), (row_threads(length),),
        grad, x, weight, mean, rstd, grad_x, weight_part, bias_part, groups, per_group, length,
    )  # fmt: skip
    return grad_x, weight_part.sum(axis=0), bias_part.sum(axis=0)
