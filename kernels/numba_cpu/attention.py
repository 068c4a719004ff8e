"""Scaled dot-product attention, forward and backward, and the masked softmax it is built on."""

import math

import numpy as np

from kernels import numpy_ref
from kernels.numba_cpu.common import (
    EXP,
    REORDER_SUMS,
    contiguous,
    exp,
    flat,
    numba,
    row_max,
    run_kernel,
    same_floats,
    threaded,
    warms_up,
    with_one_blas_thread,
)
from kernels.numba_cpu.dot import beats_blas
from kernels.numba_cpu.softmax import softmax_forward
from kernels.numba_cpu.tile import dot, times_transposed

# Attention is fused per (batch, head): threads split the heads (prange over every leading axis merged into
# one), and each head makes its scores, softmax and output in one pass while they are in its cache. The
# products are BLAS calls (np.dot, one BLAS thread each, as in convolution), the softmax and its gradient
# are vectorized loops over rows. Measured on workload 5, q/k/v (8, 4, 128, 64) float32, forward +
# backward, 2 threads, best of 70: these kernels 2.8 ms (causal mask or none); the same with BLAS left
# multi-threaded inside prange 16 ms (its threads fight numba's, and OpenBLAS prints warnings); fused loops
# with hand-written (vectorized) products instead of BLAS 8.0 ms, 5.0 ms causal (they skipped hidden keys);
# numpy_ref 4.8 ms; torch's scaled_dot_product_attention 4.1 ms (is_causal: the same).
# The forward saves the weights P (..., Tq, Tk), as the reference does, and backward reuses them: saving the
# log-sum-exp instead (Tq numbers per head) and recomputing P in backward costs one more product and the
# exps again: 3.2 ms instead of 2.8 ms on that workload.
# A mask is not expanded per head: it becomes a table of score offsets (0 where a query may attend, -inf where
# it may not, or the float mask's values) holding the mask's own rows, and each query reads its row by index
# (``bias_row``): a causal (Tq, Tk) mask stays Tq rows, shared by every head of every batch.
# Outputs of heads (N, H, T, n) are written with the heads side by side, (N, T, H, n), and returned as views in
# the (N, H, T, n) shape: what comes next puts the heads back side by side (out.transpose(1, 2).reshape(N, T, H * n),
# PackedSelfAttention's packed gradient), which is then a view or a copy of whole rows instead of a strided
# gather (PackedSelfAttention's forward copy took 57 us of a transformer LM layer, its backward's 261).


@threaded(fastmath=REORDER_SUMS)
def _masked_softmax_forward(x, mask, mask_row, y):
    minus_inf = x.dtype.type(-np.inf)
    for i in numba.prange(x.shape[0]):
        row, allowed, out = x[i], mask[mask_row[i]], y[i]
        top = minus_inf
        for j in range(row.size):
            if allowed[j] and (row[j] > top or row[j] != row[j]):  # a NaN max stays NaN, as np.max
                top = row[j]
        if not math.isfinite(top):
            top = x.dtype.type(0)  # as the reference: a row whose max is not finite is not shifted
        total = x.dtype.type(0)
        for j in range(row.size):
            out[j] = exp(row[j] - top) if allowed[j] else x.dtype.type(0)
            total += out[j]
        if total > 0:
            inverse = x.dtype.type(1) / total  # see softmax._softmax_row
            for j in range(row.size):
                out[j] = out[j] * inverse


def masked_softmax_forward(x, mask):
    """Softmax over the last axis, over the entries ``mask`` allows; a row with none allowed gives zeros.

    x: (..., K) (entries of -inf count as masked too); mask: bool broadcastable to x (True = take part),
    or None -> y: x's broadcast shape with mask. Threads split the rows. The mask is not expanded to x's
    shape: each row of x reads the row of the mask it broadcasts from (``mask_row``).
    """
    if not same_floats(x) or x.ndim == 0 or (mask is not None and not isinstance(mask, np.ndarray)):
        return numpy_ref.masked_softmax_forward(x, mask)
    shape = x.shape if mask is None else np.broadcast_shapes(x.shape, mask.shape)
    if math.prod(shape) == 0:
        return numpy_ref.masked_softmax_forward(x, mask)
    lead, width = shape[:-1], shape[-1]
    rows = contiguous(np.broadcast_to(x, shape)).reshape(-1, width)
    if mask is None:
        # Softmax's kernel, whose loops have no test per entry and vectorize (attention's weights over 50 keys: 0.34
        # of its step's 2.4 ms here); rows it leaves not finite (a NaN, an infinity, all -inf) the masked kernel
        # redoes, to give the reference's numbers for them.
        y = softmax_forward(rows, -1)
        if np.isfinite(y).all():
            return y.reshape(shape)
        mask, mask_row = np.ones((1, width), dtype=bool), np.zeros(rows.shape[0], dtype=np.intp)
    else:
        mask = mask.reshape((1,) * (len(shape) - mask.ndim) + mask.shape)
        mask_lead = mask.shape[:-1]
        mask_row = flat(np.broadcast_to(np.arange(math.prod(mask_lead)).reshape(mask_lead), lead), np.intp)
        mask = contiguous(np.broadcast_to(mask.reshape(-1, mask.shape[-1]), (math.prod(mask_lead), width)), bool)
    y = np.empty_like(rows)
    run_kernel(_masked_softmax_forward, EXP * rows.size, rows, mask, mask_row, y)
    return y.reshape(shape)


def _score_offsets(mask, lead: tuple, length: int, source: int, dtype):
    """The mask as rows of offsets to add to the scores, and which row each query uses.

    mask: None, bool (True = may attend) or float, broadcastable to (*lead, Tq, Tk)
    -> table: (R, Tk) of dtype, bias_row: (B * Tq,) with B = prod(lead): query i of head b adds
    table[bias_row[b * Tq + i]]. R is the number of rows the mask has of its own (1 without a mask).
    """
    if mask is None:
        return np.zeros((1, source), dtype), np.zeros(math.prod(lead) * length, np.intp)
    offsets = np.where(mask, dtype.type(0), dtype.type(-np.inf)) if mask.dtype == bool else mask.astype(dtype)
    offsets = offsets.reshape((1,) * (len(lead) + 2 - offsets.ndim) + offsets.shape)
    rows = offsets.shape[:-1]
    bias_row = np.broadcast_to(np.arange(math.prod(rows)).reshape(rows), (*lead, length))
    table = np.broadcast_to(offsets.reshape(-1, offsets.shape[-1]), (math.prod(rows), source))
    return contiguous(table), flat(bias_row, np.intp)


def _heads(*arrays):
    """Each array (..., T, n) as a C-contiguous (B, T, n): its leading axes merged into one axis of heads."""
    return tuple(contiguous(a).reshape(-1, *a.shape[-2:]) for a in arrays)


def _lead(shape: tuple) -> tuple[int, int]:
    """The leading axes of (..., T, n) as two, (N, H): (1, 1) for none, (B, 1) for one or more than two."""
    lead = shape[:-2]
    return (lead[0], lead[1]) if len(lead) == 2 else (math.prod(lead), 1)


def _rows_of(a):
    """(buffer, place) of a (..., T, n): a flat array and [offset, s0, s1, sT] such that row t of head (i, j) of a
    (its leading axes as two, see _lead) is buffer[offset + i*s0 + j*s1 + t*sT :][:n].

    The buffer is the memory a already looks into, when its rows are contiguous in it: the heads of a packed
    projection (PackedSelfAttention's q, k, v and gradient) are read where they lie, each head gathered into its
    thread's cache by the kernel, instead of being copied whole first (4 copies of (32, 4, 64, 16) took 160 us
    of a transformer layer's backward). Anything else (more than two leading axes, strided rows, a buffer of
    another dtype) is read from a C-contiguous copy.
    """
    owner = a
    while isinstance(owner.base, np.ndarray):
        owner = owner.base
    flags = owner.flags
    if (
        a.ndim > 4
        or a.strides[-1] != a.itemsize
        or owner.dtype != a.dtype
        or not (flags.c_contiguous and flags.writeable)
    ):
        a = owner = contiguous(a) if a.ndim <= 4 else contiguous(a).reshape(-1, *a.shape[-2:])
    strides = [stride // a.itemsize for stride in a.strides[:-1]]
    lead_strides = {4: strides[:2], 3: [strides[0], 0], 2: [0, 0]}[a.ndim]
    offset = (a.__array_interface__["data"][0] - owner.__array_interface__["data"][0]) // a.itemsize
    return owner.reshape(-1), np.array([offset, *lead_strides, strides[-1]], np.int64)


@numba.njit(cache=True)
def _head(buffer, place, i, j, rows, width):
    """Head (i, j) of an array read through _rows_of, as a C-contiguous (rows, width): a view of buffer when its
    rows lie end to end, else a gathered copy."""
    start = place[0] + i * place[1] + j * place[2]
    if place[3] == width:
        return buffer[start : start + rows * width].reshape((rows, width))
    head = np.empty((rows, width), buffer.dtype)
    for t in range(rows):
        row = start + t * place[3]
        for x in range(width):  # not a slice assignment: numba's makes 5x the code to compile
            head[t, x] = buffer[row + x]
    return head


def _attention_usable(*arrays) -> bool:
    """Whether the compiled kernels take these: one float dtype, no empty axis, the same leading axes."""
    if not (same_floats(*arrays) and all(a.ndim >= 2 and a.size > 0 for a in arrays)):
        return False
    return len({a.shape[:-2] for a in arrays}) == 1


def _mask_usable(mask, scores_shape: tuple) -> bool:
    """Whether the mask is a NumPy bool or float array that broadcasts to the scores' shape (not beyond it)."""
    if not isinstance(mask, np.ndarray) or not (mask.dtype == bool or mask.dtype.kind == "f"):
        return False
    try:
        return np.broadcast_shapes(mask.shape, scores_shape) == scores_shape
    except ValueError:
        return False


@numba.njit(cache=True, fastmath=REORDER_SUMS, error_model="numpy")
def _softmax_of_scores(scores, offsets, scale):
    """scores <- softmax(scores * scale + offsets) in place, the max subtracted first; zeros where every
    entry is -inf (a query that may attend to no key)."""
    for j in range(scores.size):
        scores[j] = scores[j] * scale + offsets[j]
    top = row_max(scores)
    if top == -np.inf:
        scores[:] = 0
        return
    total = scores.dtype.type(0)
    for j in range(scores.size):
        scores[j] = exp(scores[j] - top)  # masked entries: exp(-inf) = 0
        total += scores[j]
    inverse = scores.dtype.type(1) / total  # see softmax._softmax_row
    for j in range(scores.size):
        scores[j] = scores[j] * inverse


@numba.njit(cache=True, fastmath=REORDER_SUMS, error_model="numpy")
def _scores_gradient(grad, weights, scale):
    """grad <- weights * (grad - sum(grad * weights)) * scale in place: one row's dL/dP turned into dL/dS."""
    total = grad.dtype.type(0)
    for j in range(grad.size):
        total += grad[j] * weights[j]
    for j in range(grad.size):
        grad[j] = weights[j] * (grad[j] - total) * scale


@numba.njit(cache=True)
def _dot_into(a, b, out, by_tiles):
    """out = a @ b with out's rows any distance apart (a head's rows in (N, T, H, d)): made in a contiguous scratch,
    in the thread's cache, then copied over (numba's np.dot, the BLAS's way, would fill a contiguous copy of out)."""
    product = np.empty(out.shape, out.dtype)
    dot(a, b, product, by_tiles)
    for t in range(out.shape[0]):
        for x in range(out.shape[1]):  # not a slice assignment: numba's makes 5x the code to compile
            out[t, x] = product[t, x]


@threaded(fastmath=REORDER_SUMS)
def _attention_forward(qs, q_at, ks, k_at, vs, v_at, sizes, table, bias_row, scale, by_tiles):
    """q, k, v read through _rows_of (buffer, place); sizes: (N, H, Tq, Tk, d, dv), N * H heads of q (Tq, d),
    k (Tk, d), v (Tk, dv); table and bias_row from _score_offsets -> out: (N, Tq, H, dv) (see attention_forward),
    weights: (N*H, Tq, Tk)."""
    n, h, length, source, d, dv = sizes
    out = np.empty((n, length, h, dv), qs.dtype)
    weights = np.empty((n * h, length, source), qs.dtype)
    for b in numba.prange(n * h):
        i, j = b // h, b % h
        q, k, v = _head(qs, q_at, i, j, length, d), _head(ks, k_at, i, j, source, d), _head(vs, v_at, i, j, source, dv)
        times_transposed(q, k, weights[b], np.empty(k.size, qs.dtype), by_tiles, False)
        for t in range(length):
            _softmax_of_scores(weights[b, t], table[bias_row[b * length + t]], scale)
        _dot_into(weights[b], v, out[i, :, j], by_tiles)
    return out, weights


@threaded(fastmath=REORDER_SUMS)
def _attention_backward(gs, g_at, qs, q_at, ks, k_at, vs, v_at, sizes, weights, scale, by_tiles):
    """grad_out (Tq, dv per head), q, k, v read through _rows_of, sizes as in _attention_forward, weights:
    (N*H, Tq, Tk) -> dq, dk, dv: (N, Tq, H, d), (N, Tk, H, d), (N, Tk, H, dv) (see attention_forward)."""
    n, h, length, source, d, dv = sizes
    dq, dk = np.empty((n, length, h, d), qs.dtype), np.empty((n, source, h, d), qs.dtype)
    dvalues = np.empty((n, source, h, dv), qs.dtype)
    for b in numba.prange(n * h):
        i, j = b // h, b % h
        grad_out, q = _head(gs, g_at, i, j, length, dv), _head(qs, q_at, i, j, length, d)
        k, v = _head(ks, k_at, i, j, source, d), _head(vs, v_at, i, j, source, dv)
        _dot_into(weights[b].T, grad_out, dvalues[i, :, j], by_tiles)
        dscores = np.empty((length, source), qs.dtype)
        times_transposed(grad_out, v, dscores, np.empty(v.size, qs.dtype), by_tiles, False)  # dL/dP, then dL/dS
        for t in range(length):
            _scores_gradient(dscores[t], weights[b, t], scale)
        _dot_into(dscores, k, dq[i, :, j], by_tiles)
        _dot_into(dscores.T, q, dk[i, :, j], by_tiles)
    return dq, dk, dvalues


def _heads_last(a, shape: tuple):
    """A kernel's (N, T, H, n) output as ``shape`` (..., T, n): a view with the heads' axis moved back in front of
    T where shape has two leading axes (N, H), else the same memory reshaped (H is 1)."""
    return a.swapaxes(1, 2) if len(shape) == 4 else a.reshape(shape)


def attention_forward(q, k, v, mask, scale):
    """Scaled dot-product attention, as numpy_ref.attention_forward: out = softmax(q k^T * scale, masked) v.

    q: (..., Tq, d), k: (..., Tk, d), v: (..., Tk, dv) (same leading axes); mask: None, bool broadcastable
    to (..., Tq, Tk) (True = may attend) or float (added to the scores); scale: a number
    -> out: (..., Tq, dv), saved: the weights (..., Tq, Tk), as the reference's (either backward takes them).
    A query allowed no key gets weights 0 and out 0. Other dtypes, mixed dtypes, empty axes and leading axes
    that differ (the reference broadcasts them) go to the reference.
    """
    usable = _attention_usable(q, k, v) and (mask is None or _mask_usable(mask, (*q.shape[:-1], k.shape[-2])))
    if not usable:
        return numpy_ref.attention_forward(q, k, v, mask, scale)
    lead, length, source = q.shape[:-2], q.shape[-2], k.shape[-2]
    table, bias_row = _score_offsets(mask, lead, length, source, q.dtype)
    sizes = (*_lead(q.shape), length, source, q.shape[-1], v.shape[-1])
    rows = (*_rows_of(q), *_rows_of(k), *_rows_of(v))
    args = (*rows, sizes, table, bias_row, q.dtype.type(scale), beats_blas(q.dtype))
    out, weights = with_one_blas_thread(_attention_forward, *args)
    return _heads_last(out, (*lead, length, v.shape[-1])), weights.reshape(*lead, length, source)


def attention_backward(grad_out, q, k, v, saved, mask, scale):
    """Gradients of attention_forward, from the weights P it saved: dq, dk, dv, shaped as q, k, v.

    grad_out: (..., Tq, dv); saved: P (..., Tq, Tk) (this backend's or the reference's: they are the same).
    dv = P^T grad_out, dS = P * (dP - rowsum(dP * P)) * scale with dP = grad_out v^T, dq = dS k, dk = dS^T q.
    ``mask`` is not needed: P is 0 wherever a query may not attend, and so is dS.
    """
    if not _attention_usable(grad_out, q, k, v, saved):
        return numpy_ref.attention_backward(grad_out, q, k, v, saved, mask, scale)
    sizes = (*_lead(q.shape), q.shape[-2], k.shape[-2], q.shape[-1], v.shape[-1])
    rows = (*_rows_of(grad_out), *_rows_of(q), *_rows_of(k), *_rows_of(v))
    (weights,) = _heads(saved)
    args = (*rows, sizes, weights, q.dtype.type(scale), beats_blas(q.dtype))
    dq, dk, dv = with_one_blas_thread(_attention_backward, *args)
    return _heads_last(dq, q.shape), _heads_last(dk, k.shape), _heads_last(dv, v.shape)


@warms_up
def warm_up(dtype: np.dtype) -> None:
    """Compile the attention and masked-softmax kernels for dtype (see common.warms_up)."""
    q = np.linspace(-1, 1, 6).astype(dtype).reshape(1, 2, 3)
    out, weights = attention_forward(q, q, q, np.tril(np.ones((2, 2), bool)), 0.5)
    attention_backward(out, q, q, q, weights, None, 0.5)
    x = np.linspace(-3, 3, 12).astype(dtype).reshape(3, 4)
    masked_softmax_forward(x, x > 0)
