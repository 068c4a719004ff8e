"""Reductions and their gradients: sum mean prod amax amin max min logsumexp, nansum nanmean, var std
(``moments``), the logical any all count_nonzero and argmax argmin (no gradients).

``dim`` is None (every axis), an int, or a tuple or list of ints (``tinynet.functions.dims``); ``keepdim`` keeps
reduced axes as size 1; ``axis=``/``keepdims=`` work too, as in PyTorch. A reduction's backward spreads the
output gradient back over the axes it reduced. Integer and bool tensors sum and multiply in int64, as in
PyTorch; mean, var and std refuse them.
"""

import numpy as np

from kernels.numpy_ref import array_module
from tinynet.amp_policy import autocast_op
from tinynet.autograd import Function
from tinynet.dtypes import int64, uint8
from tinynet.errors import DTypeError
from tinynet.functions.aliases import numpy_names
from tinynet.functions.dims import (  # (normalize_dims: the shape and activation ops import it from here)
    ValuesIndices,
    check_not_empty,
    drop_axes,
    expand_back,
    keep_shape,
    normalize_dims,
    reduced_count,
    reduction_axes,
    single_dim,
)
from tinynet.functions.elementwise import cast, floating, maximum, minimum
from tinynet.functions.moments import linalg_norm, norm, std, var, vector_norm  # noqa: F401 (linalg's names)
from tinynet.functions.sorting import TakeAlong
from tinynet.tensor import Tensor


class Sum(Function):
    """The sum over some axes.

    forward:    out = Σ x over the axes
    derivative: dL/dx = dL/dout broadcast back over the summed axes
    kernels:    none: computed inline with the array module's calls
    """

    @staticmethod
    def forward(ctx, x, axes, keepdim):
        ctx.shape, ctx.axes, ctx.keepdim = x.shape, axes, keepdim
        return x.sum(axis=axes, keepdims=keepdim)

    @staticmethod
    def backward(ctx, grad):
        return expand_back(grad, ctx.shape, ctx.axes, ctx.keepdim), None, None


class NanSum(Function):
    """The sum over some axes with NaN counted as zero.

    forward:    out = Σ x over the axes, NaN elements left out
    derivative: dL/dx = dL/dout broadcast back, times 0 at the NaN elements
    kernels:    none: computed inline with the array module's calls
    """

    @staticmethod
    def forward(ctx, x, axes, keepdim):
        xp = array_module(x)
        ctx.present = ~xp.isnan(x)
        ctx.axes, ctx.keepdim = axes, keepdim
        return xp.where(ctx.present, x, 0).sum(axis=axes, keepdims=keepdim)

    @staticmethod
    def backward(ctx, grad):
        # Multiplied, not selected: an inf upstream (nanmean of only NaN) gives NaN, as in PyTorch.
        return expand_back(grad, ctx.present.shape, ctx.axes, ctx.keepdim) * ctx.present, None, None


class Mean(Function):
    """The mean over some axes (NaN over an empty axis, as in PyTorch).

    forward:    out = Σ x / count over the axes
    derivative: dL/dx = dL/dout / count, broadcast back
    kernels:    none: computed inline with the array module's calls
    """

    @staticmethod
    def forward(ctx, x, axes, keepdim):
        ctx.shape, ctx.axes, ctx.keepdim = x.shape, axes, keepdim
        ctx.count = reduced_count(x.shape, axes)
        if ctx.count == 0:  # NumPy would warn "mean of empty slice"; PyTorch quietly gives NaN
            shape = keep_shape(x.shape, axes)
            return drop_axes(array_module(x).full(shape, np.nan, dtype=x.dtype), axes, keepdim)
        return x.mean(axis=axes, keepdims=keepdim)

    @staticmethod
    def backward(ctx, grad):
        # An empty input has an empty gradient: the count only guards the division.
        return expand_back(grad / (ctx.count or 1), ctx.shape, ctx.axes, ctx.keepdim), None, None


class Prod(Function):
    """The product over some axes; its gradient is exact with zeros in the input.

    forward:    out = Π x over the axes
    derivative: dL/dx_i = dL/dout · Π_{j≠i} x_j: out / x_i without zeros; with one zero, only that element
                gets the product of the others; with two or more, every element gets 0
    kernels:    none: computed inline with the array module's calls
    """

    @staticmethod
    def forward(ctx, x, axes, keepdim):
        ctx.save_for_backward(x)
        ctx.axes, ctx.keepdim = axes, keepdim
        return x.prod(axis=axes, keepdims=keepdim)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved
        xp = array_module(x)
        is_zero = x == 0
        zeros = is_zero.sum(axis=ctx.axes, keepdims=True)
        nonzero = xp.where(is_zero, 1, x)
        others = nonzero.prod(axis=ctx.axes, keepdims=True)  # the product of the nonzero elements
        alone = xp.where(is_zero & (zeros == 1), others, 0)  # a lone zero gets the product of the rest
        share = xp.where(zeros == 0, others / nonzero, alone)
        return expand_back(grad, x.shape, ctx.axes, ctx.keepdim) * share, None, None


class Extremum(Function):
    """max or min over axes (amax, amin); the gradient goes to the extreme elements, split evenly among ties.

    forward:    out = max (or min) of x over the axes
    derivative: dL/dx = dL/dout shared evenly among the elements equal to the extreme, 0 elsewhere
    kernels:    none: computed inline with the array module's calls
    """

    @staticmethod
    def forward(ctx, x, axes, keepdim, largest):
        out = x.max(axis=axes, keepdims=True) if largest else x.min(axis=axes, keepdims=True)
        if ctx.needs_input_grad[0]:
            hits = x == out
            if x.dtype.kind == "f":  # a NaN extreme is each NaN element, as in PyTorch
                xp = array_module(x)
                hits |= xp.isnan(x) & xp.isnan(out)
            ctx.share = (hits / hits.sum(axis=axes, keepdims=True)).astype(x.dtype)
        ctx.axes, ctx.keepdim = axes, keepdim
        return drop_axes(out, axes, keepdim)

    @staticmethod
    def backward(ctx, grad):
        return expand_back(grad, ctx.share.shape, ctx.axes, ctx.keepdim) * ctx.share, None, None, None


class LogSumExp(Function):
    """log Σ exp(x) over axes, computed stably (the largest element is taken out before exp).

    forward:    out = m + log Σ exp(x - m), m = max x over the axes (0 where it is infinite)
    derivative: dL/dx = dL/dout · exp(x - out) (the softmax of x over the axes)
    kernels:    none: computed inline with the array module's calls
    """

    @staticmethod
    def forward(ctx, x, axes, keepdim):
        xp = array_module(x)
        if x.size:
            top = x.max(axis=axes, keepdims=True)
            top = xp.where(xp.isfinite(top), top, 0)  # all -inf (or an inf) must not give inf - inf = NaN here
        else:
            top = xp.zeros(keep_shape(x.shape, axes), dtype=x.dtype)
        with np.errstate(divide="ignore"):  # log 0 = -inf: the sum over an empty axis, or of exp(-inf)
            out = xp.log(xp.exp(x - top).sum(axis=axes, keepdims=True)) + top
        ctx.save_for_backward(x, out)
        ctx.axes, ctx.keepdim = axes, keepdim
        return drop_axes(out, axes, keepdim)

    @staticmethod
    def backward(ctx, grad):
        x, out = ctx.saved
        with np.errstate(invalid="ignore"):  # -inf - -inf: NaN, as PyTorch's gradient there
            softmax = array_module(x).exp(x - out)
        return expand_back(grad, x.shape, ctx.axes, ctx.keepdim) * softmax, None, None


def _accumulating(x: Tensor, dtype) -> Tensor:
    """x in the dtype a sum or product accumulates in: ``dtype`` when given (PyTorch casts the input first),
    int64 for integer and bool tensors (PyTorch's rule, so that int8 sums do not overflow), else x's own."""
    if dtype is not None:
        return cast(x, dtype)
    return cast(x, int64) if x.dtype.kind in "biu" else x


def _floating_only(op: str, x: Tensor) -> None:
    if x.dtype.kind != "f":
        raise DTypeError(
            f"{op}: expected a floating-point tensor, got {x.dtype} (PyTorch cannot infer a floating output dtype "
            "here either); convert it first, e.g. x.float(), or pass dtype=tn.float32"
        )


@numpy_names
@autocast_op("sum")
def sum(x: Tensor, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:  # noqa: A001 (PyTorch's name)
    """The sum over ``dim`` (all elements when None or ()); integers and bools sum in int64."""
    x = _accumulating(x, dtype)
    return Sum.apply(x, reduction_axes("sum", dim, x.ndim), keepdim)


@numpy_names
def mean(x: Tensor, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """The mean over ``dim`` (all elements when None or ()); floating-point only unless ``dtype`` is given."""
    if dtype is not None:
        x = cast(x, dtype)
    _floating_only("mean", x)
    return Mean.apply(x, reduction_axes("mean", dim, x.ndim), keepdim)


@numpy_names
def nansum(x: Tensor, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """The sum over ``dim`` with NaN counted as zero (no gradient flows to the NaN elements)."""
    x = _accumulating(x, dtype)
    axes = reduction_axes("nansum", dim, x.ndim)
    return NanSum.apply(x, axes, keepdim) if x.dtype.kind == "f" else Sum.apply(x, axes, keepdim)


@numpy_names
def nanmean(x: Tensor, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """The mean over ``dim`` of the elements that are not NaN (NaN where all are)."""
    if dtype is not None:
        x = cast(x, dtype)
    _floating_only("nanmean", x)
    axes = reduction_axes("nanmean", dim, x.ndim)
    present = ~array_module(x.array).isnan(x.array)
    count = Tensor(present.sum(axis=axes, keepdims=keepdim).astype(x.dtype))
    with np.errstate(invalid="ignore"):  # 0 / 0 where every element is NaN: NaN, as in PyTorch
        return nansum(x, axes, keepdim) / count


@numpy_names
@autocast_op("prod")
def prod(x: Tensor, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """The product over one ``dim`` (all elements when None); integers and bools multiply in int64."""
    axis = None if dim is None else single_dim("prod", dim, x.ndim)
    x = _accumulating(x, dtype)
    return Prod.apply(x, None if axis is None else (axis,), keepdim)


@numpy_names
def amax(x: Tensor, dim=(), keepdim: bool = False) -> Tensor:
    """The largest value over ``dim`` (all elements when None or ()); ties share the gradient evenly."""
    axes = reduction_axes("amax", dim, x.ndim)
    check_not_empty("amax", x.shape, axes)
    return Extremum.apply(x, axes, keepdim, True)


@numpy_names
def amin(x: Tensor, dim=(), keepdim: bool = False) -> Tensor:
    """The smallest value over ``dim`` (all elements when None or ()); ties share the gradient evenly."""
    axes = reduction_axes("amin", dim, x.ndim)
    check_not_empty("amin", x.shape, axes)
    return Extremum.apply(x, axes, keepdim, False)


def _extreme_along(op: str, x: Tensor, dim, keepdim: bool, largest: bool) -> ValuesIndices:
    """max(x, dim) / min(x, dim): the values with the indices of their first occurrence; the gradient goes
    to that one element, as in PyTorch."""
    axis = single_dim(op, dim, x.ndim)
    check_not_empty(op, x.shape, None if axis is None else (axis,))
    if axis is None:  # a 0-d tensor: its one element
        return ValuesIndices(TakeAlong.apply(x, array_module(x.array).zeros((), dtype=int64), None, ()), _zero(x))
    picked = (x.array.argmax if largest else x.array.argmin)(axis=axis, keepdims=True).astype(int64)
    shape = picked.shape if keepdim else picked.shape[:axis] + picked.shape[axis + 1 :]
    return ValuesIndices(TakeAlong.apply(x, picked, axis, shape), Tensor(picked.reshape(shape)))


@numpy_names
def max(x: Tensor, dim=None, keepdim: bool = False, *, other: Tensor | None = None):  # noqa: A001 (PyTorch's name)
    """The largest element (dim None); ``(values, indices)`` along ``dim``; or, given a tensor instead of a
    dim (``max(a, b)``), the elementwise ``maximum``: PyTorch's three overloads."""
    if isinstance(dim, Tensor) or other is not None:
        return maximum(x, other if other is not None else dim)
    if dim is None:
        check_not_empty("max", x.shape, None)
        return Extremum.apply(x, None, False, True)
    return _extreme_along("max", x, dim, keepdim, True)


@numpy_names
def min(x: Tensor, dim=None, keepdim: bool = False, *, other: Tensor | None = None):  # noqa: A001 (PyTorch's name)
    """The smallest element (dim None); ``(values, indices)`` along ``dim``; or the elementwise ``minimum``
    of two tensors."""
    if isinstance(dim, Tensor) or other is not None:
        return minimum(x, other if other is not None else dim)
    if dim is None:
        check_not_empty("min", x.shape, None)
        return Extremum.apply(x, None, False, False)
    return _extreme_along("min", x, dim, keepdim, False)


def _arg_extreme(op: str, x: Tensor, dim, keepdim: bool, largest: bool) -> Tensor:
    if x.dtype.kind == "b":
        raise DTypeError(f"{op}: does not take a bool tensor (as in PyTorch); convert it first, e.g. x.long()")
    axis = None if dim is None else single_dim(op, dim, x.ndim)
    check_not_empty(op, x.shape, None if axis is None else (axis,))
    found = (x.array.argmax if largest else x.array.argmin)(axis=axis, keepdims=keepdim and axis is not None)
    found = array_module(x.array).asarray(found).astype(int64)
    if keepdim and axis is None:  # PyTorch keeps every axis, each of size 1
        found = found.reshape((1,) * x.ndim)
    return Tensor(found)


@numpy_names
def argmax(x: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """The index of the (first) largest element, over the flattened tensor when dim is None. No gradient."""
    return _arg_extreme("argmax", x, dim, keepdim, True)


@numpy_names
def argmin(x: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """The index of the (first) smallest element, over the flattened tensor when dim is None. No gradient."""
    return _arg_extreme("argmin", x, dim, keepdim, False)


@numpy_names
def logsumexp(x: Tensor, dim, keepdim: bool = False) -> Tensor:
    """log Σ exp(x) over ``dim``, without overflow; integers compute in the default float dtype."""
    x = floating(x)
    return LogSumExp.apply(x, reduction_axes("logsumexp", dim, x.ndim), keepdim)


def _logical(op: str, x: Tensor, dim, keepdim: bool) -> Tensor:
    # dim=() reduces nothing here (PyTorch's any/all), unlike sum's dim=().
    axes = normalize_dims(op, dim, x.ndim)
    data = x.array
    xp = array_module(data)
    out = xp.asarray((xp.any if op == "any" else xp.all)(data, axis=axes, keepdims=keepdim))
    if keepdim and axes is None:
        out = out.reshape((1,) * x.ndim)
    return Tensor(out.astype(uint8) if x.dtype == uint8 else out)  # uint8 stays uint8, as in PyTorch


@numpy_names
def any(x: Tensor, dim=None, keepdim: bool = False) -> Tensor:  # noqa: A001 (PyTorch's name)
    """Whether any element over ``dim`` is nonzero (bool; False over an empty axis). No gradient."""
    return _logical("any", x, dim, keepdim)


@numpy_names
def all(x: Tensor, dim=None, keepdim: bool = False) -> Tensor:  # noqa: A001 (PyTorch's name)
    """Whether every element over ``dim`` is nonzero (bool; True over an empty axis). No gradient."""
    return _logical("all", x, dim, keepdim)


@numpy_names
def count_nonzero(x: Tensor, dim=None) -> Tensor:
    """How many elements over ``dim`` are nonzero (int64). No gradient."""
    axes = reduction_axes("count_nonzero", dim, x.ndim)
    return Tensor(array_module(x.array).asarray((x.array != 0).sum(axis=axes)).astype(int64))


@numpy_names
def var_mean(x: Tensor, dim=None, unbiased: bool | None = None, keepdim: bool = False, *, correction=None):
    """``(var, mean)`` over ``dim``, as ``torch.var_mean``."""
    if isinstance(dim, bool):  # var_mean(x, False): PyTorch's older unbiased flag in dim's place
        dim, unbiased = None, dim
    return var(x, dim, unbiased, keepdim, correction=correction, op="var_mean"), mean(x, dim, keepdim)


@numpy_names
def std_mean(x: Tensor, dim=None, unbiased: bool | None = None, keepdim: bool = False, *, correction=None):
    """``(std, mean)`` over ``dim``, as ``torch.std_mean``."""
    if isinstance(dim, bool):
        dim, unbiased = None, dim
    return std(x, dim, unbiased, keepdim, correction=correction, op="std_mean"), mean(x, dim, keepdim)


def _zero(x: Tensor) -> Tensor:
    return Tensor(array_module(x.array).zeros((), dtype=int64))


__all__ = ["all", "amax", "amin", "any", "argmax", "argmin", "count_nonzero", "logsumexp", "max", "mean", "min",
           "nanmean", "nansum", "norm", "prod", "std", "std_mean", "sum", "var", "var_mean"]  # fmt: skip
# The functions that are also Tensor methods, by method name (x.NAME(...) is FUNCTION(x, ...)).
METHODS: dict = {name: globals()[name] for name in __all__}
