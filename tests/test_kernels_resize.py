"""The resampling kernels (interpolate's nearest, linear and cubic modes, one axis at a time) of every backend against
the reference kernels: any axis of a 1- to 4-D array, shrinking and growing, taps that repeat and taps at the
edges, float32 and float64, contiguous or not."""

import numpy as np
import pytest
from device import to_device, to_host
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numba_marks import compiled_for, jit_compiles, numba_usable

from kernels import numpy_ref
from tinynet import backend
from tinynet.functions.resize import _plan

per_backend = settings(suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
TOLERANCE = {np.float32: dict(rtol=1e-5, atol=1e-6), np.float64: dict(rtol=1e-12, atol=1e-14)}


def _both(kernel: str, *args):
    """(the active backend's result on the host, the reference's), the inputs left as they were."""
    copies = tuple(a.copy() if isinstance(a, np.ndarray) else a for a in args)
    got = to_host(getattr(backend.active(), kernel)(*to_device(args)))
    for a, copy in zip(args, copies):
        if isinstance(a, np.ndarray):
            np.testing.assert_array_equal(a, copy, err_msg=f"{kernel} wrote into its input")
    return got, getattr(numpy_ref, kernel)(*copies)


@per_backend
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mode", ["nearest", "nearest-exact", "linear", "bicubic"])
@given(
    shape=st.lists(st.integers(1, 6), min_size=1, max_size=4).map(tuple),
    data=st.data(),
    transposed=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_resampling_one_axis_matches_the_reference(backend_name, dtype, mode, shape, data, transposed, seed):
    rng = np.random.default_rng(seed)
    axis = data.draw(st.integers(0, len(shape) - 1), label="axis")
    out = data.draw(st.integers(1, 13), label="out")
    align_corners = data.draw(st.booleans(), label="align_corners") and not mode.startswith("nearest")
    index, weight = _plan(mode, shape[axis], out, None, align_corners, np.dtype(dtype))
    x = rng.standard_normal(shape[::-1]).astype(dtype).T if transposed else rng.standard_normal(shape).astype(dtype)
    got, expected = _both("resample_forward", x, axis, index, weight)
    assert got.shape == expected.shape and got.dtype == expected.dtype == dtype
    np.testing.assert_allclose(got, expected, **TOLERANCE[dtype])
    grad = rng.standard_normal(expected.shape).astype(dtype)
    got, expected = _both("resample_backward", grad, axis, index, weight, shape[axis])
    assert got.shape == expected.shape == shape and got.dtype == expected.dtype == dtype
    np.testing.assert_allclose(got, expected, **TOLERANCE[dtype])


@pytest.mark.parametrize("axis", [2, 3])
def test_resampling_large_images_on_the_threads_matches_the_reference(backend_name, axis):
    """(16, 32, 24, 20) float32 upsampled by 2, bilinear: enough work for numba's threads, either axis."""
    rng = np.random.default_rng(axis)
    x = rng.standard_normal((16, 32, 24, 20)).astype(np.float32)
    index, weight = _plan("bilinear", x.shape[axis], 2 * x.shape[axis], 2.0, False, np.dtype(np.float32))
    got, expected = _both("resample_forward", x, axis, index, weight)
    np.testing.assert_allclose(got, expected, **TOLERANCE[np.float32])
    grad = rng.standard_normal(expected.shape).astype(np.float32)
    got, expected = _both("resample_backward", grad, axis, index, weight, x.shape[axis])
    np.testing.assert_allclose(got, expected, **TOLERANCE[np.float32])


def test_positions_past_the_axis_are_refused_not_read(backend_name):
    """A position past the axis's end: the reference's IndexError from every backend, where a compiled kernel that
    trusted it would read, or write, past the array. A negative one counts from the end, as NumPy's take does."""
    x, grad, past, negative = np.ones((2, 3, 4), np.float32), np.ones((2, 2, 4), np.float32), [[0], [3]], [[-1], [1]]
    with pytest.raises(IndexError):
        to_host(backend.active().resample_forward(*to_device((x, 1, np.array(past), None))))
    with pytest.raises(IndexError):
        to_host(backend.active().resample_backward(*to_device((grad, 1, np.array(past), None, 3))))
    rng = np.random.default_rng(5)
    x, grad = rng.standard_normal(x.shape).astype(np.float32), rng.standard_normal(grad.shape).astype(np.float32)
    for kernel, args in (("resample_forward", (x, 1)), ("resample_backward", (grad, 1))):
        extra = (3,) if kernel == "resample_backward" else ()
        got, expected = _both(kernel, *args, np.array(negative), None, *extra)
        np.testing.assert_array_equal(got, expected)


@numba_usable
@jit_compiles
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_warmup_compiles_every_resampling_kernel(dtype):
    import numba

    from kernels.numba_cpu import common, resize

    assert resize.warm_up in common.WARMUPS  # so tinynet.warmup() runs it
    resize.warm_up(np.dtype(dtype))
    kernels = (resize._resample_forward, resize._resample_backward)
    assert all(compiled_for(kernel, numba.from_dtype(np.dtype(dtype))) for kernel in kernels)
