"""Resizing images and sequences: interpolate and the upsample_* shorthands, with PyTorch's coordinate rules.

Each output position o along an axis of length L resized to O reads a source coordinate:
- "nearest": floor(o * scale), "nearest-exact": floor((o + 0.5) * scale), both in float32 and capped at L - 1;
- "linear" (bilinear, trilinear: one axis after the other): scale * (o + 0.5) - 0.5, at least 0, blending the two
  neighbours; with align_corners, scale * o and scale = (L - 1) / (O - 1), so the corner pixels line up;
- "bicubic": as linear but unclamped, blending four neighbours with Keys' cubic (A = -0.75), edges repeated;
- "area": adaptive_avg_pool to the new size.
scale is 1 / scale_factor when a scale_factor was given (unless recompute_scale_factor), else L / O.
Every mode is a weighted sum of a few input positions per axis, so one Function (``Resample``) runs them all.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from tinynet import backend
from tinynet.autograd import Function
from tinynet.errors import ArgumentError, ArgumentTypeError, DTypeError, ShapeError
from tinynet.functions.adaptive_pooling import adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_avg_pool3d
from tinynet.functions.resize_uint8 import bilinear_uint8
from tinynet.tensor import Tensor

# mode -> the number of spatial axes it takes (None: any of 1, 2, 3)
MODES = {"nearest": None, "nearest-exact": None, "area": None, "linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3}
_BLENDING = ("linear", "bilinear", "bicubic", "trilinear")
_CUBIC_A = -0.75


class ModeError(ArgumentError, NotImplementedError):
    """A mode interpolate lacks, or one that does not fit the input's dimensions: PyTorch raises
    NotImplementedError for both, so this is one too."""


class Resample(Function):
    """Each spatial axis resampled in turn by a few weighted taps of the input.

    forward:    out[..., o, ...] = Σ_t weight_a[o, t] x[..., index_a[o, t], ...] along each spatial axis a
    derivative: dL/dx = dL/dout mapped back along each axis by the (O, L) matrix of those weights, transposed
    kernels:    resample_forward, resample_backward
    """

    @staticmethod
    def forward(ctx, x, plans):
        ctx.plans, ctx.sizes = plans, x.shape[2:]
        for axis, (index, weight) in enumerate(plans, start=2):
            x = backend.for_arrays(x).resample_forward(x, axis, index, weight)
        return x

    @staticmethod
    def backward(ctx, grad):
        for axis in reversed(range(2, grad.ndim)):
            index, weight = ctx.plans[axis - 2]
            grad = backend.for_arrays(grad).resample_backward(grad, axis, index, weight, ctx.sizes[axis - 2])
        return grad, None


def _plan(mode: str, size: int, out: int, scale_factor: float | None, align_corners: bool, dtype: np.dtype):
    """(index (O, T) int64, weight (O, T) or None) for one axis, computed in the dtype PyTorch computes in."""
    o = np.arange(out)
    if mode in ("nearest", "nearest-exact"):
        # PyTorch computes these in float32 whatever the data: the same rounding picks the same pixels.
        scale = np.float32(1.0 / scale_factor if scale_factor else size / out)
        if mode == "nearest":
            source = np.floor(o.astype(np.float32) * scale)
        else:
            source = np.floor(((o + 0.5) * np.float64(scale)).astype(np.float32))
        return np.minimum(source.astype(np.int64), size - 1)[:, None], None
    real = dtype.type
    if align_corners:
        scale = real(size - 1) / real(out - 1) if out > 1 else real(0)
        source = scale * o.astype(dtype)
    else:
        scale = real(1.0 / scale_factor) if scale_factor else real(size) / real(out)
        source = scale * (o.astype(dtype) + real(0.5)) - real(0.5)
    if mode != "bicubic":
        source = np.maximum(source, real(0))
    if size == out and mode != "bicubic":  # PyTorch copies an axis whose size does not change
        return o[:, None], np.ones((out, 1), dtype=dtype)
    first = np.minimum(np.floor(source).astype(np.int64), size - 1)
    t = np.clip(source - first, 0, 1).astype(dtype)
    if mode != "bicubic":
        second = first + (first < size - 1)
        return np.stack([first, second], axis=1), np.stack([1 - t, t], axis=1)
    index = np.clip(first[:, None] + np.arange(-1, 3)[None, :], 0, size - 1)
    return index, np.stack([_cubic_far(t + 1), _cubic_near(t), _cubic_near(1 - t), _cubic_far(2 - t)], axis=1)


def _cubic_near(x):
    """Keys' cubic for |x| <= 1."""
    return ((_CUBIC_A + 2) * x - (_CUBIC_A + 3)) * x * x + 1


def _cubic_far(x):
    """Keys' cubic for 1 < |x| < 2."""
    return ((_CUBIC_A * x - 5 * _CUBIC_A) * x + 8 * _CUBIC_A) * x - 4 * _CUBIC_A


def _sizes(op: str, spatial: tuple, size, scale_factor, recompute_scale_factor) -> tuple[tuple, tuple]:
    """The output's spatial size, and the scale_factor per axis that the coordinates use (None: L / O)."""
    n = len(spatial)
    if size is not None and scale_factor is not None:
        raise ArgumentError(f"{op}: only one of size or scale_factor should be defined")
    if size is not None:
        if recompute_scale_factor:
            raise ArgumentError(f"{op}: recompute_scale_factor is not meaningful with an explicit size")
        sizes = tuple(size) if isinstance(size, (tuple, list)) else (size,) * n
        if len(sizes) != n:
            raise ArgumentError(
                f"{op}: input and output must have the same number of spatial dimensions, but got input with "
                f"spatial dimensions of {list(spatial)} and output size of {size!r}"
            )
        if not all(isinstance(s, numbers.Integral) and not isinstance(s, bool) for s in sizes):
            raise ArgumentTypeError(f"{op}: size must be an int or a tuple of ints, got {size!r}")
        return tuple(int(s) for s in sizes), (None,) * n
    if scale_factor is None:
        raise ArgumentError(f"{op}: either size or scale_factor should be defined")
    factors = tuple(scale_factor) if isinstance(scale_factor, (tuple, list)) else (scale_factor,) * n
    if len(factors) != n:
        raise ArgumentError(
            f"{op}: input and scale_factor must have the same number of spatial dimensions, but got input with "
            f"spatial dimensions of {list(spatial)} and scale_factor of {scale_factor!r}"
        )
    if not all(isinstance(f, numbers.Real) and not isinstance(f, bool) for f in factors):
        raise ArgumentTypeError(f"{op}: scale_factor must be a number or a tuple of numbers, got {scale_factor!r}")
    sizes = tuple(math.floor(float(length) * float(f)) for length, f in zip(spatial, factors))
    return sizes, (None,) * n if recompute_scale_factor else tuple(float(f) for f in factors)


def interpolate(
    input: Tensor,  # noqa: A002 (PyTorch's name)
    size: int | tuple[int, ...] | None = None,
    scale_factor: float | tuple[float, ...] | None = None,
    mode: str = "nearest",
    align_corners: bool | None = None,
    recompute_scale_factor: bool | None = None,
    antialias: bool = False,
) -> Tensor:
    """Resize (N, C, L), (N, C, H, W) or (N, C, D, H, W) to ``size``, or by ``scale_factor`` (the new size is
    floor(size * scale_factor)) -> (N, C, *new size).

    mode: "nearest", "nearest-exact", "area" (any of them), "linear" (3-D input), "bilinear", "bicubic" (4-D),
    "trilinear" (5-D). align_corners (blending modes only) maps the corner pixels onto each other.
    """
    op = "interpolate"
    if not isinstance(input, Tensor):
        raise ArgumentTypeError(f"{op}: expected input to be a Tensor, got {type(input).__name__}")
    if mode not in MODES:
        raise ModeError(f"{op}: unknown mode {mode!r}; expected one of {', '.join(map(repr, MODES))}")
    if input.ndim not in (3, 4, 5):
        raise ModeError(f"{op}: expected input of shape (N, C, L), (N, C, H, W) or (N, C, D, H, W), got {input.shape}")
    spatial = input.shape[2:]
    if MODES[mode] not in (None, len(spatial)):
        raise ModeError(f"{op}: got {input.ndim}-D input, but mode={mode!r} needs {MODES[mode] + 2}-D input")
    if align_corners is not None and mode not in _BLENDING:
        raise ArgumentError(f"{op}: align_corners can only be set with the blending modes {', '.join(_BLENDING)}")
    if antialias:
        raise ArgumentError(f"{op}: antialias=True is not supported")
    sizes, factors = _sizes(op, spatial, size, scale_factor, recompute_scale_factor)
    if mode == "area":  # adaptive pooling, which takes an empty output too
        pool = {1: adaptive_avg_pool1d, 2: adaptive_avg_pool2d, 3: adaptive_avg_pool3d}[len(spatial)]
        return pool(input, sizes)
    if min(sizes) <= 0 or 0 in input.shape[1:]:
        raise ShapeError(
            f"{op}: input and output sizes should be greater than 0, but got input {input.shape} and output size "
            f"{sizes}"
        )
    nearest = mode.startswith("nearest")
    if mode == "bilinear" and input.dtype == np.uint8:
        return bilinear_uint8(input, sizes, bool(align_corners))
    if input.dtype.kind != "f" and not (nearest and input.dtype == np.uint8):
        raise DTypeError(
            f"{op}: mode={mode!r} takes a floating-point input (nearest and bilinear uint8 too), got {input.dtype}"
        )
    dtype = np.dtype(np.float64 if input.dtype == np.float64 else np.float32)
    geometry = zip(spatial, sizes, factors)
    plans = tuple(_plan(mode, n, out, f, bool(align_corners), dtype) for n, out, f in geometry)
    return Resample.apply(input, plans)


def upsample(input: Tensor, size=None, scale_factor=None, mode: str = "nearest", align_corners: bool | None = None):  # noqa: A002
    """interpolate under its old name."""
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(
    input: Tensor,  # noqa: A002
    size: int | tuple[int, ...] | None = None,
    scale_factor: float | tuple[float, ...] | None = None,
) -> Tensor:
    """interpolate(input, size, scale_factor, mode="nearest"). input: (N, C, L), (N, C, H, W) or 5-D."""
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(
    input: Tensor,  # noqa: A002
    size: int | tuple[int, int] | None = None,
    scale_factor: float | tuple[float, float] | None = None,
) -> Tensor:
    """interpolate(input, size, scale_factor, mode="bilinear", align_corners=True). input: (N, C, H, W)."""
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)
