"""Exercise `attention` (lesson 12_attention): scaled dot-product attention with masks, from tinynet ops.

Each query asks every key how well it matches; the answers, softmax-ed over the keys, weight an average of the
values:

    scores  = query @ keyᵀ * scale          (..., L, S)     scale = 1 / sqrt(E) unless given (E: query's last axis)
    scores  = the masked scores (below)
    weights = softmax(scores) over the keys (the last axis: each query's weights sum to 1)
    out     = weights @ value               (..., L, Ev)

query: (..., L, E), key: (..., S, E), value: (..., S, Ev); the leading axes broadcast.
attn_mask, as in PyTorch's F.scaled_dot_product_attention, broadcastable to (..., L, S):
  bool: True = this query may attend to this key; where False the score becomes -inf, so its weight is 0;
  float: added to the scores.
is_causal=True (without attn_mask): query i may attend to keys 0..i only, the diagonal included.
Write it with tinynet ops (@, .transpose, .masked_fill, .softmax, .tril, ...) so that autograd gives the gradients.
Then: tinynet exercises check attention
"""

import math

import tinynet as tn
from tinynet import Tensor


def causal_mask(L: int, S: int) -> Tensor:
    """The bool (L, S) mask of is_causal: True where key j <= query i (on and below the diagonal)."""
    # TODO: a bool tensor of ones, keep its lower triangle (diagonal included).
    raise NotImplementedError("causal_mask: True on and below the diagonal of an (L, S) bool tensor")


def scaled_dot_product_attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    attn_mask: Tensor | None = None,
    is_causal: bool = False,
    scale: float | None = None,
) -> Tensor:
    """softmax(query keyᵀ * scale + mask) value: (..., L, E), (..., S, E), (..., S, Ev) -> (..., L, Ev)."""
    # TODO: the scores; is_causal -> attn_mask = causal_mask(L, S); apply a bool mask (masked_fill where it is
    # False) or add a float one; softmax over the keys; weights @ value.
    raise NotImplementedError("scaled_dot_product_attention: scores, mask, softmax over the keys, times value")
