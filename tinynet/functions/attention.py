"""Scaled dot-product attention: each query takes a weighted average of the values, weighted by how
well it matches each key: softmax(q k^T / sqrt(d)) v.

Masks say which keys a query may look at. A bool mask follows PyTorch's ``scaled_dot_product_attention``:
True = may attend. A float mask is added to the scores (-inf = may not). A query that may attend to no
key at all gets weights 0 and output 0 (PyTorch would give NaN).
"""

import math

import numpy as np

from kernels.numpy_ref import array_module
from tinynet import backend
from tinynet.amp_policy import autocast_op
from tinynet.autograd import Function
from tinynet.errors import ArgumentError, DTypeError, ShapeError
from tinynet.functions.dropout import dropout
from tinynet.functions.elementwise import where
from tinynet.functions.linalg import matmul
from tinynet.functions.rearrange import repeat_interleave
from tinynet.functions.shape import broadcast_to, transpose
from tinynet.tensor import Tensor, tensor


class Attention(Function):
    """The fused op: one kernel forward, one backward from the saved weights.

    forward:    out = P v, P = softmax(S), S = q kᵀ · scale (+ mask)
    derivative: dv = Pᵀ dout, dP = dout vᵀ, dS = P ⊙ (dP - rowsum(dP ⊙ P)), dq = dS k · scale, dk = dSᵀ q · scale
    kernels:    attention_forward, attention_backward
    """

    @staticmethod
    def forward(ctx, q, k, v, mask, scale, computed=None):
        """computed: (out, saved) of attention_forward already run on these inputs (attention_with_weights)."""
        out, saved = computed or backend.for_arrays(q, k, v, mask).attention_forward(q, k, v, mask, scale)
        ctx.save_for_backward(q, k, v, saved, mask)
        ctx.scale = scale
        return out

    @staticmethod
    def backward(ctx, grad):
        dq, dk, dv = backend.for_arrays(grad).attention_backward(grad, *ctx.saved, ctx.scale)
        return dq, dk, dv, None, None


class AttentionWeights(Function):
    """The weights P of a fused attention, as a tensor of their own: what MultiheadAttention returns beside its
    output. The fused kernel made P (its ``saved``); their gradient reaches q and k through the softmax.

    forward:    P, or P averaged over the heads (axis -3) where ``average``
    derivative: dS = P ⊙ (dP - rowsum(dP ⊙ P)) · scale, dq = dS k, dk = dSᵀ q (dP = dL/dP, spread over the heads
                where averaged)
    kernels:    softmax_backward, matmul
    """

    @staticmethod
    def forward(ctx, q, k, saved, scale, average):
        weights = saved.weights() if hasattr(saved, "weights") else saved  # (the GPU's saved state recomputes P)
        ctx.save_for_backward(q, k, weights)
        ctx.scale, ctx.average = scale, average
        # A copy where P itself is returned: the attention's backward reads the same memory.
        return weights.mean(axis=-3) if average else weights.copy()

    @staticmethod
    def backward(ctx, grad):
        q, k, weights = ctx.saved
        kernels = backend.for_arrays(grad)
        if ctx.average:
            grad = array_module(grad).broadcast_to(grad[..., None, :, :] / weights.shape[-3], weights.shape)
        scores_grad = kernels.softmax_backward(grad, weights, -1) * ctx.scale
        return kernels.matmul(scores_grad, k), kernels.matmul(scores_grad.swapaxes(-1, -2), q), None, None, None


class PackedSelfAttention(Function):
    """Self-attention from one packed projection: the fused op of MultiheadAttention's self-attention.

    qkv (N, T, 3E) holds the query, key and value projections side by side (as in_proj_weight stacks them), each
    E = heads * head_dim features split into heads; out (N, T, E) has the heads side by side again, ready for
    out_proj. The heads are strided views of qkv, so no split, transpose or concatenation becomes an op of its own
    (with their copies forward and backward): one node where the unfused layer has some twenty.

    forward:    q, k, v = the heads of qkv; out = attention(q, k, v) with the heads' outputs side by side
    derivative: Attention's, the heads' gradients dq, dk, dv packed side by side into dL/dqkv
    kernels:    attention_forward, attention_backward
    """

    @staticmethod
    def forward(ctx, qkv, mask, heads, scale):
        q, k, v = _packed_heads(qkv, heads)
        out, saved = backend.for_arrays(qkv, mask).attention_forward(q, k, v, mask, scale)
        ctx.save_for_backward(qkv, saved, mask)
        ctx.heads, ctx.scale = heads, scale
        n, length, width = qkv.shape
        return out.swapaxes(-3, -2).reshape(n, length, width // 3)

    @staticmethod
    def backward(ctx, grad):
        qkv, saved, mask = ctx.saved
        n, length, width = qkv.shape
        heads_grad = grad.reshape(n, length, ctx.heads, -1).swapaxes(1, 2)
        q, k, v = _packed_heads(qkv, ctx.heads)
        grads = backend.for_arrays(grad).attention_backward(heads_grad, q, k, v, saved, mask, ctx.scale)
        return _side_by_side(grads, (n, length, 3, ctx.heads, width // (3 * ctx.heads))), None, None, None


def _side_by_side(grads: tuple, packed_shape: tuple):
    """dq, dk, dv (N, H, T, n) as one (N, T, 3 * H * n) array, packed_shape (N, T, 3, H, n): the array the three
    are views of, where the kernel made them side by side (numba's does), else a copy of them put so."""
    packed = grads[0].base
    if isinstance(packed, np.ndarray) and packed.size == math.prod(packed_shape) and packed.flags.c_contiguous:
        packed = packed.reshape(packed_shape)
        if all(_same_view(g, packed[:, :, which].swapaxes(1, 2)) for which, g in enumerate(grads)):
            return packed.reshape(*packed_shape[:2], -1)
    packed = array_module(grads[0]).empty(packed_shape, grads[0].dtype)
    for which, g in enumerate(grads):
        packed[:, :, which] = g.swapaxes(1, 2)
    return packed.reshape(*packed_shape[:2], -1)


def _same_view(a, b) -> bool:
    """Whether NumPy arrays a and b are the same numbers of the same memory."""
    same_start = a.__array_interface__["data"][0] == b.__array_interface__["data"][0]
    return same_start and a.shape == b.shape and a.strides == b.strides and a.dtype == b.dtype


def _packed_heads(qkv, heads: int) -> tuple:
    """The query, key and value heads of qkv (N, T, 3E): three strided views (N, heads, T, E / heads)."""
    n, length, width = qkv.shape
    parts = qkv.reshape(n, length, 3, heads, width // (3 * heads))
    return tuple(parts[:, :, which].swapaxes(1, 2) for which in range(3))


class MaskedSoftmax(Function):
    """Softmax over the last axis among the entries a bool mask allows (rows with none allowed: zeros).

    forward:    y_i = e^(x_i) / Σ_j e^(x_j) over the allowed j; 0 where masked
    derivative: dL/dx = y ⊙ (dL/dy - Σ_j dL/dy_j y_j) (0 where masked, since y = 0 there)
    kernels:    masked_softmax_forward, softmax_backward
    """

    @staticmethod
    def forward(ctx, scores, mask):
        probs = backend.for_arrays(scores, mask).masked_softmax_forward(scores, mask)
        ctx.save_for_backward(probs)
        return probs

    @staticmethod
    def backward(ctx, grad):
        (probs,) = ctx.saved
        return backend.for_arrays(grad).softmax_backward(grad, probs, -1), None


@autocast_op("scaled_dot_product_attention")
def scaled_dot_product_attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    attn_mask: Tensor | None = None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    scale: float | None = None,
    enable_gqa: bool = False,
) -> Tensor:
    """softmax(query key^T * scale + mask) value, as PyTorch's ``F.scaled_dot_product_attention``.

    query: (..., L, E), key: (..., S, E), value: (..., S, Ev) -> (..., L, Ev); leading axes broadcast.
    attn_mask: bool (True = may attend) or float (added to the scores), broadcastable to (..., L, S).
    is_causal: query i may attend to keys 0..i only (not with attn_mask: PyTorch refuses both; fold the
    causal mask into attn_mask instead).
    dropout_p: dropout on the attention weights (always applied when > 0: pass 0 in evaluation).
    scale: defaults to 1 / sqrt(E).
    enable_gqa: grouped-query attention: key and value may have fewer heads (axis -3) than query, each shared by
    a group of query heads.
    Without dropout this is one fused kernel; with it, the weights are computed, dropped, then applied.
    """
    if is_causal and attn_mask is not None:
        raise ArgumentError(
            "scaled_dot_product_attention: give attn_mask or is_causal=True, not both (as in PyTorch); "
            "fold the causal mask into attn_mask (tn.ones(L, S, dtype=tn.bool).tril() & attn_mask for a bool mask)"
        )
    if enable_gqa:
        key, value = _shared_heads(query, key), _shared_heads(query, value)
    query, key, value = _broadcast_batch("scaled_dot_product_attention", query, key, value)
    if scale is None and query.shape[-1] == 0:
        raise ShapeError(
            f"scaled_dot_product_attention: query {query.shape} has feature size 0, so the default scale "
            "1 / sqrt(E) is undefined; give queries and keys at least one feature (or pass scale=)"
        )
    scale = 1 / math.sqrt(query.shape[-1]) if scale is None else scale
    mask = _combined_mask("scaled_dot_product_attention", attn_mask, is_causal, query, key)
    if dropout_p == 0 and not (mask is not None and mask.requires_grad):
        return Attention.apply(query, key, value, None if mask is None else mask.array, scale)
    weights = _weights(query, key, mask, scale)
    return matmul(dropout(weights, dropout_p), value)


@autocast_op("scaled_dot_product_attention")
def packed_self_attention(qkv: Tensor, heads: int, attn_mask: Tensor | None = None, is_causal: bool = False) -> Tensor:
    """Self-attention of ``heads`` heads from the packed projections qkv, without dropout, scale 1 / sqrt(head_dim).

    qkv: (N, T, 3E), the query, key and value projections side by side, each E = heads * head_dim features
    split into heads; attn_mask: as in ``scaled_dot_product_attention`` (True = may attend, or float; it must
    not require a gradient), broadcastable to (N, heads, T, T) -> (N, T, E), the heads side by side. The same
    values as scaled_dot_product_attention on the split heads, as one op (MultiheadAttention's fast path).
    """
    n, length, width = qkv.shape
    if width % (3 * heads):
        raise ShapeError(f"packed_self_attention: qkv {qkv.shape} must end with 3 * heads * head_dim ({heads} heads)")
    head_dim = width // (3 * heads)
    if head_dim == 0:
        raise ShapeError(f"packed_self_attention: qkv {qkv.shape} leaves heads of no features")
    # A stand-in of the heads' shape (a broadcast zero: no memory), for the mask's checks and the causal mask.
    heads_shape = Tensor(array_module(qkv.array).broadcast_to(qkv.array.dtype.type(0), (n, heads, length, head_dim)))
    mask = _combined_mask("packed_self_attention", attn_mask, is_causal, heads_shape, heads_shape)
    if mask is not None and mask.requires_grad:
        raise ArgumentError("packed_self_attention: attn_mask must not require a gradient")
    return PackedSelfAttention.apply(qkv, None if mask is None else mask.array, heads, 1 / math.sqrt(head_dim))


@autocast_op("scaled_dot_product_attention")
def attention_with_weights(
    query: Tensor, key: Tensor, value: Tensor, mask: Tensor | None, average: bool
) -> tuple[Tensor, Tensor]:
    """(out, weights) of scaled dot-product attention (scale 1 / sqrt(E)) from one fused kernel, without dropout.

    query: (N, H, L, E), key: (N, H, S, E), value: (N, H, S, Ev); mask: bool (True = may attend) or float, not
    requiring a gradient -> out (N, H, L, Ev) and the weights, (N, L, S) averaged over the heads where ``average``,
    else (N, H, L, S). MultiheadAttention's need_weights path: the same values as scaled_dot_product_attention and
    attention_weights, one kernel instead of the products and softmax of the weights on their own.
    """
    arrays, mask_array = (query.array, key.array, value.array), None if mask is None else mask.array
    scale = 1 / math.sqrt(query.shape[-1])
    computed = backend.for_arrays(*arrays, mask_array).attention_forward(*arrays, mask_array, scale)
    out = Attention.apply(query, key, value, mask_array, scale, computed=computed)
    return out, AttentionWeights.apply(query, key, computed[1], scale, average)


def attention_weights(
    query: Tensor,
    key: Tensor,
    attn_mask: Tensor | None = None,
    is_causal: bool = False,
    scale: float | None = None,
) -> Tensor:
    """The attention weights softmax(query key^T * scale + mask) alone, differentiable (to look at them).

    query: (..., L, E), key: (..., S, E) -> (..., L, S), each row summing to 1 (or 0 where fully masked).
    Masks and scale as in ``scaled_dot_product_attention``.
    """
    query, key = _broadcast_batch("attention_weights", query, key)
    if scale is None and query.shape[-1] == 0:
        raise ShapeError(
            f"scaled_dot_product_attention: query {query.shape} has feature size 0, so the default scale "
            "1 / sqrt(E) is undefined; give queries and keys at least one feature (or pass scale=)"
        )
    scale = 1 / math.sqrt(query.shape[-1]) if scale is None else scale
    return _weights(query, key, _combined_mask("attention_weights", attn_mask, is_causal, query, key), scale)


def _weights(query: Tensor, key: Tensor, mask: Tensor | None, scale: float) -> Tensor:
    scores = matmul(query, transpose(key, -2, -1))
    scores = scores if scale == 1 else scores * scale
    if mask is not None and mask.dtype != np.bool_:
        scores, mask = scores + mask, None
    return MaskedSoftmax.apply(scores, None if mask is None else mask.array)


def _shared_heads(query: Tensor, key_or_value: Tensor) -> Tensor:
    """Grouped-query attention: key_or_value's heads (axis -3) repeated so that each serves its group of query
    heads, as PyTorch's enable_gqa does."""
    if query.ndim < 3 or key_or_value.ndim < 3:
        return key_or_value
    heads, shared = query.shape[-3], key_or_value.shape[-3]
    if heads % shared:
        raise ShapeError(
            f"scaled_dot_product_attention: with enable_gqa, the query's {heads} heads must be a multiple of the "
            f"key's and value's {shared}"
        )
    return repeat_interleave(key_or_value, heads // shared, dim=-3) if heads != shared else key_or_value


def _broadcast_batch(op: str, query: Tensor, *others: Tensor) -> list[Tensor]:
    """Check the attention shapes, and broadcast the leading (batch, head) axes of every input alike."""
    names = ("query", "key", "value")
    tensors = (query, *others)
    for name, t in zip(names, tensors):
        if t.ndim < 2:
            raise ShapeError(f"{op}: {name} must have shape (..., length, features), got {t.shape}")
    key = others[0]
    if query.shape[-1] != key.shape[-1]:
        raise ShapeError(f"{op}: query {query.shape} and key {key.shape} must have the same feature size (last axis)")
    if len(others) == 2 and others[1].shape[-2] != key.shape[-2]:
        raise ShapeError(
            f"{op}: key {key.shape} and value {others[1].shape} must have the same length (second-to-last axis)"
        )
    try:
        batch = np.broadcast_shapes(*(t.shape[:-2] for t in tensors))
    except ValueError:
        shapes = ", ".join(f"{n} {t.shape}" for n, t in zip(names, tensors))
        raise ShapeError(f"{op}: the leading (batch) axes of {shapes} cannot broadcast") from None
    return [t if t.shape[:-2] == batch else broadcast_to(t, batch + t.shape[-2:]) for t in tensors]


def _combined_mask(op: str, attn_mask, is_causal: bool, query: Tensor, key: Tensor) -> Tensor | None:
    """attn_mask and the causal mask as one mask (bool: True = may attend, or float: added), or None."""
    length, source = query.shape[-2], key.shape[-2]
    scores_shape = (*query.shape[:-1], source)
    if attn_mask is not None:
        attn_mask = attn_mask if isinstance(attn_mask, Tensor) else tensor(attn_mask)
        if attn_mask.dtype != np.bool_ and attn_mask.dtype.kind != "f":
            raise DTypeError(f"{op}: attn_mask must be bool (True = may attend) or float, got {attn_mask.dtype}")
        try:
            fits = np.broadcast_shapes(attn_mask.shape, scores_shape) == scores_shape
        except ValueError:
            fits = False
        if not fits:
            raise ShapeError(
                f"{op}: attn_mask of shape {attn_mask.shape} does not broadcast to the scores (..., L, S) "
                f"= {scores_shape}"
            )
    if not is_causal:
        return attn_mask
    # Query i sees keys 0..i (aligned at the top left, as in PyTorch, also when L != S).
    xp = backend.for_arrays(query.array).xp  # the mask lives on the query's device
    causal = xp.tril(xp.ones((length, source), dtype=bool))
    if attn_mask is None:
        return Tensor(causal)
    if attn_mask.dtype == np.bool_:
        return Tensor(attn_mask.array & causal)
    return where(causal, attn_mask, -math.inf)
