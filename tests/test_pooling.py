"""Pooling and upsampling: values against naive loops, gradients, the layers, errors.

The references below are written here with NumPy in float64, one output pixel at a time, for any number
of spatial axes, independently of the kernels they check.
"""

import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tinynet as tn
import tinynet.nn.functional as F
from tinynet import nn

per_backend = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])


def f64(array, requires_grad=False):
    return tn.tensor(array, dtype=tn.float64, requires_grad=requires_grad)


# --- naive references -----------------------------------------------------------------------


def windows(x, kernel, stride, padding, pad_value):
    """Yield (output index, window) for every output pixel; x: (N, C, *spatial), the window (N, C, k1 * k2 ...)."""
    xp = np.pad(x, [(0, 0), (0, 0)] + [(p, p) for p in padding], constant_values=pad_value)
    out_size = [(n + 2 * p - k) // s + 1 for n, k, s, p in zip(x.shape[2:], kernel, stride, padding)]
    for index in itertools.product(*map(range, out_size)):
        window = xp[(..., *(slice(i * s, i * s + k) for i, s, k in zip(index, stride, kernel)))]
        yield index, window.reshape(*x.shape[:2], -1)


def naive_pool(x, kernel, stride, padding, how):
    out_size = [(n + 2 * p - k) // s + 1 for n, k, s, p in zip(x.shape[2:], kernel, stride, padding)]
    out = np.zeros((*x.shape[:2], *out_size))
    for index, window in windows(x, kernel, stride, padding, -np.inf if how == "max" else 0.0):
        # The mean divides by the full window, padding included (count_include_pad=True).
        out[(..., *index)] = window.max(axis=-1) if how == "max" else window.mean(axis=-1)
    return out


def naive_max_pool_grad(x, grad, kernel, stride, padding):
    """Each window's gradient goes to its first maximum (row-major), as in PyTorch; shared maxima add up."""
    grad_x = np.zeros([n + 2 * p for n, p in zip(x.shape, (0, 0, *padding))])
    for index, window in windows(x, kernel, stride, padding, -np.inf):
        for n, c in np.ndindex(*x.shape[:2]):
            offset = np.unravel_index(np.argmax(window[n, c]), kernel)
            pixel = tuple(i * s + o for i, s, o in zip(index, stride, offset))
            grad_x[(n, c, *pixel)] += grad[(n, c, *index)]
    return grad_x[(..., *(slice(p, p + n) for p, n in zip(padding, x.shape[2:])))]


def naive_upsample(x, scales):
    """out[n, c, i, j] = x[n, c, i // sh, j // sw]."""
    out_size = [n * s for n, s in zip(x.shape[2:], scales)]
    out = np.zeros((*x.shape[:2], *out_size))
    for index in itertools.product(*map(range, out_size)):
        out[(..., *index)] = x[(..., *(i // s for i, s in zip(index, scales)))]
    return out


# --- drawn cases ------------------------------------------------------------------------------


@st.composite
def pool_cases(draw, spatial, max_extra=4):
    """Shapes and geometry of a pool whose output is at least 1 along every axis; stride may be left out."""
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(spatial))
    stride = tuple(draw(st.integers(1, 3)) for _ in range(spatial))
    padding = tuple(draw(st.integers(0, k // 2)) for k in kernel)
    size = tuple(max(1, k - 2 * p) + draw(st.integers(0, max_extra)) for k, p in zip(kernel, padding))
    return dict(
        x_shape=(draw(st.integers(1, 2)), draw(st.integers(1, 3)), *size),
        kernel=kernel,
        stride=None if draw(st.booleans()) else stride,
        padding=padding,
        seed=draw(st.integers(0, 2**32 - 1)),
    )


def distinct_values(case):
    """A shuffled ramp: no two values closer than gradcheck's eps could swap which one is the maximum."""
    size = int(np.prod(case["x_shape"]))
    return np.random.default_rng(case["seed"]).permutation(size).reshape(case["x_shape"]) / size


def args(case):
    """The function arguments: an int for 1-D, a tuple for 2-D."""
    one_d = len(case["kernel"]) == 1
    kernel, stride, padding = (
        (v[0] if one_d and v is not None else v) for v in (case["kernel"], case["stride"], case["padding"])
    )
    return kernel, stride, padding


POOLS = {1: {"max": F.max_pool1d, "avg": F.avg_pool1d}, 2: {"max": F.max_pool2d, "avg": F.avg_pool2d}}


# --- values -----------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["max", "avg"])
@pytest.mark.parametrize("spatial", [1, 2])
@per_backend
@given(data=st.data())
def test_pools_match_the_naive_loop(backend_name, spatial, how, data):
    case = data.draw(pool_cases(spatial))
    x = np.random.default_rng(case["seed"]).standard_normal(case["x_shape"])
    got = POOLS[spatial][how](f64(x), *args(case))
    stride = case["stride"] or case["kernel"]
    np.testing.assert_allclose(got.numpy(), naive_pool(x, case["kernel"], stride, case["padding"], how), rtol=1e-12)


@pytest.mark.parametrize("spatial", [1, 2])
@per_backend
@given(data=st.data())
def test_max_pool_gradient_goes_to_the_first_maximum_even_with_ties(backend_name, spatial, data):
    case = data.draw(pool_cases(spatial))
    rng = np.random.default_rng(case["seed"])
    x = rng.integers(0, 3, case["x_shape"]).astype(np.float64)  # few values: many ties
    t = f64(x, requires_grad=True)
    out = POOLS[spatial]["max"](t, *args(case))
    grad = rng.standard_normal(out.shape)
    out.backward(f64(grad))
    expected = naive_max_pool_grad(x, grad, case["kernel"], case["stride"] or case["kernel"], case["padding"])
    np.testing.assert_allclose(t.grad.numpy(), expected, rtol=1e-12, atol=1e-15)


def test_max_pool_propagates_nan(backend_name):
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    x[0, 0, 1, 2] = np.nan
    out = F.max_pool2d(f64(x), 2).numpy()
    assert np.isnan(out[0, 0, 0, 1]) and not np.isnan(np.delete(out.ravel(), 1)).any()


@pytest.mark.parametrize("spatial", [1, 2])
@per_backend
@given(data=st.data())
def test_upsampling_repeats_each_pixel_into_a_block(backend_name, spatial, data):
    shape = tuple(data.draw(st.integers(1, 3)) for _ in range(2 + spatial))
    scales = tuple(data.draw(st.integers(1, 3)) for _ in range(spatial))
    x = np.random.default_rng(0).standard_normal(shape)
    expected = naive_upsample(x, scales)
    if len(set(scales)) == 1:
        np.testing.assert_array_equal(F.interpolate(f64(x), scale_factor=scales[0]).numpy(), expected)
        np.testing.assert_array_equal(nn.Upsample(scale_factor=float(scales[0]))(f64(x)).numpy(), expected)
    np.testing.assert_array_equal(F.interpolate(f64(x), scale_factor=scales, mode="nearest").numpy(), expected)
    np.testing.assert_array_equal(F.upsample_nearest(f64(x), size=expected.shape[2:]).numpy(), expected)
    np.testing.assert_array_equal(nn.Upsample(size=expected.shape[2:])(f64(x)).numpy(), expected)


def test_float32_stays_float32(backend_name):
    x = tn.randn(2, 3, 6, 6, requires_grad=True)
    for y in (F.max_pool2d(x, 2), F.avg_pool2d(x, 3, 1, 1), F.interpolate(x, scale_factor=2)):
        x.grad = None
        y.sum().backward()
        assert y.dtype == tn.float32 and x.grad.dtype == tn.float32


# --- gradients --------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["max", "avg"])
@pytest.mark.parametrize("spatial", [1, 2])
@given(data=st.data())
def test_pool_gradcheck(spatial, how, data):
    case = data.draw(pool_cases(spatial, max_extra=2))
    pool, geometry = POOLS[spatial][how], args(case)
    assert tn.gradcheck(lambda x: pool(x, *geometry), [f64(distinct_values(case), requires_grad=True)])


@pytest.mark.parametrize("spatial", [1, 2])
@given(data=st.data())
def test_upsample_gradcheck(spatial, data):
    shape = tuple(data.draw(st.integers(1, 2)) for _ in range(2 + spatial))
    scales = tuple(data.draw(st.integers(1, 3)) for _ in range(spatial))
    x = f64(np.random.default_rng(0).standard_normal(shape), requires_grad=True)
    assert tn.gradcheck(lambda x: F.interpolate(x, scale_factor=scales), [x])


# --- layers -----------------------------------------------------------------------------------


def test_layers_have_no_parameters_and_pytorchs_output_shapes():
    x2, x1 = tn.randn(1, 3, 9, 9), tn.randn(2, 3, 10)
    # (H + 2 padding - kernel_size) // stride + 1, stride defaulting to kernel_size.
    assert nn.MaxPool2d(2)(x2).shape == (1, 3, 4, 4)
    assert nn.MaxPool2d(3, stride=2, padding=1)(x2).shape == (1, 3, 5, 5)
    assert nn.AvgPool2d((3, 2), stride=(1, 2))(x2).shape == (1, 3, 7, 4)
    assert nn.MaxPool1d(3)(x1).shape == (2, 3, 3)
    assert nn.AvgPool1d(4, 2, padding=1)(x1).shape == (2, 3, 5)
    assert nn.Upsample(scale_factor=2)(x2).shape == (1, 3, 18, 18)
    for layer in (nn.MaxPool2d(2), nn.AvgPool1d(2), nn.Upsample(scale_factor=2)):
        assert list(layer.parameters()) == []


def test_layers_match_the_functions(backend_name):
    x = tn.randn(2, 3, 7, 7)
    np.testing.assert_array_equal(nn.MaxPool2d(3, 2, 1)(x).numpy(), F.max_pool2d(x, 3, 2, 1).numpy())
    np.testing.assert_array_equal(nn.AvgPool2d(2)(x).numpy(), F.avg_pool2d(x, 2).numpy())
    x1 = tn.randn(2, 3, 7)
    np.testing.assert_array_equal(nn.MaxPool1d(2, 1)(x1).numpy(), F.max_pool1d(x1, 2, 1).numpy())
    np.testing.assert_array_equal(nn.AvgPool1d(3, padding=1)(x1).numpy(), F.avg_pool1d(x1, 3, padding=1).numpy())


def test_repr_is_pytorchs():
    assert repr(nn.MaxPool2d(2)) == "MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)"
    assert repr(nn.AvgPool1d(3, 1, 1)) == "AvgPool1d(kernel_size=(3,), stride=(1,), padding=(1,))"
    assert repr(nn.Upsample(scale_factor=2)) == "Upsample(scale_factor=2.0, mode='nearest')"


# --- errors -----------------------------------------------------------------------------------


def test_padding_more_than_half_the_kernel_is_refused():
    with pytest.raises(ValueError, match=r"max_pool2d: padding=\(2, 2\) is more than half of kernel_size=\(3, 3\)"):
        F.max_pool2d(tn.randn(1, 1, 5, 5), 3, padding=2)
    with pytest.raises(ValueError, match=r"avg_pool1d: padding=\(2,\) is more than half of kernel_size=\(2,\)"):
        F.avg_pool1d(tn.randn(1, 1, 5), 2, padding=2)


def test_an_input_too_small_for_the_window_gives_the_computed_size():
    with pytest.raises(tn.ShapeError, match=r"max_pool2d: input of shape \(1, 1, 1, 4\) is too small.*\(0, 2\)"):
        F.max_pool2d(tn.randn(1, 1, 1, 4), 2)
    with pytest.raises(tn.ShapeError, match=r"avg_pool1d: input of shape \(1, 1, 2\) is too small.*\(0,\)"):
        F.avg_pool1d(tn.randn(1, 1, 2), 3)


def test_wrong_ndim_and_bad_arguments():
    with pytest.raises(tn.ShapeError, match=r"max_pool2d: expected input of shape \(N, C, H, W\), got shape \(4, 4\)"):
        F.max_pool2d(tn.randn(4, 4), 2)
    with pytest.raises(tn.ShapeError, match=r"avg_pool1d: expected input of shape \(N, C, L\)"):
        F.avg_pool1d(tn.randn(1, 1, 4, 4), 2)
    with pytest.raises(ValueError, match=r"max_pool2d: stride must be at least 1, got 0"):
        F.max_pool2d(tn.randn(1, 1, 4, 4), 2, stride=0)
    with pytest.raises(ValueError, match=r"MaxPool2d: kernel_size must be at least 1, got 0"):
        nn.MaxPool2d(0)


def test_upsampling_errors_say_what_is_supported():
    x = tn.randn(1, 2, 3, 3)
    with pytest.raises(ValueError, match=r"interpolate: either size or scale_factor should be defined"):
        F.interpolate(x)
    with pytest.raises(NotImplementedError, match=r"interpolate: expected input of shape \(N, C, L\), \(N, C, H, W\)"):
        F.interpolate(tn.randn(3, 3), scale_factor=2)
