"""tinynet.nn.functional: activations and losses against NumPy formulas, their gradients, stability, errors.

Every reference below is written here with NumPy in float64, independently of tinynet's kernels.
"""

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy.special import erf

import tinynet as tn
import tinynet.nn.functional as F

# The `backend_name` fixture is function scoped: it only switches the backend for the whole test, so
# sharing it across hypothesis examples is what we want.
per_backend = settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


# --- NumPy references (float64) -----------------------------------------------------------


def np_softplus(x, beta=1.0, threshold=20.0):
    return np.where(beta * x > threshold, x, np.logaddexp(0.0, beta * x) / beta)


def np_sigmoid(x):
    return np.exp(-np.logaddexp(0.0, -x))  # 1 / (1 + e^-x) without overflow


def np_phi(x):  # standard normal CDF and density
    return 0.5 * (1 + erf(x / np.sqrt(2))), np.exp(-0.5 * x * x) / np.sqrt(2 * np.pi)


def np_softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def np_log_softmax(x, axis):
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def np_reduce(loss, reduction):
    return {"mean": np.mean, "sum": np.sum, "none": lambda a: a}[reduction](loss)


def np_bce(p, t):
    with np.errstate(divide="ignore"):
        return -(t * np.maximum(np.log(p), -100) + (1 - t) * np.maximum(np.log(1 - p), -100))


def np_bce_logits(x, t):
    return t * np.logaddexp(0.0, -x) + (1 - t) * np.logaddexp(0.0, x)


# (id, tinynet function, value formula, derivative formula)
ACTIVATIONS = [
    ("sigmoid", F.sigmoid, np_sigmoid, lambda x: np_sigmoid(x) * (1 - np_sigmoid(x))),
    ("relu", F.relu, lambda x: np.maximum(x, 0.0), lambda x: (x > 0).astype(float)),
    ("tanh", F.tanh, np.tanh, lambda x: 1 - np.tanh(x) ** 2),
    ("leaky_relu", F.leaky_relu, lambda x: np.where(x > 0, x, 0.01 * x), lambda x: np.where(x > 0, 1.0, 0.01)),
    (
        "leaky_relu_0.2",
        lambda t: F.leaky_relu(t, 0.2),
        lambda x: np.where(x > 0, x, 0.2 * x),
        lambda x: np.where(x > 0, 1.0, 0.2),
    ),
    (
        "elu",
        F.elu,
        lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0))),
        lambda x: np.where(x > 0, 1.0, np.exp(np.minimum(x, 0))),
    ),
    (
        "elu_alpha_0.5",
        lambda t: F.elu(t, alpha=0.5),
        lambda x: np.where(x > 0, x, 0.5 * np.expm1(np.minimum(x, 0))),
        lambda x: np.where(x > 0, 1.0, 0.5 * np.exp(np.minimum(x, 0))),
    ),
    ("gelu", F.gelu, lambda x: x * np_phi(x)[0], lambda x: np_phi(x)[0] + x * np_phi(x)[1]),
    ("softplus", F.softplus, np_softplus, lambda x: np.where(x > 20, 1.0, np_sigmoid(x))),
    (
        "softplus_beta2_threshold5",
        lambda t: F.softplus(t, beta=2.0, threshold=5.0),
        lambda x: np_softplus(x, 2.0, 5.0),
        lambda x: np.where(2 * x > 5, 1.0, np_sigmoid(2 * x)),
    ),
]
ACTIVATION_IDS = [a[0] for a in ACTIVATIONS]
SOFTMAX_CASES = [((5,), 0), ((5,), -1), ((3, 4), 0), ((3, 4), 1), ((3, 4), -1), ((2, 3, 4), 0), ((2, 3, 4), 1)]
SOFTMAX_CASES += [((2, 3, 4), -1), ((2, 3, 4), -2)]


def f64(array, requires_grad=False):
    return tn.tensor(np.asarray(array, dtype=np.float64), dtype=tn.float64, requires_grad=requires_grad)


def labels(values):
    return tn.tensor(np.asarray(values, dtype=np.int64))


# --- values ------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "fn", "ref", "dref"), ACTIVATIONS, ids=ACTIVATION_IDS)
def test_activation_values_match_numpy(backend_name, name, fn, ref, dref):
    x = np.concatenate([np.linspace(-8, 8, 33), np.random.default_rng(1).normal(0, 3, 40), [-25.0, 25.0]])
    y = fn(f64(x))
    assert y.dtype == tn.float64 and y.shape == x.shape
    np.testing.assert_allclose(y.numpy(), ref(x), rtol=1e-12, atol=1e-15)


def test_tensor_methods_and_top_level_functions_agree_with_functional(backend_name):
    x = f64(np.random.default_rng(2).normal(size=(3, 4)))
    pairs = [
        (x.relu(), F.relu(x)),
        (x.sigmoid(), F.sigmoid(x)),
        (x.tanh(), F.tanh(x)),
        (tn.relu(x), F.relu(x)),
        (tn.sigmoid(x), F.sigmoid(x)),
        (tn.tanh(x), F.tanh(x)),
        (x.softmax(1), F.softmax(x, 1)),
        (tn.softmax(x, 0), F.softmax(x, 0)),
        (x.log_softmax(0), F.log_softmax(x, 0)),
    ]
    for a, b in pairs:
        np.testing.assert_array_equal(a.numpy(), b.numpy())


@pytest.mark.parametrize(("shape", "dim"), SOFTMAX_CASES)
def test_softmax_and_log_softmax_along_each_dim(backend_name, shape, dim):
    x = np.random.default_rng(3).normal(0, 3, shape)
    s = F.softmax(f64(x), dim).numpy()
    ls = F.log_softmax(f64(x), dim).numpy()
    np.testing.assert_allclose(s, np_softmax(x, dim), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(ls, np_log_softmax(x, dim), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(s.sum(axis=dim), 1.0, rtol=1e-12)
    np.testing.assert_allclose(np.exp(ls), s, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("fn", [F.softmax, F.log_softmax])
def test_softmax_dim_out_of_range_is_a_shape_error(fn):
    with pytest.raises(tn.ShapeError, match="dim 2"):
        fn(tn.randn(3, 4), 2)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_mse_loss_values(backend_name, reduction):
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    out = F.mse_loss(f64(a), f64(b), reduction=reduction)
    expected = np_reduce((a - b) ** 2, reduction)
    assert out.shape == np.shape(expected)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12)


def test_mse_loss_default_reduction_is_mean_and_accepts_an_array_target(backend_name):
    a, b = np.array([1.0, 2.0, 4.0]), np.array([0.0, 0.0, 1.0])
    assert F.mse_loss(f64(a), f64(b)).item() == pytest.approx(np.mean((a - b) ** 2), rel=1e-12)
    assert F.mse_loss(f64(a), b).item() == pytest.approx(np.mean((a - b) ** 2), rel=1e-12)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_values(backend_name, reduction):
    rng = np.random.default_rng(5)
    logits, y = rng.normal(0, 3, (6, 4)), rng.integers(0, 4, 6)
    out = F.cross_entropy(f64(logits), labels(y), reduction=reduction)
    per_sample = -np_log_softmax(logits, 1)[np.arange(6), y]
    expected = np_reduce(per_sample, reduction)
    assert out.shape == np.shape(expected)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12)


def test_cross_entropy_default_is_mean(backend_name):
    logits, y = np.array([[2.0, 0.5, -1.0], [0.0, 0.0, 3.0]]), np.array([0, 1])
    expected = np.mean(-np_log_softmax(logits, 1)[np.arange(2), y])
    assert F.cross_entropy(f64(logits), labels(y)).item() == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_nll_loss_values(backend_name, reduction):
    rng = np.random.default_rng(6)
    log_probs, y = rng.normal(0, 2, (5, 3)), rng.integers(0, 3, 5)
    out = F.nll_loss(f64(log_probs), labels(y), reduction=reduction)
    expected = np_reduce(-log_probs[np.arange(5), y], reduction)
    assert out.shape == np.shape(expected)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_binary_cross_entropy_values(backend_name, reduction):
    rng = np.random.default_rng(7)
    p, t = rng.uniform(0.01, 0.99, (4, 3)), rng.uniform(0, 1, (4, 3))
    t[0] = [0.0, 1.0, 1.0]  # hard labels too
    out = F.binary_cross_entropy(f64(p), f64(t), reduction=reduction)
    expected = np_reduce(-(t * np.log(p) + (1 - t) * np.log(1 - p)), reduction)
    assert out.shape == np.shape(expected)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_binary_cross_entropy_with_logits_values(backend_name, reduction):
    rng = np.random.default_rng(8)
    x, t = rng.normal(0, 4, (4, 3)), rng.uniform(0, 1, (4, 3))
    out = F.binary_cross_entropy_with_logits(f64(x), f64(t), reduction=reduction)
    s = 1 / (1 + np.exp(-x))
    expected = np_reduce(-(t * np.log(s) + (1 - t) * np.log(1 - s)), reduction)
    assert out.shape == np.shape(expected)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-10)


def test_bce_with_logits_equals_bce_of_sigmoid(backend_name):
    rng = np.random.default_rng(9)
    x, t = rng.normal(0, 2, 10), rng.uniform(0, 1, 10)
    a = F.binary_cross_entropy_with_logits(f64(x), f64(t)).item()
    b = F.binary_cross_entropy(F.sigmoid(f64(x)), f64(t)).item()
    assert a == pytest.approx(b, rel=1e-10)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_equals_nll_of_log_softmax_values_and_gradients(backend_name, reduction):
    rng = np.random.default_rng(10)
    logits, y = rng.normal(0, 2, (5, 4)), labels(rng.integers(0, 4, 5))
    a, b = f64(logits, requires_grad=True), f64(logits, requires_grad=True)
    ce = F.cross_entropy(a, y, reduction=reduction)
    nll = F.nll_loss(F.log_softmax(b, dim=1), y, reduction=reduction)
    np.testing.assert_allclose(ce.numpy(), nll.numpy(), rtol=1e-12)
    weights = f64(rng.normal(size=ce.shape))
    (ce * weights).sum().backward()
    (nll * weights).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-10, atol=1e-14)


# --- gradients (gradcheck on hypothesis-drawn shapes, float64) -----------------------------

shapes = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4)
# Away from the kinks at 0 (relu, leaky_relu, elu) and below softplus(beta=2, threshold=5)'s switch at 2.5.
away_from_kinks = st.one_of(st.floats(-2.4, -0.05), st.floats(0.05, 2.4))


@pytest.mark.parametrize(("name", "fn", "ref", "dref"), ACTIVATIONS, ids=ACTIVATION_IDS)
@per_backend
@given(x=hnp.arrays(np.float64, shapes, elements=away_from_kinks))
def test_activation_gradients_pass_gradcheck(backend_name, name, fn, ref, dref, x):
    t = f64(x, requires_grad=True)
    assert tn.gradcheck(fn, [t])
    fn(t).sum().backward()  # and the analytic gradient is the derivative formula
    np.testing.assert_allclose(t.grad.numpy(), dref(x), rtol=1e-10, atol=1e-14)


@per_backend
@given(x=hnp.arrays(np.float64, shapes, elements=st.floats(-5, 5)), data=st.data())
def test_softmax_and_log_softmax_gradients_pass_gradcheck(backend_name, x, data):
    dim = data.draw(st.integers(-x.ndim, x.ndim - 1), label="dim")
    assert tn.gradcheck(lambda t: F.softmax(t, dim), [f64(x, requires_grad=True)])
    assert tn.gradcheck(lambda t: F.log_softmax(t, dim), [f64(x, requires_grad=True)])


loss_sizes = st.tuples(st.integers(1, 4), st.integers(2, 4), st.integers(0, 2**32 - 1))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@per_backend
@given(size=loss_sizes)
def test_class_loss_gradients_pass_gradcheck(backend_name, reduction, size):
    n, c, seed = size
    rng = np.random.default_rng(seed)
    logits, y = rng.normal(0, 2, (n, c)), labels(rng.integers(0, c, n))
    assert tn.gradcheck(lambda t: F.cross_entropy(t, y, reduction=reduction), [f64(logits, requires_grad=True)])
    assert tn.gradcheck(lambda t: F.nll_loss(t, y, reduction=reduction), [f64(logits, requires_grad=True)])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@per_backend
@given(shape=shapes, seed=st.integers(0, 2**32 - 1))
def test_elementwise_loss_gradients_pass_gradcheck(backend_name, reduction, shape, seed):
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=shape), rng.normal(size=shape)
    p, t = rng.uniform(0.05, 0.95, shape), rng.uniform(0, 1, shape)
    # mse_loss is differentiable in both arguments, as in PyTorch.
    assert tn.gradcheck(lambda u, v: F.mse_loss(u, v, reduction), [f64(a, requires_grad=True), f64(b, True)])
    assert tn.gradcheck(lambda u: F.binary_cross_entropy(u, f64(t), reduction), [f64(p, requires_grad=True)])
    assert tn.gradcheck(lambda u: F.binary_cross_entropy_with_logits(u, f64(t), reduction), [f64(3 * a, True)])


def test_softplus_gradient_in_its_linear_region_is_one(backend_name):
    # Above the threshold softplus returns x itself, so its slope there is exactly 1 (PyTorch passes the
    # gradient through unchanged); sigmoid(beta x) would not match the function actually computed.
    x = f64([3.0, 4.0, 10.0], requires_grad=True)
    assert tn.gradcheck(lambda t: F.softplus(t, beta=2.0, threshold=5.0), [x])
    F.softplus(x, beta=2.0, threshold=5.0).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 1.0, 1.0])


def test_bce_with_logits_gradient_with_respect_to_a_soft_target(backend_name):
    # PyTorch differentiates binary_cross_entropy_with_logits in its target too (d/dt = -x / N), which
    # soft targets produced by another network (distillation) rely on; silently dropping it is wrong.
    x = f64([0.5, -1.0, 2.0])
    t = f64([0.2, 0.9, 0.5], requires_grad=True)
    F.binary_cross_entropy_with_logits(x, t).backward()
    assert t.grad is not None, "the target requires grad but got no gradient"
    np.testing.assert_allclose(t.grad.numpy(), -x.numpy() / 3, rtol=1e-12)


# --- numerical stability -----------------------------------------------------------------

EXTREME = np.array([1e4, -1e4, 0.0, 1e4, -1e4, 3.0, -3.0, 50.0, -50.0])
PROJECTION = np.random.default_rng(11).normal(size=EXTREME.shape)


def _tol(dtype):
    return {"rtol": 1e-5, "atol": 1e-6} if dtype == tn.float32 else {"rtol": 1e-12, "atol": 1e-15}


def _value_and_grad(fn, inputs, projection):
    out = fn(*inputs)
    (out * tn.tensor(projection, dtype=out.dtype)).sum().backward()
    return out


@pytest.mark.filterwarnings("error::RuntimeWarning")  # no overflow hidden behind a where()
@pytest.mark.parametrize("dtype", [tn.float32, tn.float64], ids=["float32", "float64"])
@pytest.mark.parametrize(("name", "fn", "ref", "dref"), ACTIVATIONS, ids=ACTIVATION_IDS)
def test_activations_are_finite_and_right_at_plus_minus_1e4(backend_name, dtype, name, fn, ref, dref):
    x = tn.tensor(EXTREME, dtype=dtype, requires_grad=True)
    y = _value_and_grad(fn, [x], PROJECTION)
    assert y.dtype == dtype and x.grad.dtype == dtype
    assert np.isfinite(y.numpy()).all() and np.isfinite(x.grad.numpy()).all()
    np.testing.assert_allclose(y.numpy(), ref(EXTREME), **_tol(dtype))
    np.testing.assert_allclose(x.grad.numpy(), PROJECTION * dref(EXTREME), **_tol(dtype))


@pytest.mark.filterwarnings("error::RuntimeWarning")
@pytest.mark.parametrize("dtype", [tn.float32, tn.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("fn", [F.softmax, F.log_softmax])
def test_softmax_family_is_finite_and_right_at_plus_minus_1e4(backend_name, dtype, fn):
    x_np = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4], [1e4, 1e4, -1e4], [0.0, 1.0, 2.0]])
    r = np.random.default_rng(12).normal(size=x_np.shape)
    x = tn.tensor(x_np, dtype=dtype, requires_grad=True)
    y = _value_and_grad(lambda t: fn(t, 1), [x], r)
    s = np_softmax(x_np, 1)
    if fn is F.softmax:
        expected, grad = s, s * (r - (r * s).sum(1, keepdims=True))
    else:
        expected, grad = np_log_softmax(x_np, 1), r - s * r.sum(1, keepdims=True)
    assert y.dtype == dtype and x.grad.dtype == dtype
    assert np.isfinite(y.numpy()).all() and np.isfinite(x.grad.numpy()).all()
    np.testing.assert_allclose(y.numpy(), expected, **_tol(dtype))
    np.testing.assert_allclose(x.grad.numpy(), grad, **_tol(dtype))


@pytest.mark.filterwarnings("error::RuntimeWarning")
@pytest.mark.parametrize("dtype", [tn.float32, tn.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("fn", [F.cross_entropy, lambda a, y: F.nll_loss(F.log_softmax(a, 1), y)], ids=["ce", "nll"])
def test_class_losses_are_finite_and_right_for_logits_of_1e4(backend_name, dtype, fn):
    logits = np.array([[1e4, -1e4, 0.0], [1e4, -1e4, 0.0], [-1e4, 1e4, 0.0], [0.0, 0.0, 1e4]])
    y = np.array([0, 1, 2, 2])
    x = tn.tensor(logits, dtype=dtype, requires_grad=True)
    loss = fn(x, labels(y))
    loss.backward()
    onehot = np.eye(3)[y]
    expected = np.mean(-np_log_softmax(logits, 1)[np.arange(4), y])  # (0 + 2e4 + 1e4 + 0) / 4
    assert loss.dtype == dtype and x.grad.dtype == dtype
    assert np.isfinite(loss.item()) and np.isfinite(x.grad.numpy()).all()
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    np.testing.assert_allclose(x.grad.numpy(), (np_softmax(logits, 1) - onehot) / 4, **_tol(dtype))


@pytest.mark.filterwarnings("error::RuntimeWarning")
@pytest.mark.parametrize("dtype", [tn.float32, tn.float64], ids=["float32", "float64"])
def test_elementwise_losses_are_finite_and_right_at_plus_minus_1e4(backend_name, dtype):
    x_np = EXTREME
    t_np = np.array([1.0, 0.0, 0.5, 0.0, 1.0, 1.0, 0.0, 0.3, 0.7])
    n = x_np.size
    # mse_loss
    x = tn.tensor(x_np, dtype=dtype, requires_grad=True)
    loss = F.mse_loss(x, tn.tensor(t_np, dtype=dtype))
    loss.backward()
    assert np.isfinite(loss.item()) and loss.item() == pytest.approx(np.mean((x_np - t_np) ** 2), rel=1e-6)
    np.testing.assert_allclose(x.grad.numpy(), 2 * (x_np - t_np) / n, **_tol(dtype))
    # binary_cross_entropy_with_logits: logits of +-1e4, right or wrong
    x = tn.tensor(x_np, dtype=dtype, requires_grad=True)
    loss = F.binary_cross_entropy_with_logits(x, tn.tensor(t_np, dtype=dtype))
    loss.backward()
    assert loss.dtype == dtype and np.isfinite(loss.item()) and np.isfinite(x.grad.numpy()).all()
    assert loss.item() == pytest.approx(np.mean(np_bce_logits(x_np, t_np)), rel=1e-6)
    np.testing.assert_allclose(x.grad.numpy(), (np_sigmoid(x_np) - t_np) / n, **_tol(dtype))
    # binary_cross_entropy of sigmoid(+-1e4): probabilities that round to exactly 0 and 1
    x = tn.tensor(x_np, dtype=dtype, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a warning here is tested on its own below
        loss = F.binary_cross_entropy(F.sigmoid(x), tn.tensor(t_np, dtype=dtype))
        loss.backward()
    assert loss.dtype == dtype and np.isfinite(loss.item()) and np.isfinite(x.grad.numpy()).all()
    assert loss.item() == pytest.approx(np.mean(np_bce(np_sigmoid(x_np), t_np)), rel=1e-5)


@pytest.mark.parametrize("dtype", [tn.float32, tn.float64], ids=["float32", "float64"])
def test_binary_cross_entropy_at_probabilities_exactly_0_and_1_is_finite(backend_name, dtype):
    p_np = np.array([0.0, 1.0, 0.0, 1.0, 0.5])
    t_np = np.array([0.0, 1.0, 1.0, 0.0, 1.0])
    p = tn.tensor(p_np, dtype=dtype, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        loss = F.binary_cross_entropy(p, tn.tensor(t_np, dtype=dtype), reduction="none")
        loss.sum().backward()
    # As in PyTorch, log is clamped at -100: a confidently wrong prediction costs 100, not inf.
    np.testing.assert_allclose(loss.numpy(), [0.0, 0.0, 100.0, 100.0, np.log(2)], rtol=1e-6)
    assert np.isfinite(p.grad.numpy()).all()
    # PyTorch's gradient: (p - t) / max(p (1 - p), 1e-12)
    expected = (p_np - t_np) / np.maximum(p_np * (1 - p_np), 1e-12)
    np.testing.assert_allclose(p.grad.numpy(), expected, rtol=1e-6)


def test_binary_cross_entropy_at_0_and_1_emits_no_runtime_warning():
    # The clamped result is the intended answer; NumPy's "divide by zero encountered in log" only
    # alarms the learner (PyTorch prints nothing here).
    p, t = tn.tensor([0.0, 1.0]), tn.tensor([1.0, 0.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        loss = F.binary_cross_entropy(p, t)
    assert loss.item() == pytest.approx(100.0)


# --- errors ------------------------------------------------------------------------------


def test_cross_entropy_rejects_float_labels():
    with pytest.raises(tn.DTypeError, match=r"(?i)integer.*long|long.*integer"):
        F.cross_entropy(tn.randn(3, 4), tn.tensor([0.0, 1.0, 2.0]))
    with pytest.raises(tn.DTypeError, match="integer"):
        F.nll_loss(tn.randn(3, 4), tn.tensor([0.0, 1.0, 2.0]))


@pytest.mark.parametrize("bad", [4, 7, -1])
def test_cross_entropy_labels_out_of_range_name_the_class_and_c(bad):
    y = labels([0, bad, 1])
    with pytest.raises(ValueError, match=rf"class {bad}\b") as caught:
        F.cross_entropy(tn.randn(3, 4), y)
    assert "C=4" in str(caught.value)
    with pytest.raises(ValueError, match=rf"class {bad}\b"):
        F.nll_loss(tn.randn(3, 4), y)


@pytest.mark.parametrize("shape", [(2,), (4,), (3, 1), ()])
def test_cross_entropy_labels_of_the_wrong_shape(shape):
    y = tn.tensor(np.zeros(shape, dtype=np.int64))
    with pytest.raises(tn.ShapeError, match=r"\(3,\)"):
        F.cross_entropy(tn.randn(3, 4), y)
    with pytest.raises(tn.ShapeError):
        F.nll_loss(tn.randn(3, 4), y)


@pytest.mark.parametrize("shape", [(4,), (2, 3, 4), ()])
def test_cross_entropy_needs_2d_logits(shape):
    with pytest.raises(tn.ShapeError, match=r"\(N, C\)"):
        F.cross_entropy(tn.randn(*shape), labels([0, 1]))
    with pytest.raises(tn.ShapeError, match=r"\(N, C\)"):
        F.nll_loss(tn.randn(*shape), labels([0, 1]))


def test_mse_broadcasts_n1_against_n_with_pytorchs_warning():
    # PyTorch broadcasts (4, 1) against (4,) to (4, 4), warning that this is likely a mistake: so does tinynet.
    p, t = tn.rand(4, 1), tn.rand(4)
    with pytest.warns(UserWarning, match="target size"):
        loss = F.mse_loss(p, t, reduction="none")
    assert loss.shape == (4, 4)


@pytest.mark.parametrize(
    "loss", [F.binary_cross_entropy, F.binary_cross_entropy_with_logits], ids=["bce", "bce_logits"]
)
def test_binary_losses_refuse_to_broadcast_n1_against_n(loss):
    p, t = tn.rand(4, 1), tn.rand(4)
    with pytest.raises(tn.ShapeError, match=r"\(4, 1\).*\(4,\)"):
        loss(p, t)
    with pytest.raises(tn.ShapeError, match=r"\(4,\).*\(4, 1\)"):
        loss(t, p)


@pytest.mark.parametrize(
    ("loss", "args"),
    [
        (F.mse_loss, lambda: (tn.rand(3), tn.rand(3))),
        (F.binary_cross_entropy, lambda: (tn.rand(3), tn.rand(3))),
        (F.binary_cross_entropy_with_logits, lambda: (tn.rand(3), tn.rand(3))),
        (F.cross_entropy, lambda: (tn.randn(3, 2), labels([0, 1, 1]))),
        (F.nll_loss, lambda: (tn.randn(3, 2), labels([0, 1, 1]))),
    ],
    ids=["mse", "bce", "bce_logits", "cross_entropy", "nll"],
)
@pytest.mark.parametrize("reduction", ["avg", "MEAN", "elementwise_mean", ""])
def test_a_bad_reduction_is_a_value_error_naming_it(loss, args, reduction):
    with pytest.raises(ValueError, match="reduction") as caught:
        loss(*args(), reduction=reduction)
    assert repr(reduction) in str(caught.value)


@pytest.mark.parametrize("bad", [-0.1, 1.1, -1e-6, 2.0])
def test_binary_cross_entropy_rejects_values_outside_0_1(bad):
    p = tn.tensor([0.5, bad, 0.2])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        F.binary_cross_entropy(p, tn.tensor([1.0, 0.0, 1.0]))


def test_binary_cross_entropy_rejects_nan_probabilities():
    # PyTorch checks 0 <= p <= 1, which NaN fails; a diverged model should not get a NaN loss silently.
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        F.binary_cross_entropy(tn.tensor([0.5, float("nan")]), tn.tensor([1.0, 0.0]))
