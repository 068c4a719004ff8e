"""Naive NumPy references for the normalization, attention and transformer tests.

Written from the textbook formulas with plain loops over rows and queries, sharing no code with
tinynet, so that a test comparing the two can fail.
"""

import math

import numpy as np


def layer_norm(x, n_axes, weight=None, bias=None, eps=1e-5):
    """(x - mean) / sqrt(var + eps) * weight + bias over the last n_axes, biased variance, row by row."""
    features = x.shape[x.ndim - n_axes :]
    rows = x.reshape(-1, math.prod(features)).astype(np.float64)
    out = np.empty_like(rows)
    for i, row in enumerate(rows):
        mean = sum(row) / len(row)
        var = sum((v - mean) ** 2 for v in row) / len(row)
        out[i] = (row - mean) / math.sqrt(var + eps)
    out = out.reshape(x.shape)
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out


def attention(q, k, v, allowed, scale):
    """Scaled dot-product attention, one query at a time.

    q: (B, L, E), k: (B, S, E), v: (B, S, Ev), allowed: bool (B, L, S), True = may attend
    -> out (B, L, Ev), weights (B, L, S); a query allowed no key gets zeros.
    """
    batch, length, source = q.shape[0], q.shape[1], k.shape[1]
    out = np.zeros((batch, length, v.shape[2]))
    weights = np.zeros((batch, length, source))
    for b in range(batch):
        for i in range(length):
            keys = [j for j in range(source) if allowed[b, i, j]]
            if not keys:
                continue
            scores = {j: float(np.dot(q[b, i], k[b, j])) * scale for j in keys}
            top = max(scores.values())
            total = sum(math.exp(s - top) for s in scores.values())
            for j in keys:
                weights[b, i, j] = math.exp(scores[j] - top) / total
                out[b, i] += weights[b, i, j] * v[b, j]
    return out, weights


def multihead_attention(params, query, key, value, num_heads, blocked=None):
    """nn.MultiheadAttention, batch first, from its parameters (a dict of NumPy arrays by name).

    query: (N, L, E), key and value: (N, S, E), blocked: bool broadcastable to (N, heads, L, S) with
    True = may NOT attend (PyTorch's module convention) -> out (N, L, E), weights (N, heads, L, S).
    """
    n, length, embed = query.shape
    source, head_dim = key.shape[1], embed // num_heads
    w, b = params["in_proj_weight"], params["in_proj_bias"]
    projected = [
        x @ w[i * embed : (i + 1) * embed].T + b[i * embed : (i + 1) * embed] for i, x in enumerate((query, key, value))
    ]
    blocked = np.zeros((n, num_heads, length, source), bool) if blocked is None else blocked
    blocked = np.broadcast_to(blocked, (n, num_heads, length, source))
    heads, weights = [], np.zeros((n, num_heads, length, source))
    for h in range(num_heads):
        q, k, v = (p[:, :, h * head_dim : (h + 1) * head_dim] for p in projected)
        out, weights[:, h] = attention(q, k, v, ~blocked[:, h], 1 / math.sqrt(head_dim))
        heads.append(out)
    out = np.concatenate(heads, axis=-1) @ params["out_proj.weight"].T + params["out_proj.bias"]
    return out, weights


def _sub(params, prefix):
    return {name[len(prefix) :]: p for name, p in params.items() if name.startswith(prefix)}


def _norm(params, y, i):
    return layer_norm(y, 1, params[f"norm{i}.weight"], params[f"norm{i}.bias"])


def _feed_forward(params, y):
    hidden = np.maximum(y @ params["linear1.weight"].T + params["linear1.bias"], 0)  # ReLU
    return hidden @ params["linear2.weight"].T + params["linear2.bias"]


def encoder_layer(params, x, num_heads, norm_first, blocked=None):
    """nn.TransformerEncoderLayer (ReLU, no dropout), batch first, from its parameters by name."""

    def self_attention(y):
        return multihead_attention(_sub(params, "self_attn."), y, y, y, num_heads, blocked)[0]

    if norm_first:
        x = x + self_attention(_norm(params, x, 1))
        return x + _feed_forward(params, _norm(params, x, 2))
    x = _norm(params, x + self_attention(x), 1)
    return _norm(params, x + _feed_forward(params, x), 2)


def decoder_layer(params, x, memory, num_heads, norm_first, self_blocked=None, memory_blocked=None):
    """nn.TransformerDecoderLayer (ReLU, no dropout), batch first, from its parameters by name."""

    def self_attention(y):
        return multihead_attention(_sub(params, "self_attn."), y, y, y, num_heads, self_blocked)[0]

    def cross_attention(y):
        return multihead_attention(_sub(params, "multihead_attn."), y, memory, memory, num_heads, memory_blocked)[0]

    if norm_first:
        x = x + self_attention(_norm(params, x, 1))
        x = x + cross_attention(_norm(params, x, 2))
        return x + _feed_forward(params, _norm(params, x, 3))
    x = _norm(params, x + self_attention(x), 1)
    x = _norm(params, x + cross_attention(x), 2)
    return _norm(params, x + _feed_forward(params, x), 3)
