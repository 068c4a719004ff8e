"""Gathering and scattering by index (tinynet/functions/indexing.py, scatter_reduce.py, masking.py) against
PyTorch: values, dtypes and gradients of gather take take_along_dim index_select scatter scatter_add
scatter_reduce index_add index_copy index_fill masked_fill masked_select masked_scatter nonzero argwhere, as
functions and methods, on 0-d, empty, repeated-index, non-contiguous, float64 and integer inputs; the in-place
forms; the errors PyTorch raises; gradcheck on drawn shapes."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from torch_oracle import check, torch

import tinynet as tn
from tinynet.errors import DTypeError, GraphError, IndexingError, ShapeError, TinynetError


def ints(high: int, shape: tuple, low: int = 0, seed: int = 1) -> np.ndarray:
    """Random int64 indices in [low, high)."""
    return np.random.default_rng(seed).integers(low, high, shape).astype(np.int64)


B = ints(3, (3, 4, 5))  # as tinygrad's test_ops: an index smaller than the (4, 5, 6) input, many repeats

GATHER = [
    *[
        (f"gather dim {d}", lambda lib, x, i, d=d: x.gather(dim=d, index=i), [(4, 5, 6), B])
        for d in (0, 1, 2, -1, -2, -3)
    ],
    ("gather index as large", lambda lib, x, i: x.gather(0, i), [(3, 4, 5), B]),
    ("gather function", lambda lib, x, i: lib.gather(x, 1, i), [(4, 5, 6), B]),
    ("gather axis alias", lambda lib, x, i: lib.gather(x, axis=1, index=i), [(4, 5, 6), B]),
    (
        "gather 1-D repeats",
        lambda lib, x, i: x.gather(0, i),
        [np.array([1.0, 2.0, 3.0], np.float32), np.array([2, 1, 0, 1, 2])],
    ),
    ("gather int32 index", lambda lib, x, i: x.gather(1, i), [(3, 4), ints(4, (3, 2)).astype(np.int32)]),
    ("gather non-contiguous", lambda lib, x, i: x.transpose(0, 1).gather(1, i), [(4, 3), ints(4, (3, 5))]),
    ("gather 0-d by 0-d", lambda lib, x, i: x.gather(0, i), [(), np.array(0)]),
    ("gather 0-d by 1-d", lambda lib, x, i: x.gather(0, i), [(), np.array([0, 0])]),
    ("gather 1-d by 0-d", lambda lib, x, i: x.gather(-1, i), [(4,), np.array(3)]),
    ("gather empty index", lambda lib, x, i: x.gather(1, i), [(3, 4), np.zeros((0, 2), np.int64)]),
    ("gather empty input", lambda lib, x, i: x.gather(1, i), [(3, 0), np.zeros((3, 0), np.int64)]),
    ("gather integers", lambda lib, x, i: x.gather(1, i), [np.arange(12).reshape(3, 4), ints(4, (3, 6))]),
    ("gather bools", lambda lib, x, i: x.gather(0, i), [np.array([True, False]), np.array([1, 1, 0])]),
    ("take", lambda lib, x, i: lib.take(x, i), [(3, 4), np.array([[0, -1], [11, 3]])]),
    ("take method 0-d index", lambda lib, x, i: x.take(i), [(3, 4), np.array(5)]),
    ("take from 0-d", lambda lib, x, i: lib.take(x, i), [(), np.array([0, 0, -1])]),
    ("take empty", lambda lib, x, i: lib.take(x, i), [(3, 4), np.zeros((0, 3), np.int64)]),
    ("take_along_dim flat", lambda lib, x, i: lib.take_along_dim(x, i), [(3, 4), np.array([0, 11, 5, 5])]),
    ("take_along_dim dim", lambda lib, x, i: lib.take_along_dim(x, i, dim=1), [(3, 4), ints(4, (3, 2))]),
    ("take_along_dim negative", lambda lib, x, i: x.take_along_dim(i, -1), [(3, 4), np.array([[0, -1]])]),
    ("take_along_dim broadcast", lambda lib, x, i: lib.take_along_dim(x, i, 2), [(2, 1, 4), ints(4, (1, 3, 2))]),
    ("take_along_dim argsort", lambda lib, x: lib.take_along_dim(x, x.argmax(1, keepdim=True), 1), [(4, 5)]),
    ("index_select", lambda lib, x, i: x.index_select(1, i), [(3, 4), np.array([0, 3, 3, 1])]),
    ("index_select function", lambda lib, x, i: lib.index_select(x, -3, i), [(2, 3, 4), np.array([1, 1])]),
    ("index_select int32", lambda lib, x, i: x.index_select(0, i), [(3, 4), np.array([2, 0], np.int32)]),
    ("index_select 0-d index", lambda lib, x, i: x.index_select(1, i), [(3, 4), np.array(2)]),
    ("index_select empty", lambda lib, x, i: x.index_select(1, i), [(3, 4), np.zeros(0, np.int64)]),
    ("index_select 0-d input", lambda lib, x, i: x.index_select(0, i), [(), np.array([0])]),
    ("index_select non-contiguous", lambda lib, x, i: x.transpose(0, 1).index_select(1, i), [(3, 4), np.array([2, 0])]),
]


@pytest.mark.parametrize("name, fn, inputs", GATHER, ids=[case[0] for case in GATHER])
def test_gathers_match_pytorch(backend_name, name, fn, inputs):
    check(fn, *inputs)


@pytest.mark.parametrize("name, fn, inputs", GATHER[:8], ids=[case[0] for case in GATHER[:8]])
def test_gathers_in_float64(name, fn, inputs):
    check(fn, *inputs, dtype=np.float64)


SRC = ints(3, (3, 4, 5), seed=2)
SCATTER = [
    # src larger than the index: PyTorch has no gradient for it then (its backward fails), so forward only
    *[
        (
            f"scatter dim {d}",
            lambda lib, x, s, d=d: x.scatter(dim=d, index=lib.tensor(B), src=s),
            [(4, 5, 6), (4, 5, 6)],
            False,
        )
        for d in (0, 1, 2, -1, -2, -3)
    ],
    ("scatter larger src", lambda lib, x, s: x.scatter(1, lib.tensor(B), s), [(10, 3, 10), (10, 10, 10)], False),
    ("scatter", lambda lib, x, s, i: x.scatter(1, i, s), [(3, 4, 5), (3, 4, 5), SRC], True),
    ("scatter function", lambda lib, x, s, i: lib.scatter(x, 0, i, s), [(3, 4, 5), (3, 4, 5), SRC], True),
    (
        "scatter repeats",
        lambda lib, x, s, i: x.scatter(0, i, s),
        [np.array([1.0, 2, 3, 4], np.float32), np.array([1.0, 0], np.float32), np.array([0, 0])],
        True,
    ),
    ("scatter value", lambda lib, x, i: x.scatter(1, i, value=3), [(4, 5, 6), B], True),
    ("scatter value inf", lambda lib, x, i: x.scatter(1, i, float("inf")), [(4, 5, 6), B], True),
    ("scatter add value", lambda lib, x, i: x.scatter(1, i, float("inf"), reduce="add"), [(4, 5, 6), B], False),
    ("scatter add nan", lambda lib, x, i: x.scatter(1, i, float("nan"), reduce="add"), [(4, 5, 6), B], False),
    ("scatter multiply", lambda lib, x, i: x.scatter(1, i, 2.5, reduce="multiply"), [(4, 5, 6), B], False),
    ("scatter add src", lambda lib, x, s, i: x.scatter(1, i, s, reduce="add"), [(3, 4, 5), (3, 4, 5), SRC], False),
    (
        "scatter multiply src",
        lambda lib, x, s, i: x.scatter(2, i, s, reduce="multiply"),
        [(3, 4, 5), (3, 4, 5), SRC],
        False,
    ),
    ("scatter 0-d", lambda lib, x, s, i: x.scatter(0, i, s), [(), (), np.array(0)], True),
    ("scatter empty index", lambda lib, x, s, i: x.scatter(1, i, s), [(3, 4), (2,), np.zeros((0, 2), np.int64)], True),
    (
        "scatter integers",
        lambda lib, x, s, i: x.scatter(1, i, s),
        [ints(9, (3, 4)), ints(9, (3, 2)), ints(4, (3, 2))],
        False,
    ),
    (
        "scatter int32 index",
        lambda lib, x, s, i: x.scatter(1, i, s),
        [(3, 4), (3, 2), ints(4, (3, 2)).astype(np.int32)],
        True,
    ),
    (
        "scatter non-contiguous",
        lambda lib, x, s, i: x.transpose(0, 1).scatter(0, i, s),
        [(4, 3), (2, 4), ints(3, (2, 4))],
        True,
    ),
    ("scatter_add", lambda lib, x, s, i: x.scatter_add(1, i, s), [(3, 4, 5), (3, 4, 5), SRC], True),
    ("scatter_add function", lambda lib, x, s, i: lib.scatter_add(x, -1, i, s), [(3, 4, 5), (3, 4, 5), SRC], True),
    ("scatter_add smaller index", lambda lib, x, s, i: x.scatter_add(0, i, s), [(4, 5, 6), (3, 4, 5), B], True),
    ("scatter_add 0-d", lambda lib, x, s, i: x.scatter_add(0, i, s), [(), (2,), np.array([0, 0])], True),
    (
        "scatter_add integers",
        lambda lib, x, s, i: x.scatter_add(0, i, s),
        [ints(9, (3, 4)), ints(9, (5, 4)), ints(3, (5, 4))],
        False,
    ),
    (
        "scatter_add bools",
        lambda lib, x, s, i: x.scatter_add(1, i, s),
        [np.zeros((2, 3), bool), np.array([[True, False, True]]), np.array([[0, 0, 1]])],
        False,
    ),
]


@pytest.mark.parametrize("name, fn, inputs, grad", SCATTER, ids=[case[0] for case in SCATTER])
def test_scatters_match_pytorch(backend_name, name, fn, inputs, grad):
    check(fn, *inputs, grad=grad)


REDUCES = ["sum", "prod", "mean", "amax", "amin"]


@pytest.mark.parametrize("include_self", [True, False])
@pytest.mark.parametrize("dim", [-1, 1, -3])
@pytest.mark.parametrize("reduce", REDUCES)
def test_scatter_reduce_values_match_pytorch(backend_name, reduce, dim, include_self):
    check(
        lambda lib, x, s: x.scatter_reduce(
            dim=dim, index=lib.tensor(B), src=s, reduce=reduce, include_self=include_self
        ),
        (4, 5, 6),
        (4, 5, 6),
        grad=False,
    )


@pytest.mark.parametrize("include_self", [True, False])
@pytest.mark.parametrize("reduce", REDUCES)
def test_scatter_reduce_gradients_match_pytorch(backend_name, reduce, include_self):
    check(
        lambda lib, x, s, i: lib.scatter_reduce(x, 1, i, s, reduce, include_self=include_self),
        (3, 4, 5),
        (3, 4, 5),
        SRC,
    )
    check(
        lambda lib, x, s, i: x.scatter_reduce(0, i, s, reduce, include_self=include_self),
        (3, 4),
        (5, 4),
        ints(3, (5, 4)),
        dtype=np.float64,
    )


@pytest.mark.parametrize("reduce", REDUCES)
def test_scatter_reduce_shares_gradients_among_ties_and_zeros_as_pytorch(reduce):
    # Values drawn from {0, 1, 2}: equal maxima and zero factors at most positions.
    values = np.random.default_rng(3).integers(0, 3, (2, 12)).astype(np.float64)
    for include_self in (True, False):
        check(
            lambda lib, x, s, i, include_self=include_self: x.scatter_reduce(
                1, i, s, reduce, include_self=include_self
            ),
            values[:, :4].copy(),
            values,
            ints(4, (2, 12)),
        )


@pytest.mark.parametrize("reduce", REDUCES)
def test_scatter_reduce_on_integers_and_zeros_matches_pytorch(reduce):
    check(
        lambda lib, x, s, i: x.scatter_reduce(1, i, s, reduce),
        ints(5, (3, 4), -5),
        ints(7, (3, 6), -7),
        ints(4, (3, 6)),
    )
    check(
        lambda lib, x, s, i: x.scatter_reduce(1, i, s, reduce, include_self=False),
        ints(5, (3, 4), -5),
        ints(7, (3, 6), -7),
        ints(4, (3, 6)),
    )
    check(lambda lib, s: lib.zeros(4, 5, 6).scatter_reduce(1, lib.tensor(B), s, reduce), (4, 5, 6), grad=False)


INDEX = [
    ("index_add", lambda lib, x, s, i: x.index_add(1, i, s), [(3, 4), (3, 5), np.array([0, 0, 3, 1, 0])]),
    ("index_add alpha", lambda lib, x, s, i: lib.index_add(x, 0, i, s, alpha=-2.5), [(3, 4), (2, 4), np.array([2, 2])]),
    ("index_add int32", lambda lib, x, s, i: x.index_add(-1, i, s), [(2, 3, 4), (2, 3, 2), np.array([3, 0], np.int32)]),
    ("index_add 0-d", lambda lib, x, s, i: x.index_add(0, i, s), [(), (), np.array([0])]),
    (
        "index_add integers",
        lambda lib, x, s, i: x.index_add(1, i, s, alpha=2),
        [ints(9, (3, 4)), ints(9, (3, 2)), np.array([1, 1])],
    ),
    (
        "index_add non-contiguous",
        lambda lib, x, s, i: x.transpose(0, 1).index_add(0, i, s),
        [(3, 4), (2, 3), np.array([3, 0])],
    ),
    ("index_copy", lambda lib, x, s, i: x.index_copy(1, i, s), [(3, 4), (3, 2), np.array([0, 2])]),
    (
        "index_copy function",
        lambda lib, x, s, i: lib.index_copy(x, 0, i, s),
        [(4, 2, 3), (3, 2, 3), np.array([3, 0, 1])],
    ),
    ("index_copy empty", lambda lib, x, s, i: x.index_copy(0, i, s), [(4, 2), (0, 2), np.zeros(0, np.int64)]),
    ("index_fill", lambda lib, x, i: x.index_fill(1, i, -1), [(3, 4), np.array([0, 2])]),
    ("index_fill negative", lambda lib, x, i: lib.index_fill(x, -1, i, 2.5), [(2, 3, 4), np.array([0, -1, -1])]),
    ("index_fill 0-d index", lambda lib, x, i: x.index_fill(0, i, float("-inf")), [(3, 4), np.array(1)]),
    ("index_fill tensor value", lambda lib, x, v, i: x.index_fill(1, i, v), [(3, 4), (), np.array([0, 0, 2])]),
    ("index_fill integers", lambda lib, x, i: x.index_fill(1, i, 2.7), [ints(9, (3, 4)), np.array([1])]),
    ("index_fill 0-d input", lambda lib, x, i: x.index_fill(0, i, 1), [(), np.array([0])]),
    ("masked_fill", lambda lib, x: x.masked_fill((x > 0.1).detach(), -math.inf), [(32, 10)]),
    ("masked_fill below", lambda lib, x: x.masked_fill((x < 0.1).detach(), -math.inf), [(32, 10)]),
    (
        "masked_fill function",
        lambda lib, x, m: lib.masked_fill(x, m, 2),
        [(3, 4), np.array([True, False, False, True])],
    ),
    ("masked_fill broadcast input", lambda lib, x, m: lib.masked_fill(x, m, -1), [(3,), np.array([[True], [False]])]),
    ("masked_fill tensor value", lambda lib, x, v: x.masked_fill(x > 0, v), [(3, 4), ()]),
    ("masked_fill float64 value", lambda lib, x: x.masked_fill(x > 0, lib.tensor(5.0, dtype=lib.float64)), [(3, 4)]),
    ("masked_fill 0-d", lambda lib, x: x.masked_fill(lib.tensor(True), 3.0), [()]),
    ("masked_fill integers", lambda lib, x: x.masked_fill(x > 4, 2.5), [ints(9, (3, 4))]),
    (
        "masked_fill bools",
        lambda lib, x, m: x.masked_fill(m, 1),
        [np.array([True, False, False]), np.array([False, True, False])],
    ),
    (
        "masked_fill non-contiguous",
        lambda lib, x, m: x.transpose(0, 1).masked_fill(m, 0),
        [(4, 3), np.array([True, False, True, False])],
    ),
    ("masked_select", lambda lib, x: x.masked_select(x > 0.5), [(32, 10)]),
    ("masked_select 0-d mask", lambda lib, x: x.masked_select(lib.tensor(True)), [(32, 10)]),
    ("masked_select function", lambda lib, x, m: lib.masked_select(x, m), [(3,), np.array([[True], [False]])]),
    ("masked_select 0-d", lambda lib, x: lib.masked_select(x, lib.tensor(False)), [()]),
    ("masked_select integers", lambda lib, x: x.masked_select(x > 3), [ints(9, (3, 4))]),
    ("masked_scatter", lambda lib, x, s: x.masked_scatter(x > 0, s), [(3, 4), (4, 5)]),
    (
        "masked_scatter broadcast",
        lambda lib, x, s, m: lib.masked_scatter(x, m, s),
        [(3,), (10,), np.array([[True], [False]])],
    ),
    ("nonzero", lambda lib, x: lib.nonzero(x > 0), [(3, 4)]),
    ("nonzero method", lambda lib, x: x.nonzero(), [ints(3, (2, 3, 4))]),
    ("nonzero as_tuple", lambda lib, x: lib.nonzero(x, as_tuple=True), [ints(2, (3, 4))]),
    ("nonzero 0-d", lambda lib, x: (lib.nonzero(x), lib.nonzero(x, as_tuple=True)), [np.array(3.0)]),
    ("nonzero 0-d zero", lambda lib, x: (lib.nonzero(x), lib.nonzero(x, as_tuple=True)), [np.array(0)]),
    ("nonzero empty", lambda lib, x: (lib.nonzero(x), lib.nonzero(x, as_tuple=True)), [np.zeros((0, 3))]),
    ("nonzero nan and -0", lambda lib, x: x.nonzero(), [np.array([np.nan, 0.0, -0.0, 1.0])]),
    ("argwhere", lambda lib, x: lib.argwhere(x), [ints(2, (3, 4))]),
    ("argwhere method 0-d", lambda lib, x: x.argwhere(), [np.array(2)]),
]


@pytest.mark.parametrize("name, fn, inputs", INDEX, ids=[case[0] for case in INDEX])
def test_index_and_mask_ops_match_pytorch(backend_name, name, fn, inputs):
    check(fn, *inputs)


@pytest.mark.parametrize("name, fn, inputs", INDEX[:4] + INDEX[6:8], ids=[case[0] for case in INDEX[:4] + INDEX[6:8]])
def test_index_ops_in_float64(name, fn, inputs):
    check(fn, *inputs, dtype=np.float64)


def test_where_with_one_argument_is_where_indices():
    def fn(lib, c):
        return torch.where(c) if lib is torch else tn.where_indices(c)

    check(fn, ints(2, (3, 4)).astype(bool))
    check(fn, np.array(True))


# --- in place ------------------------------------------------------------------------------------------------

INPLACE = [
    ("scatter_", lambda lib, x, s: x.scatter_(1, lib.tensor(ints(4, (3, 5))), s)),
    ("scatter_ value", lambda lib, x, s: x.scatter_(1, lib.tensor(ints(4, (3, 5))), 4.0)),
    ("scatter_ add", lambda lib, x, s: x.scatter_(1, lib.tensor(ints(4, (3, 5))), s, reduce="add")),
    ("scatter_add_", lambda lib, x, s: x.scatter_add_(1, lib.tensor(ints(4, (3, 5))), s)),
    (
        "scatter_reduce_",
        lambda lib, x, s: x.scatter_reduce_(1, lib.tensor(ints(4, (3, 5))), s, "amax", include_self=False),
    ),
    ("index_add_", lambda lib, x, s: x.index_add_(1, lib.tensor([3, 0, 3, 1, 3]), s, alpha=2)),
    ("index_copy_", lambda lib, x, s: x.index_copy_(1, lib.tensor([2, 0]), s[:, :2])),
    ("index_fill_", lambda lib, x, s: x.index_fill_(1, lib.tensor([0, -1]), -7.0)),
    ("masked_fill_", lambda lib, x, s: x.masked_fill_(x > 0, 0.5)),
    ("masked_scatter_", lambda lib, x, s: x.masked_scatter_(x > 0, s)),
    ("masked_fill_ broadcast mask", lambda lib, x, s: x.masked_fill_(lib.tensor([True, False, False, True]), 0.5)),
]


@pytest.mark.parametrize("name, op", INPLACE, ids=[case[0] for case in INPLACE])
def test_in_place_forms_change_self_as_pytorch(backend_name, name, op):
    rng = np.random.default_rng(4)
    x, s = rng.standard_normal((3, 4)).astype(np.float32), rng.standard_normal((3, 5)).astype(np.float32)
    expected = torch.tensor(x)
    op(torch, expected, torch.tensor(s))
    got = tn.tensor(x)
    returned = op(tn, got, tn.tensor(s))
    assert returned is got and got._version == 1
    np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-6)


def test_in_place_forms_refuse_a_tensor_that_requires_grad_unless_under_no_grad():
    x = tn.zeros(3, 4, requires_grad=True)
    index, src = tn.tensor(np.array([[0, 1]])), tn.ones(1, 2)
    for change in (
        lambda: x.scatter_(1, index, src),
        lambda: x.index_fill_(1, index[0], 1.0),
        lambda: x.masked_fill_(x.detach() == 0, 1.0),
        lambda: x.scatter_add_(1, index, src),
    ):
        with pytest.raises(GraphError, match="in place"):
            change()
    assert x.numpy().sum() == 0 and x._version == 0
    with tn.no_grad():
        x.scatter_add_(1, index, src)
    assert x.numpy()[0, :2].tolist() == [1.0, 1.0] and x._version == 1


def test_an_in_place_change_of_a_saved_input_stops_its_backward():
    x = tn.ones(3, 4, requires_grad=True)
    y = x * 1
    out = y.gather(1, tn.tensor(np.array([[0], [1], [2]]))) * y[:, :1]  # Mul saves the slice, a view of y
    with tn.no_grad():
        y.index_fill_(0, tn.tensor(np.array([0])), 5.0)
    with pytest.raises(GraphError, match="changed in place"):
        out.sum().backward()


def test_masked_fill_in_place_refuses_a_mask_that_would_grow_self():
    with pytest.raises(ShapeError, match="masked_fill_"):
        tn.zeros(3).masked_fill_(tn.tensor(np.array([[True], [False]])), 1.0)


# --- errors: where PyTorch refuses, tinynet refuses too, naming the op -----------------------------------

X = np.zeros((3, 4), np.float32)
ERRORS = [
    ("gather", lambda lib: lib.tensor(X).gather(1, lib.tensor([[0], [4]])), IndexingError, "out of bounds"),
    ("gather", lambda lib: lib.tensor(X).gather(1, lib.tensor([[0], [-1]])), IndexingError, "index -1"),
    ("gather", lambda lib: lib.tensor(X).gather(1, lib.tensor([0, 1])), ShapeError, "dimensions"),
    ("gather", lambda lib: lib.tensor(X).gather(0, lib.tensor([[0, 1, 2, 2, 2]])), ShapeError, "no larger"),
    ("gather", lambda lib: lib.tensor(X).gather(1, lib.tensor([[0.0]])), DTypeError, "int64"),
    ("gather", lambda lib: lib.tensor(X).gather(2, lib.tensor([[0]])), IndexingError, "dim 2"),
    ("gather", lambda lib: lib.zeros(4, 5, 6).gather(0, lib.tensor([1])), ShapeError, "dimensions"),
    ("take", lambda lib: lib.take(lib.tensor(X), lib.tensor([12])), IndexingError, "12"),
    ("take", lambda lib: lib.take(lib.tensor(X), lib.tensor([-13])), IndexingError, "-13"),
    ("take", lambda lib: lib.take(lib.tensor(X), lib.tensor([1], dtype=lib.int32)), DTypeError, "int64"),
    ("take_along_dim", lambda lib: lib.take_along_dim(lib.tensor(X), lib.tensor([0, 12])), IndexingError, "12"),
    ("take_along_dim", lambda lib: lib.take_along_dim(lib.tensor(X), lib.tensor([[0, 1]]), 0), ShapeError, "broadcast"),
    ("take_along_dim", lambda lib: lib.take_along_dim(lib.tensor(X), lib.tensor([0, 1]), 1), ShapeError, "dimensions"),
    (
        "take_along_dim",
        lambda lib: lib.take_along_dim(lib.tensor(X), lib.tensor([[0]], dtype=lib.int32), 1),
        DTypeError,
        "int64",
    ),
    ("index_select", lambda lib: lib.tensor(X).index_select(1, lib.tensor([0, 4])), IndexingError, "4"),
    ("index_select", lambda lib: lib.tensor(X).index_select(1, lib.tensor([[2]])), IndexingError, "vector"),
    ("index_select", lambda lib: lib.tensor(X).index_select(1, lib.tensor([0.0])), DTypeError, "int"),
    ("scatter", lambda lib: lib.tensor(X).scatter(1, lib.tensor([[0, 4]]), 1.0), IndexingError, "out of bounds"),
    (
        "scatter",
        lambda lib: lib.tensor(X).scatter(1, lib.tensor([[0, 1]]), lib.ones(1, 2, dtype=lib.float64)),
        DTypeError,
        "dtype",
    ),
    (
        "scatter",
        lambda lib: lib.zeros(2, 3, 10).scatter(1, lib.tensor(B), lib.zeros(10, 10, 10)),
        ShapeError,
        "no larger",
    ),
    ("scatter", lambda lib: lib.zeros(10, 3, 10).scatter(1, lib.tensor(B), lib.zeros(10, 3, 10)), ShapeError, "src"),
    (
        "scatter",
        lambda lib: lib.tensor(X).scatter(1, lib.tensor([[0]]), lib.ones(1, 1), reduce="mean"),
        ValueError,
        "add",
    ),
    (
        "scatter",
        lambda lib: lib.tensor(X, dtype=lib.float16).scatter(1, lib.tensor([[0]]), lib.ones(1, 1)),
        DTypeError,
        "dtype",
    ),
    ("scatter_add", lambda lib: lib.tensor(X).scatter_add(1, lib.tensor([[0, 1]]), lib.ones(1, 1)), ShapeError, "src"),
    (
        "scatter_add",
        lambda lib: lib.tensor(X).scatter_add(1, lib.tensor([[0]], dtype=lib.int16), lib.ones(1, 1)),
        DTypeError,
        "int",
    ),
    (
        "scatter_reduce",
        lambda lib: lib.tensor(X).scatter_reduce(0, lib.tensor([[0]]), lib.ones(1, 1), "bad"),
        ValueError,
        "amax",
    ),
    (
        "scatter_reduce",
        lambda lib: lib.tensor(X, dtype=lib.float16).scatter_reduce(0, lib.tensor([[0]]), lib.ones(1, 1), "sum"),
        DTypeError,
        "dtype",
    ),
    (
        "scatter_reduce",
        lambda lib: lib.tensor(X).scatter_reduce(1, lib.tensor([[4]]), lib.ones(1, 1), "amin"),
        IndexingError,
        "4",
    ),
    ("index_add", lambda lib: lib.tensor(X).index_add(1, lib.tensor([0, 1, 2]), lib.ones(3, 2)), ShapeError, "source"),
    ("index_add", lambda lib: lib.tensor(X).index_add(1, lib.tensor([0, 4]), lib.ones(3, 2)), IndexingError, "4"),
    ("index_add", lambda lib: lib.zeros(3).index_add(0, lib.tensor([1]), lib.tensor(5.0)), ShapeError, "source"),
    (
        "index_add",
        lambda lib: lib.tensor(X).index_add(1, lib.tensor([0, 1]), lib.ones(3, 2, dtype=lib.float64)),
        DTypeError,
        "dtype",
    ),
    ("index_copy", lambda lib: lib.tensor(X).index_copy(1, lib.tensor([0, -1]), lib.ones(3, 2)), IndexingError, "-1"),
    (
        "index_copy",
        lambda lib: lib.tensor(X).index_copy(1, lib.tensor([0, 1], dtype=lib.int32), lib.ones(3, 2)),
        DTypeError,
        "int64",
    ),
    ("index_fill", lambda lib: lib.tensor(X).index_fill(1, lib.tensor([0, -5]), 1), IndexingError, "-5"),
    ("index_fill", lambda lib: lib.tensor(X).index_fill(1, lib.tensor([0], dtype=lib.int32), 1), DTypeError, "int64"),
    ("index_fill", lambda lib: lib.tensor(X).index_fill(1, lib.tensor([0]), lib.tensor([7.0])), ShapeError, "0-d"),
    ("masked_fill", lambda lib: lib.tensor(X).masked_fill(lib.tensor([1, 0, 0, 1]), 1.0), DTypeError, "bool"),
    ("masked_fill", lambda lib: lib.tensor(X).masked_fill(lib.tensor([True, False]), 1.0), ShapeError, "broadcast"),
    ("masked_fill", lambda lib: lib.tensor(X).masked_fill(lib.tensor(X) > 0, lib.tensor([5.0])), ShapeError, "0-d"),
    ("masked_select", lambda lib: lib.tensor(X).masked_select(lib.tensor([[True, False]])), ShapeError, "broadcast"),
    ("masked_scatter", lambda lib: lib.tensor(X).masked_scatter(lib.tensor(X) == 0, lib.ones(5)), ShapeError, "source"),
    (
        "masked_scatter",
        lambda lib: lib.tensor(X).masked_scatter(lib.tensor(X) == 0, lib.ones(12, dtype=lib.int64)),
        DTypeError,
        "dtype",
    ),
]


@pytest.mark.parametrize("op, fn, error, words", ERRORS, ids=[f"{e[0]}-{i}" for i, e in enumerate(ERRORS)])
def test_errors_where_pytorch_raises(op, fn, error, words):
    with pytest.raises(Exception):  # noqa: B017 (PyTorch raises RuntimeError, IndexError or TypeError here)
        fn(torch)
    with pytest.raises(error, match=words) as raised:
        fn(tn)
    assert isinstance(raised.value, TinynetError) and op in str(raised.value)


# --- gradients against finite differences, on drawn shapes ---------------------------------------------------

shapes = st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple)


@given(shape=shapes, data=st.data())
def test_gather_and_scatter_add_gradients_pass_gradcheck(shape, data):
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    index_shape = tuple(data.draw(st.integers(1, n)) for n in shape)
    rng = np.random.default_rng(data.draw(st.integers(0, 99)))
    index = tn.tensor(ints(shape[dim], index_shape, seed=data.draw(st.integers(0, 99))))
    # scatter's gradient is PyTorch's (every src value gets one, as gather), the derivative only where no two
    # values go to one position: for it, each slice along dim a permutation.
    corner = tuple(slice(0, n) for n in index_shape)
    distinct = tn.tensor(np.argsort(rng.random(shape), axis=dim)[corner])
    x = tn.tensor(rng.standard_normal(shape), dtype=tn.float64, requires_grad=True)
    src = tn.tensor(rng.standard_normal(index_shape), dtype=tn.float64, requires_grad=True)
    assert tn.gradcheck(lambda a: a.gather(dim, index), [x])
    assert tn.gradcheck(lambda a, s: a.scatter_add(dim, index, s), [x, src])
    assert tn.gradcheck(lambda a, s: a.scatter(dim, distinct, s), [x, src])


@given(shape=shapes, reduce=st.sampled_from(REDUCES), include_self=st.booleans(), seed=st.integers(0, 99))
def test_scatter_reduce_gradients_pass_gradcheck(shape, reduce, include_self, seed):
    # Distinct values a finite difference step away from each other: no ties, no zeros, where the maximum and
    # the product are differentiable.
    rng = np.random.default_rng(seed)
    total = 2 * math.prod(shape)
    values = (rng.permutation(total) + 1) * 0.5 * rng.choice([-1, 1], total)
    x = tn.tensor(values[: total // 2].reshape(shape), dtype=tn.float64, requires_grad=True)
    src = tn.tensor(values[total // 2 :].reshape(shape), dtype=tn.float64, requires_grad=True)
    index = tn.tensor(ints(shape[-1], shape, seed=seed))
    assert tn.gradcheck(lambda a, s: a.scatter_reduce(-1, index, s, reduce, include_self=include_self), [x, src])


@given(shape=shapes, seed=st.integers(0, 99))
def test_masked_op_gradients_pass_gradcheck(shape, seed):
    rng = np.random.default_rng(seed)
    x = tn.tensor(rng.standard_normal(shape), dtype=tn.float64, requires_grad=True)
    value = tn.tensor(0.5, dtype=tn.float64, requires_grad=True)
    mask = tn.tensor(rng.random(shape[-1:]) < 0.5)
    source = tn.tensor(rng.standard_normal(math.prod(shape)), dtype=tn.float64, requires_grad=True)
    assert tn.gradcheck(lambda a, v: a.masked_fill(mask, v), [x, value])
    assert tn.gradcheck(lambda a: a.masked_select(mask), [x])
    assert tn.gradcheck(lambda a, s: a.masked_scatter(mask, s), [x, source])
    assert tn.gradcheck(lambda a, v: a.index_fill(-1, tn.tensor(np.array([0])), v), [x, value])
