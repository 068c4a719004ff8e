"""Gathering and scattering by index: gather take take_along_dim index_select, scatter scatter_add scatter_reduce
index_add index_copy index_fill and their in-place forms (the mask-steered ops live in ``masking``; this module
exports them too).

Every op here works on flat positions. ``flat_targets`` (in ``index_checks``, with the checks) turns an index
tensor and the dim it indexes into the position, in the flattened input, that each of its elements names: its
own coordinates, with the one along dim replaced by its value. Gathering is then ``x.reshape(-1)[targets]``, and
scattering writes or adds at ``targets``. A position may be named twice: scatter_add and index_add add every
value, scatter and index_copy keep the last one written (as PyTorch does on the CPU).

A 0-d tensor counts as 1-D of one element here, as in PyTorch (``gather`` of a 0-d input by a 1-D index works).
"""

import math
from numbers import Number

import numpy as np

from kernels.numpy_ref import array_module
from tinynet import backend
from tinynet.autograd import Function
from tinynet.errors import ArgumentError, ArgumentTypeError, DTypeError, IndexingError, ShapeError
from tinynet.functions.aliases import numpy_names
from tinynet.functions.index_checks import (
    along,
    check_axis,
    check_same_dtype,
    check_slices,
    flat_targets,
    in_bounds,
    index_data,
    prepare,
    src_used,
    with_size,
)
from tinynet.functions.masking import METHODS as MASKING_METHODS
from tinynet.functions.masking import (
    argwhere,
    fill_where,
    masked_fill,
    masked_scatter,
    masked_select,
    nonzero,
    where_indices,
)
from tinynet.functions.scatter_reduce import ScatterReduce
from tinynet.functions.shape import broadcast_to
from tinynet.tensor import Tensor


class Gather(Function):
    """Values read at positions an index names.

    forward:    out[..., i, ...] = x[..., index[..., i, ...], ...]: each output element reads x at its own
                coordinates with the one along dim replaced by the index (x.reshape(-1)[targets])
    derivative: dL/dx = zeros with dL/dout added in at each position read (a position read twice adds twice)
    kernels:    scatter_add in backward; the forward is indexing, inline
    """

    @staticmethod
    def forward(ctx, x, targets, shape):
        ctx.x_shape, ctx.targets = x.shape, targets
        return x.reshape(-1)[targets].reshape(shape)

    @staticmethod
    def backward(ctx, grad):
        full = array_module(grad).zeros(math.prod(ctx.x_shape), dtype=grad.dtype)
        backend.for_arrays(full).scatter_add(full, ctx.targets, grad.reshape(-1))
        return full.reshape(ctx.x_shape), None, None


class Scatter(Function):
    """Values of src written into a copy of x at positions an index names; of two written to one position,
    the last stays.

    forward:    out = x, then out[..., index[..., i, ...], ...] = src[..., i, ...] for every element of index
    derivative: dL/dx = dL/dout with the written positions zeroed; dL/dsrc = dL/dout read at the position each
                src element was sent to (as gather), 0 for src elements the index does not reach
    kernels:    none: computed inline with the array module's calls
    """

    @staticmethod
    def forward(ctx, x, src, targets, used):
        ctx.targets, ctx.used, ctx.src_shape = targets, used, src.shape
        out = x.copy()
        values = src[used].reshape(-1)
        last = _last_of_each(targets)
        out.reshape(-1)[targets[last]] = values[last]
        return out

    @staticmethod
    def backward(ctx, grad):
        need_x, need_src, *_ = ctx.needs_input_grad
        grad_x = grad_src = None
        if need_x:
            grad_x = array_module(grad).array(grad)  # a copy, and an array even if grad is a NumPy scalar
            grad_x.reshape(-1)[ctx.targets] = 0
        if need_src:
            grad_src = _spread(grad, ctx.targets, ctx.used, ctx.src_shape)
        return grad_x, grad_src, None, None


class ScatterAdd(Function):
    """Values of src (times alpha) added into a copy of x at positions an index names; each one adds, so a
    position named twice gets both.

    forward:    out = x, then out[..., index[..., i, ...], ...] += alpha src[..., i, ...] for every element of index
    derivative: dL/dx = dL/dout; dL/dsrc = alpha dL/dout read at the position each src element was sent to
                (as gather), 0 for src elements the index does not reach
    kernels:    scatter_add in forward; the backward is indexing, inline
    """

    @staticmethod
    def forward(ctx, x, src, targets, used, alpha):
        ctx.targets, ctx.used, ctx.src_shape, ctx.alpha = targets, used, src.shape, alpha
        out = x.copy()
        values = src[used].reshape(-1)
        backend.for_arrays(out, values).scatter_add(out.reshape(-1), targets, values if alpha == 1 else values * alpha)
        return out

    @staticmethod
    def backward(ctx, grad):
        need_x, need_src, *_ = ctx.needs_input_grad
        grad_src = None
        if need_src:
            grad_src = _spread(grad, ctx.targets, ctx.used, ctx.src_shape)
            grad_src = grad_src if ctx.alpha == 1 else grad_src * ctx.alpha
        return (grad if need_x else None), grad_src, None, None, None


def _spread(grad, targets, used, shape):
    """dL/dsrc for a scatter: dL/dout read at each position src was sent to, in a zero array of src's ``shape``."""
    full = array_module(grad).zeros(shape, dtype=grad.dtype)
    if targets.size:
        full[used] = grad.reshape(-1)[targets].reshape(full[used].shape)
    return full


def _last_of_each(targets):
    """Where in ``targets`` each distinct value occurs last: writing only there makes the last write win on
    every array library (NumPy and CuPy leave the winner of a repeated fancy assignment unspecified)."""
    xp = array_module(targets)
    order = xp.argsort(targets, kind="stable")
    ordered = targets[order]
    last = xp.ones(ordered.shape, dtype=bool)
    last[:-1] = ordered[:-1] != ordered[1:]
    return order[last]


# --- the public functions ----------------------------------------------------------------------------------


@numpy_names
def gather(input: Tensor, dim: int, index: Tensor, *, sparse_grad: bool = False) -> Tensor:  # noqa: A002
    """The elements of ``input`` along ``dim`` that ``index`` names: out[i][j][k] = input[index[i][j][k]][j][k]
    for dim 0. index: int64 (or int32), as many dims as input, no larger apart from dim -> index's shape.
    ``sparse_grad`` is accepted and ignored (the gradient is always dense)."""
    targets, _, _ = prepare("gather", input, dim, index)
    return Gather.apply(input, targets, index.shape)


def take(input: Tensor, index: Tensor) -> Tensor:  # noqa: A002
    """The elements of ``input`` read as a flat vector at ``index`` (int64; negative counts from the end)
    -> index's shape."""
    data = in_bounds("take", index_data("take", index, ("int64",)), input.numel(), 0, negative=True)
    return Gather.apply(input, data.reshape(-1), index.shape)


@numpy_names
def take_along_dim(input: Tensor, indices: Tensor, dim: int | None = None) -> Tensor:  # noqa: A002
    """gather along ``dim`` after broadcasting input and indices over every other axis; with dim None, the
    flattened input at the flattened indices. indices: int64, negative counting from the end."""
    data = index_data("take_along_dim", indices, ("int64",), "indices")
    if dim is None:
        data = in_bounds("take_along_dim", data, input.numel(), 0, negative=True)
        return Gather.apply(input, data.reshape(-1), (data.size,))
    if input.ndim != indices.ndim:
        raise ShapeError(
            f"take_along_dim: input and indices must have the same number of dimensions, got {input.ndim} "
            f"(shape {input.shape}) and {indices.ndim} (shape {indices.shape})"
        )
    dim = check_axis("take_along_dim", dim, input.ndim)
    try:  # along every other axis, input and indices broadcast
        common = np.broadcast_shapes(with_size(input.shape, dim, 1), with_size(indices.shape, dim, 1))
    except ValueError:
        raise ShapeError(
            f"take_along_dim: input {input.shape} and indices {indices.shape} cannot broadcast apart from dim {dim}"
        ) from None
    data = in_bounds("take_along_dim", data, input.shape[dim], dim, negative=True)
    index_shape = with_size(common, dim, indices.shape[dim])
    data = array_module(data).broadcast_to(data, index_shape)
    spread = broadcast_to(input, with_size(common, dim, input.shape[dim]))
    return Gather.apply(spread, flat_targets(data, dim, spread.shape), index_shape)


@numpy_names
def index_select(input: Tensor, dim: int, index: Tensor) -> Tensor:  # noqa: A002
    """The slices of ``input`` along ``dim`` at ``index`` (1-D or 0-d, int64 or int32), in its order:
    input's shape with size len(index) along dim."""
    data = index_data("index_select", index)
    if data.ndim > 1:
        raise IndexingError(f"index_select: index must be a vector (1-D) or 0-d, got shape {index.shape}")
    dim = check_axis("index_select", dim, input.ndim)
    data = data.reshape(-1)
    if input.ndim == 0:
        if data.size != 1:
            raise IndexingError(f"index_select: an index into a 0-d tensor must have one value, got {data.size}")
        return gather(input, 0, Tensor(data.reshape(())))
    data = in_bounds("index_select", data, input.shape[dim], dim)
    shape = with_size(input.shape, dim, data.size)
    return Gather.apply(input, flat_targets(along(data, dim, shape), dim, input.shape), shape)


@numpy_names
def scatter(input: Tensor, dim: int, index: Tensor, src=None, reduce: str | None = None, *, value=None) -> Tensor:  # noqa: A002
    """A copy of ``input`` with ``src`` written at ``index`` along dim (the reverse of gather):
    out[index[i][j][k]][j][k] = src[i][j][k] for dim 0. ``src``: a tensor of input's dtype, at least as large
    as index, or a number (also as ``value=``). ``reduce`` "add" or "multiply" combines instead of writing."""
    if value is not None:
        src = value
    if src is None:
        raise ArgumentTypeError("scatter: give src (a tensor or a number) or value (a number)")
    if reduce is not None and reduce not in ("add", "multiply"):
        raise ArgumentError(f"scatter: reduce must be 'add' or 'multiply', got {reduce!r}")
    if isinstance(src, Tensor):
        check_same_dtype("scatter", input, src)
        targets, index_shape, _ = prepare("scatter", input, dim, index, src)
        source = src
    elif isinstance(src, Number):  # Python's and NumPy's
        targets, index_shape, _ = prepare("scatter", input, dim, index)
        if reduce is None:
            mask = array_module(input.array).zeros(input.numel(), dtype=bool)
            mask[targets] = True
            return fill_where("scatter", input, mask.reshape(input.shape), src)
        source = Tensor(array_module(input.array).full(index_shape, src, dtype=input.dtype))
    else:
        raise ArgumentTypeError(f"scatter: src must be a Tensor or a number, got {type(src).__name__}")
    used = src_used(index_shape, source)
    if reduce == "add":
        return ScatterAdd.apply(input, source, targets, used, 1)
    if reduce == "multiply":
        return ScatterReduce.apply(input, source, targets, used, "prod", True)
    return Scatter.apply(input, source, targets, used)


@numpy_names
def scatter_add(input: Tensor, dim: int, index: Tensor, src: Tensor) -> Tensor:  # noqa: A002
    """A copy of ``input`` with ``src`` added at ``index`` along dim; repeated positions add every value:
    out[index[i][j][k]][j][k] += src[i][j][k] for dim 0."""
    check_same_dtype("scatter_add", input, src)
    targets, index_shape, _ = prepare("scatter_add", input, dim, index, src)
    return ScatterAdd.apply(input, src, targets, src_used(index_shape, src), 1)


@numpy_names
def scatter_reduce(
    input: Tensor,  # noqa: A002 (PyTorch's names)
    dim: int,
    index: Tensor,
    src: Tensor,
    reduce: str,
    *,
    include_self: bool = True,
) -> Tensor:
    """A copy of ``input`` where each position ``index`` names along dim holds the ``reduce`` ("sum", "prod",
    "mean", "amax" or "amin") of the src values sent there, and of its own value if ``include_self``."""
    if reduce not in ("sum", "prod", "mean", "amax", "amin"):
        raise ArgumentError(f"scatter_reduce: reduce must be one of sum, prod, mean, amax, amin; got {reduce!r}")
    check_same_dtype("scatter_reduce", input, src)
    if reduce == "mean" and input.dtype.kind == "b":
        raise DTypeError("scatter_reduce: reduce='mean' does not take bool tensors")
    targets, index_shape, _ = prepare("scatter_reduce", input, dim, index, src)
    return ScatterReduce.apply(input, src, targets, src_used(index_shape, src), reduce, bool(include_self))


@numpy_names
def index_add(input: Tensor, dim: int, index: Tensor, source: Tensor, *, alpha=1) -> Tensor:  # noqa: A002
    """A copy of ``input`` with alpha * source's slice i added to the slice index[i] along dim (repeated
    indices add every slice). index: 1-D int64 or int32; source: input's shape with len(index) along dim."""
    data, dim = check_slices("index_add", input, dim, index, source)
    shape = input.shape or (1,)
    data = in_bounds("index_add", data, shape[dim], dim)
    targets = flat_targets(along(data, dim, source.shape or (1,)), dim, shape)
    alpha = alpha if input.dtype.kind == "f" else int(alpha)  # integer tensors add whole multiples, as PyTorch
    return ScatterAdd.apply(input, source, targets, (Ellipsis,), alpha)


@numpy_names
def index_copy(input: Tensor, dim: int, index: Tensor, source: Tensor) -> Tensor:  # noqa: A002
    """A copy of ``input`` with source's slice i written to the slice index[i] along dim (of two written to
    one slice, the last stays). index: 1-D int64; source: input's shape with len(index) along dim."""
    data, dim = check_slices("index_copy", input, dim, index, source, ("int64",))
    shape = input.shape or (1,)
    data = in_bounds("index_copy", data, shape[dim], dim)
    targets = flat_targets(along(data, dim, source.shape or (1,)), dim, shape)
    return Scatter.apply(input, source, targets, (Ellipsis,))


@numpy_names
def index_fill(input: Tensor, dim: int, index: Tensor, value) -> Tensor:  # noqa: A002
    """A copy of ``input`` with the slices at ``index`` (1-D int64, negative counting from the end) along
    dim set to ``value`` (a number or a 0-d tensor, which gets a gradient)."""
    data, dim = check_slices("index_fill", input, dim, index, None, ("int64",))
    shape = input.shape or (1,)
    data = in_bounds("index_fill", data, shape[dim], dim, negative=True)
    mask = array_module(data).zeros(shape[dim], dtype=bool)
    mask[data] = True
    mask = mask.reshape([shape[dim] if d == dim else 1 for d in range(input.ndim)])
    return fill_where("index_fill", input, mask, value)


# --- in place: the out-of-place op's values written into self (see Tensor._update) -------------------------


def _in_place(name: str, function):
    def method(self: Tensor, *args, **kwargs) -> Tensor:
        return self._update(name, lambda x: function(x, *args, **kwargs))

    method.__name__ = name
    method.__doc__ = f"In place: ``{function.__name__}``'s result written into this tensor (see Tensor._inplace)."
    return method


__all__ = [
    "gather", "take", "take_along_dim", "index_select", "scatter", "scatter_add", "scatter_reduce",
    "index_add", "index_copy", "index_fill",
    "masked_fill", "masked_select", "masked_scatter", "nonzero", "argwhere", "where_indices",
]  # fmt: skip
# The functions that are also Tensor methods, by method name (x.NAME(...) is FUNCTION(x, ...)).
METHODS: dict = {
    "gather": gather,
    "take": take,
    "take_along_dim": take_along_dim,
    "index_select": index_select,
    "scatter": scatter,
    "scatter_add": scatter_add,
    "scatter_reduce": scatter_reduce,
    "index_add": index_add,
    "index_copy": index_copy,
    "index_fill": index_fill,
    "scatter_": _in_place("scatter_", scatter),
    "scatter_add_": _in_place("scatter_add_", scatter_add),
    "scatter_reduce_": _in_place("scatter_reduce_", scatter_reduce),
    "index_add_": _in_place("index_add_", index_add),
    "index_copy_": _in_place("index_copy_", index_copy),
    "index_fill_": _in_place("index_fill_", index_fill),
    **MASKING_METHODS,
}
