"""Dropout: during training, zero each value with probability p and scale the survivors by 1 / (1 - p).

The scaling ("inverted dropout") keeps every value's expected value unchanged, so evaluation needs
no correction: there dropout is simply the identity.
"""

from tinynet import backend
from tinynet.errors import ArgumentError
from tinynet.functions.elementwise import mul
from tinynet.random import generator
from tinynet.tensor import Tensor


def dropout(x: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """x * mask / (1 - p), mask 0 with probability p, drawn from tinynet's generator. x: any shape.

    Returns x itself when not training or p = 0; all zeros when p = 1. ``tn.manual_seed`` repeats the mask.
    """
    if not 0 <= p <= 1:
        raise ArgumentError(f"dropout: p is the probability of zeroing a value and must be in [0, 1], got {p}")
    if not training or p == 0:
        return x
    keep = generator().random(x.shape) >= p
    scale = 1 / (1 - p) if p < 1 else 0.0
    mask = backend.active().xp.asarray(keep * scale, dtype=x.dtype)
    return mul(x, Tensor(mask))
