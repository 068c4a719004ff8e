"""Diagonals and triangles of matrices: diagonal, diag_embed, diag, tril, triu.

Each works on the last two axes (or the two named) of a batch of matrices. A diagonal's gradient is
written back onto the diagonal, and the other way round; a triangle's gradient is the same triangle.
"""

from __future__ import annotations

from kernels.numpy_ref import array_module
from tinynet.autograd import Function
from tinynet.errors import ShapeError
from tinynet.functions.shape import axis
from tinynet.tensor import Tensor


def _positions(xp, rows: int, cols: int, offset: int):
    """(row, column) indices of the ``offset`` diagonal of a (rows, cols) matrix (above the main one if > 0)."""
    length = max(0, min(rows - max(-offset, 0), cols - max(offset, 0)))
    k = xp.arange(length)
    return k + max(-offset, 0), k + max(offset, 0)


class Diagonal(Function):
    """The values on a diagonal of the matrices in axes dim1, dim2, as a new last axis.

    forward:    out[..., i] = x[..., i, i + offset] (i along dim1, i + offset along dim2)
    derivative: dL/dx = zeros with dL/dout written onto that diagonal
    kernels:    none: computed inline with the array module's calls
    """

    @staticmethod
    def forward(ctx, x, offset, dim1, dim2):
        xp = array_module(x)
        ctx.shape, ctx.offset, ctx.dims = x.shape, offset, (dim1, dim2)
        rows, cols = _positions(xp, x.shape[dim1], x.shape[dim2], offset)
        return xp.moveaxis(x, (dim1, dim2), (-2, -1))[..., rows, cols]

    @staticmethod
    def backward(ctx, grad):
        xp = array_module(grad)
        full = xp.zeros(ctx.shape, dtype=grad.dtype)
        dim1, dim2 = ctx.dims
        rows, cols = _positions(xp, ctx.shape[dim1], ctx.shape[dim2], ctx.offset)
        xp.moveaxis(full, (dim1, dim2), (-2, -1))[..., rows, cols] = grad  # a view: writes into full
        return full, None, None, None


class DiagEmbed(Function):
    """Matrices with x's last axis on a diagonal and zeros elsewhere, in output axes dim1, dim2.

    forward:    out[..., i, i + offset] = x[..., i], 0 elsewhere
    derivative: dL/dx = the diagonal of dL/dout
    kernels:    none: computed inline with the array module's calls
    """

    @staticmethod
    def forward(ctx, x, offset, dim1, dim2):
        xp = array_module(x)
        n = x.shape[-1] + abs(offset)
        ctx.offset, ctx.dims = offset, (dim1, dim2)
        out = xp.zeros((*x.shape[:-1], n, n), dtype=x.dtype)
        rows, cols = _positions(xp, n, n, offset)
        out[..., rows, cols] = x
        return xp.moveaxis(out, (-2, -1), (dim1, dim2))

    @staticmethod
    def backward(ctx, grad):
        xp = array_module(grad)
        dim1, dim2 = ctx.dims
        rows, cols = _positions(xp, grad.shape[dim1], grad.shape[dim2], ctx.offset)
        return xp.moveaxis(grad, (dim1, dim2), (-2, -1))[..., rows, cols], None, None, None


class Triangle(Function):
    """The lower (tril) or upper (triu) triangle of the matrices in the last two axes, zeros elsewhere.

    forward:    out[..., i, j] = x[..., i, j] where j - i <= diagonal (lower) or >= diagonal (upper), else 0
    derivative: dL/dx = the same triangle of dL/dout
    kernels:    none: computed inline with the array module's calls
    """

    @staticmethod
    def forward(ctx, x, diagonal, lower):
        xp = array_module(x)
        above = xp.arange(x.shape[-1])[None, :] - xp.arange(x.shape[-2])[:, None]  # j - i
        ctx.mask = above <= diagonal if lower else above >= diagonal
        return xp.where(ctx.mask, x, xp.zeros((), dtype=x.dtype))

    @staticmethod
    def backward(ctx, grad):
        return array_module(grad).where(ctx.mask, grad, 0), None, None


def diagonal(input: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:  # noqa: A002 (PyTorch's name)
    """The ``offset`` diagonal of the matrices in axes dim1, dim2 (above the main one if offset > 0), as a
    new last axis: x (..., N, M) with the defaults -> (..., min(N, M))."""
    if input.ndim < 2:
        raise ShapeError(f"diagonal: expects a tensor of at least 2 dims, got shape {input.shape}")
    a, b = axis("diagonal", dim1, input.ndim), axis("diagonal", dim2, input.ndim)
    if a == b:
        raise ShapeError(f"diagonal: dim1 and dim2 must be different axes, got {dim1} and {dim2}")
    return Diagonal.apply(input, offset, a, b)


def diag_embed(input: Tensor, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:  # noqa: A002
    """Square matrices with input's last axis on their ``offset`` diagonal, in output axes dim1, dim2:
    x (..., N) -> (..., N + |offset|, N + |offset|) with the defaults."""
    if input.ndim < 1:
        raise ShapeError("diag_embed: expects a tensor of at least 1 dim, got a 0-d tensor")
    a, b = axis("diag_embed", dim1, input.ndim + 1), axis("diag_embed", dim2, input.ndim + 1)
    if a == b:
        raise ShapeError(f"diag_embed: dim1 and dim2 must be different axes, got {dim1} and {dim2}")
    return DiagEmbed.apply(input, offset, a, b)


def diag(input: Tensor, diagonal: int = 0) -> Tensor:  # noqa: A002
    """A vector (N,) -> the square matrix with it on the ``diagonal``-th diagonal; a matrix -> that diagonal."""
    if input.ndim == 1:
        return DiagEmbed.apply(input, diagonal, 0, 1)
    if input.ndim == 2:
        return Diagonal.apply(input, diagonal, 0, 1)
    raise ShapeError(f"diag: expects a 1-d or 2-d tensor, got shape {input.shape}")


def _triangle(op: str, x: Tensor, diagonal: int, lower: bool) -> Tensor:
    if x.ndim < 2:
        raise ShapeError(f"{op}: expects a tensor of at least 2 dims (matrices in the last two), got shape {x.shape}")
    return Triangle.apply(x, diagonal, lower)


def tril(input: Tensor, diagonal: int = 0) -> Tensor:  # noqa: A002
    """The lower triangle: values on and below the ``diagonal``-th diagonal kept, the rest zero."""
    return _triangle("tril", input, diagonal, True)


def triu(input: Tensor, diagonal: int = 0) -> Tensor:  # noqa: A002
    """The upper triangle: values on and above the ``diagonal``-th diagonal kept, the rest zero."""
    return _triangle("triu", input, diagonal, False)


__all__ = ["diag", "diag_embed", "diagonal", "tril", "triu"]
METHODS: dict = {"diag": diag, "diag_embed": diag_embed, "diagonal": diagonal, "tril": tril, "triu": triu}
