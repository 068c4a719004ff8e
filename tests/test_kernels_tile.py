"""kernels/numba_cpu/tile.py: ``gemm``'s tiles of c, written in LLVM's vector IR, against NumPy's product.

Drawn: every count of rows left over (below a tile's 8, or 6 on AVX2), columns left over (masked loads and stores;
blocks of a vector's columns or fewer by tiles of one vector), sums longer than one pass (tile.SUM_BLOCK) or empty,
a's rows or columns strided (a transposed operand), b and c as views into wider arrays (whose other columns must stay
as they were), accumulate or overwrite; float32, the one dtype of the tiles. They run wherever numba compiles, their
sizes following this CPU's vectors (tile.LANES: 16 float32 with AVX-512, else 8; LLVM splits what it lacks).
``as_columns``, the transposition the products with b^T take first.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numba_marks import jit_compiles, numba_usable

pytestmark = [numba_usable, jit_compiles]
TOLERANCE = dict(rtol=1e-4, atol=1e-4)


def _operands(rng, m, k, n, a_transposed):
    a = rng.standard_normal((k, m) if a_transposed else (m, k)).astype(np.float32)
    a = a.T if a_transposed else a
    b_wide = rng.standard_normal((k, n + 5)).astype(np.float32)  # b's rows 5 numbers apart from one another's ends
    return a, b_wide[:, 2 : 2 + n]


@settings(max_examples=60, deadline=None)
@given(
    m=st.integers(0, 160), k=st.integers(0, 600), n=st.integers(0, 80), a_transposed=st.booleans(),
    accumulate=st.booleans(), biased=st.booleans(), seed=st.integers(0, 2**16),
)  # fmt: skip
def test_gemm_matches_numpy_and_writes_nothing_outside_c(m, k, n, a_transposed, accumulate, biased, seed):
    """Up to 160 rows: from tile.PACK_FROM_TILES tiles of rows (121 rows; 91 on AVX2) and over WIDTH columns, b's
    blocks are read from a copy. A bias is added with the first block of the sum (an empty sum: c is the bias). Rows
    shared out evenly make runs of tiles of 8 rows and of 7 (150 rows: 19 tiles; 6 and 5 on AVX2), each run one call
    of a tile's function."""
    from kernels.numba_cpu.tile import gemm

    rng = np.random.default_rng(seed)
    a, b = _operands(rng, m, k, n, a_transposed)
    bias = rng.standard_normal(n).astype(np.float32) if biased and not accumulate else np.empty(0, np.float32)
    c_wide = rng.standard_normal((m, n + 40)).astype(np.float32)
    if not accumulate:
        c_wide[:, 3 : 3 + n] = np.nan  # overwritten, never read
    before = c_wide.copy()
    c = c_wide[:, 3 : 3 + n]
    expected = a.astype(np.float64) @ b.astype(np.float64) + (before[:, 3 : 3 + n] if accumulate else 0)
    gemm(a, b, c, accumulate, bias)
    np.testing.assert_allclose(c, expected + (bias if bias.size else 0), **TOLERANCE)
    outside = np.ones(c_wide.shape, bool)
    outside[:, 3 : 3 + n] = False
    np.testing.assert_array_equal(c_wide[outside], before[outside])


@pytest.mark.parametrize("rows", range(1, 9))
@pytest.mark.parametrize("vectors, extra", [(0, 1), (1, -1), (1, 0), (1, 1), (2, 0), (2, 1), (2, 3), (3, 0)])
def test_each_tile_of_rows_and_columns(rows, vectors, extra):
    """Each tile by rows (1 to 8: tile.ROWS is 8 or 6, a second tile past it), of 2 vectors with a full, partial and
    empty second vector of columns, and of 1 vector for blocks of a vector's columns or fewer (1, LANES - 1, LANES;
    the last block of 2 vectors and 3 columns, and of 3 vectors): plain, biased, accumulating. Columns counted in
    this CPU's vectors (tile.LANES: 16 or 8 float32)."""
    from kernels.numba_cpu.tile import LANES, gemm

    columns = vectors * LANES + extra
    rng = np.random.default_rng(rows * 100 + columns)
    a, b = _operands(rng, rows, 7, columns, a_transposed=False)
    c = np.full((rows, columns), np.nan, np.float32)
    gemm(a, b, c)
    np.testing.assert_allclose(c, a @ b, **TOLERANCE)
    bias = rng.standard_normal(columns).astype(np.float32)
    gemm(a, b, c, False, bias)
    np.testing.assert_allclose(c, a @ b + bias, **TOLERANCE)
    gemm(a, b, c, True)
    np.testing.assert_allclose(c, 2 * (a @ b) + bias, **TOLERANCE)


@settings(max_examples=60, deadline=None)
@given(
    k=st.integers(1, 40), n=st.integers(1, 40), start=st.integers(0, 40), count=st.integers(0, 40),
    extra=st.integers(0, 3), dtype=st.sampled_from([np.float32, np.float64]), seed=st.integers(0, 2**16),
)  # fmt: skip
def test_as_columns_transposes_rows_into_columns_and_zeroes_the_rest(k, n, start, count, extra, dtype, seed):
    """8 x 8 blocks transposed in registers, the columns and rows left over one at a time: x's rows start..stop as
    out's first columns, zeros after; x a view of a wider array (its rows further apart than n)."""
    from kernels.numba_cpu.tile import as_columns

    start = min(start, k)
    stop = min(k, start + count)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((k, n + 5)).astype(dtype)[:, 2 : 2 + n]
    out = np.full((n, stop - start + extra), np.nan, dtype)
    as_columns(x, start, stop, out)
    expected = np.zeros_like(out)
    expected[:, : stop - start] = x[start:stop].T
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_transposed_is_a_contiguous_copy_of_the_transpose_of_any_array(dtype):
    """By as_columns for 2-D float arrays of tile.TRANSPOSED_FROM numbers or more whose rows are contiguous (a view of
    some of the columns too); NumPy's copy otherwise (a column view, a dtype to convert to, an int array, a small
    array), always a C-contiguous x.T of the dtype asked for."""
    from kernels.numba_cpu.tile import TRANSPOSED_FROM, transposed

    x = np.random.default_rng(1).standard_normal((97, 61)).astype(dtype)
    assert x[:, 3:57].size >= TRANSPOSED_FROM > x[:20, :20].size
    cases = ((x, None), (x[:, 3:57], None), (x.T, None), (x, np.float64), ((x * 10).astype(np.int32), None))
    for a, to in (*cases, (x[:20, :20], None)):
        got = transposed(a, to)
        assert got.flags.c_contiguous and got.dtype == (a.dtype if to is None else to)
        np.testing.assert_array_equal(got, a.T.astype(got.dtype))
        padded = transposed(a, to, 3)  # each row 3 zeros longer, both ways (the recurrent kernels' w_hh.T)
        assert padded.flags.c_contiguous and padded.shape == (a.shape[1], a.shape[0] + 3)
        np.testing.assert_array_equal(padded[:, : a.shape[0]], got)
        np.testing.assert_array_equal(padded[:, a.shape[0] :], 0)


def test_an_empty_sum_gives_zeros_or_the_bias_or_leaves_c():
    from kernels.numba_cpu.tile import gemm

    a, b = np.ones((3, 0), np.float32), np.ones((0, 4), np.float32)
    c = np.full((3, 4), 7.0, np.float32)
    gemm(a, b, c, True)
    np.testing.assert_array_equal(c, 7.0)
    gemm(a, b, c)
    np.testing.assert_array_equal(c, 0.0)
    bias = np.arange(4, dtype=np.float32)
    gemm(a, b, c, False, bias)
    np.testing.assert_array_equal(c, np.broadcast_to(bias, (3, 4)))


@numba_usable
@jit_compiles
def test_data_pointers_point_at_each_arrays_first_number():
    """data_pointers((a, b, c)): what a C function takes for the arrays, read back through each pointer. The arrays
    are views that start inside a larger buffer, so a pointer to the buffer's start would read other numbers."""
    import numba

    from kernels.numba_cpu.by_name import data_pointers

    @numba.njit
    def first_numbers(arrays):
        pointers = data_pointers(arrays)
        return [numba.carray(pointers[i], 1)[0] for i in range(3)]

    buffer = np.arange(30, dtype=np.float32)
    arrays = (buffer[3:9], buffer[10:20].reshape(2, 5), buffer[21:])
    assert first_numbers(arrays) == [3.0, 10.0, 21.0]


@pytest.mark.parametrize("m, k, n", [(5, 494, 25), (75, 500, 25), (1, 1, 1), (7, 3, 9)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_add_dot_nt_inside_a_kernel_adds_the_product_of_rows(m, k, n, dtype):
    """add_dot_nt as kernels call it: dot.dot_nt compiled once, as a C function, for float32; np.dot for float64."""
    import numba

    from kernels.numba_cpu.tile import add_dot_nt

    @numba.njit
    def kernel(a, bt, c):
        add_dot_nt(a, bt, c)

    rng = np.random.default_rng(m * k * n)
    a, bt, c = (rng.standard_normal(shape).astype(dtype) for shape in ((m, k), (n, k), (m, n)))
    expected = c.astype(np.float64) + a.astype(np.float64) @ bt.T.astype(np.float64)
    kernel(a, bt, c)
    np.testing.assert_allclose(c, expected, **TOLERANCE)


def test_cached_kernels_are_stamped_with_every_file_of_the_package(tmp_path):
    """A kernel's cache index here carries the package's files' stamps besides its own file's, in the tree and in
    NUMBA_CACHE_DIR alike: a kernel cached before tile.py's C functions changed goes stale instead of calling them
    with old arguments (a crash, or wrong numbers)."""
    import os

    from numba.core import caching

    from kernels.numba_cpu import cache_lock

    ours = caching.IndexDataCacheFile(os.path.join(cache_lock.PACKAGE, "__pycache__"), "kernel", "own stamp")
    own, files = ours._source_stamp
    assert own == "own stamp"
    assert {"tile.py", "dot.py", "common.py", "linalg.py", "conv.py"} <= {name for name, *_ in files}
    assert all(size > 0 for _, _, size in files)
    # NUMBA_CACHE_DIR (or the user's cache): numba keeps the package's kernels in a folder named after its path.
    subpath = caching._CacheLocator.get_suitable_cache_subpath(os.path.join(cache_lock.PACKAGE, "tile.py"))
    in_cache_dir = caching.IndexDataCacheFile(str(tmp_path / subpath), "kernel", "own stamp")
    assert in_cache_dir._source_stamp == ours._source_stamp
    elsewhere = caching.IndexDataCacheFile(str(tmp_path), "kernel", "own stamp")  # not this package's: as numba's
    assert elsewhere._source_stamp == "own stamp"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("a_layout, b_layout", [("C", "C"), ("F", "C"), ("C", "F"), ("F", "F"), ("A", "A")])
@pytest.mark.parametrize("m, k, n", [(7, 5, 3), (1, 9, 1), (4, 0, 6), (0, 3, 2), (3, 2, 0)])
def test_blas_products_call_the_blas_for_every_layout(dtype, a_layout, b_layout, m, k, n):
    """_blas_dot and _blas_add_dot call numba's numba_xxgemm directly, with no checks: each operand C-contiguous, or
    F (a transposed view, told to the BLAS as transposed), or strided (copied first); empty sums give zeros (or
    leave out as it was), empty outputs are left alone; out += a @ b in one call, into a C-contiguous out or a
    strided view of one."""
    from kernels.numba_cpu.tile import _blas_add_dot, _blas_dot

    rng = np.random.default_rng(m * 100 + k * 10 + n)

    def laid_out(rows, columns, layout):
        if layout == "F":
            return rng.standard_normal((columns, rows)).astype(dtype).T
        if layout == "A":  # every other column of a wider array
            return rng.standard_normal((rows, 2 * columns)).astype(dtype)[:, ::2]
        return rng.standard_normal((rows, columns)).astype(dtype)

    a, b = laid_out(m, k, a_layout), laid_out(k, n, b_layout)
    expected = a.astype(np.float64) @ b.astype(np.float64)
    out = np.full((m, n), np.nan, dtype)
    _blas_dot(a, b, out)
    np.testing.assert_allclose(out, expected, **TOLERANCE)
    before = rng.standard_normal((m, n)).astype(dtype)
    out = before.copy()
    _blas_add_dot(a, b, out)
    np.testing.assert_allclose(out, before + expected, **TOLERANCE)
    wide = np.zeros((m, 2 * n), dtype)
    wide[:, ::2] = before
    _blas_add_dot(a, b, wide[:, ::2])
    np.testing.assert_allclose(wide[:, ::2], before + expected, **TOLERANCE)
    assert not wide[:, 1::2].any()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("b_layout", ["C", "F"])
@pytest.mark.parametrize("n, k, first, last", [(5, 7, 0, 9), (5, 7, 3, 8), (1, 1, 8, 9), (4, 0, 2, 6)])
def test_blas_columns_writes_its_block_of_columns_alone(dtype, b_layout, n, k, first, last):
    """tile.blas_columns: out[:, first:last] = a @ b[:, first:last] by one BLAS call on b's and out's columns where
    they lie (b C-contiguous: its rows' full length as the step; F: its columns' offset), nothing else of out
    touched; an empty sum gives zeros."""
    from kernels.numba_cpu.tile import blas_columns

    rng = np.random.default_rng(n * 100 + k * 10 + first)
    a = rng.standard_normal((n, k)).astype(dtype)
    b = rng.standard_normal((k, 9)).astype(dtype)
    b = b if b_layout == "C" else np.asfortranarray(b)
    out = rng.standard_normal((n, 9)).astype(dtype)
    before = out.copy()
    blas_columns(a, b, out, first, last)
    expected = before.copy()
    expected[:, first:last] = a.astype(np.float64) @ b[:, first:last].astype(np.float64)
    np.testing.assert_allclose(out, expected, **TOLERANCE)
    np.testing.assert_array_equal(out[:, :first], before[:, :first])
    np.testing.assert_array_equal(out[:, last:], before[:, last:])
