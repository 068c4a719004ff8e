"""Scaled dot-product attention, fused (attention.cu), and the masked softmax (a row kernel of softmax.cu).

masked_softmax_forward runs one block per row, as the softmax family does. The fused attention never
holds the (..., Tq, Tk) weights: each block of 8 warps owns 8 queries (or keys, for dk and dv) of one
batch entry and streams the keys (queries) through shared-memory tiles, keeping each query's running max
and log-sum; the backward recomputes the weights from those.
"""

import math

import numpy as np

from kernels import numpy_ref
from kernels.cupy_gpu.common import THREADS, contiguous, cupy, fits, launch, row_threads


def masked_softmax_forward(x, mask):
    """Softmax over the last axis, over the entries ``mask`` allows; a row with none allowed gives zeros.

    x: (..., K); mask: bool broadcastable to x, or None -> y: x's broadcast shape with mask. One block per row.
    """
    if not fits(x) or (mask is not None and mask.dtype != bool):
        return numpy_ref.masked_softmax_forward(x, mask)
    shape = x.shape if mask is None else cupy.broadcast_shapes(x.shape, mask.shape)
    cols = shape[-1]
    rows = contiguous(cupy.broadcast_to(x, shape)).reshape(-1, cols)
    allow = None if mask is None else contiguous(cupy.broadcast_to(mask, shape)).reshape(-1, cols)
    y = cupy.empty_like(rows)
    launch("softmax", "masked_softmax_forward", x.dtype, (len(rows),), (row_threads(cols),), rows, allow, y, cols)
    return y.reshape(shape)


# --- fused attention: tiled, the weights never in memory ----------------------------------------

# As in attention.cu: each block of 8 warps owns 8 queries (or keys), and head dimensions up to
# MAX_DIM fit its shared-memory tiles.
ATTENTION_ROWS_PER_BLOCK = 8
ATTENTION_MAX_DIM = {np.dtype(np.float32): 128, np.dtype(np.float64): 64}


class AttentionSaved:
    """What the fused attention forward keeps for backward, instead of the (..., Tq, Tk) weights.

    out: (..., Tq, Dv), the forward's output; row_max, log_sum: (..., Tq), each query's largest masked
    score m (-inf for a query allowed no key) and the log of its sum l of exp(score - m). A weight is
    exp((score - m) - log l): the backward recomputes them tile by tile; ``weights()`` computes them all
    at once, to look at. (m and log l stay apart: their float32 sum would lose log l at huge scores.)
    """

    def __init__(self, out, row_max, log_sum, q, k, mask, scale) -> None:
        self.out, self.row_max, self.log_sum = out, row_max, log_sum
        self._inputs = q, k, mask, scale

    def weights(self):
        """The attention weights (..., Tq, Tk), as the reference's attention_forward saves them."""
        q, k, mask, scale = self._inputs
        scores = cupy.matmul(q, cupy.swapaxes(k, -1, -2)) * scale
        if mask is not None:
            scores = cupy.where(mask, scores, -cupy.inf) if mask.dtype == bool else scores + mask
        m, log_l = self.row_max[..., None], self.log_sum[..., None]
        hidden = cupy.isneginf(scores) | cupy.isneginf(m)
        exponent = cupy.where(hidden, 0, (scores - m) - log_l)
        return cupy.where(hidden, 0, cupy.exp(exponent)).astype(q.dtype, copy=False)

    def get(self):
        """The weights on the host, as a NumPy array (what ``.get()`` of the reference's saved array gives)."""
        return self.weights().get()


def _attention_fits(q, k, v) -> bool:
    lead = q.shape[:-2]
    return (
        fits(q, k, v)
        and q.ndim >= 2
        and k.shape[:-2] == lead == v.shape[:-2]
        and k.shape[-1] == q.shape[-1]
        and v.shape[-2] == k.shape[-2]
        and max(q.shape[-1], v.shape[-1]) <= ATTENTION_MAX_DIM[q.dtype]
        and math.prod(lead) <= 65535  # the batch is gridDim.y
    )


def _batched(a, length: int):
    """a: (..., T, d) -> a contiguous (B, T, d), B the product of the leading axes."""
    return contiguous(a).reshape(-1, length, a.shape[-1])


def _mask_operand(mask, shape, dtype):
    """(allow, bias, strides) for the kernels: the mask as a (B, Tq, Tk) view of ``shape`` = (..., Tq, Tk).

    A bool mask is ``allow``, any other is ``bias`` (in ``dtype``); strides count elements. A mask
    broadcast over the batch keeps stride 0 there, so it is read in place, not copied once per batch.
    """
    if mask is None:
        return None, None, (0, 0, 0)
    if mask.dtype != bool:
        mask = mask.astype(dtype, copy=False)
    view = cupy.broadcast_to(mask, shape).reshape(-1, *shape[-2:])
    strides = tuple(s // view.itemsize for s in view.strides)
    return (view, None, strides) if mask.dtype == bool else (None, view, strides)


def attention_forward(q, k, v, mask, scale):
    """Scaled dot-product attention: out = softmax(q k^T * scale, masked) v, without the weights in memory.

    q: (..., Tq, d), k: (..., Tk, d), v: (..., Tk, dv); mask: None, bool (True = may attend) or float
    (added to the scores), broadcastable to (..., Tq, Tk); scale: a number.
    -> out: (..., Tq, dv), saved: an AttentionSaved (out, each query's max score and log-sum) for backward.
    Grid (ceil(Tq / 8), B) of 256 threads: each warp owns a query.
    """
    if not _attention_fits(q, k, v):
        return numpy_ref.attention_forward(q, k, v, mask, scale)
    (tq, d), (tk, dv) = q.shape[-2:], v.shape[-2:]
    lead, real = q.shape[:-2], q.dtype.type
    q3, k3, v3 = _batched(q, tq), _batched(k, tk), _batched(v, tk)
    allow, bias, strides = _mask_operand(mask, (*lead, tq, tk), q.dtype)
    out = cupy.empty((len(q3), tq, dv), dtype=q.dtype)
    row_max, log_sum = (cupy.empty((len(q3), tq), dtype=q.dtype) for _ in range(2))
    launch(
        "attention", "attention_forward", q.dtype, (-(-tq // ATTENTION_ROWS_PER_BLOCK), len(q3)), (THREADS,),
        q3, k3, v3, allow, bias, *strides, out, row_max, log_sum, tq, tk, d, dv, real(scale),
    )  # fmt: skip
    out = out.reshape(*lead, tq, dv)
    return out, AttentionSaved(out, row_max.reshape(*lead, tq), log_sum.reshape(*lead, tq), q, k, mask, scale)


def attention_backward(grad_out, q, k, v, saved, mask, scale):
    """Gradients of attention_forward -> dq: (..., Tq, d), dk: (..., Tk, d), dv: (..., Tk, dv).

    From an AttentionSaved, two kernels recompute the weights tile by tile: one with a warp per query
    (dq), one with a warp per key (dk, dv). Saved weights (the reference's) go to the reference.
    """
    if not isinstance(saved, AttentionSaved) or not fits(grad_out, q):
        return numpy_ref.attention_backward(grad_out, q, k, v, saved, mask, scale)
    (tq, d), (tk, dv) = q.shape[-2:], v.shape[-2:]
    lead, real = q.shape[:-2], q.dtype.type
    q3, k3, v3, g3 = _batched(q, tq), _batched(k, tk), _batched(v, tk), _batched(grad_out, tq)
    allow, bias, strides = _mask_operand(mask, (*lead, tq, tk), q.dtype)
    row_max, log_sum = (contiguous(a).reshape(-1, tq) for a in (saved.row_max, saved.log_sum))
    # delta = rowsum(dP * P) = rowsum(dout * out): one number per query, so computed once, here.
    delta = contiguous((grad_out * saved.out).sum(axis=-1)).reshape(-1, tq)
    dq, dk, dv_ = cupy.empty_like(q3), cupy.empty_like(k3), cupy.empty_like(v3)
    operands = (q3, k3, v3, allow, bias, *strides, g3, row_max, log_sum, delta)
    sizes = (tq, tk, d, dv, real(scale))
    batch = len(q3)
    launch(
        "attention", "attention_backward_dq", q.dtype, (-(-tq // ATTENTION_ROWS_PER_BLOCK), batch), (THREADS,),
        *operands, dq, *sizes,
    )  # fmt: skip
    launch(
        "attention", "attention_backward_dkdv", q.dtype, (-(-tk // ATTENTION_ROWS_PER_BLOCK), batch), (THREADS,),
        *operands, dk, dv_, *sizes,
    )  # fmt: skip
    return dq.reshape(q.shape), dk.reshape(k.shape), dv_.reshape(v.shape)
