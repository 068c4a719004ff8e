"""A tensor cut into pieces, and pieces joined: split, chunk, tensor_split, unbind, narrow; hstack, vstack,
dstack, column_stack.

Cutting is slicing (``GetItem``: each piece's gradient goes back to where it was cut from); joining is cat.
"""

from __future__ import annotations

from tinynet.errors import ArgumentError, ArgumentTypeError, DTypeError, ShapeError
from tinynet.functions.aliases import numpy_names
from tinynet.functions.axes import atleast_1d, atleast_2d, atleast_3d
from tinynet.functions.shape import GetItem, axis, cat, reshape
from tinynet.tensor import Tensor


def _slice(x: Tensor, d: int, start, stop) -> Tensor:
    return GetItem.apply(x, (slice(None),) * d + (slice(start, stop),))


def _cut_axis(op: str, x: Tensor, dim) -> int:
    if x.ndim == 0:
        raise ShapeError(f"{op}: expects a tensor with at least 1 dimension, got a 0-d tensor")
    return axis(op, dim, x.ndim)


@numpy_names
def split(tensor: Tensor, split_size_or_sections, dim: int = 0) -> tuple[Tensor, ...]:
    """Pieces of ``split_size_or_sections`` along ``dim`` (the last may be smaller), or pieces of the sizes
    in a list (which must add up to the size of ``dim``)."""
    d = _cut_axis("split", tensor, dim)
    n = tensor.shape[d]
    if isinstance(split_size_or_sections, int):
        size = split_size_or_sections
        if size < 0 or (size == 0 and n):
            raise ArgumentError(f"split: split_size must be positive, got {size} for a dim of size {n}")
        sizes = [size] * (n // size) + ([n % size] if n % size else []) if n else [0]
    else:
        sizes = list(split_size_or_sections)
        if sum(sizes) != n or any(s < 0 for s in sizes):
            raise ShapeError(f"split: sizes {sizes} must be non-negative and add up to {n}, the size of dim {dim}")
    pieces, start = [], 0
    for size in sizes:
        pieces.append(_slice(tensor, d, start, start + size))
        start += size
    return tuple(pieces)


@numpy_names
def chunk(input: Tensor, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:  # noqa: A002 (PyTorch's names)
    """At most ``chunks`` pieces of equal size along ``dim`` (the last may be smaller; there may be fewer)."""
    d = _cut_axis("chunk", input, dim)
    if chunks <= 0:
        raise ArgumentError(f"chunk: chunks must be positive, got {chunks}")
    n = input.shape[d]
    if n == 0:
        return tuple(_slice(input, d, 0, 0) for _ in range(chunks))
    return split(input, -(-n // chunks), d)


@numpy_names
def tensor_split(input: Tensor, indices_or_sections, dim: int = 0) -> tuple[Tensor, ...]:  # noqa: A002
    """``sections`` pieces (an int: the first ``n % sections`` one longer), or the pieces between the
    ``indices`` (a list or tensor: x[:i0], x[i0:i1], ..., x[ik:])."""
    d = _cut_axis("tensor_split", input, dim)
    n = input.shape[d]
    if isinstance(indices_or_sections, Tensor):
        if indices_or_sections.dtype.kind not in "iu" or indices_or_sections.ndim > 1:
            raise DTypeError(
                "tensor_split: indices_or_sections must be an int, a list, or a 0-d or 1-d integer tensor, got "
                f"dtype {indices_or_sections.dtype} and shape {indices_or_sections.shape}"
            )
        indices_or_sections = indices_or_sections.tolist()
    if isinstance(indices_or_sections, int):
        sections = indices_or_sections
        if sections <= 0:
            raise ArgumentError(f"tensor_split: the number of sections must be positive, got {sections}")
        size, longer = divmod(n, sections)
        bounds, start = [], 0
        for k in range(sections - 1):
            start += size + (k < longer)
            bounds.append(start)
    elif isinstance(indices_or_sections, (list, tuple)):
        bounds = list(indices_or_sections)
    else:
        raise ArgumentTypeError(
            f"tensor_split: indices_or_sections must be an int, a list or a tensor, got {indices_or_sections!r}"
        )
    edges = [0, *bounds, None]
    return tuple(_slice(input, d, edges[i], edges[i + 1]) for i in range(len(edges) - 1))


@numpy_names
def unbind(input: Tensor, dim: int = 0) -> tuple[Tensor, ...]:  # noqa: A002
    """Every slice along ``dim``, with that axis removed."""
    d = _cut_axis("unbind", input, dim)
    return tuple(GetItem.apply(input, (slice(None),) * d + (i,)) for i in range(input.shape[d]))


@numpy_names
def narrow(input: Tensor, dim: int, start, length: int) -> Tensor:  # noqa: A002
    """``length`` values along ``dim`` from ``start`` (which may be negative, or a 0-d tensor)."""
    d = _cut_axis("narrow", input, dim)
    n = input.shape[d]
    start = int(start.item()) if isinstance(start, Tensor) else start
    if not -n <= start <= n:
        raise ShapeError(f"narrow: start {start} is out of range for dim {dim} of size {n}")
    start = start + n if start < 0 else start
    if length < 0 or start + length > n:
        raise ShapeError(f"narrow: start {start} + length {length} is beyond the size {n} of dim {dim}")
    return _slice(input, d, start, start + length)


def hstack(tensors) -> Tensor:
    """Tensors joined along axis 1 (along axis 0 when all are 1-d); 0-d tensors count as 1-d."""
    parts = atleast_1d(tuple(tensors))
    return cat(parts, 0 if all(t.ndim == 1 for t in parts) else 1)


def vstack(tensors) -> Tensor:
    """Tensors joined along axis 0, each 1-d (n,) as a row (1, n)."""
    return cat(atleast_2d(tuple(tensors)), 0)


row_stack = vstack


def dstack(tensors) -> Tensor:
    """Tensors joined along axis 2 (depth), each made at least 3-d as atleast_3d does."""
    return cat(atleast_3d(tuple(tensors)), 2)


def column_stack(tensors) -> Tensor:
    """Tensors joined as columns (axis 1): a 0-d or 1-d tensor of n values becomes one column (n, 1)."""
    return cat([reshape(t, t.numel(), 1) if t.ndim <= 1 else t for t in tensors], 1)


__all__ = [
    "chunk",
    "column_stack",
    "dstack",
    "hstack",
    "narrow",
    "row_stack",
    "split",
    "tensor_split",
    "unbind",
    "vstack",
]
METHODS: dict = {
    "split": split,
    "chunk": chunk,
    "tensor_split": tensor_split,
    "unbind": unbind,
    "narrow": narrow,
}
