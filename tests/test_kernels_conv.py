"""Matmul, convolution and pooling kernels of every backend against the reference kernels (the spec).

Each test draws shapes, window geometry and data with hypothesis, runs the active backend's kernel and
``kernels.numpy_ref``'s on the same inputs, and compares: float32 within its rounding, float64 tightly,
max-pool positions exactly. The draws include unit-height images (what conv1d and the 1-D pools pass),
non-contiguous inputs, ties, NaN and -inf.
"""

import os
import subprocess
import sys

import numpy as np
import pytest
from device import to_device, to_host
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from numba_marks import compiled_for, jit_compiles, numba_usable

from kernels import numpy_ref
from tinynet import backend

# The `backend_name` fixture only switches the backend for the whole test: sharing it across examples is fine.
per_backend = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])

DTYPES = [np.float32, np.float64]
TOLERANCE = {np.float32: dict(rtol=1e-4, atol=1e-5), np.float64: dict(rtol=1e-10, atol=1e-12)}


def assert_matches(got, expected, dtype, summed=1):
    """Same shapes, same dtypes, same values (within the dtype's tolerance), output by output.

    summed: how many products the largest sum in the outputs adds up. float32 rounds such a sum to about
    sqrt(summed) * 6e-8 times its partial sums, whatever the order of its terms (the reference's included),
    and on unit-variance data the partial sums themselves grow like sqrt(summed): the absolute tolerance
    grows with summed past the ~100 terms the base tolerance covers.
    """
    got = got if isinstance(got, tuple) else (got,)
    expected = expected if isinstance(expected, tuple) else (expected,)
    assert len(got) == len(expected)
    tolerance = dict(TOLERANCE[dtype])
    tolerance["atol"] *= max(1.0, summed / 100)
    for g, e in zip(got, expected):
        assert isinstance(g, np.ndarray) and g.shape == e.shape and g.dtype == e.dtype, (g.shape, e.shape)
        np.testing.assert_allclose(g, e, **tolerance)


def random_array(rng, shape, dtype, contiguous=True):
    """Standard normal data; when not contiguous, a view that skips every other element of the last axis."""
    if contiguous:
        return rng.standard_normal(shape).astype(dtype)
    wide = rng.standard_normal((*shape[:-1], 2 * shape[-1])).astype(dtype)
    return wide[..., ::2]


def run_both(kernel, *args):
    """(active backend's result, reference's result), both on the host; the reference gets copies, so a
    kernel that wrote into its inputs would show up as a mismatch."""
    copies = tuple(a.copy() if isinstance(a, np.ndarray) else a for a in args)
    return to_host(getattr(backend.active(), kernel)(*to_device(args))), getattr(numpy_ref, kernel)(*copies)


# --- matmul ---------------------------------------------------------------------------------


@st.composite
def matmul_cases(draw):
    """Operand shapes (..., n, k) and (..., k, m) whose batch axes broadcast (either may have none)."""
    n, k, m = draw(st.integers(1, 6)), draw(st.integers(1, 6)), draw(st.integers(1, 6))
    batch = draw(st.lists(st.integers(1, 3), max_size=2))
    batch_a = tuple(b if draw(st.booleans()) else 1 for b in batch)[draw(st.integers(0, len(batch))) :]
    batch_b = tuple(b if draw(st.booleans()) else 1 for b in batch)[draw(st.integers(0, len(batch))) :]
    return (*batch_a, n, k), (*batch_b, k, m), draw(st.booleans())


@per_backend
@pytest.mark.parametrize("dtype", DTYPES)
@given(case=matmul_cases(), seed=st.integers(0, 2**32 - 1))
def test_matmul_matches_the_reference(backend_name, dtype, case, seed):
    shape_a, shape_b, transposed = case
    rng = np.random.default_rng(seed)
    a = random_array(rng, shape_a, dtype)
    # A transposed operand (as the matmul backward passes) is a non-contiguous view.
    if transposed:
        b = np.swapaxes(random_array(rng, (*shape_b[:-2], shape_b[-1], shape_b[-2]), dtype), -1, -2)
    else:
        b = random_array(rng, shape_b, dtype)
    assert_matches(*run_both("matmul", a, b), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "shape_a, shape_b, transposed",
    [
        ((64, 40), (40, 30), ""),
        ((6, 50, 40), (40, 30), ""),  # a batch times one matrix, as in a linear layer
        ((12, 30, 20), (12, 20, 25), ""),  # batches of equal shape
        ((2, 5, 30, 20), (2, 5, 25, 20), "b"),  # ... with b transposed, as the matmul backward passes it
        ((2, 5, 20, 30), (2, 5, 20, 25), "a"),  # ... a transposed (the backward's other product)
        ((12, 20, 30), (12, 25, 20), "ab"),  # ... both
        ((12, 7, 5), (12, 5, 9), ""),
        ((512, 0), (0, 128), ""),  # an empty sum (a recurrent layer's weight gradient over one step)
    ],
)
def test_matmul_on_larger_operands(backend_name, dtype, shape_a, shape_b, transposed):
    """Products big enough that a backend may compute them differently from small ones; a transposed operand is a
    view of a contiguous batch, which a backend may read where it lies."""
    rng = np.random.default_rng(0)
    a, b = random_array(rng, shape_a, dtype), random_array(rng, shape_b, dtype)
    a, b = (np.swapaxes(x, -1, -2) if name in transposed else x for x, name in ((a, "a"), (b, "b")))
    assert_matches(*run_both("matmul", a, b), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_batched_matmul_of_heads_split_from_a_projection(backend_name, dtype):
    """Attention's products on the heads of projections, as MultiheadAttention makes them: q (N, H, L, D) with
    rows E apart, k^T by its columns, weights @ v, and the backward's transposes; one and three leading axes too."""
    rng = np.random.default_rng(4)
    n, length, heads, d = 3, 50, 4, 16

    def split(x):  # (N, L, H * D) -> (N, H, L, D), a view
        return x.reshape(n, length, heads, d).swapaxes(1, 2)

    q, k, v = (split(random_array(rng, (n, length, heads * d), dtype)) for _ in "qkv")
    weights = random_array(rng, (n, heads, length, length), dtype)
    grad = random_array(rng, (n, heads, length, d), dtype)
    for a, b in [
        (q, np.swapaxes(k, -1, -2)),  # scores
        (weights, v),
        (grad, np.swapaxes(v, -1, -2)),  # the backward's dL/dweights
        (np.swapaxes(weights, -1, -2), grad),  # ... and dL/dv
        (q[0], np.swapaxes(k[0], -1, -2)),  # one leading axis
        (q[:, :, None], np.swapaxes(k, -1, -2)[:, :, None]),  # three
    ]:
        assert_matches(*run_both("matmul", a, b), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("with_bias", [True, False])
@pytest.mark.parametrize(
    "rows, features, outputs", [(5, 7, 6), (64, 40, 30), (300, 200, 210), (70, 256, 90), (64, 2000, 1), (400, 300, 2)]
)
def test_linear_kernels_match_the_reference(backend_name, dtype, with_bias, rows, features, outputs):
    """A linear layer's forward and its three gradients (each alone too), from tiny to long sums."""
    rng = np.random.default_rng(rows)
    x, weight = random_array(rng, (rows, features), dtype), random_array(rng, (outputs, features), dtype)
    bias = random_array(rng, (outputs,), dtype) if with_bias else None
    assert_matches(*run_both("linear_forward", x, weight, bias), dtype, summed=features)
    grad = random_array(rng, (rows, outputs), dtype)
    for needs in [(True, True, with_bias), (True, False, False), (False, True, False), (False, False, with_bias)]:
        got, expected = run_both("linear_backward", grad, x, weight, *needs)
        assert [g is None for g in got] == [not need for need in needs]
        pairs = [(g, e) for g, e in zip(got, expected) if e is not None]
        assert_matches(tuple(g for g, _ in pairs), tuple(e for _, e in pairs), dtype, summed=max(rows, outputs))


@numba_usable
@jit_compiles
@pytest.mark.parametrize("by_tiles", [True, False])
def test_numba_linear_kernels_by_tiles_or_by_blas_match_the_reference(monkeypatch, by_tiles):
    """Whether tile.gemm takes a linear layer's products depends on the machine (dot.beats_blas): both ways, with
    the weight transposed into rows first (forward), as it is (grad_x), and x^T read where it lies (grad_weight,
    with grad_bias), whatever this machine is."""
    import numba

    from kernels.numba_cpu import linalg

    monkeypatch.setattr(linalg, "beats_blas", lambda dtype: by_tiles)
    ran, run = [], linalg.run_range
    monkeypatch.setattr(linalg, "run_range", lambda kernel, *args: ran.append(kernel) or run(kernel, *args))
    previous = backend.get_backend()
    backend.set_backend("numba")
    try:
        rng = np.random.default_rng(2)
        # Sums of 300 and 700 terms (more than one tile.SUM_BLOCK), 210 and 300 columns (a tile of fewer than
        # tile.WIDTH last), blocks of 350 rows per thread (a tile of fewer than tile.ROWS last).
        x, weight, bias = (random_array(rng, shape, np.float32) for shape in ((700, 300), (210, 300), (210,)))
        assert_matches(*run_both("linear_forward", x, weight, bias), np.float32, summed=300)
        grad = random_array(rng, (700, 210), np.float32)
        got, expected = run_both("linear_backward", grad, x, weight, True, True, True)
        assert_matches(got, expected, np.float32, summed=700)
        # grad_weight's sum split over the threads, and its partial products, (210, 300) each, added up on them too
        assert (linalg._add_up in ran) == (numba.get_num_threads() > 1)
        # A weight of many rows against x's (linalg.COLUMNS_PER_THREAD): out's columns split over the threads, blocks
        # of whole tiles but the last; with a bias and without.
        wide = random_array(rng, (linalg.COLUMNS_PER_THREAD * 4 + 45, 300), np.float32)
        assert linalg._by_columns(300, 300, wide.shape[0], 2, True)
        assert_matches(*run_both("linear_forward", x[:300], wide, wide[:, 0]), np.float32, summed=300)
        assert_matches(*run_both("linear_forward", x[:300], wide, None), np.float32, summed=300)
        # A batch of 100 (linalg.SMALL_BATCH): by tiles, the forward and grad_x by out's columns split over the threads
        # (linalg.COLUMNS_PER_THREAD, SHORT_ROWS) and grad_weight's rows split over them; on AVX2 (tiles_run, which the
        # patch leaves alone) grad_weight by out's columns too (linalg.SHORT_SUM_ON_AVX2); by the BLAS elsewhere, the
        # forward and grad_x by out's columns (linalg.BLAS_ROWS), the weight and its transpose read where they lie.
        columns_by_tiles = by_tiles or linalg.tiles_run(np.dtype(np.float32))
        ran.clear()
        assert_matches(*run_both("linear_forward", x[:100], weight, bias), np.float32, summed=300)
        assert (linalg._matmul_columns_nt in ran) == columns_by_tiles
        ran.clear()
        got, expected = run_both("linear_backward", grad[:100], x[:100], weight, True, True, True)
        assert_matches(got, expected, np.float32, summed=300)
        assert (linalg._matmul_columns in ran) == columns_by_tiles
        assert (linalg._matmul_transposed_columns in ran) == (columns_by_tiles and not by_tiles)
        assert (linalg._matmul_columns_blas in ran) == (not columns_by_tiles)  # by the BLAS: columns too (BLAS_ROWS)
        # A classifier's head of 10 outputs: grad_weight's columns split over the threads, each over the whole sum,
        # by the tiles wherever they run (AVX2 too: dot.tiles_run, which beats_blas's patch leaves alone).
        head, head_grad = random_array(rng, (10, 300), np.float32), random_array(rng, (100, 10), np.float32)
        ran.clear()
        got, expected = run_both("linear_backward", head_grad, x[:100], head, True, True, True)
        assert_matches(got, expected, np.float32, summed=100)
        assert (linalg._matmul_transposed_columns in ran) == linalg.tiles_run(np.dtype(np.float32))
        # One input feature: weight^T (1, m) is C-contiguous, so the forward goes by columns too, with the bias.
        single, single_bias = random_array(rng, (1024, 1), np.float32), random_array(rng, (1024,), np.float32)
        ran.clear()
        assert_matches(*run_both("linear_forward", x[:128, :1], single, single_bias), np.float32, summed=1)
        assert (linalg._matmul_columns in ran) == columns_by_tiles
        # One or two outputs (a discriminator's logit): a matrix-vector product, NumPy's BLAS (linalg.BLAS_VECTORS).
        for outputs in (1, 2):
            ran.clear()
            assert_matches(*run_both("linear_forward", x, weight[:outputs], bias[:outputs]), np.float32, summed=300)
            assert ran == []
    finally:
        backend.set_backend(previous)


@numba_usable
@jit_compiles
def test_numba_weight_gradient_of_a_wide_layer_splits_its_sum_over_blas_calls(monkeypatch):
    """grad^T @ x for a layer of linalg.WIDE_TRANSPOSED outputs or more, over more than SMALL_BATCH rows: each
    thread's share of the sum by one BLAS call, not by tiles (which read grad^T's rows a page apart); narrower
    layers by tiles. Both match the reference."""
    from kernels.numba_cpu import linalg

    monkeypatch.setattr(linalg, "beats_blas", lambda dtype: True)
    ways = []
    real = linalg.run_range

    def recording(kernel, *args):
        if kernel is linalg._matmul_transposed:
            ways.append("tiles" if args[-1] else "blas")
        return real(kernel, *args)

    monkeypatch.setattr(linalg, "run_range", recording)
    previous = backend.get_backend()
    backend.set_backend("numba")
    try:
        rng = np.random.default_rng(3)
        for outputs in (linalg.WIDE_TRANSPOSED, linalg.WIDE_TRANSPOSED - 1):
            x, weight = random_array(rng, (300, 40), np.float32), random_array(rng, (outputs, 40), np.float32)
            grad = random_array(rng, (300, outputs), np.float32)
            got, expected = run_both("linear_backward", grad, x, weight, False, True, True)
            assert_matches(got[1:], expected[1:], np.float32, summed=300)
    finally:
        backend.set_backend(previous)
    assert ways == ["blas", "tiles"]


@numba_usable
@jit_compiles
@pytest.mark.parametrize("dtype", DTYPES)
def test_warmup_compiles_every_product_kernel(dtype):
    """tinynet warmup promises that no later call compiles: the product kernels and, where tiles replace the BLAS,
    the copy of a weight into rows."""
    import numba

    from kernels.numba_cpu import common, linalg, tile

    assert linalg.warm_up in common.WARMUPS  # so tinynet.warmup() runs it
    linalg.warm_up(np.dtype(dtype))
    float_type = numba.from_dtype(np.dtype(dtype))
    small_batch = (
        linalg._matmul_transposed_rows,
        linalg._matmul_rows_nt,
        linalg._matmul_columns_nt,
        linalg._matmul_columns,
        linalg._matmul_transposed_columns,
    )
    by_tiles = (tile.as_columns, *small_batch) if linalg.beats_blas(np.dtype(dtype)) else (linalg._matmul_columns_blas,)
    if linalg.tiles_run(np.dtype(dtype)) and not linalg.beats_blas(np.dtype(dtype)):  # AVX2: by columns only
        by_tiles = (linalg._matmul_columns_nt, linalg._matmul_columns, linalg._matmul_transposed_columns)
    products = (linalg._matmul_rows, linalg._matmul_transposed, linalg._batched_matmul)
    products += (linalg._add_up,) if numba.get_num_threads() > 1 else ()  # a split sum's partial products
    for kernel in (*products, *by_tiles):
        assert compiled_for(kernel, float_type), kernel


# --- convolution ----------------------------------------------------------------------------


@st.composite
def conv_cases(draw, transposed=False):
    """(x shape, w shape, stride, padding, [output_padding,] dilation, x contiguous?) of a valid convolution.

    One case in three is a conv1d's: unit height, a (1, K) kernel and no stride, padding or dilation in height.
    """
    n, c, o = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 4))
    unit_height = draw(st.integers(0, 2)) == 0
    kh, kw = (1 if unit_height else draw(st.integers(1, 3))), draw(st.integers(1, 3))
    stride = (1 if unit_height else draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = (0 if unit_height else draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    dilation = (1 if unit_height else draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    h, w = (1 if unit_height else draw(st.integers(1, 8))), draw(st.integers(1, 9))
    contiguous = draw(st.booleans())
    if not transposed:
        assume(all(s + 2 * p - d * (k - 1) - 1 >= 0 for s, k, p, d in zip((h, w), (kh, kw), padding, dilation)))
        return (n, c, h, w), (o, c, kh, kw), stride, padding, dilation, contiguous
    output_padding = tuple(draw(st.integers(0, max(s, d) - 1)) for s, d in zip(stride, dilation))
    geometry = zip((h, w), (kh, kw), stride, padding, output_padding, dilation)
    assume(all((size - 1) * s - 2 * p + d * (k - 1) + op + 1 >= 1 for size, k, s, p, op, d in geometry))
    return (n, c, h, w), (c, o, kh, kw), stride, padding, output_padding, dilation, contiguous


@per_backend
@pytest.mark.parametrize("dtype", DTYPES)
@given(case=conv_cases(), seed=st.integers(0, 2**32 - 1))
def test_conv2d_forward_and_backward_match_the_reference(backend_name, dtype, case, seed):
    x_shape, w_shape, stride, padding, dilation, contiguous = case
    rng = np.random.default_rng(seed)
    x, w = random_array(rng, x_shape, dtype, contiguous), random_array(rng, w_shape, dtype)
    got, expected = run_both("conv2d_forward", x, w, stride, padding, dilation)
    assert_matches(got, expected, dtype)
    grad = random_array(rng, expected.shape, dtype, contiguous)
    assert_matches(*run_both("conv2d_backward", grad, x, w, stride, padding, dilation), dtype)
    # With a bias: added to the output, and its gradient (the third result) summed over samples and pixels.
    bias, geometry = random_array(rng, w_shape[:1], dtype), (stride, padding, dilation)
    assert_matches(*run_both("conv2d_forward", x, w, *geometry, bias), dtype)
    assert_matches(*run_both("conv2d_backward", grad, x, w, *geometry, True, True), dtype)
    got, expected = run_both("conv2d_backward", grad, x, w, *geometry, False, True)  # grad_x None
    assert got[0] is None and expected[0] is None
    assert_matches(got[1:], expected[1:], dtype)


@per_backend
@pytest.mark.parametrize("dtype", DTYPES)
@given(case=conv_cases(transposed=True), seed=st.integers(0, 2**32 - 1))
def test_conv_transpose2d_forward_and_backward_match_the_reference(backend_name, dtype, case, seed):
    x_shape, w_shape, stride, padding, output_padding, dilation, contiguous = case
    geometry = (stride, padding, output_padding, dilation)
    rng = np.random.default_rng(seed)
    x, w = random_array(rng, x_shape, dtype, contiguous), random_array(rng, w_shape, dtype)
    got, expected = run_both("conv_transpose2d_forward", x, w, *geometry)
    assert_matches(got, expected, dtype)
    grad = random_array(rng, expected.shape, dtype, contiguous)
    assert_matches(*run_both("conv_transpose2d_backward", grad, x, w, *geometry), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "x_shape, w_shape, stride, padding, dilation",
    [
        # The MNIST-1D CNN's second and first layers on 61 signals: a batch that 1, 2 or 4 threads split into
        # uneven shares (a backend may multiply several short signals at once, the last group smaller).
        ((61, 25, 1, 19), (25, 25, 1, 3), (1, 2), (0, 1), (1, 1)),
        ((61, 1, 1, 40), (25, 1, 1, 5), (1, 2), (0, 1), (1, 1)),
        ((3, 4, 12, 11), (5, 4, 3, 3), (1, 2), (0, 1), (1, 1)),
        # Stride 1 on wider images, with and without dilation: backends may lay these out differently.
        ((3, 4, 12, 11), (5, 4, 3, 3), (1, 1), (1, 1), (1, 1)),
        ((2, 3, 9, 20), (4, 3, 3, 3), (1, 1), (2, 1), (2, 2)),
        # Windows of 128 values or more on images of 512 pixels or more, one of them not a multiple of 16 values
        # (15 * 3 * 3 = 135): a backend may copy each window into a row and take dot products of rows; and at
        # stride 1 it may take grad_x as such a convolution of the gradient (32 channels; O * KH * KW >= 128).
        ((2, 32, 24, 24), (16, 32, 3, 3), (1, 1), (1, 1), (1, 1)),
        ((3, 15, 30, 25), (6, 15, 3, 3), (2, 1), (1, 2), (2, 1)),
        ((2, 32, 30, 26), (24, 32, 3, 2), (1, 1), (1, 0), (2, 1)),
        # Stride 2 across on outputs of 64 pixels or more, odd and even window widths: a backend may unfold from
        # the image rows' even and odd pixels copied apart, eight at a time (outputs 11, 11 and 16 wide), and fold
        # taps j and j + 1 of a window row in one pass (the even and odd pixels of one run).
        ((3, 8, 20, 21), (6, 8, 5, 5), (2, 2), (2, 2), (1, 1)),
        ((2, 6, 19, 22), (5, 6, 3, 4), (1, 2), (1, 1), (1, 1)),
        ((2, 3, 32, 32), (4, 3, 5, 5), (2, 2), (2, 2), (1, 1)),
    ],
)
def test_convolutions_of_larger_batches_and_images(backend_name, dtype, x_shape, w_shape, stride, padding, dilation):
    rng = np.random.default_rng(0)
    x, w = random_array(rng, x_shape, dtype), random_array(rng, w_shape, dtype)
    geometry, window = (stride, padding, dilation), np.prod(w_shape[1:])  # each output sums a window's products
    out, expected = run_both("conv2d_forward", x, w, *geometry)
    assert_matches(out, expected, dtype, window)
    grad = random_array(rng, expected.shape, dtype)
    summed = out.size // out.shape[1]  # the weight gradient sums over every sample and output pixel
    assert_matches(*run_both("conv2d_backward", grad, x, w, *geometry), dtype, summed)
    bias = random_array(rng, w_shape[:1], dtype)  # and with a bias, in each way the forward and backward may take
    assert_matches(*run_both("conv2d_forward", x, w, *geometry, bias), dtype, window)
    assert_matches(*run_both("conv2d_backward", grad, x, w, *geometry, True, True), dtype, summed)
    got, expected = run_both("conv2d_backward", grad, x, w, *geometry, False, True)
    assert got[0] is None and expected[0] is None
    assert_matches(got[1:], expected[1:], dtype, summed)
    # The transposed convolution maps an input of conv2d's output shape back to x's shape: its weight is
    # (C_in, C_out, KH, KW) = w's shape. (Fresh unit-variance data: out's entries, sums of C*KH*KW products,
    # would scale up float32's rounding of the weight gradient.)
    x_t, w_t = random_array(rng, out.shape, dtype), random_array(rng, w_shape, dtype)
    output_padding = tuple(1 if s > 1 else 0 for s in stride)
    transposed = (stride, padding, output_padding, dilation)
    y, expected = run_both("conv_transpose2d_forward", x_t, w_t, *transposed)
    assert_matches(y, expected, dtype)
    grad_y = random_array(rng, expected.shape, dtype)
    summed = out.size // out.shape[1]  # the weight gradient sums over every sample and output pixel
    assert_matches(*run_both("conv_transpose2d_backward", grad_y, x_t, w_t, *transposed), dtype, summed)


# --- pooling --------------------------------------------------------------------------------


@st.composite
def pool_cases(draw):
    """(x shape, kernel_size, stride, padding, x contiguous?), padding at most half the kernel."""
    unit_height = draw(st.integers(0, 2)) == 0
    kernel = (1 if unit_height else draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    stride = (1 if unit_height else draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = tuple(draw(st.integers(0, k // 2)) for k in kernel)
    h = 1 if unit_height else draw(st.integers(max(1, kernel[0] - 2 * padding[0]), 8))
    w = draw(st.integers(max(1, kernel[1] - 2 * padding[1]), 9))
    return (draw(st.integers(1, 3)), draw(st.integers(1, 3)), h, w), kernel, stride, padding, draw(st.booleans())


@per_backend
@pytest.mark.parametrize("dtype", DTYPES)
@given(case=pool_cases(), seed=st.integers(0, 2**32 - 1), specials=st.sampled_from(["none", "nan", "-inf", "both"]))
def test_max_pool2d_matches_the_reference_exactly(backend_name, dtype, case, seed, specials):
    x_shape, kernel, stride, padding, contiguous = case
    rng = np.random.default_rng(seed)
    # Few distinct values, so windows often hold their maximum twice: the first one must win.
    x = random_array(rng, x_shape, dtype, contiguous).round()
    if specials in ("nan", "both"):
        x[tuple(rng.integers(0, s) for s in x_shape)] = np.nan
    if specials in ("-inf", "both"):
        x[0, 0] = -np.inf  # whole windows of -inf, padding included
    (out, argmax), (expected_out, expected_argmax) = run_both("max_pool2d_forward", x, kernel, stride, padding)
    assert out.dtype == expected_out.dtype and argmax.dtype == expected_argmax.dtype
    np.testing.assert_array_equal(out, expected_out)
    np.testing.assert_array_equal(argmax, expected_argmax)
    grad = random_array(rng, out.shape, dtype, contiguous)
    args = (grad, expected_argmax, x_shape, kernel, stride, padding)
    assert_matches(*run_both("max_pool2d_backward", *args), dtype)


@per_backend
@pytest.mark.parametrize("dtype", DTYPES)
@given(case=pool_cases(), seed=st.integers(0, 2**32 - 1))
def test_avg_pool2d_matches_the_reference(backend_name, dtype, case, seed):
    x_shape, kernel, stride, padding, contiguous = case
    rng = np.random.default_rng(seed)
    x = random_array(rng, x_shape, dtype, contiguous)
    got, expected = run_both("avg_pool2d_forward", x, kernel, stride, padding)
    assert_matches(got, expected, dtype)
    grad = random_array(rng, expected.shape, dtype, contiguous)
    assert_matches(*run_both("avg_pool2d_backward", grad, x_shape, kernel, stride, padding), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "x_shape, kernel, stride, padding",
    [
        ((2, 3, 7, 9), (2, 2), (2, 2), (0, 0)),  # 2x2 windows: an odd last row and column in no window
        ((2, 3, 8, 6), (2, 2), (2, 2), (0, 0)),
        ((2, 3, 16, 16), (16, 16), (16, 16), (0, 0)),  # a global average pool: one window, the whole image
        ((2, 3, 5, 12), (5, 12), (1, 1), (0, 0)),  # windows as wide as the image
        ((2, 3, 9, 10), (3, 3), (2, 2), (1, 1)),  # padded windows, cut at the border
    ],
)
def test_avg_pool2d_shapes_that_kernels_may_take_their_own_way(backend_name, dtype, x_shape, kernel, stride, padding):
    """A backend may write 2x2 windows' taps out, or sum a window's rows as one run where it spans the image."""
    rng = np.random.default_rng(0)
    x = random_array(rng, x_shape, dtype)
    got, expected = run_both("avg_pool2d_forward", x, kernel, stride, padding)
    assert_matches(got, expected, dtype)
    grad = random_array(rng, expected.shape, dtype)
    assert_matches(*run_both("avg_pool2d_backward", grad, x_shape, kernel, stride, padding), dtype)


# --- the numba kernels as plain Python ------------------------------------------------------

_PLAIN_PYTHON_CHECK = """
import numpy as np
from kernels import numba_cpu, numpy_ref

rng = np.random.default_rng(0)
x, w = rng.standard_normal((3, 2, 5, 4)), rng.standard_normal((3, 2, 2, 3))
w_t = rng.standard_normal((2, 3, 2, 2))
grad = numpy_ref.conv2d_forward(x, w, (1, 2), (1, 1), (2, 1))
grad_t = numpy_ref.conv_transpose2d_forward(x, w_t, (2, 1), (1, 0), (1, 0), (1, 2))
pool = ((2, 3), (1, 2), (1, 1))
_, argmax = numpy_ref.max_pool2d_forward(x, *pool)
pooled = rng.standard_normal(argmax.shape)
calls = {
    "matmul": (rng.standard_normal((3, 60, 30)), np.swapaxes(rng.standard_normal((3, 20, 30)), -1, -2)),
    "conv2d_forward": (x, w, (1, 2), (1, 1), (2, 1)),
    "conv2d_backward": (grad, x, w, (1, 2), (1, 1), (2, 1)),
    "conv_transpose2d_forward": (x, w_t, (2, 1), (1, 0), (1, 0), (1, 2)),
    "conv_transpose2d_backward": (grad_t, x, w_t, (2, 1), (1, 0), (1, 0), (1, 2)),
    "max_pool2d_forward": (x, *pool),
    "max_pool2d_backward": (pooled, argmax, x.shape, *pool),
    "avg_pool2d_forward": (x, *pool),
    "avg_pool2d_backward": (pooled, x.shape, *pool),
}
for name, args in calls.items():
    got, expected = getattr(numba_cpu, name)(*args), getattr(numpy_ref, name)(*args)
    if not isinstance(got, tuple):
        got, expected = (got,), (expected,)
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=1e-10, atol=1e-12)
print("checked", len(calls))
"""


def test_the_numba_kernels_also_run_as_plain_python():
    """NUMBA_DISABLE_JIT=1 (for stepping through a kernel in a debugger) must give the same results."""
    usable, reason = backend.status("numba")
    if not usable:
        pytest.skip(reason)
    result = subprocess.run(
        [sys.executable, "-c", _PLAIN_PYTHON_CHECK],
        capture_output=True,
        text=True,
        env={**os.environ, "NUMBA_DISABLE_JIT": "1"},
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "checked 9"


@numba_usable
@jit_compiles
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("m, k, n", [(8, 16, 4), (7, 200, 5), (9, 676, 32), (1, 3, 1), (5, 0, 6)])
def test_dot_nt_adds_the_product_of_rows(dtype, m, k, n):
    """dot_nt's 4 x 4 blocks and the rows and columns left over at the edges."""
    from kernels.numba_cpu.dot import dot_nt

    rng = np.random.default_rng(m * k + n)
    a, bt, c = (random_array(rng, shape, dtype) for shape in ((m, k), (n, k), (m, n)))
    expected = c + a.astype(np.float64) @ bt.T.astype(np.float64)
    dot_nt(a, bt, c)
    assert_matches(c, expected.astype(dtype), dtype, summed=k)


@numba_usable
@pytest.mark.parametrize(
    "k, n, start, stop, width", [(2048, 256, 0, 256, 300), (700, 64, 512, 700, 256), (9, 7, 0, 9, 9), (5, 3, 1, 4, 8)]
)
def test_as_columns_turns_a_block_of_rows_into_columns(k, n, start, stop, width):
    """tile.as_columns: rows start..stop of x as the first columns of out, 8 rows at a time and the rows left
    over one by one, and zeros in the columns after them (the padding of the last chunk of a weight gradient)."""
    from kernels.numba_cpu.tile import as_columns

    x = np.random.default_rng(k + n).standard_normal((k, n)).astype(np.float32)
    out = np.full((n, width), np.nan, np.float32)
    as_columns(x, start, stop, out)
    expected = np.zeros((n, width), np.float32)
    expected[:, : stop - start] = x[start:stop].T
    np.testing.assert_array_equal(out, expected)


@numba_usable
@jit_compiles
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("by_tiles", [True, False])
def test_numba_convolutions_by_tiles_or_by_blas_match_the_reference(monkeypatch, dtype, by_tiles):
    """Whether tiles and dot_nt replace BLAS depends on the machine (dot.beats_blas): both ways, whatever this one
    is."""
    from kernels.numba_cpu import conv

    monkeypatch.setattr(conv, "beats_blas", lambda dtype: by_tiles)
    previous = backend.get_backend()
    backend.set_backend("numba")
    try:
        rng = np.random.default_rng(1)
        cases = [((2, 32, 24, 24), (16, 32, 3, 3), (1, 1), (1, 1), (1, 1)),  # in place, grad_x too
                 ((2, 32, 30, 26), (24, 32, 3, 2), (1, 1), (1, 0), (2, 1)),
                 ((3, 15, 30, 25), (6, 15, 3, 3), (2, 1), (1, 2), (2, 1)),  # long sums of 6 channels: dot_nt
                 ((2, 4, 34, 34), (64, 4, 4, 4), (2, 2), (1, 1), (1, 1))]  # of 64 (DOT_NT_BELOW): tiles  # fmt: skip
        for x_shape, w_shape, *geometry in cases:
            in_place = by_tiles and dtype == np.float32 and geometry[0] == (1, 1)  # windows read where they lie
            assert conv._in_place(x_shape[0], int(np.prod(w_shape[1:])), 600, 2, geometry[0], dtype) is in_place
            x, w = random_array(rng, x_shape, dtype), random_array(rng, w_shape, dtype)
            out, expected = run_both("conv2d_forward", x, w, *geometry)
            assert_matches(out, expected, dtype, summed=int(np.prod(w_shape[1:])))
            grad = random_array(rng, expected.shape, dtype)
            summed = out.size // out.shape[1]
            assert_matches(*run_both("conv2d_backward", grad, x, w, *geometry), dtype, summed)
    finally:
        backend.set_backend(previous)


@numba_usable
@jit_compiles
@pytest.mark.parametrize(
    "x_shape, w_shape, padding",
    [((2, 16, 28, 28), (32, 16, 3, 3), (1, 1)),  # the bench's conv2d, one sample a thread
     ((3, 8, 17, 33), (5, 8, 3, 3), (0, 0)),  # odd sizes: the last tiles cut in both directions (3 rows of 4)
     ((2, 8, 19, 18), (4, 8, 3, 3), (0, 1)),  # 17 output rows: a last tile row of one
     ((1, 8, 16, 70), (6, 8, 3, 3), (2, 1)),  # two chunks of tiles per row; one sample for two threads
     ((2, 32, 30, 18), (16, 32, 3, 3), (1, 2)),  # unequal padding
     ((1, 8, 16, 20), (4, 8, 3, 3), (3, 0)),  # padding past the kernel: rows of outputs that see only zeros
     ((1, 32, 60, 20), (32, 32, 3, 3), (1, 1))],  # bands of 8 and 7 tile rows (winograd.BAND_BYTES)
)  # fmt: skip
def test_numba_winograd_convolutions_match_the_reference(x_shape, w_shape, padding):
    """3x3 kernels at stride 1 (float32, by tiles) take Winograd's F(4x2, 3x3) (winograd.py): the forward with its
    bias, and the backward's three gradients, through tiles cut at the image's edges, against the reference in
    float64."""
    import numba

    from kernels.numba_cpu import conv

    if not conv.tiles_run(np.dtype(np.float32)):
        pytest.skip("Winograd's tiles are vector code for CPUs with AVX2 or AVX-512 (dot.tiles_run)")
    rng = np.random.default_rng(sum(x_shape))
    x, w = random_array(rng, x_shape, np.float32), random_array(rng, w_shape, np.float32) / np.float32(12)
    bias, geometry = random_array(rng, w_shape[:1], np.float32), ((1, 1), padding, (1, 1))
    plan = conv._plan(x.shape, w.shape, None, x.dtype, *geometry, numba.get_num_threads(), 1)
    assert plan.winograd
    wide = [a.astype(np.float64) for a in (x, w, bias)]
    out, expected = (
        conv.conv2d_forward(x, w, *geometry, bias=bias),
        numpy_ref.conv2d_forward(*wide[:2], *geometry, bias=wide[2]),
    )
    assert_matches(out, expected.astype(np.float32), np.float32, summed=9 * w_shape[1])
    grad = random_array(rng, out.shape, np.float32)
    assert conv._plan(x.shape, w.shape, out.shape[2:], x.dtype, *geometry, numba.get_num_threads(), 2).winograd
    grads = conv.conv2d_backward(grad, x, w, *geometry, bias_grad=True)
    expected = numpy_ref.conv2d_backward(grad.astype(np.float64), *wide[:2], *geometry, bias_grad=True)
    assert_matches(grads, tuple(e.astype(np.float32) for e in expected), np.float32, summed=out[0, 0].size * len(x))


@numba_usable
def test_winograd_takes_3x3_convolutions_of_few_enough_channels():
    """The plan's choice: 3x3 at stride 1 and dilation 1 where the shapes suit windows read in place, and no more
    than winograd.MAX_CHANNEL_PAIRS (output, input) pairs: beyond, its transformed weight outgrows the L2 cache and
    the direct kernel is faster (measured 1.21x and 2.57x). On AVX2 (no AVX-512) Winograd's tiles run, and the direct
    in-place kernel does not (dot.beats_blas)."""
    import numba

    from kernels.numba_cpu import conv, winograd

    if not conv.tiles_run(np.dtype(np.float32)):
        pytest.skip("Winograd's tiles are vector code for CPUs with AVX2 or AVX-512 (dot.tiles_run)")

    def takes(x_shape, w_shape, stride=(1, 1), dilation=(1, 1), dtype=np.float32):
        geometry = (stride, (1, 1), dilation)
        return conv._plan(x_shape, w_shape, None, np.dtype(dtype), *geometry, numba.get_num_threads(), 1).winograd

    assert takes((64, 16, 28, 28), (32, 16, 3, 3)) and takes((32, 128, 16, 16), (128, 128, 3, 3))
    assert winograd.MAX_CHANNEL_PAIRS < 256 * 256 and not takes((8, 256, 28, 28), (256, 256, 3, 3))
    assert not takes((64, 16, 28, 28), (32, 16, 3, 3), stride=(2, 2))
    assert not takes((64, 16, 28, 28), (32, 16, 3, 3), dilation=(2, 2))
    assert not takes((64, 16, 28, 28), (32, 16, 5, 5))
    assert not takes((64, 16, 28, 28), (32, 16, 3, 3), dtype=np.float64)
    assert not takes((64, 3, 28, 28), (32, 3, 3, 3))  # windows of 27 values: the direct kernel
    five_by_five = conv._plan((64, 16, 28, 28), (32, 16, 5, 5), None, np.dtype(np.float32), (1, 1), (2, 2), (1, 1),
                              numba.get_num_threads(), 1)  # fmt: skip
    assert five_by_five.in_place is conv.beats_blas(np.dtype(np.float32))


@numba_usable
@jit_compiles
def test_winograd_weight_transforms_are_adjoint():
    """winograd.weight_from_tiles is weight_tiles's adjoint (dW = G_H^T dU G_W for U = G_H g G_W^T): <U(w), dU>
    equals <w, dW(dU)>, which is what makes the weight gradient the forward's."""
    from kernels.numba_cpu import winograd

    rng = np.random.default_rng(3)
    planes = winograd.PLANES
    w, du = rng.standard_normal((5, 4, 3, 3)).astype(np.float32), rng.standard_normal((planes, 5, 4)).astype(np.float32)
    u, dw = winograd.weight_tiles(w), winograd.weight_from_tiles(du)
    assert u.shape == (planes, 5, 4) and dw.shape == w.shape
    np.testing.assert_allclose(np.vdot(u.astype(np.float64), du), np.vdot(w.astype(np.float64), dw), rtol=1e-5)
    g_h, g_w = np.array(winograd._G_H), np.array(winograd._G_W)
    np.testing.assert_allclose(u[:, 2, 1].reshape(g_h.shape[0], g_w.shape[0]), g_h @ w[2, 1] @ g_w.T, rtol=1e-6)


@numba_usable
@jit_compiles
@pytest.mark.parametrize("dtype", DTYPES)
def test_warmup_compiles_every_convolution_kernel(dtype):
    """tinynet warmup promises that no later call compiles: the pass over lanes, and the in-place and Winograd
    kernels where tiles replace the BLAS."""
    import numba

    from kernels.numba_cpu import common, conv

    assert conv.warm_up in common.WARMUPS  # so tinynet.warmup() runs it
    conv.warm_up(np.dtype(dtype))
    float_type = numba.from_dtype(np.dtype(dtype))
    tiles, winograd = conv.beats_blas(np.dtype(dtype)), conv.tiles_run(np.dtype(dtype))
    kernels = (conv._convolve_batch, *[conv._in_place_batch] * tiles, *[conv.winograd.winograd_batch] * winograd)
    for kernel in kernels:
        assert compiled_for(kernel, float_type), kernel
    # The per-thread bodies, compiled once as C functions that the kernels call by name (by_name).
    assert conv._SAMPLES[float_type].compiled is not None
    assert conv._IN_PLACE.compiled is not None or not tiles
    assert conv.winograd.WINOGRAD.compiled is not None or not winograd


@numba_usable
@jit_compiles
@pytest.mark.parametrize("dtype", DTYPES)
def test_warmup_compiles_every_pooling_kernel(dtype):
    """tinynet warmup promises that no later call compiles: the 2x2 pools' kernels and the general ones."""
    import numba

    from kernels.numba_cpu import common, pooling

    assert pooling.warm_up in common.WARMUPS  # so tinynet.warmup() runs it
    pooling.warm_up(np.dtype(dtype))
    float_type = numba.from_dtype(np.dtype(dtype))
    kernels = [value for name, value in vars(pooling).items() if name.startswith("_") and hasattr(value, "body")]
    assert len(kernels) == 7, [kernel.py_func.__name__ for kernel in kernels]  # every threaded kernel, found
    for kernel in kernels:
        assert compiled_for(kernel, float_type), kernel.py_func.__name__


@numba_usable
@jit_compiles
def test_threaded_convolution_kernels_call_their_body_by_name():
    """The threaded kernels compile a call to their C function, not the body again (most of conv's compile time
    saved): compiled afresh (the cached code cannot be inspected), a kernel's body names its C function and holds
    none of the body's products."""
    from kernels.numba_cpu import conv
    from kernels.numba_cpu.common import numba

    conv.warm_up(np.dtype(np.float32))
    kernels = [(conv._convolve_batch, conv._SAMPLES[numba.float32].name)]
    if conv.beats_blas(np.dtype(np.float32)):
        kernels.append((conv._in_place_batch, conv._IN_PLACE.name))
    if conv.tiles_run(np.dtype(np.float32)):
        kernels.append((conv.winograd.winograd_batch, conv.winograd.WINOGRAD.name))
    for kernel, name in kernels:  # range kernels: (threaded, start, stop, *arrays); the body (start, stop, *arrays)
        signature = next(s for s in kernel.signatures if s[3].dtype == numba.float32)
        signature = (numba.intp, numba.intp, *signature[3:])
        fresh = numba.njit(kernel.body)
        fresh.compile(signature)
        code = fresh.inspect_llvm(signature)
        assert name in code
        assert "tinynet_tile_gemm_float32" not in code and "numba_xxgemm" not in code  # products: the body's


@numba_usable
@jit_compiles
def test_by_name_compiles_once_and_publishes_the_name():
    from llvmlite import binding

    from kernels.numba_cpu.by_name import ByName
    from kernels.numba_cpu.common import numba

    def twice(x):
        return 2.0 * x

    function = ByName("tinynet_test_twice", numba.float64(numba.float64), twice)
    assert function.compiled is None and binding.address_of_symbol(function.name) is None
    function.ready()
    compiled = function.compiled
    function.ready()
    assert function.compiled is compiled and compiled.ctypes(1.5) == 3.0
    assert binding.address_of_symbol(function.name) == compiled.address

    external = function.external

    @numba.njit
    def call(x):
        return external(x)

    assert call(4.0) == 8.0


@numba_usable
def test_tinynet_info_says_who_takes_the_long_products():
    from kernels.numba_cpu import describe, dot

    text = describe()["products"]
    assert ("tiles" in text and "dot_nt" in text) is dot.beats_blas(np.dtype(np.float32)) and "OpenBLAS" in text


@numba_usable
@pytest.mark.parametrize("threads", [1, 2])
def test_numba_bias_gradient_is_rounded_once(threads):
    """The bias's gradient sums N * OH * OW terms per channel: the numba kernels add them in float64 and round the
    total (per thread, then across threads), within 2 ulp of the exact sum. A float32 running sum drifted about 1e-6
    from NumPy's, and training amplified that: lesson 18's MNIST-1D run on 2 threads left NumPy's losses by 1e-3."""
    import numba

    from kernels.numba_cpu import conv

    rng = np.random.default_rng(3)
    x, w = rng.standard_normal((61, 25, 1, 19), np.float32), rng.standard_normal((25, 25, 1, 3), np.float32)
    grad = rng.standard_normal((61, 25, 1, 10), np.float32) + np.float32(0.37)
    geometry = ((1, 2), (0, 1), (1, 1))
    before = numba.get_num_threads()
    numba.set_num_threads(threads)
    try:
        got = conv.conv2d_backward(grad, x, w, *geometry, True, True)[2]
    finally:
        numba.set_num_threads(before)
    exact = grad.astype(np.float64).sum(axis=(0, 2, 3))
    assert got.dtype == np.float32
    assert np.all(np.abs(got - exact) <= 2 * np.spacing(np.abs(exact).astype(np.float32)))


@numba_usable
def test_numba_sends_tiny_convolutions_to_the_reference(monkeypatch):
    """Under conv.TINY_MACS multiply-adds (a gradient check's convolution), numba's conv2d is the reference's: the
    same numbers, and none of numba's convolution kernels called (nor compiled); from the threshold on, its own."""
    from kernels.numba_cpu import conv

    def numba_kernel(*args, **kwargs):
        raise AssertionError("numba's convolution kernel ran")

    monkeypatch.setattr(conv, "_convolve", numba_kernel)
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal((2, 3, 7, 7)), rng.standard_normal((4, 3, 3, 3))
    geometry = ((2, 2), (1, 1), (1, 1))
    out = conv.conv2d_forward(x, w, *geometry)
    np.testing.assert_array_equal(out, numpy_ref.conv2d_forward(x, w, *geometry))
    grads = conv.conv2d_backward(np.ones_like(out), x, w, *geometry, bias_grad=True)
    for got, want in zip(grads, numpy_ref.conv2d_backward(np.ones_like(out), x, w, *geometry, bias_grad=True)):
        np.testing.assert_array_equal(got, want)
    monkeypatch.setattr(conv, "TINY_MACS", x.size * w[0].size * w.shape[0] // w.shape[1])  # this one, not tiny
    with pytest.raises(AssertionError, match="numba's convolution kernel ran"):
        conv.conv2d_forward(x, w, *geometry)


@numba_usable
def test_convolution_products_take_tiles_where_they_beat_the_blas():
    """_convolve's plan: every product by tiles where they beat the BLAS (dot.beats_blas: AVX-512); on AVX2, the
    forward's a @ cols alone (OpenBLAS's AVX2 kernels beat them on the backward's products); float64 and CPUs
    without AVX2 take the BLAS."""
    from kernels.numba_cpu import conv, dot

    if conv.beats_blas(np.dtype(np.float32)):
        expected = conv.ALL_TILES
    elif dot.tiles_run(np.dtype(np.float32)):
        expected = conv.FORWARD_TILES
    else:
        expected = conv.NO_TILES
    plan = conv._pass_plan(np.dtype(np.float32), 100, 75, 10, 2, 25)
    assert plan.tiles == expected
    assert conv._pass_plan(np.dtype(np.float64), 100, 75, 10, 2, 25).tiles == conv.NO_TILES
    assert plan.long_sum == (conv.LONG_SUM if plan.tiles == conv.ALL_TILES else conv.NEVER)
    # long sums of many channels by tiles, as the short ones (DOT_NT_BELOW)
    assert conv._pass_plan(np.dtype(np.float32), 100, 75, 10, 2, conv.DOT_NT_BELOW).long_sum == conv.NEVER
