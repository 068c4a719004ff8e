"""Convolution options and padding against PyTorch: F.pad in its four modes, groups (depthwise too),
padding="same"/"valid", dilation, conv3d, conv_transpose1d/3d, unbatched inputs, the nn layers, and the errors."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from torch_oracle import check, torch

import tinynet as tn
from tinynet import nn
from tinynet.nn import functional as F

# --- F.pad -------------------------------------------------------------------------------------------

PADS = [
    ((3, 3, 3, 3), (1, 2, 3, 4), "constant"),
    ((3, 3), (-1, 2, -3, 4), "constant"),
    ((2, 3, 4), (1, 0, 0, 2, 1, 1), "constant"),
    ((4,), (-4, 0), "constant"),
    ((1, 1, 5, 5), (0, 2, 3, 2), "replicate"),
    ((5, 5, 5), (0, 2), "replicate"),
    ((1, 1, 5, 5, 5), (1, 2, 3, 4, 1, 2), "replicate"),
    ((3, 3, 3, 3), (-1, 2, 2, -1), "replicate"),
    ((1, 1, 5, 5), (3, -5, 1, -5), "replicate"),
    ((1, 1, 5, 5), (3, 11, 0, 30), "replicate"),
    ((1, 1, 5, 5), (0, 2, 3, 2), "reflect"),
    ((5, 5, 5), (0, 2), "reflect"),
    ((2, 5), (4, 4), "reflect"),
    ((1, 1, 5, 5, 5), (1, 2, 3, 4, 1, 2), "reflect"),
    ((3, 3, 3, 3), (-1, 2, 2, -1), "reflect"),
    ((1, 1, 5, 5), (3, -3, 0, -3), "reflect"),
    ((1, 1, 5, 5), (0, 0, 0, -5), "reflect"),
    ((1, 1, 5, 5), (4, 4, 0, 4), "reflect"),
    ((1, 1, 5, 5), (0, 2, 3, 2), "circular"),
    ((5, 5, 5), (0, 2), "circular"),
    ((2, 5), (5, 5), "circular"),
    ((1, 1, 5, 5, 5), (1, 2, 3, 5, 1, 2), "circular"),
    ((1, 1, 5, 5), (1, -2, -1, 3), "circular"),
    ((0, 2, 5), (1, 1), "reflect"),
]


@pytest.mark.parametrize(("shape", "pad", "mode"), PADS, ids=lambda v: str(v))
def test_pad_matches_pytorch(shape, pad, mode):
    check(lambda lib, x: lib.nn.functional.pad(x, pad, mode=mode), shape)


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
def test_pad_of_non_contiguous_float64_input(mode):
    check(lambda lib, x: lib.nn.functional.pad(x.transpose(1, 2), (2, 1, 1, 2), mode=mode), (2, 4, 3), dtype=np.float64)


@pytest.mark.parametrize("value", [0.0, 3.456, -5])
def test_pad_value_and_a_slice_of_the_result(value):
    check(lambda lib, x: lib.nn.functional.pad(x, (3, 4, 1, 2), value=value)[:, 1:6], (4, 4))
    check(lambda lib, x: lib.nn.functional.pad(x, (0, 3), value=value)[4:6], (4,))


def test_pad_with_minus_infinity_before_a_max_pool():
    check(lambda lib, x: lib.nn.functional.pad(x, (0, 1, 0, 1), value=float("-inf")).amax(dim=(2, 3)), (1, 2, 3, 3))


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
def test_pad_keeps_integer_and_bool_dtypes(mode):
    check(lambda lib, x: lib.nn.functional.pad(x, (1, 2), mode=mode), np.arange(12).reshape(2, 2, 3))
    check(lambda lib, x: lib.nn.functional.pad(x, (2, 1), mode=mode), np.arange(6, dtype=np.int32).reshape(2, 3))
    if mode == "constant":
        check(lambda lib, x: lib.nn.functional.pad(x, (1, 1), value=2.7), np.arange(6).reshape(2, 3))
        check(lambda lib, x: lib.nn.functional.pad(x, (1, 0), value=1), np.array([True, False]))


def test_pad_of_a_0d_tensor_and_an_empty_pad():
    check(lambda lib, x: lib.nn.functional.pad(x, ()) * 2, ())
    check(lambda lib, x: lib.nn.functional.pad(x, []) * 2, (2, 3))


PAD_ERRORS = [
    ((1, 1, 5, 5), (3, 5, 0, 0), "reflect", "reflect padding \\(3, 5\\) of dim 3 must be smaller than its size 5"),
    ((1, 1, 5, 5), (3, 6, 0, 0), "circular", "wrap around more than once"),
    ((2, 5), (-2, -4), "circular", "circular padding"),
    ((5,), (1, 1), "reflect", "needs an input of 2 dims \\(unbatched\\) or 3"),
    ((2, 2, 2, 5), (1, 1), "replicate", "needs an input of 2 dims"),
    ((2, 0, 5), (1, 1), "reflect", "non-empty dims"),
    ((5,), (1,), "constant", "even length"),
    ((5,), (1, 1, 1, 1), "constant", "expected at most 2 values"),
    ((5,), (-6, 0), "constant", "crops more than its size 5"),
    ((2, 5), (-5, 0), "replicate", "too small"),
    ((2, 5), (1, 1), "bogus", "unknown mode 'bogus'"),
]


@pytest.mark.parametrize(("shape", "pad", "mode", "message"), PAD_ERRORS, ids=lambda v: str(v))
def test_pad_refuses_what_pytorch_refuses(shape, pad, mode, message):
    with pytest.raises((RuntimeError, NotImplementedError)):
        torch.nn.functional.pad(torch.zeros(shape), pad, mode=mode)
    with pytest.raises(tn.TinynetError, match="pad: .*" + message):
        F.pad(tn.zeros(*shape), pad, mode=mode)


def test_pad_refuses_a_value_in_copying_modes_and_non_int_pads():
    with pytest.raises(tn.ArgumentError, match='pad: padding mode "reflect" takes no value'):
        F.pad(tn.zeros(2, 5), (1, 1), mode="reflect", value=3.0)
    with pytest.raises(tn.ArgumentTypeError, match="pad: pad must be a tuple of ints"):
        F.pad(tn.zeros(2, 5), (1.5, 1))


# --- convolutions with every option ------------------------------------------------------------------

CONVS = [
    ("conv2d", [(1, 4, 9, 9), (4, 4, 3, 3), (4,)], {}),
    ("conv2d", [(2, 4, 9, 9), (4, 4, 3, 3)], {"padding": "same"}),
    ("conv2d", [(2, 4, 9, 9), (4, 4, 4, 2)], {"padding": "same", "dilation": (1, 3)}),
    ("conv2d", [(2, 4, 9, 9), (4, 4, 4, 2), (4,)], {"padding": "valid"}),
    ("conv2d", [(1, 32, 12, 12), (32, 1, 1, 1)], {"groups": 32}),  # depthwise
    ("conv2d", [(2, 3, 11, 28), (3, 1, 3, 3)], {"groups": 3}),
    ("conv2d", [(2, 4, 7, 7), (8, 1, 3, 3)], {"groups": 4, "stride": 2, "padding": 1}),  # channel multiplier 2
    ("conv2d", [(4, 15, 5, 5), (35, 3, 3, 3)], {"groups": 5}),
    ("conv2d", [(4, 3, 11, 28), (4, 3, 3, 3)], {"dilation": (2, 1), "stride": (2, 1), "padding": (2, 1)}),
    ("conv2d", [(3, 11, 9), (6, 3, 4, 3), (6,)], {"padding": 1}),  # unbatched
    ("conv2d", [(0, 4, 5, 5), (4, 2, 3, 3)], {"groups": 2}),  # an empty batch
    ("conv1d", [(8, 3, 11), (6, 1, 5)], {"groups": 3}),
    ("conv1d", [(8, 3, 11), (6, 3, 4)], {"padding": "same", "dilation": 3}),
    ("conv1d", [(2, 4, 11), (4, 2, 3), (4,)], {"groups": 2, "stride": (2,), "padding": (1,)}),
    ("conv1d", [(3, 11), (6, 3, 4)], {}),
    ("conv3d", [(1, 4, 5, 5, 5), (4, 4, 3, 3, 3)], {"padding": 1}),
    (
        "conv3d",
        [(2, 4, 6, 5, 7), (6, 2, 3, 2, 3), (6,)],
        {"groups": 2, "stride": (2, 1, 2), "dilation": (1, 2, 1), "padding": (1, 0, 2)},
    ),
    ("conv3d", [(2, 4, 6, 5, 7), (6, 4, 2, 2, 3)], {"padding": "same"}),
    ("conv3d", [(4, 5, 5, 5), (2, 4, 3, 3, 3)], {}),
    ("conv_transpose2d", [(2, 4, 9, 9), (4, 4, 3, 3), (8,)], {"groups": 2}),
    ("conv_transpose2d", [(2, 4, 6, 5), (4, 4, 3, 3), (4,)], {"output_padding": (1, 1), "stride": (2, 3)}),
    ("conv_transpose2d", [(2, 4, 6, 5), (4, 4, 3, 3), (4,)], {"output_padding": (2, 1), "stride": (3, 2)}),
    ("conv_transpose2d", [(2, 4, 9, 9), (4, 4, 3, 3)], {"dilation": (1, 2), "padding": (1, 2)}),
    ("conv_transpose2d", [(4, 4, 4), (4, 1, 3, 3)], {"groups": 4, "stride": 2}),
    ("conv_transpose1d", [(2, 4, 9), (4, 3, 3), (6,)], {"groups": 2, "stride": 2, "output_padding": 1, "padding": 1}),
    ("conv_transpose1d", [(4, 9), (4, 3, 3)], {"dilation": 2}),
    ("conv_transpose3d", [(2, 4, 5, 5, 5), (4, 4, 3, 3, 3)], {}),
    (
        "conv_transpose3d",
        [(2, 4, 4, 3, 5), (4, 3, 3, 2, 3), (6,)],
        {"groups": 2, "stride": (2, 1, 2), "padding": (1, 0, 1), "output_padding": (1, 0, 1), "dilation": (1, 2, 1)},
    ),
]


@pytest.mark.filterwarnings("ignore:Using padding='same'")  # PyTorch's note that it copies the input
@pytest.mark.parametrize(("op", "shapes", "options"), CONVS, ids=lambda v: str(v))
def test_convolution_matches_pytorch(backend_name, op, shapes, options):
    check(lambda lib, *a: getattr(lib.nn.functional, op)(*a, **options), *shapes, atol=1e-4)


@pytest.mark.parametrize("op", ["conv2d", "conv_transpose2d"])
def test_grouped_convolution_of_non_contiguous_float64_inputs(backend_name, op):
    def fn(lib, x, w):
        return getattr(lib.nn.functional, op)(x.transpose(2, 3), w.transpose(2, 3), groups=2, stride=(1, 2))

    check(fn, (2, 4, 7, 6), (4, 2, 2, 3), dtype=np.float64)


def test_same_padding_pads_the_odd_one_after_as_pytorch(backend_name):
    # An even kernel needs an odd total: the extra row and column go after (bottom, right).
    x, w = np.arange(16.0).reshape(1, 1, 4, 4), np.ones((1, 1, 2, 2))
    expected = torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(w), padding="same").numpy()
    got = F.conv2d(tn.tensor(x), tn.tensor(w), padding="same").numpy()
    np.testing.assert_allclose(got, expected)
    assert got[0, 0, 0, 0] == x[0, 0, :2, :2].sum()


CONV_ERRORS = [
    ("conv2d", (1, 1, 6, 7), (6, 1, 3, 3), {"dilation": 3}, tn.ShapeError, "too small"),
    ("conv2d", (2, 16, 2, 2), (32, 16, 3, 3), {}, tn.ShapeError, "too small"),
    ("conv2d", (2, 16, 5, 5), (32, 16, 3, 3), {"padding": (1, 1, 1)}, tn.ArgumentError, "padding must be"),
    ("conv2d", (2, 4, 5, 5), (4, 4, 3, 3), {"padding": "same", "stride": 2}, tn.ArgumentError, "strided"),
    ("conv2d", (2, 4, 5, 5), (4, 4, 3, 3), {"padding": "full"}, tn.ArgumentError, "'same' or 'valid'"),
    ("conv2d", (2, 4, 5, 5), (3, 2, 3, 3), {"groups": 2}, tn.ShapeError, "groups=2 must divide"),
    ("conv2d", (2, 4, 5, 5), (4, 1, 3, 3), {"groups": 2}, tn.ShapeError, "has 4 channels .* expects 2"),
    ("conv1d", (2, 4, 5), (4, 4, 3), {"groups": 0}, tn.ArgumentError, "groups must be at least 1"),
    ("conv3d", (2, 4, 5, 5), (4, 4, 3, 3), {}, tn.ShapeError, "expected weight of shape"),
    ("conv3d", (2, 4, 5, 5, 5, 5), (4, 4, 3, 3, 3), {}, tn.ShapeError, "unbatched \\(C, D, H, W\\)"),
    ("conv_transpose2d", (2, 16, 2, 2), (16, 32, 3, 3), {"padding": (1, 1, 1)}, tn.ArgumentError, "padding must"),
    ("conv_transpose2d", (2, 4, 5, 5), (4, 2, 3, 3), {"groups": 3}, tn.ShapeError, "groups=3 must divide"),
    ("conv_transpose1d", (2, 4, 5), (4, 2, 3), {"output_padding": 1}, tn.ArgumentError, "must be smaller than"),
]


@pytest.mark.parametrize(("op", "x", "w", "options", "error", "message"), CONV_ERRORS, ids=lambda v: str(v))
def test_convolution_refuses_what_pytorch_refuses(op, x, w, options, error, message):
    with pytest.raises((RuntimeError, ValueError)):
        getattr(torch.nn.functional, op)(torch.zeros(x), torch.zeros(w), **options)
    with pytest.raises(error, match=f"{op}: .*{message}"):
        getattr(F, op)(tn.zeros(*x), tn.zeros(*w), **options)


def test_checks_remembered_from_a_good_call_let_no_bad_one_through():
    """A convolution remembers the shapes, dtypes and options it has checked (a layer calls with the same ones every
    step). A call that differs in any of them, or passes a bool where an int is due, is checked again."""
    x, w, b = tn.zeros(2, 4, 9), tn.zeros(6, 4, 3), tn.zeros(6)
    for stride in (1, (1,), 2):  # remembered; True and (True,) equal 1 and (1,) as keys
        F.conv1d(x, w, b, stride=stride, padding=1)
    assert F.conv1d(x, w, b, stride=2, padding=1).shape == (2, 6, 5)
    bad_calls = [
        (lambda: F.conv1d(x, w, b, stride=True, padding=1), tn.ArgumentError, "stride must be an int"),
        (lambda: F.conv1d(x, w, b, stride=(True,), padding=1), tn.ArgumentError, "stride must be"),
        (lambda: F.conv1d(tn.zeros(2, 5, 9), w, b, stride=2, padding=1), tn.ShapeError, "has 5 channels"),
        (lambda: F.conv1d(x, w, tn.zeros(5), stride=2, padding=1), tn.ShapeError, "bias must have shape"),
        (lambda: F.conv1d(x, w.double(), b, stride=2, padding=1), tn.DTypeError, "weight has dtype float64"),
        (lambda: F.conv1d(tn.zeros(2, 4, 1), w, b, stride=2, padding=0), tn.ShapeError, "too small"),
        (lambda: F.conv1d(x, w, b, stride=2, padding=1, groups=4), tn.ShapeError, "groups=4 must divide"),
    ]
    for call, error, message in bad_calls:
        with pytest.raises(error, match=message):
            call()
    assert F.conv1d(x[0], w, b, stride=2, padding=1).shape == (6, 5)  # unbatched, as the batch of one it runs


def test_convolution_computes_integers_as_pytorch_and_refuses_bool_and_mixed_dtypes():
    x, w = np.arange(18).reshape(1, 2, 3, 3), np.array([1, -2, 3, 0, 5, -1, 2, 2]).reshape(1, 2, 2, 2)
    expected = torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(w), padding=1)
    got = F.conv2d(tn.tensor(x), tn.tensor(w), padding=1)
    assert got.dtype == tn.int64 and np.array_equal(got.numpy(), expected.numpy())
    with pytest.raises(tn.DTypeError, match="conv2d: input of dtype bool is not supported"):
        F.conv2d(tn.zeros(1, 1, 3, 3, dtype=tn.bool), tn.zeros(1, 1, 2, 2, dtype=tn.bool))
    with pytest.raises(tn.DTypeError, match="conv1d: weight has dtype float64 but input has float32"):
        F.conv1d(tn.zeros(1, 1, 3), tn.zeros(1, 1, 2, dtype=tn.float64))


# --- nn layers -----------------------------------------------------------------------------------------

LAYERS = [
    ("Conv1d", (4, 6, 3), {"groups": 2, "padding": "same", "padding_mode": "reflect"}, (2, 4, 9)),
    ("Conv1d", (4, 6, 4), {"padding": "same", "dilation": 2, "padding_mode": "circular", "bias": False}, (4, 9)),
    ("Conv2d", (4, 8, 3), {"groups": 4, "padding": 1, "padding_mode": "replicate"}, (2, 4, 7, 6)),
    ("Conv2d", (3, 6, (2, 3)), {"padding": "same", "padding_mode": "circular"}, (2, 3, 7, 6)),
    (
        "Conv2d",
        (3, 6, 3),
        {"stride": (2, 1), "padding": (1, 2), "dilation": 2, "padding_mode": "reflect"},
        (1, 3, 9, 9),
    ),
    ("Conv2d", (3, 6, 3), {"padding": "valid", "bias": False}, (3, 7, 6)),
    ("Conv3d", (2, 4, 3), {"padding": "same", "groups": 2}, (1, 2, 5, 4, 6)),
    ("Conv3d", (2, 4, 2), {"padding": 1, "padding_mode": "replicate"}, (1, 2, 4, 4, 3)),
    ("ConvTranspose1d", (4, 6, 3), {"stride": 2, "output_padding": 1, "groups": 2}, (2, 4, 5)),
    (
        "ConvTranspose2d",
        (4, 6, 3),
        {"stride": 2, "padding": 1, "groups": 2, "dilation": 2, "bias": False},
        (1, 4, 4, 5),
    ),
    ("ConvTranspose3d", (2, 3, 2), {"stride": (1, 2, 1)}, (1, 2, 3, 2, 4)),
]


def _copy_parameters(ours, theirs):
    ours.weight.array = theirs.weight.detach().numpy().copy()
    if theirs.bias is not None:
        ours.bias.array = theirs.bias.detach().numpy().copy()


@pytest.mark.parametrize(("name", "args", "options", "shape"), LAYERS, ids=lambda v: str(v))
def test_conv_layers_match_pytorch(backend_name, name, args, options, shape):
    theirs, ours = getattr(torch.nn, name)(*args, **options), getattr(nn, name)(*args, **options)
    assert repr(ours) == repr(theirs)
    assert ours.weight.shape == tuple(theirs.weight.shape)
    assert (ours.bias is None) == (theirs.bias is None)
    _copy_parameters(ours, theirs)
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    np.testing.assert_allclose(ours(tn.tensor(x)).numpy(), theirs(torch.tensor(x)).detach().numpy(), atol=1e-5)


@pytest.mark.parametrize(("name", "args", "options", "shape"), LAYERS, ids=lambda v: str(v))
def test_conv_layers_initialize_as_pytorch(name, args, options, shape):
    layer = getattr(nn, name)(*args, **options)
    weight = layer.weight.numpy()
    bound = 1 / np.sqrt(np.prod(weight.shape[1:]))  # kaiming_uniform_(a=sqrt(5)) from the weight's layout
    assert np.abs(weight).max() <= bound and np.abs(weight).max() > 0.5 * bound
    if layer.bias is not None:
        assert np.abs(layer.bias.numpy()).max() <= bound


def test_conv_transpose_output_size_picks_the_output_padding():
    theirs, ours = torch.nn.ConvTranspose2d(2, 3, 3, stride=2), nn.ConvTranspose2d(2, 3, 3, stride=2)
    _copy_parameters(ours, theirs)
    x = np.random.default_rng(1).standard_normal((1, 2, 4, 4)).astype(np.float32)
    for size in [(9, 10), (1, 3, 10, 9)]:
        expected = theirs(torch.tensor(x), output_size=size).detach().numpy()
        np.testing.assert_allclose(ours(tn.tensor(x), output_size=size).numpy(), expected, atol=1e-5)
    with pytest.raises(tn.ArgumentError, match=r"output_size \(12, 9\) is not reachable"):
        ours(tn.tensor(x), output_size=(12, 9))


LAYER_ERRORS = [
    ("Conv2d", (4, 6, 3), {"groups": 4}, "out_channels=6 must be divisible by groups=4"),
    ("Conv2d", (3, 6, 3), {"groups": 2}, "in_channels=3 must be divisible by groups=2"),
    ("Conv2d", (3, 6, 3), {"padding": "same", "stride": 2}, "not supported for strided"),
    ("Conv2d", (3, 6, 3), {"padding": "full"}, "'same' or 'valid'"),
    ("Conv1d", (3, 6, 3), {"padding_mode": "mirror"}, "padding_mode must be one of"),
    ("ConvTranspose2d", (3, 6, 3), {"padding_mode": "reflect"}, 'only "zeros" padding mode'),
]


@pytest.mark.parametrize(("name", "args", "options", "message"), LAYER_ERRORS, ids=lambda v: str(v))
def test_conv_layers_refuse_what_pytorch_refuses(name, args, options, message):
    with pytest.raises(ValueError):
        getattr(torch.nn, name)(*args, **options)
    with pytest.raises(tn.ArgumentError, match=f"{name}: .*{message}"):
        getattr(nn, name)(*args, **options)


PADDING_LAYERS = [
    ("ZeroPad1d", (2,), (2, 3, 4)),
    ("ZeroPad2d", ((1, -1, 2, 0),), (2, 3, 4)),
    ("ZeroPad3d", (1,), (1, 2, 2, 3)),
    ("ConstantPad1d", ((2, 1), 3.5), (2, 4)),
    ("ConstantPad2d", (1, -2.0), (1, 2, 3)),
    ("ConstantPad3d", ((1, 0, 0, 1, 2, 0), 1.0), (2, 2, 2, 2)),
    ("ReflectionPad1d", ((2, 1),), (2, 3, 4)),
    ("ReflectionPad2d", (2,), (1, 2, 3, 4)),
    ("ReflectionPad3d", (1,), (1, 2, 2, 3, 4)),
    ("ReplicationPad1d", (3,), (2, 4)),
    ("ReplicationPad2d", ((1, 0, 3, 2),), (1, 2, 3, 4)),
    ("ReplicationPad3d", ((1, 0, 0, 2, 1, 1),), (2, 2, 2, 3)),
    ("CircularPad1d", ((1, 3),), (2, 3, 4)),
    ("CircularPad2d", (2,), (1, 2, 3, 4)),
    ("CircularPad3d", ((1, 0, 2, 1, 0, 1),), (1, 1, 2, 3, 4)),
]


@pytest.mark.parametrize(("name", "args", "shape"), PADDING_LAYERS, ids=lambda v: str(v))
def test_padding_layers_match_pytorch(name, args, shape):
    assert repr(getattr(nn, name)(*args)) == repr(getattr(torch.nn, name)(*args))
    check(lambda lib, x: getattr(lib.nn, name)(*args)(x), shape)


def test_padding_layers_refuse_a_padding_of_the_wrong_length():
    with pytest.raises(tn.ArgumentError, match=r"ReflectionPad2d: padding must be an int or 4 ints, got \(1, 2\)"):
        nn.ReflectionPad2d((1, 2))


# --- gradients on drawn shapes ------------------------------------------------------------------------


@given(
    batch=st.integers(1, 2),
    groups=st.integers(1, 3),
    per_group=st.integers(1, 2),
    multiplier=st.integers(1, 2),
    size=st.integers(3, 6),
    kernel=st.integers(1, 3),
    dilation=st.integers(1, 2),
)
def test_grouped_same_convolution_gradients(batch, groups, per_group, multiplier, size, kernel, dilation):
    rng = np.random.default_rng(size * kernel)
    x = tn.tensor(rng.standard_normal((batch, groups * per_group, size, size + 1)), requires_grad=True)
    w = tn.tensor(rng.standard_normal((groups * multiplier, per_group, kernel, 2)), requires_grad=True)
    b = tn.tensor(rng.standard_normal(groups * multiplier), requires_grad=True)
    assert tn.gradcheck(lambda x, w, b: F.conv2d(x, w, b, padding="same", dilation=dilation, groups=groups), [x, w, b])


@given(
    stride=st.integers(1, 2),
    padding=st.integers(0, 1),
    output_padding=st.integers(0, 1),
    groups=st.integers(1, 2),
    depth=st.integers(1, 3),
)
def test_conv_transpose3d_gradients(stride, padding, output_padding, groups, depth):
    rng = np.random.default_rng(depth)
    x = tn.tensor(rng.standard_normal((1, 2 * groups, depth, 2, 3)), requires_grad=True)
    w = tn.tensor(rng.standard_normal((2 * groups, 1, 2, 2, 2)), requires_grad=True)
    output_padding = min(output_padding, stride - 1)

    def fn(x, w):
        return F.conv_transpose3d(x, w, stride=stride, padding=(0, padding, 0), output_padding=output_padding,
                                  groups=groups)  # fmt: skip

    assert tn.gradcheck(fn, [x, w])


@given(
    mode=st.sampled_from(["constant", "reflect", "replicate", "circular"]),
    dims=st.integers(1, 3),
    data=st.data(),
)
def test_pad_gradients(mode, dims, data):
    shape = tuple(data.draw(st.integers(2, 4)) for _ in range(dims + 1))
    low = -1 if mode == "constant" else 0
    pad = [data.draw(st.integers(low, 1 if mode == "reflect" else 2)) for _ in range(2 * dims)]
    x = tn.tensor(np.random.default_rng(dims).standard_normal(shape), requires_grad=True)
    assert tn.gradcheck(lambda x: F.pad(x, pad, mode=mode), [x])
