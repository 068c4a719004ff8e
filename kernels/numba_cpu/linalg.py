"""Matrix products: matmul and the linear layer's, with batches of equal shape run in parallel, each thread's
products taken by tile.gemm where it beats the BLAS (dot.beats_blas), else by one BLAS call each."""

import numpy as np

from kernels import numpy_ref
from kernels.numba_cpu.common import (
    CHEAP,
    FLOATS,
    LONG_WORK,
    SPLIT_WORK,
    limit_blas_threads,
    numba,
    range_kernel,
    run_range,
    same_floats,
    warms_up,
)
from kernels.numba_cpu.dot import LONG_SUM, beats_blas, tiles_run
from kernels.numba_cpu.tile import (
    WIDTH,
    add_bias,
    add_dot_nt,
    as_columns,
    blas_columns,
    dot,
    dot_plus_bias,
    gemm,
    times_transposed,
    transposed,
)


@range_kernel()
def _batched_matmul(start, stop, a, b, out, by_tiles, a_transposed, b_transposed, blocks):
    """out[i] = A_i @ B_i, matrices in parallel, by tiles or one BLAS call each. A_i is a[i], or a[i]^T where
    a_transposed, read where it lies (tiles and the BLAS take a left operand of any strides); B_i is b[i], or b[i]^T
    where b_transposed (by tiles on b[i] transposed into the thread's scratch, in its cache). a, b: C-contiguous
    (B, ., .); out: (B, n, m), C-contiguous. (A backward's x^T @ grad and grad @ w^T had each transposed batch
    copied first: 85 us of the 240 that (64, 64, 64) @ (64, 64, 64)^T took, 2.5x the forward.) blocks: how many
    runs of matrices the threads take, one each."""
    count = out.shape[0]
    for t in range(start, stop):
        scratch = np.empty(b.shape[1] * b.shape[2] if b_transposed else 0, b.dtype)
        for i in range(t * count // blocks, (t + 1) * count // blocks):
            left = a[i].T if a_transposed else a[i]
            if b_transposed:
                times_transposed(left, b[i], out[i], scratch, by_tiles, False)
            else:
                dot(left, b[i], out[i], by_tiles)


# run_range counts work in nanoseconds on one thread: a small product, its call included, makes 25-35 float32
# multiply-adds a nanosecond on one core, so products under about 1.25 million multiply-adds run on one thread. One
# core against two of the AMD EPYC (Zen 2, 2026-12-07), us: (32, 128) @ (128, 256) 37 / 37, (64, 128) @ (128, 256)
# 61 / 47, (32, 128) @ (128, 512) 72 / 52 (an LSTM cell's step), (8, 512) @ (512, 512) 89 / 59; (64, 64) @ (64, 128)
# 23 / 25. (At 50 a nanosecond, as first counted on the Intel Xeon, those of 2.1 million ran on one thread.) Steps, 50
# against 25 alternating in one process: mlp_layernorm_gelu 0.93x, the others of model_steps.py tried within 2 %.
BLAS_MACS_PER_NS = 25
# Products under this many multiply-adds go to NumPy (and a linear layer's to the reference): a kernel's launch and
# checks would cost more than they save.
TINY_MACS = 100_000


# Products of one or two columns (x @ weight^T of a layer with one or two outputs, as a GAN discriminator's or a
# regression head's) are matrix-vector products: NumPy's BLAS takes them (gemv). Tiles of one column a vector wide ran
# at 2 GMAC/s (the Intel Xeon of 2026-12-08, two threads, us, ours / NumPy's: (64, 6272) @ (6272, 1) 183 / 25, with two
# columns 69 / 32, (512, 256) @ (256, 1) 42 / 7; with three columns 110 / 93 and 40 / 48, four 31 / 72 and 44 / 27).
BLAS_VECTORS = 2


@range_kernel()
def _matmul_rows(start, stop, a, b, bias, out, blocks, by_tiles):
    """out = a @ b + bias, a block of rows per thread, by tiles or one BLAS call each. a: (n, k) C-contiguous,
    b: (k, m) (C-contiguous for tiles), bias: (m,) or (0,), out: (n, m)."""
    n = a.shape[0]
    for t in range(start, stop):
        first, last = t * n // blocks, (t + 1) * n // blocks
        dot_plus_bias(a[first:last], b, bias, out[first:last], by_tiles)


@range_kernel()
def _matmul_rows_nt(start, stop, a, weight, bias, out, blocks):
    """out = a @ weight^T + bias by dot.dot_nt, a block of rows per thread: a linear layer's forward read where its
    weight lies, for long sums. a: (n, k), weight: (m, k), out: (n, m), C-contiguous; bias: (m,) or (0,)."""
    n = a.shape[0]
    for t in range(start, stop):
        first, last = t * n // blocks, (t + 1) * n // blocks
        out[first:last] = 0
        add_dot_nt(a[first:last], weight, out[first:last])
        add_bias(out[first:last], bias)


@range_kernel()
def _matmul_columns_nt(start, stop, a, weight, bias, out, blocks):
    """out = a @ weight^T + bias by tiles, a block of out's columns per thread, each transposing its own block of
    weight's rows first (tile.as_columns). a: (n, k), weight: (m, k), C-contiguous; bias: (m,) or (0,); out: (n, m)."""
    m, k = weight.shape
    for t in range(start, stop):
        first, last = _column_block(t, blocks, m), _column_block(t + 1, blocks, m)
        columns = np.empty((k, last - first), a.dtype)
        as_columns(weight, first, last, columns)
        gemm(a, columns, out[:, first:last], False, bias[min(first, bias.size) : min(last, bias.size)])


@range_kernel()
def _matmul_columns(start, stop, a, b, bias, out, blocks):
    """out = a @ b + bias by tiles, a block of out's columns per thread, each reading its columns of b where they lie
    (see SHORT_ROWS). a: (n, k), b: (k, m), C-contiguous; bias: (m,) or (0,); out: (n, m)."""
    m = b.shape[1]
    for t in range(start, stop):
        first, last = _column_block(t, blocks, m), _column_block(t + 1, blocks, m)
        gemm(a, b[:, first:last], out[:, first:last], False, bias[min(first, bias.size) : min(last, bias.size)])


@numba.njit(cache=True, inline="always")
def _column_block(t, blocks, m):
    """Where block t of m columns split in ``blocks`` starts: a whole number of tiles in; the last one ends at m."""
    return m if t == blocks else t * m // blocks // WIDTH * WIDTH


@range_kernel()
def _matmul_transposed(start, stop, x, b, partial, sums, blocks, by_tiles):
    """partial[t] = x[rows]^T @ b[rows] for block t of the k rows; x^T @ b = partial.sum(0) (a weight gradient:
    the sum over the batch). Where sums has rows, also sums[t] = x[rows] summed over the rows (a bias gradient).
    x: (k, n) and b: (k, m) C-contiguous, partial: (blocks, n, m), sums: (blocks, n) or (0, n)."""
    k = x.shape[0]
    for t in range(start, stop):
        first, last = t * k // blocks, (t + 1) * k // blocks
        dot(x[first:last].T, b[first:last], partial[t], by_tiles)
        _sum_rows(x, first, last, sums, t)


@range_kernel()
def _matmul_transposed_rows(start, stop, x, b, out, sums, blocks):
    """out = x^T @ b by tiles, a block of out's rows per thread, each summing over all k rows: no partial sums to
    add up after. Where sums has a row, also sums[0] = x summed over its rows. x: (k, n) and b: (k, m)
    C-contiguous, out: (n, m), sums: (1, n) or (0, n)."""
    n = x.shape[1]
    for t in range(start, stop):
        first, last = t * n // blocks, (t + 1) * n // blocks
        gemm(x[:, first:last].T, b, out[first:last])
        if sums.shape[0]:
            sums[0, first:last] = 0
            for r in range(x.shape[0]):
                for j in range(first, last):
                    sums[0, j] += x[r, j]


@range_kernel()
def _matmul_transposed_columns(start, stop, x, b, out, sums, blocks):
    """out = x^T @ b by tiles, a block of out's columns per thread, each summing over all k rows (_transposed_times);
    where sums has a row, also sums[0] = x summed over its rows (by the first block's thread). x: (k, n) and b: (k, m)
    C-contiguous, out: (n, m), sums: (1, n) or (0, n)."""
    m = b.shape[1]
    for t in range(start, stop):
        first, last = _column_block(t, blocks, m), _column_block(t + 1, blocks, m)
        gemm(x.T, b[:, first:last], out[:, first:last])
        if t == 0:
            _sum_rows(x, 0, x.shape[0], sums, 0)


@numba.njit(cache=True, inline="always")
def _sum_rows(x, start, stop, sums, t):
    """sums[t] = x[start:stop] summed over the rows, where sums has rows."""
    if sums.shape[0]:
        sums[t].fill(0)
        for r in range(start, stop):
            for j in range(x.shape[1]):
                sums[t, j] += x[r, j]


def _rows_times(rows, b, bias):
    """rows @ b (+ bias): a block of rows per numba thread (see matmul), or of columns (see COLUMNS_PER_THREAD).
    rows: (n, k) C-contiguous, b: (k, m) C- or F-contiguous, bias: (m,) or (0,) -> (n, m)."""
    (n, k), m = rows.shape, b.shape[1]
    if m <= BLAS_VECTORS:  # see BLAS_VECTORS
        out = np.dot(rows, b)
        return np.add(out, bias, out=out) if bias.size else out
    out = np.empty((n, m), rows.dtype)
    blocks, work, by_tiles = min(numba.get_num_threads(), n), rows.size * m // BLAS_MACS_PER_NS, beats_blas(b.dtype)
    tiles = by_tiles or tiles_run(b.dtype)  # the tiles' ways by columns run on AVX2 too (see SHORT_SUM_ON_AVX2)
    limit_blas_threads()
    if tiles and not b.flags.c_contiguous and _by_columns(n, k, m, blocks, by_tiles):  # see COLUMNS_PER_THREAD
        run_range(_matmul_columns_nt, work, blocks, rows, b.T, bias, out, blocks)
    elif by_tiles and not b.flags.c_contiguous and k >= LONG_SUM and n <= SMALL_BATCH:  # see SMALL_BATCH
        run_range(_matmul_rows_nt, work, blocks, rows, b.T, bias, out, blocks)
    elif tiles and b.flags.c_contiguous and n < SHORT_ROWS * blocks and m >= COLUMNS_PER_THREAD * blocks:
        run_range(_matmul_columns, work, blocks, rows, b, bias, out, blocks)  # see SHORT_ROWS
    elif not tiles and n < BLAS_ROWS * blocks and m >= BLAS_COLUMNS * blocks and _whole(b):
        run_range(_matmul_columns_blas, work, blocks, rows, b, bias, out, blocks)  # see BLAS_ROWS
    else:
        if by_tiles and not b.flags.c_contiguous:  # a linear layer's weight^T: tiles read b by rows
            b = transposed(b.T)
        run_range(_matmul_rows, work, blocks, rows, b, bias, out, blocks, by_tiles)
    return out


def _whole(b) -> bool:
    """Whether b is C- or F-contiguous: the BLAS reads blocks of its columns where they lie (tile.blas_columns)."""
    return b.flags.c_contiguous or b.flags.f_contiguous


# By the BLAS, a @ b with fewer rows than this a thread splits out's columns over the threads instead of its rows, each
# BLAS call reading its block of b and writing its block of out where they lie: OpenBLAS's AVX2 kernels ran taller
# products faster, one core of the AMD EPYC of 2026-12-07, GMAC/s: (64, 784) @ (784, 512) 35, (128, 784) @ (784, 256)
# 41; (32, 784) @ (784, 256) 26. Each thread's block of columns at least BLAS_COLUMNS wide.
BLAS_ROWS, BLAS_COLUMNS = 128, 64


@range_kernel()
def _matmul_columns_blas(start, stop, a, b, bias, out, blocks):
    """out = a @ b + bias by the BLAS, a block of out's columns per thread (see BLAS_ROWS). a: (n, k) C-contiguous,
    b: (k, m) C- or F-contiguous, bias: (m,) or (0,), out: (n, m) C-contiguous; each thread's block of out gets its
    bias while in its cache."""
    m = b.shape[1]
    for t in range(start, stop):
        first, last = t * m // blocks, (t + 1) * m // blocks
        blas_columns(a, b, out, first, last)
        for i in range(out.shape[0] if bias.size else 0):
            for j in range(first, last):
                out[i, j] += bias[j]


# A small batch's linear layer (up to SMALL_BATCH rows), by tiles, two ways that copy nothing:
# - x @ weight^T: where the sum is long (dot.LONG_SUM), by dot.dot_nt reading the weight's rows where they lie, unless
#   out's columns split over the threads (below: a weight of many rows, x of FEW_ROWS or more). The tiles read
#   weight^T by rows, a copy of it first (tile.as_columns), whose cost a small batch does not spread when one thread
#   makes all of it: 2 threads, float32, (n, k, m), time against tiles: (64, 784, 256) 0.39x, (128, 512, 256) 0.49x,
#   (32, 3136, 10) 0.61x, (128, 784, 512) 0.85x; (64, 256, 128) 1.14x (13 us).
# - x^T @ b, the weight gradient: out's rows split over the threads, each summing over all of x's rows, rather than
#   along the sum, whose threads' partial products took as long to add up as to make: (128, 512, 784) 0.68x,
#   (128, 256, 512) 0.82x; longer sums lose, (700, 512, 64) 1.5x, (2048, 512, 128) 1.32x, (4096, 64, 64) 2x (each
#   thread reads all of x's rows, n numbers apart), and so do fewer than ROWS_PER_BLOCK rows a thread.
SMALL_BATCH = 256
ROWS_PER_BLOCK = 16
# x @ weight^T by tiles, where the weight has rows enough against x's: out's columns split over the threads, each
# transposing its share of the weight into its own cache, where one thread transposed all of it first (while the
# other waited) and left the other thread to read it from its cache, or dot_nt read it as it lies. 2 threads, float32,
# (n, k, m), time against the other way, paired (the Intel Xeon, 2026-12-06): (32, 256, 256) 0.50, (256, 256, 512)
# 0.55, (128, 512, 256) 0.65, (128, 1024, 1024) 0.65, (350, 128, 1000) 0.70, (128, 784, 512) 0.76 (a 784-512 MLP),
# (128, 784, 128) 0.76, (64, 784, 256) 0.82, (128, 3136, 64) 0.89, (700, 128, 1000) 0.90 (an LSTM LM's head),
# (1024, 256, 256) 0.96, (2048, 128, 1000) 0.99. The rest lose: each thread reads all of x, so taller x
# ((2048, 64, 256) 1.05, (4096, 64, 256) 1.13), and each transposes its block for few rows ((32, 784, 512) 1.16,
# (16, 784, 512) 1.73 against dot_nt; (48, 784, 512) level).
COLUMNS_PER_THREAD = 2 * WIDTH
ROWS_PER_COLUMN = 4
FEW_ROWS = 64


# a @ b with b's rows contiguous (grad @ weight, a linear layer's grad_x): out's columns split over the threads
# where each thread would have fewer rows than this (16 tiles), so that a thread's tiles read a block of b that only
# they need, and b is read once in all. 2 threads, float32, (n, k, m), time against rows split, both ways timed in
# turn in one process: (64, 128, 256) 0.70, (64, 256, 784) 0.85, (128, 1024, 1024) 0.89, (128, 512, 784) 0.92 (an
# MLP's grad_x), (128, 256, 512) 0.96, (128, 512, 256) and (32, 512, 512) level; tall a loses, (2048, 256, 64) 1.14,
# (700, 1000, 128) 1.12.
SHORT_ROWS = 128


# On AVX2 (dot.tiles_run, not dot.beats_blas), against OpenBLAS's Haswell kernels: x @ weight^T and grad @ weight by
# out's columns split over the threads (tiles), where x has fewer rows than BLAS_ROWS a thread, and each
# thread would otherwise take a BLAS call of its own (by columns or by rows); x^T @ grad (a weight gradient) by
# out's columns (tiles, each thread over the whole sum) over up to SHORT_SUM_ON_AVX2 rows, where the BLAS split the
# sum. 2 threads, float32, GMAC/s, tiles / the BLAS's best way, the AMD EPYC (Zen 2) of 2026-12-07:
#   x @ weight^T, (n, k, m): (16, 784, 512) 41 / 26, (32, 784, 512) 54 / 36, (64, 784, 512) 66 / 46, (128, 784, 512)
#   71 / 63, (128, 20, 400) 31 / 34 (the BLAS by columns: 7), (128, 64, 512) 52 / 54, (128, 2048, 128) 57 / 64;
#   from 256 rows the BLAS by rows wins: (256, 784, 512) 72 / 74, (2048, 128, 512) 75 / 89, (2048, 64, 256) 51 / 81;
#   grad @ weight, (n, m, k): (16, 784, 512) 51 / 31, (64, 784, 512) 70 / 58, (128, 784, 512) 73 / 69, (256, 784,
#   512) 75 / 78, (2048, 128, 512) 70 / 89;
#   x^T @ grad, (k, n, m): (16, 512, 784) 48 / 18, (64, 512, 784) 73 / 45, (128, 512, 784) 71 / 62, (128, 256, 512)
#   76 / 53, (128, 20, 400) 44 / 20; from 256 rows the split sum wins: (256, 512, 784) 64 / 72, (1120, 1000, 256)
#   68 / 84, but (2048, 128, 512) 78 / 74.
SHORT_SUM_ON_AVX2 = 128


def _by_columns(n: int, k: int, m: int, blocks: int, everywhere: bool) -> bool:
    """Whether x (n, k) @ weight^T (k, m) goes by columns (see COLUMNS_PER_THREAD): with AVX-512's tiles
    (``everywhere``), or on AVX2, where it beats the BLAS under BLAS_ROWS rows a thread (see SHORT_SUM_ON_AVX2)."""
    if m < COLUMNS_PER_THREAD * blocks:
        return False
    if not everywhere:
        return n < BLAS_ROWS * blocks
    return n <= ROWS_PER_COLUMN * m and (k < LONG_SUM or n >= FEW_ROWS)


# Split along a longer sum, x^T @ b with x this many columns wide or more goes to the BLAS: the tiles read x^T's
# rows a page apart (a[i, k] = x[k, i]), past the prefetchers, where OpenBLAS copies them first. 2 threads, float32,
# (k, n, m), GMAC/s, tiles / BLAS: (700, 1000, 128) 55-87 / 75-110 (an LSTM LM's head), (512, 2048, 64) 54-63 /
# 73-78, (2048, 1000, 64) 66-89 / 78-90, (700, 900, 128) 91-94 / 103-109; (700, 768, 128) 72-108 / 75-109 level,
# and narrower x went to the tiles' way, (2048, 64, 192) 82 / 63.
WIDE_TRANSPOSED = 896


# x^T @ b for an x too narrow for its rows to split (a classifier's head: the gradient of 10 outputs) and a wide b:
# out's columns split over the threads, each summing over all of x's rows, rather than splitting the sum, whose
# partial products took another pass to add up. 2 threads, float32, (k, n, m), time against the split sum, both ways
# timed in turn in one process: (64, 10, 12544) 0.54 (a 12544-10 head), (32, 16, 1600) 0.65, (32, 10, 4096) 0.75,
# (128, 10, 784) 0.93, (256, 10, 512) and (700, 10, 128) level. On AVX2 too (dot.tiles_run), where OpenBLAS's
# Haswell kernels ran such products at 11 GMAC/s on one core of the AMD EPYC (2026-12-07), the tiles at 28-43:
# (256, 10, 512) 123 against 46 us, (64, 10, 784) 45 against 12.


def _transposed_times(x, b, sums: bool):
    """(x^T @ b, x summed over its rows or None): by tiles a block of out's rows per thread (see SMALL_BATCH), or of
    its columns for a narrow x (see above), else split along the sum, each thread adding up its block of x's rows.
    x: (k, n), b: (k, m) C-contiguous."""
    (k, n), m = x.shape, b.shape[1]
    blocks, work, threads = min(numba.get_num_threads(), k), x.size * m // BLAS_MACS_PER_NS, numba.get_num_threads()
    whole_sums, short = None, SHORT_SUM_ON_AVX2  # whole_sums: a kernel whose threads each sum over all of x's rows
    if beats_blas(x.dtype) and n >= ROWS_PER_BLOCK * threads and k <= SMALL_BATCH:
        whole_sums, blocks = _matmul_transposed_rows, threads
    elif tiles_run(x.dtype) and m >= COLUMNS_PER_THREAD * blocks and (n < ROWS_PER_BLOCK * threads or k <= short):
        whole_sums = _matmul_transposed_columns  # a narrow x (see above), or a short sum on AVX2 (SHORT_SUM_ON_AVX2)
    limit_blas_threads()
    if whole_sums is not None:
        out, row_sums = np.empty((n, m), x.dtype), np.empty((1 if sums else 0, n), x.dtype)
        run_range(whole_sums, work, blocks, x, b, out, row_sums, blocks)
        return out, (row_sums[0] if sums else None)
    partial = np.empty((blocks, n, m), x.dtype)
    partial_sums = np.empty((blocks if sums else 0, n), x.dtype)
    args = (x, b, partial, partial_sums, blocks, beats_blas(x.dtype) and n < WIDE_TRANSPOSED)
    run_range(_matmul_transposed, work, blocks, *args)
    if blocks == 1:
        return partial[0], (partial_sums[0] if sums else None)
    return _added_up(partial), (partial_sums.sum(axis=0) if sums else None)


@range_kernel()
def _add_up(start, stop, partial, out):
    """out = partial.sum(0), each thread a block of out's rows, the blocks added in order as NumPy's sum does.
    partial: (blocks, n, m), out: (n, m)."""
    for i in range(start, stop):
        row, first = out[i], partial[0, i]
        for j in range(row.size):  # (a loop: the slice assignment compiled numba's shape-error messages, 4 s a process)
            row[j] = first[j]
        for t in range(1, partial.shape[0]):
            block = partial[t, i]
            for j in range(row.size):
                row[j] += block[j]


def _added_up(partial):
    """The partial products of a split sum added up: on numba's threads from SPLIT_WORK numbers a product, else by
    NumPy's sum, whose one thread took 0.4 ms of model_steps' lstm256_lm step (the head's and the recurrent weights'
    gradients, (2, 1000, 256) and (2, 1024, 256) float32): that step took 0.98x the time on 2 threads (alternating in
    one process; the bench's LSTM LM and transformer LM steps level)."""
    if partial[0].size < SPLIT_WORK:
        return partial.sum(axis=0)
    out = np.empty(partial.shape[1:], partial.dtype)
    run_range(_add_up, CHEAP * partial.size, len(out), partial, out)
    return out


def matmul(a, b):
    """As numpy_ref.matmul, choosing among these ways by what was measured (2 cores, float32):

    - tiny products (under TINY_MACS multiply-adds), batches that broadcast and other dtypes: NumPy's matmul;
    - 2-D products: a block of rows per numba thread, by tile.gemm where it beats the BLAS (float32 with AVX-512
      here: the transformer LM's step took 0.84x the time of BLAS with long sums by dot.dot_nt, the LSTM LM's
      0.77x), else one single-threaded BLAS call each. NumPy's BLAS splits
      one product as well, but its threads keep spinning for a while after each call, on the cores numba's
      threads are pinned to (placement.py): lesson 08's CNN step (linear layers between convolutions) took
      2.7x PyTorch's time with NumPy's matmul, 1.1x this way;
      a batch times one matrix (a linear layer on (..., n, k)) is folded into one (batch * n, k) @ (k, m)
      product first, 1.5x faster than NumPy's matrix-by-matrix loop on (8, 100, 64) @ (64, 64);
      a transposed operand (x^T @ grad, a weight gradient) is split along the sum instead, each thread adding
      up its block of rows: copying x^T to rows first took 3 of the 19 ms of a transformer LM step (tiles read
      x^T where it lies);
    - batches of equal shape: numba runs the matrices in parallel, by tiles or one single-threaded BLAS call each,
      1.3 to 2x faster than NumPy on (32, 50, 16) @ (32, 16, 50) or (64, 100, 64) @ (64, 64, 100).
    """
    floats = a.dtype == b.dtype and a.dtype in FLOATS
    if floats and a.ndim == 2 and b.ndim == 2 and a.shape[1] == 0:  # an empty sum: NumPy's matmul took 54-79 us
        return np.zeros((a.shape[0], b.shape[1]), a.dtype)
    if floats and a.ndim == 1 and b.ndim == 2:  # a vector times a matrix: one row
        return matmul(a[None], b)[0]
    if not floats or a.size * b.shape[-1] < TINY_MACS:  # a.size * m: the multiply-adds when a holds every batch
        return np.matmul(a, b)
    if a.ndim == 2 and b.ndim == 2 and a.T.flags.c_contiguous and not a.flags.c_contiguous:
        return _transposed_times(a.T, np.ascontiguousarray(b), sums=False)[0]
    if a.ndim >= 2 and b.ndim == 2:
        rows = np.ascontiguousarray(a).reshape(-1, a.shape[-1])
        b = b if b.flags.c_contiguous or b.flags.f_contiguous else np.ascontiguousarray(b)
        return _rows_times(rows, b, np.empty(0, a.dtype)).reshape(*a.shape[:-1], b.shape[-1])
    if a.ndim == 2 or b.ndim < 2:
        return np.matmul(a, b)
    if a.shape[:-2] == b.shape[:-2]:
        (a3, a_transposed), (b3, b_transposed) = _matrices(a), _matrices(b)
        out = np.empty((a3.shape[0], a.shape[-2], b.shape[-1]), a.dtype)
        blocks = min(out.shape[0], numba.get_num_threads())
        args = (a3, b3, out, beats_blas(a.dtype), a_transposed, b_transposed, blocks)
        limit_blas_threads()
        run_range(_batched_matmul, LONG_WORK, blocks, *args)  # (always on the threads, as before)
        return out.reshape(*a.shape[:-1], b.shape[-1])
    return np.matmul(a, b)


def _matrices(t):
    """A batch of matrices t: (..., r, c) as (C-contiguous (B, r, c), False), or, where t is a transposed view of a
    C-contiguous batch (a backward's swapaxes), that batch as (B, c, r) with True: no copy."""
    flipped = t.swapaxes(-1, -2)
    if flipped.flags.c_contiguous and not t.flags.c_contiguous:
        return flipped.reshape(-1, *flipped.shape[-2:]), True
    return np.ascontiguousarray(t).reshape(-1, *t.shape[-2:]), False


def _tiny(x, weight) -> bool:
    """Whether a linear layer's product is under TINY_MACS multiply-adds, or not of float32/64 matrices."""
    return x.ndim != 2 or x.shape[0] * weight.size < TINY_MACS or not same_floats(x, weight)  # the cheap tests first


def linear_forward(x, weight, bias):
    """As numpy_ref.linear_forward, as matmul takes x @ weight^T, with the bias added by each thread to its rows
    while they are in its cache (NumPy's add after the product took 58 us of 335 on (2048, 64) @ (64, 256))."""
    if _tiny(x, weight) or (bias is not None and not same_floats(bias, x)):
        return numpy_ref.linear_forward(x, weight, bias)
    bias = np.empty(0, x.dtype) if bias is None else np.ascontiguousarray(bias)
    return _rows_times(np.ascontiguousarray(x), weight.T, bias)


def linear_backward(grad, x, weight, need_x: bool, need_weight: bool, need_bias: bool):
    """As numpy_ref.linear_backward: grad @ weight as matmul, and grad^T @ x split along the rows, each thread
    summing its block of grad's rows for the bias's gradient too (NumPy's grad.sum(0) after it: 30-50 us)."""
    if _tiny(x, weight) or not same_floats(grad, x):
        return numpy_ref.linear_backward(grad, x, weight, need_x, need_weight, need_bias)
    grad = np.ascontiguousarray(grad)
    grad_x = _rows_times(grad, weight, np.empty(0, x.dtype)) if need_x else None
    if need_weight:
        grad_weight, grad_bias = _transposed_times(grad, np.ascontiguousarray(x), need_bias)
    else:
        grad_weight, grad_bias = None, (grad.sum(axis=0) if need_bias else None)
    return grad_x, grad_weight, grad_bias


@warms_up
def warm_up(dtype: np.dtype) -> None:
    """Compile every product kernel for dtype (see common.warms_up)."""
    matmul(np.ones((2, 64, 40), dtype), np.ones((2, 40, 40), dtype))  # big enough for numba's batched product
    a = np.ones((64, 64), dtype)
    matmul(a, a)
    matmul(a, a.T)  # b F-contiguous: the weight of a linear layer
    matmul(a.T, a)  # a transposed: a weight gradient (by tiles, split by rows)
    long = np.ones((SMALL_BATCH + 1, 64), dtype)
    matmul(long.T, long)  # split along the sum
    long = np.ones((SMALL_BATCH + 1, 256), dtype)
    matmul(long.T, long)  # split along the sum, the partial products added up on the threads
    x, weight, bias = np.ones((256, 64), dtype), np.ones((64, 64), dtype), np.ones(64, dtype)  # a linear layer
    grad = linear_forward(x, weight, bias)
    linear_backward(grad, x, weight, True, True, True)
    linear_forward(np.ones((64, LONG_SUM), dtype), np.ones((16, LONG_SUM), dtype), bias[:16])  # by dot_nt
    wide = COLUMNS_PER_THREAD * min(numba.get_num_threads(), 64)  # by columns
    linear_forward(x[:64], np.ones((wide, 64), dtype), np.ones(wide, dtype))
    matmul(x[:64], np.ones((64, wide), dtype))  # by columns of b where they lie
    narrow = np.ones((256, 8), dtype)
    matmul(narrow.T, np.ones((256, wide), dtype))  # a narrow a^T: by columns, each over the whole sum
    if not tiles_run(dtype):  # few rows by the BLAS: by columns, b's where they lie (see BLAS_ROWS)
        columns = BLAS_COLUMNS * min(numba.get_num_threads(), 64)
        linear_forward(x[:64], np.ones((columns, 64), dtype), np.ones(columns, dtype))
        matmul(x[:64], np.ones((64, columns), dtype))
