"""Adaptive pooling (a given output size, whatever the input's) and max unpooling (a max pool's inverse).

Adaptive window o along an axis of length L pooled to O covers [floor(o L / O), ceil((o + 1) L / O)), as in
PyTorch: windows of nearly equal width that tile the axis, overlapping by one where O does not divide L.
"""

from __future__ import annotations

import math

import numpy as np

from tinynet.errors import ArgumentError, DTypeError, IndexingError, ShapeError
from tinynet.functions.pool_windows import AvgPoolWindows, GatherPlane, ScatterPlane, adaptive, window_argmax
from tinynet.functions.pooling import AvgPool2d, MaxPool2d, batched, kernel_pool
from tinynet.functions.shape import reshape
from tinynet.functions.windows import ntuple
from tinynet.tensor import Tensor

__all__ = ["adaptive_avg_pool1d", "adaptive_max_pool1d"]
METHODS: dict = {}

OutputSize = int | None | tuple[int | None, ...]


def _output_size(op: str, output_size, spatial_shape: tuple) -> tuple[int, ...]:
    """One size per spatial axis; None keeps that axis's size."""
    n = len(spatial_shape)
    sizes = tuple(output_size) if isinstance(output_size, (tuple, list)) else (output_size,) * n
    if len(sizes) != n:
        raise ArgumentError(
            f"{op}: output_size must be an int or {n} of them (None keeps an axis), got {output_size!r}"
        )
    sizes = tuple(length if size is None else size for size, length in zip(sizes, spatial_shape))
    return ntuple(op, "output_size", sizes, n, 0)


def _adaptive(op: str, spatial: int, x: Tensor, output_size, how: str, return_indices: bool = False):
    if x.dtype.kind != "f":
        raise DTypeError(f"{op}: expected a floating-point input, got {x.dtype}")
    x4, was_unbatched = batched(op, x, spatial)
    sizes = _output_size(op, output_size, x4.shape[2:])
    lengths = x4.shape[2:]
    if spatial < 3 and not return_indices and all(size and length % size == 0 for length, size in zip(lengths, sizes)):
        # Windows that tile the axes exactly are a plain pool's, kernel = stride = L / O: its kernel runs them.
        window = tuple(length // size for length, size in zip(lengths, sizes))
        function = AvgPool2d if how == "avg" else MaxPool2d
        out = kernel_pool(function, x4, window, window, (0,) * spatial)
        return reshape(out, *out.shape[1:]) if was_unbatched else out
    tables = [adaptive(length, size) for length, size in zip(lengths, sizes)]
    if how == "avg":
        divisor = np.ones(())
        for table in tables:
            divisor = np.multiply.outer(divisor, table.valid.sum(axis=1))
        out = AvgPoolWindows.apply(x4, tables, divisor)
        return reshape(out, *out.shape[1:]) if was_unbatched else out
    index = window_argmax(x4.array, tables)
    out, indices = GatherPlane.apply(x4, index), Tensor(index)
    if was_unbatched:
        out, indices = reshape(out, *out.shape[1:]), reshape(indices, *indices.shape[1:])
    return (out, indices) if return_indices else out


def adaptive_avg_pool1d(input: Tensor, output_size: OutputSize) -> Tensor:  # noqa: A002 (PyTorch's name)
    """The mean of each of output_size windows that tile L. input: (N, C, L) or (C, L) -> (N, C, output_size)."""
    return _adaptive("adaptive_avg_pool1d", 1, input, output_size, "avg")


def adaptive_avg_pool2d(input: Tensor, output_size: OutputSize) -> Tensor:  # noqa: A002
    """The mean of each window of an OH x OW grid tiling the image. input: (N, C, H, W) or (C, H, W) ->
    (N, C, OH, OW); output_size: an int, or (OH, OW) with None keeping that axis's size."""
    return _adaptive("adaptive_avg_pool2d", 2, input, output_size, "avg")


def adaptive_avg_pool3d(input: Tensor, output_size: OutputSize) -> Tensor:  # noqa: A002
    """As adaptive_avg_pool2d over (D, H, W): (N, C, D, H, W) or (C, D, H, W) -> (N, C, OD, OH, OW)."""
    return _adaptive("adaptive_avg_pool3d", 3, input, output_size, "avg")


def adaptive_max_pool1d(input: Tensor, output_size: OutputSize, return_indices: bool = False):  # noqa: A002
    """The maximum of each of output_size windows tiling L: (N, C, L) or (C, L) -> (N, C, output_size).

    With return_indices, also the int64 positions along L of the maxima.
    """
    return _adaptive("adaptive_max_pool1d", 1, input, output_size, "max", return_indices)


def adaptive_max_pool2d(input: Tensor, output_size: OutputSize, return_indices: bool = False):  # noqa: A002
    """The maximum of each window of an OH x OW grid tiling the image: (N, C, H, W) or (C, H, W) -> (N, C, OH, OW).

    With return_indices, also the int64 positions of the maxima, flattened within each plane (h * W + w).
    """
    return _adaptive("adaptive_max_pool2d", 2, input, output_size, "max", return_indices)


def adaptive_max_pool3d(input: Tensor, output_size: OutputSize, return_indices: bool = False):  # noqa: A002
    """As adaptive_max_pool2d over (D, H, W)."""
    return _adaptive("adaptive_max_pool3d", 3, input, output_size, "max", return_indices)


def adaptive_max_pool1d_with_indices(input: Tensor, output_size: OutputSize, return_indices: bool = True):  # noqa: A002
    """adaptive_max_pool1d(..., return_indices=True)."""
    return adaptive_max_pool1d(input, output_size, True)


def adaptive_max_pool2d_with_indices(input: Tensor, output_size: OutputSize, return_indices: bool = True):  # noqa: A002
    """adaptive_max_pool2d(..., return_indices=True)."""
    return adaptive_max_pool2d(input, output_size, True)


def adaptive_max_pool3d_with_indices(input: Tensor, output_size: OutputSize, return_indices: bool = True):  # noqa: A002
    """adaptive_max_pool3d(..., return_indices=True)."""
    return adaptive_max_pool3d(input, output_size, True)


def _max_unpool(op: str, spatial: int, x: Tensor, indices: Tensor, kernel_size, stride, padding, output_size):
    if not isinstance(indices, Tensor) or indices.dtype != np.int64:
        found = indices.dtype if isinstance(indices, Tensor) else type(indices).__name__
        raise DTypeError(
            f"{op}: expected indices to be an int64 Tensor (from a max pool's return_indices), got {found}"
        )
    if indices.shape != x.shape:
        raise ShapeError(f"{op}: expected indices of the input's shape {x.shape}, got {indices.shape}")
    x4, was_unbatched = batched(op, x, spatial)
    kernel = ntuple(op, "kernel_size", kernel_size, spatial, 1)
    stride = kernel if stride is None else ntuple(op, "stride", stride, spatial, 1)
    padding = ntuple(op, "padding", padding, spatial, 0)
    default = tuple((n - 1) * s + k - 2 * p for n, k, s, p in zip(x4.shape[2:], kernel, stride, padding))
    plane = default if output_size is None else _unpool_size(op, output_size, default, stride)
    index = indices.array.reshape(x4.shape)
    volume = math.prod(plane)
    if index.size and (int(index.min()) < 0 or int(index.max()) >= volume):
        raise IndexingError(
            f"{op}: found an invalid max index {int(index.max()) if index.max() >= volume else int(index.min())}: "
            f"expected 0 <= index < {volume}, the size of the output plane {plane}"
        )
    out = ScatterPlane.apply(x4, index, plane)
    return reshape(out, *out.shape[1:]) if was_unbatched else out


def _unpool_size(op: str, output_size, default: tuple, stride: tuple) -> tuple[int, ...]:
    """The spatial part of output_size (its last axes), which must lie strictly within a stride of the default."""
    n = len(default)
    sizes = tuple(output_size)
    if len(sizes) == n + 2:
        sizes = sizes[2:]
    if len(sizes) != n:
        raise ArgumentError(f"{op}: output_size must have {n} or {n + 2} elements, got {output_size!r}")
    for d, (size, base, s) in enumerate(zip(sizes, default, stride)):
        if not base - s < size < base + s:
            raise ArgumentError(
                f"{op}: invalid output_size {output_size!r}: dim {d} must be between {base - s} and {base + s} "
                "(exclusive), the sizes a max pool with this geometry maps to the input's size"
            )
    return tuple(int(size) for size in sizes)


def max_unpool1d(input: Tensor, indices: Tensor, kernel_size, stride=None, padding=0, output_size=None) -> Tensor:  # noqa: A002
    """Each value put back where max_pool1d found it, zeros elsewhere. input, indices: (N, C, L) or (C, L) ->
    (N, C, (L - 1) stride - 2 padding + kernel_size), or output_size."""
    return _max_unpool("max_unpool1d", 1, input, indices, kernel_size, stride, padding, output_size)


def max_unpool2d(input: Tensor, indices: Tensor, kernel_size, stride=None, padding=0, output_size=None) -> Tensor:  # noqa: A002
    """Each value put back where max_pool2d found it (indices flat within each plane), zeros elsewhere.

    input, indices: (N, C, H, W) or (C, H, W) -> (N, C, OH, OW), OH = (H - 1) stride - 2 padding + KH unless
    output_size (one of the sizes that pool back to H, W) says otherwise.
    """
    return _max_unpool("max_unpool2d", 2, input, indices, kernel_size, stride, padding, output_size)


def max_unpool3d(input: Tensor, indices: Tensor, kernel_size, stride=None, padding=0, output_size=None) -> Tensor:  # noqa: A002
    """As max_unpool2d over (D, H, W)."""
    return _max_unpool("max_unpool3d", 3, input, indices, kernel_size, stride, padding, output_size)
