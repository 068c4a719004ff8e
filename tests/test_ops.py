"""Every differentiable op of the Tensor: values against NumPy, gradients against finite differences.

Values are compared with NumPy computing the same thing (on every usable backend, in float32, which
must stay float32); gradients are checked with ``tn.gradcheck`` in float64 on shapes drawn by
hypothesis, small enough that the numeric gradient stays cheap. Inputs are drawn away from the
points where an op is not differentiable (ties, kinks, bounds, zero).
"""

import operator

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinynet as tn

MAX_DIMS, MAX_SIDE = 3, 4


# --- helpers and strategies ------------------------------------------------------------------


def leaf(array, dtype=tn.float64) -> tn.Tensor:
    """A float64 tensor that requires grad, holding ``array``."""
    return tn.tensor(np.asarray(array), dtype=dtype, requires_grad=True)


def floats(low: float, high: float):
    return st.floats(low, high, allow_nan=False, allow_infinity=False)


def away_from_zero(low: float = 0.3, high: float = 2.0):
    return st.one_of(floats(-high, -low), floats(low, high))


def grid(offset: float):
    """Multiples of 0.5 shifted by ``offset``: two grids with offsets 0.25 apart never tie."""
    return st.integers(-4, 4).map(lambda k: k * 0.5 + offset)


def arrays(shape, elements=None):
    return hnp.arrays(np.float64, shape, elements=floats(-2, 2) if elements is None else elements)


def shapes(min_dims: int = 0, max_dims: int = MAX_DIMS, max_side: int = MAX_SIDE):
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=1, max_side=max_side)


@st.composite
def distinct(draw, shape):
    """An array of ``shape`` whose values are all different (at least 0.3 apart): no ties anywhere."""
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape, dtype=int))
    return (rng.permutation(n) * 0.5 - n / 4 + rng.uniform(-0.1, 0.1, n)).reshape(shape)


@st.composite
def dims_for(draw, ndim: int):
    """A ``dim`` argument for a reduction over ``ndim`` axes: None, an int (maybe negative) or a tuple."""
    kind = draw(st.sampled_from(["none", "int", "tuple"]))
    if kind == "none":
        return None
    if kind == "int":
        return draw(st.integers(-ndim, ndim - 1))
    axes = draw(st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True))
    return tuple(a - ndim if draw(st.booleans()) else a for a in axes)


def np_axes(dim):
    return tuple(dim) if isinstance(dim, (tuple, list)) else dim


def reduced_count(shape, dim) -> int:
    if dim is None:
        return int(np.prod(shape, dtype=int))
    axes = (dim,) if isinstance(dim, int) else dim
    return int(np.prod([shape[a] for a in axes], dtype=int))


def float32_data(rng, shape, kind: str = "any"):
    """float32 test data from a seeded generator: any sign, positive, or away from zero."""
    if kind == "positive":
        values = rng.uniform(0.5, 2.0, shape)
    elif kind == "nonzero":
        values = rng.choice([-1.0, 1.0], shape) * rng.uniform(0.3, 2.0, shape)
    else:
        values = rng.uniform(-2.0, 2.0, shape)
    return np.asarray(values, dtype=np.float32)


# --- unary ops and ops with a Python number ---------------------------------------------------

# name -> (tinynet function, NumPy function, elements to draw inputs from)
UNARY = {
    "x + 2": (lambda x: x + 2, lambda a: a + 2, floats(-2, 2)),
    "2 + x": (lambda x: 2 + x, lambda a: 2 + a, floats(-2, 2)),
    "x - 2.5": (lambda x: x - 2.5, lambda a: a - 2.5, floats(-2, 2)),
    "2 - x": (lambda x: 2 - x, lambda a: 2 - a, floats(-2, 2)),
    "x * 2": (lambda x: x * 2, lambda a: a * 2, floats(-2, 2)),
    "2 * x": (lambda x: 2 * x, lambda a: 2 * a, floats(-2, 2)),
    "x / 2": (lambda x: x / 2, lambda a: a / 2, floats(-2, 2)),
    "2 / x": (lambda x: 2 / x, lambda a: 2 / a, away_from_zero()),
    "x ** 2": (lambda x: x**2, lambda a: a**2, floats(-2, 2)),
    "x ** 3": (lambda x: x**3, lambda a: a**3, floats(-2, 2)),
    "x ** 0.5": (lambda x: x**0.5, lambda a: a**0.5, floats(0.3, 2)),
    "x ** -1.5": (lambda x: x**-1.5, lambda a: a**-1.5, floats(0.3, 2)),
    "2 ** x": (lambda x: 2**x, lambda a: 2**a, floats(-2, 2)),
    "0.5 ** x": (lambda x: 0.5**x, lambda a: 0.5**a, floats(-2, 2)),
    "-x": (lambda x: -x, lambda a: -a, floats(-2, 2)),
    "neg": (lambda x: x.neg(), np.negative, floats(-2, 2)),
    "exp": (lambda x: x.exp(), np.exp, floats(-2, 2)),
    "tn.exp": (tn.exp, np.exp, floats(-2, 2)),
    "log": (lambda x: x.log(), np.log, floats(0.2, 3)),
    "tn.log": (tn.log, np.log, floats(0.2, 3)),
    "sqrt": (lambda x: x.sqrt(), np.sqrt, floats(0.2, 3)),
    "tn.sqrt": (tn.sqrt, np.sqrt, floats(0.2, 3)),
    "abs": (lambda x: x.abs(), np.abs, away_from_zero(0.1)),
    "tn.abs": (tn.abs, np.abs, away_from_zero(0.1)),
    "clip(-0.5, 0.5)": (
        lambda x: x.clip(-0.5, 0.5),
        lambda a: np.clip(a, -0.5, 0.5),
        st.one_of(floats(-2, -0.6), floats(-0.4, 0.4), floats(0.6, 2)),
    ),
    "clamp(min=-0.5)": (
        lambda x: x.clamp(min=-0.5),
        lambda a: np.maximum(a, -0.5),
        st.one_of(floats(-2, -0.6), floats(-0.4, 2)),
    ),
    "tn.clip(max=0.5)": (
        lambda x: tn.clip(x, max=0.5),
        lambda a: np.minimum(a, 0.5),
        st.one_of(floats(-2, 0.4), floats(0.6, 2)),
    ),
    "tn.clamp(x, -1, 1)": (
        lambda x: tn.clamp(x, -1, 1),
        lambda a: np.clip(a, -1, 1),
        st.one_of(floats(-2, -1.1), floats(-0.9, 0.9), floats(1.1, 2)),
    ),
}

# The kind of float32 data each unary op gets in the value tests.
UNARY_DOMAIN = {
    "2 / x": "nonzero",
    "x ** 0.5": "positive",
    "x ** -1.5": "positive",
    "log": "positive",
    "tn.log": "positive",
    "sqrt": "positive",
    "tn.sqrt": "positive",
}


@pytest.mark.parametrize("name", UNARY)
def test_unary_op_values_match_numpy_and_stay_float32(backend_name, name):
    fn, np_fn, _ = UNARY[name]
    a = float32_data(np.random.default_rng(1), (3, 4), UNARY_DOMAIN.get(name, "any"))
    out = fn(tn.tensor(a))
    assert isinstance(out, tn.Tensor)
    assert out.dtype == tn.float32, f"{name} turned float32 into {out.dtype}"
    assert out.shape == a.shape
    np.testing.assert_allclose(out.numpy(), np_fn(a), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", UNARY)
@given(data=st.data())
def test_unary_op_gradients(name, data):
    fn, np_fn, elements = UNARY[name]
    a = data.draw(arrays(shapes(), elements))
    x = leaf(a)
    out = fn(x)
    assert out.requires_grad and out.dtype == tn.float64
    np.testing.assert_allclose(out.numpy(), np_fn(a), rtol=1e-12, atol=1e-12)
    assert tn.gradcheck(fn, [x])


def test_gradcheck_leaves_a_zero_dimensional_input_zero_dimensional():
    # Every gradcheck above with a 0-d input relies on this: checking must not change the input.
    x = leaf(np.array(1.5))
    assert tn.gradcheck(lambda t: t * 3, [x])
    assert x.shape == ()
    np.testing.assert_array_equal(x.numpy(), np.array(1.5))


def test_clip_passes_the_gradient_only_inside_the_bounds():
    a = np.array([-2.0, -0.5, 0.0, 0.5, 2.0])
    x = leaf(a)
    x.clip(-0.5, 0.5).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), ((a >= -0.5) & (a <= 0.5)).astype(float))


# --- binary ops, broadcasting ----------------------------------------------------------------

# name -> (tinynet function, NumPy function, elements of a, elements of b)
BINARY = {
    "add": (operator.add, np.add, floats(-2, 2), floats(-2, 2)),
    "tn.add": (tn.functions.add, np.add, floats(-2, 2), floats(-2, 2)),
    "sub": (operator.sub, np.subtract, floats(-2, 2), floats(-2, 2)),
    "mul": (operator.mul, np.multiply, floats(-2, 2), floats(-2, 2)),
    "div": (operator.truediv, np.divide, floats(-2, 2), away_from_zero(0.5)),
    "pow": (operator.pow, np.power, floats(0.3, 2), floats(-2, 2)),
    "maximum": (lambda a, b: a.maximum(b), np.maximum, grid(0.0), grid(0.25)),
    "tn.maximum": (tn.maximum, np.maximum, grid(0.0), grid(0.25)),
    "minimum": (lambda a, b: a.minimum(b), np.minimum, grid(0.0), grid(0.25)),
    "tn.minimum": (tn.minimum, np.minimum, grid(0.0), grid(0.25)),
}

BROADCAST_PAIRS = [
    ((3, 4), (3, 4)),
    ((2, 1, 3), (4, 1)),
    ((4,), (2, 3, 4)),
    ((), (2, 3)),
    ((2, 3), ()),
    ((3, 1), (1, 4)),
]


@pytest.mark.parametrize("name", BINARY)
@pytest.mark.parametrize(("shape_a", "shape_b"), BROADCAST_PAIRS)
def test_binary_op_values_match_numpy_and_stay_float32(backend_name, name, shape_a, shape_b):
    fn, np_fn, _, _ = BINARY[name]
    rng = np.random.default_rng(2)
    a = float32_data(rng, shape_a, "positive" if name == "pow" else "any")
    b = float32_data(rng, shape_b, "nonzero" if name == "div" else "any")
    out = fn(tn.tensor(a), tn.tensor(b))
    assert out.dtype == tn.float32
    assert out.shape == np.broadcast_shapes(shape_a, shape_b)
    np.testing.assert_allclose(out.numpy(), np_fn(a, b), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", BINARY)
@given(data=st.data())
def test_binary_op_gradients_with_broadcasting(name, data):
    fn, np_fn, elements_a, elements_b = BINARY[name]
    pair = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=MAX_DIMS, max_side=MAX_SIDE))
    shape_a, shape_b = pair.input_shapes
    a, b = data.draw(arrays(shape_a, elements_a)), data.draw(arrays(shape_b, elements_b))
    x, y = leaf(a), leaf(b)
    out = fn(x, y)
    assert out.shape == pair.result_shape
    np.testing.assert_allclose(out.numpy(), np_fn(a, b), rtol=1e-12, atol=1e-12)
    # The gradients that backward leaves in .grad have the shapes of the inputs (unbroadcast).
    out.sum().backward()
    assert x.grad.shape == shape_a and y.grad.shape == shape_b
    assert tn.gradcheck(fn, [leaf(a), leaf(b)])


@pytest.mark.parametrize("name", ["add", "sub", "mul", "div", "pow", "maximum", "minimum"])
@pytest.mark.parametrize("side", ["left", "right"])
def test_binary_op_with_an_input_that_does_not_require_grad(name, side):
    fn, np_fn, _, _ = BINARY[name]
    rng = np.random.default_rng(3)
    a = rng.uniform(0.5, 2.0, (2, 3))
    b = rng.uniform(0.6, 2.1, (3,))
    x = leaf(a) if side == "left" else tn.tensor(a, dtype=tn.float64)
    y = tn.tensor(b, dtype=tn.float64) if side == "left" else leaf(b)
    out = fn(x, y)
    assert out.requires_grad
    np.testing.assert_allclose(out.numpy(), np_fn(a, b), rtol=1e-12)
    out.sum().backward()
    constant, variable = (y, x) if side == "left" else (x, y)
    assert constant.grad is None
    assert variable.grad is not None and variable.grad.shape == variable.shape
    assert tn.gradcheck(fn, [x, y])


@pytest.mark.parametrize("op", ["maximum", "minimum"])
def test_maximum_minimum_split_the_gradient_of_ties_in_half(op):
    a = np.array([[1.0, 2.0, 3.0], [0.0, -1.0, 5.0]])
    b = np.array([1.0, 0.0, 4.0])
    x, y = leaf(a), leaf(b)
    getattr(x, op)(y).sum().backward()
    wins = (a > b) if op == "maximum" else (a < b)
    share_a = wins + 0.5 * (a == b)
    np.testing.assert_array_equal(x.grad.numpy(), share_a)
    np.testing.assert_array_equal(y.grad.numpy(), (1 - share_a).sum(axis=0))


def test_ops_on_tensors_that_do_not_require_grad_record_nothing():
    a, b = tn.randn(2, 3), tn.randn(3)
    for out in (a + b, a * b, a - b, a / (b.abs() + 1), a.exp(), a.sum(), a @ b, a[0], tn.cat([a, a])):
        assert not out.requires_grad
        assert out.is_leaf and out.grad_fn is None


def test_tensor_to_tensor_power_with_positive_base_values_and_gradients():
    rng = np.random.default_rng(4)
    a, b = rng.uniform(0.5, 2.0, (2, 3)), rng.uniform(-2, 2, (2, 3))
    x, y = leaf(a), leaf(b)
    (x**y).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), b * a ** (b - 1), rtol=1e-12)
    np.testing.assert_allclose(y.grad.numpy(), a**b * np.log(a), rtol=1e-12)


def test_a_numpy_array_or_list_operand_becomes_a_tensor():
    rng = np.random.default_rng(5)
    a, b = rng.standard_normal((2, 3)), rng.standard_normal(3)
    x = leaf(a)
    # Like tn.tensor(b): floating-point data becomes the default dtype, float32.
    b32 = b.astype(np.float32).astype(np.float64)
    np.testing.assert_allclose((x + b).numpy(), a + b32)
    np.testing.assert_allclose((x * b.tolist()).numpy(), a * b32)
    out = b * x  # NumPy on the left defers to the Tensor
    assert isinstance(out, tn.Tensor) and out.requires_grad
    np.testing.assert_allclose(out.numpy(), b32 * a)


# --- where -----------------------------------------------------------------------------------


def test_where_values_match_numpy(backend_name):
    rng = np.random.default_rng(6)
    condition = rng.random((2, 1, 3)) > 0.5
    a, b = float32_data(rng, (4, 1)), float32_data(rng, (3,))
    for cond in (condition, tn.tensor(condition)):
        out = tn.where(cond, tn.tensor(a), tn.tensor(b))
        assert out.dtype == tn.float32 and out.shape == (2, 4, 3)
        np.testing.assert_array_equal(out.numpy(), np.where(condition, a, b))
    out = tn.where(tn.tensor(a) > 0, tn.tensor(a), 0.0)
    assert out.dtype == tn.float32
    np.testing.assert_array_equal(out.numpy(), np.where(a > 0, a, 0.0))


@given(data=st.data())
def test_where_gradients_with_broadcasting(data):
    triple = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=3, max_dims=MAX_DIMS, max_side=MAX_SIDE))
    shape_c, shape_a, shape_b = triple.input_shapes
    condition = data.draw(hnp.arrays(np.bool_, shape_c))
    a, b = data.draw(arrays(shape_a)), data.draw(arrays(shape_b))
    x, y = leaf(a), leaf(b)
    out = tn.where(condition, x, y)
    assert out.shape == triple.result_shape
    np.testing.assert_array_equal(out.numpy(), np.where(condition, a, b))
    assert tn.gradcheck(lambda p, q: tn.where(tn.tensor(condition), p, q), [x, y])


def test_where_sends_each_gradient_to_the_chosen_input():
    rng = np.random.default_rng(7)
    condition = rng.random((3, 4)) > 0.5
    x, y = leaf(rng.standard_normal((3, 4))), leaf(rng.standard_normal(4))
    tn.where(condition, x, y).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), condition.astype(float))
    np.testing.assert_array_equal(y.grad.numpy(), (~condition).sum(axis=0).astype(float))


# --- reductions ------------------------------------------------------------------------------

# name -> (tinynet reduction (x, dim, keepdim), NumPy reduction (a, axis, keepdims), smallest count reduced)
REDUCTIONS = {
    "sum": (lambda x, d, k: x.sum(d, keepdim=k), lambda a, d, k: a.sum(axis=d, keepdims=k), 1),
    "tn.sum": (lambda x, d, k: tn.sum(x, dim=d, keepdim=k), lambda a, d, k: a.sum(axis=d, keepdims=k), 1),
    "mean": (lambda x, d, k: x.mean(d, keepdim=k), lambda a, d, k: a.mean(axis=d, keepdims=k), 1),
    "tn.mean": (lambda x, d, k: tn.mean(x, dim=d, keepdim=k), lambda a, d, k: a.mean(axis=d, keepdims=k), 1),
    "amax": (lambda x, d, k: x.amax(d, keepdim=k), lambda a, d, k: a.max(axis=d, keepdims=k), 1),
    "tn.amax": (lambda x, d, k: tn.amax(x, dim=d, keepdim=k), lambda a, d, k: a.max(axis=d, keepdims=k), 1),
    "amin": (lambda x, d, k: x.amin(d, keepdim=k), lambda a, d, k: a.min(axis=d, keepdims=k), 1),
    "tn.amin": (lambda x, d, k: tn.amin(x, dim=d, keepdim=k), lambda a, d, k: a.min(axis=d, keepdims=k), 1),
    "var": (lambda x, d, k: x.var(d, keepdim=k), lambda a, d, k: a.var(axis=d, keepdims=k, ddof=1), 2),
    "tn.var": (lambda x, d, k: tn.var(x, dim=d, keepdim=k), lambda a, d, k: a.var(axis=d, keepdims=k, ddof=1), 2),
    "var(correction=0)": (
        lambda x, d, k: x.var(d, keepdim=k, correction=0),
        lambda a, d, k: a.var(axis=d, keepdims=k),
        1,
    ),
    "std": (lambda x, d, k: x.std(d, keepdim=k), lambda a, d, k: a.std(axis=d, keepdims=k, ddof=1), 2),
    "tn.std": (lambda x, d, k: tn.std(x, dim=d, keepdim=k), lambda a, d, k: a.std(axis=d, keepdims=k, ddof=1), 2),
}

DIMS = [None, 0, 1, -1, -3, (0, 2), (2, 0), (-1, 0), (1,), (0, 1, 2)]


@pytest.mark.parametrize("name", REDUCTIONS)
def test_reduction_values_match_numpy(backend_name, name):
    fn, np_fn, _ = REDUCTIONS[name]
    a = float32_data(np.random.default_rng(8), (2, 3, 4))
    for dim in DIMS:
        for keepdim in (False, True):
            out = fn(tn.tensor(a), dim, keepdim)
            expected = np_fn(a, np_axes(dim), keepdim)
            assert out.dtype == tn.float32, (dim, keepdim)
            assert out.shape == np.shape(expected), (dim, keepdim)
            np.testing.assert_allclose(out.numpy(), expected, rtol=1e-5, atol=1e-6, err_msg=f"{dim=} {keepdim=}")


@pytest.mark.parametrize("name", REDUCTIONS)
@given(data=st.data())
def test_reduction_gradients(name, data):
    fn, np_fn, min_count = REDUCTIONS[name]
    shape = data.draw(shapes(min_dims=1))
    dim, keepdim = data.draw(dims_for(len(shape))), data.draw(st.booleans())
    assume(reduced_count(shape, dim) >= min_count)
    a = data.draw(distinct(shape))
    x = leaf(a)
    out = fn(x, dim, keepdim)
    expected = np_fn(a, np_axes(dim), keepdim)
    assert out.shape == np.shape(expected)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-10, atol=1e-12)
    assert tn.gradcheck(lambda t: fn(t, dim, keepdim), [leaf(a)])


@pytest.mark.parametrize("name", ["sum", "mean", "amax", "amin", "var(correction=0)"])
def test_reductions_of_a_zero_dimensional_tensor(name):
    fn, np_fn, _ = REDUCTIONS[name]
    a = np.array(1.5)
    for dim in (None, 0, -1):
        for keepdim in (False, True):
            x = leaf(a)
            out = fn(x, dim, keepdim)
            expected = np_fn(a, None, keepdim)
            assert out.shape == np.shape(expected) == ()
            np.testing.assert_allclose(out.numpy(), expected)
            out.backward()
            assert x.grad.shape == ()


def test_amax_splits_the_gradient_between_ties():
    a = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])
    x = leaf(a)
    x.amax(dim=1).sum().backward()
    hits = a == a.max(axis=1, keepdims=True)
    np.testing.assert_allclose(x.grad.numpy(), hits / hits.sum(axis=1, keepdims=True))


@pytest.mark.parametrize("op", ["max", "min"])
def test_max_min_without_dim_give_the_extreme_value(backend_name, op):
    a = float32_data(np.random.default_rng(9), (3, 4))
    for out in (getattr(tn.tensor(a), op)(), getattr(tn, op)(tn.tensor(a))):
        assert isinstance(out, tn.Tensor) and out.shape == () and out.dtype == tn.float32
        assert out.item() == getattr(a, op)()


@pytest.mark.parametrize("op", ["max", "min"])
def test_max_min_with_dim_give_values_and_indices(backend_name, op):
    a = float32_data(np.random.default_rng(10), (2, 3, 4))
    np_arg = np.argmax if op == "max" else np.argmin
    for dim in (0, 1, 2, -1, -2):
        for keepdim in (False, True):
            result = getattr(tn.tensor(a, requires_grad=True), op)(dim, keepdim=keepdim)
            values, indices = result  # a namedtuple, as in PyTorch
            assert result.values is values and result.indices is indices
            np.testing.assert_array_equal(values.numpy(), getattr(a, op)(axis=dim, keepdims=keepdim))
            np.testing.assert_array_equal(indices.numpy(), np_arg(a, axis=dim, keepdims=keepdim))
            assert indices.dtype == tn.int64 and not indices.requires_grad
            assert values.requires_grad and values.dtype == tn.float32
            functional = getattr(tn, op)(tn.tensor(a), dim=dim, keepdim=keepdim)
            np.testing.assert_array_equal(functional.indices.numpy(), indices.numpy())


@pytest.mark.parametrize("op", ["max", "min"])
@given(data=st.data())
def test_max_min_with_dim_gradients(op, data):
    shape = data.draw(shapes(min_dims=1))
    dim, keepdim = data.draw(st.integers(-len(shape), len(shape) - 1)), data.draw(st.booleans())
    a = data.draw(distinct(shape))
    x = leaf(a)
    values, indices = getattr(x, op)(dim, keepdim)
    np.testing.assert_array_equal(values.numpy(), getattr(a, op)(axis=dim, keepdims=keepdim))
    np.testing.assert_array_equal(indices.numpy(), (np.argmax if op == "max" else np.argmin)(a, dim, keepdims=keepdim))
    assert tn.gradcheck(lambda t: getattr(t, op)(dim, keepdim).values, [leaf(a)])
    assert tn.gradcheck(lambda t: getattr(t, op)(), [leaf(a)])


@pytest.mark.parametrize("op", ["argmax", "argmin"])
def test_argmax_argmin_match_numpy_and_carry_no_grad(backend_name, op):
    a = float32_data(np.random.default_rng(11), (2, 3, 4))
    x = tn.tensor(a, requires_grad=True)
    out = getattr(x, op)()
    assert out.shape == () and out.item() == getattr(np, op)(a)
    assert not out.requires_grad and out.dtype.kind == "i"
    for dim in (0, 1, 2, -1):
        for keepdim in (False, True):
            for out in (getattr(x, op)(dim, keepdim=keepdim), getattr(tn, op)(x, dim=dim, keepdim=keepdim)):
                np.testing.assert_array_equal(out.numpy(), getattr(np, op)(a, axis=dim, keepdims=keepdim))
                assert not out.requires_grad and out.dtype.kind == "i"


# --- shape ops -------------------------------------------------------------------------------


@st.composite
def reshape_cases(draw):
    """A shape and a new shape with the same number of elements (maybe with one -1)."""
    shape = draw(shapes())
    sides = draw(st.permutations(list(shape)))
    new: list[int] = []
    for side in sides:
        if new and draw(st.booleans()):
            new[-1] *= side
        else:
            new.append(side)
    if draw(st.booleans()):
        new.insert(draw(st.integers(0, len(new))), 1)
    if new and draw(st.booleans()):
        new[draw(st.integers(0, len(new) - 1))] = -1
    return shape, tuple(new)


@given(case=reshape_cases(), data=st.data())
def test_reshape_and_view(case, data):
    shape, new_shape = case
    a = data.draw(arrays(shape))
    x = leaf(a)
    expected = a.reshape(new_shape)
    for fn in (
        lambda t: t.reshape(*new_shape),
        lambda t: t.reshape(new_shape),
        lambda t: t.view(*new_shape),
        lambda t: tn.reshape(t, new_shape),
    ):
        out = fn(x)
        assert out.shape == expected.shape
        np.testing.assert_array_equal(out.numpy(), expected)
    assert tn.gradcheck(lambda t: t.reshape(new_shape), [leaf(a)])


@given(data=st.data())
def test_permute_transpose_and_T(data):
    shape = data.draw(shapes(min_dims=1))
    ndim = len(shape)
    order = data.draw(st.permutations(range(ndim)))
    order = tuple(d - ndim if data.draw(st.booleans()) else d for d in order)
    dim0, dim1 = data.draw(st.integers(-ndim, ndim - 1)), data.draw(st.integers(-ndim, ndim - 1))
    a = data.draw(arrays(shape))
    x = leaf(a)
    swapped = np.swapaxes(a, dim0, dim1)
    cases = [
        (lambda t: t.permute(*order), np.transpose(a, order)),
        (lambda t: t.permute(order), np.transpose(a, order)),
        (lambda t: tn.permute(t, *order), np.transpose(a, order)),
        (lambda t: t.transpose(dim0, dim1), swapped),
        (lambda t: tn.transpose(t, dim0, dim1), swapped),
        (lambda t: t.T, a.T),
    ]
    for fn, expected in cases:
        out = fn(x)
        assert out.shape == expected.shape
        np.testing.assert_array_equal(out.numpy(), expected)
        assert tn.gradcheck(fn, [leaf(a)])


def test_T_and_transpose_of_a_zero_dimensional_tensor():
    x = leaf(np.array(2.5))
    assert x.T.shape == () and x.T.item() == 2.5
    out = x.transpose(0, -1)  # PyTorch accepts dims 0 and -1 for a 0-d tensor
    assert out.shape == () and out.item() == 2.5


@given(data=st.data())
def test_flatten(data):
    shape = data.draw(shapes())
    a = data.draw(arrays(shape))
    x = leaf(a)
    if not shape:
        assert x.flatten().shape == (1,)
        np.testing.assert_array_equal(x.flatten().numpy(), a.reshape(1))
        return
    ndim = len(shape)
    start = data.draw(st.integers(0, ndim - 1))
    end = data.draw(st.integers(start, ndim - 1))
    start_arg = start - ndim if data.draw(st.booleans()) else start
    end_arg = end - ndim if data.draw(st.booleans()) else end
    expected = a.reshape(*shape[:start], -1, *shape[end + 1 :])
    for out in (x.flatten(start_arg, end_arg), tn.flatten(x, start_arg, end_arg)):
        assert out.shape == expected.shape
        np.testing.assert_array_equal(out.numpy(), expected)
    np.testing.assert_array_equal(x.flatten().numpy(), a.reshape(-1))
    assert tn.gradcheck(lambda t: t.flatten(start_arg, end_arg), [leaf(a)])


@given(data=st.data())
def test_squeeze_and_unsqueeze(data):
    shape = data.draw(shapes(max_side=2, max_dims=4))
    ndim = len(shape)
    a = data.draw(arrays(shape))
    x = leaf(a)
    out = x.squeeze()
    np.testing.assert_array_equal(out.numpy(), np.squeeze(a))
    assert out.shape == np.squeeze(a).shape
    assert tn.gradcheck(lambda t: t.squeeze(), [leaf(a)])
    if ndim:
        dim = data.draw(st.integers(-ndim, ndim - 1))
        # One dim: removed when its size is 1, kept otherwise (as in PyTorch).
        expected = np.squeeze(a, axis=dim) if shape[dim] == 1 else a
        for out in (x.squeeze(dim), tn.squeeze(x, dim)):
            assert out.shape == expected.shape
            np.testing.assert_array_equal(out.numpy(), expected)
        assert tn.gradcheck(lambda t: t.squeeze(dim), [leaf(a)])
    dim = data.draw(st.integers(-ndim - 1, ndim))
    expected = np.expand_dims(a, dim)
    for out in (x.unsqueeze(dim), tn.unsqueeze(x, dim)):
        assert out.shape == expected.shape
        np.testing.assert_array_equal(out.numpy(), expected)
    assert tn.gradcheck(lambda t: t.unsqueeze(dim), [leaf(a)])


@given(data=st.data())
def test_broadcast_to_and_expand(data):
    shape = data.draw(shapes())
    other = data.draw(hnp.broadcastable_shapes(shape, max_dims=MAX_DIMS + 1, max_side=MAX_SIDE))
    target = np.broadcast_shapes(shape, other)
    a = data.draw(arrays(shape))
    x = leaf(a)
    expected = np.broadcast_to(a, target)
    lead = len(target) - len(shape)
    # expand's -1 keeps the input's size there (so only where the input is not stretched).
    sizes = tuple(
        -1 if i >= lead and shape[i - lead] == n and data.draw(st.booleans()) else n for i, n in enumerate(target)
    )
    for out in (x.broadcast_to(target), tn.functions.broadcast_to(x, target), x.expand(*sizes), x.expand(sizes)):
        assert out.shape == target
        np.testing.assert_array_equal(out.numpy(), expected)
    assert tn.gradcheck(lambda t: t.broadcast_to(target), [leaf(a)])
    assert tn.gradcheck(lambda t: t.expand(*sizes), [leaf(a)])


# --- indexing --------------------------------------------------------------------------------


@given(data=st.data())
def test_getitem_with_basic_indices(data):
    shape = data.draw(shapes(min_dims=1))
    index = data.draw(hnp.basic_indices(shape, allow_newaxis=True, allow_ellipsis=True))
    steps = [part.step for part in (index if isinstance(index, tuple) else (index,)) if isinstance(part, slice)]
    assume(all(step is None or step > 0 for step in steps))  # PyTorch refuses negative steps (tested below)
    a = data.draw(arrays(shape))
    x = leaf(a)
    out = x[index]
    assert out.shape == a[index].shape
    np.testing.assert_array_equal(out.numpy(), a[index])
    assert tn.gradcheck(lambda t: t[index], [leaf(a)])


@given(data=st.data())
def test_getitem_with_integer_arrays_that_repeat(data):
    shape = data.draw(shapes(min_dims=1))
    index = data.draw(hnp.integer_array_indices(shape, result_shape=shapes(min_dims=1, max_dims=2, max_side=5)))
    a = data.draw(arrays(shape))
    x = leaf(a)
    np.testing.assert_array_equal(x[index].numpy(), a[index])
    assert tn.gradcheck(lambda t: t[index], [leaf(a)])
    as_tensors = tuple(tn.tensor(i) for i in index)
    np.testing.assert_array_equal(x[as_tensors].numpy(), a[index])
    assert tn.gradcheck(lambda t: t[as_tensors], [leaf(a)])


@given(data=st.data())
def test_getitem_with_boolean_masks(data):
    shape = data.draw(shapes(min_dims=1))
    lead = data.draw(st.integers(1, len(shape)))
    mask = data.draw(hnp.arrays(np.bool_, shape[:lead]))
    a = data.draw(arrays(shape))
    x = leaf(a)
    for index in (mask, tn.tensor(mask)):
        out = x[index]
        assert out.shape == a[mask].shape
        np.testing.assert_array_equal(out.numpy(), a[mask])
        assert tn.gradcheck(lambda t, index=index: t[index], [leaf(a)])


def test_getitem_gradients_add_up_for_repeated_indices(backend_name):
    a = np.random.default_rng(12).standard_normal((4, 3))
    rows = [0, 2, 0, 0, 3]
    counts = np.bincount(rows, minlength=4)[:, None] * np.ones((1, 3))
    for index in (rows, np.array(rows), tn.tensor(rows)):
        x = leaf(a)
        out = x[index]
        np.testing.assert_array_equal(out.numpy(), a[rows])
        out.sum().backward()
        np.testing.assert_array_equal(x.grad.numpy(), counts)
    # Pairs of integer lists pick single elements; (1, 2) twice.
    x = leaf(a)
    out = x[[1, 1, 3], [2, 2, 0]]
    np.testing.assert_array_equal(out.numpy(), a[[1, 1, 3], [2, 2, 0]])
    out.sum().backward()
    expected = np.zeros_like(a)
    for i, j in [(1, 2), (1, 2), (3, 0)]:
        expected[i, j] += 1
    np.testing.assert_array_equal(x.grad.numpy(), expected)


@pytest.mark.parametrize(
    "index",
    [
        1,
        -1,
        (1, 2),
        slice(None, None, 2),
        slice(3, 0, 2),
        (Ellipsis, 1),
        (None, slice(1, 3)),
        (slice(None), None, [0, 0, 2]),
        (slice(1, None), [3, 1, 3]),
        ([0, 1, 1], Ellipsis, 2),
        (Ellipsis, None),
    ],
    ids=repr,
)
def test_getitem_mixed_indices_values_and_gradients(backend_name, index):
    a = np.random.default_rng(13).standard_normal((4, 5, 3))
    x = leaf(a)
    np_index = tuple(np.array(i) if isinstance(i, list) else i for i in index) if isinstance(index, tuple) else index
    np.testing.assert_array_equal(x[index].numpy(), a[np_index])
    assert tn.gradcheck(lambda t: t[index], [leaf(a)])


def test_getitem_refuses_a_negative_step_as_pytorch_does():
    with pytest.raises(ValueError, match="step"):
        tn.ones(4)[::-1]


def test_getitem_keeps_float32_and_iterating_gives_rows():
    a = float32_data(np.random.default_rng(14), (3, 2))
    x = tn.tensor(a, requires_grad=True)
    assert x[1].dtype == tn.float32 and x[[0, 0]].dtype == tn.float32
    rows = list(x)
    assert len(rows) == 3
    sum(rows[1:], rows[0]).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.ones_like(a))


# --- cat and stack ---------------------------------------------------------------------------


@given(data=st.data())
def test_cat_of_several_tensors_along_any_dim(data):
    base = data.draw(shapes(min_dims=1, max_side=3))
    ndim = len(base)
    dim = data.draw(st.integers(-ndim, ndim - 1))
    count = data.draw(st.integers(1, 3))
    arrays_ = []
    for _ in range(count):
        shape = list(base)
        shape[dim] = data.draw(st.integers(1, 3))
        arrays_.append(data.draw(arrays(tuple(shape))))
    tensors = [leaf(a) for a in arrays_]
    out = tn.cat(tensors, dim=dim)
    np.testing.assert_array_equal(out.numpy(), np.concatenate(arrays_, axis=dim))
    assert tn.gradcheck(lambda *ts: tn.cat(list(ts), dim=dim), tensors)


@given(data=st.data())
def test_stack_of_several_tensors_along_any_dim(data):
    shape = data.draw(shapes(max_side=3))
    ndim = len(shape)
    dim = data.draw(st.integers(-ndim - 1, ndim))
    count = data.draw(st.integers(1, 3))
    arrays_ = [data.draw(arrays(shape)) for _ in range(count)]
    tensors = [leaf(a) for a in arrays_]
    out = tn.stack(tensors, dim=dim)
    np.testing.assert_array_equal(out.numpy(), np.stack(arrays_, axis=dim))
    assert tn.gradcheck(lambda *ts: tn.stack(ts, dim=dim), tensors)


def test_cat_and_stack_values_on_every_backend_and_constant_inputs(backend_name):
    rng = np.random.default_rng(15)
    a, b, c = float32_data(rng, (2, 3)), float32_data(rng, (2, 1)), float32_data(rng, (2, 4))
    x, y, z = tn.tensor(a, requires_grad=True), tn.tensor(b), tn.tensor(c, requires_grad=True)
    out = tn.cat([x, y, z], dim=1)
    assert out.dtype == tn.float32
    np.testing.assert_array_equal(out.numpy(), np.concatenate([a, b, c], axis=1))
    weights = rng.standard_normal(out.shape)
    (out * tn.tensor(weights)).sum().backward()
    assert y.grad is None
    np.testing.assert_allclose(x.grad.numpy(), weights[:, :3], rtol=1e-6)
    np.testing.assert_allclose(z.grad.numpy(), weights[:, 4:], rtol=1e-6)
    for dim in (0, 1, 2, -1, -3):
        out = tn.stack((x, tn.tensor(a * 2), x), dim=dim)
        np.testing.assert_array_equal(out.numpy(), np.stack([a, a * 2, a], axis=dim))


# --- matmul ----------------------------------------------------------------------------------

MATMUL_SHAPES = [
    ((3,), (3,)),
    ((3,), (3, 4)),
    ((2, 3), (3,)),
    ((2, 3), (3, 4)),
    ((5, 2, 3), (5, 3, 4)),
    ((2, 1, 3, 4), (5, 4, 2)),
    ((3,), (2, 3, 4)),
    ((2, 2, 3), (3,)),
    ((1, 2, 3), (4, 3, 2)),
]


@pytest.mark.parametrize(("shape_a", "shape_b"), MATMUL_SHAPES, ids=str)
def test_matmul_values_match_numpy(backend_name, shape_a, shape_b):
    rng = np.random.default_rng(16)
    a, b = float32_data(rng, shape_a), float32_data(rng, shape_b)
    expected = np.matmul(a, b)
    for out in (tn.tensor(a) @ tn.tensor(b), tn.matmul(tn.tensor(a), tn.tensor(b)), tn.tensor(a).matmul(b)):
        assert out.shape == expected.shape and out.dtype == tn.float32
        np.testing.assert_allclose(out.numpy(), expected, rtol=1e-5, atol=1e-6)
    reflected = a @ tn.tensor(b)  # NumPy on the left: Tensor.__rmatmul__
    assert isinstance(reflected, tn.Tensor)
    np.testing.assert_allclose(reflected.numpy(), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(("shape_a", "shape_b"), MATMUL_SHAPES, ids=str)
def test_matmul_gradients(shape_a, shape_b):
    rng = np.random.default_rng(17)
    x, y = leaf(rng.standard_normal(shape_a)), leaf(rng.standard_normal(shape_b))
    assert tn.gradcheck(operator.matmul, [x, y])
    constant = tn.tensor(rng.standard_normal(shape_b), dtype=tn.float64)
    (x @ constant).sum().backward()
    assert constant.grad is None and x.grad.shape == shape_a


@st.composite
def matmul_shapes(draw):
    batches = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=2, max_side=3))
    n, k, m = (draw(st.integers(1, 4)) for _ in range(3))
    batch_a, batch_b = batches.input_shapes
    shape_a = (k,) if draw(st.booleans()) else (*batch_a, n, k)
    shape_b = (k,) if draw(st.booleans()) else (*batch_b, k, m)
    return shape_a, shape_b


@given(case=matmul_shapes(), data=st.data())
def test_matmul_gradients_with_broadcast_batches(case, data):
    shape_a, shape_b = case
    a, b = data.draw(arrays(shape_a)), data.draw(arrays(shape_b))
    x, y = leaf(a), leaf(b)
    out = x @ y
    expected = np.matmul(a, b)
    assert out.shape == expected.shape
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-10, atol=1e-12)
    assert tn.gradcheck(operator.matmul, [x, y])


# --- comparisons -----------------------------------------------------------------------------

COMPARISONS = {
    "<": (operator.lt, np.less),
    "<=": (operator.le, np.less_equal),
    ">": (operator.gt, np.greater),
    ">=": (operator.ge, np.greater_equal),
    "==": (operator.eq, np.equal),
    "!=": (operator.ne, np.not_equal),
}


@pytest.mark.parametrize("name", COMPARISONS)
def test_comparisons_match_numpy_and_carry_no_grad(backend_name, name):
    op, np_op = COMPARISONS[name]
    rng = np.random.default_rng(18)
    # Small integers as floats, so that equal elements occur.
    a = rng.integers(-2, 3, (2, 3, 4)).astype(np.float32)
    b = rng.integers(-2, 3, (3, 1)).astype(np.float32)
    x = tn.tensor(a, requires_grad=True)
    for other, np_other in ((tn.tensor(b), b), (1.0, 1.0), (0, 0), (b.tolist(), b), (b, b)):
        out = op(x, other)
        assert isinstance(out, tn.Tensor)
        assert out.dtype == tn.bool_ and not out.requires_grad
        np.testing.assert_array_equal(out.numpy(), np_op(a, np_other))


# --- casts -----------------------------------------------------------------------------------

CASTS = {
    ".double()": (lambda x: x.double(), np.float64),
    ".float()": (lambda x: x.float(), np.float32),
    ".long()": (lambda x: x.long(), np.int64),
    ".int()": (lambda x: x.int(), np.int32),
    ".to(tn.float64)": (lambda x: x.to(tn.float64), np.float64),
    ".to(tn.float32)": (lambda x: x.to(tn.float32), np.float32),
    ".to(tn.int64)": (lambda x: x.to(tn.int64), np.int64),
}


@pytest.mark.parametrize("name", CASTS)
@pytest.mark.parametrize("source", [np.float32, np.float64])
def test_casts_match_numpy(backend_name, name, source):
    fn, target = CASTS[name]
    a = (np.random.default_rng(19).uniform(-5, 5, (3, 4))).astype(source)
    out = fn(tn.tensor(a, dtype=source))
    assert out.dtype == np.dtype(target)
    np.testing.assert_array_equal(out.numpy(), a.astype(target))


@pytest.mark.parametrize(("source", "cast"), [(tn.float32, "double"), (tn.float64, "float")])
def test_gradients_flow_through_float_casts_and_keep_the_leaf_dtype(source, cast):
    rng = np.random.default_rng(20)
    a, w = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    x = tn.tensor(a, dtype=source, requires_grad=True)
    y = getattr(x, cast)()
    assert y.requires_grad and y.dtype != x.dtype
    (y * y * tn.tensor(w, dtype=y.dtype)).sum().backward()
    assert x.grad.dtype == source
    x_values = x.numpy().astype(np.float64)
    np.testing.assert_allclose(x.grad.numpy(), 2 * x_values * w, rtol=1e-5)


def test_casting_to_an_integer_leaves_the_graph():
    x = tn.tensor([1.5, -2.5, 3.0], requires_grad=True)
    for out in (x.long(), x.int(), x.to(tn.int64)):
        assert not out.requires_grad and out.dtype.kind == "i"
        np.testing.assert_array_equal(out.numpy(), x.numpy().astype(out.dtype))


# --- dtypes ----------------------------------------------------------------------------------


def test_float32_inputs_give_float32_outputs_and_gradients(backend_name):
    rng = np.random.default_rng(21)
    x = tn.tensor(float32_data(rng, (2, 3), "positive"), requires_grad=True)
    y = tn.tensor(float32_data(rng, (3,), "positive"), requires_grad=True)
    outputs = {
        "x * 2": x * 2,
        "x * 2.5": x * 2.5,
        "2 * x": 2 * x,
        "x + 1": x + 1,
        "x - 0.5": x - 0.5,
        "x / 3": x / 3,
        "1 / x": 1 / x,
        "x ** 2": x**2,
        "2 ** x": 2**x,
        "x ** y": x**y,
        "x @ y": x @ y,
        "maximum": x.maximum(y),
        "where": tn.where(x > 1, x, y),
        "mean": x.mean(),
        "var": x.var(dim=0),
        "std": x.std(),
        "amax": x.amax(1),
        "getitem": x[:, [0, 0]],
        "cat": tn.cat([x, x]),
        "exp log sqrt": x.exp().log().sqrt(),
    }
    for name, out in outputs.items():
        assert out.dtype == tn.float32, f"{name} gave {out.dtype}"
        out.sum().backward()
        assert x.grad.dtype == tn.float32, f"{name}: x.grad is {x.grad.dtype}"


def test_an_integer_tensor_operand_does_not_promote_float32_to_float64():
    # As in PyTorch (float32 * int64 -> float32): a mask or a label tensor must not double a model's precision.
    rng = np.random.default_rng(22)
    a = float32_data(rng, (2, 3), "positive")
    k = rng.integers(0, 3, (3,))
    x = tn.tensor(a, requires_grad=True)
    for name, out, expected in [
        ("x * k", x * tn.tensor(k), a * k.astype(np.float32)),
        ("x + k", x + tn.tensor(k), a + k.astype(np.float32)),
        ("x ** k", x ** tn.tensor(k), a ** k.astype(np.float32)),
    ]:
        assert out.dtype == tn.float32, f"{name} gave {out.dtype}"
        np.testing.assert_allclose(out.numpy(), expected, rtol=1e-6)
