"""Padding: ``F.pad`` in PyTorch's four modes, with PyTorch's pad tuple (last dim first).

``pad=(left, right, top, bottom, front, back)`` pads the last dim by (left, right), the one before by (top,
bottom), and so on; a negative amount crops. ``constant`` fills with ``value`` and pads any number of dims;
``reflect``, ``replicate`` and ``circular`` copy the input's own elements and pad the last 1, 2 or 3 dims of a
batched or unbatched input, as ``nn.ReflectionPad1d/2d/3d`` and the others do. Every element of those three
comes from one element of the input, found along each padded dim by an index array, so one op computes all three.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from kernels.numpy_ref import array_module
from tinynet.autograd import Function
from tinynet.errors import ArgumentError, ArgumentTypeError, ShapeError
from tinynet.tensor import Tensor


class UnknownModeError(ArgumentError, NotImplementedError):
    """An unknown padding mode: PyTorch raises NotImplementedError for it, so this is one too."""


MODES = ("constant", "reflect", "replicate", "circular")


class ConstantPad(Function):
    """Pad with a constant, or crop where an amount is negative, along any dims.

    forward:    out = full(new shape, value); out[kept region] = x[kept region]
    derivative: dL/dx = dL/dout over the kept region, 0 where x was cropped away
    kernels:    none: computed inline with the array module's calls
    """

    @staticmethod
    def forward(ctx, x, pairs, value):
        source, target, shape = _kept_regions(x.shape, pairs)
        ctx.regions = (x.shape, source, target)
        out = array_module(x).full(shape, value, dtype=x.dtype)
        out[target] = x[source]
        return out

    @staticmethod
    def backward(ctx, grad):
        shape, source, target = ctx.regions
        grad_x = array_module(grad).zeros(shape, dtype=grad.dtype)
        grad_x[source] = grad[target]
        return grad_x, None, None


class GatherPad(Function):
    """Reflect, replicate or circular padding: each padded dim picks input elements by an index array.

    forward:    out = x[..., idx_d, ...] along each padded dim d (idx from the mode: a reflection, a clamp, a
                wrap around)
    derivative: dL/dx = the sum of dL/dout over the outputs that copied each input element (one-hot matrix
                products, one dim at a time)
    kernels:    none: computed inline with the array module's calls
    """

    @staticmethod
    def forward(ctx, x, indices):
        xp = array_module(x)
        ctx.steps = []  # (dim, index, size before): what backward undoes, in reverse
        for axis, index in indices:
            ctx.steps.append((axis, index, x.shape[axis]))
            x = xp.take(x, xp.asarray(index), axis=axis)
        return x

    @staticmethod
    def backward(ctx, grad):
        xp = array_module(grad)
        for axis, index, size in reversed(ctx.steps):
            # one_hot[j, i] = 1 where output j copied input i: a matrix product adds the copies back.
            one_hot = (xp.asarray(index)[:, None] == xp.arange(size)[None, :]).astype(grad.dtype)
            grad = xp.moveaxis(xp.moveaxis(grad, axis, -1) @ one_hot, -1, axis)
        return grad, None


def _kept_regions(shape: tuple, pairs: list) -> tuple:
    """(source, target, new shape): the slices of x and of the output that hold the same elements."""
    source, target, new_shape = [slice(None)] * len(shape), [slice(None)] * len(shape), list(shape)
    for axis, (left, right) in pairs:
        size = shape[axis]
        kept = size + min(left, 0) + min(right, 0)
        source[axis] = slice(max(-left, 0), max(-left, 0) + max(kept, 0))
        target[axis] = slice(max(left, 0), max(left, 0) + max(kept, 0))
        new_shape[axis] = size + left + right
    return tuple(source), tuple(target), tuple(new_shape)


def _gather_index(mode: str, size: int, left: int, right: int) -> np.ndarray:
    """Which input element each output position copies, along one dim of ``size`` padded by (left, right)."""
    if mode == "circular":
        # PyTorch crops first, then wraps around what is left.
        start, kept = max(-left, 0), size + min(left, 0) + min(right, 0)
        return start + np.arange(-max(left, 0), kept + max(right, 0)) % kept
    # Reflect and replicate pad first, then crop: the positions run from -left to size + right.
    position = np.arange(-left, size + right)
    if mode == "replicate":
        return np.clip(position, 0, size - 1)
    position = np.abs(position)
    return np.where(position > size - 1, 2 * (size - 1) - position, position)


def _pairs(x: Tensor, pad: Sequence[int]) -> list[tuple[int, tuple[int, int]]]:
    """PyTorch's flat pad tuple as (dim, (before, after)) pairs, the last dim first."""
    if not isinstance(pad, (tuple, list)) or not all(_is_int(p) for p in pad):
        raise ArgumentTypeError(f"pad: pad must be a tuple of ints, (left, right, top, bottom, ...), got {pad!r}")
    if len(pad) % 2:
        raise ArgumentError(f"pad: the pad tuple must have an even length, (before, after) per dim, got {pad!r}")
    if len(pad) > 2 * x.ndim:
        raise ArgumentError(
            f"pad: a pad tuple of length {len(pad)} pads {len(pad) // 2} dims, but the input of shape {x.shape} "
            f"has {x.ndim}; expected at most {2 * x.ndim} values"
        )
    return [(x.ndim - 1 - i, (int(pad[2 * i]), int(pad[2 * i + 1]))) for i in range(len(pad) // 2)]


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _check_copying_mode(mode: str, x: Tensor, pairs: list, value) -> None:
    """The limits PyTorch puts on reflect, replicate and circular padding (each copies the input's elements)."""
    if value is not None and value != 0:
        raise ArgumentError(f'pad: padding mode "{mode}" takes no value argument (got value={value}); it copies x')
    dims = len(pairs)
    if x.ndim not in (dims + 1, dims + 2):
        raise ArgumentError(
            f"pad: {mode} padding of {dims} dim(s) (a pad tuple of {2 * dims}) needs an input of {dims + 1} dims "
            f"(unbatched) or {dims + 2} (batched), got shape {x.shape}; pad 1, 2 or 3 trailing dims of such inputs"
        )
    if mode != "circular" and 0 in (x.shape[1:] if x.ndim == dims + 2 else x.shape):
        raise ShapeError(f"pad: {mode} padding needs non-empty dims (the batch dim may be 0), got shape {x.shape}")
    sizes = []
    for axis, (left, right) in pairs:
        size = x.shape[axis]
        if mode == "reflect" and max(left, right) >= size:
            raise ShapeError(
                f"pad: reflect padding ({left}, {right}) of dim {axis} must be smaller than its size {size} "
                f"(input of shape {x.shape}): a reflection does not repeat the edge"
            )
        kept = size + min(left, 0) + min(right, 0)
        if mode == "circular" and (kept < 0 or max(left, right) > kept):
            raise ShapeError(
                f"pad: circular padding ({left}, {right}) of dim {axis} (size {size}, {max(kept, 0)} after cropping)"
                " would wrap around more than once or crop below nothing; expected each pad at most that size"
            )
        sizes.append(size + left + right)
    if min(sizes) < 0 or max(sizes) < 1:
        raise ShapeError(
            f"pad: input of shape {x.shape} is too small for pad {pairs}: the output sizes would be {sizes}"
        )


def pad(input: Tensor, pad: Sequence[int], mode: str = "constant", value: float | None = None) -> Tensor:  # noqa: A002
    """Pad (or crop, with negative amounts) the trailing dims of ``input``, as ``torch.nn.functional.pad``.

    pad: (left, right) for the last dim, then (top, bottom) for the one before, ... . mode: "constant" (fill
    with ``value``, default 0; any number of dims), "reflect" (mirror without repeating the edge), "replicate"
    (repeat the edge), "circular" (wrap around); those three pad 1-3 trailing dims of an input with one or two
    leading dims more, e.g. x: (N, C, H, W) with pad (l, r, t, b) -> (N, C, H + t + b, W + l + r).
    """
    if not isinstance(input, Tensor):
        raise ArgumentTypeError(f"pad: input must be a Tensor, got {type(input).__name__}")
    pairs = _pairs(input, pad)
    if mode == "constant":
        for axis, (left, right) in pairs:
            if input.shape[axis] + left + right < 0:
                raise ShapeError(
                    f"pad: padding ({left}, {right}) of dim {axis} crops more than its size {input.shape[axis]} "
                    f"(input of shape {input.shape})"
                )
        return ConstantPad.apply(input, pairs, 0 if value is None else value)
    if mode not in MODES:
        raise UnknownModeError(f"pad: unknown mode {mode!r}; expected one of {', '.join(map(repr, MODES))}")
    _check_copying_mode(mode, input, pairs, value)
    indices = tuple((axis, _gather_index(mode, input.shape[axis], left, right)) for axis, (left, right) in pairs)
    return GatherPad.apply(input, indices)


__all__: list[str] = []  # torch has no top-level pad: it is reached as nn.functional.pad
METHODS: dict = {}
