"""The depthwise convolution kernels (groups = channels) of every backend: the reference against conv2d's reference
run group by group (the definition), each backend against the reference, over drawn shapes, channel multipliers,
strides, paddings and dilations; then depthwise layers through autograd against PyTorch."""

import numpy as np
import pytest
from device import to_device, to_host
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch_oracle import check

from kernels import numpy_ref
from tinynet import backend

per_backend = settings(suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
TOLERANCE = {np.float32: dict(rtol=1e-4, atol=1e-4), np.float64: dict(rtol=1e-10, atol=1e-10)}


@st.composite
def depthwise_cases(draw):
    """(x shape, w shape, stride, padding, dilation): C channels, M filters each, windows that fit the image."""
    channels, filters = draw(st.integers(1, 5)), draw(st.integers(1, 3))
    kernel = (draw(st.integers(1, 5)), draw(st.integers(1, 5)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    padding = (draw(st.integers(0, kernel[0] // 2)), draw(st.integers(0, kernel[1] // 2)))
    size = [draw(st.integers(max(1, d * (k - 1) + 1 - 2 * p), 17)) for k, d, p in zip(kernel, dilation, padding)]
    return (draw(st.integers(1, 4)), channels, *size), (channels * filters, 1, *kernel), stride, padding, dilation


def _by_groups(x, w, geometry, grad):
    """conv2d's reference, one group (one input channel) at a time: forward, grad_x, grad_w."""
    channels, filters = x.shape[1], w.shape[0] // x.shape[1]
    pieces = [(x[:, c : c + 1], w[c * filters : (c + 1) * filters]) for c in range(channels)]
    out = np.concatenate([numpy_ref.conv2d_forward(xc, wc, *geometry) for xc, wc in pieces], axis=1)
    grads = [
        numpy_ref.conv2d_backward(grad[:, c * filters : (c + 1) * filters], xc, wc, *geometry)
        for c, (xc, wc) in enumerate(pieces)
    ]
    return out, np.concatenate([g[0] for g in grads], axis=1), np.concatenate([g[1] for g in grads], axis=0)


@given(case=depthwise_cases(), seed=st.integers(0, 2**16))
@settings(deadline=None)
def test_the_reference_is_conv2d_group_by_group(case, seed):
    x_shape, w_shape, *geometry = case
    rng = np.random.default_rng(seed)
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    out = numpy_ref.depthwise_conv2d_forward(x, w, *geometry)
    grad = rng.standard_normal(out.shape)
    grad_x, grad_w = numpy_ref.depthwise_conv2d_backward(grad, x, w, *geometry)
    for got, expected in zip((out, grad_x, grad_w), _by_groups(x, w, geometry, grad)):
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-10)


@per_backend
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@given(case=depthwise_cases(), seed=st.integers(0, 2**16), input_grad=st.booleans())
def test_depthwise_kernels_match_the_reference(backend_name, dtype, case, seed, input_grad):
    x_shape, w_shape, *geometry = case
    rng = np.random.default_rng(seed)
    x, w = rng.standard_normal(x_shape).astype(dtype), rng.standard_normal(w_shape).astype(dtype)
    table = backend.active()
    expected = numpy_ref.depthwise_conv2d_forward(x, w, *geometry)
    out = to_host(table.depthwise_conv2d_forward(*to_device((x, w)), *geometry))
    assert out.dtype == expected.dtype and out.shape == expected.shape
    np.testing.assert_allclose(out, expected, **TOLERANCE[dtype])
    grad = rng.standard_normal(out.shape).astype(dtype)
    grad_x, grad_w = table.depthwise_conv2d_backward(*to_device((grad, x, w)), *geometry, input_grad=input_grad)
    ref_x, ref_w = numpy_ref.depthwise_conv2d_backward(grad, x, w, *geometry, input_grad=input_grad)
    assert (grad_x is None) == (not input_grad)
    if input_grad:
        np.testing.assert_allclose(to_host(grad_x), ref_x, **TOLERANCE[dtype])
    np.testing.assert_allclose(to_host(grad_w), ref_w, **TOLERANCE[dtype])


@pytest.mark.parametrize("width", [6, 7])
@pytest.mark.parametrize("stride", [(2, 2), (1, 2), (3, 2)])
@pytest.mark.parametrize("padding", [0, 1, 2])
def test_stride_two_across_matches_the_reference_for_every_width_and_padding(backend_name, width, stride, padding):
    """Stride 2 across copies an image row's even and odd pixels in one loop (numba's phases): odd and even widths,
    even and odd paddings, each row stride, forward and both gradients, 5x5 windows (so every phase is read)."""
    rng = np.random.default_rng(width * 100 + stride[0] * 10 + padding)
    x, w = rng.standard_normal((2, 3, 7, width)), rng.standard_normal((6, 1, 5, 5))
    geometry = (stride, (padding, padding), (1, 1))
    table = backend.active()
    expected = numpy_ref.depthwise_conv2d_forward(x, w, *geometry)
    np.testing.assert_allclose(to_host(table.depthwise_conv2d_forward(*to_device((x, w)), *geometry)), expected,
                               **TOLERANCE[np.float64])  # fmt: skip
    grad = rng.standard_normal(expected.shape)
    got = table.depthwise_conv2d_backward(*to_device((grad, x, w)), *geometry)
    for g, e in zip(got, numpy_ref.depthwise_conv2d_backward(grad, x, w, *geometry)):
        np.testing.assert_allclose(to_host(g), e, **TOLERANCE[np.float64])


@pytest.mark.parametrize("stride, padding, bias", [(1, 1, True), (2, 1, False), (2, 0, True)])
def test_depthwise_layers_match_pytorch(backend_name, stride, padding, bias):
    """conv2d and conv1d with groups = channels (2 filters a channel), weight, bias and input gradients."""
    b = (12,) if bias else None

    def depthwise2d(lib, x, w, *bias):
        return lib.nn.functional.conv2d(x, w, *bias, stride=stride, padding=padding, groups=6)

    def depthwise1d(lib, x, w, *bias):
        return lib.nn.functional.conv1d(x, w, *bias, stride=stride, padding=padding, groups=6)

    check(depthwise2d, (3, 6, 9, 10), (12, 1, 3, 3), *([b] if b else []))
    check(depthwise1d, (3, 6, 11), (12, 1, 3), *([b] if b else []))
