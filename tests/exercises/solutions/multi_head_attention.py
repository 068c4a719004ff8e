"""Reference solution of exercise `multi_head_attention` (must pass every part)."""

import math

import tinynet as tn
import tinynet.nn.functional as F
from tinynet import nn


class MultiheadAttention(nn.Module):
    def __init__(self, embed_dim, num_heads, bias=True):
        super().__init__()
        assert embed_dim % num_heads == 0, "embed_dim must split evenly into the heads"
        self.embed_dim, self.num_heads, self.head_dim = embed_dim, num_heads, embed_dim // num_heads
        self.in_proj_weight = nn.Parameter(tn.empty(3 * embed_dim, embed_dim))
        self.in_proj_bias = nn.Parameter(tn.zeros(3 * embed_dim)) if bias else None
        self.out_proj = nn.Linear(embed_dim, embed_dim, bias=bias)
        nn.init.xavier_uniform_(self.in_proj_weight)

    def split_heads(self, x):
        n, t, _ = x.shape
        return x.reshape(n, t, self.num_heads, self.head_dim).transpose(1, 2)

    def merge_heads(self, x):
        n, _, t, _ = x.shape
        return x.transpose(1, 2).reshape(n, t, self.embed_dim)

    def forward(self, query, key, value, need_weights=True):
        E = self.embed_dim
        projected = []
        for i, x in enumerate((query, key, value)):
            bias = None if self.in_proj_bias is None else self.in_proj_bias[i * E : (i + 1) * E]
            projected.append(self.split_heads(F.linear(x, self.in_proj_weight[i * E : (i + 1) * E], bias)))
        q, k, v = projected
        scores = q @ k.transpose(-2, -1) / math.sqrt(self.head_dim)
        weights = scores.softmax(dim=-1)
        out = self.out_proj(self.merge_heads(weights @ v))
        return out, (weights.mean(dim=1) if need_weights else None)
