"""Spread and size over some axes: var std (with PyTorch's ``correction``) and the vector norms.

var and std divide the sum of squared deviations by max(0, n - correction): PyTorch's inf (or NaN for no spread)
when correction reaches the count, NaN over an empty axis. They compute in float64 for narrower floats, so that
float32 squares do not overflow (std of [1e20, -1e20, 0] is 1e20, as in PyTorch). The reductions' module
(``reduce``) exports these functions.
"""

import math

import numpy as np

from kernels.numpy_ref import array_module
from tinynet.amp_policy import autocast_op
from tinynet.autograd import Function
from tinynet.errors import ArgumentError, DTypeError
from tinynet.functions.aliases import numpy_names
from tinynet.functions.dims import (
    check_not_empty,
    drop_axes,
    expand_back,
    keep_shape,
    reduced_count,
    reduction_axes,
)
from tinynet.functions.elementwise import cast
from tinynet.tensor import Tensor

# Whole-array sums of squares go in rows of this many numbers: einsum adds along a row in a few running sums, so rows
# keep its rounding near NumPy's pairwise sum's, and the rows' sums are then added pairwise.
_ROW = 4096
_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def sum_of_squares(x, axes: tuple | None):
    """Σ x² over ``axes`` (None: every axis), the reduced axes kept with size 1: one pass over x by the array
    module's einsum, with no x * x made (float32 (4096, 256) over its rows: 1.26 ms as (x * x).sum, 0.19 as this).
    Small tensors, other dtypes, and tensors of more dims than letters, as (x * x).sum."""
    if x.size <= _ROW or x.dtype.char not in "fd" or x.ndim > len(_LETTERS):
        # small: the squares' array costs less than einsum's setup (a loss of 4 numbers: 1.2 against 3.3 us)
        return (x * x).sum(axis=axes, keepdims=True)
    xp = array_module(x)
    if axes is None or len(axes) == x.ndim:
        flat = x.reshape(-1)
        whole = flat.size - flat.size % _ROW
        rows = flat[:whole].reshape(-1, _ROW)
        total = xp.einsum("ij,ij->i", rows, rows).sum() + xp.einsum("i,i->", flat[whole:], flat[whole:])
        return total.reshape((1,) * x.ndim)
    letters = _LETTERS[: x.ndim]
    out = "".join(c for i, c in enumerate(letters) if i not in axes)
    return xp.einsum(f"{letters},{letters}->{out}", x, x).reshape(keep_shape(x.shape, axes))


def p_norm(x, p: float, axes: tuple | None):
    """The p-norm of array x over ``axes`` (None: every axis), the reduced axes kept with size 1: the largest |x| for
    inf (the smallest for -inf; 0 over no values), the count of non-zeros for 0, else (Σ |x|^p)^(1/p), the 2-norm by
    sum_of_squares. A norm beyond the dtype's range is inf, as in PyTorch. (torch.norm's, the distances', and
    clip_grad_norm_'s.)"""
    xp = array_module(x)
    if math.isinf(p):
        if x.size == 0:
            return xp.zeros(keep_shape(x.shape, axes), dtype=x.dtype)
        size = xp.abs(x)
        return size.max(axis=axes, keepdims=True) if p > 0 else size.min(axis=axes, keepdims=True)
    if p == 0:
        return (x != 0).sum(axis=axes, keepdims=True).astype(x.dtype)
    if p == 1:
        return xp.abs(x).sum(axis=axes, keepdims=True)
    with np.errstate(over="ignore"):
        if p == 2:
            return xp.sqrt(sum_of_squares(x, axes))
        return (xp.abs(x) ** p).sum(axis=axes, keepdims=True) ** (1 / p)


def _deviations(x, axes):
    """(x - mean, Σ (x - mean)^2 with kept axes), in float64 unless x is float64 already."""
    work = x.astype(np.float64) if x.dtype.itemsize < 8 else x
    count = reduced_count(x.shape, axes)
    with np.errstate(invalid="ignore"):  # the mean over an empty axis: 0 / 0 = NaN, as in PyTorch
        centered = work - work.sum(axis=axes, keepdims=True) / count
    return centered, (centered * centered).sum(axis=axes, keepdims=True)


def _over(divisor: float):
    """1 / divisor, inf for 0 (PyTorch's gradient then is inf, or NaN where it multiplies 0)."""
    return 1 / divisor if divisor else math.inf


class Var(Function):
    """The variance over some axes with a ``correction`` (1: unbiased, Bessel's).

    forward:    out = Σ (x - mean)^2 / max(0, n - correction)
    derivative: dL/dx = dL/dout · 2 (x - mean) / (n - correction)
    kernels:    none: computed inline with the array module's calls
    """

    @staticmethod
    def forward(ctx, x, axes, keepdim, correction):
        n = reduced_count(x.shape, axes)
        centered, squares = _deviations(x, axes)
        # No degrees of freedom left: inf, or NaN for 0 / 0; a float32 variance beyond float32 is inf.
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            out = drop_axes(squares / (n - correction if n > correction else 0), axes, keepdim).astype(x.dtype)
        ctx.centered, ctx.scale = centered.astype(x.dtype), 2 * _over(n - correction)
        ctx.axes, ctx.keepdim, ctx.spread = axes, keepdim, squares > 0
        ctx.degenerate = axes is None and n <= correction
        return out

    @staticmethod
    def backward(ctx, grad):
        grad = expand_back(grad, ctx.centered.shape, ctx.axes, ctx.keepdim)
        with np.errstate(invalid="ignore"):
            if ctx.degenerate:  # PyTorch's var over all elements, no degrees of freedom left: ±inf, NaN if flat
                return array_module(grad).where(ctx.spread, grad * math.inf, math.nan), None, None, None
            return grad * ctx.scale * ctx.centered, None, None, None


class Std(Function):
    """The standard deviation over some axes; its gradient is 0 where the spread is 0, as in PyTorch.

    forward:    out = sqrt(Σ (x - mean)^2 / max(0, n - correction))
    derivative: dL/dx = dL/dout · (x - mean) / ((n - correction) · out), 0 where out = 0
    kernels:    none: computed inline with the array module's calls
    """

    @staticmethod
    def forward(ctx, x, axes, keepdim, correction):
        xp = array_module(x)
        n = reduced_count(x.shape, axes)
        centered, squares = _deviations(x, axes)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = xp.sqrt(squares / (n - correction if n > correction else 0))
        ctx.centered, ctx.std, ctx.scale = centered.astype(x.dtype), out.astype(x.dtype), _over(n - correction)
        ctx.axes, ctx.keepdim = axes, keepdim
        ctx.degenerate = axes is None and n <= correction
        return drop_axes(out, axes, keepdim).astype(x.dtype)

    @staticmethod
    def backward(ctx, grad):
        xp = array_module(grad)
        grad = expand_back(grad, ctx.centered.shape, ctx.axes, ctx.keepdim)
        if ctx.degenerate:  # PyTorch's std over all elements, no degrees of freedom left: NaN
            return xp.full(grad.shape, math.nan, dtype=grad.dtype), None, None, None
        with np.errstate(divide="ignore", invalid="ignore"):
            per_std = xp.where(ctx.std == 0, 0, grad / ctx.std)
            return per_std * ctx.scale * ctx.centered, None, None, None


class VectorNorm(Function):
    """The p-norm of x over some axes: p = 2, 1, inf, -inf, 0 (a count) or any other number.

    forward:    out = (Σ |x|^p)^(1/p); max |x| for inf, min |x| for -inf, the count of nonzeros for 0
    derivative: dL/dx = dL/dout · sign(x) |x|^(p-1) / out^(p-1) (x / out for p = 2, 0 where out = 0); for ±inf
                the extreme elements share it evenly; for 0 it is 0
    kernels:    none: computed inline with the array module's calls
    """

    @staticmethod
    def forward(ctx, x, axes, keepdim, p):
        out = p_norm(x, p, axes)
        ctx.save_for_backward(x, out)
        ctx.axes, ctx.keepdim, ctx.p = axes, keepdim, p
        return drop_axes(out, axes, keepdim)

    @staticmethod
    def backward(ctx, grad):
        x, out = ctx.saved
        xp, p = array_module(x), ctx.p
        if p == 2:  # x * (grad / out), as PyTorch orders it: the division on the norms' shape, one pass over x
            with np.errstate(divide="ignore", invalid="ignore"):
                scale = xp.where(out == 0, 0, grad.reshape(out.shape) / out)
            return (x * scale).astype(x.dtype, copy=False), None, None, None
        grad = expand_back(grad, x.shape, ctx.axes, ctx.keepdim)
        with np.errstate(divide="ignore", invalid="ignore"):
            if p == math.inf or p == -math.inf:
                hits = xp.abs(x) == out
                slope = xp.sign(x) * hits / hits.sum(axis=ctx.axes, keepdims=True)
            elif p == 0:
                slope = xp.zeros_like(x)
            elif p == 1:
                slope = xp.sign(x)
            else:
                # 0 where x or the norm is 0 (|x|^(p-1) is inf at 0 for p < 1), as in PyTorch
                slope = xp.where((out == 0) | (x == 0), 0, xp.sign(x) * xp.abs(x) ** (p - 1) / out ** (p - 1))
        return (grad * slope).astype(x.dtype), None, None, None


def _correction(op: str, unbiased: bool | None, correction) -> float:
    if unbiased is not None and correction is not None:
        raise ArgumentError(f"{op}: give either unbiased= (older) or correction=, not both")
    if correction is not None:
        return correction
    return 0 if unbiased is False else 1


def _spread(function: type, op: str, x: Tensor, dim, unbiased, keepdim: bool, correction) -> Tensor:
    if isinstance(dim, bool):  # var(x, False): PyTorch's older unbiased flag in dim's place
        dim, unbiased = None, dim
    if x.dtype.kind != "f":
        raise DTypeError(f"{op}: expected a floating-point tensor, got {x.dtype} (std and var take only floats, "
                         "as in PyTorch); convert it first, e.g. x.float()")  # fmt: skip
    return function.apply(x, reduction_axes(op, dim, x.ndim), keepdim, _correction(op, unbiased, correction))


@numpy_names
def var(x: Tensor, dim=None, unbiased: bool | None = None, keepdim: bool = False, *, correction=None,
        op: str = "var") -> Tensor:  # fmt: skip
    """The variance over ``dim``: Σ (x - mean)^2 / (n - correction); correction 1 (unbiased) unless given, or
    0 for ``unbiased=False``."""
    return _spread(Var, op, x, dim, unbiased, keepdim, correction)


@numpy_names
def std(x: Tensor, dim=None, unbiased: bool | None = None, keepdim: bool = False, *, correction=None,
        op: str = "std") -> Tensor:  # fmt: skip
    """The standard deviation over ``dim``: sqrt(var), with var's ``correction``."""
    return _spread(Std, op, x, dim, unbiased, keepdim, correction)


def _p_norm(op: str, x: Tensor, p, dim, keepdim: bool, dtype) -> Tensor:
    if dtype is not None:
        x = cast(x, dtype)
    if x.dtype.kind != "f":
        raise DTypeError(f"{op}: expected a floating-point tensor, got {x.dtype}; convert it first, e.g. x.float()")
    if isinstance(p, str) or not isinstance(p, (int, float)):
        raise ArgumentError(f"{op}: the order p must be a number (or 'fro'), got {p!r}")
    axes = reduction_axes(op, dim, x.ndim)
    if math.isinf(p):
        check_not_empty(op, x.shape, axes)
    return VectorNorm.apply(x, axes, keepdim, float(p))


@numpy_names
@autocast_op("norm")
def norm(x: Tensor, p="fro", dim=None, keepdim: bool = False, dtype=None) -> Tensor:
    """The p-norm over ``dim`` (every element when None), as ``torch.norm``: "fro" (the default) is the
    2-norm; "nuc" is not implemented."""
    if p == "nuc":
        raise ArgumentError("norm: the nuclear norm (p='nuc') is not implemented; use p='fro' or a number")
    return _p_norm("norm", x, 2 if p == "fro" else p, dim, keepdim, dtype)


@numpy_names
def vector_norm(x: Tensor, ord=2, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:  # noqa: A002
    """``torch.linalg.vector_norm``: the ``ord``-norm over ``dim`` (every element when None)."""
    return _p_norm("linalg.vector_norm", x, ord, dim, keepdim, dtype)


@numpy_names
def linalg_norm(x: Tensor, ord=None, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:  # noqa: A002
    """``torch.linalg.norm`` for vectors: the 2-norm of everything when ``ord`` is None (for a matrix that is its
    Frobenius norm), a vector norm along one dim or of a 1-d tensor; matrix norms are not implemented."""
    if ord is None or ord == "fro":
        return _p_norm("linalg.norm", x, 2, dim, keepdim, dtype)
    one_dim = (
        isinstance(dim, int) or (isinstance(dim, (tuple, list)) and len(dim) == 1) or (dim is None and x.ndim == 1)
    )
    if not one_dim:
        raise ArgumentError(
            f"linalg.norm: matrix norms (ord={ord!r} over two dims of a tensor of shape {x.shape}) are not "
            "implemented; use ord=None (Frobenius) or linalg.vector_norm"
        )
    return _p_norm("linalg.norm", x, ord, dim, keepdim, dtype)
