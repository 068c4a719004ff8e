"""Ops that rename, reorder or add axes without touching values: movedim, swapaxes, t, unflatten, the ``*_as``
ops, atleast_1d/2d/3d; and clone, which copies values without moving them.

Each is a reshape or a permutation (whose gradients ``shape`` already has), except clone.
"""

from __future__ import annotations

import math

import numpy as np

from tinynet.autograd import Function
from tinynet.errors import ShapeError
from tinynet.functions.aliases import numpy_names
from tinynet.functions.shape import Permute, axis, broadcast_to, reshape, size_args, transpose
from tinynet.tensor import Tensor


class Clone(Function):
    """A copy: changing one in place leaves the other as it was.

    forward:    out = x, copied
    derivative: dL/dx = dL/dout
    kernels:    none: computed inline with the array module's calls
    """

    @staticmethod
    def forward(ctx, x):
        return x.copy()

    @staticmethod
    def backward(ctx, grad):
        return grad


def clone(x: Tensor, *, memory_format=None) -> Tensor:
    """A copy of x that gradients flow through (changing one in place leaves the other)."""
    return Clone.apply(x)


def contiguous(x: Tensor, memory_format=None) -> Tensor:
    """x itself: how its array lays out memory is the array library's business here."""
    return x


def view_as(x: Tensor, other: Tensor) -> Tensor:
    """x in ``other``'s shape."""
    return reshape(x, other.shape)


reshape_as = view_as


def expand_as(x: Tensor, other: Tensor) -> Tensor:
    """x broadcast to ``other``'s shape."""
    return broadcast_to(x, other.shape)


swapaxes = swapdims = transpose


def t(x: Tensor) -> Tensor:
    """The transpose of a matrix; a vector or a 0-d tensor as it is."""
    if x.ndim > 2:
        raise ShapeError(f"t: expects a tensor with at most 2 dimensions, got shape {x.shape}; use transpose or mT")
    return Permute.apply(x, tuple(reversed(range(x.ndim))))


def matrix_transpose(x: Tensor) -> Tensor:
    """``x.mT``: the last two axes swapped, (..., M, N) -> (..., N, M)."""
    if x.ndim < 2:
        raise ShapeError(f"mT: expects a matrix or a batch of matrices, got shape {x.shape}")
    return transpose(x, -2, -1)


def movedim(x: Tensor, source, destination) -> Tensor:
    """Axes ``source`` (an int or a sequence) moved to positions ``destination``; the others keep their order."""
    source, destination = ([d] if isinstance(d, (int, np.integer)) else list(d) for d in (source, destination))
    if len(source) != len(destination):
        raise ShapeError(f"movedim: source {source} and destination {destination} name different numbers of dims")
    src = [axis("movedim", d, x.ndim) for d in source]
    dst = [axis("movedim", d, x.ndim) for d in destination]
    if len(set(src)) != len(src) or len(set(dst)) != len(dst):
        raise ShapeError(f"movedim: source {source} and destination {destination} must not repeat a dim")
    if x.ndim == 0:
        return Permute.apply(x, ())
    order = [d for d in range(x.ndim) if d not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return Permute.apply(x, tuple(order))


moveaxis = movedim


@numpy_names
def unflatten(x: Tensor, dim: int, sizes) -> Tensor:
    """Axis ``dim`` split into axes of ``sizes`` (one may be -1: inferred); the inverse of flatten."""
    d, sizes = axis("unflatten", dim, x.ndim), size_args("unflatten", (sizes,))
    n = x.shape[d] if x.ndim else 1
    if not sizes or (-1 not in sizes and math.prod(sizes) != n):
        raise ShapeError(f"unflatten: sizes {sizes} do not multiply to {n}, the size of dim {dim} of shape {x.shape}")
    return reshape(x, *x.shape[:d], *sizes, *x.shape[d + 1 :])


def _at_least(ndim: int, tensors: tuple):
    """Each tensor with at least ``ndim`` axes (added as PyTorch does); one tensor in, one out, else a tuple."""
    single = len(tensors) == 1 and isinstance(tensors[0], Tensor)
    items = tensors[0] if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)) else tensors
    shapes = {
        1: lambda s: s or (1,),
        2: lambda s: s if len(s) >= 2 else (1,) * (2 - len(s)) + s,
        3: lambda s: s if len(s) >= 3 else {0: (1, 1, 1), 1: (1, *s, 1), 2: (*s, 1)}[len(s)],
    }[ndim]
    out = tuple(x if x.ndim >= ndim else reshape(x, shapes(x.shape)) for x in items)
    return out[0] if single else out


def atleast_1d(*tensors):
    """Each tensor as at least 1-d: a 0-d tensor becomes (1,)."""
    return _at_least(1, tensors)


def atleast_2d(*tensors):
    """Each tensor as at least 2-d: () -> (1, 1), (n,) -> (1, n)."""
    return _at_least(2, tensors)


def atleast_3d(*tensors):
    """Each tensor as at least 3-d: () -> (1, 1, 1), (n,) -> (1, n, 1), (m, n) -> (m, n, 1)."""
    return _at_least(3, tensors)


__all__ = [
    "atleast_1d",
    "atleast_2d",
    "atleast_3d",
    "clone",
    "moveaxis",
    "movedim",
    "swapaxes",
    "swapdims",
    "t",
    "unflatten",
]
METHODS: dict = {
    "clone": clone,
    "contiguous": contiguous,
    "view_as": view_as,
    "reshape_as": reshape_as,
    "expand_as": expand_as,
    "swapaxes": swapaxes,
    "swapdims": swapdims,
    "t": t,
    "movedim": movedim,
    "moveaxis": moveaxis,
    "unflatten": unflatten,
}
