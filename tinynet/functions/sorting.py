"""Sorting and order statistics along a dim: sort argsort topk kthvalue median nanmedian mode, and unique.

Every order here is a stable sort's (ties keep their original order; NaN counts as the largest value, as in
PyTorch), so equal values give reproducible indices. The ops that return values pick them from x by index
(``TakeAlong``), so the gradient flows back to the picked elements. Indices are int64. The scans' module
(``scan``) exports these functions.
"""

import builtins

import numpy as np

from kernels.numpy_ref import array_module
from tinynet import backend
from tinynet.autograd import Function
from tinynet.dtypes import int64
from tinynet.errors import ArgumentError, DTypeError
from tinynet.functions.aliases import numpy_names
from tinynet.functions.dims import ValuesIndices, check_not_empty, single_dim
from tinynet.tensor import Tensor


class TakeAlong(Function):
    """Elements of x picked by index along one axis (or from the flattened x when axis is None): the values of
    sort, topk, max(dim), cummax...

    forward:    out = x[..., indices, ...] along the axis (indices has x's shape but along that axis)
    derivative: dL/dx = zeros with dL/dout added in at the picked elements (an element picked twice adds twice)
    kernels:    scatter_add in backward; the rest is inline
    """

    @staticmethod
    def forward(ctx, x, indices, axis, shape):
        ctx.shape, ctx.indices, ctx.axis = x.shape, indices, axis
        if axis is None:
            return x.reshape(-1)[indices].reshape(shape)
        return array_module(x).take_along_axis(x, indices, axis).reshape(shape)

    @staticmethod
    def backward(ctx, grad):
        xp = array_module(grad)
        grad = grad.reshape(ctx.indices.shape)
        if ctx.axis is None:
            full = xp.zeros(int(np.prod(ctx.shape)), dtype=grad.dtype)
            backend.for_arrays(full).scatter_add(full, ctx.indices, grad)
            return full.reshape(ctx.shape), None, None, None
        full = xp.zeros(ctx.shape, dtype=grad.dtype)
        backend.for_arrays(full).scatter_add(full, _open_index(ctx.indices, ctx.axis), grad)
        return full, None, None, None


class MedianOfAll(Function):
    """The lower median of every element (NaN if any is, unless NaN elements are skipped); like max, its
    gradient is shared evenly by the elements equal to it, as in PyTorch.

    forward:    out = the element at position (n - 1) // 2 of the sorted values
    derivative: dL/dx = dL/dout shared evenly among the elements equal to out (NaN ones for a NaN median)
    kernels:    none: computed inline with the array module's calls
    """

    @staticmethod
    def forward(ctx, x, skip_nan):
        xp = array_module(x)
        ranked = xp.sort(x.reshape(-1))  # NaN last
        nan = int(xp.isnan(ranked).sum()) if x.dtype.kind == "f" else 0
        n = ranked.size
        position = (n - nan - 1) // 2 if skip_nan or not nan else n - nan
        out = ranked[builtins.max(position, 0)].reshape(())
        if ctx.needs_input_grad[0]:
            hits = (x == out) | (xp.isnan(x) & xp.isnan(out))
            ctx.share = (hits / hits.sum()).astype(x.dtype)
        return out

    @staticmethod
    def backward(ctx, grad):
        return grad * ctx.share, None


def _open_index(indices, axis: int) -> tuple:
    """The advanced index that puts ``indices`` (along ``axis``) back where they point: x[_open_index(i, a)]
    is take_along_axis(x, i, a)."""
    xp = array_module(indices)
    ndim = indices.ndim
    return tuple(
        indices if d == axis else xp.arange(n).reshape([n if e == d else 1 for e in range(ndim)])
        for d, n in enumerate(indices.shape)
    )


def inclusive_scan(combine, arrays: tuple, axis: int) -> tuple:
    """Prefix-combine ``arrays`` (same shapes) along ``axis``: position j ends up holding the combination of
    positions 0..j. ``combine(earlier, later)`` takes and returns tuples of arrays and must be associative.

    By doubling: after the step of span s every position holds its last 2s positions, so log2(n) whole-array
    steps (CuPy has no ufunc.accumulate for every op, and a Python loop over n would be slow).
    """
    xp = array_module(arrays[0])
    n, span = arrays[0].shape[axis], 1
    while span < n:
        head = [slice(None)] * arrays[0].ndim
        later, earlier, kept = list(head), list(head), list(head)
        later[axis], earlier[axis], kept[axis] = slice(span, None), slice(None, n - span), slice(None, span)
        combined = combine(tuple(a[tuple(earlier)] for a in arrays), tuple(a[tuple(later)] for a in arrays))
        arrays = tuple(xp.concatenate([a[tuple(kept)], c], axis=axis) for a, c in zip(arrays, combined))
        span *= 2
    return arrays


def stable_order(data, axis: int, descending: bool = False):
    """The int64 indices that sort ``data`` along ``axis``, ties in their original order, NaN last (first when
    descending). Descending: the ascending order of the reversed data, read backwards, keeps ties stable."""
    xp = array_module(data)
    if not descending:
        return xp.argsort(data, axis=axis, kind="stable").astype(int64)
    n = data.shape[axis]
    backwards = xp.argsort(xp.flip(data, axis), axis=axis, kind="stable")
    return (n - 1 - xp.flip(backwards, axis)).astype(int64)


def _along(op: str, x: Tensor, dim) -> tuple:
    """(data, axis) to order along: a 0-d tensor is read as one element along axis 0."""
    axis = single_dim(op, dim, x.ndim)
    return (x.array.reshape(1), 0) if axis is None else (x.array, axis)


def _picked(x: Tensor, indices, axis: int, keepdim: bool = True) -> ValuesIndices:
    """(values, indices) for ``indices`` along ``axis`` of the data ``_along`` gave, shaped for x (the picked
    axis dropped unless ``keepdim``; a 0-d x gives 0-d results)."""
    if x.ndim == 0:
        indices = indices.reshape(())
        return ValuesIndices(TakeAlong.apply(x, indices, None, ()), Tensor(indices))
    shape = indices.shape if keepdim else indices.shape[:axis] + indices.shape[axis + 1 :]
    return ValuesIndices(TakeAlong.apply(x, indices, axis, shape), Tensor(indices.reshape(shape)))


def _no_bool(op: str, x: Tensor) -> None:
    if x.dtype.kind == "b":
        raise DTypeError(f"{op}: does not take a bool tensor (as in PyTorch); convert it first, e.g. x.long()")


@numpy_names
def sort(x: Tensor, dim: int = -1, descending: bool = False, stable: bool = False) -> ValuesIndices:
    """``(values, indices)``: x sorted along ``dim``; always stable (``stable`` is accepted for PyTorch)."""
    data, axis = _along("sort", x, dim)
    return _picked(x, stable_order(data, axis, descending), axis)


@numpy_names
def argsort(x: Tensor, dim: int = -1, descending: bool = False, stable: bool = False) -> Tensor:
    """The indices that sort x along ``dim`` (int64), stable."""
    data, axis = _along("argsort", x, dim)
    order = stable_order(data, axis, descending)
    return Tensor(order.reshape(x.shape))


@numpy_names
def topk(x: Tensor, k: int, dim: int = -1, largest: bool = True, sorted: bool = True) -> ValuesIndices:  # noqa: A002
    """``(values, indices)`` of the ``k`` largest (or smallest) elements along ``dim``, in order (also when
    sorted=False)."""
    _no_bool("topk", x)
    data, axis = _along("topk", x, dim)
    n = data.shape[axis]
    if not 0 <= k <= n:
        raise ArgumentError(f"topk: k={k} is out of range for dim {dim} of size {n} (tensor of shape {x.shape})")
    order = stable_order(data, axis, descending=largest)
    return _picked(x, array_module(data).take(order, list(range(k)), axis=axis), axis)


@numpy_names
def kthvalue(x: Tensor, k: int, dim: int = -1, keepdim: bool = False) -> ValuesIndices:
    """``(values, indices)`` of the k-th smallest element along ``dim`` (k from 1)."""
    data, axis = _along("kthvalue", x, dim)
    n = data.shape[axis]
    if not 1 <= k <= n:
        raise ArgumentError(f"kthvalue: k={k} is out of range for dim {dim} of size {n} (expected 1 <= k <= {n})")
    order = stable_order(data, axis)
    return _picked(x, array_module(data).take(order, [k - 1], axis=axis), axis, keepdim)


def _median(op: str, x: Tensor, dim, keepdim: bool, skip_nan: bool):
    _no_bool(op, x)
    xp = array_module(x.array)
    if dim is None:  # the median of every element, as one value
        if x.numel() == 0:
            return Tensor(xp.full((), np.nan, dtype=x.dtype))
        return MedianOfAll.apply(x, skip_nan)
    data, axis = _along(op, x, dim)
    check_not_empty(op, data.shape, (axis,))
    n = data.shape[axis]
    order = stable_order(data, axis)
    nan = xp.isnan(data).sum(axis=axis, keepdims=True) if x.dtype.kind == "f" else xp.zeros((), dtype=int64)
    # NaN sorts last: the lower median of the others, or (PyTorch's median) the first NaN where there is one.
    position = (n - nan - 1) // 2 if skip_nan else xp.where(nan > 0, n - nan, (n - 1) // 2)
    kept = tuple(1 if a == axis else size for a, size in enumerate(data.shape))
    picked = xp.take_along_axis(order, xp.broadcast_to(xp.maximum(position, 0), kept).astype(int64), axis)
    return _picked(x, picked, axis, keepdim)


@numpy_names
def median(x: Tensor, dim=None, keepdim: bool = False):
    """The lower median of every element (dim None), or ``(values, indices)`` along ``dim``; NaN if any
    element is NaN, as in PyTorch."""
    return _median("median", x, dim, keepdim, skip_nan=False)


@numpy_names
def nanmedian(x: Tensor, dim=None, keepdim: bool = False):
    """median, leaving out NaN elements (NaN only where all are)."""
    return _median("nanmedian", x, dim, keepdim, skip_nan=True)


@numpy_names
def mode(x: Tensor, dim: int = -1, keepdim: bool = False) -> ValuesIndices:
    """``(values, indices)``: the most frequent value along ``dim`` (the smallest such on ties) and the index
    of its last occurrence, as PyTorch gives."""
    data, axis = _along("mode", x, dim)
    check_not_empty("mode", data.shape, (axis,))
    xp = array_module(data)
    order = xp.moveaxis(stable_order(data, axis), axis, -1)
    ranked = xp.take_along_axis(xp.moveaxis(data, axis, -1), order, -1)
    n = ranked.shape[-1]
    position = xp.broadcast_to(xp.arange(n), ranked.shape)
    edge = ranked[..., 1:] != ranked[..., :-1]  # a new run of equal values starts after each edge
    true = xp.ones((*ranked.shape[:-1], 1), dtype=bool)
    starts = xp.where(xp.concatenate([true, edge], -1), position, 0)
    ends = xp.where(xp.concatenate([edge, true], -1), position, n)
    (start,) = inclusive_scan(lambda a, b: (xp.maximum(a[0], b[0]),), (starts,), -1)
    (end,) = inclusive_scan(lambda a, b: (xp.minimum(a[0], b[0]),), (xp.flip(ends, -1),), -1)
    end = xp.flip(end, -1)
    best = xp.argmax(end - start, axis=-1, keepdims=True)  # the first longest run: the smallest such value
    last = xp.take_along_axis(order, xp.take_along_axis(end, best, -1), -1)  # stable: its largest index
    return _picked(x, xp.moveaxis(last, -1, axis), axis, keepdim)


def unique(x: Tensor, sorted: bool = True, return_inverse: bool = False, return_counts: bool = False,  # noqa: A002
           dim: int | None = None):  # fmt: skip
    """The distinct values of x, sorted (also for sorted=False, as PyTorch does on CPU); with
    ``return_inverse`` each element's index into them (x's shape), with ``return_counts`` how often each occurs.
    ``dim``: distinct slices along that dim instead. No gradient."""
    xp = array_module(x.array)
    axis = None if dim is None else single_dim("unique", dim, x.ndim)
    values, inverse, counts = xp.unique(x.array, return_inverse=True, return_counts=True, axis=axis)
    out = [Tensor(values)]
    if return_inverse:
        out.append(Tensor(inverse.reshape(x.shape if axis is None else -1).astype(int64)))
    if return_counts:
        out.append(Tensor(counts.astype(int64)))
    return out[0] if len(out) == 1 else tuple(out)


__all__ = ["argsort", "kthvalue", "median", "mode", "nanmedian", "sort", "topk", "unique"]  # fmt: skip
METHODS: dict = {name: globals()[name] for name in __all__}
