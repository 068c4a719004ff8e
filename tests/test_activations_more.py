"""The activations beyond ReLU/sigmoid/tanh, softmax's dim=None and dtype=, and the in-place forms, each against
PyTorch (tests/torch_oracle.py): values, dtypes and gradients. Distances, one_hot and the channel dropouts are in
tests/test_distances_and_dropout.py."""

import math
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinynet as tn
from tests.torch_oracle import check, torch
from tinynet.errors import DTypeError, TinynetError

# --- elementwise activations ------------------------------------------------------------------------------

# (id, fn(lib, x)): F is lib.nn.functional. Each runs on several shapes, dtypes and backends below.
POINTWISE = [
    ("silu", lambda lib, x: lib.nn.functional.silu(x)),
    ("mish", lambda lib, x: lib.nn.functional.mish(x)),
    ("hardswish", lambda lib, x: lib.nn.functional.hardswish(x * 3)),
    ("hardsigmoid", lambda lib, x: lib.nn.functional.hardsigmoid(x * 3)),
    ("hardtanh", lambda lib, x: lib.nn.functional.hardtanh(x)),
    ("hardtanh_bounds", lambda lib, x: lib.nn.functional.hardtanh(x, -0.5, 0.7)),
    ("hardtanh_keywords", lambda lib, x: lib.nn.functional.hardtanh(x, min_val=-2.0, max_val=0.3)),
    ("relu6", lambda lib, x: lib.nn.functional.relu6(x * 5)),
    ("selu", lambda lib, x: lib.nn.functional.selu(x)),
    ("torch_selu", lambda lib, x: lib.selu(x)),
    ("celu", lambda lib, x: lib.nn.functional.celu(x)),
    ("celu_alpha", lambda lib, x: lib.nn.functional.celu(x, 0.5)),
    ("torch_celu", lambda lib, x: lib.celu(x, alpha=2.0)),
    ("softsign", lambda lib, x: lib.nn.functional.softsign(x)),
    ("logsigmoid", lambda lib, x: lib.nn.functional.logsigmoid(x)),
    ("threshold", lambda lib, x: lib.nn.functional.threshold(x, 0.1, 20.0)),
    ("torch_threshold", lambda lib, x: lib.threshold(x, -0.2, -3.0)),
    ("tanhshrink", lambda lib, x: lib.nn.functional.tanhshrink(x)),
    ("softshrink", lambda lib, x: lib.nn.functional.softshrink(x)),
    ("softshrink_lambd", lambda lib, x: lib.nn.functional.softshrink(x, 1.0)),
    ("hardshrink", lambda lib, x: lib.nn.functional.hardshrink(x)),
    ("hardshrink_method", lambda lib, x: x.hardshrink(0.2)),
    ("torch_hardshrink", lambda lib, x: lib.hardshrink(x, lambd=0.8)),
    ("gelu_tanh", lambda lib, x: lib.nn.functional.gelu(x, approximate="tanh")),
    ("gelu", lambda lib, x: lib.nn.functional.gelu(x, approximate="none")),
    ("elu_alpha", lambda lib, x: lib.nn.functional.elu(x, alpha=0.1)),
    ("leaky_relu", lambda lib, x: lib.nn.functional.leaky_relu(x, 0.2)),
    ("rrelu_eval", lambda lib, x: lib.nn.functional.rrelu(x)),
    ("torch_rrelu_eval", lambda lib, x: lib.rrelu(x, 0.1, 0.3, training=False)),
    ("quick_gelu", lambda lib, x: x * lib.sigmoid(1.702 * x)),
    ("softplus_beta", lambda lib, x: lib.nn.functional.softplus(x, beta=3)),
]
SHAPES = [(3, 4), (), (0, 3), (2, 3, 4)]


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize(("name", "fn"), POINTWISE, ids=[name for name, _ in POINTWISE])
def test_pointwise_activations_match_pytorch(backend_name, name, fn, shape):
    check(fn, shape)


@pytest.mark.parametrize(("name", "fn"), POINTWISE, ids=[name for name, _ in POINTWISE])
def test_pointwise_activations_in_float64_and_on_transposed_inputs(name, fn):
    check(fn, (4, 5), dtype=np.float64)
    check(lambda lib, x: fn(lib, x.transpose(0, 1)), (4, 5))


# Each piece's end points, where PyTorch chooses a one-sided gradient.
BOUNDARIES = np.array([-7.0, -6.0, -3.0, -1.0, -0.5, 0.0, 0.1, 0.5, 1.0, 3.0, 6.0, 7.0], dtype=np.float32)


@pytest.mark.parametrize(("name", "fn"), POINTWISE, ids=[name for name, _ in POINTWISE])
def test_pointwise_activations_at_the_ends_of_their_pieces(name, fn):
    if name in ("hardswish", "hardsigmoid", "relu6"):  # their lambdas scale x: undo it so the ends are hit
        scale = {"hardswish": 3, "hardsigmoid": 3, "relu6": 5}[name]
        check(fn, BOUNDARIES / scale)
    else:
        check(fn, BOUNDARIES)


@pytest.mark.parametrize("low", [300, -400])
@pytest.mark.parametrize(("name", "fn"), POINTWISE, ids=[name for name, _ in POINTWISE])
def test_pointwise_activations_stay_finite_at_extreme_inputs(name, fn, low):
    check(fn, (5, 6), low=low, high=low + 100)


@pytest.mark.parametrize(
    ("module", "fn"),
    [
        (lambda nn: nn.SiLU(), lambda F, x: F.silu(x)),
        (lambda nn: nn.Mish(), lambda F, x: F.mish(x)),
        (lambda nn: nn.Hardswish(), lambda F, x: F.hardswish(x)),
        (lambda nn: nn.Hardsigmoid(), lambda F, x: F.hardsigmoid(x)),
        (lambda nn: nn.Hardtanh(-0.3, 0.4), lambda F, x: F.hardtanh(x, -0.3, 0.4)),
        (lambda nn: nn.ReLU6(), lambda F, x: F.relu6(x)),
        (lambda nn: nn.SELU(), lambda F, x: F.selu(x)),
        (lambda nn: nn.CELU(0.3), lambda F, x: F.celu(x, 0.3)),
        (lambda nn: nn.Softsign(), lambda F, x: F.softsign(x)),
        (lambda nn: nn.LogSigmoid(), lambda F, x: F.logsigmoid(x)),
        (lambda nn: nn.Softmin(dim=1), lambda F, x: F.softmin(x, 1)),
        (lambda nn: nn.GLU(), lambda F, x: F.glu(x)),
        (lambda nn: nn.Threshold(0.2, -1.0), lambda F, x: F.threshold(x, 0.2, -1.0)),
        (lambda nn: nn.Tanhshrink(), lambda F, x: F.tanhshrink(x)),
        (lambda nn: nn.Softshrink(0.3), lambda F, x: F.softshrink(x, 0.3)),
        (lambda nn: nn.Hardshrink(0.3), lambda F, x: F.hardshrink(x, 0.3)),
        (lambda nn: nn.GELU(approximate="tanh"), lambda F, x: F.gelu(x, approximate="tanh")),
        (lambda nn: nn.GELU(), lambda F, x: F.gelu(x)),
        (lambda nn: nn.RReLU().eval(), lambda F, x: F.rrelu(x)),
        (lambda nn: nn.Softmax(dim=-1), lambda F, x: F.softmax(x, -1)),
        (lambda nn: nn.LogSoftmax(dim=0), lambda F, x: F.log_softmax(x, 0)),
    ],
)
def test_activation_modules_match_pytorch_and_their_functional_forms(backend_name, module, fn):
    check(lambda lib, x: module(lib.nn)(x), (3, 4))
    check(lambda lib, x: fn(lib.nn.functional, x), (3, 4))


@pytest.mark.parametrize(
    "make",
    [
        lambda nn: nn.SiLU(), lambda nn: nn.Hardtanh(), lambda nn: nn.Hardtanh(-2.0, 3.0, inplace=True),
        lambda nn: nn.ReLU6(), lambda nn: nn.ReLU(inplace=True), lambda nn: nn.CELU(0.5), lambda nn: nn.SELU(),
        lambda nn: nn.GLU(dim=0), lambda nn: nn.Threshold(0.1, 2.0), lambda nn: nn.Softshrink(),
        lambda nn: nn.Hardshrink(0.2), lambda nn: nn.PReLU(), lambda nn: nn.PReLU(4), lambda nn: nn.GELU("tanh"),
        lambda nn: nn.GELU(), lambda nn: nn.Softmin(1), lambda nn: nn.Softmax(), lambda nn: nn.RReLU(),
        lambda nn: nn.ELU(), lambda nn: nn.LeakyReLU(0.2), lambda nn: nn.Mish(), lambda nn: nn.Hardswish(),
        lambda nn: nn.CosineSimilarity(), lambda nn: nn.PairwiseDistance(),
    ],
)  # fmt: skip
def test_module_reprs_are_pytorchs(make):
    assert repr(make(tn.nn)) == repr(make(torch.nn))


# --- integer and bool inputs -------------------------------------------------------------------------------

REFUSE_INTEGERS = {
    "silu": lambda lib, x: lib.nn.functional.silu(x),
    "mish": lambda lib, x: lib.nn.functional.mish(x),
    "hardswish": lambda lib, x: lib.nn.functional.hardswish(x),
    "hardsigmoid": lambda lib, x: lib.nn.functional.hardsigmoid(x),
    "selu": lambda lib, x: lib.nn.functional.selu(x),
    "celu": lambda lib, x: lib.nn.functional.celu(x),
    "elu": lambda lib, x: lib.nn.functional.elu(x),
    "leaky_relu": lambda lib, x: lib.nn.functional.leaky_relu(x),
    "softplus": lambda lib, x: lib.nn.functional.softplus(x),
    "gelu": lambda lib, x: lib.nn.functional.gelu(x),
    "logsigmoid": lambda lib, x: lib.nn.functional.logsigmoid(x),
    "glu": lambda lib, x: lib.nn.functional.glu(x),
    "softshrink": lambda lib, x: lib.nn.functional.softshrink(x),
    "hardshrink": lambda lib, x: lib.nn.functional.hardshrink(x),
    "softmax": lambda lib, x: lib.nn.functional.softmax(x, 0),
    "log_softmax": lambda lib, x: lib.nn.functional.log_softmax(x, -1),
    "softmin": lambda lib, x: lib.nn.functional.softmin(x, 0),
    "rrelu": lambda lib, x: lib.nn.functional.rrelu(x),
    "normalize": lambda lib, x: lib.nn.functional.normalize(x, dim=0),
    "cosine_similarity": lambda lib, x: lib.nn.functional.cosine_similarity(x, x, dim=0),
    "prelu": lambda lib, x: lib.nn.functional.prelu(x, lib.tensor([0.25])),
}
INTEGERS = np.array([-3, 0, 2, 7, -1, 4])
BOOLS = np.array([True, False, True, True])


@pytest.mark.parametrize("values", [INTEGERS, BOOLS], ids=["int64", "bool"])
@pytest.mark.parametrize("name", sorted(REFUSE_INTEGERS))
def test_ops_pytorch_computes_only_in_floating_point_refuse_integers_naming_the_op(name, values):
    fn = REFUSE_INTEGERS[name]
    with pytest.raises((RuntimeError, NotImplementedError)):
        fn(torch, torch.tensor(values))
    with pytest.raises(DTypeError, match=name):
        fn(tn, tn.tensor(values))


KEEP_INTEGERS = [
    lambda lib, x: lib.nn.functional.relu(x),
    lambda lib, x: lib.relu(x),
    lambda lib, x: lib.nn.functional.hardtanh(x),
    lambda lib, x: lib.nn.functional.hardtanh(x, -2.0, 3.0),
    lambda lib, x: lib.nn.functional.relu6(x),
    lambda lib, x: lib.nn.functional.threshold(x, 1, 5),
]
PROMOTE_INTEGERS = [
    lambda lib, x: lib.nn.functional.softsign(x),
    lambda lib, x: lib.nn.functional.tanhshrink(x),
    lambda lib, x: lib.sigmoid(x),
    lambda lib, x: lib.tanh(x),
    lambda lib, x: x.sigmoid(),
    lambda lib, x: lib.nn.functional.softmax(x, 0, dtype=lib.float64),
    lambda lib, x: lib.nn.functional.log_softmax(x, 0, dtype=lib.float32),
    lambda lib, x: lib.nn.functional.pairwise_distance(x, x * 2),
]


@pytest.mark.parametrize("fn", KEEP_INTEGERS + PROMOTE_INTEGERS)
def test_ops_that_take_integers_keep_or_promote_them_as_pytorch(fn):
    check(fn, INTEGERS)


@pytest.mark.parametrize("fn", [lambda lib, x: lib.sigmoid(x), lambda lib, x: lib.tanh(x)])
def test_sigmoid_and_tanh_take_bools_as_pytorch(fn):
    check(fn, BOOLS)


@pytest.mark.parametrize(
    "fn",
    [
        lambda lib, x: lib.nn.functional.relu(x),
        lambda lib, x: lib.nn.functional.hardtanh(x),
        lambda lib, x: lib.nn.functional.relu6(x),
        lambda lib, x: lib.nn.functional.threshold(x, 0, 1),
        lambda lib, x: lib.nn.functional.softsign(x),
        lambda lib, x: lib.nn.functional.tanhshrink(x),
    ],
)
def test_ops_that_take_integers_still_refuse_bools(fn):
    with pytest.raises((RuntimeError, NotImplementedError)):
        fn(torch, torch.tensor(BOOLS))
    with pytest.raises(DTypeError, match="bool"):
        fn(tn, tn.tensor(BOOLS))


# --- softmax, log_softmax, softmin -------------------------------------------------------------------------

SOFTMAXES = ["softmax", "log_softmax", "softmin"]


@pytest.mark.parametrize(
    ("shape", "dim"), [((3, 4), 1), ((3, 4), 0), ((3, 4), -1), ((2, 3, 4), -2), ((), 0), ((), -1), ((0, 3), 1),
                       ((2, 0), 1), ((5,), 0)],
)  # fmt: skip
@pytest.mark.parametrize("name", SOFTMAXES)
def test_softmaxes_along_each_dim(backend_name, name, shape, dim):
    check(lambda lib, x: getattr(lib.nn.functional, name)(x, dim), shape, atol=1e-6)
    check(lambda lib, x: getattr(lib.nn.functional, name)(x, dim=dim), shape, dtype=np.float64)


@pytest.mark.parametrize("shape", [(), (5,), (3, 4), (2, 3, 4), (2, 3, 2, 2)], ids=str)
@pytest.mark.parametrize("name", SOFTMAXES)
def test_softmaxes_without_dim_pick_pytorchs_implicit_dim_and_warn(name, shape):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check(lambda lib, x: getattr(lib.nn.functional, name)(x), shape)
    with pytest.warns(UserWarning, match="Implicit dimension"):
        getattr(tn.nn.functional, name)(tn.randn(*shape))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", SOFTMAXES)
def test_softmaxes_cast_to_dtype_first(name, dtype):
    check(lambda lib, x: getattr(lib.nn.functional, name)(x, 1, dtype=getattr(lib, dtype)), (3, 4))
    check(lambda lib, x: getattr(lib.nn.functional, name)(x, -1, dtype=getattr(lib, dtype)), (3, 4), dtype=np.float64)


def test_softmax_methods_and_torch_names():
    check(lambda lib, x: x.softmax(-1), (3, 4))
    check(lambda lib, x: x.log_softmax(0, dtype=lib.float64), (3, 4))
    check(lambda lib, x: lib.softmax(x, 1), (3, 4))
    check(lambda lib, x: lib.softmax(x, 1, lib.float64), (3, 4))
    check(lambda lib, x: lib.log_softmax(x, 0, lib.float64), (3, 4))
    check(lambda lib, x: lib.log_softmax(x, dim=0), (3, 4))
    check(lambda lib, x: x.transpose(0, 1).softmax(1), (3, 4))
    check(lambda lib, x: lib.nn.Softmax(dim=0)(x), ())


@pytest.mark.parametrize("name", SOFTMAXES)
def test_softmaxes_refuse_a_dim_out_of_range(name):
    with pytest.raises(IndexError):
        getattr(torch.nn.functional, name)(torch.randn(3, 4), 2)
    with pytest.raises(TinynetError, match=name):
        getattr(tn.nn.functional, name)(tn.randn(3, 4), 2)


# --- glu and prelu -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("shape", "dim"), [((4, 6), -1), ((6, 4), 0), ((2, 4, 3), 1), ((2,), 0), ((0, 4), 1)])
def test_glu_halves_the_dim(backend_name, shape, dim):
    check(lambda lib, x: lib.nn.functional.glu(x, dim), shape)
    check(lambda lib, x: lib.nn.functional.glu(x, dim=dim), shape, dtype=np.float64)


@pytest.mark.parametrize(("shape", "dim"), [((3, 5), 1), ((), 0), ((4, 2), 2)])
def test_glu_refuses_a_dim_it_cannot_halve(shape, dim):
    with pytest.raises((RuntimeError, IndexError)):
        torch.nn.functional.glu(torch.randn(shape), dim)
    with pytest.raises(TinynetError, match="glu"):
        tn.nn.functional.glu(tn.randn(*shape), dim)


@pytest.mark.parametrize(
    ("x_shape", "w_shape"), [((2, 3, 4), (3,)), ((2, 3, 4), (1,)), ((5,), (1,)), ((2, 3), (3,)), ((4, 3, 2, 2), (3,)),
                             ((2, 3), ())],
)  # fmt: skip
def test_prelu_with_one_slope_or_one_per_channel(backend_name, x_shape, w_shape):
    check(lambda lib, x, w: lib.nn.functional.prelu(x, w), x_shape, w_shape)
    check(lambda lib, x, w: lib.prelu(x, w), x_shape, w_shape, dtype=np.float64)
    check(lambda lib, x, w: x.prelu(w), x_shape, w_shape)


def test_prelu_module_learns_its_slopes_like_pytorchs():
    x = np.random.default_rng(1).standard_normal((2, 3, 4)).astype(np.float32)
    for lib in (torch, tn):
        module = lib.nn.PReLU(3, init=0.1)
        out = module(lib.tensor(x))
        (out * out).sum().backward()
        if lib is torch:
            expected_out, expected_grad = out.detach().numpy(), module.weight.grad.numpy()
    np.testing.assert_allclose(out.numpy(), expected_out, rtol=1e-6)
    np.testing.assert_allclose(module.weight.grad.numpy(), expected_grad, rtol=1e-5)


def test_prelu_refuses_a_slope_count_that_fits_no_channel():
    with pytest.raises(RuntimeError):
        torch.nn.functional.prelu(torch.randn(2, 3), torch.randn(4))
    with pytest.raises(TinynetError, match="prelu"):
        tn.nn.functional.prelu(tn.randn(2, 3), tn.randn(4))


# --- gelu's approximate, hardtanh and shrink arguments ----------------------------------------------------------


@pytest.mark.parametrize(
    ("torch_call", "tn_call", "name"),
    [
        (lambda F, x: F.gelu(x, approximate="tan"), None, "gelu"),
        (lambda F, x: F.hardtanh(x, 2.0, 1.0), None, "hardtanh"),
        (lambda F, x: F.softshrink(x, -1.0), None, "softshrink"),
        (lambda F, x: F.celu(x, 0.0), None, "celu"),
    ],
)
def test_bad_arguments_raise_naming_the_op(torch_call, tn_call, name):
    with pytest.raises((RuntimeError, ValueError)):
        torch_call(torch.nn.functional, torch.randn(3, 4))
    with pytest.raises(TinynetError, match=name):
        torch_call(tn.nn.functional, tn.randn(3, 4))


# --- in place ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fn",
    [
        lambda lib, x: lib.nn.functional.relu(x, inplace=True),
        lambda lib, x: lib.nn.functional.hardtanh(x, -0.5, 0.5, inplace=True),
        lambda lib, x: lib.nn.functional.elu(x, inplace=True),
        lambda lib, x: lib.nn.functional.silu(x, inplace=True),
        lambda lib, x: lib.nn.functional.leaky_relu(x, 0.3, True),
        lambda lib, x: lib.nn.functional.relu_(x),
        lambda lib, x: lib.nn.functional.elu_(x),
        lambda lib, x: lib.relu_(x),
        lambda lib, x: lib.selu_(x),
        lambda lib, x: x.relu_(),
        lambda lib, x: x.sigmoid_(),
        lambda lib, x: x.tanh_(),
    ],
)
def test_in_place_forms_overwrite_a_tensor_that_needs_no_grad(fn):
    values = np.random.default_rng(2).standard_normal((3, 4)).astype(np.float32)
    expected_x = torch.tensor(values)
    expected = fn(torch, expected_x)
    x = tn.tensor(values)
    out = fn(tn, x)
    assert out is x
    np.testing.assert_allclose(x.numpy(), expected_x.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out.numpy(), expected.numpy(), rtol=1e-5, atol=1e-6)


def test_inplace_flag_on_a_tensor_autograd_tracks_still_gives_pytorchs_values_and_gradients():
    check(lambda lib, x: lib.nn.functional.relu(x * 2, inplace=True), (3, 4))
    check(lambda lib, x: lib.nn.ReLU(inplace=True)(x * 1), (3, 4))
    check(lambda lib, x: lib.nn.functional.hardtanh(x + 0, inplace=True), (3, 4))


def test_in_place_methods_keep_the_tensors_dtype_or_refuse():
    x = tn.tensor([-2, 0, 3])
    assert x.relu_() is x and x.tolist() == [0, 0, 3]
    with pytest.raises(RuntimeError):
        torch.tensor([-2, 0, 3]).sigmoid_()
    with pytest.raises(DTypeError, match="sigmoid_"):
        tn.tensor([-2, 0, 3]).sigmoid_()


# --- gradients on drawn shapes ------------------------------------------------------------------------------

F = tn.nn.functional
GRADCHECKED = {
    "silu": F.silu,
    "mish": F.mish,
    "gelu_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "logsigmoid": F.logsigmoid,
    "softsign": F.softsign,
    "selu": F.selu,
    "celu": lambda x: F.celu(x, 0.6),
    "tanhshrink": F.tanhshrink,
    "softmin": lambda x: F.softmin(x, -1),
}


@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple), name=st.sampled_from(sorted(GRADCHECKED)))
def test_gradients_match_finite_differences(shape, name):
    x = tn.tensor(np.random.default_rng(len(shape)).standard_normal(shape), dtype=tn.float64, requires_grad=True)
    assert tn.gradcheck(GRADCHECKED[name], [x])


@given(rows=st.integers(1, 4), cols=st.integers(1, 3))
def test_glu_gradients_match_finite_differences(rows, cols):
    x = tn.tensor(np.random.default_rng(rows).standard_normal((2 * rows, cols)), dtype=tn.float64, requires_grad=True)
    assert tn.gradcheck(lambda u: F.glu(u, 0), [x])


def test_gelus_output_may_change_in_place_before_backward_as_in_pytorch(backend_name):
    """GELU's backward reads its input, not its output (PyTorch saves only the input): y.mul_(2) after the forward
    is no error, and the gradient is 2 GELU'(x)."""
    x = tn.tensor([-3.0, -0.5, 0.0, 0.7, 4.0], dtype=tn.float64, requires_grad=True)
    y = F.gelu(x)
    y.mul_(2)
    y.sum().backward()
    values = x.detach().numpy()
    phi = np.array([0.5 * math.erfc(-v / math.sqrt(2)) for v in values])
    density = np.exp(-(values**2) / 2) / math.sqrt(2 * math.pi)
    np.testing.assert_allclose(x.grad.numpy(), 2 * (phi + values * density), rtol=1e-10, atol=1e-12)
