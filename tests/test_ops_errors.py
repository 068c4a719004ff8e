"""The error paths of the ops: the right exception type, and a message that names the op and the shapes.

A learner reads these messages first, so each test checks what the message says, not only its type.
"""

import operator
import re

import numpy as np
import pytest

import tinynet as tn


def escaped(*parts) -> str:
    """A regex that finds ``parts`` (shapes, names...) in this order, anything in between."""
    return ".*".join(re.escape(str(p)) for p in parts)


# --- matmul ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shape_a", "shape_b"),
    [((2, 3), (4, 5)), ((3,), (4,)), ((2, 3), (4,)), ((3,), (4, 2)), ((5, 2, 3), (5, 2, 3)), ((2, 3), (2, 4, 5))],
    ids=str,
)
def test_matmul_inner_size_mismatch_names_both_shapes(shape_a, shape_b):
    a, b = tn.ones(*shape_a), tn.ones(*shape_b)
    for fn in (operator.matmul, tn.matmul, lambda x, y: x.matmul(y)):
        with pytest.raises(tn.ShapeError, match=escaped("matmul", shape_a, shape_b)) as caught:
            fn(a, b)
        inner_a = shape_a[-1]
        inner_b = shape_b[0] if len(shape_b) == 1 else shape_b[-2]
        assert str(inner_a) in str(caught.value) and str(inner_b) in str(caught.value)


@pytest.mark.parametrize(("shape_a", "shape_b"), [((), (3,)), ((3,), ()), ((), ())], ids=str)
def test_matmul_with_a_zero_dimensional_operand(shape_a, shape_b):
    with pytest.raises(tn.ShapeError, match=escaped("matmul", shape_a, shape_b)):
        tn.ones(*shape_a) @ tn.ones(*shape_b)


def test_matmul_with_a_python_number_is_a_zero_dimensional_operand():
    with pytest.raises(tn.ShapeError, match=escaped("matmul", (2, 3), ())):
        tn.matmul(tn.ones(2, 3), 2.0)


@pytest.mark.parametrize(("shape_a", "shape_b"), [((2, 3, 4), (5, 4, 2)), ((2, 1, 3, 4), (3, 5, 4, 2))], ids=str)
def test_matmul_batch_dims_that_cannot_broadcast(shape_a, shape_b):
    with pytest.raises(tn.ShapeError, match=escaped("matmul", shape_a, shape_b, "batch")):
        tn.ones(*shape_a) @ tn.ones(*shape_b)


# --- broadcasting ----------------------------------------------------------------------------

BINARY = {
    "add": operator.add,
    "sub": operator.sub,
    "mul": operator.mul,
    "div": operator.truediv,
    "pow": operator.pow,
    "maximum": tn.maximum,
    "minimum": tn.minimum,
}


@pytest.mark.parametrize("name", BINARY)
@pytest.mark.parametrize(("shape_a", "shape_b"), [((2, 3), (4,)), ((4,), (2, 3)), ((2, 3, 4), (3, 1, 5))], ids=str)
def test_binary_broadcast_failure_names_the_op_and_both_shapes(name, shape_a, shape_b):
    a, b = tn.ones(*shape_a, requires_grad=True), tn.ones(*shape_b)
    with pytest.raises(tn.ShapeError, match=escaped(name, shape_a, shape_b, "broadcast")):
        BINARY[name](a, b)


@pytest.mark.parametrize("name", BINARY)
def test_binary_broadcast_failure_with_a_numpy_operand(name):
    # A NumPy array becomes a tensor first; the error is still tinynet's, naming the op.
    with pytest.raises(tn.ShapeError, match=escaped(name, (2, 3), (4,))):
        BINARY[name](tn.ones(2, 3), np.ones(4))


def test_where_broadcast_failure_names_the_op_and_all_three_shapes():
    condition = tn.ones(2, 3) > 0
    with pytest.raises(tn.ShapeError, match=escaped("where", (2, 3), (2, 3), (4,))):
        tn.where(condition, tn.ones(2, 3), tn.ones(4))
    with pytest.raises(tn.ShapeError, match=escaped("where", (5,), (2, 3), (2, 3))):
        tn.where(np.ones(5, dtype=bool), tn.ones(2, 3), tn.ones(2, 3))


@pytest.mark.parametrize(
    ("symbol", "op", "names"),
    [
        ("<", operator.lt, ("lt", "<", "less")),
        ("<=", operator.le, ("le", "<=", "less_equal")),
        (">", operator.gt, ("gt", ">", "greater")),
        (">=", operator.ge, ("ge", ">=", "greater_equal")),
        ("==", operator.eq, ("eq", "==", "equal")),
        ("!=", operator.ne, ("ne", "!=", "not_equal")),
    ],
)
def test_comparison_broadcast_failure_names_the_op_and_both_shapes(symbol, op, names):
    with pytest.raises(tn.ShapeError) as caught:
        op(tn.ones(2, 3), tn.ones(4))
    message = str(caught.value)
    assert any(name in message for name in names), f"{symbol}: the message does not name the op: {message}"
    assert "(2, 3)" in message and "(4,)" in message


def test_broadcast_to_and_expand_to_an_impossible_shape():
    with pytest.raises(tn.ShapeError, match=escaped("broadcast_to", (2, 3), (3, 3))):
        tn.ones(2, 3).broadcast_to((3, 3))
    with pytest.raises(tn.ShapeError, match=escaped((2, 3), (2, 4))):
        tn.ones(2, 3).expand(2, 4)


# --- shape ops -------------------------------------------------------------------------------


@pytest.mark.parametrize("new_shape", [(4, 2), (7,), (2, -1, 4), (-1, -1)], ids=str)
def test_reshape_to_the_wrong_size_names_both_shapes(new_shape):
    x = tn.ones(2, 3)
    for fn in (lambda: x.reshape(*new_shape), lambda: x.view(new_shape), lambda: tn.reshape(x, new_shape)):
        with pytest.raises(tn.ShapeError, match=escaped("reshape", (2, 3), new_shape)):
            fn()


@pytest.mark.parametrize("dims", [(0,), (0, 0), (1, -1), (0, 1, 2), (0, 2), (0, 3), (0, -3), (2, 0)], ids=str)
def test_permute_with_a_bad_ordering(dims):
    # (0, 3) and (0, -3) name an axis a 2-d tensor does not have: no ordering of its axes.
    with pytest.raises(tn.ShapeError, match=escaped("permute", dims, (2, 3))):
        tn.ones(2, 3).permute(*dims)


@pytest.mark.parametrize(("dim0", "dim1"), [(0, 2), (-3, 1), (5, 0)])
def test_transpose_out_of_range(dim0, dim1):
    bad = dim0 if not -2 <= dim0 < 2 else dim1
    with pytest.raises(tn.ShapeError, match=rf"transpose.*{bad}.*2 dimensions"):
        tn.ones(2, 3).transpose(dim0, dim1)


@pytest.mark.parametrize("dim", [3, -4, 10])
def test_unsqueeze_out_of_range(dim):
    with pytest.raises(tn.ShapeError, match=rf"unsqueeze.*{dim}.*2 dimensions"):
        tn.ones(2, 3).unsqueeze(dim)


def test_squeeze_and_flatten_out_of_range():
    with pytest.raises(tn.ShapeError, match=r"squeeze.*dim 2.*2 dimensions"):
        tn.ones(2, 1).squeeze(2)
    with pytest.raises(tn.ShapeError, match=r"flatten.*4.*2 dimensions"):
        tn.ones(2, 3).flatten(0, 4)
    with pytest.raises(tn.ShapeError, match=escaped("flatten", "start_dim 1", "end_dim 0", (2, 3))):
        tn.ones(2, 3).flatten(1, 0)


# --- cat and stack ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shapes", "dim"),
    [([(2, 3), (2, 4)], 0), ([(2, 3), (3, 3), (2, 5)], 1), ([(2, 3), (3,)], 0), ([(1, 2, 3), (1, 2, 4)], -2)],
    ids=str,
)
def test_cat_with_mismatched_sizes_names_every_shape(shapes, dim):
    with pytest.raises(tn.ShapeError, match=escaped("cat", *shapes)):
        tn.cat([tn.ones(*s) for s in shapes], dim=dim)


def test_cat_dim_out_of_range_and_zero_dimensional_tensors():
    with pytest.raises(tn.ShapeError, match=r"cat.*dim 2.*2 dimensions"):
        tn.cat([tn.ones(2, 3), tn.ones(2, 3)], dim=2)
    with pytest.raises(tn.ShapeError, match=r"cat.*zero-dimensional"):
        tn.cat([tn.tensor(1.0), tn.tensor(2.0)])


@pytest.mark.parametrize("shapes", [[(2, 3), (3, 2)], [(2, 3), (2, 3), (2,)], [(), (1,)]], ids=str)
def test_stack_with_different_shapes_names_every_shape(shapes):
    with pytest.raises(tn.ShapeError, match=escaped("stack", *shapes)):
        tn.stack([tn.ones(*s) for s in shapes])


def test_stack_dim_out_of_range():
    with pytest.raises(tn.ShapeError, match=r"stack.*dim 3.*2 dimensions"):
        tn.stack([tn.ones(2, 3), tn.ones(2, 3)], dim=3)


@pytest.mark.parametrize("op", [tn.cat, tn.stack])
@pytest.mark.parametrize("empty", [[], (), iter([])], ids=["list", "tuple", "iterator"])
def test_cat_and_stack_of_nothing(op, empty):
    with pytest.raises(ValueError, match=rf"{op.__name__}.*empty"):
        op(empty)


@pytest.mark.parametrize("op", [tn.cat, tn.stack])
def test_cat_and_stack_of_things_that_are_not_tensors(op):
    with pytest.raises(TypeError, match=rf"{op.__name__}.*Tensor.*ndarray"):
        op([tn.ones(2), np.ones(2)])


# --- reductions ------------------------------------------------------------------------------

REDUCTIONS = ["sum", "mean", "amax", "amin", "var", "std", "max", "min", "argmax", "argmin"]


@pytest.mark.parametrize("name", REDUCTIONS)
@pytest.mark.parametrize("dim", [2, -3, 7])
def test_reduction_dim_out_of_range(name, dim):
    x = tn.ones(2, 3)
    with pytest.raises(tn.ShapeError, match=rf"{name}: dim {dim} is out of range.*2 dimensions"):
        getattr(x, name)(dim=dim)
    with pytest.raises(tn.ShapeError, match=rf"{name}: dim {dim} "):
        getattr(tn, name)(x, dim=dim)


@pytest.mark.parametrize("name", ["sum", "mean", "amax", "amin", "var", "std"])
def test_reduction_dim_tuple_with_one_dim_out_of_range(name):
    with pytest.raises(tn.ShapeError, match=rf"{name}: dim 5 is out of range.*2 dimensions"):
        getattr(tn.ones(2, 3), name)(dim=(0, 5))


@pytest.mark.parametrize("name", ["sum", "mean", "amax", "amin", "var", "std"])
def test_reduction_with_a_repeated_dim_names_the_op(name):
    # (1, -1) names axis 1 twice. NumPy's bare "duplicate value in 'axis'" names neither op nor dim.
    for dims in ((0, 0), (1, -1)):
        with pytest.raises(tn.ShapeError, match=rf"{name}.*{dims[1]}"):
            getattr(tn.ones(2, 3), name)(dim=dims)


@pytest.mark.parametrize("name", ["max", "min", "argmax", "argmin"])
def test_max_min_argmax_argmin_take_one_dim_not_a_tuple(name):
    # As in PyTorch, these take a single int dim: a tuple must not silently reduce over its first dim only.
    with pytest.raises((TypeError, ValueError), match=name):
        getattr(tn.ones(2, 3), name)(dim=(0, 1))


@pytest.mark.parametrize("name", ["amax", "amin", "max", "min", "argmax", "argmin"])
def test_extremes_of_an_empty_tensor(name):
    with pytest.raises(tn.ShapeError, match=escaped(name, (0, 3), "empty")):
        getattr(tn.ones(0, 3), name)()


def test_clip_needs_a_bound():
    with pytest.raises(ValueError, match=r"clip.*min.*max"):
        tn.ones(3).clip()


# --- dtypes ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "dtype"),
    [
        (lambda: tn.tensor([1, 2], requires_grad=True), "int64"),
        (lambda: tn.tensor([True, False], requires_grad=True), "bool"),
        (lambda: tn.zeros(2, dtype=tn.int64, requires_grad=True), "int64"),
        (lambda: tn.ones(2, dtype=tn.int32, requires_grad=True), "int32"),
        (lambda: tn.tensor([1, 2]).requires_grad_(), "int64"),
        (lambda: tn.arange(3).requires_grad_(True), "int64"),
        (lambda: tn.ones(2).long().requires_grad_(), "int64"),
    ],
)
def test_requires_grad_on_a_non_floating_tensor(make, dtype):
    with pytest.raises(tn.DTypeError, match=rf"floating-point.*{dtype}"):
        make()


def test_an_integer_tensor_may_stop_requiring_grad():
    x = tn.tensor([1, 2])
    assert x.requires_grad_(False) is x and not x.requires_grad


# --- the built-in exception types users catch ------------------------------------------------


def test_shape_error_is_a_value_error_and_dtype_error_a_type_error():
    assert issubclass(tn.ShapeError, ValueError) and issubclass(tn.ShapeError, tn.TinynetError)
    assert issubclass(tn.DTypeError, TypeError) and issubclass(tn.DTypeError, tn.TinynetError)
    with pytest.raises(ValueError, match="matmul"):
        tn.ones(2, 3) @ tn.ones(4, 5)
    with pytest.raises(ValueError, match="add"):
        tn.ones(2, 3) + tn.ones(4)
    with pytest.raises(ValueError, match="reshape"):
        tn.ones(2, 3).reshape(5)
    with pytest.raises(TypeError, match="floating-point"):
        tn.tensor([1, 2], requires_grad=True)


def test_a_failed_op_leaves_its_inputs_as_they_were():
    x = tn.ones(2, 3, requires_grad=True)
    with pytest.raises(tn.ShapeError):
        x + tn.ones(4)
    assert x.shape == (2, 3) and x.grad is None and x.is_leaf
    (x * 2).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.full((2, 3), 2.0))


def test_an_index_out_of_range_is_an_indexing_error_naming_the_shape():
    x = tn.randn(3, 4)
    with pytest.raises(tn.IndexingError, match=r"getitem: index 5 is out of bounds for axis 0 .*shapes \(3, 4\)"):
        x[5]
    with pytest.raises(IndexError):  # what a Python user catches
        x[tn.tensor([0, 9])]
    assert issubclass(tn.IndexingError, tn.TinynetError)


def test_integers_a_float_tensor_cannot_hold_exactly_are_refused_not_rounded():
    big = tn.tensor([2**24 + 1])  # float32 has 24 bits of mantissa: 2^24 + 1 would become 2^24
    with pytest.raises(tn.DTypeError, match=r"mul: an integer tensor with values up to 16777217 meets a float32"):
        big * tn.tensor([1.0])
    assert (big * tn.tensor([1.0], dtype=tn.float64)).item() == 2**24 + 1  # float64 holds it exactly
    assert (tn.tensor([2**24]) + tn.tensor([0.0])).item() == 2**24  # exact: allowed, stays float32
