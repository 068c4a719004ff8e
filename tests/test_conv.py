"""Convolutions: conv1d, conv2d, conv_transpose2d against naive loops, their gradients, the layers, errors.

The references below are written here with NumPy in float64, one output (or input) pixel at a time,
independently of the im2col kernels they check.
"""

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tinynet as tn
import tinynet.nn.functional as F
from tinynet import nn

# The `backend_name` fixture only switches the backend for the whole test: sharing it across examples is fine.
per_backend = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])


def f64(array, requires_grad=False):
    return tn.tensor(array, dtype=tn.float64, requires_grad=requires_grad)


# --- naive references -----------------------------------------------------------------------


def zero_pad(x, padding):
    """Pad the trailing len(padding) axes of x with zeros on both sides."""
    return np.pad(x, [(0, 0)] * (x.ndim - len(padding)) + [(p, p) for p in padding])


def naive_conv2d(x, w, b, stride, padding, dilation):
    """out[n, o, i, j] = b[o] + sum over c, p, q of w[o, c, p, q] * x_pad[n, c, i*sh + p*dh, j*sw + q*dw]."""
    (sh, sw), (dh, dw) = stride, dilation
    kh, kw = w.shape[2:]
    xp = zero_pad(x, padding)
    oh = (xp.shape[2] - dh * (kh - 1) - 1) // sh + 1
    ow = (xp.shape[3] - dw * (kw - 1) - 1) // sw + 1
    out = np.zeros((x.shape[0], w.shape[0], oh, ow))
    for n in range(x.shape[0]):
        for o in range(w.shape[0]):
            for i in range(oh):
                for j in range(ow):
                    rows = slice(i * sh, i * sh + dh * (kh - 1) + 1, dh)
                    cols = slice(j * sw, j * sw + dw * (kw - 1) + 1, dw)
                    out[n, o, i, j] = np.sum(xp[n, :, rows, cols] * w[o]) + (0 if b is None else b[o])
    return out


def naive_conv1d(x, w, b, stride, padding, dilation):
    """out[n, o, i] = b[o] + sum over c, p of w[o, c, p] * x_pad[n, c, i*stride + p*dilation]."""
    k = w.shape[2]
    xp = zero_pad(x, (padding,))
    length = (xp.shape[2] - dilation * (k - 1) - 1) // stride + 1
    out = np.zeros((x.shape[0], w.shape[0], length))
    for n in range(x.shape[0]):
        for o in range(w.shape[0]):
            for i in range(length):
                window = xp[n, :, i * stride : i * stride + dilation * (k - 1) + 1 : dilation]
                out[n, o, i] = np.sum(window * w[o]) + (0 if b is None else b[o])
    return out


def naive_conv_transpose2d(x, w, b, stride, padding, output_padding, dilation):
    """Each input pixel (i, j) adds x[n, :, i, j] @ w[:, :, p, q] onto output pixel (i*sh + p*dh, j*sw + q*dw);
    the result, grown by output_padding at the bottom and right, loses `padding` from every side."""
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    n, _, h, wd = x.shape
    _, c_out, kh, kw = w.shape
    full_h = (h - 1) * sh + dh * (kh - 1) + 1 + output_padding[0]
    full_w = (wd - 1) * sw + dw * (kw - 1) + 1 + output_padding[1]
    full = np.zeros((n, c_out, full_h, full_w))
    for i in range(h):
        for j in range(wd):
            for p in range(kh):
                for q in range(kw):
                    full[:, :, i * sh + p * dh, j * sw + q * dw] += x[:, :, i, j] @ w[:, :, p, q]
    out = full[:, :, ph : full_h - ph, pw : full_w - pw]
    return out if b is None else out + b[:, None, None]


# --- drawn cases ------------------------------------------------------------------------------


@st.composite
def conv_cases(draw, spatial, max_batch=2, max_channels=3, max_extra=4):
    """Shapes and geometry of a convolution whose output is at least 1 along every axis."""
    small = st.integers(1, 3)
    kernel = tuple(draw(small) for _ in range(spatial))
    stride = tuple(draw(small) for _ in range(spatial))
    padding = tuple(draw(st.integers(0, 2)) for _ in range(spatial))
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(spatial))
    size = tuple(d * (k - 1) + 1 + draw(st.integers(0, max_extra)) for k, d in zip(kernel, dilation))
    n, c, o = draw(st.integers(1, max_batch)), draw(st.integers(1, max_channels)), draw(st.integers(1, max_channels))
    return dict(
        x_shape=(n, c, *size),
        w_shape=(o, c, *kernel),
        bias=draw(st.booleans()),
        stride=stride,
        padding=padding,
        dilation=dilation,
        seed=draw(st.integers(0, 2**32 - 1)),
    )


@st.composite
def transpose_cases(draw, max_batch=2, max_channels=3, max_size=4):
    """Shapes and geometry of a transposed convolution whose output is at least 1 along every axis."""
    small = st.integers(1, 3)
    kernel, stride, dilation = [tuple(draw(small) for _ in range(2)) for _ in range(3)]
    size = tuple(draw(st.integers(1, max_size)) for _ in range(2))
    output_padding = tuple(draw(st.integers(0, max(s, d) - 1)) for s, d in zip(stride, dilation))
    # The output before cropping has (n - 1) s + d (k - 1) + 1 + op pixels: padding may crop all but one.
    geometry = zip(size, stride, dilation, kernel, output_padding)
    uncropped = [(n - 1) * s + d * (k - 1) + 1 + op for n, s, d, k, op in geometry]
    padding = tuple(draw(st.integers(0, min(2, (u - 1) // 2))) for u in uncropped)
    channels = st.integers(1, max_channels)
    n, c_in, c_out = draw(st.integers(1, max_batch)), draw(channels), draw(channels)
    return dict(
        x_shape=(n, c_in, *size),
        w_shape=(c_in, c_out, *kernel),
        bias=draw(st.booleans()),
        stride=stride,
        padding=padding,
        output_padding=output_padding,
        dilation=dilation,
        seed=draw(st.integers(0, 2**32 - 1)),
    )


def arrays(case):
    rng = np.random.default_rng(case["seed"])
    x, w = rng.standard_normal(case["x_shape"]), rng.standard_normal(case["w_shape"])
    transposed = "output_padding" in case  # its weight is (in_channels, out_channels, ...)
    out_channels = case["w_shape"][1] if transposed else case["w_shape"][0]
    return x, w, (rng.standard_normal(out_channels) if case["bias"] else None)


def tensors(case, requires_grad=False):
    return [None if a is None else f64(a, requires_grad) for a in arrays(case)]


# --- values -----------------------------------------------------------------------------------


@per_backend
@given(case=conv_cases(spatial=2))
def test_conv2d_matches_the_naive_loop(backend_name, case):
    x, w, b = arrays(case)
    geometry = case["stride"], case["padding"], case["dilation"]
    got = F.conv2d(*tensors(case), *geometry)
    np.testing.assert_allclose(got.numpy(), naive_conv2d(x, w, b, *geometry), rtol=1e-10, atol=1e-12)


@per_backend
@given(case=conv_cases(spatial=1))
def test_conv1d_matches_the_naive_loop(backend_name, case):
    x, w, b = arrays(case)
    (stride,), (padding,), (dilation,) = case["stride"], case["padding"], case["dilation"]
    got = F.conv1d(*tensors(case), stride=stride, padding=padding, dilation=dilation)
    np.testing.assert_allclose(got.numpy(), naive_conv1d(x, w, b, stride, padding, dilation), rtol=1e-10, atol=1e-12)


@per_backend
@given(case=transpose_cases())
def test_conv_transpose2d_matches_the_naive_scatter(backend_name, case):
    x, w, b = arrays(case)
    geometry = case["stride"], case["padding"], case["output_padding"], case["dilation"]
    got = F.conv_transpose2d(*tensors(case), *geometry[:3], dilation=geometry[3])
    expected = naive_conv_transpose2d(x, w, b, *geometry)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-10, atol=1e-12)


@per_backend
@given(case=conv_cases(spatial=2, max_extra=2))
def test_conv_transpose2d_undoes_the_shape_of_conv2d(backend_name, case):
    # conv_transpose2d with conv2d's arguments is the adjoint of conv2d: <conv(x), y> = <x, conv_t(y)>,
    # and output_padding recovers the input size conv2d's floor division lost.
    x, w, _ = arrays(case)
    stride, padding, dilation = case["stride"], case["padding"], case["dilation"]
    y = F.conv2d(f64(x), f64(w), None, stride, padding, dilation).numpy()
    geometry = zip(x.shape[2:], padding, dilation, w.shape[2:], stride)
    lost = tuple((n + 2 * p - d * (k - 1) - 1) % s for n, p, d, k, s in geometry)  # always < stride
    back = F.conv_transpose2d(f64(y), f64(w), None, stride, padding, lost, dilation=dilation).numpy()
    assert back.shape == x.shape
    np.testing.assert_allclose(np.sum(y * y), np.sum(x * back), rtol=1e-9)


def test_int_arguments_stand_for_both_axes(backend_name):
    x, w = tn.randn(2, 3, 9, 8, dtype=tn.float64), tn.randn(4, 3, 3, 3, dtype=tn.float64)
    np.testing.assert_array_equal(
        F.conv2d(x, w, stride=2, padding=1, dilation=2).numpy(),
        F.conv2d(x, w, stride=(2, 2), padding=(1, 1), dilation=(2, 2)).numpy(),
    )
    wt = tn.randn(3, 4, 3, 3, dtype=tn.float64)
    np.testing.assert_array_equal(
        F.conv_transpose2d(x, wt, stride=2, padding=1, output_padding=1).numpy(),
        F.conv_transpose2d(x, wt, stride=(2, 2), padding=(1, 1), output_padding=(1, 1)).numpy(),
    )


def test_float32_stays_float32(backend_name):
    x = tn.randn(2, 3, 6, 6, requires_grad=True)
    conv = nn.Conv2d(3, 4, 3)
    y = conv(x)
    y.sum().backward()
    assert y.dtype == tn.float32 and x.grad.dtype == tn.float32 and conv.weight.grad.dtype == tn.float32
    expected = naive_conv2d(x.numpy(), conv.weight.numpy(), conv.bias.numpy(), (1, 1), (0, 0), (1, 1))
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("layer", [nn.Conv1d(3, 4, 3), nn.Conv2d(3, 4, 3), nn.Conv3d(3, 4, 3)])
def test_an_empty_batch_gives_an_empty_output_and_zero_gradients(backend_name, layer):
    # PyTorch takes N = 0 (a last batch of a filtered dataset can be empty); the bias is still added to nothing.
    x = tn.zeros(0, 3, *(5,) * layer.spatial, requires_grad=True)
    y = layer(x)
    assert y.shape == (0, 4, *(3,) * layer.spatial)
    y.sum().backward()
    assert x.grad.shape == x.shape and not layer.bias.grad.numpy().any() and not layer.weight.grad.numpy().any()


# --- gradients --------------------------------------------------------------------------------


@given(case=conv_cases(spatial=2, max_channels=2, max_extra=2))
def test_conv2d_gradcheck(case):
    geometry = case["stride"], case["padding"], case["dilation"]
    x, w, b = tensors(case, requires_grad=True)
    if b is None:
        assert tn.gradcheck(lambda x, w: F.conv2d(x, w, None, *geometry), [x, w])
    else:
        assert tn.gradcheck(lambda x, w, b: F.conv2d(x, w, b, *geometry), [x, w, b])


@given(case=conv_cases(spatial=1, max_channels=2))
def test_conv1d_gradcheck(case):
    (stride,), (padding,), (dilation,) = case["stride"], case["padding"], case["dilation"]
    x, w, b = tensors(case, requires_grad=True)
    b = b if b is not None else f64(np.zeros(case["w_shape"][0]), requires_grad=True)
    assert tn.gradcheck(lambda x, w, b: F.conv1d(x, w, b, stride, padding, dilation), [x, w, b])


@given(case=transpose_cases(max_channels=2, max_size=3))
def test_conv_transpose2d_gradcheck(case):
    geometry = case["stride"], case["padding"], case["output_padding"], case["dilation"]
    x, w, b = tensors(case, requires_grad=True)
    b = b if b is not None else f64(np.zeros(case["w_shape"][1]), requires_grad=True)
    assert tn.gradcheck(lambda x, w, b: F.conv_transpose2d(x, w, b, *geometry[:3], dilation=geometry[3]), [x, w, b])


def test_an_input_that_needs_no_grad_gets_none_and_the_weight_still_learns():
    x, w = tn.randn(2, 3, 5, 5), tn.randn(4, 3, 3, 3, requires_grad=True)
    F.conv2d(x, w).sum().backward()
    assert x.grad is None
    # d sum(out) / d w[o, c, p, q] = the sum of every x pixel that tap (p, q) of channel c ever reads.
    expected = np.stack([x.numpy()[:, :, p : p + 3, q : q + 3].sum(axis=(0, 2, 3)) for p in range(3) for q in range(3)])
    np.testing.assert_allclose(w.grad.numpy()[0], expected.T.reshape(3, 3, 3), rtol=1e-5)


# --- layers -----------------------------------------------------------------------------------


def count(module):
    return sum(p.numel() for p in module.parameters())


def test_parameter_counts_and_shapes_match_pytorch():
    assert count(nn.Conv2d(3, 8, 3)) == 8 * 3 * 3 * 3 + 8 == 224
    assert count(nn.Conv2d(3, 8, (3, 5), bias=False)) == 8 * 3 * 3 * 5
    assert count(nn.Conv1d(4, 6, 5)) == 6 * 4 * 5 + 6
    assert count(nn.ConvTranspose2d(4, 6, 3)) == 4 * 6 * 3 * 3 + 6
    assert nn.Conv2d(3, 8, (3, 5)).weight.shape == (8, 3, 3, 5)
    assert nn.Conv1d(4, 6, 5).weight.shape == (6, 4, 5)
    assert nn.ConvTranspose2d(4, 6, 3).weight.shape == (4, 6, 3, 3)  # (in, out, KH, KW), as PyTorch
    assert [name for name, _ in nn.Conv2d(1, 2, 3).named_parameters()] == ["weight", "bias"]


def test_output_shapes_follow_pytorchs_formulas():
    # (H + 2p - d(k-1) - 1) // s + 1 for convolutions; (H-1)s - 2p + d(k-1) + op + 1 for transposed ones.
    assert nn.Conv2d(3, 8, 3, stride=2, padding=1)(tn.randn(2, 3, 9, 9)).shape == (2, 8, 5, 5)
    assert nn.Conv2d(3, 8, (3, 1), dilation=(2, 1))(tn.randn(1, 3, 9, 4)).shape == (1, 8, 5, 4)
    assert nn.Conv1d(4, 6, 5, padding=2)(tn.randn(3, 4, 10)).shape == (3, 6, 10)
    assert nn.Conv1d(4, 6, 3, stride=2, dilation=2)(tn.randn(1, 4, 10)).shape == (1, 6, 3)
    assert nn.ConvTranspose2d(8, 3, 4, stride=2, padding=1)(tn.randn(2, 8, 5, 5)).shape == (2, 3, 10, 10)
    up = nn.ConvTranspose2d(8, 3, 3, stride=2, padding=1, output_padding=1)
    assert up(tn.randn(1, 8, 5, 5)).shape == (1, 3, 10, 10)


@pytest.mark.parametrize(
    ("layer", "fan_in"),
    [
        (lambda: nn.Conv2d(3, 8, 3), 3 * 3 * 3),
        (lambda: nn.Conv1d(4, 6, 5), 4 * 5),
        # PyTorch takes fan_in from weight.shape[1] * K * K, which for (in, out, K, K) is out * K * K.
        (lambda: nn.ConvTranspose2d(2, 12, 3), 12 * 3 * 3),
    ],
)
def test_default_init_is_pytorchs(layer, fan_in):
    module = layer()
    bound = 1 / math.sqrt(fan_in)  # kaiming_uniform_(a=sqrt(5)) works out to U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    weight, bias = np.abs(module.weight.numpy()), np.abs(module.bias.numpy())
    assert weight.max() <= bound and weight.max() > 0.9 * bound  # filled up to the bound, not beyond
    assert bias.max() <= bound and bias.min() >= 0 and bias.any()


def test_repr_matches_pytorch():
    assert repr(nn.Conv2d(3, 8, 3, padding=1)) == "Conv2d(3, 8, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))"
    assert repr(nn.Conv1d(3, 8, 3, bias=False)) == "Conv1d(3, 8, kernel_size=(3,), stride=(1,), bias=False)"
    assert (
        repr(nn.ConvTranspose2d(8, 3, 3, stride=2, output_padding=1))
        == "ConvTranspose2d(8, 3, kernel_size=(3, 3), stride=(2, 2), output_padding=(1, 1))"
    )


def test_layers_match_the_functions(backend_name):
    x = tn.randn(2, 3, 7, 7)
    conv = nn.Conv2d(3, 4, 3, stride=2, padding=1, dilation=2)
    expected = F.conv2d(x, conv.weight, conv.bias, stride=2, padding=1, dilation=2)
    np.testing.assert_array_equal(conv(x).numpy(), expected.numpy())
    up = nn.ConvTranspose2d(3, 2, 2, stride=2, bias=False)
    np.testing.assert_array_equal(up(x).numpy(), F.conv_transpose2d(x, up.weight, stride=2).numpy())


def test_a_tiny_cnn_learns_a_small_batch(backend_name):
    model = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(4 * 4 * 4, 3)
    )
    x, y = tn.randn(12, 1, 8, 8), tn.randint(0, 3, (12,))
    optimizer = tn.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    losses = []
    for _ in range(30):
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


# --- errors -----------------------------------------------------------------------------------


def test_channel_mismatch_names_both_shapes():
    with pytest.raises(tn.ShapeError, match=r"conv2d: input of shape \(1, 3, 5, 5\) has 3 channels .* expects 4"):
        F.conv2d(tn.randn(1, 3, 5, 5), tn.randn(8, 4, 3, 3))
    with pytest.raises(tn.ShapeError, match=r"conv_transpose2d: .* has 3 channels .* expects 8"):
        F.conv_transpose2d(tn.randn(1, 3, 5, 5), tn.randn(8, 3, 3, 3))
    with pytest.raises(tn.ShapeError, match=r"Conv2d\(3, 8, .*expected input of shape \(N, 3, H, W\), got \(1, 4, 5"):
        nn.Conv2d(3, 8, 3)(tn.randn(1, 4, 5, 5))


def test_an_input_too_small_for_the_kernel_gives_the_computed_size():
    with pytest.raises(tn.ShapeError, match=r"conv2d: input of shape \(1, 1, 2, 5\) is too small.*would be \(0, 3\)"):
        F.conv2d(tn.randn(1, 1, 2, 5), tn.randn(1, 1, 3, 3))
    with pytest.raises(tn.ShapeError, match=r"conv1d: .*too small.*would be \(-2,\)"):
        F.conv1d(tn.randn(1, 1, 4), tn.randn(1, 1, 3), dilation=3)
    with pytest.raises(tn.ShapeError, match=r"conv_transpose2d: .*output of size \(-1, -1\)"):
        F.conv_transpose2d(tn.randn(1, 1, 1, 1), tn.randn(1, 1, 1, 1), padding=1, output_padding=0)


def test_wrong_ndim_says_which_layout_is_expected():
    with pytest.raises(
        tn.ShapeError, match=r"conv2d: expected input of shape \(N, C, H, W\).*got shape \(1, 3, 5, 5, 5\)"
    ):
        F.conv2d(tn.randn(1, 3, 5, 5, 5), tn.randn(8, 3, 3, 3))
    with pytest.raises(tn.ShapeError, match=r"conv2d: expected weight of shape \(out_channels, in_channels, KH, KW\)"):
        F.conv2d(tn.randn(1, 3, 5, 5), tn.randn(8, 3, 3))
    with pytest.raises(tn.ShapeError, match=r"conv1d: expected input of shape \(N, C, L\)"):
        F.conv1d(tn.randn(1, 3, 5, 5), tn.randn(8, 3, 3))


def test_bad_bias_and_bad_arguments():
    with pytest.raises(tn.ShapeError, match=r"conv2d: bias must have shape \(8,\).*got \(3,\)"):
        F.conv2d(tn.randn(1, 3, 5, 5), tn.randn(8, 3, 3, 3), tn.randn(3))
    with pytest.raises(tn.ShapeError, match=r"conv_transpose2d: bias must have shape \(6,\)"):
        F.conv_transpose2d(tn.randn(1, 3, 5, 5), tn.randn(3, 6, 3, 3), tn.randn(3))
    with pytest.raises(ValueError, match=r"conv2d: stride must be at least 1, got 0"):
        F.conv2d(tn.randn(1, 3, 5, 5), tn.randn(8, 3, 3, 3), stride=0)
    with pytest.raises(ValueError, match=r"conv2d: padding must be an int or a tuple of 2 ints, got \(1, 1, 1\)"):
        F.conv2d(tn.randn(1, 3, 5, 5), tn.randn(8, 3, 3, 3), padding=(1, 1, 1))
    with pytest.raises(ValueError, match=r"output_padding=\(2, 2\) must be smaller than stride=\(2, 2\)"):
        F.conv_transpose2d(tn.randn(1, 3, 5, 5), tn.randn(3, 6, 3, 3), stride=2, output_padding=2)
    with pytest.raises(ValueError, match=r"Conv2d: in_channels must be at least 1, got 0"):
        nn.Conv2d(0, 8, 3)
    with pytest.raises(ValueError, match=r"Conv1d: kernel_size must be an int, got \(3, 3\)"):
        nn.Conv1d(2, 8, (3, 3))
