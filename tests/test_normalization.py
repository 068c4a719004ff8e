"""LayerNorm, BatchNorm1d/2d and Dropout: values against NumPy, gradients, running statistics, modes."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from nn_reference import layer_norm as layer_norm_reference

import tinynet as tn
import tinynet.nn.functional as F
from kernels import numpy_ref
from tinynet import nn

small = st.integers(1, 3)


def _batch_norm_reference(x, mean, var, weight, bias, eps=1e-5):
    """Normalize channel c (axis 1) with mean[c] and var[c], one channel at a time."""
    out = np.empty_like(x, dtype=np.float64)
    for c in range(x.shape[1]):
        out[:, c] = (x[:, c] - mean[c]) / math.sqrt(var[c] + eps) * weight[c] + bias[c]
    return out


def _channel_stats(x):
    """Per channel over every other axis: (mean, biased variance, unbiased variance), by loops."""
    means, biased, unbiased = [], [], []
    for c in range(x.shape[1]):
        values = x[:, c].reshape(-1).tolist()
        m = sum(values) / len(values)
        ss = sum((v - m) ** 2 for v in values)
        means.append(m), biased.append(ss / len(values)), unbiased.append(ss / (len(values) - 1))
    return np.array(means), np.array(biased), np.array(unbiased)


# --- layer norm -------------------------------------------------------------------------------


@pytest.mark.parametrize("shape, normalized_shape", [((4, 6), (6,)), ((2, 3, 5), (5,)), ((2, 3, 4), (3, 4))])
def test_layer_norm_matches_numpy(backend_name, shape, normalized_shape):
    x = tn.randn(*shape, dtype=tn.float64) * 3 + 2
    weight, bias = tn.randn(*normalized_shape, dtype=tn.float64), tn.randn(*normalized_shape, dtype=tn.float64)
    got = F.layer_norm(x, normalized_shape, weight, bias)
    expected = layer_norm_reference(x.numpy(), len(normalized_shape), weight.numpy(), bias.numpy())
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-10, atol=1e-12)
    plain = F.layer_norm(x, normalized_shape)
    np.testing.assert_allclose(plain.numpy(), layer_norm_reference(x.numpy(), len(normalized_shape)), atol=1e-12)


@given(lead=st.lists(small, min_size=0, max_size=2), features=st.lists(st.integers(2, 4), min_size=1, max_size=2),
       affine=st.sampled_from(["both", "weight", "bias", "none"]))  # fmt: skip
def test_layer_norm_gradcheck(lead, features, affine):
    x = tn.randn(*lead, *features, dtype=tn.float64, requires_grad=True)
    weight = tn.randn(*features, dtype=tn.float64, requires_grad=True) if affine in ("both", "weight") else None
    bias = tn.randn(*features, dtype=tn.float64, requires_grad=True) if affine in ("both", "bias") else None
    params = [p for p in (weight, bias) if p is not None]

    def fn(x, *ps):
        it = iter(ps)
        return F.layer_norm(
            x, features, next(it) if weight is not None else None, next(it) if bias is not None else None
        )

    assert tn.gradcheck(fn, [x, *params])


def test_layer_norm_output_has_zero_mean_and_unit_variance_per_row():
    x = tn.randn(8, 16) * 10 - 5
    y = nn.LayerNorm(16)(x).numpy()
    np.testing.assert_allclose(y.mean(axis=-1), 0, atol=1e-5)
    np.testing.assert_allclose(y.var(axis=-1), 1, atol=1e-3)


def test_layer_norm_module_parameters_as_pytorch():
    norm = nn.LayerNorm((3, 4))
    assert [(n, p.shape) for n, p in norm.named_parameters()] == [("weight", (3, 4)), ("bias", (3, 4))]
    np.testing.assert_array_equal(norm.weight.numpy(), 1)
    np.testing.assert_array_equal(norm.bias.numpy(), 0)
    assert list(nn.LayerNorm(5, elementwise_affine=False).parameters()) == []
    assert [n for n, _ in nn.LayerNorm(5, bias=False).named_parameters()] == ["weight"]
    assert repr(nn.LayerNorm(16)) == "LayerNorm((16,), eps=1e-05, elementwise_affine=True, bias=True)"  # torch 2.x


def test_layer_norm_rejects_a_shape_that_does_not_end_with_normalized_shape():
    with pytest.raises(
        tn.ShapeError, match=r"layer_norm: input of shape \(2, 5\) must end with normalized_shape \(4,\)"
    ):
        F.layer_norm(tn.randn(2, 5), 4)
    with pytest.raises(tn.ShapeError, match=r"weight has shape \(3,\)"):
        F.layer_norm(tn.randn(2, 4), 4, weight=tn.ones(3))


# --- batch norm -------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 5), (2, 3, 4, 4)])
def test_batch_norm_training_matches_numpy_and_updates_running_stats(backend_name, shape):
    x = tn.randn(*shape, dtype=tn.float64) * 2 + 1
    weight, bias = tn.randn(3, dtype=tn.float64), tn.randn(3, dtype=tn.float64)
    running_mean, running_var = tn.zeros(3, dtype=tn.float64), tn.ones(3, dtype=tn.float64)
    got = F.batch_norm(x, running_mean, running_var, weight, bias, training=True, momentum=0.1)
    mean, biased, unbiased = _channel_stats(x.numpy())
    expected = _batch_norm_reference(x.numpy(), mean, biased, weight.numpy(), bias.numpy())
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-10, atol=1e-12)
    # PyTorch's rule: running = 0.9 running + 0.1 batch, with the UNBIASED variance.
    np.testing.assert_allclose(running_mean.numpy(), 0.1 * mean, rtol=1e-12)
    np.testing.assert_allclose(running_var.numpy(), 0.9 + 0.1 * unbiased, rtol=1e-12)


@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 5), (2, 3, 4, 4)])
def test_batch_norm_evaluation_uses_the_running_stats_and_leaves_them(backend_name, shape):
    x = tn.randn(*shape, dtype=tn.float64)
    running_mean = tn.tensor([0.5, -1.0, 2.0], dtype=tn.float64)
    running_var = tn.tensor([1.5, 0.25, 4.0], dtype=tn.float64)
    weight, bias = tn.randn(3, dtype=tn.float64), tn.randn(3, dtype=tn.float64)
    got = F.batch_norm(x, running_mean, running_var, weight, bias, training=False)
    expected = _batch_norm_reference(x.numpy(), [0.5, -1.0, 2.0], [1.5, 0.25, 4.0], weight.numpy(), bias.numpy())
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(running_mean.numpy(), [0.5, -1.0, 2.0])


@given(n=st.integers(2, 3), c=small, spatial=st.lists(st.integers(1, 2), max_size=2), training=st.booleans())
def test_batch_norm_gradcheck(n, c, spatial, training):
    x = tn.randn(n, c, *spatial, dtype=tn.float64, requires_grad=True)
    weight = tn.randn(c, dtype=tn.float64, requires_grad=True)
    bias = tn.randn(c, dtype=tn.float64, requires_grad=True)
    running_mean, running_var = tn.randn(c, dtype=tn.float64), tn.rand(c, dtype=tn.float64) + 0.5
    assert tn.gradcheck(lambda x, w, b: F.batch_norm(x, running_mean, running_var, w, b, training), [x, weight, bias])


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize(
    "module, shape",
    [(nn.LayerNorm((2, 3)), (2, 2, 3)), (nn.BatchNorm1d(2), (3, 2)), (nn.BatchNorm1d(2), (2, 2, 3)),
     (nn.BatchNorm2d(2), (2, 2, 2, 2))],
)  # fmt: skip
def test_normalization_modules_gradcheck_through_their_parameters(module, shape, training):
    module.double().train(training)
    for p in module.parameters():  # away from ones and zeros, so a swapped weight and bias would show
        p.array = tn.randn(*p.shape, dtype=tn.float64).array
    x = tn.randn(*shape, dtype=tn.float64, requires_grad=True)
    assert tn.gradcheck(lambda x, *params: module(x), [x, *module.parameters()])


def test_batch_norm_module_running_stats_over_steps_and_eval():
    bn = nn.BatchNorm1d(2).double()
    batches = [tn.randn(5, 2, dtype=tn.float64) * (i + 1) + i for i in range(3)]
    mean, var = np.zeros(2), np.ones(2)
    for x in batches:
        bn(x)
        batch_mean, _, unbiased = _channel_stats(x.numpy())
        mean, var = 0.9 * mean + 0.1 * batch_mean, 0.9 * var + 0.1 * unbiased
    np.testing.assert_allclose(bn.running_mean.numpy(), mean, rtol=1e-12)
    np.testing.assert_allclose(bn.running_var.numpy(), var, rtol=1e-12)
    assert bn.num_batches_tracked.item() == 3
    bn.eval()
    x = tn.randn(4, 2, dtype=tn.float64)
    np.testing.assert_allclose(bn(x).numpy(), _batch_norm_reference(x.numpy(), mean, var, [1, 1], [0, 0]), rtol=1e-10)
    np.testing.assert_allclose(bn.running_mean.numpy(), mean, rtol=1e-12)  # eval leaves them alone
    assert bn.num_batches_tracked.item() == 3


def test_batch_norm_momentum_none_keeps_a_plain_average():
    bn = nn.BatchNorm2d(2, momentum=None).double()
    batches = [tn.randn(2, 2, 3, 3, dtype=tn.float64) + i for i in range(4)]
    for x in batches:
        bn(x)
    expected = np.mean([_channel_stats(x.numpy())[0] for x in batches], axis=0)
    np.testing.assert_allclose(bn.running_mean.numpy(), expected, rtol=1e-12)


def test_batch_norm_without_running_stats_normalizes_with_the_batch_even_in_eval():
    bn = nn.BatchNorm1d(3, track_running_stats=False, affine=False).eval()
    assert list(bn.parameters()) == [] and list(bn.named_buffers()) == []
    x = tn.randn(6, 3) * 4 + 3
    mean, biased, _ = _channel_stats(x.numpy())
    np.testing.assert_allclose(
        bn(x).numpy(), _batch_norm_reference(x.numpy(), mean, biased, [1] * 3, [0] * 3), atol=1e-5
    )


def test_batch_norm_modules_parameters_buffers_and_repr_as_pytorch():
    bn = nn.BatchNorm2d(4)
    assert [(n, p.shape) for n, p in bn.named_parameters()] == [("weight", (4,)), ("bias", (4,))]
    assert [(n, b.shape) for n, b in bn.named_buffers()] == [
        ("running_mean", (4,)), ("running_var", (4,)), ("num_batches_tracked", ()),
    ]  # fmt: skip
    assert bn.num_batches_tracked.dtype == tn.int64
    assert list(bn.state_dict()) == ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    # PyTorch 2.13 shows the bias flag too.
    assert repr(nn.BatchNorm1d(3)) == (
        "BatchNorm1d(3, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True)"
    )


def test_batch_norm_shape_errors_name_the_module_and_the_expected_shape():
    with pytest.raises(
        tn.ShapeError, match=r"BatchNorm2d\(3\): expected input \(N, C, H, W\) with C=3, got \(2, 3, 4\)"
    ):
        nn.BatchNorm2d(3)(tn.randn(2, 3, 4))
    with pytest.raises(tn.ShapeError, match=r"BatchNorm1d\(3\).*got \(2, 4\)"):
        nn.BatchNorm1d(3)(tn.randn(2, 4))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        nn.BatchNorm1d(3)(tn.randn(1, 3))


def test_batch_norm_takes_both_running_statistics_or_neither():
    """As PyTorch: in training, one without the other is refused (each given one is updated in place)."""
    x = tn.randn(4, 3, 5)
    with pytest.raises(ValueError, match="running_mean and running_var must either both be None or neither be None"):
        F.batch_norm(x, tn.zeros(3), None, training=True)
    with pytest.raises(ValueError, match="evaluation \\(training=False\\) needs running_mean and running_var"):
        F.batch_norm(x, None, tn.ones(3), training=False)
    mean, var = tn.zeros(3), tn.ones(3)
    F.batch_norm(x, mean, var, training=True, momentum=0.5)
    values = x.numpy().transpose(1, 0, 2).reshape(3, -1)
    np.testing.assert_allclose(mean.numpy(), 0.5 * values.mean(axis=1), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(var.numpy(), 0.5 + 0.5 * values.var(axis=1, ddof=1), rtol=1e-5)


# --- dropout ----------------------------------------------------------------------------------


def test_dropout_is_the_identity_in_eval_and_for_p_zero(backend_name):
    x = tn.randn(4, 5)
    assert F.dropout(x, 0.5, training=False) is x
    assert F.dropout(x, 0.0) is x
    layer = nn.Dropout(0.5).eval()
    np.testing.assert_array_equal(layer(x).numpy(), x.numpy())


def test_dropout_repeats_with_the_seed_and_matches_the_generator(backend_name):
    x = tn.randn(6, 7)
    tn.manual_seed(5)
    first = F.dropout(x, 0.3).numpy()
    tn.manual_seed(5)
    second = F.dropout(x, 0.3).numpy()
    np.testing.assert_array_equal(first, second)
    # The mask's key is what tinynet's generator draws after the seed; the reference's kernel makes the mask from it.
    key = np.random.default_rng(5).integers(0, 2**32, size=2, dtype=np.uint32)
    keep = numpy_ref.dropout_mask(np.empty(0), (6, 7), key, 0.3) != 0
    assert 0 < keep.sum() < keep.size
    np.testing.assert_allclose(first, np.where(keep, x.numpy() / 0.7, 0), rtol=1e-6)


def test_dropout_zeroes_a_fraction_p_and_keeps_the_mean(backend_name):
    y = F.dropout(tn.ones(200_000), 0.4).numpy()
    assert abs((y == 0).mean() - 0.4) < 0.01
    np.testing.assert_allclose(y[y != 0], 1 / 0.6, rtol=1e-6)
    assert abs(y.mean() - 1) < 0.01


def test_dropout_gradcheck_with_a_repeated_mask():
    x = tn.randn(3, 4, dtype=tn.float64, requires_grad=True)

    def fn(x):
        tn.manual_seed(1)  # the same mask at every evaluation
        return F.dropout(x, 0.4)

    assert tn.gradcheck(fn, [x])


def test_dropout_with_p_one_gives_zeros_and_bad_p_is_refused():
    np.testing.assert_array_equal(F.dropout(tn.randn(3), 1.0).numpy(), 0)
    with pytest.raises(ValueError, match=r"dropout: p .* must be in \[0, 1\], got 1.5"):
        F.dropout(tn.randn(3), 1.5)
    with pytest.raises(ValueError, match=r"Dropout: p"):
        nn.Dropout(-0.1)
    assert repr(nn.Dropout(0.2)) == "Dropout(p=0.2)"
