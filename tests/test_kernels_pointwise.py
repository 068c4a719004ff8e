"""Activation, softmax-family, cross-entropy, layer-norm, scatter-add and optimizer-step kernels of every
backend against the reference kernels (the spec).

Each test draws shapes and data with hypothesis, runs the active backend's kernel and ``kernels.numpy_ref``'s
on the same inputs, and compares: float32 within its rounding, float64 tightly, dtypes exactly. The draws
include size-1 axes, non-contiguous inputs, large logits, -inf and NaN entries, fully masked rows and
repeated indices. Then: the numba kernels run as plain Python (NUMBA_DISABLE_JIT=1), warm up, and load from
a read-only copy of the package.
"""

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from device import to_device, to_host
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numba_marks import compiled_for, jit_compiles, numba_usable

import kernels
from kernels import numpy_ref
from tinynet import backend

# The `backend_name` fixture only switches the backend for the whole test: sharing it across examples is fine.
per_backend = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])

DTYPES = [np.float32, np.float64]
TOLERANCE = {np.float32: dict(rtol=1e-4, atol=1e-5), np.float64: dict(rtol=1e-10, atol=1e-12)}
LAYOUTS = ["contiguous", "transposed", "strided"]

shapes = st.lists(st.integers(1, 6), min_size=1, max_size=3).map(tuple)
seeds = st.integers(0, 2**32 - 1)


def assert_matches(got, expected, dtype):
    """Same shapes, same dtypes, same values (within the dtype's tolerance; NaN equals NaN), output by output."""
    got = got if isinstance(got, tuple) else (got,)
    expected = expected if isinstance(expected, tuple) else (expected,)
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert isinstance(g, np.ndarray) and g.shape == e.shape and g.dtype == e.dtype, (g.shape, e.shape, g.dtype)
        np.testing.assert_allclose(g, e, **TOLERANCE[dtype])


def random_array(rng, shape, dtype, layout="contiguous", scale=1.0):
    """Normal data of ``shape``: contiguous, a transposed view, or a view skipping every other element."""
    if layout == "transposed":
        return (scale * rng.standard_normal(shape[::-1])).astype(dtype).T
    if layout == "strided":
        return (scale * rng.standard_normal((*shape[:-1], 2 * shape[-1]))).astype(dtype)[..., ::2]
    return (scale * rng.standard_normal(shape)).astype(dtype)


def sprinkle(rng, a, values):
    """``a`` with a few random entries set (in place, whatever its strides) to the given special values."""
    for value in values:
        a[tuple(rng.integers(size) for size in a.shape)] = value
    return a


def run_both(kernel, *args, **options):
    """(active backend's result, reference's result), after checking that the backend's kernel left its
    inputs as they were."""
    copies = tuple(a.copy() if isinstance(a, np.ndarray) else a for a in args)
    device_args = to_device(args)
    got = to_host(getattr(backend.active(), kernel)(*device_args, **options))
    for a, copy in zip(to_host(device_args), copies):
        if isinstance(a, np.ndarray):
            np.testing.assert_array_equal(a, copy, err_msg=f"{kernel} wrote into its input")
    return got, getattr(numpy_ref, kernel)(*copies, **options)


# --- activations ----------------------------------------------------------------------------


@per_backend
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["relu", "sigmoid", "tanh", "gelu", "silu"])
@given(shape=shapes, layout=st.sampled_from(LAYOUTS), specials=st.booleans(), seed=seeds)
def test_activations_match_the_reference(backend_name, name, dtype, shape, layout, specials, seed):
    rng = np.random.default_rng(seed)
    # Scale 10 reaches both tails of sigmoid and tanh (and exp's underflow), 0.01 the cancellation near 0.
    x = random_array(rng, shape, dtype, layout, scale=rng.choice([0.01, 1.0, 10.0]))
    if specials:
        x = sprinkle(rng, x, [0.0, np.inf, -np.inf, np.nan, 1e-30])
    grad = random_array(rng, shape, dtype, layout)
    assert_matches(*run_both(f"{name}_forward", x), dtype)
    saved = x if name in ("relu", "gelu", "silu") else getattr(numpy_ref, f"{name}_forward")(x)  # backward's input
    assert_matches(*run_both(f"{name}_backward", grad, saved), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_activations_of_many_values_match_the_reference(backend_name, dtype, layout):
    """Past the sizes the property test draws: the numba kernels leave arrays of fewer than
    activations.UFUNCS_BELOW values to NumPy's ufuncs, so their own loops run from there on."""
    rng = np.random.default_rng(7)
    x = sprinkle(rng, random_array(rng, (96, 64), dtype, layout, scale=3.0), [0.0, np.inf, -np.inf, np.nan])
    grad = random_array(rng, (96, 64), dtype, layout)
    for name in ("relu", "sigmoid", "tanh", "gelu", "silu"):
        assert_matches(*run_both(f"{name}_forward", x), dtype)
        saved = x if name in ("relu", "gelu", "silu") else getattr(numpy_ref, f"{name}_forward")(x)
        assert_matches(*run_both(f"{name}_backward", grad, saved), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_activations_match_the_reference_across_the_whole_range(backend_name, dtype):
    # Dense sweep: every branch of the exp approximation (underflow, both signs, tiny and huge inputs).
    x = np.concatenate([np.linspace(-800, 800, 4001), np.geomspace(1e-12, 30, 2000)]).astype(dtype)
    x = np.concatenate([x, -x])
    for name in ("sigmoid", "tanh", "gelu", "silu"):
        assert_matches(*run_both(f"{name}_forward", x), dtype)
    assert_matches(*run_both("silu_backward", np.ones_like(x), x), dtype)


@per_backend
@pytest.mark.parametrize("dtype", DTYPES)
@given(
    shape=st.sampled_from([(1,), (3, 5), (70, 64), (2, 40, 60)]),  # from 50,000 units of work, numba's threads
    layout=st.sampled_from(LAYOUTS),
    weighted=st.booleans(),
    specials=st.booleans(),
    seed=seeds,
)
def test_bce_with_logits_matches_the_reference(backend_name, dtype, shape, layout, weighted, specials, seed):
    """Logits of 1e-30 to 1e4 of either sign, targets in [0, 1] and at 0 and 1, a pos_weight per class (the last
    dim) or none; with specials, inf and NaN logits."""
    rng = np.random.default_rng(seed)
    x = random_array(rng, shape, dtype, layout, scale=rng.choice([0.01, 1.0, 30.0]))
    x = sprinkle(rng, x, [1e4, -1e4, 1e-30, *([np.inf, -np.inf, np.nan] if specials else [])])
    target = sprinkle(rng, rng.random(shape).astype(dtype), [0.0, 1.0])
    pos_weight = (rng.random(shape[-1]) * 3).astype(dtype) if weighted else None
    grad = random_array(rng, shape, dtype, layout)
    assert_matches(*run_both("bce_with_logits_forward", x, target, pos_weight), dtype)
    assert_matches(*run_both("bce_with_logits_backward", grad, x, target, pos_weight), dtype)


@per_backend
@pytest.mark.parametrize("dtype", DTYPES)
@given(
    shape=st.sampled_from([(3, 5), (70, 64), (2, 40, 60)]),  # from 64 * 64 values, numba's own loops (UFUNCS_BELOW)
    layout=st.sampled_from(LAYOUTS),
    bounds=st.sampled_from([(0.0, 6.0), (-1.0, 1.0), (-0.5, -0.25), (2, 2)]),
    seed=seeds,
)
def test_hardtanh_matches_the_reference_at_and_between_its_bounds(backend_name, dtype, shape, layout, bounds, seed):
    rng = np.random.default_rng(seed)
    x = random_array(rng, shape, dtype, layout, scale=4.0)
    x = sprinkle(rng, x, [*bounds, np.inf, -np.inf, np.nan])  # at a bound itself: no gradient
    grad = sprinkle(rng, random_array(rng, shape, dtype, layout), [np.inf])
    assert_matches(*run_both("hardtanh_forward", x, *bounds), dtype)
    assert_matches(*run_both("hardtanh_backward", grad, x, *bounds), dtype)


@per_backend
@pytest.mark.parametrize("dtype", DTYPES)
@given(
    shape=st.sampled_from([(3, 5), (70, 64), (2, 40, 60)]),  # numba's own loops at every size
    layout=st.sampled_from(LAYOUTS),
    slope=st.sampled_from([0.01, 0.2, 1.5, -0.3, 0.0]),
    seed=seeds,
)
def test_leaky_relu_matches_the_reference_on_both_sides_of_zero(backend_name, dtype, shape, layout, slope, seed):
    rng = np.random.default_rng(seed)
    x = sprinkle(rng, random_array(rng, shape, dtype, layout, scale=3.0), [0.0, -0.0, np.inf, -np.inf, np.nan])
    grad = sprinkle(rng, random_array(rng, shape, dtype, layout), [np.inf, np.nan])
    for got, expected in (run_both("leaky_relu_forward", x, slope), run_both("leaky_relu_backward", grad, x, slope)):
        assert_matches(got, expected, dtype)  # and exactly: a pick or one product, as the reference, signed zeros too
        np.testing.assert_array_equal(got, expected)
        np.testing.assert_array_equal(np.signbit(got), np.signbit(expected))


@per_backend
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["hardswish", "hardsigmoid"])
@given(shape=st.sampled_from([(3, 5), (70, 64), (2, 40, 60)]), layout=st.sampled_from(LAYOUTS), seed=seeds)
def test_hard_activations_match_the_reference_at_their_corners(backend_name, dtype, name, shape, layout, seed):
    """hardswish and hardsigmoid: values at and around -3 and 3 (where the pieces meet, and the gradient takes
    PyTorch's side), NaN and infinities, exactly as the reference (the same operations in the same order)."""
    rng = np.random.default_rng(seed)
    x = sprinkle(rng, random_array(rng, shape, dtype, layout, scale=4.0), [-3.0, 3.0, np.nan, np.inf, -np.inf])
    grad = sprinkle(rng, random_array(rng, shape, dtype, layout), [np.inf])
    for got, expected in (run_both(f"{name}_forward", x), run_both(f"{name}_backward", grad, x)):
        assert_matches(got, expected, dtype)
        np.testing.assert_array_equal(got, expected)


# --- softmax family and cross-entropy -------------------------------------------------------


@numba_usable
@jit_compiles
def test_erfc_keeps_float32_within_eight_units_of_its_rounding():
    """GELU's compiled erfc (a Chebyshev fit, in float32 since it ran 1.7x as fast so): relative error against the
    float64 erfc over the range where the result is a normal float32, the tails and special values included: at most
    8 * 2^-24 (measured 6.9 on 220,000 points; the fit evaluated in float64 stayed within 3)."""
    import math

    import numba

    from kernels.numba_cpu.common import erfc

    compiled = numba.njit(lambda x: erfc(x))
    rng = np.random.default_rng(5)
    x = np.concatenate([np.linspace(-10, 9.1, 20001), rng.standard_normal(2000), [0.0, -0.0, 1e-30, -1e-30]])
    for value in x.astype(np.float32):
        got, exact = compiled(value), math.erfc(float(value))
        assert abs(got - exact) <= 8 * 2.0**-24 * exact, (value, got, exact)
    assert compiled(np.float32(np.inf)) == 0 and compiled(np.float32(-np.inf)) == 2
    assert np.isnan(compiled(np.float32(np.nan)))
    assert compiled.nopython_signatures[0].return_type == numba.float32  # it stays in float32
    assert compiled(1.5) == math.erfc(1.5)  # float64: libm's, to the bit


@per_backend
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@given(shape=shapes, data=st.data(), layout=st.sampled_from(LAYOUTS), minus_inf=st.booleans(), seed=seeds)
def test_softmax_family_matches_the_reference(backend_name, name, dtype, shape, data, layout, minus_inf, seed):
    rng = np.random.default_rng(seed)
    axis = data.draw(st.integers(-len(shape), len(shape) - 1), label="axis")
    x = random_array(rng, shape, dtype, layout, scale=rng.choice([1.0, 50.0]))  # 50: exp(x) alone overflows
    if minus_inf:
        x = sprinkle(rng, x, [-np.inf])
    assert_matches(*run_both(f"{name}_forward", x, axis), dtype)
    y = getattr(numpy_ref, f"{name}_forward")(x, axis)
    grad = random_array(rng, shape, dtype, layout)
    assert_matches(*run_both(f"{name}_backward", grad, y, axis), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.parametrize(
    "shape, axis",
    [((3, 10, 8, 5), 1), ((7, 300), 0), ((2, 5, 17), 1), ((4, 3, 20), -2), ((3, 4, 9, 2), 1)],
)
@pytest.mark.parametrize("specials", [(), (-np.inf,), (np.nan, np.inf)])
def test_softmax_family_along_an_axis_whose_rows_lie_far_apart(backend_name, dtype, name, shape, axis, specials):
    """A class axis of (N, C, H, W) scores: a backend may run along the other axes in blocks (numba's columns, from 16
    numbers apart, blocks of 256: 300 columns make a short last block), with NaN, inf and -inf as the reference."""
    rng = np.random.default_rng(len(shape) * 10 + axis)
    x = sprinkle(rng, random_array(rng, shape, dtype, scale=20.0), specials)
    assert_matches(*run_both(f"{name}_forward", x, axis), dtype)
    y = getattr(numpy_ref, f"{name}_forward")(x, axis)
    grad = random_array(rng, shape, dtype)
    assert_matches(*run_both(f"{name}_backward", grad, y, axis), dtype)


@numba_usable
@jit_compiles
@pytest.mark.parametrize("dtype", DTYPES)
def test_row_max_orders_floats_by_their_bits(dtype):
    """The softmax kernels' max compares bits as integers: every sign, zero, infinity, subnormal and length
    (the vector loop and its remainder), against NumPy's; a NaN row still comes out as NaN through softmax."""
    import numba

    from kernels.numba_cpu.common import row_max

    compiled = numba.njit(lambda row: row_max(row))
    tiny = np.finfo(dtype).smallest_subnormal
    rows = [[-1.0, -2.0, -0.5], [-np.inf, -np.inf], [0.0, -0.0], [-3e38, np.inf], [tiny, -tiny], [-tiny, -2 * tiny]]
    rng = np.random.default_rng(4)
    rows += [rng.standard_normal(size) * 10.0 ** rng.integers(-30, 30) for size in (1, 15, 16, 17, 100, 1000)]
    rows += [-np.abs(rng.standard_normal(33))]
    for row in rows:
        row = np.asarray(row, dtype)
        assert compiled(row) == row.max(), row  # 0.0 == -0.0: either zero shifts a softmax alike
    previous = backend.get_backend()
    backend.set_backend("numba")
    try:
        for nan in (np.nan, -np.nan):
            x = rng.standard_normal((3, 40)).astype(dtype)
            x[1, 7] = nan
            y = backend.active().softmax_forward(x, 1)
            assert np.isnan(y[1]).all() and not np.isnan(y[[0, 2]]).any()
    finally:
        backend.set_backend(previous)


@per_backend
@pytest.mark.parametrize("dtype", DTYPES)
@given(n=st.integers(1, 8), classes=st.integers(1, 9), transposed=st.booleans(), mean=st.booleans(), seed=seeds)
def test_cross_entropy_matches_the_reference(backend_name, dtype, n, classes, transposed, mean, seed):
    rng = np.random.default_rng(seed)
    logits = random_array(rng, (n, classes), dtype, "transposed" if transposed else "contiguous", scale=5.0)
    labels = rng.integers(0, classes, n)
    assert_matches(*run_both("cross_entropy_forward", logits, labels), dtype)
    _, probs = numpy_ref.cross_entropy_forward(logits, labels)
    # reduction="mean" passes the loss gradient as one value broadcast over the batch.
    grad_loss = np.broadcast_to(dtype(1 / n), (n,)) if mean else random_array(rng, (n,), dtype)
    assert_matches(*run_both("cross_entropy_backward", grad_loss, probs, labels), dtype)


@st.composite
def mask_shapes(draw, shape):
    """A mask shape broadcastable with ``shape``: each axis full or 1, then leading axes dropped, or a new
    leading axis added (the output then has more axes than x)."""
    mask_shape = tuple(draw(st.sampled_from([size, 1])) for size in shape)
    dropped = draw(st.integers(0, len(shape)))
    return (2, *mask_shape) if dropped == len(shape) else mask_shape[dropped:]


@per_backend
@pytest.mark.parametrize("dtype", DTYPES)
@given(shape=shapes, data=st.data(), layout=st.sampled_from(LAYOUTS), seed=seeds)
def test_masked_softmax_matches_the_reference(backend_name, dtype, shape, data, layout, seed):
    rng = np.random.default_rng(seed)
    x = sprinkle(rng, random_array(rng, shape, dtype, layout, scale=5.0), [-np.inf])
    if data.draw(st.booleans(), label="no mask"):
        mask = None
    else:
        mask = rng.random(data.draw(mask_shapes(shape), label="mask shape")) < 0.7
        mask.reshape(-1, mask.shape[-1])[0] = False  # a fully masked row, which must give zeros
    assert_matches(*run_both("masked_softmax_forward", x, mask), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("width", [5, 50, 64, 100])  # numba's max: compared as floats below 64, as bits from 64
def test_masked_softmax_without_a_mask_treats_nan_and_infinite_rows_as_the_reference(backend_name, dtype, width):
    """A row with a NaN is not shifted (the reference's max is NaN) and comes out unnormalized; a row with +inf
    gives NaN there and zeros elsewhere; a row of -inf gives zeros."""
    x = np.random.default_rng(width).standard_normal((5, width)).astype(dtype)
    x[1, 3], x[2, width - 1], x[3] = np.nan, np.inf, -np.inf
    got, expected = run_both("masked_softmax_forward", x, None)
    assert np.isnan(got[1]).sum() == 1 and (got[3] == 0).all()
    np.testing.assert_allclose(got, expected, **TOLERANCE[dtype])


# --- layer norm -----------------------------------------------------------------------------


@per_backend
@pytest.mark.parametrize("dtype", DTYPES)
@given(shape=shapes, layout=st.sampled_from(LAYOUTS), affine=st.booleans(), bias=st.booleans(), seed=seeds)
def test_layer_norm_matches_the_reference(backend_name, dtype, shape, layout, affine, bias, seed):
    rng = np.random.default_rng(seed)
    x = random_array(rng, shape, dtype, layout, scale=3.0) + dtype(2)  # an offset: the mean matters
    weight = random_array(rng, shape[-1:], dtype) if affine else None
    shift = random_array(rng, shape[-1:], dtype) if bias else None
    assert_matches(*run_both("layer_norm_forward", x, weight, shift, 1e-5), dtype)
    _, mean, rstd = numpy_ref.layer_norm_forward(x, weight, shift, 1e-5)
    grad = random_array(rng, shape, dtype, layout)
    assert_matches(*run_both("layer_norm_backward", grad, x, weight, mean, rstd), dtype)


@per_backend
@pytest.mark.parametrize("dtype", DTYPES)
@given(
    shape=st.tuples(st.integers(1, 5), st.integers(1, 6), st.integers(1, 9)).filter(lambda s: s[0] * s[2] > 1),
    layout=st.sampled_from(LAYOUTS), affine=st.booleans(), bias=st.booleans(), seed=seeds,
)  # fmt: skip
def test_batch_norm_matches_the_reference(backend_name, dtype, shape, layout, affine, bias, seed):
    rng = np.random.default_rng(seed)
    x = random_array(rng, shape, dtype, layout, scale=3.0) + dtype(2)  # an offset: the mean matters
    weight = random_array(rng, shape[1:2], dtype) if affine else None
    shift = random_array(rng, shape[1:2], dtype) if bias else None
    assert_matches(*run_both("batch_norm_forward", x, weight, shift, 1e-5), dtype)
    _, mean, rstd = numpy_ref.batch_norm_forward(x, weight, shift, 1e-5)
    grad = random_array(rng, shape, dtype, layout)
    assert_matches(*run_both("batch_norm_backward", grad, x, weight, mean, rstd), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(128, 256, 1), (5, 37, 1), (3, 16, 1), (2, 15, 1)])
def test_batch_norm_of_rows_matches_the_reference(backend_name, dtype, shape):
    """BatchNorm1d's (N, C) input, as (N, C, 1): the numba kernels take blocks of channels side by side down the rows
    (blocks of at least 16 channels, the last one longer), not one channel a thread."""
    rng = np.random.default_rng(shape[1])
    x = random_array(rng, shape, dtype, "contiguous", scale=3.0) + dtype(5)
    weight, shift = random_array(rng, shape[1:2], dtype), random_array(rng, shape[1:2], dtype)
    assert_matches(*run_both("batch_norm_forward", x, weight, shift, 1e-5), dtype)
    assert_matches(*run_both("batch_norm_forward", x, None, None, 1e-5), dtype)
    _, mean, rstd = numpy_ref.batch_norm_forward(x, weight, shift, 1e-5)
    grad = random_array(rng, shape, dtype, "contiguous")
    assert_matches(*run_both("batch_norm_backward", grad, x, weight, mean, rstd), dtype)
    assert_matches(*run_both("batch_norm_backward", grad, x, None, mean, rstd), dtype)


@per_backend
@pytest.mark.parametrize("dtype", DTYPES)
@given(
    samples=st.integers(1, 4), groups=st.integers(1, 4), per_group=st.integers(1, 3), length=st.integers(1, 9),
    layout=st.sampled_from(LAYOUTS), affine=st.booleans(), bias=st.booleans(), seed=seeds,
)  # fmt: skip
def test_group_norm_matches_the_reference(backend_name, dtype, samples, groups, per_group, length, layout, affine,
                                          bias, seed):  # fmt: skip
    """Groups of one channel (instance norm) to all of them (layer norm over (C, L)), constant groups included."""
    rng = np.random.default_rng(seed)
    shape = (samples, groups * per_group, length)
    x = random_array(rng, shape, dtype, layout, scale=3.0) + dtype(2)  # an offset: the mean matters
    if rng.random() < 0.3:
        x[0] = 7  # the first sample's groups are constant: variance 0
    weight = random_array(rng, shape[1:2], dtype) if affine else None
    shift = random_array(rng, shape[1:2], dtype) if bias else None
    assert_matches(*run_both("group_norm_forward", x, weight, shift, groups, 1e-5), dtype)
    _, mean, rstd = numpy_ref.group_norm_forward(x, weight, shift, groups, 1e-5)
    grad = random_array(rng, shape, dtype, layout)
    assert_matches(*run_both("group_norm_backward", grad, x, weight, mean, rstd, groups), dtype)


@pytest.mark.parametrize("offset", [2.0, 100.0])
def test_group_norm_of_large_groups_is_as_accurate_as_the_reference(backend_name, offset):
    """(8, 32, 1024) float32 in 4 groups: 8,192 values a group, far from zero mean at offset 100. Every output is
    compared with float64's, and may miss it by no more than the reference's float32 computation does (x 1.5)."""
    rng = np.random.default_rng(4)
    x = (rng.standard_normal((8, 32, 1024)) + offset).astype(np.float32)
    weight, shift = (random_array(rng, (32,), np.float32) for _ in range(2))
    grad = random_array(rng, x.shape, np.float32)
    exact = numpy_ref.group_norm_forward(*(a.astype(np.float64) for a in (x, weight, shift)), 4, 1e-5)
    exact_grads = numpy_ref.group_norm_backward(*(a.astype(np.float64) for a in (grad, x, weight)), *exact[1:], 4)
    got, reference = run_both("group_norm_forward", x, weight, shift, 4, 1e-5)
    got_grads, reference_grads = run_both("group_norm_backward", grad, x, weight, *got[1:], 4)
    for mine, theirs, truth in zip(got + got_grads, reference + reference_grads, exact + exact_grads):
        assert mine.dtype == np.float32
        assert np.abs(mine - truth).max() <= 1.5 * np.abs(theirs - truth).max() + 1e-7


@per_backend
@pytest.mark.parametrize("dtype", DTYPES)
@given(
    shape=st.tuples(st.integers(1, 5), st.integers(1, 6), st.integers(1, 9)), layout=st.sampled_from(LAYOUTS),
    seed=seeds,
)  # fmt: skip
def test_channel_affine_matches_the_reference(backend_name, dtype, shape, layout, seed):
    rng = np.random.default_rng(seed)
    x, grad = (random_array(rng, shape, dtype, layout, scale=3.0) for _ in range(2))
    scale, shift = (random_array(rng, shape[1:2], dtype) for _ in range(2))
    assert_matches(*run_both("channel_affine_forward", x, scale, shift), dtype)
    assert_matches(*run_both("channel_affine_backward", grad, x, scale), dtype)


@pytest.mark.parametrize("offset", [2.0, 100.0])
def test_batch_norm_of_large_channels_is_as_accurate_as_the_reference(backend_name, offset):
    """(64, 3, 784) float32: 50,176 values a channel, one of them constant (variance 0). Far from zero mean, float32
    rounds each value's deviation; every output is compared with float64's, and may miss it by no more than the
    reference's float32 computation does (x 1.5)."""
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((64, 3, 784)) + offset).astype(np.float32)
    x[:, 1] = 7
    weight, shift = np.array([0.5, 2.0, -1.5], np.float32), np.array([0.1, 0.2, 0.3], np.float32)
    grad = random_array(rng, x.shape, np.float32)
    exact = numpy_ref.batch_norm_forward(*(a.astype(np.float64) for a in (x, weight, shift)), 1e-5)
    exact_grads = numpy_ref.batch_norm_backward(*(a.astype(np.float64) for a in (grad, x, weight)), exact[1], exact[2])
    got, reference = run_both("batch_norm_forward", x, weight, shift, 1e-5)
    got_grads, reference_grads = run_both("batch_norm_backward", grad, x, weight, got[1], got[2])
    for mine, theirs, truth in zip(got + got_grads, reference + reference_grads, exact + exact_grads):
        assert mine.dtype == np.float32
        assert np.abs(mine - truth).max() <= 1.5 * np.abs(theirs - truth).max() + 1e-7


# --- scatter-add and the embedding gradient -------------------------------------------------


@per_backend
@pytest.mark.parametrize("dtype", DTYPES)
@given(
    rows=st.integers(1, 5),
    row_shape=st.lists(st.integers(1, 4), max_size=2).map(tuple),
    index_shape=st.lists(st.integers(1, 6), max_size=2).map(tuple),
    broadcast=st.booleans(),
    as_tuple=st.booleans(),
    seed=seeds,
)
def test_scatter_add_of_integer_indices_matches_the_reference(
    backend_name, dtype, rows, row_shape, index_shape, broadcast, as_tuple, seed
):
    rng = np.random.default_rng(seed)
    index = rng.integers(0, rows, index_shape)  # repeats: every copy must add
    values = random_array(rng, row_shape if broadcast else index_shape + row_shape, dtype)
    expected = random_array(rng, (rows, *row_shape), dtype)
    got = to_device(expected.copy())
    on_device = to_device(index)
    assert backend.active().scatter_add(got, (on_device,) if as_tuple else on_device, to_device(values)) is None
    numpy_ref.scatter_add(expected, (index,) if as_tuple else index, values)
    assert_matches(to_host(got), expected, dtype)


@numba_usable
@jit_compiles
def test_numba_scatter_adds_rows_picked_by_an_array_or_a_tuple_of_one_itself(monkeypatch):
    """x[idx]'s backward gets idx as a tuple of one (subscript.plan's advanced step): the compiled kernel takes it."""
    from kernels.numba_cpu import embedding

    monkeypatch.setattr(embedding.numpy_ref, "scatter_add", lambda *args: pytest.fail("went to np.add.at"))
    index = np.array([[0, 2], [2, 2]])
    for picked in (index, (index,)):
        target = np.zeros((3, 2), np.float32)
        embedding.scatter_add(target, picked, np.ones((2, 2, 2), np.float32))
        np.testing.assert_array_equal(target, [[1, 1], [0, 0], [3, 3]])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "index",
    [(np.array([0, 2, 0]), np.array([1, 1, 1])), slice(1, 3), np.array([-1, 0, -1]), (np.array([0, 2]), 1)],
    ids=["pairs", "slice", "negative", "row-and-column"],
)
def test_scatter_add_of_other_indices_matches_the_reference(backend_name, dtype, index):
    # These go to the reference's np.add.at on every backend: the results must still match.
    rng = np.random.default_rng(0)
    expected = random_array(rng, (3, 4), dtype)
    got = to_device(expected.copy())
    values = random_array(rng, expected[index].shape, dtype)
    backend.active().scatter_add(got, to_device(index), to_device(values))
    numpy_ref.scatter_add(expected, index, values)
    assert_matches(to_host(got), expected, dtype)


@per_backend
@pytest.mark.parametrize("dtype", DTYPES)
@given(num=st.integers(1, 6), lookups=shapes, dim=st.integers(1, 5), layout=st.sampled_from(LAYOUTS), seed=seeds)
def test_embedding_backward_matches_the_reference(backend_name, dtype, num, lookups, dim, layout, seed):
    rng = np.random.default_rng(seed)
    indices = rng.integers(0, num, lookups)
    grad = random_array(rng, (*lookups, dim), dtype, layout)
    assert_matches(*run_both("embedding_backward", grad, indices, num), dtype)


@numba_usable
@pytest.mark.parametrize("blocks", [1, 2, 3, 7])
def test_the_embedding_gradients_threads_split_the_tables_rows_and_add_in_order(blocks):
    """_add_rows_at's blocks of the table's rows, on numba's threads (``threaded`` True), each adding the values whose
    index falls in its block: every row, repeated indices and the rows at the blocks' edges, the very sums of
    np.add.at (each element adds its values in the same order)."""
    from kernels.numba_cpu.embedding import _add_rows_at

    rng = np.random.default_rng(blocks)
    index = rng.integers(0, 7, 300)
    values = (rng.standard_normal((300, 33)) * 10.0 ** rng.integers(-3, 3, (300, 1))).astype(np.float32)
    table, expected = np.zeros((7, 33), np.float32), np.zeros((7, 33), np.float32)
    _add_rows_at(True, 0, blocks, table, index, values, blocks)
    np.add.at(expected, index, values)
    np.testing.assert_array_equal(table, expected)


# --- optimizer steps ------------------------------------------------------------------------


@per_backend
@pytest.mark.parametrize("dtype", DTYPES)
@given(
    shape=shapes,
    momentum=st.sampled_from([0.0, 0.9]),
    dampening=st.sampled_from([0.0, 0.3]),
    nesterov=st.booleans(),
    weight_decay=st.sampled_from([0.0, 0.01]),
    strided=st.booleans(),
    seed=seeds,
)
def test_sgd_step_matches_the_reference(
    backend_name, dtype, shape, momentum, dampening, nesterov, weight_decay, strided, seed
):
    rng = np.random.default_rng(seed)
    nesterov = nesterov and momentum > 0 and dampening == 0  # what the SGD optimizer allows
    layout = "strided" if strided else "contiguous"  # a strided param must be updated through its view
    state = {"param": random_array(rng, shape, dtype, layout), "buffer": np.zeros(shape, dtype) if momentum else None}
    expected = {key: None if a is None else a.copy() for key, a in state.items()}
    state = {key: to_device(a) for key, a in state.items()}
    options = dict(lr=0.1, momentum=momentum, dampening=dampening, weight_decay=weight_decay, nesterov=nesterov)
    for first in (True, False):  # the buffer's first step, then an ordinary one
        grad = random_array(rng, shape, dtype)
        backend.active().sgd_step(state["param"], to_device(grad), state["buffer"], **options, first=first)
        numpy_ref.sgd_step(expected["param"], grad.copy(), expected["buffer"], **options, first=first)
        for key, a in state.items():
            if a is not None:
                assert_matches(to_host(a), expected[key], dtype)


@per_backend
@pytest.mark.parametrize("dtype", DTYPES)
@given(shape=shapes, weight_decay=st.sampled_from([0.0, 0.05]), decoupled=st.booleans(), seed=seeds)
def test_adam_step_matches_the_reference(backend_name, dtype, shape, weight_decay, decoupled, seed):
    rng = np.random.default_rng(seed)
    expected = [random_array(rng, shape, dtype), np.zeros(shape, dtype), np.zeros(shape, dtype)]
    state = [to_device(a.copy()) for a in expected]
    options = dict(lr=0.01, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=weight_decay, decoupled=decoupled)
    for step in (1, 2, 3):
        grad = random_array(rng, shape, dtype)
        param, exp_avg, exp_avg_sq = state
        backend.active().adam_step(param, to_device(grad), exp_avg, exp_avg_sq, step=step, **options)
        numpy_ref.adam_step(expected[0], grad.copy(), expected[1], expected[2], step=step, **options)
        for got, want in zip(state, expected):
            assert_matches(to_host(got), want, dtype)  # float32 state stays float32


@per_backend
@pytest.mark.parametrize("dtype", DTYPES)
@given(
    shape=shapes, weight_decay=st.sampled_from([0.0, 0.05]), momentum=st.sampled_from([0.0, 0.9]),
    centered=st.booleans(), seed=seeds,
)  # fmt: skip
def test_rmsprop_step_matches_the_reference(backend_name, dtype, shape, weight_decay, momentum, centered, seed):
    rng = np.random.default_rng(seed)
    zeros = np.zeros(shape, dtype)
    expected = {"param": random_array(rng, shape, dtype), "square_avg": zeros.copy()}
    expected.update(grad_avg=zeros.copy() if centered else None, buffer=zeros.copy() if momentum else None)
    state = {key: None if a is None else to_device(a.copy()) for key, a in expected.items()}
    options = dict(lr=0.01, alpha=0.9, eps=1e-8, weight_decay=weight_decay, momentum=momentum)
    for _ in range(3):  # a later step reads the state the first one wrote
        grad = random_array(rng, shape, dtype)
        backend.active().rmsprop_step(
            state["param"], to_device(grad), state["square_avg"], state["grad_avg"], state["buffer"], **options
        )
        numpy_ref.rmsprop_step(
            expected["param"], grad.copy(), expected["square_avg"], expected["grad_avg"], expected["buffer"],
            **options,
        )  # fmt: skip
        for key, a in state.items():
            if a is not None:
                assert_matches(to_host(a), expected[key], dtype)  # float32 state stays float32


# --- the numba backend: plain Python, warm-up, read-only install ----------------------------

POINTWISE_KERNELS = [
    "relu_forward", "relu_backward", "sigmoid_forward", "sigmoid_backward", "tanh_forward", "tanh_backward",
    "gelu_forward", "gelu_backward", "silu_forward", "silu_backward", "hardtanh_forward", "hardtanh_backward",
    "leaky_relu_forward", "leaky_relu_backward", "hardswish_forward", "hardswish_backward", "hardsigmoid_forward",
    "hardsigmoid_backward",
    "softmax_forward", "softmax_backward", "log_softmax_forward",
    "log_softmax_backward", "cross_entropy_forward", "cross_entropy_backward", "masked_softmax_forward",
    "layer_norm_forward", "layer_norm_backward", "batch_norm_forward", "batch_norm_backward", "channel_affine_forward",
    "channel_affine_backward", "group_norm_forward", "group_norm_backward", "embedding_backward", "scatter_add",
    "sgd_step", "adam_step", "rmsprop_step", "bce_with_logits_forward", "bce_with_logits_backward",
]  # fmt: skip


# Every pointwise kernel on small float64 inputs, numba's against the reference; prints "ok".
PLAIN_PYTHON_SCRIPT = """
import numpy as np
from kernels import numba_cpu as nb, numpy_ref as ref

rng = np.random.default_rng(0)
x, g = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
labels, mask = np.array([0, 3, 1]), rng.random((3, 4)) < 0.6
w, b = rng.standard_normal(4), rng.standard_normal(4)
_, mean, rstd = ref.layer_norm_forward(x, w, b, 1e-5)
x3, g3 = x.reshape(3, 2, 2), g.reshape(3, 2, 2)
_, bn_mean, bn_rstd = ref.batch_norm_forward(x3, w[:2], b[:2], 1e-5)
gn_stats = ref.group_norm_forward(x3.reshape(1, 4, 3), w, b, 2, 1e-5)[1:]
sgd = dict(lr=0.1, momentum=0.9, dampening=0.0, weight_decay=0.1, nesterov=True, first=False)
adam = dict(step=2, lr=0.1, beta1=0.9, beta2=0.99, eps=1e-8, weight_decay=0.1, decoupled=True)
rmsprop = dict(lr=0.1, alpha=0.9, eps=1e-8, weight_decay=0.1, momentum=0.9)
calls = [
    ("relu_forward", (x,), {}), ("relu_backward", (g, x), {}), ("sigmoid_forward", (x,), {}),
    ("sigmoid_backward", (g, x), {}), ("tanh_forward", (x,), {}), ("tanh_backward", (g, x), {}),
    ("gelu_forward", (x,), {}), ("gelu_backward", (g, x), {}), ("silu_forward", (x,), {}),
    ("silu_backward", (g, x), {}), ("hardtanh_forward", (x, -0.5, 1.0), {}),
    ("hardtanh_backward", (g, x, -0.5, 1.0), {}), ("leaky_relu_forward", (x, 0.2), {}),
    ("leaky_relu_backward", (g, x, 0.2), {}), ("hardswish_forward", (4 * x,), {}),
    ("hardswish_backward", (g, 4 * x), {}), ("hardsigmoid_forward", (4 * x,), {}),
    ("hardsigmoid_backward", (g, 4 * x), {}), ("softmax_forward", (x, 0), {}),
    ("softmax_backward", (g, ref.softmax_forward(x, 0), 0), {}), ("log_softmax_forward", (x, 1), {}),
    ("log_softmax_backward", (g, ref.log_softmax_forward(x, 1), 1), {}),
    ("cross_entropy_forward", (x, labels), {}), ("cross_entropy_backward", (g[:, 0], np.abs(x), labels), {}),
    ("masked_softmax_forward", (x, mask), {}), ("layer_norm_forward", (x, w, b, 1e-5), {}),
    ("layer_norm_backward", (g, x, w, mean, rstd), {}), ("batch_norm_forward", (x3, w[:2], b[:2], 1e-5), {}),
    ("batch_norm_backward", (g3, x3, w[:2], bn_mean, bn_rstd), {}), ("embedding_backward", (x, labels, 4), {}),
    ("channel_affine_forward", (x3, w[:2], b[:2]), {}), ("channel_affine_backward", (g3, x3, w[:2]), {}),
    ("group_norm_forward", (x3.reshape(1, 4, 3), w, b, 2, 1e-5), {}),
    ("group_norm_backward", (g3.reshape(1, 4, 3), x3.reshape(1, 4, 3), w, *gn_stats, 2), {}),
    ("scatter_add", (np.zeros((4, 4)), labels, x), {}), ("sgd_step", (x, g, g * 2), sgd),
    ("adam_step", (x, g, g * 0.1, g * g), adam), ("rmsprop_step", (x, g, g * g, g * 0.1, g * 0.5), rmsprop),
    ("bce_with_logits_forward", (x, np.abs(g) / 3, None), {}),
    ("bce_with_logits_backward", (g, x, np.abs(g) / 3, w), {}),
]
for name, args, options in calls:
    mine = tuple(a.copy() if isinstance(a, np.ndarray) else a for a in args)
    theirs = tuple(a.copy() if isinstance(a, np.ndarray) else a for a in args)
    got, want = getattr(nb, name)(*mine, **options), getattr(ref, name)(*theirs, **options)
    if want is None:  # in place: compare the updated arguments
        got, want = mine, theirs
    for a, e in zip(got if isinstance(got, tuple) else (got,), want if isinstance(want, tuple) else (want,)):
        if isinstance(e, np.ndarray):
            np.testing.assert_allclose(a, e, rtol=1e-10, atol=1e-12, err_msg=name)
print("ok", len(calls))
"""


@numba_usable
def test_the_numba_kernels_run_as_plain_python_without_the_jit():
    env = {**os.environ, "NUMBA_DISABLE_JIT": "1"}
    result = subprocess.run([sys.executable, "-c", PLAIN_PYTHON_SCRIPT], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["ok", str(len(POINTWISE_KERNELS))]


@numba_usable
@jit_compiles
@pytest.mark.parametrize("dtype", DTYPES)
def test_warmup_compiles_every_pointwise_kernel(dtype):
    import numba

    from kernels.numba_cpu import activations, attention, common, embedding, losses, normalization, optim, softmax

    assert set(POINTWISE_KERNELS) <= set(backend.load("numba").overrides)
    families = (activations, softmax, attention, normalization, embedding, optim, losses)
    for family in families:
        assert family.warm_up in common.WARMUPS, family  # so tinynet.warmup() runs it
        family.warm_up(np.dtype(dtype))
    # The compiled inner functions, each in its family's module: one per kernel, but scatter_add and
    # embedding_backward share one.
    inner = [f"_{name}" for name in POINTWISE_KERNELS if name not in ("scatter_add", "embedding_backward")]
    inner.append("_add_rows_at")
    by_name = {name: getattr(family, name) for family in families for name in inner if hasattr(family, name)}
    assert sorted(by_name) == sorted(inner)
    float_type = numba.from_dtype(np.dtype(dtype))
    uncompiled = [name for name, kernel in by_name.items() if not compiled_for(kernel, float_type)]
    assert uncompiled == [], f"warm-up left these uncompiled for {float_type}"


@numba_usable
@jit_compiles
def test_numba_adds_large_arrays_on_its_threads_and_leaves_the_rest_to_numpy(monkeypatch):
    """Two C-contiguous float arrays of one shape and SPLIT_WORK numbers or more take the threaded kernel, bit for bit
    NumPy's sum; numbers, broadcasting, strides, other or mixed dtypes and small arrays take NumPy's + itself."""
    from kernels.numba_cpu import common, elementwise

    assert elementwise.warm_up in common.WARMUPS  # tinynet warmup compiles it
    ran = []
    run_range = elementwise.run_range
    monkeypatch.setattr(elementwise, "run_range", lambda kernel, *args: ran.append(kernel) or run_range(kernel, *args))
    rng = np.random.default_rng(0)
    for dtype in (np.float32, np.float64):
        a, b = (rng.standard_normal((2, common.SPLIT_WORK // 2 + 3)).astype(dtype) for _ in "ab")
        b[0, :3] = [np.inf, np.nan, -0.0]
        got = elementwise.add(a, b)
        assert ran == [elementwise._add] and got.dtype == dtype
        np.testing.assert_array_equal(got, a + b)
        ran.clear()
    others = [(a, 2.5), (2.5, a), (a, b[:1]), (a.T, b.T), (a[:, ::2], b[:, ::2]), (a[:, :9], b[:, :9])]
    others += [(a.astype(np.float16), b.astype(np.float16)), (a.astype(np.float32), b)]
    others.append((a.astype(int), (a * 3).astype(int)))
    for x, y in others:
        got, expected = elementwise.add(x, y), numpy_ref.add(x, y)
        np.testing.assert_array_equal(got, expected)
        assert got.dtype == expected.dtype
    assert ran == []


@numba_usable
@jit_compiles
def test_numba_accumulates_large_arrays_on_its_threads_in_place():
    """accumulate adds into its first argument and returns it: from ACCUMULATE_ON_THREADS numbers on numba's threads,
    bit for bit NumPy's sum; below, and for anything the threads do not take, NumPy's += itself."""
    from kernels.numba_cpu import elementwise

    rng = np.random.default_rng(0)
    for size in (elementwise.ACCUMULATE_ON_THREADS + 5, 1000):
        for dtype in (np.float32, np.float64):
            total, g = (rng.standard_normal(size).astype(dtype) for _ in "tg")
            g[:3] = [np.inf, np.nan, -0.0]
            expected = total + g
            assert elementwise.accumulate(total, g) is total
            np.testing.assert_array_equal(total, expected)
    total = rng.standard_normal((600, 500)).astype(np.float32)
    expected = total + total[0]  # broadcasting: NumPy's +=
    assert elementwise.accumulate(total, total[0].copy()) is total
    np.testing.assert_array_equal(total, expected)


@numba_usable
def test_backward_sums_a_tensor_s_gradients_into_one_new_array(monkeypatch):
    """x used twice: backward adds the gradients of its uses into a new array, large ones on numba's threads; used four
    times, the third and fourth into that array, in place (autograd._sum)."""
    import tinynet

    table, added, accumulated = backend.load("numba"), [], []
    add, accumulate = table.add, table.accumulate
    monkeypatch.setattr(table, "add", lambda a, b: added.append(a.shape) or add(a, b))
    monkeypatch.setattr(table, "accumulate", lambda a, b: accumulated.append(id(a)) or accumulate(a, b))
    with tinynet.use_backend("numba"):
        x = tinynet.ones(300, 200, requires_grad=True)
        (x * 2 + x * 3).sum().backward()
        np.testing.assert_array_equal(x.grad.numpy(), np.full((300, 200), 5, np.float32))
        assert added == [(300, 200), (300, 200)] and accumulated == []  # the forward's sum, then x's two gradients
        added.clear()
        x.grad = None
        y = x * 2
        (y + y + x * 3 + x * 4 + x * 5).sum().backward()  # y's two gradients (one array, twice), x's four
    np.testing.assert_array_equal(x.grad.numpy(), np.full((300, 200), 16, np.float32))
    assert len(accumulated) == 2 and accumulated[0] == accumulated[1]  # x's 3rd and 4th: into the 2nd's sum


@numba_usable
@jit_compiles
def test_a_read_only_copy_of_the_package_imports_and_caches_elsewhere(tmp_path):
    # As root, chmod cannot stop writes: run as an unprivileged user in a user namespace instead.
    prefix = []
    if os.geteuid() == 0:
        if shutil.which("unshare") is None:
            pytest.skip("running as root, and no `unshare` to drop privileges: a folder cannot be read-only")
        prefix = ["unshare", "--user", "--map-user=1000", "--map-group=1000"]
    package = tmp_path / "site" / "kernels"
    shutil.copytree(Path(kernels.__file__).parent, package, ignore=shutil.ignore_patterns("__pycache__"))
    folders = [package, *(path for path in package.rglob("*") if path.is_dir())]
    for path in [package, *package.rglob("*")]:  # every file and folder, kernels/numba_cpu/ included
        path.chmod(path.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    code = (  # (enough values that relu's own kernel runs, not NumPy's ufunc: activations.UFUNCS_BELOW)
        "import numpy as np, kernels.numba_cpu as k; "
        "print(k.__file__); print(k.relu_forward(np.linspace(-1.5, 2.5, 5000))[[0, -1]].tolist())"
    )
    env = {key: value for key, value in os.environ.items() if key != "NUMBA_CACHE_DIR"}
    env.update(PYTHONPATH=str(package.parent), XDG_CACHE_HOME=str(tmp_path / "cache"))
    try:
        # cwd: a `python -c` puts the working directory first on sys.path, ahead of PYTHONPATH.
        command = [*prefix, sys.executable, "-c", code]
        result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=tmp_path)
    finally:
        for folder in folders:
            folder.chmod(0o755)  # so that pytest can remove it
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:2] == [str(package / "numba_cpu" / "__init__.py"), "[0.0, 2.5]"]
    assert not list(package.rglob("__pycache__"))
    assert list((tmp_path / "cache").rglob("*relu_forward*.nbi")), "numba cached nothing in the user-wide cache"


@numba_usable
def test_small_inputs_divide_by_zero_as_the_threaded_kernels_and_the_reference_do():
    # Small inputs run the kernels on this thread, compiled with NumPy's error model as on the threads: a
    # division by zero gives inf or NaN there too, instead of raising ZeroDivisionError from inside the kernel.
    from kernels import numba_cpu, numpy_ref

    x = np.full((2, 4), 3.0, np.float32)  # constant rows: variance 0, and eps 0 divides by it
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = numpy_ref.layer_norm_forward(x, None, None, 0.0)
        got = numba_cpu.layer_norm_forward(x, None, None, 0.0)
    for g, e in zip(got, expected):
        np.testing.assert_array_equal(g, e)
