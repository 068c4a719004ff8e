"""Dropout's random masks (see numpy_ref.dropout: a keyed counter hash), written on numba's threads.

NumPy's generator drew 2.5-4 ns a value on one thread (the reference before the hash: a float64 uniform a value,
compared with p): a (32, 4, 64, 64) attention's dropout took 2.4 ms, a fifth of a 2-layer transformer's step.
"""

import numpy as np

from kernels import numpy_ref
from kernels.numba_cpu.common import CHEAP, FLOATS, range_kernel, run_range, warms_up
from kernels.numpy_ref.dropout import MULTIPLIERS, keep_threshold

_FIRST, _SECOND = np.uint32(MULTIPLIERS[0]), np.uint32(MULTIPLIERS[1])


@range_kernel()
def _dropout_mask(start, stop, key, threshold, scale, mask):
    zero = mask.dtype.type(0)
    for i in range(start, stop):
        h = np.uint32(i) ^ key[0]
        for round_ in range(2):  # lowbias32, keyed twice (numba widens uint32 products: each is cut back)
            h ^= h >> np.uint32(16)
            h = np.uint32(h * _FIRST)
            h ^= h >> np.uint32(15)
            h = np.uint32(h * _SECOND)
            h ^= h >> np.uint32(16)
            if round_ == 0:
                h ^= key[1]
        mask[i] = scale if h >= threshold else zero


def dropout_mask(like, shape, key, p):
    """As numpy_ref.dropout_mask: a mask of ``shape`` in like's dtype, 1 / (1 - p) where kept, 0 where dropped."""
    if like.dtype not in FLOATS or p >= 1:
        return numpy_ref.dropout_mask(like, shape, key, p)
    mask = np.empty(shape, like.dtype)
    flat = mask.reshape(-1)
    key = np.asarray(key, np.uint32)
    threshold, scale = np.uint32(keep_threshold(p)), like.dtype.type(1 / (1 - p))
    run_range(_dropout_mask, CHEAP * flat.size, flat.size, key, threshold, scale, flat)
    return mask


@warms_up
def warm_up(dtype: np.dtype) -> None:
    """Compile the mask's kernel for ``dtype``."""
    dropout_mask(np.empty(0, dtype), (3, 4), np.array([1, 2], np.uint32), 0.5)
