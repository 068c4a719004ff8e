"""Layer normalization over the last axis (one row per thread), batch normalization (one channel per thread) and
group normalization (one sample's group per thread), forward and backward."""

import math

import numpy as np

from kernels import numpy_ref
from kernels.numba_cpu.common import (
    EXP,
    REORDER_SUMS,
    contiguous,
    flat,
    numba,
    range_kernel,
    run_range,
    same_floats,
    warms_up,
)


@range_kernel(fastmath=REORDER_SUMS)
def _layer_norm_forward(start, stop, x, weight, bias, eps, y, mean, rstd):
    width, one = x.dtype.type(x.shape[1]), x.dtype.type(1)  # typed: float32 / int64 would give float64
    for i in range(start, stop):
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
    run_range(_layer_norm_forward, EXP * rows.size, rows.shape[0], rows, weight, bias, x.dtype.type(eps), y, mean, rstd)
    stats_shape = (*x.shape[:-1], 1)
    return y.reshape(x.shape), mean.reshape(stats_shape), rstd.reshape(stats_shape)


@range_kernel(fastmath=REORDER_SUMS)
def _layer_norm_backward(start, stop, grad, x, weight, mean, rstd, grad_x, weight_partial, bias_partial):
    rows, width = x.shape
    chunks, float_width = weight_partial.shape[0], x.dtype.type(width)
    # Chunk c of the rows adds its grad_weight and grad_bias terms into row c of the partials: no two
    # threads write the same memory, and the sums do not depend on the number of threads.
    for c in range(start, stop):
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
    run_range(
        _layer_norm_backward, EXP * x.size, chunks, contiguous(grad).reshape(rows, width),
        contiguous(x).reshape(rows, width), weight, flat(mean), flat(rstd), grad_x, weight_partial, bias_partial,
    )  # fmt: skip
    return grad_x.reshape(x.shape), weight_partial.sum(axis=0), bias_partial.sum(axis=0)


def _affine(x, weight, bias):
    """weight and bias as C-contiguous (C,) arrays: ones and zeros for the missing ones, which change no value."""
    channels = x.shape[1]
    weight = np.ones(channels, x.dtype) if weight is None else contiguous(weight)
    bias = np.zeros(channels, x.dtype) if bias is None else contiguous(bias)
    return weight, bias


def _usable(x, *vectors) -> bool:
    """Whether the compiled kernels take these: float32 or float64 alike, x (N, C, L) with values, each vector (C,)
    or None."""
    given = tuple(v for v in vectors if v is not None)
    shapes_agree = x.ndim == 3 and x.size > 0 and all(v.shape == x.shape[1:2] for v in given)
    return shapes_agree and same_floats(x, *given)


@range_kernel(fastmath=REORDER_SUMS)
def _batch_norm_forward(start, stop, x, weight, bias, eps, y, mean, rstd):
    batch, _, length = x.shape
    real = x.dtype.type
    for c in range(start, stop):
        # Sums in float64: a channel holds N * L values (50,176 for a (64, 16, 28, 28) batch), where a float32 sum
        # would drift by ~1e-5.
        total = 0.0
        for n in range(batch):
            for i in range(length):
                total += x[n, c, i]
        mu = total / (batch * length)
        squares = 0.0
        for n in range(batch):
            for i in range(length):
                squares += (x[n, c, i] - mu) ** 2
        r = 1.0 / math.sqrt(squares / (batch * length) + eps)
        mu_, scale, shift = real(mu), real(r * weight[c]), bias[c]
        for n in range(batch):
            for i in range(length):
                y[n, c, i] = (x[n, c, i] - mu_) * scale + shift
        mean[c], rstd[c] = mu, r


@range_kernel(fastmath=REORDER_SUMS)
def _batch_norm_rows_forward(start, stop, x, weight, bias, eps, y, mean, rstd, blocks):
    """_batch_norm_forward for x: (N, C), BatchNorm1d's input, whose channels lie side by side in each row: each
    thread takes a block of channels down the rows, a vector operation across them (a channel a thread read one
    number a row, C numbers apart: (128, 256) took 112 us forward and 94 backward in an MLP's step)."""
    batch, channels = x.shape
    real = x.dtype.type
    for t in range(start, stop):
        first, last = t * channels // blocks, (t + 1) * channels // blocks
        total, squares = np.zeros(last - first), np.zeros(last - first)  # float64, as _batch_norm_forward's
        for n in range(batch):
            row = x[n, first:last]
            for c in range(row.size):
                total[c] += row[c]
        mu = total / batch
        for n in range(batch):
            row = x[n, first:last]
            for c in range(row.size):
                squares[c] += (row[c] - mu[c]) ** 2
        centers, scales = np.empty(last - first, x.dtype), np.empty(last - first, x.dtype)
        for c in range(last - first):
            r = 1.0 / math.sqrt(squares[c] / batch + eps)
            centers[c], scales[c] = real(mu[c]), real(r * weight[first + c])
            mean[first + c], rstd[first + c] = mu[c], r
        shifts = bias[first:last]
        for n in range(batch):
            row, out = x[n, first:last], y[n, first:last]
            for c in range(row.size):
                out[c] = (row[c] - centers[c]) * scales[c] + shifts[c]


def _channel_blocks(channels: int) -> int:
    """How many blocks of at least 16 channels (a cache line of float32) the row kernels split the channels into."""
    return max(1, min(numba.get_num_threads(), channels // 16))


def batch_norm_forward(x, weight, bias, eps):
    """Normalize each channel over the batch and positions, then scale and shift.

    x: (N, C, L); weight, bias: (C,) or None -> y: (N, C, L), mean: (C,), rstd: (C,), as the reference (biased
    variance, two passes over each channel's values, summed in float64). Threads split the channels; each streams
    its channel's N rows of L values three times (mean, squared deviations, output), from its own cache. Where L is 1
    (BatchNorm1d's (N, C)), each takes a block of channels down the rows (_batch_norm_rows_forward).
    """
    if not _usable(x, weight, bias):
        return numpy_ref.batch_norm_forward(x, weight, bias, eps)
    x = contiguous(x)
    weight, bias = _affine(x, weight, bias)
    y, mean, rstd = np.empty_like(x), np.empty(x.shape[1], x.dtype), np.empty(x.shape[1], x.dtype)
    if x.shape[2] == 1:  # BatchNorm1d of (N, C)
        rows = (x[..., 0], weight, bias, float(eps), y[..., 0], mean, rstd, _channel_blocks(x.shape[1]))
        run_range(_batch_norm_rows_forward, EXP * x.size, rows[-1], *rows)
    else:
        run_range(_batch_norm_forward, EXP * x.size, x.shape[1], x, weight, bias, float(eps), y, mean, rstd)
    return y, mean, rstd


@range_kernel(fastmath=REORDER_SUMS)
def _batch_norm_backward(start, stop, grad, x, weight, mean, rstd, grad_x, grad_weight, grad_bias):
    batch, _, length = x.shape
    real = x.dtype.type
    for c in range(start, stop):
        mu, r = mean[c], rstd[c]
        sum_g, sum_g_centered = 0.0, 0.0  # float64, as the forward's sums
        for n in range(batch):
            for i in range(length):
                sum_g += grad[n, c, i]
                sum_g_centered += grad[n, c, i] * (x[n, c, i] - mu)
        grad_bias[c], grad_weight[c] = sum_g, sum_g_centered * r
        # rstd (g - mean(g) - xhat mean(g xhat)) with g = grad * weight, as a * grad + b * (x - mean) + k.
        count = batch * length
        a = weight[c] * r
        b = real(-a * r * r * sum_g_centered / count)
        k = real(-a * sum_g / count)
        for n in range(batch):
            for i in range(length):
                grad_x[n, c, i] = a * grad[n, c, i] + b * (x[n, c, i] - mu) + k


@range_kernel(fastmath=REORDER_SUMS)
def _batch_norm_rows_backward(start, stop, grad, x, weight, mean, rstd, grad_x, grad_weight, grad_bias, blocks):
    """_batch_norm_backward for (N, C), a block of channels a thread, as _batch_norm_rows_forward."""
    batch, channels = x.shape
    real = x.dtype.type
    for t in range(start, stop):
        first, last = t * channels // blocks, (t + 1) * channels // blocks
        centers = mean[first:last]
        sum_g, sum_g_centered = np.zeros(last - first), np.zeros(last - first)  # float64, as the forward's sums
        for n in range(batch):
            g_row, x_row = grad[n, first:last], x[n, first:last]
            for c in range(g_row.size):
                sum_g[c] += g_row[c]
                sum_g_centered[c] += g_row[c] * (x_row[c] - centers[c])
        a, b, k = np.empty(last - first, x.dtype), np.empty(last - first, x.dtype), np.empty(last - first, x.dtype)
        for c in range(last - first):
            r = rstd[first + c]
            grad_bias[first + c], grad_weight[first + c] = sum_g[c], sum_g_centered[c] * r
            a[c] = weight[first + c] * r
            b[c] = real(-a[c] * r * r * sum_g_centered[c] / batch)
            k[c] = real(-a[c] * sum_g[c] / batch)
        for n in range(batch):
            g_row, x_row, out = grad[n, first:last], x[n, first:last], grad_x[n, first:last]
            for c in range(g_row.size):
                out[c] = a[c] * g_row[c] + b[c] * (x_row[c] - centers[c]) + k[c]


def batch_norm_backward(grad, x, weight, mean, rstd):
    """Gradients of batch_norm_forward, from the mean and rstd it returned.

    grad, x: (N, C, L); weight: (C,) or None; mean, rstd: (C,) -> grad_x: (N, C, L), grad_weight: (C,),
    grad_bias: (C,). Per channel, one pass sums grad and grad * (x - mean) (in float64), a second writes grad_x.
    """
    if not (_usable(x, weight, mean, rstd) and same_floats(x, grad) and grad.shape == x.shape):
        return numpy_ref.batch_norm_backward(grad, x, weight, mean, rstd)
    x, grad = contiguous(x), contiguous(grad)
    weight, _ = _affine(x, weight, None)
    grad_x = np.empty_like(x)
    grad_weight, grad_bias = np.empty(x.shape[1], x.dtype), np.empty(x.shape[1], x.dtype)
    args = (grad, x, weight, contiguous(mean), contiguous(rstd), grad_x, grad_weight, grad_bias)
    if x.shape[2] == 1:  # (N, C), as the forward
        rows = (grad[..., 0], x[..., 0], *args[2:5], grad_x[..., 0], grad_weight, grad_bias)
        blocks = _channel_blocks(x.shape[1])
        run_range(_batch_norm_rows_backward, EXP * x.size, blocks, *rows, blocks)
    else:
        run_range(_batch_norm_backward, EXP * x.size, x.shape[1], *args)
    return grad_x, grad_weight, grad_bias


@range_kernel(fastmath=REORDER_SUMS)
def _group_norm_forward(start, stop, x, weight, bias, eps, y, mean, rstd):
    batch, channels, length = x.shape
    groups = mean.size // batch
    per_group = channels // groups
    count, real = per_group * length, x.dtype.type
    for r in range(start, stop):  # r: sample n's group g, channels first..first + per_group
        n, first = r // groups, r % groups * per_group
        total = 0.0  # sums in float64, as batch norm's: a group holds thousands of values
        for c in range(first, first + per_group):
            for i in range(length):
                total += x[n, c, i]
        mu = real(total / count)
        squares = 0.0
        for c in range(first, first + per_group):
            for i in range(length):
                squares += (x[n, c, i] - mu) ** 2
        r_std = 1.0 / math.sqrt(squares / count + eps)
        for c in range(first, first + per_group):
            scale, shift = real(r_std * weight[c]), bias[c]
            for i in range(length):
                y[n, c, i] = (x[n, c, i] - mu) * scale + shift
        mean[r], rstd[r] = mu, r_std


def group_norm_forward(x, weight, bias, groups, eps):
    """Normalize each sample's channels in ``groups`` groups, then scale and shift per channel.

    x: (N, C, L); weight, bias: (C,) or None -> y: (N, C, L), mean: (N, groups), rstd: (N, groups), as the reference
    (biased variance, two passes over the group's values, summed in float64). Threads split the (sample, group)
    pairs; each reads its group's C / groups * L values, which lie together, three times (mean, squared deviations,
    output) and writes them once, the per-channel scale and shift applied on the way (where layer norm of the rows
    and then a per-channel affine wrote every value twice and read it three times more).
    """
    if not (_usable(x, weight, bias) and x.shape[1] % groups == 0):
        return numpy_ref.group_norm_forward(x, weight, bias, groups, eps)
    x = contiguous(x)
    weight, bias = _affine(x, weight, bias)
    y, mean, rstd = np.empty_like(x), np.empty((x.shape[0], groups), x.dtype), np.empty((x.shape[0], groups), x.dtype)
    run_range(_group_norm_forward, EXP * x.size, mean.size, x, weight, bias, float(eps), y, mean.reshape(-1),
              rstd.reshape(-1))  # fmt: skip
    return y, mean, rstd


@range_kernel(fastmath=REORDER_SUMS)
def _group_norm_backward(start, stop, grad, x, weight, mean, rstd, grad_x, grad_weight_part, grad_bias_part):
    batch, channels, length = x.shape
    groups = mean.size // batch
    per_group = channels // groups
    count, real = per_group * length, x.dtype.type
    for r in range(start, stop):
        n, first = r // groups, r % groups * per_group
        mu, r_std = mean[r], rstd[r]
        sum_g, sum_g_xhat = 0.0, 0.0  # over the group, of g = grad * weight and of g * xhat
        for c in range(first, first + per_group):
            channel_g, channel_g_centered = 0.0, 0.0  # sums in float64, as the forward's
            for i in range(length):
                channel_g += grad[n, c, i]
                channel_g_centered += grad[n, c, i] * (x[n, c, i] - mu)
            grad_bias_part[n, c], grad_weight_part[n, c] = channel_g, channel_g_centered * r_std
            sum_g += weight[c] * channel_g
            sum_g_xhat += weight[c] * channel_g_centered * r_std
        # grad_x = rstd (g - mean(g) - xhat mean(g xhat)), with xhat = (x - mu) rstd: a multiply-add and one more
        offset, slope = real(-r_std * sum_g / count), real(-r_std * r_std * sum_g_xhat / count)
        for c in range(first, first + per_group):
            scale = real(r_std * weight[c])
            for i in range(length):
                grad_x[n, c, i] = grad[n, c, i] * scale + (x[n, c, i] - mu) * slope + offset


def group_norm_backward(grad, x, weight, mean, rstd, groups):
    """Gradients of group_norm_forward, from the mean and rstd it returned.

    grad, x: (N, C, L); weight: (C,) or None; mean, rstd: (N, groups) -> grad_x: (N, C, L), grad_weight: (C,),
    grad_bias: (C,). One (sample, group) pair per thread, in two passes over its values: the per-channel sums
    (of grad, and of grad times x - mean) and from them the group's, then grad_x. Each pair's channels write
    their sums to a row of (N, C) partials, which are summed over the samples after.
    """
    shapes_agree = grad.shape == x.shape and mean.shape == rstd.shape == (x.shape[0], groups)
    if not (_usable(x, weight) and shapes_agree and same_floats(x, grad, mean, rstd) and x.shape[1] % groups == 0):
        return numpy_ref.group_norm_backward(grad, x, weight, mean, rstd, groups)
    x, grad = contiguous(x), contiguous(grad)
    weight = np.ones(x.shape[1], x.dtype) if weight is None else contiguous(weight)
    grad_x = np.empty_like(x)
    weight_part, bias_part = np.empty(x.shape[:2]), np.empty(x.shape[:2])  # float64, as the sums
    run_range(_group_norm_backward, 2 * EXP * x.size, mean.size, grad, x, weight, flat(mean), flat(rstd), grad_x,
              weight_part, bias_part)  # fmt: skip
    return grad_x, weight_part.sum(axis=0).astype(x.dtype), bias_part.sum(axis=0).astype(x.dtype)


@range_kernel()
def _channel_affine_forward(start, stop, x, scale, shift, y):
    batch, _, length = x.shape
    for c in range(start, stop):
        a, b = scale[c], shift[c]
        for n in range(batch):
            for i in range(length):
                y[n, c, i] = x[n, c, i] * a + b


def channel_affine_forward(x, scale, shift):
    """As numpy_ref.channel_affine_forward, a channel per thread. x: (N, C, L); scale, shift: (C,)."""
    if not _usable(x, scale, shift) or scale is None or shift is None:
        return numpy_ref.channel_affine_forward(x, scale, shift)
    x = contiguous(x)
    y = np.empty_like(x)
    run_range(_channel_affine_forward, x.size, x.shape[1], x, contiguous(scale), contiguous(shift), y)
    return y


@range_kernel(fastmath=REORDER_SUMS)
def _channel_affine_backward(start, stop, grad, x, scale, grad_x, grad_scale, grad_shift):
    batch, _, length = x.shape
    for c in range(start, stop):
        a, sum_g, sum_gx = scale[c], 0.0, 0.0  # sums in float64, as batch norm's
        for n in range(batch):
            for i in range(length):
                g = grad[n, c, i]
                grad_x[n, c, i] = g * a
                sum_g += g
                sum_gx += g * x[n, c, i]
        grad_scale[c], grad_shift[c] = sum_gx, sum_g


def channel_affine_backward(grad, x, scale):
    """As numpy_ref.channel_affine_backward: one pass a channel writes grad_x and sums both vector gradients."""
    if not (_usable(x, scale) and scale is not None and same_floats(x, grad) and grad.shape == x.shape):
        return numpy_ref.channel_affine_backward(grad, x, scale)
    x, grad = contiguous(x), contiguous(grad)
    grad_x = np.empty_like(x)
    grad_scale, grad_shift = np.empty(x.shape[1], x.dtype), np.empty(x.shape[1], x.dtype)
    args = grad, x, contiguous(scale), grad_x, grad_scale, grad_shift
    run_range(_channel_affine_backward, x.size, x.shape[1], *args)
    return grad_x, grad_scale, grad_shift


@warms_up
def warm_up(dtype: np.dtype) -> None:
    """Compile the layer-norm, batch-norm, channel-affine and group-norm kernels for dtype (see common.warms_up)."""
    x = np.linspace(-3, 3, 12).astype(dtype).reshape(3, 4)
    y, mean, rstd = layer_norm_forward(x, x[0].copy(), x[1].copy(), 1e-5)
    layer_norm_backward(y, x, x[0].copy(), mean, rstd)
    x = x.reshape(2, 3, 2)
    y, mean, rstd = batch_norm_forward(x, x[0, :, 0].copy(), x[1, :, 0].copy(), 1e-5)
    batch_norm_backward(y, x, x[0, :, 0].copy(), mean, rstd)
    x = x.reshape(2, 6, 1)  # BatchNorm1d's (N, C)
    y, mean, rstd = batch_norm_forward(x, x[0, :, 0].copy(), x[1, :, 0].copy(), 1e-5)
    batch_norm_backward(y, x, x[0, :, 0].copy(), mean, rstd)
    channel_affine_backward(channel_affine_forward(x, mean, rstd), x, mean)
    x = x.reshape(2, 3, 2)
    y, mean, rstd = group_norm_forward(x, x[0, :, 0].copy(), x[1, :, 0].copy(), 3, 1e-5)
    group_norm_backward(y, x, x[0, :, 0].copy(), mean, rstd, 3)
