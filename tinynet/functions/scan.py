"""Scans along a dim: cumsum cumprod cummax cummin logcumsumexp, and (from ``sorting``) sort argsort topk
kthvalue median nanmedian mode unique.

Position j of a scan's output combines x's positions 0..j along the dim. A 0-d tensor takes dim 0 or -1 and
is its own scan. cumsum and cumprod of integers and bools give int64, as in PyTorch.
"""

import numpy as np

from kernels.numpy_ref import array_module
from tinynet.amp_policy import autocast_op
from tinynet.autograd import Function
from tinynet.dtypes import int64
from tinynet.errors import DTypeError
from tinynet.functions import sorting
from tinynet.functions.aliases import numpy_names
from tinynet.functions.dims import ValuesIndices, single_dim
from tinynet.functions.elementwise import cast
from tinynet.functions.sorting import (  # noqa: F401 (sorting's functions are exported from here)
    TakeAlong,
    argsort,
    inclusive_scan,
    kthvalue,
    median,
    mode,
    nanmedian,
    sort,
    topk,
    unique,
)
from tinynet.tensor import Tensor


def _reversed_cumsum(a, axis: int):
    """Σ over positions j >= i, at each i."""
    xp = array_module(a)
    return xp.flip(xp.cumsum(xp.flip(a, axis), axis=axis), axis)


def _lined_up(array, axis):
    """``array`` with the scanned axis last (a 0-d array as one element)."""
    return array.reshape(1) if axis is None else array_module(array).moveaxis(array, axis, -1)


def _put_back(array, axis, shape):
    return array.reshape(shape) if axis is None else array_module(array).moveaxis(array, -1, axis)


class CumSum(Function):
    """The running sum along an axis.

    forward:    out_j = Σ_{i<=j} x_i
    derivative: dL/dx_i = Σ_{j>=i} dL/dout_j (the running sum from the end)
    kernels:    none: computed inline with the array module's calls
    """

    @staticmethod
    def forward(ctx, x, axis):
        ctx.axis, ctx.shape = axis, x.shape
        return _put_back(array_module(x).cumsum(_lined_up(x, axis), axis=-1), axis, x.shape)

    @staticmethod
    def backward(ctx, grad):
        return _put_back(_reversed_cumsum(_lined_up(grad, ctx.axis), -1), ctx.axis, ctx.shape), None


class CumProd(Function):
    """The running product along an axis; its gradient is exact with zeros in the input.

    forward:    out_j = Π_{i<=j} x_i
    derivative: dL/dx_i = Σ_{j>=i} dL/dout_j · Π_{k<=j, k≠i} x_k: (Σ_{j>=i} dL/dout_j out_j) / x_i before the
                first zero; at the first zero z, out_{z-1} Σ_{j>=z} dL/dout_j Π_{z<k<=j} x_k; 0 after it
    kernels:    none: computed inline with the array module's calls
    """

    @staticmethod
    def forward(ctx, x, axis):
        out = _put_back(array_module(x).cumprod(_lined_up(x, axis), axis=-1), axis, x.shape)
        ctx.save_for_backward(x, out)
        ctx.axis = axis
        return out

    @staticmethod
    def backward(ctx, grad):
        x, out = ctx.saved
        if x.size == 0:
            return array_module(x).zeros_like(x), None
        axis = ctx.axis
        x, out, grad = _lined_up(x, axis), _lined_up(out, axis), _lined_up(grad, axis)
        xp, n = array_module(x), x.shape[-1]
        position = xp.arange(n)
        is_zero = x == 0
        first = xp.where(is_zero.any(-1, keepdims=True), xp.argmax(is_zero, -1, keepdims=True), n)
        before = _reversed_cumsum(grad * out, -1) / xp.where(is_zero, 1, x)
        previous = xp.take_along_axis(out, xp.maximum(first - 1, 0), -1)
        previous = xp.where(first == 0, 1, previous)  # the product before the first zero (1 if it comes first)
        after = xp.cumprod(xp.where(position <= first, 1, x), -1)  # Π_{z<k<=j} x_k for j >= z
        at_zero = previous * xp.where(position >= first, grad * after, 0).sum(-1, keepdims=True)
        total = xp.where(position < first, before, 0) + xp.where(position == first, at_zero, 0)
        return _put_back(total, axis, ctx.saved[0].shape), None


class LogCumSumExp(Function):
    """log Σ_{i<=j} exp(x_i) along an axis, stably (pairwise log-add-exp, never exp of a large number).

    forward:    out_j = log Σ_{i<=j} exp(x_i)
    derivative: dL/dx_i = Σ_{j>=i} dL/dout_j exp(x_i - out_j), summed in log space for the positive and the
                negative parts of dL/dout separately
    kernels:    none: computed inline with the array module's calls
    """

    @staticmethod
    def forward(ctx, x, axis):
        xp = array_module(x)
        (out,) = inclusive_scan(lambda a, b: (xp.logaddexp(a[0], b[0]),), (_lined_up(x, axis),), -1)
        out = _put_back(out, axis, x.shape)
        ctx.save_for_backward(x, out)
        ctx.axis = axis
        return out

    @staticmethod
    def backward(ctx, grad):
        x, out = ctx.saved
        x, out, grad = _lined_up(x, ctx.axis), _lined_up(out, ctx.axis), _lined_up(grad, ctx.axis)
        xp = array_module(x)

        def log_tail(values):  # log Σ_{j>=i} values_j exp(-out_j), for values >= 0
            with np.errstate(divide="ignore"):
                terms = xp.flip(xp.log(values) - out, -1)
            (tail,) = inclusive_scan(lambda a, b: (xp.logaddexp(a[0], b[0]),), (terms,), -1)
            return xp.flip(tail, -1)

        with np.errstate(invalid="ignore", over="ignore"):
            total = xp.exp(x + log_tail(xp.maximum(grad, 0))) - xp.exp(x + log_tail(xp.maximum(-grad, 0)))
        return _put_back(total.astype(grad.dtype), ctx.axis, ctx.saved[0].shape), None


@numpy_names
@autocast_op("cumsum")
def cumsum(x: Tensor, dim: int, *, dtype=None) -> Tensor:
    """The running sum along ``dim``; integers and bools give int64 unless ``dtype`` says otherwise."""
    axis = single_dim("cumsum", dim, x.ndim)
    x = cast(x, dtype) if dtype is not None else cast(x, int64) if x.dtype.kind in "biu" else x
    return CumSum.apply(x, axis)


@numpy_names
@autocast_op("cumprod")
def cumprod(x: Tensor, dim: int, *, dtype=None) -> Tensor:
    """The running product along ``dim``; integers and bools give int64 unless ``dtype`` says otherwise."""
    axis = single_dim("cumprod", dim, x.ndim)
    x = cast(x, dtype) if dtype is not None else cast(x, int64) if x.dtype.kind in "biu" else x
    return CumProd.apply(x, axis)


@numpy_names
def logcumsumexp(x: Tensor, dim: int) -> Tensor:
    """log of the running sum of exp(x) along ``dim``, without overflow; floating-point only, as in PyTorch."""
    axis = single_dim("logcumsumexp", dim, x.ndim)
    if x.dtype.kind != "f":
        raise DTypeError(f"logcumsumexp: expected a floating-point tensor, got {x.dtype}; convert it, e.g. x.float()")
    return LogCumSumExp.apply(x, axis)


def _running_extreme(op: str, x: Tensor, dim, largest: bool) -> ValuesIndices:
    """(values, indices) of the running max (min): a later element takes over when it ties or beats the
    running one, or is NaN (NaN wins from then on), as in PyTorch."""
    axis = single_dim(op, dim, x.ndim)
    lined = _lined_up(x.array, axis)
    xp = array_module(lined)
    beats = xp.greater_equal if largest else xp.less_equal

    def combine(earlier, later):
        takes = beats(later[0], earlier[0])
        if lined.dtype.kind == "f":
            takes = takes | xp.isnan(later[0])
        return xp.where(takes, later[0], earlier[0]), xp.where(takes, later[1], earlier[1])

    start = xp.broadcast_to(xp.arange(lined.shape[-1], dtype=int64), lined.shape)
    _, indices = inclusive_scan(combine, (lined, start), -1)
    if axis is None:
        indices = indices.reshape(())
        return ValuesIndices(TakeAlong.apply(x, indices, None, ()), Tensor(indices))
    indices = xp.ascontiguousarray(_put_back(indices, axis, x.shape))
    return ValuesIndices(TakeAlong.apply(x, indices, axis, x.shape), Tensor(indices))


@numpy_names
def cummax(x: Tensor, dim: int) -> ValuesIndices:
    """``(values, indices)``: the running maximum along ``dim`` and where it was found."""
    return _running_extreme("cummax", x, dim, True)


@numpy_names
def cummin(x: Tensor, dim: int) -> ValuesIndices:
    """``(values, indices)``: the running minimum along ``dim`` and where it was found."""
    return _running_extreme("cummin", x, dim, False)


__all__ = ["cummax", "cummin", "cumprod", "cumsum", "logcumsumexp", *sorting.__all__]  # fmt: skip
METHODS: dict = {"cummax": cummax, "cummin": cummin, "cumprod": cumprod, "cumsum": cumsum,
                 "logcumsumexp": logcumsumexp, **sorting.METHODS}  # fmt: skip
