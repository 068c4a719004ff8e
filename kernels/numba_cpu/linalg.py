"""Matrix products: matmul, with batches of equal shape run in parallel, one BLAS call per matrix."""

import numpy as np

from kernels.numba_cpu.common import FLOATS, numba, threaded, warms_up, with_one_blas_thread


@threaded()
def _batched_matmul(a, b, out):
    """out[i] = a[i] @ b[i], matrices in parallel, one BLAS call each. a: (B, n, k), b: (B, k, m), out: (B, n, m)."""
    for i in numba.prange(out.shape[0]):
        np.dot(a[i], b[i], out[i])
    return out


# run_kernel counts work in nanoseconds on one thread; BLAS does about 50 float32 multiply-adds per nanosecond
# on one core (100 GFLOP/s), so products under about 2.5 million multiply-adds run on one thread.
BLAS_MACS_PER_NS = 50


@threaded()
def _matmul_rows(a, b, out, blocks):
    """out = a @ b, a block of rows per thread, one BLAS call each. a: (n, k) C-contiguous, b: (k, m), out: (n, m)."""
    n = a.shape[0]
    for t in numba.prange(blocks):
        start, stop = t * n // blocks, (t + 1) * n // blocks
        np.dot(a[start:stop], b, out[start:stop])
    return out


@threaded()
def _matmul_transposed(x, b, partial, blocks):
    """partial[t] = x[rows]^T @ b[rows] for block t of the k rows; x^T @ b = partial.sum(0) (a weight gradient:
    the sum over the batch). x: (k, n) and b: (k, m) C-contiguous, partial: (blocks, n, m)."""
    k = x.shape[0]
    for t in numba.prange(blocks):
        start, stop = t * k // blocks, (t + 1) * k // blocks
        np.dot(x[start:stop].T, b[start:stop], partial[t])
    return partial


def matmul(a, b):
    """As numpy_ref.matmul, choosing among these ways by what was measured (2 cores, float32):

    - tiny products (under 1e5 multiply-adds), batches that broadcast and other dtypes: NumPy's matmul;
    - 2-D products: a block of rows per numba thread, one single-threaded BLAS call each. NumPy's BLAS splits
      one product as well, but its threads keep spinning for a while after each call, on the cores numba's
      threads are pinned to (placement.py): lesson 08's CNN step (linear layers between convolutions) took
      2.7x PyTorch's time with NumPy's matmul, 1.1x this way;
      a batch times one matrix (a linear layer on (..., n, k)) is folded into one (batch * n, k) @ (k, m)
      product first, 1.5x faster than NumPy's matrix-by-matrix loop on (8, 100, 64) @ (64, 64);
      a transposed operand (x^T @ grad, a weight gradient) is split along the sum instead, each thread adding
      up its block of rows: copying x^T to rows first took 3 of the 19 ms of a transformer LM step;
    - batches of equal shape: numba runs the matrices in parallel, one single-threaded BLAS call each,
      1.3 to 2x faster than NumPy on (32, 50, 16) @ (32, 16, 50) or (64, 100, 64) @ (64, 64, 100).
    """
    floats = a.dtype == b.dtype and a.dtype in FLOATS
    if floats and a.ndim == 1 and b.ndim == 2:  # a vector times a matrix: one row
        return matmul(a[None], b)[0]
    if not floats or a.size * b.shape[-1] < 1e5:  # a.size * m: the multiply-adds when a holds every batch
        return np.matmul(a, b)
    if a.ndim == 2 and b.ndim == 2 and a.T.flags.c_contiguous and not a.flags.c_contiguous:
        x, b = a.T, np.ascontiguousarray(b)
        blocks, work = min(numba.get_num_threads(), x.shape[0]), x.size * b.shape[1] // BLAS_MACS_PER_NS
        partial = np.empty((blocks, x.shape[1], b.shape[1]), a.dtype)
        product = with_one_blas_thread(_matmul_transposed, x, b, partial, blocks, work=work)
        return product[0] if blocks == 1 else product.sum(axis=0)
    if a.ndim >= 2 and b.ndim == 2:
        rows = np.ascontiguousarray(a).reshape(-1, a.shape[-1])
        b = b if b.flags.c_contiguous or b.flags.f_contiguous else np.ascontiguousarray(b)
        out = np.empty((rows.shape[0], b.shape[1]), a.dtype)
        blocks, work = min(numba.get_num_threads(), rows.shape[0]), rows.size * b.shape[1] // BLAS_MACS_PER_NS
        product = with_one_blas_thread(_matmul_rows, rows, b, out, blocks, work=work)
        return product.reshape(*a.shape[:-1], b.shape[-1])
    if a.ndim == 2 or b.ndim < 2:
        return np.matmul(a, b)
    if a.shape[:-2] == b.shape[:-2]:
        a3, b3 = (np.ascontiguousarray(t).reshape(-1, *t.shape[-2:]) for t in (a, b))
        out = np.empty((a3.shape[0], a3.shape[1], b3.shape[2]), a.dtype)
        return with_one_blas_thread(_batched_matmul, a3, b3, out).reshape(*a.shape[:-1], b.shape[-1])
    return np.matmul(a, b)


@warms_up
def warm_up(dtype: np.dtype) -> None:
    """Compile the batched product for dtype (see common.warms_up)."""
    matmul(np.ones((2, 64, 40), dtype), np.ones((2, 40, 40), dtype))  # big enough for numba's batched product
    a = np.ones((64, 64), dtype)
    matmul(a, a)
    matmul(a, a.T)  # b F-contiguous: the weight of a linear layer
    matmul(a.T, a)  # a transposed: a weight gradient
