"""A matrix product for operands that both run along the sum: c += a @ bt^T, 4 x 4 blocks of dot products.

Why not BLAS: numba's np.dot calls SciPy's OpenBLAS, and an environment may hold OpenBLAS to older kernels (this
machine's sets OPENBLAS_CORETYPE=Haswell: AVX2, 16 multiply-adds a cycle, on a CPU that does 32 with AVX-512).
Numba compiles for the CPU it runs on, so a loop it vectorizes uses the full vector width.

Why this form: each of a 4 x 4 block's 16 entries is a sum over k, kept in a local variable. LLVM vectorizes the
k loop with each sum as a vector register (a reduction), and every step of it loads 8 vectors for 16 fused
multiply-adds, so the loop runs at the multiply-add units' speed. Written the usual way (rows of c updated by
axpys) the partial sums live in memory, a load and a store per multiply-add (24-36 GMAC/s measured, against 53-59
for OpenBLAS's AVX2 kernels and 95 for this on the same products, one core, float32).
The sums are reordered (``fastmath`` reassoc), as any BLAS reorders them. Below some 200 terms a sum's
remainder after the last full vector runs one term at a time and costs as much as the rest; callers use
``dot_nt`` for long sums only (``LONG_SUM``).
"""

import functools

import numpy as np

from kernels.numba_cpu.common import numba, scipy_blas

# From this many terms per sum dot_nt beat OpenBLAS's AVX2 kernels on every product measured.
LONG_SUM = 192


def beats_blas(dtype) -> bool:
    """Whether tile.gemm and dot_nt should replace BLAS for products of ``dtype`` here: float32 (what was measured, and
    what models train in: float64 keeps the BLAS), on a CPU with AVX-512 that numba compiles for (has_avx512)."""
    return dtype == np.float32 and has_avx512()


def tiles_run(dtype) -> bool:
    """Whether the tiles run here for ``dtype`` (a NumPy dtype or a numba type): float32 on a CPU with AVX2 or
    AVX-512 that numba compiles for (their sizes follow its vectors: vector_floats). There they take small products
    (tile.small_dot: an attention head's, a convolution's of few output channels) and Winograd's convolutions, AVX2
    too, where OpenBLAS's AVX2 kernels took 1.2-1.7x their time on an attention head's products ((64, 64) @ (64, 16)
    24 GMAC/s against 40, (64, 16) @ (16, 64) 23 against 29; one core of the AMD EPYC of 2026-12-07), strided heads
    copied first besides."""
    if isinstance(dtype, numba.types.Type):
        dtype = numba.np.numpy_support.as_dtype(dtype)
    return dtype == np.float32 and vector_floats() > 0


def has_avx512() -> bool:
    """Whether numba compiles for this CPU and it has AVX-512: the tiles' 8 x 32 block of sums needs its 32 vector
    registers. There the tiles run as fast as OpenBLAS's own AVX-512 kernels (one core of the Intel Xeon of
    2026-12-06, SciPy's OpenBLAS SkylakeX, GMAC/s: (24, 75) @ (75, 512) 58 against 49, (32, 144) @ (144, 784) 58
    against 42, (2048, 64) @ (64, 192) 56 against 64, (60, 16) @ (16, 64) 50 against 68) and twice OpenBLAS's AVX2
    ones (OPENBLAS_CORETYPE=Haswell, the AMD EPYC of 2026-12-05), and they open the convolutions' in-place windows:
    conv2d (64, 16, 28, 28) * (32, 16, 3, 3) forward and backward 9.3 ms against 20 by BLAS on that Xeon. False in
    plain Python (the tiles are LLVM IR)."""
    return vector_floats() == 16


@functools.cache
def vector_floats() -> int:
    """How many float32 numbers a vector register holds on this CPU, as numba compiles for it: 16 with AVX-512, 8 with
    AVX2 and FMA (the tiles' sizes follow: tile.py), 0 with neither, in plain Python (NUMBA_DISABLE_JIT), or where
    numba compiles for a named CPU (NUMBA_CPU_NAME: code cached for other machines)."""
    from llvmlite import binding

    if numba.config.DISABLE_JIT or numba.config.CPU_NAME is not None:
        return 0
    features = binding.get_host_cpu_features()
    if features.get("avx512f"):
        return 16
    return 8 if features.get("avx2") and features.get("fma") else 0


@numba.njit(cache=True, fastmath={"reassoc", "contract"})
def dot_nt(a, bt, c):
    """c += a @ bt.T. a: (M, K), bt: (N, K), c: (M, N), each row contiguous."""
    m, n = c.shape
    m4, n4 = m - m % 4, n - n % 4
    for i in range(0, m4, 4):
        a0, a1, a2, a3 = a[i], a[i + 1], a[i + 2], a[i + 3]
        for j in range(0, n4, 4):
            _block(a0, a1, a2, a3, bt[j], bt[j + 1], bt[j + 2], bt[j + 3], c, i, j)
        for j in range(n4, n):
            for r in range(4):
                c[i + r, j] += _sum(a[i + r], bt[j])
    for i in range(m4, m):
        for j in range(n):
            c[i, j] += _sum(a[i], bt[j])


@numba.njit(cache=True, fastmath={"reassoc", "contract"}, inline="always")
def _block(a0, a1, a2, a3, b0, b1, b2, b3, c, i, j):
    """c[i:i+4, j:j+4] += the 16 dot products of rows a0..a3 with rows b0..b3."""
    zero = c.dtype.type(0)
    s00 = s01 = s02 = s03 = s10 = s11 = s12 = s13 = zero
    s20 = s21 = s22 = s23 = s30 = s31 = s32 = s33 = zero
    for k in range(a0.shape[0]):
        x0, x1, x2, x3 = a0[k], a1[k], a2[k], a3[k]
        y0, y1, y2, y3 = b0[k], b1[k], b2[k], b3[k]
        s00 += x0 * y0
        s01 += x0 * y1
        s02 += x0 * y2
        s03 += x0 * y3
        s10 += x1 * y0
        s11 += x1 * y1
        s12 += x1 * y2
        s13 += x1 * y3
        s20 += x2 * y0
        s21 += x2 * y1
        s22 += x2 * y2
        s23 += x2 * y3
        s30 += x3 * y0
        s31 += x3 * y1
        s32 += x3 * y2
        s33 += x3 * y3
    c[i, j] += s00
    c[i, j + 1] += s01
    c[i, j + 2] += s02
    c[i, j + 3] += s03
    c[i + 1, j] += s10
    c[i + 1, j + 1] += s11
    c[i + 1, j + 2] += s12
    c[i + 1, j + 3] += s13
    c[i + 2, j] += s20
    c[i + 2, j + 1] += s21
    c[i + 2, j + 2] += s22
    c[i + 2, j + 3] += s23
    c[i + 3, j] += s30
    c[i + 3, j + 1] += s31
    c[i + 3, j + 2] += s32
    c[i + 3, j + 3] += s33


@numba.njit(cache=True, fastmath={"reassoc", "contract"}, inline="always")
def _sum(x, y):
    """The dot product of two rows (the edges of dot_nt)."""
    total = x.dtype.type(0)
    for k in range(x.shape[0]):
        total += x[k] * y[k]
    return total


def products() -> str:
    """What `tinynet info` shows: whether tiles and dot_nt take the products, and the BLAS they are weighed against."""
    cores = ", ".join(sorted({str(getattr(lib, "architecture", "?")) for lib in scipy_blas()})) or "not known"
    if has_avx512():
        return (
            f"float32 products by tiles (tile.gemm), a convolution's weight gradient of few channels by dot_nt "
            f"(AVX-512 here; SciPy's OpenBLAS runs {cores} kernels)"
        )
    return f"BLAS (SciPy's OpenBLAS: {cores} kernels)"
