"""Dropout's random masks, from a counter-based hash: value i of a mask is kept or dropped by a hash of i and the
mask's key (two 32-bit numbers that tinynet's generator draws for it), so every backend, and any split of the values
over threads, makes the same mask from the same key, and no generator state passes from value to value.

The hash is Chris Wellons's lowbias32 (xor-shift, multiply, xor-shift, multiply, xor-shift on 32 bits), applied
twice: to i ^ key[0], then to that ^ key[1]. Each round is a bijection of the 32-bit numbers that mixes every input
bit into every output bit; two keyed rounds make each key's mask its own permutation of the counters, not a shifted
copy of another key's.
"""

import numpy as np

from kernels.numpy_ref.common import array_module

MULTIPLIERS = (0x7FEB352D, 0x846CA68B)


def _lowbias32(h):
    """Wellons's lowbias32 of each uint32 in h (a new array; uint32 products wrap, as the hash wants)."""
    h = h ^ (h >> 16)
    h = h * np.uint32(MULTIPLIERS[0])
    h = h ^ (h >> 15)
    h = h * np.uint32(MULTIPLIERS[1])
    return h ^ (h >> 16)


def keep_threshold(p: float) -> int:
    """The hash value from which a value is kept: it is kept with probability (2^32 - threshold) / 2^32, 1 - p
    within 2^-32. p in [0, 1); at p = 1 nothing is kept."""
    return min(int(np.ceil(p * 2**32)), 2**32 - 1)


def dropout_mask(like, shape, key, p):
    """A dropout mask: 1 / (1 - p) where a value is kept, 0 where it is dropped (everywhere at p = 1).

    like: an array whose dtype and array module the mask takes; shape: the mask's shape; key: (2,) uint32, from
    tinynet's generator; p: the probability of dropping -> (shape) of like's dtype. Value i (in C order) is kept
    where lowbias32(lowbias32(i ^ key[0]) ^ key[1]) >= keep_threshold(p).
    """
    xp = array_module(like)
    if p >= 1:
        return xp.zeros(shape, like.dtype)
    counters = xp.arange(int(np.prod(shape)), dtype=xp.uint32)
    h = _lowbias32(_lowbias32(counters ^ np.uint32(key[0])) ^ np.uint32(key[1]))
    keep = h >= np.uint32(keep_threshold(p))
    return (keep * (1 / (1 - p))).astype(like.dtype).reshape(shape)
