"""Pooling (max and average, 1-D and 2-D) and nearest-neighbour upsampling.

Pools run 2-D kernels from the backend table; the 1-D pools run them on a unit-height image (N, C, 1, L).
Upsampling by whole-number factors repeats each pixel into a block, so it needs no kernel.
"""

import numbers

from kernels.numpy_ref import array_module
from tinynet import backend
from tinynet.autograd import Function
from tinynet.errors import ArgumentError, ShapeError
from tinynet.functions.shape import squeeze, unsqueeze
from tinynet.functions.windows import check_ndim, ntuple, output_size
from tinynet.tensor import Tensor


class MaxPool2d(Function):
    """The maximum of each window.

    forward:    out = max over each KH x KW window (the padding counts as -inf)
    derivative: each window's dL/dout goes to its (first) maximum; overlapping windows add
    kernels:    max_pool2d_forward, max_pool2d_backward
    """

    @staticmethod
    def forward(ctx, x, kernel_size, stride, padding):
        out, argmax = backend.active().max_pool2d_forward(x, kernel_size, stride, padding)
        ctx.save_for_backward(argmax)
        ctx.geometry = (x.shape, kernel_size, stride, padding)
        return out

    @staticmethod
    def backward(ctx, grad):
        (argmax,) = ctx.saved
        return backend.active().max_pool2d_backward(grad, argmax, *ctx.geometry), None, None, None


class AvgPool2d(Function):
    """The mean of each window.

    forward:    out = Σ over each KH x KW window / (KH KW) (the zero padding counts)
    derivative: each window's dL/dout / (KH KW) goes to each of its pixels
    kernels:    avg_pool2d_forward, avg_pool2d_backward
    """

    @staticmethod
    def forward(ctx, x, kernel_size, stride, padding):
        ctx.geometry = (x.shape, kernel_size, stride, padding)
        return backend.active().avg_pool2d_forward(x, kernel_size, stride, padding)

    @staticmethod
    def backward(ctx, grad):
        return backend.active().avg_pool2d_backward(grad, *ctx.geometry), None, None, None


class UpsampleNearest(Function):
    """Nearest-neighbour upsampling by integer scales.

    forward:    out[..., h, w] = x[..., h // sh, w // sw]
    derivative: dL/dx = Σ of dL/dout over each sh x sw block
    kernels:    none: computed inline with the array module's calls
    """

    @staticmethod
    def forward(ctx, x, scales):
        ctx.scales = scales
        # Give every spatial axis a partner axis of length 1, broadcast it to the scale, then merge the pairs:
        # (N, C, H, W) -> (N, C, H, 1, W, 1) -> (N, C, H, sh, W, sw) -> (N, C, H*sh, W*sw).
        batch, spatial = x.shape[:2], x.shape[2:]
        paired = x.reshape(*batch, *_interleave(spatial, (1,) * len(spatial)))
        blocks = array_module(x).broadcast_to(paired, (*batch, *_interleave(spatial, scales)))
        return blocks.reshape(*batch, *(n * s for n, s in zip(spatial, scales)))

    @staticmethod
    def backward(ctx, grad):
        # Each input pixel was copied into a block: its gradient is the sum over the block.
        batch, spatial = grad.shape[:2], tuple(n // s for n, s in zip(grad.shape[2:], ctx.scales))
        blocks = grad.reshape(*batch, *_interleave(spatial, ctx.scales))
        return blocks.sum(axis=tuple(range(3, blocks.ndim, 2))), None


def _interleave(sizes: tuple, factors: tuple) -> tuple:
    """(H, W), (a, b) -> (H, a, W, b)."""
    return tuple(m for pair in zip(sizes, factors) for m in pair)


def _check_pool(op: str, x: Tensor, kernel_size, stride, padding, spatial: int):
    """Validate a pool's arguments; returns kernel_size, stride, padding as tuples of ``spatial`` ints."""
    check_ndim(op, "input", x, "(N, C, L)" if spatial == 1 else "(N, C, H, W)")
    kernel_size = ntuple(op, "kernel_size", kernel_size, spatial, 1)
    stride = kernel_size if stride is None else ntuple(op, "stride", stride, spatial, 1)
    padding = ntuple(op, "padding", padding, spatial, 0)
    if any(p > k // 2 for p, k in zip(padding, kernel_size)):
        raise ArgumentError(
            f"{op}: padding={padding} is more than half of kernel_size={kernel_size}; expected padding <= "
            "kernel_size // 2 along each axis (otherwise a window could hold nothing but padding)"
        )
    output_size(op, x.shape, kernel_size, stride, padding, (1,) * spatial)
    return kernel_size, stride, padding


def _pool1d(function: type, op: str, x: Tensor, kernel_size, stride, padding) -> Tensor:
    kernel_size, stride, padding = _check_pool(op, x, kernel_size, stride, padding, 1)
    # A sequence is an image of height 1: pool it with a (1, K) window.
    out = function.apply(unsqueeze(x, 2), (1, *kernel_size), (1, *stride), (0, *padding))
    return squeeze(out, 2)


def max_pool2d(
    input: Tensor,  # noqa: A002 (PyTorch's name)
    kernel_size: int | tuple[int, int],
    stride: int | tuple[int, int] | None = None,
    padding: int | tuple[int, int] = 0,
) -> Tensor:
    """The maximum of each kernel_size window. input: (N, C, H, W) -> (N, C, OH, OW).

    stride defaults to kernel_size (windows side by side); padding (at most half the kernel) counts as -inf.
    OH = (H + 2 padding - kernel_size) // stride + 1, likewise OW. The gradient goes to each window's maximum.
    """
    kernel_size, stride, padding = _check_pool("max_pool2d", input, kernel_size, stride, padding, 2)
    return MaxPool2d.apply(input, kernel_size, stride, padding)


def max_pool1d(input: Tensor, kernel_size: int, stride: int | None = None, padding: int = 0) -> Tensor:  # noqa: A002
    """The maximum of each window of kernel_size steps. input: (N, C, L) -> (N, C, OL).

    OL = (L + 2 padding - kernel_size) // stride + 1; stride defaults to kernel_size.
    """
    return _pool1d(MaxPool2d, "max_pool1d", input, kernel_size, stride, padding)


def avg_pool2d(
    input: Tensor,  # noqa: A002
    kernel_size: int | tuple[int, int],
    stride: int | tuple[int, int] | None = None,
    padding: int | tuple[int, int] = 0,
) -> Tensor:
    """The mean of each kernel_size window. input: (N, C, H, W) -> (N, C, OH, OW).

    The zero padding counts in the mean (PyTorch's default count_include_pad=True): every window divides by
    KH * KW. stride defaults to kernel_size; OH = (H + 2 padding - kernel_size) // stride + 1, likewise OW.
    """
    kernel_size, stride, padding = _check_pool("avg_pool2d", input, kernel_size, stride, padding, 2)
    return AvgPool2d.apply(input, kernel_size, stride, padding)


def avg_pool1d(input: Tensor, kernel_size: int, stride: int | None = None, padding: int = 0) -> Tensor:  # noqa: A002
    """The mean of each window of kernel_size steps (padding counts as zeros). input: (N, C, L) -> (N, C, OL)."""
    return _pool1d(AvgPool2d, "avg_pool1d", input, kernel_size, stride, padding)


def interpolate(
    input: Tensor,  # noqa: A002
    size: int | tuple[int, ...] | None = None,
    scale_factor: float | tuple[float, ...] | None = None,
    mode: str = "nearest",
) -> Tensor:
    """Resize (N, C, L) or (N, C, H, W) by copying the nearest pixel ("nearest", the only mode here).

    Give exactly one of ``scale_factor`` (whole numbers: each pixel becomes an s x s block) or ``size``
    (a whole multiple of the input's size) -> (N, C, L * s) or (N, C, H * sh, W * sw).
    The gradient of each input pixel is the sum over its block.
    """
    if mode != "nearest":
        raise ArgumentError(f"interpolate: only mode='nearest' is supported, got mode={mode!r}")
    return UpsampleNearest.apply(input, _scales("interpolate", input, size, scale_factor))


def upsample_nearest(
    input: Tensor,  # noqa: A002
    size: int | tuple[int, ...] | None = None,
    scale_factor: float | tuple[float, ...] | None = None,
) -> Tensor:
    """interpolate(input, size, scale_factor, mode="nearest"). input: (N, C, L) or (N, C, H, W)."""
    return UpsampleNearest.apply(input, _scales("upsample_nearest", input, size, scale_factor))


def _scales(op: str, x: Tensor, size, scale_factor) -> tuple[int, ...]:
    """The whole-number factor by which each spatial axis grows, from either size or scale_factor."""
    if x.ndim not in (3, 4):
        raise ShapeError(f"{op}: expected input of shape (N, C, L) or (N, C, H, W), got shape {x.shape}")
    spatial = x.shape[2:]
    if (size is None) == (scale_factor is None):
        raise ArgumentError(f"{op}: give exactly one of size and scale_factor")
    if size is not None:
        size = ntuple(op, "size", size, len(spatial), 1)
        if any(m % n for m, n in zip(size, spatial)):
            raise ArgumentError(
                f"{op}: size={size} must be a whole multiple of the input's spatial size {spatial} "
                "(nearest resizing here repeats pixels; it cannot resize by fractions)"
            )
        return tuple(m // n for m, n in zip(size, spatial))
    factors = scale_factor if isinstance(scale_factor, (tuple, list)) else (scale_factor,) * len(spatial)
    if len(factors) != len(spatial) or not all(_is_whole(f) for f in factors):
        raise ArgumentError(
            f"{op}: scale_factor must be a whole number >= 1, or {len(spatial)} of them (one per spatial axis), "
            f"got {scale_factor!r}"
        )
    return tuple(int(f) for f in factors)


def _is_whole(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and value >= 1 and float(value).is_integer()
