"""Matrix products: matmul, with batches of equal shape run in parallel, one BLAS call per matrix."""

import numpy as np

from kernels.numba_cpu.common import numba, threaded, warms_up, with_one_blas_thread


@threaded()
def _batched_matmul(a, b, out):
    """out[i] = a[i] @ b[i], matrices in parallel, one BLAS call each. a: (B, n, k), b: (B, k, m), out: (B, n, m)."""
    for i in numba.prange(out.shape[0]):
        np.dot(a[i], b[i], out[i])
    return out


def matmul(a, b):
    """As numpy_ref.matmul, choosing between three ways by what was measured (2 cores, float32):

    - 2-D operands, tiny products (under 1e5 multiply-adds) and batches that broadcast: NumPy's matmul (BLAS,
      multi-threaded per matrix; nothing beats it on one big product or undercuts its overhead on tiny ones);
    - a batch times one matrix (a linear layer on (..., n, k)): folded into one (batch * n, k) @ (k, m) product,
      1.5x faster than NumPy's matrix-by-matrix loop on (8, 100, 64) @ (64, 64);
    - batches of equal shape: numba runs the matrices in parallel, one single-threaded BLAS call each,
      1.3 to 2x faster than NumPy on (32, 50, 16) @ (32, 16, 50) or (64, 100, 64) @ (64, 64, 100).
    """
    if a.ndim == 2 or a.size * b.shape[-1] < 1e5:  # a.size * m: the multiply-adds when a holds every batch
        return np.matmul(a, b)
    if b.ndim == 2:
        return (a.reshape(-1, a.shape[-1]) @ b).reshape(*a.shape[:-1], b.shape[-1])
    if a.shape[:-2] == b.shape[:-2] and a.dtype == b.dtype and a.dtype in (np.float32, np.float64):
        a3, b3 = (np.ascontiguousarray(t).reshape(-1, *t.shape[-2:]) for t in (a, b))
        out = np.empty((a3.shape[0], a3.shape[1], b3.shape[2]), a.dtype)
        return with_one_blas_thread(_batched_matmul, a3, b3, out).reshape(*a.shape[:-1], b.shape[-1])
    return np.matmul(a, b)


@warms_up
def warm_up(dtype: np.dtype) -> None:
    """Compile the batched product for dtype (see common.warms_up)."""
    matmul(np.ones((2, 64, 40), dtype), np.ones((2, 40, 40), dtype))  # big enough for numba's batched product
