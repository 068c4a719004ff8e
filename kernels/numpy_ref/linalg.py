"""Matrix products: the one kernel every layer ends in."""

from kernels.numpy_ref.common import array_module


def matmul(a, b):
    """Batched matrix product.

    a: (..., n, k), b: (..., k, m) -> (..., n, m); the batch dimensions broadcast.
    """
    return array_module(a, b).matmul(a, b)
