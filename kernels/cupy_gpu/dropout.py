"""Dropout's masks (dropout.cu): the keyed counter hash of numpy_ref.dropout, one thread per value."""

import numpy as np

from kernels import numpy_ref
from kernels.cupy_gpu.common import C_TYPES, THREADS, blocks, cupy, launch
from kernels.numpy_ref.dropout import keep_threshold


def dropout_mask(like, shape, key, p):
    """As numpy_ref.dropout_mask: a mask of ``shape`` in like's dtype, 1 / (1 - p) where kept, 0 where dropped."""
    size = int(np.prod(shape))
    if like.dtype not in C_TYPES or p >= 1 or size == 0:
        return numpy_ref.dropout_mask(like, shape, key, p)
    mask = cupy.empty(shape, like.dtype)
    key = np.asarray(key, np.uint32)
    launch("dropout", "dropout_mask", like.dtype, (blocks(size),), (THREADS,),
           mask, size, int(key[0]), int(key[1]), keep_threshold(p), like.dtype.type(1 / (1 - p)))  # fmt: skip
    return mask
