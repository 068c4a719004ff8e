"""Reductions (sum, mean, max, min, var, std) and their gradients, plus argmax/argmin.

``dim`` is None (every axis), an int, or a tuple of ints; ``keepdim`` keeps reduced axes as size 1.
A reduction's backward spreads the output gradient back over the axes it reduced.
"""

from collections import namedtuple

from kernels.numpy_ref import array_module
from tinynet.autograd import Function
from tinynet.errors import ArgumentTypeError, ShapeError
from tinynet.tensor import Tensor


def normalize_dims(op: str, dim, ndim: int) -> tuple[int, ...] | None:
    """``dim`` as a tuple of non-negative axes (None for all), checked against ``ndim``."""
    if dim is None:
        return None
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    limit = ndim or 1  # a 0-d tensor accepts dim 0 or -1, as in PyTorch
    for d in dims:
        if not -limit <= d < limit:
            raise ShapeError(f"{op}: dim {d} is out of range for a tensor with {ndim} dimensions")
    axes = sorted(d % limit for d in dims)
    if len(set(axes)) != len(axes):
        raise ShapeError(f"{op}: dims {dims} name the same axis twice (for a tensor with {ndim} dimensions)")
    return tuple(axes) if ndim else None


def single_dim(op: str, dim, ndim: int) -> int | None:
    """``dim`` as one non-negative axis (None for a 0-d tensor); ops that return indices take one dim."""
    if not isinstance(dim, int):
        raise ArgumentTypeError(f"{op}: dim must be a single int, got {dim!r}")
    axes = normalize_dims(op, dim, ndim)
    return None if axes is None else axes[0]


def expand_back(grad, shape: tuple, axes: tuple | None, keepdim: bool):
    """Broadcast a reduction's output gradient back to the input's ``shape``."""
    xp = array_module(grad)
    if not keepdim:
        grad = xp.reshape(grad, [1] * len(shape)) if axes is None else xp.expand_dims(grad, axes)
    return xp.broadcast_to(grad, shape)


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


class Mean(Function):
    """The mean over some axes.

    forward:    out = Σ x / count over the axes
    derivative: dL/dx = dL/dout / count, broadcast back
    kernels:    none: computed inline with the array module's calls
    """

    @staticmethod
    def forward(ctx, x, axes, keepdim):
        ctx.shape, ctx.axes, ctx.keepdim = x.shape, axes, keepdim
        out = x.mean(axis=axes, keepdims=keepdim)
        ctx.count = x.size // out.size if out.size else 1
        return out

    @staticmethod
    def backward(ctx, grad):
        return expand_back(grad / ctx.count, ctx.shape, ctx.axes, ctx.keepdim), None, None


class Extremum(Function):
    """max or min over axes; the gradient goes to the extreme elements, split evenly among ties.

    forward:    out = max (or min) of x over the axes
    derivative: dL/dx = dL/dout shared evenly among the elements equal to the extreme, 0 elsewhere
    kernels:    none: computed inline with the array module's calls
    """

    @staticmethod
    def forward(ctx, x, axes, keepdim, largest):
        out = x.max(axis=axes, keepdims=True) if largest else x.min(axis=axes, keepdims=True)
        hits = x == out
        ctx.share = hits / hits.sum(axis=axes, keepdims=True)
        ctx.axes, ctx.keepdim = axes, keepdim
        if keepdim:
            return out
        return out.reshape(()) if axes is None else out.squeeze(axis=axes)

    @staticmethod
    def backward(ctx, grad):
        grad = expand_back(grad, ctx.share.shape, ctx.axes, ctx.keepdim)
        return (grad * ctx.share).astype(grad.dtype, copy=False), None, None, None


def sum(x: Tensor, dim=None, keepdim: bool = False) -> Tensor:  # noqa: A001 (PyTorch's name)
    """The sum over ``dim`` (all elements when None)."""
    return Sum.apply(x, normalize_dims("sum", dim, x.ndim), keepdim)


def mean(x: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """The mean over ``dim`` (all elements when None)."""
    return Mean.apply(x, normalize_dims("mean", dim, x.ndim), keepdim)


def amax(x: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """The largest value over ``dim`` (all elements when None)."""
    _check_not_empty("amax", x)
    return Extremum.apply(x, normalize_dims("amax", dim, x.ndim), keepdim, True)


def amin(x: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """The smallest value over ``dim`` (all elements when None)."""
    _check_not_empty("amin", x)
    return Extremum.apply(x, normalize_dims("amin", dim, x.ndim), keepdim, False)


ValuesIndices = namedtuple("ValuesIndices", ["values", "indices"])


def max(x: Tensor, dim: int | None = None, keepdim: bool = False):  # noqa: A001 (PyTorch's name)
    """The largest element (dim None), or, as in PyTorch, ``(values, indices)`` along ``dim``."""
    if dim is None:
        return amax(x)
    single_dim("max", dim, x.ndim)
    return ValuesIndices(amax(x, dim, keepdim), argmax(x, dim, keepdim))


def min(x: Tensor, dim: int | None = None, keepdim: bool = False):  # noqa: A001 (PyTorch's name)
    """The smallest element (dim None), or, as in PyTorch, ``(values, indices)`` along ``dim``."""
    if dim is None:
        return amin(x)
    single_dim("min", dim, x.ndim)
    return ValuesIndices(amin(x, dim, keepdim), argmin(x, dim, keepdim))


def var(x: Tensor, dim=None, keepdim: bool = False, correction: int = 1, *, op: str = "var") -> Tensor:
    """The variance over ``dim``: sum((x - mean)^2) / (n - correction); correction=1 is unbiased."""
    axes = normalize_dims(op, dim, x.ndim)
    n = x.numel() if axes is None else _count(x.shape, axes)
    centered = x - mean(x, axes, keepdim=True)
    return sum(centered * centered, axes, keepdim) / (n - correction)


def std(x: Tensor, dim=None, keepdim: bool = False, correction: int = 1) -> Tensor:
    """The standard deviation over ``dim``: sqrt(var)."""
    return var(x, dim, keepdim, correction, op="std") ** 0.5


def argmax(x: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """The index of the largest element (over the flattened tensor when dim is None). No gradient."""
    _check_not_empty("argmax", x)
    axis = None if dim is None else single_dim("argmax", dim, x.ndim)
    return Tensor(array_module(x.data).asarray(x.data.argmax(axis=axis, keepdims=keepdim and axis is not None)))


def argmin(x: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """The index of the smallest element (over the flattened tensor when dim is None). No gradient."""
    _check_not_empty("argmin", x)
    axis = None if dim is None else single_dim("argmin", dim, x.ndim)
    return Tensor(array_module(x.data).asarray(x.data.argmin(axis=axis, keepdims=keepdim and axis is not None)))


def _count(shape: tuple, axes: tuple) -> int:
    n = 1
    for a in axes:
        n *= shape[a]
    return n


def _check_not_empty(op: str, x: Tensor) -> None:
    if x.numel() == 0:
        raise ShapeError(f"{op}: the tensor of shape {x.shape} is empty; it has no extreme element")


__all__ = ["amax", "amin", "argmax", "argmin", "max", "mean", "min", "std", "sum", "var"]  # fmt: skip
# The functions that are also Tensor methods, by method name (x.NAME(...) is FUNCTION(x, ...)).
METHODS: dict = {
    "sum": sum,
    "mean": mean,
    "max": max,
    "min": min,
    "amax": amax,
    "amin": amin,
    "var": var,
    "std": std,
    "argmax": argmax,
    "argmin": argmin,
}
