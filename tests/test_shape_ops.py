"""Shape ops, indexing layout and the ops that copy values around (tinynet/functions/shape.py, subscript.py,
axes.py, rearrange.py, pieces.py, matrices.py, contraction.py) against PyTorch: values, dtypes and gradients,
as functions and as methods, on 0-d, empty, negative-dim, non-contiguous, float64 and integer inputs; the
errors PyTorch raises; gradcheck on drawn shapes."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from torch_oracle import check, torch

import tinynet as tn
from tinynet.functions import subscript
from tinynet.functions.axes import matrix_transpose  # x.mT: the Tensor property calls it

# PyTorch warns that it will read x[[[0]]] as a tensor index one day; until it does, tinynet reads it as PyTorch.
# uint8 masks are deprecated there too (still masks, as here).
pytestmark = [
    pytest.mark.filterwarnings("ignore:Using a non-tuple sequence for multidimensional indexing"),
    pytest.mark.filterwarnings("ignore:indexing with dtype torch.uint8 is now deprecated"),
]

# --- indexing: PyTorch's layout -----------------------------------------------------------------------------

# (shape, index): the index is used as it is on both libraries.
INDICES = [
    ((3, 4, 5), 1),
    ((3, 4, 5), -3),
    ((3, 4, 5), (1, -2)),
    ((3, 4, 5), (2, 3, -1)),
    ((3, 4, 5), slice(1, 3)),
    ((3, 4, 5), (slice(-2, 2), slice(None), slice(0, -1))),
    ((7, 5, 10), (slice(None, None, 2), slice(1, None, 3), slice(None, None, 4))),
    ((7, 5, 10), (slice(1, 5, 2), None, None, 3, None, slice(None, None, 4))),
    ((3, 3, 3), (slice(1, 2), None, slice(1, 2))),
    ((3, 3, 3), (None, None, 1, None, 2, slice(0, 2))),
    ((3, 3, 3, 3), (None, slice(0, 3), ..., 0, None)),
    ((3, 3, 3, 3), (0, ..., 0)),
    ((3, 3, 3, 3), (..., 0)),
    ((3, 3, 3), slice(-6, 4)),
    ((3, 3, 3), slice(5, 10)),
    ((3, 3, 3), (slice(1, 50), slice(1, 2), -1)),
    ((10, 10), slice(1, 1)),
    ((), None),
    ((), ...),
    ((), (None, None)),
    ((), True),
    ((4,), ...),
    ((4,), slice(None)),
    ((3, 4), (..., ...)),
    ((3, 4), (..., None, ...)),
    ((3, 4, 5), (..., 0, ...)),
    ((3, 4, 5), (0, ..., 1, ...)),
    # integers with lists: the integer selects first, as in PyTorch (not NumPy's layout)
    ((2, 3, 4), (0, slice(None), [0, 1])),
    ((2, 3, 4), (slice(None), 0, [0, 1])),
    ((2, 3, 4), ([0, 1], slice(None), 0)),
    ((2, 3, 4), (0, [0, 2], [1, 3])),
    ((2, 3, 4), (1, slice(None), [[0, 1], [2, 3]])),
    ((2, 3, 4), (-1, None, [0, 1])),
    ((2, 3, 4), (None, 1, slice(None), [0, 1])),
    ((2, 3, 4), (..., 1, [0, 2])),
    ((2, 3, 4), ([1, 0], slice(None), [0, 3])),
    ((2, 3, 4), ([[0, 1]], [0])),
    ((2, 3, 4), (..., [1, 2])),
    ((2, 3, 4), (slice(None), [0], slice(None))),
    ((2, 3, 4), ([0, 1], ..., [1, 2])),
    ((2, 3, 4), (slice(1, None), [2, 2, 0], slice(None, None, 2))),
    ((5,), [4, 4, 0, -1]),
    ((2, 3, 4), (slice(None), [])),
    # a list holding lists is a tuple of indices; tuples inside the index are tensors
    ((2, 3, 4), [[0]]),
    ((2, 3, 4), [[0, 1], [1, 2]]),
    ((2, 3, 4), [[1, 0], slice(None), 2]),
    ((2, 3, 4), (((0,),),)),
    ((2, 3, 4), ((1, 0), 2)),
    # masks (lists of bools) and bools
    ((2, 3, 4), [True, False]),
    ((2, 3, 4), (slice(None), [True, False, True])),
    ((2, 3, 4), (1, [True, False, True], [1, 2])),
    ((2, 3, 4), True),
    ((2, 3, 4), False),
    ((2, 3, 4), (slice(None), False)),
    ((2, 3, 4), ([0, 1], True, slice(None), [1, 2])),
    ((2, 3, 4), (None, [True, False], 1)),
]


@pytest.mark.parametrize(("shape", "index"), INDICES, ids=lambda v: repr(v))
def test_indexing_matches_pytorch(backend_name, shape, index):
    check(lambda lib, x: x[index], shape)


def test_an_integer_next_to_a_list_selects_first_as_in_pytorch():
    assert tn.zeros(2, 3, 4)[0, :, [0, 1]].shape == (3, 2) == tuple(torch.zeros(2, 3, 4)[0, :, [0, 1]].shape)


# The index tensors of tinygrad's fancy-indexing tests: shapes that broadcast across six dims.
A = np.array([-1, 0]).reshape(2, 1, 1, 1, 1, 1)
B = np.zeros((1, 3, 1, 1, 1, 1), np.int64)
C = np.array([-5, 4, 0, 3]).reshape(1, 1, 4, 1, 1, 1)
D = np.array([[0, 3, 1, 2, 3], [1, 1, 0, 2, 3]]).reshape(2, 1, 1, 5, 1, 1)
E = np.zeros((1, 1, 1, 1, 6, 1), np.int32)
FANCY = [
    lambda x, a, b, c, d, e: x[a, b, c, d, e],
    lambda x, a, b, c, d, e: x[:, b, c, d, :],
    lambda x, a, b, c, d, e: x[a, ..., e],
    lambda x, a, b, c, d, e: x[..., c, :, e],
    lambda x, a, b, c, d, e: x[1, b, 2, d, 2],
    lambda x, a, b, c, d, e: x[a, 2, 2, 2, e],
    lambda x, a, b, c, d, e: x[1, :, 3:11:2, d, 0:2],
    lambda x, a, b, c, d, e: x[None, b, c, d, None],
    lambda x, a, b, c, d, e: x[a, :, None, d, e],
    lambda x, a, b, c, d, e: x[1, b, None, d, 1],
    lambda x, a, b, c, d, e: x[..., 1, d, None],
    lambda x, a, b, c, d, e: x[a, b, c, [1, 2, 3], ...],
    lambda x, a, b, c, d, e: x[a, [2, 1, 0], c, [2, 1, 0], e],
    lambda x, a, b, c, d, e: x[1, (2, 1, 0), None, c, (2, 1, 0), e],
    lambda x, a, b, c, d, e: x[[a, 1]],
    lambda x, a, b, c, d, e: x[[a]],
    lambda x, a, b, c, d, e: x[[a, [1, 1]]],
    lambda x, a, b, c, d, e: x[[a, (1, 1)]],
    lambda x, a, b, c, d, e: x[a, ((2,), (1,), (0,)), c, (2, 1, 0)],
    lambda x, a, b, c, d, e: x[(1, 0), b, c, d, :],
    lambda x, a, b, c, d, e: x[[a, b, c, d, e]],
    lambda x, a, b, c, d, e: x[[[[0]]], b, c, d, [[1]]],
]


@pytest.mark.parametrize("index", FANCY, ids=[str(i) for i in range(len(FANCY))])
def test_fancy_indexing_with_index_tensors_matches_pytorch(backend_name, index):
    check(lambda lib, x, *idx: index(x, *idx), (2, 5, 6, 5, 3, 4), A, B, C, D, E)


@pytest.mark.parametrize(
    "index",
    [
        lambda x, i: x[i],
        lambda x, i: x[i, 1],
        lambda x, i: x[1:, i],
        lambda x, i: x[i, i],
        lambda x, i: x[..., i],
        lambda x, i: x[0, :, i],
        lambda x, i: x.transpose(0, 1)[i],
    ],
    ids=[str(i) for i in range(7)],
)
@pytest.mark.parametrize(
    "i", [np.array([[0, 1, -1], [-1, -2, 0]]), np.array(1), np.array([2, 2, 0], np.int32)], ids=["2d", "0d", "int32"]
)
def test_integer_tensor_indices_match_pytorch(backend_name, index, i):
    check(lambda lib, x, i: index(x, i), (3, 3, 3), i)


def test_bool_tensor_masks_match_pytorch(backend_name):
    check(lambda lib, x: x[x > 0], (3, 4))
    check(lambda lib, x: x[x[:, 0] > 0], (5, 3))
    check(lambda lib, x: x[:, x[0] > 0], (3, 6))
    check(lambda lib, x: x[1, :, x[0, 0] > 0], (2, 3, 4))
    check(lambda lib, x, m: x[m], (2, 3), np.array(True))
    check(lambda lib, x, m: x[m, 0], (2, 3, 4), np.array([[True, False, True], [False, False, True]]))
    check(lambda lib, x, m: x[m], (2, 3), np.array([1, 0], np.uint8))


def test_indexing_integers_float64_and_non_contiguous(backend_name):
    check(lambda lib, x: x[1, [0, 2], 1:], (3, 4, 5), dtype=np.float64)
    check(lambda lib, x: x[[1, 0], :, 0], np.arange(24).reshape(2, 3, 4))
    check(lambda lib, x: x[0, :, [True, False]], np.array([[[True, False], [False, True]]]))
    check(lambda lib, x: x.transpose(0, 2)[1, :, [0, 2]], (3, 4, 5))


def test_0d_integer_tensors_work_as_slice_bounds(backend_name):
    check(lambda lib, x: x[lib.tensor(1) : lib.tensor(3), : lib.tensor(-1)], (4, 5))


def test_repeated_positions_add_their_gradients(backend_name):
    check(lambda lib, x: x[[0, 0, 1, 0]] * lib.arange(4.0).reshape(4, 1), (2, 3))


@pytest.mark.parametrize(
    ("index", "error", "words"),
    [
        (5, tn.IndexingError, r"getitem: index 5 is out of bounds for axis 0 with size 3"),
        ((1, -5), tn.IndexingError, r"index -5 is out of bounds for axis 1 with size 4"),
        ((slice(None), [0, 4]), tn.IndexingError, r"index 4 is out of bounds for axis 1 with size 4"),
        ((0, 1, 2), tn.IndexingError, r"too many indices for a tensor of 2 dimensions"),
        (slice(None, None, -1), tn.ArgumentError, r"step must be greater than zero"),
        ((slice(None, None, 0), 1), ValueError, r"step must be greater than zero"),
        ([True, False], tn.IndexingError, r"shape of the mask \(2,\) does not match"),
        ("a", tn.ArgumentTypeError, r"cannot index with a str"),
    ],
    ids=str,
)
def test_bad_indices_are_refused_as_pytorch_refuses_them(index, error, words):
    with pytest.raises(next(e for e in (IndexError, ValueError, TypeError) if issubclass(error, e))):
        torch.zeros(3, 4)[index]
    with pytest.raises(error, match=words):
        tn.zeros(3, 4)[index]


def test_a_second_ellipsis_skips_the_unnamed_dims_again_as_in_pytorch():
    check(lambda lib, x: x[..., 0, ...], (3, 4, 5))
    with pytest.raises(IndexError):
        torch.zeros(3, 4, 5)[..., 0, ..., 1]
    with pytest.raises(tn.IndexingError, match="getitem: too many indices"):
        tn.zeros(3, 4, 5)[..., 0, ..., 1]


def test_bad_index_tensors_are_refused():
    x = tn.ones(10, 11, 12)
    with pytest.raises(tn.IndexingError, match="must be integer or bool tensors, got dtype float32"):
        x[tn.tensor([1.1])]
    with pytest.raises(IndexError):
        x[tn.tensor([True, True])]
    with pytest.raises(IndexError):
        x[tn.randint(0, 3, (3, 1, 1, 1)), tn.randint(0, 3, (1, 4, 1, 1, 1))]
    with pytest.raises(tn.IndexingError, match="too many indices"):
        tn.tensor(3.14)[0]
    with pytest.raises(tn.IndexingError, match="too many indices"):
        tn.tensor(3.14)[:]


@pytest.mark.parametrize(
    ("shape", "index", "value_shape"),
    [
        ((2, 3, 4), (0, slice(None), [0, 1]), (3, 2)),
        ((2, 3, 4), ([0, 1], slice(None), 0), (2, 3)),
        ((2, 3, 4), (1, [True, False, True]), (2, 4)),
        ((2, 3, 4), (slice(None), 1), (2, 4)),
        ((2, 3, 4), (1, 2, 3), ()),
        ((2, 3, 4), [[1, 0], slice(None), 2], (2, 3)),
        ((2, 3, 4), ([0, 0], [1, 1]), (4,)),
    ],
    ids=str,
)
def test_assign_writes_with_pytorchs_layout(shape, index, value_shape):
    # The helper Tensor.__setitem__ calls: the same positions as torch's x[index] = value.
    value = np.random.default_rng(0).standard_normal(value_shape).astype(np.float32)
    expected = torch.zeros(shape)
    expected[index] = torch.tensor(value)
    data = np.zeros(shape, np.float32)
    subscript.assign(data, index, tn.tensor(value))
    np.testing.assert_array_equal(data, expected.numpy())


# --- reshaping and axes -------------------------------------------------------------------------------------

VIEWS = [
    (lambda lib, x: x.reshape((-1, 1, 6, 6)), (4, 3, 6, 6)),
    (lambda lib, x: x.reshape(()), (1,)),
    (lambda lib, x: x.reshape([]), (1,)),
    (lambda lib, x: x.view(2, 3), (6,)),
    (lambda lib, x: x.view([2, 3]), (6, 1)),
    (lambda lib, x: x.view_as(lib.zeros(3, 2)), (6,)),
    (lambda lib, x: x.reshape_as(lib.zeros(2, 1, 3)), (3, 2)),
    (lambda lib, x: x.expand_as(lib.zeros(4, 2, 3)), (2, 1)),
    (lambda lib, x: x.expand((0, 1, 4, 3, 2, 6)), (4, 3, 1, 6)),
    (lambda lib, x: x.expand(4, 3, 0, 6), (4, 3, 1, 6)),
    (lambda lib, x: x.expand([]), ()),
    (lambda lib, x: x.permute((3, 0, 2, 1)), (1, 2, 3, 4)),
    (lambda lib, x: x.permute(-2, -1, 1, 0), (3, 4, 5, 6)),
    (lambda lib, x: x.permute(()), ()),
    (lambda lib, x: x.T, (3, 4)),
    (lambda lib, x: x.t(), (3, 4)),
    (lambda lib, x: x.t(), (3,)),
    (lambda lib, x: lib.t(x), ()),
    (lambda lib, x: x.mT if lib is torch else matrix_transpose(x), (2, 3, 4)),
    (lambda lib, x: x.swapaxes(0, 2), (2, 3, 4)),
    (lambda lib, x: lib.swapdims(x, -1, 0), (2, 3, 4)),
    (lambda lib, x: x.movedim(0, -1), (2, 3, 4)),
    (lambda lib, x: lib.movedim(x, (0, 1), (2, 0)), (2, 3, 4)),
    (lambda lib, x: lib.moveaxis(x, [-1, 0], [0, -1]), (2, 3, 4, 5)),
    (lambda lib, x: x.movedim(0, 0), ()),
    (lambda lib, x: x.unflatten(0, (2, 2)), (4, 3, 6)),
    (lambda lib, x: x.unflatten(-1, (3, 2, 1)), (4, 3, 6)),
    (lambda lib, x: lib.unflatten(x, 1, (-1, 2)), (4, 6)),
    (lambda lib, x: x.flatten(start_dim=1, end_dim=2), (2, 3, 4, 5)),
    (lambda lib, x: x.squeeze((0, 2)), (1, 3, 1, 2)),
    (lambda lib, x: x.squeeze((0, -1)), (1, 3, 1, 2)),
    (lambda lib, x: x.squeeze(dim=-1), ()),
    (lambda lib, x: lib.squeeze(x, 1), (2, 3, 1)),
    (lambda lib, x: x.unsqueeze(-3), (4, 3, 6)),
    (lambda lib, x: x.clone() * 2, (3, 4)),
    (lambda lib, x: x.contiguous(), (3, 4)),
    (lambda lib, x: lib.clone(x.transpose(0, 1)), (3, 4)),
    (lambda lib, x: lib.atleast_1d(x), ()),
    (lambda lib, x: lib.atleast_2d(x), (3,)),
    (lambda lib, x: lib.atleast_3d(x), (3,)),
    (lambda lib, x: lib.atleast_3d(x), (2, 3)),
    (lambda lib, x: lib.atleast_3d(x), ()),
    (lambda lib, x: lib.atleast_2d(x, x[0]), (2, 3)),
    (lambda lib, x: lib.atleast_1d([x, x]), ()),
]


@pytest.mark.parametrize(("fn", "shape"), VIEWS, ids=[str(i) for i in range(len(VIEWS))])
def test_views_and_axes_match_pytorch(backend_name, fn, shape):
    check(fn, shape)


def test_views_keep_integers_and_float64(backend_name):
    check(lambda lib, x: x.movedim(0, 1).unflatten(0, (3, 1)), np.arange(6).reshape(2, 3))
    check(lambda lib, x: (x.mT if lib is torch else matrix_transpose(x)).clone(), (2, 3, 4), dtype=np.float64)
    check(lambda lib, x: x.view(lib.int32), np.arange(6, dtype=np.float32).reshape(2, 3))


def test_clone_is_a_copy():
    x = tn.ones(3, requires_grad=True)
    y = x.clone()
    assert y.array is not x.array and not np.shares_memory(y.array, x.array)


# --- repeat, tile, flip, roll, unfold, meshgrid -------------------------------------------------------------

REARRANGE = [
    (lambda lib, x: x.repeat(2, 4, 3), (4, 6, 3)),
    (lambda lib, x: x.repeat(2, 4, 3, 2, 1), (4, 6, 3)),
    (lambda lib, x: x.repeat([3, 3, 4]), (3, 3)),
    (lambda lib, x: x.repeat(2, 3), ()),
    (lambda lib, x: x.repeat(2, 0, 4), (4, 6, 3)),
    (lambda lib, x: x.repeat(()), ()),
    (lambda lib, x: lib.tile(x, (2,)), (2, 3)),
    (lambda lib, x: x.tile(2, 1, 2), (2, 3)),
    (lambda lib, x: x.tile((2, 2)), (0, 3)),
    (lambda lib, x: x.repeat_interleave(6), (3, 3)),
    (lambda lib, x: x.repeat_interleave(2, 1), (3, 3)),
    (lambda lib, x: x.repeat_interleave(2, -2), (3, 3)),
    (lambda lib, x: lib.repeat_interleave(x, 3), ()),
    (lambda lib, x: x.repeat_interleave(lib.tensor([1, 0, 2]), dim=0), (3, 2)),
    (lambda lib, x: x.repeat_interleave(lib.tensor([2]), dim=1), (2, 3)),
    (lambda lib, x: x.flip((0,)), (4, 3, 6)),
    (lambda lib, x: x.flip((0, 1, 2)).flip(0), (4, 3, 6)),
    (lambda lib, x: x.flip(-1), (4, 3, 6)),
    (lambda lib, x: x.flip(0, 1), (4, 3, 6)),
    (lambda lib, x: lib.flip(x, dims=[1]), (4, 3, 6)),
    (lambda lib, x: x.flip(()), (4, 3)),
    (lambda lib, x: x.flip(()), ()),
    (lambda lib, x: x.flip(0), ()),
    (lambda lib, x: lib.fliplr(x), (3, 4)),
    (lambda lib, x: x.flipud(), (3, 4)),
    (lambda lib, x: lib.roll(x, 1, 0), (2, 4)),
    (lambda lib, x: lib.roll(x, -5, 0), (2, 4)),
    (lambda lib, x: x.roll(shifts=(2, -3), dims=(0, 2)), (2, 4, 6)),
    (lambda lib, x: x.roll((1, 2, -1), (0, 1, 2)), (2, 4, 6)),
    (lambda lib, x: x.roll(1, -1), (2, 4)),
    (lambda lib, x: x.roll(3), (2, 4)),
    (lambda lib, x: x.roll(1), ()),
    (lambda lib, x: x.roll(1, 0), (0, 3)),
    (lambda lib, x: x.unfold(0, 2, 1), (8,)),
    (lambda lib, x: x.unfold(0, 7, 3), (8,)),
    (lambda lib, x: x.unfold(2, 2, 8), (3, 3, 3)),
    (lambda lib, x: x.unfold(1, 0, 8), (3, 3, 3)),
    (lambda lib, x: x.unfold(-1, 2, 2), (3, 3, 3, 3, 3)),
    (lambda lib, x: x.unfold(0, 1, 1), ()),
]


@pytest.mark.parametrize(("fn", "shape"), REARRANGE, ids=[str(i) for i in range(len(REARRANGE))])
def test_rearranging_matches_pytorch(backend_name, fn, shape):
    check(fn, shape)


def test_rearranging_integers_bools_float64_and_non_contiguous(backend_name):
    ints = np.arange(13, dtype=np.int32)
    check(lambda lib, x: x.repeat(8, 1).flip(1).roll(2, 0), ints)
    check(lambda lib, x: x.repeat_interleave(2).tile(2), np.array([True, False]))
    check(lambda lib, x: lib.repeat_interleave(x), np.array([2, 0, 3]))
    check(lambda lib, x: x.transpose(0, 1).repeat(2, 1).roll(1, 1).unfold(0, 3, 2), (4, 5), dtype=np.float64)


@pytest.mark.parametrize("indexing", ["ij", "xy"])
def test_meshgrid_matches_pytorch(backend_name, indexing):
    check(lambda lib, x: lib.meshgrid(x, indexing=indexing), (3,))
    check(lambda lib, x, y: lib.meshgrid(x, y, indexing=indexing), (3,), (4,))
    check(lambda lib, x, y, z, w: lib.meshgrid(x, y, z, w, indexing=indexing), (3,), (), (4,), (2,))
    check(lambda lib, x, y: lib.meshgrid([x, y], indexing=indexing), np.arange(3), np.arange(2))


# --- cutting into pieces and joining ------------------------------------------------------------------------

PIECES = [
    (lambda lib, x: x.split(5), (10,)),
    (lambda lib, x: x.split([1, 4, 5]), (10,)),
    (lambda lib, x: lib.split(x, 3), (10,)),
    (lambda lib, x: x.split(1, dim=1), (3, 4)),
    (lambda lib, x: x.split([2, 2], -1), (4, 4)),
    (lambda lib, x: x.split(2), (0, 3)),
    (lambda lib, x: x.chunk(6, 1), (8, 13)),
    (lambda lib, x: x.chunk(6, 0), (8, 13)),
    (lambda lib, x: lib.chunk(x, 3, -2), (8, 3, 3)),
    (lambda lib, x: x.chunk(5, 1), (2, 3)),
    (lambda lib, x: x.chunk(3), (0, 3)),
    (lambda lib, x: x.tensor_split(3), (7, 2)),
    (lambda lib, x: x.tensor_split([1, 5, 9]), (7, 2)),
    (lambda lib, x: lib.tensor_split(x, lib.tensor([2, 4]), dim=0), (7, 2)),
    (lambda lib, x: x.tensor_split(lib.tensor(3), 1), (2, 7)),
    (lambda lib, x: x.unbind(1), (3, 4)),
    (lambda lib, x: lib.unbind(x), (2, 3)),
    (lambda lib, x: x.narrow(0, -2, 2), (5, 3)),
    (lambda lib, x: lib.narrow(x, 1, 1, 2), (5, 3)),
    (lambda lib, x: x.narrow(0, lib.tensor(1), 2), (5, 3)),
    (lambda lib, x, y: lib.cat([x, y], -1), (2, 3), (2, 1)),
    (lambda lib, x, y: lib.cat((x, y), dim=-2), (2, 3), (4, 3)),
    (lambda lib, x, y: lib.cat([x, y], 1), (4, 0, 3), (4, 2, 3)),
    (lambda lib, x, y: lib.cat([x, y], 0), (4, 0, 3), (4, 0, 3)),
    (lambda lib, x, y: lib.cat([x, y]), (2, 3), (0,)),
    (lambda lib, x, y: lib.cat([x, y]), (0,), (0,)),
    (lambda lib, x, y: lib.cat([x, y], axis=1), (2, 3), (2, 1)),
    (lambda lib, x, y: lib.stack((x, y), -1), (2, 3), (2, 3)),
    (lambda lib, x, y: lib.stack([x, y], 2), (2, 3), (2, 3)),
    (lambda lib, x, y: lib.stack([x, y]), (), ()),
    (lambda lib, x, y: lib.hstack([x, y]), (3,), (2,)),
    (lambda lib, x, y: lib.hstack([x, y]), (2, 3), (2, 1)),
    (lambda lib, x, y: lib.hstack((x, y)), (), ()),
    (lambda lib, x, y: lib.vstack([x, y]), (3,), (3,)),
    (lambda lib, x, y: lib.vstack([x, y]), (2, 3), (3,)),
    (lambda lib, x, y: lib.row_stack([x, y]), (1, 3), (3,)),
    (lambda lib, x, y: lib.dstack([x, y]), (3,), (3,)),
    (lambda lib, x, y: lib.dstack([x, y]), (2, 3), (2, 3, 2)),
    (lambda lib, x, y: lib.column_stack([x, y]), (3,), (3, 2)),
    (lambda lib, x, y: lib.column_stack([x, y]), (), ()),
]


@pytest.mark.parametrize(
    ("fn", "shapes"), [(fn, shapes) for fn, *shapes in PIECES], ids=[str(i) for i in range(len(PIECES))]
)
def test_pieces_and_joins_match_pytorch(backend_name, fn, shapes):
    check(fn, *shapes)


@pytest.mark.parametrize(
    ("left", "right"),
    [(np.int64, np.float32), (np.int32, np.int64), (np.bool_, np.float64), (np.float32, np.float64)],
    ids=str,
)
def test_cat_and_stack_promote_dtypes_as_pytorch(backend_name, left, right):
    x, y = np.arange(6).reshape(2, 3).astype(left), np.ones((2, 3)).astype(right)
    check(lambda lib, x, y: lib.cat([x, y], 1), x, y)
    check(lambda lib, x, y: lib.stack([x, y]), x, y)
    check(lambda lib, x, y: lib.hstack([x, y]), x, y)


def test_pieces_of_integers_float64_and_non_contiguous(backend_name):
    check(lambda lib, x: x.repeat(8, 1).chunk(6, 1), np.arange(13, dtype=np.int32))
    check(lambda lib, x: x.transpose(0, 1).split([1, 3], 0), (3, 4), dtype=np.float64)
    check(lambda lib, x: [p * 2 for p in x.transpose(0, 1).unbind(-1)], (3, 4))


# --- diagonals, triangles, outer, einsum --------------------------------------------------------------------

MATRICES = [
    (lambda lib, x: lib.diag(x), (3, 4)),
    (lambda lib, x: lib.diag(x, 1), (3, 4)),
    (lambda lib, x: x.diag(-2), (3, 4)),
    (lambda lib, x: lib.diag(x, -5), (3, 4)),
    (lambda lib, x: lib.diag(x), (3,)),
    (lambda lib, x: x.diag(2), (3,)),
    (lambda lib, x: lib.diag(x, -1), (0,)),
    (lambda lib, x: x.diagonal(), (3, 4)),
    (lambda lib, x: lib.diagonal(x, 1, 0, 2), (2, 3, 4)),
    (lambda lib, x: x.diagonal(offset=-1, dim1=-1, dim2=0), (2, 3, 4)),
    (lambda lib, x: x.diagonal(0, 2, 1), (2, 3, 4)),
    (lambda lib, x: lib.diag_embed(x), (2, 3)),
    (lambda lib, x: x.diag_embed(1, 0, 2), (2, 3)),
    (lambda lib, x: lib.diag_embed(x, -1, -1, 0), (2, 3)),
    (lambda lib, x: x.tril(), (3, 3)),
    (lambda lib, x: x.tril(1), (3, 3)),
    (lambda lib, x: x.tril(-2), (4, 5)),
    (lambda lib, x: lib.tril(x, 6), (4, 5)),
    (lambda lib, x: lib.tril(x, -6), (4, 5)),
    (lambda lib, x: x.tril(), (5, 3, 3)),
    (lambda lib, x: x.tril(), (5, 0, 3)),
    (lambda lib, x: x.triu(), (3, 3)),
    (lambda lib, x: x.triu(-1), (4, 5)),
    (lambda lib, x: lib.triu(x, 5), (4, 5)),
    (lambda lib, x: x.triu(diagonal=1), (5, 3, 3)),
    (lambda lib, x: x.transpose(0, 1).triu(1), (4, 3)),
]


@pytest.mark.parametrize(("fn", "shape"), MATRICES, ids=[str(i) for i in range(len(MATRICES))])
def test_diagonals_and_triangles_match_pytorch(backend_name, fn, shape):
    check(fn, shape)


def test_triangles_and_diagonals_of_integers_bools_and_float64(backend_name):
    check(lambda lib, x: x.tril(), np.ones((3, 3), bool))
    check(lambda lib, x: x.triu(1), np.arange(12).reshape(3, 4))
    check(lambda lib, x: x.diag(1), np.arange(3))
    check(lambda lib, x: x.tril(-1).diagonal(-1), (4, 4), dtype=np.float64)
    check(lambda lib, x: x.tril(), np.array([[np.inf, 1.0], [2.0, -np.inf]], np.float32))


def test_outer_matches_pytorch(backend_name):
    check(lambda lib, x, y: lib.outer(x, y), (3,), (4,))
    check(lambda lib, x, y: x.ger(y), (0,), (4,))
    check(lambda lib, x, y: lib.outer(x, y), np.arange(3), (2,))


EINSUM = [
    ("ij->ji", (5, 5)),
    ("ij -> ji", (5, 6)),
    ("ji", (5, 6)),
    ("jki", (2, 3, 4)),
    ("dog", (2, 3, 4)),
    ("ij,jk", (2, 3), (3, 4)),
    ("ijk->", (2, 3, 4)),
    ("ij->j", (5, 5)),
    ("ij->i", (5, 5)),
    ("ik,k->i", (5, 2), (2,)),
    ("ik,kj->ij", (5, 2), (2, 3)),
    ("jk,ki->ji", (5, 2), (2, 3)),
    ("i,i->i", (6,), (6,)),
    ("i,i", (6,), (6,)),
    ("ij,ij->ij", (3, 4), (3, 4)),
    ("i,j->ij", (5,), (5,)),
    ("ijk,ikl->ijl", (2, 3, 4), (2, 4, 5)),
    ("ijk,ikl->jil", (2, 3, 4), (2, 4, 5)),
    ("jik,ikl->jil", (3, 2, 4), (2, 4, 5)),
    ("pqrs,tuqvr->pstuv", (3, 5, 2, 4), (2, 3, 5, 2, 2)),
    ("ik,jkl,il->ij", (2, 3), (5, 3, 4), (2, 4)),
    ("ii", (3, 3)),
    ("ii->i", (3, 3)),
    ("iij->j", (3, 3, 2)),
    ("iji,j->i", (3, 2, 3), (2,)),
    ("Ba,a", (3, 2), (2,)),
    ("aB", (2, 3)),
    ("ij,j->i", (3, 1), (4,)),
    ("...id,...jd->...ij", (3, 4, 5), (3, 2, 5)),
    ("...id, ...jd", (3, 4, 5), (3, 2, 5)),
    ("i...j,ji...->...", (2, 3, 4, 5), (5, 2, 4)),
    ("ij...,ij...->ij", (2, 3, 4, 2), (2, 3, 4, 2)),
    ("...ij,...jk", (2, 1, 3, 4), (5, 4, 2)),
    ("i...,i...->i", (2, 3), (2, 1)),
    ("...", (2, 3)),
    ("i...->...i", (2, 3, 4)),
    ("", ()),
    ("i->", (0,)),
]


@pytest.mark.parametrize(("equation", "shapes"), [(e, s) for e, *s in EINSUM], ids=[e for e, *_ in EINSUM])
def test_einsum_matches_pytorch(backend_name, equation, shapes):
    check(lambda lib, *xs: lib.einsum(equation, *xs), *shapes, atol=1e-4)
    check(lambda lib, *xs: lib.einsum(equation, list(xs)), *shapes, atol=1e-4)


def test_einsum_of_integers_float64_and_non_contiguous(backend_name):
    check(lambda lib, a, b: lib.einsum("ij,jk->ik", a, b), np.arange(6).reshape(2, 3), np.arange(12).reshape(3, 4))
    check(lambda lib, a, b: lib.einsum("ji,jk->ik", a.transpose(0, 1), b), (3, 2), (2, 4), dtype=np.float64)


# --- errors: PyTorch refuses, tinynet refuses naming the op -------------------------------------------------

ERRORS = [
    (lambda lib, x: x.repeat(2, 4), (2, 3, 4), "repeat"),
    (lambda lib, x: x.flip((0, 0)), (3, 4), "flip"),
    (lambda lib, x: x.flip((1, -1)), (3, 4), "flip"),
    (lambda lib, x: x.flip(2), (3, 4), "flip"),
    (lambda lib, x: lib.fliplr(x), (3,), "fliplr"),
    (lambda lib, x: lib.roll(x, (1, 1), 0), (2, 3), "roll"),
    (lambda lib, x: lib.roll(x, (1, 1)), (2, 3), "roll"),
    (lambda lib, x: x.split([1, 4]), (10,), "split"),
    (lambda lib, x: x.split(2), (), "split"),
    (lambda lib, x: x.chunk(0), (4,), "chunk"),
    (lambda lib, x: x.unbind(), (), "unbind"),
    (lambda lib, x: x.narrow(0, 2, 4), (5,), "narrow"),
    (lambda lib, x: x.unfold(0, 9, 3), (8,), "unfold"),
    (lambda lib, x: x.unfold(0, 1, -1), (8,), "unfold"),
    (lambda lib, x: x.t(), (2, 3, 4), "t"),
    (lambda lib, x: x.mT if lib is torch else matrix_transpose(x), (3,), "mT"),
    (lambda lib, x: x.movedim((0, 1), 0), (2, 3), "movedim"),
    (lambda lib, x: x.movedim((0, 0), (0, 1)), (2, 3), "movedim"),
    (lambda lib, x: x.unflatten(0, (2, 3)), (4, 3), "unflatten"),
    (lambda lib, x: x.squeeze(5), (4, 3), "squeeze"),
    (lambda lib, x: lib.diag(x), (2, 2, 2), "diag"),
    (lambda lib, x: x.diagonal(0, 1, 1), (2, 2), "diagonal"),
    (lambda lib, x: x.tril(), (3,), "tril"),
    (lambda lib, x: x.triu(), (), "triu"),
    (lambda lib, x: lib.outer(x, x), (3, 2), "outer"),
    (lambda lib, x: lib.meshgrid(x, indexing="bad"), (3,), "meshgrid"),
    (lambda lib, x: lib.meshgrid(x), (3, 2), "meshgrid"),
    (lambda lib, x: lib.stack([x, x], 5), (2, 3), "stack"),
    (lambda lib, x: lib.cat([x, x[0]]), (2, 3), "cat"),
    (lambda lib, x: lib.einsum("ij->ii", x), (3, 3), "einsum"),
    (lambda lib, x: lib.einsum("ij,jk->ik", x), (3, 3), "einsum"),
    (lambda lib, x: lib.einsum("ij->k", x), (3, 3), "einsum"),
    (lambda lib, x: lib.einsum("ijk", x), (3, 3), "einsum"),
    (lambda lib, x: lib.einsum("ii", x), (3, 4), "einsum"),
    (lambda lib, x: lib.einsum("...ik...,...jk->", [x, x]), (2, 3, 4), "einsum"),
    (lambda lib, x: lib.einsum("i...j,ji...->...", [x, x[:, :2]]), (2, 3, 4), "einsum"),
    (lambda lib, x: lib.einsum("ij,jk", x, x.double()), (3, 3), "einsum"),
    (lambda lib, x: x.repeat_interleave(lib.tensor([1, 2]), dim=0), (3, 2), "repeat_interleave"),
    (lambda lib, x: x.tensor_split(0), (3, 2), "tensor_split"),
]


@pytest.mark.parametrize(("fn", "shape", "op"), ERRORS, ids=[f"{op}-{i}" for i, (_, _, op) in enumerate(ERRORS)])
def test_what_pytorch_refuses_tinynet_refuses_naming_the_op(fn, shape, op):
    values = np.zeros(shape, np.float32)
    with pytest.raises((RuntimeError, IndexError, ValueError, TypeError)):
        fn(torch, torch.tensor(values))
    with pytest.raises(tn.TinynetError, match=rf"^{op}\b"):
        fn(tn, tn.tensor(values))


# --- gradients on drawn shapes ------------------------------------------------------------------------------

shapes = st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple)


def _float64(shape, seed: int) -> tn.Tensor:
    return tn.tensor(np.random.default_rng(seed).standard_normal(shape), dtype=tn.float64, requires_grad=True)


@given(shape=shapes, data=st.data())
def test_indexing_gradients_are_right_on_drawn_shapes(shape, data):
    d = data.draw(st.integers(0, len(shape) - 1))
    picks = data.draw(st.lists(st.integers(-shape[d], shape[d] - 1), min_size=1, max_size=5))
    first = data.draw(st.integers(-shape[0], shape[0] - 1))
    index = (first, *[slice(None)] * (d - 1), picks) if d > 0 else (picks,)
    assert tn.gradcheck(lambda x: x[index], [_float64(shape, 0)])
    assert tn.gradcheck(lambda x: x[..., None, ::2], [_float64(shape, 1)])


@given(shape=shapes, data=st.data())
def test_rearranging_gradients_are_right_on_drawn_shapes(shape, data):
    reps = data.draw(st.lists(st.integers(1, 3), min_size=len(shape), max_size=len(shape) + 1))
    d = data.draw(st.integers(-len(shape), len(shape) - 1))
    shift = data.draw(st.integers(-5, 5))
    assert tn.gradcheck(lambda x: x.repeat(*reps), [_float64(shape, 0)])
    assert tn.gradcheck(lambda x: x.roll(shift, d).flip(d).repeat_interleave(2, d), [_float64(shape, 1)])
    assert tn.gradcheck(lambda x: x.unfold(d, min(2, shape[d]), 1).tile(2), [_float64(shape, 2)])


@given(n=st.integers(1, 4), m=st.integers(1, 4), k=st.integers(1, 3), offset=st.integers(-3, 3))
def test_matrix_and_einsum_gradients_are_right_on_drawn_shapes(n, m, k, offset):
    a, b, c = _float64((n, m), 0), _float64((m, k), 1), _float64((n,), 2)
    assert tn.gradcheck(lambda a, b, c: tn.einsum("ij,jk,i->ik", a, b, c), [a, b, c])
    assert tn.gradcheck(lambda a: tn.einsum("ij,ij->", a, a), [a])
    assert tn.gradcheck(lambda a: a.tril(offset) + a.triu(offset), [a])
    assert tn.gradcheck(lambda a: a.diagonal(offset), [a])
    assert tn.gradcheck(lambda c: tn.diag(c, offset).diag_embed(offset, 0, 2), [c])
