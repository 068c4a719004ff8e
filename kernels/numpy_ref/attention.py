"""Scaled dot-product attention with an optional mask, and the masked softmax it is built on."""

import numpy as np

from kernels.numpy_ref.common import array_module
from kernels.numpy_ref.softmax import softmax_backward


def masked_softmax_forward(x, mask):
    """Softmax over the last axis, over the entries ``mask`` allows; a row with none allowed gives zeros.

    x: (..., K) (entries of -inf count as masked too); mask: bool broadcastable to x (True = take part),
    or None -> y: x's broadcast shape with mask, rows summing to 1, or to 0 where every entry is masked.
    Its gradient is softmax_backward's: masked entries have y = 0, so no gradient reaches them.
    """
    xp = array_module(x)
    if mask is not None:
        x = xp.where(mask, x, x.dtype.type(-np.inf))  # a -inf of x's dtype, so float32 stays float32
    if x.size == 0:  # no rows, or rows of no entries (no keys): nothing to normalize, no max to take
        return xp.zeros_like(x)
    row_max = x.max(axis=-1, keepdims=True)
    # A fully masked row has max -inf, and -inf - -inf is NaN: shift it by 0 instead (its exps are all 0).
    row_max = xp.where(xp.isfinite(row_max), row_max, 0)
    e = xp.exp(x - row_max)
    total = e.sum(axis=-1, keepdims=True)
    return e / xp.where(total > 0, total, 1)


def attention_forward(q, k, v, mask, scale):
    """Scaled dot-product attention: out = softmax(q k^T * scale, masked) v.

    q: (..., Tq, d), k: (..., Tk, d), v: (..., Tk, dv) (same leading axes); mask: None, bool broadcastable
    to (..., Tq, Tk) with True = the query may attend to that key (PyTorch's bool attn_mask), or float,
    added to the scores (-inf = may not); scale: a number, usually 1 / sqrt(d).
    -> out: (..., Tq, dv), saved: the attention weights (..., Tq, Tk) that backward needs.
    A query allowed no key at all gets weights 0 and out 0, never NaN.
    """
    xp = array_module(q)
    scores = xp.matmul(q, xp.swapaxes(k, -1, -2)) * scale
    if mask is not None and mask.dtype != bool:
        scores, mask = scores + mask, None
    probs = masked_softmax_forward(scores, mask).astype(q.dtype, copy=False)
    return xp.matmul(probs, v), probs


def attention_backward(grad_out, q, k, v, saved, mask, scale):
    """Gradients of attention_forward, from the weights it saved.

    grad_out: (..., Tq, dv); q, k, v, mask, scale: as the forward got them; saved: its weights P (..., Tq, Tk)
    -> dq: (..., Tq, d), dk: (..., Tk, d), dv: (..., Tk, dv).
    With S = q k^T * scale and P = softmax(S): dv = P^T dout, dP = dout v^T, dS = P * (dP - rowsum(dP * P)),
    dq = dS k * scale, dk = dS^T q * scale. Masked entries have P = 0, so dS is 0 there without looking
    at ``mask`` (a kernel that saves the log-sum-exp instead of P needs it to recompute P).
    """
    xp = array_module(q)
    probs = saved
    dv = xp.matmul(xp.swapaxes(probs, -1, -2), grad_out)
    dprobs = xp.matmul(grad_out, xp.swapaxes(v, -1, -2))
    dscores = softmax_backward(dprobs, probs, -1) * scale
    dq = xp.matmul(dscores, k)
    dk = xp.matmul(xp.swapaxes(dscores, -1, -2), q)
    return dq, dk, dv
