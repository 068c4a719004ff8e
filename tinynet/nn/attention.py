"""Attention layers: MultiheadAttention (PyTorch's, parameter for parameter) and PositionalEncoding.

Mask conventions follow PyTorch, and they differ between layers and functions: here, in the module's
``attn_mask`` and ``key_padding_mask``, a bool True means "may NOT attend" (masked out), while in
``F.scaled_dot_product_attention`` a bool True means "may attend". Float masks are added to the scores
in both (-inf = may not attend).
"""

from __future__ import annotations

import math

import numpy as np

from kernels.numpy_ref import array_module
from tinynet.autograd import watchers
from tinynet.errors import ArgumentError, DTypeError, ShapeError
from tinynet.functions.attention import (
    _combined_mask,
    attention_weights,
    attention_with_weights,
    packed_self_attention,
)
from tinynet.functions.linalg import matmul
from tinynet.functions.shape import reshape, transpose
from tinynet.nn import functional as F
from tinynet.nn import init
from tinynet.nn.dropout import Dropout
from tinynet.nn.layers import Linear
from tinynet.nn.module import Module, Parameter
from tinynet.tensor import Tensor, tensor, zeros


class MultiheadAttention(Module):
    """Attention in ``num_heads`` heads of embed_dim / num_heads features each, as ``torch.nn.MultiheadAttention``.

    query: (L, N, E), key and value: (S, N, E) ((N, L, E) and (N, S, E) when batch_first; (L, E) and
    (S, E) unbatched) -> (output shaped like query, weights (N, L, S) averaged over heads, or
    (N, num_heads, L, S), or None when need_weights is False).
    Parameters: in_proj_weight (3E, E) (the query, key and value projections stacked), in_proj_bias (3E,),
    out_proj (Linear E -> E): 4 E^2 + 4 E numbers with bias. Initialised as PyTorch: Xavier-uniform
    in_proj_weight, zero biases, out_proj.weight as any Linear.
    """

    def __init__(
        self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True, batch_first: bool = False
    ) -> None:
        super().__init__()
        if num_heads <= 0 or embed_dim % num_heads:
            raise ArgumentError(
                f"MultiheadAttention: embed_dim {embed_dim} must split evenly into num_heads {num_heads} heads"
            )
        self.embed_dim, self.num_heads, self.head_dim = embed_dim, num_heads, embed_dim // num_heads
        self.dropout, self.batch_first = dropout, batch_first
        self.in_proj_weight = Parameter(zeros(3 * embed_dim, embed_dim))
        self.in_proj_bias = Parameter(zeros(3 * embed_dim)) if bias else None
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias)
        init.xavier_uniform_(self.in_proj_weight)
        if bias:
            init.zeros_(self.out_proj.bias)

    def extra_repr(self) -> str:
        return (
            f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, dropout={self.dropout}, "
            f"batch_first={self.batch_first}"
        )

    def forward(
        self,
        query: Tensor,
        key: Tensor,
        value: Tensor,
        key_padding_mask: Tensor | None = None,
        need_weights: bool = True,
        attn_mask: Tensor | None = None,
        average_attn_weights: bool = True,
        is_causal: bool = False,
    ) -> tuple[Tensor, Tensor | None]:
        """Attend from each query position to the key positions, mixing the values.

        key_padding_mask: (N, S), True = that key is padding, ignore it (or float, added).
        attn_mask: (L, S) or (N * num_heads, L, S), True = may NOT attend (or float, added).
        is_causal: position i attends to 0..i only (combined with attn_mask when both are given).
        need_weights: also return the attention weights (after dropout, as PyTorch); False is faster.
        """
        batched = self._check_inputs(query, key, value)
        # Self-attention (one tensor as query, key and value) without weights or dropout: one projection by the
        # whole in_proj_weight and one fused attention op on it (packed_self_attention), instead of three
        # projections, the head splits and their copies; the same values. Not while op watchers run (the ONNX
        # exporter, trace, detect_anomaly): they know the separate ops, which give the same values.
        self_attention = query is key and key is value and not need_weights and not watchers()
        masks_need_grad = any(isinstance(m, Tensor) and m.requires_grad for m in (attn_mask, key_padding_mask))
        if self_attention and (self.dropout == 0 or not self.training) and not masks_need_grad:
            return self._packed_self_attention(query, batched, key_padding_mask, attn_mask, is_causal), None
        if key_padding_mask is not None:
            key_padding_mask = _as_mask(self._name(), "key_padding_mask", key_padding_mask)
        if not batched:  # one sequence: a batch of one, batch first
            query, key, value = (reshape(t, 1, *t.shape) for t in (query, key, value))
            if key_padding_mask is not None:
                key_padding_mask = reshape(key_padding_mask, 1, *key_padding_mask.shape)
        elif not self.batch_first:
            query, key, value = (transpose(t, 0, 1) for t in (query, key, value))
        n, length, source = query.shape[0], query.shape[1], key.shape[1]
        q, k, v = (self._heads(t, i) for i, t in enumerate((query, key, value)))
        mask = self._merged_mask(attn_mask, key_padding_mask, n, length, source, q.dtype)
        dropout_p = self.dropout if self.training else 0.0
        fused = dropout_p == 0 and not watchers() and not (isinstance(mask, Tensor) and mask.requires_grad)
        if need_weights and fused:  # out and the weights from one kernel (not while watchers look: as above)
            causal_and_mask = _combined_mask("MultiheadAttention", mask, is_causal, q, k)
            out, weights = attention_with_weights(q, k, v, causal_and_mask, average_attn_weights)
        elif need_weights:  # the queries scaled, not the (L, S) scores: PyTorch's order, and fewer numbers
            scaled = q * math.sqrt(1.0 / self.head_dim)
            weights = F.dropout(attention_weights(scaled, k, mask, is_causal, scale=1.0), dropout_p)
            out = matmul(weights, v)
            if average_attn_weights:
                weights = weights.mean(1)
        else:
            weights = None
            causal_and_mask = _combined_mask("MultiheadAttention", mask, is_causal, q, k)
            out = F.scaled_dot_product_attention(q, k, v, causal_and_mask, dropout_p)
        out = self.out_proj(reshape(transpose(out, 1, 2), n, length, self.embed_dim))
        if not batched:  # drop the batch of one again
            out = reshape(out, *out.shape[1:])
            weights = None if weights is None else reshape(weights, *weights.shape[1:])
        elif not self.batch_first:
            out = transpose(out, 0, 1)
        return out, weights

    def _packed_self_attention(self, x: Tensor, batched: bool, key_padding_mask, attn_mask, is_causal: bool) -> Tensor:
        """forward's output for query = key = value = x, from one projection and one fused attention op."""
        if key_padding_mask is not None:
            key_padding_mask = _as_mask(self._name(), "key_padding_mask", key_padding_mask)
        if not batched:
            x = reshape(x, 1, *x.shape)
            if key_padding_mask is not None:
                key_padding_mask = reshape(key_padding_mask, 1, *key_padding_mask.shape)
        elif not self.batch_first:
            x = transpose(x, 0, 1)
        n, length = x.shape[0], x.shape[1]
        mask = self._merged_mask(attn_mask, key_padding_mask, n, length, length, x.dtype)
        qkv = F.linear(x, self.in_proj_weight, self.in_proj_bias)
        out = self.out_proj(packed_self_attention(qkv, self.num_heads, mask, is_causal))
        if not batched:
            return reshape(out, *out.shape[1:])
        return out if self.batch_first else transpose(out, 0, 1)

    def _name(self) -> str:
        return f"MultiheadAttention(embed_dim={self.embed_dim}, num_heads={self.num_heads})"

    def _heads(self, x: Tensor, which: int) -> Tensor:
        """Project x (N, T, E) with slice ``which`` (0 query, 1 key, 2 value) of in_proj -> (N, heads, T, head_dim)."""
        rows = slice(which * self.embed_dim, (which + 1) * self.embed_dim)
        bias = None if self.in_proj_bias is None else self.in_proj_bias[rows]
        projected = F.linear(x, self.in_proj_weight[rows], bias)
        return transpose(reshape(projected, x.shape[0], x.shape[1], self.num_heads, self.head_dim), 1, 2)

    def _check_inputs(self, query: Tensor, key: Tensor, value: Tensor) -> bool:
        """Whether the inputs are batched; a ShapeError naming the shapes if they do not fit."""
        name = self._name()
        layout = "(N, L, E)" if self.batch_first else "(L, N, E)"
        shapes = f"query {query.shape}, key {key.shape}, value {value.shape}"
        if query.ndim not in (2, 3) or key.ndim != query.ndim or value.ndim != query.ndim:
            raise ShapeError(f"{name}: expected query, key, value all {layout} or all unbatched (L, E); got {shapes}")
        if any(t.shape[-1] != self.embed_dim for t in (query, key, value)):
            raise ShapeError(f"{name}: the last axis of query, key and value must be {self.embed_dim}; got {shapes}")
        if key.shape != value.shape:
            raise ShapeError(f"{name}: key and value must have the same shape; got {shapes}")
        batch_axis = 0 if self.batch_first else 1
        if query.ndim == 3 and query.shape[batch_axis] != key.shape[batch_axis]:
            raise ShapeError(f"{name}: query and key must have the same batch size (layout {layout}); got {shapes}")
        return query.ndim == 3

    def _merged_mask(self, attn_mask, key_padding_mask, n: int, length: int, source: int, dtype) -> Tensor | None:
        """attn_mask and key_padding_mask (True = masked out) as one scaled_dot_product_attention mask.

        The result broadcasts to (N, heads, L, S) and follows that function's convention: bool True =
        may attend, or float, added to the scores, when either mask is float.
        """
        name = self._name()
        masks = []
        if attn_mask is not None:
            attn_mask = _as_mask(name, "attn_mask", attn_mask)
            if attn_mask.shape == (n * self.num_heads, length, source):
                attn_mask = attn_mask.reshape(n, self.num_heads, length, source)
            elif attn_mask.shape != (length, source):
                raise ShapeError(
                    f"{name}: attn_mask must have shape (L, S) = {(length, source)} or (N * num_heads, L, S) = "
                    f"{(n * self.num_heads, length, source)}; got {attn_mask.shape}"
                )
            masks.append(attn_mask)
        if key_padding_mask is not None:
            if key_padding_mask.shape != (n, source):
                raise ShapeError(
                    f"{name}: key_padding_mask must have shape (N, S) = {(n, source)}; got {key_padding_mask.shape}"
                )
            masks.append(key_padding_mask.reshape(n, 1, 1, source))
        if not masks:
            return None
        xp = array_module(masks[0].array)
        if all(m.dtype == np.bool_ for m in masks):
            blocked = masks[0].array if len(masks) == 1 else masks[0].array | masks[1].array
            return Tensor(~blocked)
        # Some mask is float: turn the bool ones into 0 / -inf and add them all up.
        total = None
        for m in masks:
            if m.dtype == np.bool_:
                m = Tensor(xp.where(m.array, -math.inf, 0).astype(dtype))
            total = m if total is None else total + m
        return total


def _as_mask(module: str, name: str, mask) -> Tensor:
    mask = mask if isinstance(mask, Tensor) else tensor(mask)
    if mask.dtype != np.bool_ and mask.dtype.kind != "f":
        raise DTypeError(f"{module}: {name} must be bool (True = masked out) or float (added), got {mask.dtype}")
    return mask


class PositionalEncoding(Module):
    """Add the sinusoidal position code of "Attention Is All You Need", then dropout. x: (N, T, d) -> (N, T, d).

    PE[pos, 2i] = sin(pos / 10000^(2i/d)), PE[pos, 2i+1] = cos(pos / 10000^(2i/d)): each pair of features
    turns at its own frequency, so every position up to ``max_len`` gets a distinct code, and the code
    of pos + k is a fixed linear function of the code of pos. Kept as the buffer ``pe`` (max_len, d).
    """

    def __init__(self, d_model: int, max_len: int = 5000, dropout: float = 0.0) -> None:
        super().__init__()
        self.d_model, self.max_len = d_model, max_len
        position = np.arange(max_len)[:, None]
        angle = position / 10000 ** (np.arange(0, d_model, 2) / d_model)  # (max_len, ceil(d/2))
        pe = np.zeros((max_len, d_model))
        pe[:, 0::2] = np.sin(angle)
        pe[:, 1::2] = np.cos(angle[:, : d_model // 2])
        self.register_buffer("pe", tensor(pe))
        self.dropout = Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim < 2 or x.shape[-1] != self.d_model or x.shape[-2] > self.max_len:
            raise ShapeError(
                f"PositionalEncoding(d_model={self.d_model}, max_len={self.max_len}): expected input "
                f"(N, T, {self.d_model}) with T <= {self.max_len}, got {x.shape}"
            )
        return self.dropout(x + Tensor(self.pe.array[: x.shape[-2]].astype(x.dtype, copy=False)))

    def extra_repr(self) -> str:
        return f"d_model={self.d_model}, max_len={self.max_len}"
