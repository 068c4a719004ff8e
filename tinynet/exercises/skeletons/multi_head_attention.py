"""Exercise `multi_head_attention` (lesson 12_attention): a multi-head attention module, batch first.

Attention in `num_heads` heads of head_dim = embed_dim / num_heads features each: the query, key and value are
projected (one (E, E) slice of in_proj_weight each), split into heads, attended head by head, merged back and
projected once more by out_proj. The parameters are given, stored as nn.MultiheadAttention stores them:

    in_proj_weight (3E, E): the query, key and value projections stacked (rows 0..E-1, E..2E-1, 2E..3E-1)
    in_proj_bias (3E,), out_proj: nn.Linear(E, E)

    q = query @ W_qᵀ + b_q                (N, L, E)    k, v likewise from key, value: (N, S, E)
    q -> split_heads -> (N, heads, L, head_dim): head h holds features h*head_dim .. (h+1)*head_dim - 1
    weights = softmax(q kᵀ / sqrt(head_dim)) over the keys          (N, heads, L, S)
    out = out_proj(merge_heads(weights @ v))                        (N, L, E)

forward returns (out, the weights averaged over the heads (N, L, S)), or (out, None) when need_weights=False,
as nn.MultiheadAttention(embed_dim, num_heads, batch_first=True) does.
Then: tinynet exercises check multi_head_attention
"""

import math

import tinynet as tn
import tinynet.nn.functional as F
from tinynet import Tensor, nn


class MultiheadAttention(nn.Module):
    def __init__(self, embed_dim: int, num_heads: int, bias: bool = True) -> None:
        super().__init__()
        assert embed_dim % num_heads == 0, "embed_dim must split evenly into the heads"
        self.embed_dim, self.num_heads, self.head_dim = embed_dim, num_heads, embed_dim // num_heads
        self.in_proj_weight = nn.Parameter(tn.empty(3 * embed_dim, embed_dim))
        self.in_proj_bias = nn.Parameter(tn.zeros(3 * embed_dim)) if bias else None
        self.out_proj = nn.Linear(embed_dim, embed_dim, bias=bias)
        nn.init.xavier_uniform_(self.in_proj_weight)

    def split_heads(self, x: Tensor) -> Tensor:
        """(N, T, E) -> (N, heads, T, head_dim): features h*head_dim .. (h+1)*head_dim - 1 of each position go to
        head h; every head keeps all T positions, in order."""
        # TODO: view the last axis as (heads, head_dim), then bring the heads axis before the positions.
        raise NotImplementedError("split_heads: (N, T, E) -> (N, heads, T, head_dim)")

    def merge_heads(self, x: Tensor) -> Tensor:
        """(N, heads, T, head_dim) -> (N, T, E): the inverse of split_heads."""
        # TODO: undo split_heads, step by step in reverse.
        raise NotImplementedError("merge_heads: (N, heads, T, head_dim) -> (N, T, E)")

    def forward(
        self, query: Tensor, key: Tensor, value: Tensor, need_weights: bool = True
    ) -> tuple[Tensor, Tensor | None]:
        """query (N, L, E), key and value (N, S, E) -> (out (N, L, E), weights (N, L, S) or None)."""
        # TODO: project query, key and value with their slices of in_proj_weight and in_proj_bias (F.linear),
        # split_heads, the scaled scores and their softmax over the keys, times v, merge_heads, out_proj.
        raise NotImplementedError("forward: project, split into heads, attend, merge, out_proj")
