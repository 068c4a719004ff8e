"""Pooling windows as index tables, for the pools that no backend kernel covers.

Along one spatial axis a table lists, for each of the O output positions, the K input positions its window
covers (``index``: (O, K) int64, kept inside the input) and which of them are real input (``valid``: not padding,
nor the repeats that fill out a short adaptive window). A pool over several axes takes every combination of its
axes' tables, so one gather ``x[:, :, I1, I2, ...]`` fetches all its windows at once: (N, C, O1, ..., K1 * K2 ...).
Sliding windows (dilation, ceil_mode, count_include_pad, divisor_override, integer inputs, 3-D) and adaptive
windows (start floor(o L / O), end ceil((o + 1) L / O)) are only two ways of filling in the tables.

The gradients scatter back with ``bincount`` over positions flattened within each (N, C) plane, which sums where
windows overlap and runs the same on NumPy and CuPy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from kernels.numpy_ref import array_module
from tinynet.autograd import Function


@dataclass(frozen=True)
class AxisWindows:
    """The windows along one axis of length ``size``: index, valid: (O, K)."""

    size: int
    index: np.ndarray
    valid: np.ndarray


def sliding(size: int, kernel: int, stride: int, padding: int, dilation: int, out: int) -> AxisWindows:
    """Window o covers o * stride - padding + j * dilation for j < kernel; positions outside [0, size) are padding."""
    positions = np.arange(out)[:, None] * stride - padding + np.arange(kernel)[None, :] * dilation
    valid = (positions >= 0) & (positions < size)
    return AxisWindows(size, np.clip(positions, 0, size - 1), valid)


def adaptive(size: int, out: int) -> AxisWindows:
    """PyTorch's adaptive windows: o covers [floor(o size / out), ceil((o + 1) size / out))."""
    o = np.arange(out)
    start, end = (o * size) // out, -((-(o + 1) * size) // out)
    width = int((end - start).max(initial=1))
    positions = start[:, None] + np.arange(width)[None, :]
    valid = positions < end[:, None]
    return AxisWindows(size, np.where(valid, positions, start[:, None]), valid)


def _grid(tables: list[AxisWindows], values: list[np.ndarray]) -> np.ndarray:
    """Combine one (O_a, K_a) array per axis by multiplication into (O1, ..., On, K1 * ... * Kn)."""
    n = len(tables)
    combined = np.ones((1,) * (2 * n), dtype=np.result_type(*values))
    for a, value in enumerate(values):
        shape = [1] * (2 * n)
        shape[2 * a : 2 * a + 2] = value.shape
        combined = combined * value.reshape(shape)
    return _windows_last(combined, n, 0)


def _windows_last(array, n: int, lead: int):
    """(lead axes, O1, K1, ..., On, Kn) -> (lead axes, O1, ..., On, K1 * ... * Kn)."""
    order = (*range(lead), *range(lead, lead + 2 * n, 2), *range(lead + 1, lead + 2 * n, 2))
    moved = array.transpose(order)
    return moved.reshape(*moved.shape[: lead + n], math.prod(moved.shape[lead + n :]))


def valid_grid(tables: list[AxisWindows]) -> np.ndarray:
    """(O1, ..., On, K): whether each window position is real input."""
    return _grid(tables, [t.valid for t in tables])


def position_grid(tables: list[AxisWindows]) -> np.ndarray:
    """(O1, ..., On, K): each window position flattened within its (H, W, ...) plane, row-major."""
    strides = np.cumprod([1] + [t.size for t in tables[:0:-1]])[::-1]
    n = len(tables)
    flat = np.zeros((1,) * (2 * n), dtype=np.int64)
    for a, (table, stride) in enumerate(zip(tables, strides)):
        shape = [1] * (2 * n)
        shape[2 * a : 2 * a + 2] = table.index.shape
        flat = flat + table.index.reshape(shape) * int(stride)
    return _windows_last(flat, n, 0)


def gather(x, tables: list[AxisWindows]):
    """x: (N, C, *spatial) -> every window's values: (N, C, O1, ..., On, K)."""
    xp, n = array_module(x), len(tables)
    index = []
    for a, table in enumerate(tables):
        shape = [1] * (2 * n)
        shape[2 * a : 2 * a + 2] = table.index.shape
        index.append(xp.asarray(table.index.reshape(shape)))
    return _windows_last(x[(slice(None), slice(None), *index)], n, 2)


def window_argmax(x, tables: list[AxisWindows]):
    """Where each window's maximum is, flattened within its plane: (N, C, O1, ..., On) int64.

    As PyTorch: the first maximum in row-major order, or the last NaN where a window holds NaN; padding never wins,
    even against -inf.
    """
    xp = array_module(x)
    windows = gather(x, tables)
    valid = xp.asarray(valid_grid(tables))
    lowest = -xp.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min
    filled = xp.where(valid, windows, xp.asarray(lowest, dtype=x.dtype))
    hits = (filled == filled.max(axis=-1, keepdims=True)) & valid
    choice = xp.argmax(hits, axis=-1)
    if x.dtype.kind == "f":
        nan = filled != filled
        last_nan = nan.shape[-1] - 1 - xp.argmax(nan[..., ::-1], axis=-1)
        choice = xp.where(nan.any(axis=-1), last_nan, choice)
    positions = xp.broadcast_to(xp.asarray(position_grid(tables)), windows.shape)
    return xp.take_along_axis(positions, choice[..., None], axis=-1)[..., 0]


def scatter_planes(values, index, plane: tuple[int, ...]):
    """Sum ``values`` (N, C, ...) into zeros (N, C, *plane) at ``index`` (flat within each plane; broadcasts)."""
    xp = array_module(values)
    n, c = values.shape[:2]
    size = math.prod(plane)
    offsets = xp.arange(n * c, dtype=xp.int64).reshape(n, c, *(1,) * (values.ndim - 2)) * size
    flat_index = xp.broadcast_to(index + offsets, values.shape).ravel()
    total = xp.bincount(flat_index, weights=values.ravel(), minlength=n * c * size)
    return total.astype(values.dtype).reshape(n, c, *plane)


def _planes(x):
    """(N, C, *spatial) -> (N, C, H * W * ...)."""
    return x.reshape(*x.shape[:2], math.prod(x.shape[2:]))


class GatherPlane(Function):
    """The value at a position picked in each (N, C) plane: the max pools, once window_argmax chose the positions.

    forward:    out[n, c, o] = x[n, c, index[n, c, o]] (index flat within the plane)
    derivative: dL/dx[n, c, index[n, c, o]] += dL/dout[n, c, o] (overlapping windows add)
    kernels:    none: computed inline with the array module's calls
    """

    @staticmethod
    def forward(ctx, x, index):
        ctx.save_for_backward(index)
        ctx.plane = x.shape[2:]
        xp = array_module(x)
        return xp.take_along_axis(_planes(x), _planes(index), axis=2).reshape(index.shape)

    @staticmethod
    def backward(ctx, grad):
        (index,) = ctx.saved
        return scatter_planes(grad, index, ctx.plane), None


class ScatterPlane(Function):
    """Values put at positions of zero planes: max_unpool, the inverse of a max pool with return_indices.

    forward:    out = zeros (N, C, *plane); out[n, c, index[n, c, i]] = x[n, c, i] (the last write wins)
    derivative: dL/dx[n, c, i] = dL/dout[n, c, index[n, c, i]]
    kernels:    none: computed inline with the array module's calls
    """

    @staticmethod
    def forward(ctx, x, index, plane):
        ctx.save_for_backward(index)
        xp = array_module(x)
        n, c = x.shape[:2]
        out = xp.zeros((n * c, math.prod(plane)), dtype=x.dtype)
        rows = xp.arange(n * c)[:, None]
        out[rows, index.reshape(n * c, -1)] = x.reshape(n * c, -1)
        return out.reshape(n, c, *plane)

    @staticmethod
    def backward(ctx, grad):
        (index,) = ctx.saved
        xp = array_module(grad)
        return xp.take_along_axis(_planes(grad), _planes(index), axis=2).reshape(index.shape), None, None


class AvgPoolWindows(Function):
    """The sum of each window's real input over a divisor: the average pools no kernel covers, adaptive ones too.

    forward:    out[o] = Σ over window o's input positions of x / divisor[o] (truncated toward 0 for int64 input)
    derivative: each window's dL/dout / divisor[o] goes to each of its input positions; overlapping windows add
    kernels:    none: computed inline with the array module's calls
    """

    @staticmethod
    def forward(ctx, x, tables, divisor):
        xp = array_module(x)
        ctx.tables, ctx.divisor, ctx.plane = tables, divisor, x.shape[2:]
        valid = xp.asarray(valid_grid(tables))
        total = xp.where(valid, gather(x, tables), xp.zeros((), dtype=x.dtype)).sum(axis=-1, dtype=x.dtype)
        if x.dtype.kind != "f":  # PyTorch divides int64 sums in C: the quotient rounds toward zero
            whole = xp.asarray(divisor, dtype=x.dtype)
            return xp.sign(total) * (xp.abs(total) // whole)
        return total / xp.asarray(divisor, dtype=x.dtype)

    @staticmethod
    def backward(ctx, grad):
        xp = array_module(grad)
        share = grad / xp.asarray(ctx.divisor, dtype=grad.dtype)
        valid = xp.asarray(valid_grid(ctx.tables))
        values = xp.where(valid, share[..., None], xp.zeros((), dtype=grad.dtype))
        positions = xp.asarray(position_grid(ctx.tables))
        return scatter_planes(values, positions, ctx.plane), None, None
