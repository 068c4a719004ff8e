"""normalize, cosine_similarity, pairwise_distance, cdist, one_hot and the channel and alpha dropouts, against
PyTorch (tests/torch_oracle.py): values, dtypes and gradients; the dropouts by their structure (whole channels,
the scale, the seed), since their random masks cannot match PyTorch's."""

import math
import warnings

import numpy as np
import pytest
from device import to_device, to_host
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tinynet as tn
from kernels import numpy_ref
from tests.torch_oracle import check, torch
from tinynet import backend
from tinynet.errors import DTypeError, TinynetError

# --- normalize, cosine_similarity, pairwise_distance, cdist --------------------------------------------------


@pytest.mark.parametrize("p", [1.0, 2.0, 3.0, math.inf, 0.5, -1.0, -math.inf])
@pytest.mark.parametrize(("shape", "dim"), [((3, 4), 1), ((3, 4), 0), ((2, 3, 4), -1), ((4,), 0), ((), 0), ((0, 3), 1)])
def test_normalize(backend_name, shape, dim, p):
    check(lambda lib, x: lib.nn.functional.normalize(x, p=p, dim=dim), shape)
    check(lambda lib, x: lib.nn.functional.normalize(x, p, dim), shape, dtype=np.float64)


def test_normalize_where_the_norm_is_below_eps_or_zero():
    rows = np.array([[0.0, 0.0, 0.0], [1.0, -2.0, 0.5], [1e-3, 0.0, -1e-3]], dtype=np.float32)
    check(lambda lib, x: lib.nn.functional.normalize(x), rows)
    check(lambda lib, x: lib.nn.functional.normalize(x, eps=0.1), rows)
    check(lambda lib, x: lib.nn.functional.normalize(x, p=1.0, dim=0, eps=0.5), rows)
    check(lambda lib, x: lib.nn.functional.normalize(x.transpose(0, 1), dim=1), (3, 4))


@pytest.mark.parametrize(
    ("shape1", "shape2", "dim"),
    [((3, 4), (3, 4), 1), ((3, 4), (3, 4), 0), ((3, 4), (4,), -1), ((2, 1, 3), (4, 3), -1), ((5,), (5,), 0),
     ((2, 3, 4), (2, 3, 4), -2), ((0, 3), (0, 3), 1), ((3, 0), (3, 0), 1)],
)  # fmt: skip
def test_cosine_similarity(backend_name, shape1, shape2, dim):
    check(lambda lib, a, b: lib.nn.functional.cosine_similarity(a, b, dim=dim), shape1, shape2)
    check(lambda lib, a, b: lib.cosine_similarity(a, b, dim), shape1, shape2, dtype=np.float64)
    check(lambda lib, a, b: lib.nn.CosineSimilarity(dim=dim)(a, b), shape1, shape2)


def test_cosine_similarity_of_zero_and_tiny_vectors():
    a = np.array([[0.0, 0.0, 0.0], [1.0, 2.0, 3.0], [1e-5, 0.0, 0.0]], dtype=np.float32)
    b = np.array([[1.0, 2.0, 3.0], [0.5, -1.0, 2.0], [1.0, 1.0, 0.0]], dtype=np.float32)
    check(lambda lib, x, y: lib.nn.functional.cosine_similarity(x, y, eps=1e-3), a, b)
    check(lambda lib, x, y: lib.nn.functional.cosine_similarity(x, y), a, b)


def test_cosine_similarity_promotes_mixed_floats_and_refuses_integers():
    check(lambda lib, a, b: lib.nn.functional.cosine_similarity(a, b.double()), (3, 4), (3, 4))
    with pytest.raises(DTypeError, match="cosine_similarity"):
        tn.nn.functional.cosine_similarity(tn.tensor([[1, 2]]), tn.tensor([[3, 4]]))
    with pytest.raises(TinynetError, match="cosine_similarity"):
        tn.nn.functional.cosine_similarity(tn.randn(2, 3), tn.randn(4, 3))


@pytest.mark.parametrize("p", [2.0, 1.0, 3.0, math.inf, 0.0, -2.0, -math.inf])
@pytest.mark.parametrize(
    ("shape1", "shape2", "keepdim"), [((3, 4), (3, 4), False), ((3, 4), (3, 4), True), ((3, 4), (4,), False),
                                      ((4,), (4,), False), ((4,), (4,), True), ((2, 3, 4), (3, 4), False)],
)  # fmt: skip
def test_pairwise_distance(backend_name, shape1, shape2, keepdim, p):
    check(lambda lib, a, b: lib.nn.functional.pairwise_distance(a, b, p=p, keepdim=keepdim), shape1, shape2)
    check(lambda lib, a, b: lib.pairwise_distance(a, b, p, 1e-3, keepdim), shape1, shape2, dtype=np.float64)
    check(lambda lib, a, b: lib.nn.PairwiseDistance(p=p, keepdim=keepdim)(a, b), shape1, shape2)


def test_normalize_writes_into_out():
    x, out = tn.randn(3, 4), tn.zeros(3, 4)
    assert tn.nn.functional.normalize(x, out=out) is out
    np.testing.assert_allclose(out.numpy(), torch.nn.functional.normalize(torch.tensor(x.numpy())).numpy(), rtol=1e-6)


def test_pairwise_distance_of_0d_inputs():
    check(lambda lib, a, b: lib.nn.functional.pairwise_distance(a, b), (), ())


@pytest.mark.parametrize("p", [2.0, 1.0, 3.0, math.inf, 0.0, 0.5])
@pytest.mark.parametrize(
    ("shape1", "shape2"), [((3, 4), (5, 4)), ((2, 3, 4), (2, 5, 4)), ((1, 3, 2), (2, 5, 2)), ((3, 1), (2, 1)),
                           ((0, 4), (3, 4))],
)  # fmt: skip
def test_cdist(backend_name, shape1, shape2, p):
    check(lambda lib, a, b: lib.cdist(a, b, p=p), shape1, shape2, atol=1e-4)
    check(lambda lib, a, b: lib.cdist(a, b, p), shape1, shape2, dtype=np.float64)


@pytest.mark.parametrize("p", [1.0, 2.0, 3.0])
def test_cdist_of_equal_rows_has_pytorchs_zero_gradient(p):
    rows = np.array([[1.0, 2.0], [0.5, -1.0], [3.0, 0.0]], dtype=np.float32)
    check(lambda lib, a, b: lib.cdist(a, b, p=p), rows, rows.copy())


@pytest.mark.parametrize(
    "call",
    [
        lambda lib: lib.cdist(lib.randn(3), lib.randn(3, 3)),
        lambda lib: lib.cdist(lib.randn(3, 2), lib.randn(3, 3)),
        lambda lib: lib.cdist(lib.randn(3, 2), lib.randn(3, 2), p=-1.0),
        lambda lib: lib.cdist(lib.tensor([[1, 2]]), lib.tensor([[1, 2]])),
    ],
)
def test_cdist_refuses_inputs_pytorch_refuses(call):
    with pytest.raises(RuntimeError):
        call(torch)
    with pytest.raises(TinynetError, match="cdist"):
        call(tn)


# --- one_hot ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "num_classes"),
    [([1, 2, 4], 6), ([1, 2, 4], -1), ([[[1, 2, 3], [0, 3, 5]], [[1, 2, 3], [0, 3, 5]]], 8),
     ([[[1, 2, 3], [0, 3, 5]], [[1, 2, 3], [0, 3, 5]]], -1), (3, -1), (0, 2), ([], 3), ([0, 0], 1)],
)  # fmt: skip
def test_one_hot(data, num_classes):
    check(lambda lib, t: lib.nn.functional.one_hot(t, num_classes), np.array(data, dtype=np.int64))
    check(lambda lib, t: lib.nn.functional.one_hot(t, num_classes=num_classes).float(), np.array(data, dtype=np.int64))


@pytest.mark.parametrize(
    ("data", "num_classes"),
    [(np.array([1, -1]), 3), (np.array([1, 3]), 3), (np.array([], dtype=np.int64), -1), (np.array([1.0, 2.0]), 3),
     (np.array([1, 2], dtype=np.int32), 3), (np.array([0, 0]), 0)],
)  # fmt: skip
def test_one_hot_refuses_what_pytorch_refuses(data, num_classes):
    with pytest.raises(RuntimeError):
        torch.nn.functional.one_hot(torch.tensor(data), num_classes)
    with pytest.raises(TinynetError, match="one_hot"):
        tn.nn.functional.one_hot(tn.tensor(data, dtype=data.dtype), num_classes)


# --- channel and alpha dropout -----------------------------------------------------------------------------

CHANNEL_DROPOUTS = [
    ("dropout1d", (4, 6, 5), 2), ("dropout1d", (6, 5), 1), ("dropout2d", (4, 6, 3, 3), 2),
    ("dropout2d", (4, 6, 5), 2), ("dropout3d", (4, 6, 2, 2, 2), 2), ("dropout3d", (6, 2, 2, 2), 1),
]  # fmt: skip


@pytest.mark.parametrize(("name", "shape", "kept"), CHANNEL_DROPOUTS)
def test_channel_dropouts_zero_whole_channels_and_scale_the_rest(backend_name, name, shape, kept):
    x = tn.randn(*shape, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # dropout2d warns about a 3-d input, as PyTorch does
        y = getattr(tn.nn.functional, name)(x, p=0.4)
    ratio = (y.numpy() / x.numpy()).reshape((*shape[:kept], -1))
    per_channel = ratio[..., 0]
    assert np.allclose(ratio, per_channel[..., None], rtol=1e-6)  # one factor for the whole channel
    assert np.all(np.isclose(per_channel, 0) | np.isclose(per_channel, 1 / 0.6, rtol=1e-6))
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy().reshape(ratio.shape), ratio, rtol=1e-6)


@pytest.mark.parametrize(
    ("name", "shape"), [("dropout1d", (8, 6, 5)), ("dropout2d", (8, 6, 3, 3)), ("dropout3d", (8, 6, 2, 2, 2)),
                        ("dropout", (8, 6, 3)), ("alpha_dropout", (8, 6)), ("feature_alpha_dropout", (8, 6, 3, 3))],
)  # fmt: skip
def test_dropouts_repeat_with_the_seed_and_are_the_identity_in_evaluation(name, shape):
    x = tn.randn(*shape)
    fn = getattr(tn.nn.functional, name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tn.manual_seed(5)
        first = fn(x, 0.5, True).numpy()
        tn.manual_seed(5)
        np.testing.assert_array_equal(fn(x, 0.5, True).numpy(), first)
        np.testing.assert_array_equal(fn(x, 0.5, False).numpy(), x.numpy())
        np.testing.assert_array_equal(fn(x, 0.0, True).numpy(), x.numpy())
        np.testing.assert_array_equal(fn(x, 1.0, True).numpy(), np.zeros_like(x.numpy()))
        with pytest.raises(TinynetError, match=name):
            fn(x, 1.5, True)
    assert not np.array_equal(first, x.numpy())


def test_channel_dropout_keeps_about_1_minus_p_of_the_channels():
    y = tn.nn.functional.dropout2d(tn.ones(200, 50, 2, 2), p=0.3)
    kept = (y.numpy()[:, :, 0, 0] != 0).mean()
    assert abs(kept - 0.7) < 0.02


def test_alpha_dropout_keeps_a_unit_normals_mean_and_variance():
    x = tn.randn(400, 500)
    y = tn.nn.functional.alpha_dropout(x, 0.3, training=True).numpy()
    assert abs(y.mean()) < 0.02 and abs(y.std() - 1) < 0.02
    values, counts = np.unique(y, return_counts=True)
    assert 0.28 < counts.max() / y.size < 0.32  # every dropped value takes the one same value
    alpha, p = 1.7580993408473766, 0.3  # SELU's saturation value -scale * alpha, and the drop probability
    scale = 1 / math.sqrt((alpha**2 * p + 1) * (1 - p))
    assert values[counts.argmax()] == pytest.approx(-alpha * scale * (1 - p), rel=1e-5)
    np.testing.assert_array_equal(tn.nn.functional.alpha_dropout(x, 0.3).numpy(), x.numpy())  # training=False


@pytest.mark.parametrize(
    ("module", "shape"), [(tn.nn.Dropout1d(0.5), (4, 6, 3)), (tn.nn.Dropout2d(0.5), (4, 6, 3, 3)),
                          (tn.nn.Dropout3d(0.5), (4, 6, 2, 2, 2)), (tn.nn.AlphaDropout(0.5), (4, 6)),
                          (tn.nn.FeatureAlphaDropout(0.5), (4, 6, 3, 3))],
)  # fmt: skip
def test_dropout_modules_follow_train_and_eval(module, shape):
    x = tn.randn(*shape)
    assert not np.array_equal(module(x).numpy(), x.numpy())
    module.eval()
    np.testing.assert_array_equal(module(x).numpy(), x.numpy())


def test_dropout1d_refuses_an_input_without_channels_and_length():
    with pytest.raises(RuntimeError):
        torch.nn.functional.dropout1d(torch.randn(2, 3, 4, 5))
    with pytest.raises(TinynetError, match="dropout1d"):
        tn.nn.functional.dropout1d(tn.randn(2, 3, 4, 5))


def test_rrelu_in_training_draws_a_slope_in_range_per_negative_value():
    x = tn.randn(50, 40, requires_grad=True)
    y = tn.nn.functional.rrelu(x, 0.1, 0.3, training=True)
    slopes = y.numpy() / x.numpy()
    negative = x.numpy() < 0
    assert np.all(slopes[~negative] == 1)
    assert np.all((slopes[negative] >= 0.1) & (slopes[negative] <= 0.3)) and slopes[negative].std() > 0.03
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), slopes, rtol=1e-6)


# --- gradients on drawn shapes ------------------------------------------------------------------------------

F = tn.nn.functional
GRADCHECKED = {
    "normalize": lambda x: F.normalize(x, p=3.0, dim=-1),
    "cosine_similarity": lambda x: F.cosine_similarity(x, x * 2 + 1, dim=-1),
    "pairwise_distance": lambda x: F.pairwise_distance(x, x * 0.5 + 1),
}


@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple), name=st.sampled_from(sorted(GRADCHECKED)))
def test_gradients_match_finite_differences(shape, name):
    x = tn.tensor(np.random.default_rng(len(shape)).standard_normal(shape), dtype=tn.float64, requires_grad=True)
    assert tn.gradcheck(GRADCHECKED[name], [x])


@given(rows=st.integers(1, 4), other=st.integers(1, 4), cols=st.integers(1, 3), p=st.sampled_from([1.0, 2.0, 3.0]))
def test_cdist_gradients_match_finite_differences(rows, other, cols, p):
    rng = np.random.default_rng(rows * 10 + other)
    a = tn.tensor(rng.standard_normal((rows, cols)), dtype=tn.float64, requires_grad=True)
    b = tn.tensor(rng.standard_normal((other, cols)), dtype=tn.float64, requires_grad=True)
    assert tn.gradcheck(lambda u, v: tn.cdist(u, v, p=p), [a, b])


# --- the dropout mask's kernel ------------------------------------------------------------------------


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@given(
    shape=st.lists(st.integers(1, 60), min_size=1, max_size=3).map(tuple),
    key=st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1)),
    p=st.sampled_from([0.0, 1e-9, 0.1, 0.5, 0.9, 1 - 1e-9, 1.0]),
)
def test_every_backend_makes_the_references_dropout_mask(backend_name, dtype, shape, key, p):
    """The same key gives the same mask, bit for bit, on every backend and split over any threads: 1 / (1 - p) where
    kept (in the mask's dtype), 0 where dropped, nothing kept at p = 1."""
    like = np.empty(0, dtype)
    expected = numpy_ref.dropout_mask(like, shape, np.array(key, np.uint32), p)
    got = to_host(backend.active().dropout_mask(*to_device((like, shape, np.array(key, np.uint32), p))))
    assert got.shape == expected.shape == shape and got.dtype == expected.dtype == dtype
    np.testing.assert_array_equal(got, expected)
    kept = expected[expected != 0]
    np.testing.assert_array_equal(kept, dtype(1 / (1 - p)) if p < 1 else kept)
    assert p < 1 or kept.size == 0


def test_dropout_masks_keep_1_minus_p_and_are_independent_of_each_other_and_of_their_neighbours():
    """2^20 values a mask at p = 0.3: the fraction kept within 5 standard deviations of 0.7; neighbours kept together
    as often as independent draws would be (0.49), and two keys' masks agree as often as independent ones (0.58);
    keys one apart in either word too."""
    n, p = 2**20, 0.3
    masks = {key: numpy_ref.dropout_mask(np.empty(0), (n,), np.array(key, np.uint32), p) != 0
             for key in ((1, 2), (2, 2), (1, 3), (987654321, 123456789))}  # fmt: skip
    sigma = math.sqrt(0.21 / n)
    for mask in masks.values():
        assert abs(mask.mean() - 0.7) < 5 * sigma
        assert abs((mask[1:] & mask[:-1]).mean() - 0.49) < 5 * math.sqrt(0.49 * 0.51 / n)
    first, *others = masks.values()
    for other in others:
        assert abs((first == other).mean() - 0.58) < 5 * math.sqrt(0.58 * 0.42 / n)
