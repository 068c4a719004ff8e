"""Ops that copy values to new places: repeat, tile, repeat_interleave, flip, roll, unfold (sliding windows)
and meshgrid.

Most are built from a reshape, a broadcast or an index, whose gradients sum each copy's gradient back into
its source (``shape``); roll has its own Function.
"""

from __future__ import annotations

from kernels.numpy_ref import array_module
from tinynet.autograd import Function
from tinynet.errors import ArgumentError, DTypeError, ShapeError
from tinynet.functions.axes import movedim
from tinynet.functions.dims import normalize_dims
from tinynet.functions.shape import GetItem, axis, broadcast_to, flatten, reshape, size_args
from tinynet.tensor import Tensor, int64


class Roll(Function):
    """Values shifted along axes, wrapping around at the end.

    forward:    out[..., (i + shift) mod n, ...] = x[..., i, ...] along each of dims
    derivative: dL/dx = dL/dout rolled back by -shift
    kernels:    none: computed inline with the array module's calls
    """

    @staticmethod
    def forward(ctx, x, shifts, dims):
        ctx.shifts, ctx.dims = shifts, dims
        return array_module(x).roll(x, shifts, axis=dims)

    @staticmethod
    def backward(ctx, grad):
        return array_module(grad).roll(grad, tuple(-s for s in ctx.shifts), axis=ctx.dims), None, None


def repeat(x: Tensor, *sizes) -> Tensor:
    """``x.repeat(2, 3)``: x tiled ``sizes[i]`` times along axis i; extra leading sizes add axes."""
    sizes = size_args("repeat", sizes)
    if len(sizes) < x.ndim:
        raise ShapeError(f"repeat: {len(sizes)} repeat sizes {sizes} cannot be fewer than the tensor's {x.ndim} dims")
    if any(n < 0 for n in sizes):
        raise ShapeError(f"repeat: repeat sizes must not be negative, got {sizes}")
    shape = (1,) * (len(sizes) - x.ndim) + x.shape
    # (a, b) repeated (r, s): seen as (1, a, 1, b), broadcast to (r, a, s, b), merged to (r*a, s*b)
    spread = broadcast_to(
        reshape(x, *[v for n in shape for v in (1, n)]), [v for r, n in zip(sizes, shape) for v in (r, n)]
    )
    return reshape(spread, *(r * n for r, n in zip(sizes, shape)))


def tile(input: Tensor, *dims) -> Tensor:  # noqa: A002 (PyTorch's name)
    """x repeated ``dims[i]`` times along axis i; fewer dims than axes repeat the last axes."""
    dims = size_args("tile", dims)
    return repeat(input, *((1,) * (input.ndim - len(dims)) + dims))


def repeat_interleave(input: Tensor, repeats=None, dim: int | None = None, *, output_size=None) -> Tensor:  # noqa: A002
    """Each element repeated ``repeats`` times (an int, or a tensor of one count per element) along ``dim``
    (of the flattened tensor when None): [a, b] -> [a, a, b, b].

    ``repeat_interleave(counts)``: index i, counts[i] times ([2, 1] -> [0, 0, 1]).
    """
    if repeats is None:
        return _repeated_indices(input)
    x = flatten(input) if dim is None else input
    x = reshape(x, 1) if x.ndim == 0 else x
    d = axis("repeat_interleave", 0 if dim is None else dim, x.ndim)
    n = x.shape[d]
    xp = array_module(x.array)
    if isinstance(repeats, Tensor):
        if repeats.dtype.kind not in "iu" or repeats.ndim > 1 or repeats.numel() not in (1, n):
            raise ShapeError(
                f"repeat_interleave: repeats must be an int or integer tensor of 1 or {n} counts (the size of dim "
                f"{dim}), got dtype {repeats.dtype} and shape {repeats.shape}"
            )
        counts = repeats.array.reshape(-1)
    else:
        counts = repeats
    if int((xp.asarray(counts) < 0).sum()):
        raise ArgumentError(f"repeat_interleave: repeats must not be negative, got {repeats}")
    picks = xp.repeat(xp.arange(n), counts)
    return GetItem.apply(x, (slice(None),) * d + (picks,))


def _repeated_indices(counts: Tensor) -> Tensor:
    if counts.ndim != 1 or counts.dtype.kind not in "iu":
        raise DTypeError(
            f"repeat_interleave: with no repeats, the input must be a 1-d integer tensor of counts, "
            f"got dtype {counts.dtype} and shape {counts.shape}"
        )
    xp = array_module(counts.array)
    return Tensor(xp.repeat(xp.arange(counts.shape[0], dtype=int64), counts.array))


def flip(input: Tensor, *args, dims=None) -> Tensor:  # noqa: A002
    """The order of values reversed along ``dims``: ``tn.flip(x, (0, 1))``, ``x.flip(0)``, ``x.flip(0, 1)``."""
    dims = size_args("flip", args if dims is None else (dims,))
    axes = normalize_dims("flip", dims, input.ndim) or ()
    return GetItem.apply(input, tuple(slice(None, None, -1) if i in axes else slice(None) for i in range(input.ndim)))


def fliplr(input: Tensor) -> Tensor:  # noqa: A002
    """Columns reversed (axis 1): the tensor must have at least 2 dims."""
    if input.ndim < 2:
        raise ShapeError(f"fliplr: the input must have at least 2 dims, got shape {input.shape}")
    return flip(input, 1)


def flipud(input: Tensor) -> Tensor:  # noqa: A002
    """Rows reversed (axis 0): the tensor must have at least 1 dim."""
    if input.ndim < 1:
        raise ShapeError("flipud: the input must have at least 1 dim, got a 0-d tensor")
    return flip(input, 0)


def roll(input: Tensor, shifts, dims=None) -> Tensor:  # noqa: A002
    """Values shifted by ``shifts`` along ``dims`` (ints or tuples of one length), wrapping around; with no
    dims, along the flattened tensor."""
    shifts = size_args("roll", (shifts,))
    if dims is None:
        if len(shifts) != 1:
            raise ShapeError(f"roll: with no dims, shifts must be one int, got {shifts}")
        return reshape(roll(flatten(input), shifts, 0), input.shape)
    dims = size_args("roll", (dims,))
    if len(shifts) != len(dims):
        raise ShapeError(f"roll: shifts {shifts} and dims {dims} must have the same length")
    axes = tuple(axis("roll", d, input.ndim) for d in dims)
    if input.ndim == 0 or input.numel() == 0:  # nothing moves
        return GetItem.apply(input, ...)
    return Roll.apply(input, shifts, axes)


def unfold(x: Tensor, dimension: int, size: int, step: int) -> Tensor:
    """``x.unfold(dim, size, step)``: the windows of ``size`` values, ``step`` apart, along ``dimension``: that
    axis becomes the window count, and a new last axis of ``size`` holds each window."""
    if x.ndim == 0:
        return reshape(unfold(reshape(x, 1), 0, size, step), size)
    d = axis("unfold", dimension, x.ndim)
    n = x.shape[d]
    if not 0 <= size <= n:
        raise ShapeError(f"unfold: size {size} must be between 0 and {n}, the size of dim {dimension} of {x.shape}")
    if step <= 0:
        raise ArgumentError(f"unfold: step must be positive, got {step}")
    xp = array_module(x.array)
    starts = xp.arange((n - size) // step + 1) * step
    windows = GetItem.apply(x, (slice(None),) * d + (starts[:, None] + xp.arange(size)[None, :],))
    return movedim(windows, d + 1, -1)


def meshgrid(*tensors, indexing: str | None = None) -> tuple[Tensor, ...]:
    """Coordinate grids: output k holds tensor k's values along axis k, repeated along the others.
    ``indexing="xy"`` swaps the first two axes (as for images: x along columns)."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    indexing = "ij" if indexing is None else indexing
    if indexing not in ("ij", "xy"):
        raise ArgumentError(f'meshgrid: indexing must be "ij" or "xy", got {indexing!r}')
    if not tensors or any(t.ndim > 1 for t in tensors):
        raise ShapeError(f"meshgrid: expects one or more 0-d or 1-d tensors, got shapes {[t.shape for t in tensors]}")
    if len({t.dtype for t in tensors}) > 1:
        raise DTypeError(f"meshgrid: all tensors must have the same dtype, got {[str(t.dtype) for t in tensors]}")
    position = list(range(len(tensors)))
    if indexing == "xy" and len(tensors) > 1:
        position[0], position[1] = 1, 0
    shape = [0] * len(tensors)
    for t, p in zip(tensors, position):
        shape[p] = t.numel()
    return tuple(
        broadcast_to(reshape(t, *[n if i == p else 1 for i, n in enumerate(shape)]), shape)
        for t, p in zip(tensors, position)
    )


__all__ = ["flip", "fliplr", "flipud", "meshgrid", "repeat_interleave", "roll", "tile"]
METHODS: dict = {
    "repeat": repeat,
    "tile": tile,
    "repeat_interleave": repeat_interleave,
    "flip": flip,
    "fliplr": fliplr,
    "flipud": flipud,
    "roll": roll,
    "unfold": unfold,
}
