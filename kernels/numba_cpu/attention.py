"""Scaled dot-product attention, forward and backward, and the masked softmax it is built on."""

import functools
import math

import numpy as np

from kernels import numpy_ref
from kernels.numba_cpu.common import (
    EXP,
    REORDER_SUMS,
    contiguous,
    exp,
    flat,
    limit_blas_threads,
    numba,
    range_kernel,
    run_range,
    same_floats,
    warms_up,
)
from kernels.numba_cpu.softmax import softmax_forward
from kernels.numba_cpu.tile import small_dot, small_times_transposed

# Attention is fused per (batch, head): threads split the heads (a range over every leading axis merged into
# one), and each head makes its scores, softmax and output in one pass while they are in its cache. The
# products are tile.dot's (float32 by tiles, else BLAS calls, one BLAS thread each, as in convolution), the
# softmax and its gradient vectorized loops (down columns: below). Measured on workload 5, q/k/v (8, 4, 128, 64)
# float32, forward + backward, 2 threads, best of 70, when the products were BLAS calls and the softmax ran along
# rows: 2.8 ms (causal mask or none); the same with BLAS left multi-threaded inside the threads 16 ms (its threads fight
# numba's, and OpenBLAS prints warnings); fused loops with hand-written (vectorized) products instead of BLAS 8.0
# ms, 5.0 ms causal (they skipped hidden keys); numpy_ref 4.8 ms; torch's scaled_dot_product_attention 4.1 ms
# (is_causal: the same).
# The forward saves the weights P (..., Tq, Tk), as the reference does, and backward reuses them: saving the
# log-sum-exp instead (Tq numbers per head) and recomputing P in backward costs one more product and the
# exps again: 3.2 ms instead of 2.8 ms on that workload.
# Each head's scores are made transposed, S^T = k q^T (Tk, Tq), and the softmax runs down its columns: every pass
# (scale and mask, max, exp and sum, scaling) then runs along the queries, a vector operation across queries in
# place of a reduction per query. On rows of 64 keys the reductions' loop overhead made the softmax 112 ns a query;
# down columns 50 (8192 queries, one thread of the Intel Xeon). The weights are saved as P^T, returned as P's
# transposed view; both products with P read it either way round (tile.gemm takes a transposed operand).
# A mask is not expanded per head: it becomes blocks of score offsets (0 where a query may attend, -inf where it
# may not, or the float mask's values), one per head the mask has of its own, and each head reads its block by
# index (``pattern``): a causal (Tq, Tk) mask stays one block, shared by every head of every batch.
# Heads of a packed projection (PackedSelfAttention's q, k, v: rows 3E apart) are read where they lie by the tiles
# (_head), not gathered.
# Outputs of heads (N, H, T, n) are written with the heads side by side, (N, T, H, n), and returned as views in
# the (N, H, T, n) shape: what comes next puts the heads back side by side (out.transpose(1, 2).reshape(N, T, H * n),
# PackedSelfAttention's packed gradient), which is then a view or a copy of whole rows instead of a strided
# gather (PackedSelfAttention's forward copy took 57 us of a transformer LM layer, its backward's 261). The
# gradients of self-attention go one step further: dq, dk, dv side by side (_gradient_places).
# Lesson 14's layer, (32, 4, 64, 16) causal, one thread: forward 1530 -> 1041 us, backward 1855 -> 1318 with the
# transposed scores and heads read in place (PyTorch's scaled_dot_product_attention forward: 849).


@range_kernel(fastmath=REORDER_SUMS)
def _masked_softmax_forward(start, stop, x, mask, mask_row, y):
    minus_inf = x.dtype.type(-np.inf)
    for i in range(start, stop):  # (indexed in 2-D, as softmax._softmax_rows, not by row views)
        m = mask_row[i]
        top = minus_inf
        for j in range(x.shape[1]):
            if mask[m, j] and (x[i, j] > top or x[i, j] != x[i, j]):  # a NaN max stays NaN, as np.max
                top = x[i, j]
        if not math.isfinite(top):
            top = x.dtype.type(0)  # as the reference: a row whose max is not finite is not shifted
        total = x.dtype.type(0)
        for j in range(x.shape[1]):
            y[i, j] = exp(x[i, j] - top) if mask[m, j] else x.dtype.type(0)
            total += y[i, j]
        if total > 0:
            inverse = x.dtype.type(1) / total  # see softmax._softmax_rows
            for j in range(x.shape[1]):
                y[i, j] = y[i, j] * inverse


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
    run_range(_masked_softmax_forward, EXP * rows.size, rows.shape[0], rows, mask, mask_row, y)
    return y.reshape(shape)


def _score_offsets(mask, lead: tuple, length: int, source: int, dtype):
    """The mask as blocks of offsets to add to the transposed scores, and which block each head uses.

    mask: None, bool (True = may attend) or float, broadcastable to (*lead, Tq, Tk)
    -> offsets: (P, Tk, Tq) of dtype, pattern: (B,) with B = prod(lead): head b adds offsets[pattern[b]] to its
    scores k q^T. P is the number of heads the mask has of its own (a causal (Tq, Tk) mask: one block shared by
    every head). Without a mask, offsets is (1, 0, 0): nothing to add.
    """
    if mask is None:
        return np.empty((1, 0, 0), dtype), np.zeros(math.prod(lead), np.intp)
    if mask.size <= CACHED_MASK_SIZE:  # the same mask every step, as a model makes its causal mask anew each forward
        return _cached_offsets(mask.tobytes(), mask.shape, mask.dtype.str, lead, length, source, dtype.str)
    return _offsets_of(mask, lead, length, source, dtype)


# Masks of up to this many values have their offsets kept (by their bytes, shapes and dtypes) for the next call:
# making them for lesson 14's causal (64, 64) mask took 21 us of Python a call, 2.7 kept.
CACHED_MASK_SIZE = 1 << 16


@functools.lru_cache(maxsize=16)
def _cached_offsets(values: bytes, shape: tuple, mask_dtype: str, lead: tuple, length: int, source: int, dtype: str):
    """_offsets_of for the mask these bytes, shape and dtype make (the kernels only read what it returns)."""
    mask = np.frombuffer(values, np.dtype(mask_dtype)).reshape(shape)
    return _offsets_of(mask, lead, length, source, np.dtype(dtype))


def _offsets_of(mask, lead: tuple, length: int, source: int, dtype):
    """_score_offsets for a mask."""
    offsets = np.where(mask, dtype.type(0), dtype.type(-np.inf)) if mask.dtype == bool else mask.astype(dtype)
    offsets = offsets.reshape((1,) * (len(lead) + 2 - offsets.ndim) + offsets.shape)
    heads = offsets.shape[:-2]
    pattern = np.broadcast_to(np.arange(math.prod(heads)).reshape(heads), lead)
    blocks = np.broadcast_to(offsets, (*heads, length, source)).swapaxes(-1, -2)
    return contiguous(blocks).reshape(-1, source, length), flat(pattern, np.intp)


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
    projection (PackedSelfAttention's q, k, v and gradient) are read where they lie (_head), instead of being
    copied whole first (4 copies of (32, 4, 64, 16) took 160 us of a transformer layer's backward). Anything else
    (more than two leading axes, strided rows, a buffer of another dtype) is read from a C-contiguous copy.
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
    """Head (i, j) of an array read through _rows_of, as a (rows, width) view of buffer, its rows where they lie:
    the tiles read rows any distance apart (gathering the heads of a packed projection took 0.2 of a layer's 1.05
    ms forward, one thread); the BLAS's way copies them (tile.for_blas)."""
    start = place[0] + i * place[1] + j * place[2]
    strides = (place[3] * buffer.itemsize, buffer.itemsize)
    return np.lib.stride_tricks.as_strided(buffer[start:], (rows, width), strides)


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
def _softmax_of_columns(scores, offsets, scale, top, total):
    """scores (Tk, Tq) <- softmax over each column of scores * scale + offsets (Tk, Tq; none where empty), in
    place: one query's weights down a column. Each pass runs along the queries, so the row max, sum and scaling
    are vector operations across queries, not a reduction per query. As the reference: a column whose max is not
    finite is not shifted, and one of all -inf (a query that may attend to no key) gives zeros.
    top, total: (Tq,) scratch."""
    keys, queries = scores.shape
    top[:] = -np.inf
    for j in range(keys):
        row = scores[j]
        if offsets.size:
            bias = offsets[j]
            for t in range(queries):
                row[t] = row[t] * scale + bias[t]
        else:
            for t in range(queries):
                row[t] = row[t] * scale
        for t in range(queries):
            top[t] = row[t] if row[t] > top[t] else top[t]  # a NaN is passed over: the sum catches it
    for t in range(queries):
        total[t] = 0
        if not math.isfinite(top[t]):
            top[t] = 0
    for j in range(keys):
        row = scores[j]
        for t in range(queries):
            row[t] = exp(row[t] - top[t])  # masked entries: exp(-inf) = 0
            total[t] += row[t]
    for t in range(queries):
        total[t] = 1 / total[t] if total[t] != 0 else 1  # one reciprocal a query (see softmax._softmax_rows)
    for j in range(keys):
        row = scores[j]
        for t in range(queries):
            row[t] = row[t] * total[t]


@numba.njit(cache=True, fastmath=REORDER_SUMS, error_model="numpy")
def _scores_gradient_of_columns(grad, weights, scale, total):
    """grad <- weights * (grad - colsum(grad * weights)) * scale in place, (Tk, Tq): dL/dP^T turned into dL/dS^T,
    down each column as _softmax_of_columns. total: (Tq,) scratch."""
    total[:] = 0
    for j in range(grad.shape[0]):
        for t in range(grad.shape[1]):
            total[t] += grad[j, t] * weights[j, t]
    for j in range(grad.shape[0]):
        for t in range(grad.shape[1]):
            grad[j, t] = weights[j, t] * (grad[j, t] - total[t]) * scale


@range_kernel(fastmath=REORDER_SUMS)
def _attention_forward(start, stop, qs, q_at, ks, k_at, vs, v_at, sizes, offsets, pattern, scale, out, weights):
    """Heads start..stop: q, k, v read through _rows_of (buffer, place); sizes: (N, H, Tq, Tk, d, dv), N * H heads of
    q (Tq, d), k (Tk, d), v (Tk, dv); offsets, pattern from _score_offsets -> out: (N, Tq, H, dv) (see
    attention_forward), weights transposed: (N*H, Tk, Tq)."""
    h, length, source, d, dv = sizes[1:]
    for b in range(start, stop):
        i, j = b // h, b % h
        q, k = _head(qs, q_at, i, j, length, d), _head(ks, k_at, i, j, source, d)
        v = _head(vs, v_at, i, j, source, dv)
        small_times_transposed(k, q, weights[b], np.empty(q.size, qs.dtype), False)
        top, total = np.empty(length, qs.dtype), np.empty(length, qs.dtype)
        _softmax_of_columns(weights[b], offsets[pattern[b]], scale, top, total)
        small_dot(weights[b].T, v, out[i, :, j])


@numba.njit(cache=True)
def _strided(buffer, place, shape):
    """The 4-D view of buffer at place: [offset, 4 strides], in numbers."""
    size = buffer.itemsize
    strides = (place[1] * size, place[2] * size, place[3] * size, place[4] * size)
    return np.lib.stride_tricks.as_strided(buffer[place[0] :], shape, strides)


@range_kernel(fastmath=REORDER_SUMS)
def _attention_backward(start, stop, gs, g_at, qs, q_at, ks, k_at, vs, v_at, sizes, weights, scale, places, grads):
    """Heads start..stop: grad_out (Tq, dv per head), q, k, v read through _rows_of, sizes as in _attention_forward,
    weights transposed: (N*H, Tk, Tq); places: where dq, dk, dv lie in grads (_gradient_places)."""
    n, h, length, source, d, dv = sizes
    dq, dk = _strided(grads, places[0], (n, length, h, d)), _strided(grads, places[1], (n, source, h, d))
    dvalues = _strided(grads, places[2], (n, source, h, dv))
    for b in range(start, stop):
        i, j = b // h, b % h
        grad_out, q = _head(gs, g_at, i, j, length, dv), _head(qs, q_at, i, j, length, d)
        k, v = _head(ks, k_at, i, j, source, d), _head(vs, v_at, i, j, source, dv)
        small_dot(weights[b], grad_out, dvalues[i, :, j])
        dscores = np.empty((source, length), qs.dtype)  # dL/dP^T, then dL/dS^T
        small_times_transposed(v, grad_out, dscores, np.empty(grad_out.size, qs.dtype), False)
        _scores_gradient_of_columns(dscores, weights[b], scale, np.empty(length, qs.dtype))
        small_dot(dscores.T, k, dq[i, :, j])
        small_dot(dscores, q, dk[i, :, j])


def _gradient_places(n: int, h: int, length: int, source: int, d: int, dv: int):
    """Where the backward kernel puts dq, dk, dv in its one buffer: (3, 5) offsets and strides of (N, T, H, n), in
    numbers. Self-attention's (Tq == Tk, d == dv) lie side by side, (N, T, 3, H, n): the layout of
    PackedSelfAttention's packed gradient, which then needs no copy (3 copies took 0.18 of a transformer LM layer's
    1.03 ms backward); others one after the other."""
    if length == source and d == dv:
        row = 3 * h * d
        return np.array([[w * h * d, length * row, row, d, 1] for w in range(3)], np.int64), (n, length, 3, h, d)
    places, offset = [], 0
    for rows, width in ((length, d), (source, d), (source, dv)):
        places.append([offset, rows * h * width, h * width, width, 1])
        offset += n * rows * h * width
    return np.array(places, np.int64), None


def _heads_last(a, shape: tuple):
    """A kernel's (N, T, H, n) output as ``shape`` (..., T, n): a view with the heads' axis moved back in front of
    T where shape has two leading axes (N, H), else the same memory reshaped (H is 1)."""
    return a.swapaxes(1, 2) if len(shape) == 4 else a.reshape(shape)


def attention_forward(q, k, v, mask, scale):
    """Scaled dot-product attention, as numpy_ref.attention_forward: out = softmax(q k^T * scale, masked) v.

    q: (..., Tq, d), k: (..., Tk, d), v: (..., Tk, dv) (same leading axes); mask: None, bool broadcastable
    to (..., Tq, Tk) (True = may attend) or float (added to the scores); scale: a number
    -> out: (..., Tq, dv), saved: the weights (..., Tq, Tk), as the reference's (either backward takes them),
    a view of them made transposed (see _softmax_of_columns). A query allowed no key gets weights 0 and out 0.
    Other dtypes, mixed dtypes, empty axes and leading axes that differ (the reference broadcasts them) go to the
    reference.
    """
    usable = _attention_usable(q, k, v) and (mask is None or _mask_usable(mask, (*q.shape[:-1], k.shape[-2])))
    if not usable:
        return numpy_ref.attention_forward(q, k, v, mask, scale)
    lead, length, source = q.shape[:-2], q.shape[-2], k.shape[-2]
    offsets, pattern = _score_offsets(mask, lead, length, source, q.dtype)
    sizes = (*_lead(q.shape), length, source, q.shape[-1], v.shape[-1])
    rows = (*_rows_of(q), *_rows_of(k), *_rows_of(v))
    args = (*rows, sizes, offsets, pattern, q.dtype.type(scale))
    n, h, _, _, d, dv = sizes
    out, weights = np.empty((n, length, h, dv), q.dtype), np.empty((n * h, source, length), q.dtype)
    limit_blas_threads()
    # Work: the products' multiply-adds, so that a few small heads (a gradient check's) run on the caller alone.
    run_range(_attention_forward, n * h * length * source * (d + dv), n * h, *args, out, weights)
    return _heads_last(out, (*lead, length, v.shape[-1])), weights.reshape(*lead, source, length).swapaxes(-1, -2)


def attention_backward(grad_out, q, k, v, saved, mask, scale):
    """Gradients of attention_forward, from the weights P it saved: dq, dk, dv, shaped as q, k, v.

    grad_out: (..., Tq, dv); saved: P (..., Tq, Tk) (this backend's or the reference's: they are the same; the
    kernel reads P^T, which this backend's saved holds end to end, and the reference's as a transposed copy).
    dv = P^T grad_out, dS = P * (dP - rowsum(dP * P)) * scale with dP = grad_out v^T, dq = dS k, dk = dS^T q.
    ``mask`` is not needed: P is 0 wherever a query may not attend, and so is dS.
    """
    if not _attention_usable(grad_out, q, k, v, saved):
        return numpy_ref.attention_backward(grad_out, q, k, v, saved, mask, scale)
    sizes = (*_lead(q.shape), q.shape[-2], k.shape[-2], q.shape[-1], v.shape[-1])
    rows = (*_rows_of(grad_out), *_rows_of(q), *_rows_of(k), *_rows_of(v))
    (weights,) = _heads(saved.swapaxes(-1, -2))
    places, packed = _gradient_places(*sizes)
    args = (*rows, sizes, weights, q.dtype.type(scale), places)
    n, h, length, source, d, dv = sizes
    grads = np.empty(n * h * (length * d + source * (d + dv)), q.dtype)
    limit_blas_threads()
    run_range(_attention_backward, 2 * n * h * length * source * (d + dv), n * h, *args, grads)
    if packed is not None:  # views of grads, whose .base they share (PackedSelfAttention looks for that)
        heads = grads.reshape(packed)
        dq, dk, dv = heads[:, :, 0], heads[:, :, 1], heads[:, :, 2]
    else:
        n, h, length, source, d, dv = sizes
        ends = np.cumsum([n * length * h * d, n * source * h * d])
        dq, dk, dv = (
            part.reshape(n, rows, h, width)
            for part, rows, width in zip(np.split(grads, ends), (length, source, source), (d, d, dv))
        )
    return _heads_last(dq, q.shape), _heads_last(dk, k.shape), _heads_last(dv, v.shape)


@warms_up
def warm_up(dtype: np.dtype) -> None:
    """Compile the attention and masked-softmax kernels for dtype (see common.warms_up)."""
    q = np.linspace(-1, 1, 6).astype(dtype).reshape(1, 2, 3)
    out, weights = attention_forward(q, q, q, np.tril(np.ones((2, 2), bool)), 0.5)
    attention_backward(out, q, q, q, weights, None, 0.5)
    x = np.linspace(-3, 3, 12).astype(dtype).reshape(3, 4)
    masked_softmax_forward(x, x > 0)
