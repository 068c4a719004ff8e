"""Softmax, log-softmax and cross-entropy along an axis: the row-wise family, stable by subtracting the max.

The axis is moved last and each row is one loop, threads splitting the rows: max, exps and their sum,
then the outputs, with no temporary arrays.
"""

import math

import numpy as np

from kernels import numpy_ref
from kernels.numba_cpu.common import (
    CHEAP,
    EXP,
    REORDER_SUMS,
    contiguous,
    exp,
    numba,
    range_kernel,
    row_max,
    run_range,
    same_floats,
    warms_up,
)


def _as_rows(x, axis):
    """x with ``axis`` moved last, as a C-contiguous (rows, K) array (no copy when it already is one),
    and the shape of x with the axis moved (to put the result back with `_from_rows`)."""
    last = axis in (-1, x.ndim - 1)  # the usual case: np.moveaxis costs 3 us a call even when nothing moves
    moved = x if last else np.moveaxis(x, axis, -1)
    rows = contiguous(moved).reshape(math.prod(moved.shape[:-1]), moved.shape[-1])
    return rows, moved.shape


def _from_rows(rows, moved_shape, axis):
    if axis in (-1, len(moved_shape) - 1):
        return rows.reshape(moved_shape)
    return np.moveaxis(rows.reshape(moved_shape), -1, axis)


def _columns(x, axis):
    """x as a C-contiguous (outer, K, inner) array, K along ``axis``, where the axis is not the last and its rows
    are COLUMNS_FROM or more numbers apart (a copy only where x is not C-contiguous); else None."""
    axis = axis % x.ndim
    inner = math.prod(x.shape[axis + 1 :])
    if inner < COLUMNS_FROM:
        return None
    return contiguous(x).reshape(math.prod(x.shape[:axis]), x.shape[axis], inner)


def _along_rows(kernel, reference, x, axis, log=False):
    """y = f(x) along axis: ``kernel(rows, y_rows)`` fills each row of y from that row of x; or, along an axis
    whose rows lie far apart, _softmax_columns (log: log_softmax's)."""
    if not same_floats(x) or x.size == 0:
        return reference(x, axis)
    columns = _columns(x, axis)
    if columns is not None:
        y = np.empty_like(columns)
        run_range(_softmax_columns, EXP * x.size, _column_blocks(columns), columns, y, log)
        return y.reshape(x.shape)
    rows, moved_shape = _as_rows(x, axis)
    y = np.empty_like(rows)
    run_range(kernel, EXP * rows.size, rows.shape[0], rows, y)
    return _from_rows(y, moved_shape, axis)


def _along_rows_backward(kernel, reference, grad_y, y, axis, log=False):
    """dL/dx along axis, from dL/dy and the forward's output y (same shape): ``kernel(g, y, grad_x)``, by rows; or
    by _softmax_columns_backward where the forward took columns."""
    if not (same_floats(grad_y, y) and grad_y.shape == y.shape) or y.size == 0:
        return reference(grad_y, y, axis)
    columns = _columns(y, axis)
    if columns is not None:
        grad_x = np.empty_like(columns)
        blocks = _column_blocks(columns)
        run_range(_softmax_columns_backward, EXP * y.size, blocks, _columns(grad_y, axis), columns, grad_x, log)
        return grad_x.reshape(y.shape)
    (g, moved_shape), (rows, _) = _as_rows(grad_y, axis), _as_rows(y, axis)
    grad_x = np.empty_like(rows)
    run_range(kernel, EXP * g.size, g.shape[0], g, rows, grad_x)
    return _from_rows(grad_x, moved_shape, axis)


# A softmax along an axis that is not the last, whose rows lie far apart ((N, C, H, W) scores over their channels:
# axis 1, rows H * W numbers apart) runs along the other axes instead: a block of COLUMN_BLOCK columns at a time, each
# step (max, exps, sum, scale) one contiguous loop over the block for each k. Moved last, such a softmax took a
# transposing copy there and back and rows of K numbers: (16, 10, 32, 32) over its 10 classes, 351 us forward
# against PyTorch's 64.
COLUMNS_FROM = 16
COLUMN_BLOCK = 256


def _column_blocks(columns) -> int:
    """How many blocks of COLUMN_BLOCK columns an (outer, K, inner) array has: the column kernels' items."""
    return columns.shape[0] * -(-columns.shape[2] // COLUMN_BLOCK)


@range_kernel(fastmath=REORDER_SUMS)
def _softmax_columns(start, stop, x, y, log):
    """y[o, :, p] = softmax of x[o, :, p] over the middle axis (log: log_softmax), the max subtracted first, as the
    rows' kernels. x, y: (outer, K, inner), C-contiguous; threads take blocks of columns."""
    k, inner = x.shape[1:]
    per = (inner + COLUMN_BLOCK - 1) // COLUMN_BLOCK
    for b in range(start, stop):
        o, start = b // per, b % per * COLUMN_BLOCK
        width = min(COLUMN_BLOCK, inner - start)
        top, total = x[o, 0, start : start + width].copy(), np.zeros(width, x.dtype)
        for c in range(1, k):
            row = x[o, c, start : start + width]
            for p in range(width):
                top[p] = row[p] if (row[p] > top[p]) | (row[p] != row[p]) else top[p]  # NaN wins, as NumPy's max
        for c in range(k):
            row, out = x[o, c, start : start + width], y[o, c, start : start + width]
            for p in range(width):
                e = exp(row[p] - top[p])
                total[p] += e
                if not log:
                    out[p] = e
        for p in range(width):
            total[p] = math.log(total[p]) if log else x.dtype.type(1) / total[p]
        for c in range(k):
            row, out = x[o, c, start : start + width], y[o, c, start : start + width]
            for p in range(width):
                out[p] = (row[p] - top[p]) - total[p] if log else out[p] * total[p]


@range_kernel(fastmath=REORDER_SUMS)
def _softmax_columns_backward(start, stop, grad_y, y, grad_x, log):
    """dL/dx over the middle axis of (outer, K, inner) arrays, blocks of columns as _softmax_columns: softmax's
    y * (g - sum(g * y)), or (log) g - exp(y) * sum(g)."""
    k, inner = y.shape[1:]
    per = (inner + COLUMN_BLOCK - 1) // COLUMN_BLOCK
    for b in range(start, stop):
        o, start = b // per, b % per * COLUMN_BLOCK
        width = min(COLUMN_BLOCK, inner - start)
        total = np.zeros(width, y.dtype)
        for c in range(k):
            g, p_row = grad_y[o, c, start : start + width], y[o, c, start : start + width]
            for p in range(width):
                total[p] += g[p] if log else g[p] * p_row[p]
        for c in range(k):
            g, p_row = grad_y[o, c, start : start + width], y[o, c, start : start + width]
            out = grad_x[o, c, start : start + width]
            for p in range(width):
                out[p] = g[p] - exp(p_row[p]) * total[p] if log else p_row[p] * (g[p] - total[p])


# Rows indexed in 2-D (x[i, j]), not as views (row = x[i]), and one call of the helper for all of a thread's rows:
# each view, and each array passed to an inlined helper, counts a reference to the array's memory, and where a loop
# stores what it reads back numba kept those counts, atomic adds per row on counters the threads took from each
# other. Softmax of (32768, 16) float32: 1.3 ms on one thread, 3.9 on two by views, 1.8 by a call a row; 0.46 so.
# (Loops that only read their views, as log-softmax's, were not slowed.)
@numba.njit(cache=True, fastmath=REORDER_SUMS, error_model="numpy", inline="always")
def _softmax_rows(start, stop, x, y, labels, loss):
    """y[i] = softmax(x[i]) for rows start .. stop - 1, the max subtracted first; and where labels is not None, the
    cross-entropy of each row's label, loss[i] = log(sum of the shifted exps) - (x[i, label] - max)."""
    for i in range(start, stop):
        top = row_max(x[i])
        total = x.dtype.type(0)
        for j in range(x.shape[1]):
            y[i, j] = exp(x[i, j] - top)
            total += y[i, j]
        inverse = x.dtype.type(1) / total  # one division a row: 0.75-0.84x the time on rows of 50-100 float32
        for j in range(x.shape[1]):
            y[i, j] = y[i, j] * inverse
        if labels is not None:
            loss[i] = math.log(total) - (x[i, labels[i]] - top)


@range_kernel(fastmath=REORDER_SUMS)
def _softmax_forward(start, stop, x, y):
    _softmax_rows(start, stop, x, y, None, None)


def softmax_forward(x, axis):
    """y = exp(x) / sum(exp(x)) along axis, the max subtracted first. Threads split the rows."""
    return _along_rows(_softmax_forward, numpy_ref.softmax_forward, x, axis)


@range_kernel(fastmath=REORDER_SUMS)
def _softmax_backward(start, stop, grad_y, y, grad_x):
    for i in range(start, stop):
        g, p, out = grad_y[i], y[i], grad_x[i]
        dot = y.dtype.type(0)
        for j in range(p.size):
            dot += g[j] * p[j]
        for j in range(p.size):
            out[j] = p[j] * (g[j] - dot)


def softmax_backward(grad_y, y, axis):
    """dL/dx = y * (dL/dy - sum(dL/dy * y)) along axis. grad_y, y: same shape."""
    return _along_rows_backward(_softmax_backward, numpy_ref.softmax_backward, grad_y, y, axis)


@range_kernel(fastmath=REORDER_SUMS)
def _log_softmax_forward(start, stop, x, y):
    for i in range(start, stop):
        row, out = x[i], y[i]
        top = row_max(row)
        total = x.dtype.type(0)
        for j in range(row.size):
            total += exp(row[j] - top)
        log_total = math.log(total)
        for j in range(row.size):
            out[j] = (row[j] - top) - log_total


def log_softmax_forward(x, axis):
    """y = x - logsumexp(x) along axis, from the max-shifted x (stable). Threads split the rows."""
    return _along_rows(_log_softmax_forward, numpy_ref.log_softmax_forward, x, axis, log=True)


@range_kernel(fastmath=REORDER_SUMS)
def _log_softmax_backward(start, stop, grad_y, y, grad_x):
    for i in range(start, stop):
        g, log_p, out = grad_y[i], y[i], grad_x[i]
        total = y.dtype.type(0)
        for j in range(g.size):
            total += g[j]
        for j in range(g.size):
            out[j] = g[j] - exp(log_p[j]) * total


def log_softmax_backward(grad_y, y, axis):
    """dL/dx = dL/dy - softmax(x) * sum(dL/dy) along axis, with softmax(x) = exp(y). Same shapes."""
    return _along_rows_backward(_log_softmax_backward, numpy_ref.log_softmax_backward, grad_y, y, axis, log=True)


def _labels_in_range(labels, n: int, classes: int) -> bool:
    """n integer labels, all in [0, classes): anything else goes to the reference, which wraps or raises."""
    return (
        isinstance(labels, np.ndarray)
        and labels.shape == (n,)
        and labels.dtype.kind in "iu"
        and _all_below(labels, classes)
    )


@numba.njit(cache=True)
def _all_below(labels, classes):
    """0 <= label < classes for every label, in one pass: NumPy's min and max took 1.5 us each, and a training step
    checks its labels in the forward and again in the backward."""
    for label in labels:
        if label < 0 or label >= classes:
            return False
    return True


@range_kernel(fastmath=REORDER_SUMS)
def _cross_entropy_forward(start, stop, logits, labels, loss, probs):
    _softmax_rows(start, stop, logits, probs, labels, loss)


def cross_entropy_forward(logits, labels):
    """Per-sample cross-entropy of integer labels, and the probabilities backward needs.

    logits: (N, C) float, labels: (N,) integers in [0, C) -> loss: (N,), probs: (N, C).
    One pass per row (threads split the rows): max, exps into probs, their sum, loss = logsumexp - the
    label's logit, probs scaled by 1 / sum.
    """
    usable = same_floats(logits) and logits.ndim == 2 and logits.size > 0
    if not (usable and _labels_in_range(labels, *logits.shape)):
        return numpy_ref.cross_entropy_forward(logits, labels)
    loss, probs = np.empty(logits.shape[0], logits.dtype), np.empty(logits.shape, logits.dtype)
    labels = contiguous(labels, np.intp)
    run_range(_cross_entropy_forward, EXP * logits.size, len(loss), contiguous(logits), labels, loss, probs)
    return loss, probs


@range_kernel()
def _cross_entropy_backward(start, stop, grad_loss, probs, labels, grad):
    for i in range(start, stop):
        g, p, out = grad_loss[i], probs[i], grad[i]
        for j in range(p.size):
            out[j] = p[j] * g
        out[labels[i]] = (p[labels[i]] - p.dtype.type(1)) * g


def cross_entropy_backward(grad_loss, probs, labels):
    """dL/dlogits = (probs - onehot(labels)) * dL/dloss. grad_loss: (N,), probs: (N, C), labels: (N,)."""
    usable = same_floats(grad_loss, probs) and probs.ndim == 2 and grad_loss.shape == probs.shape[:1]
    if not (usable and _labels_in_range(labels, *probs.shape)):
        return numpy_ref.cross_entropy_backward(grad_loss, probs, labels)
    grad = np.empty(probs.shape, probs.dtype)
    # grad_loss is often a broadcast scalar (reduction="mean"): `contiguous` copies its N values.
    labels = contiguous(labels, np.intp)
    args = contiguous(grad_loss), contiguous(probs), labels, grad
    run_range(_cross_entropy_backward, CHEAP * probs.size, len(grad), *args)
    return grad


@warms_up
def warm_up(dtype: np.dtype) -> None:
    """Compile every kernel of this family for dtype (see common.warms_up)."""
    x = np.linspace(-3, 3, 12).astype(dtype).reshape(3, 4)
    labels = np.array([0, 3, 1])
    columns = np.linspace(-3, 3, 2 * COLUMNS_FROM).astype(dtype).reshape(2, COLUMNS_FROM)
    for forward, backward in ((softmax_forward, softmax_backward), (log_softmax_forward, log_softmax_backward)):
        backward(x, forward(x, -1), -1)
        backward(columns, forward(columns, 0), 0)  # and along the first axis, by columns
    _, probs = cross_entropy_forward(x, labels)
    cross_entropy_backward(x[:, 0].copy(), probs, labels)
