"""Max and average pooling over 1-D, 2-D and 3-D windows, with all of PyTorch's options.

The common case - a 1-D or 2-D floating-point pool without dilation, whose ceil_mode changes nothing, averaging
over whole windows - runs the backend's 2-D kernels (the 1-D pools on a unit-height image (N, C, 1, L)). Every
other case (dilation, ceil_mode, count_include_pad=False, divisor_override, return_indices, integer input, 3-D)
gathers its windows from index tables (``pool_windows``) and computes inline. Inputs may leave out the batch
axis, as in PyTorch: (C, *spatial) pools as a batch of one.
"""

from __future__ import annotations

import math

import numpy as np

from tinynet import backend
from tinynet.autograd import Function
from tinynet.errors import ArgumentError, DTypeError, ShapeError
from tinynet.functions import elementwise, unary
from tinynet.functions.activations import relu
from tinynet.functions.pool_windows import AvgPoolWindows, GatherPlane, sliding, window_argmax
from tinynet.functions.rounding import sign
from tinynet.functions.shape import reshape, squeeze, unsqueeze
from tinynet.functions.windows import ntuple
from tinynet.tensor import Tensor

__all__ = ["avg_pool1d", "max_pool1d", "max_pool1d_with_indices", "max_pool2d", "max_pool3d"]
METHODS: dict = {}

Size = int | tuple[int, ...]


class MaxPool2d(Function):
    """The maximum of each window.

    forward:    out = max over each KH x KW window (the padding counts as -inf)
    derivative: each window's dL/dout goes to its (first) maximum; overlapping windows add
    kernels:    max_pool2d_forward, max_pool2d_backward
    """

    @staticmethod
    def forward(ctx, x, kernel_size, stride, padding):
        out, argmax = backend.for_arrays(x).max_pool2d_forward(x, kernel_size, stride, padding)
        ctx.save_for_backward(argmax)
        ctx.geometry = (x.shape, kernel_size, stride, padding)
        return out

    @staticmethod
    def backward(ctx, grad):
        (argmax,) = ctx.saved
        return backend.for_arrays(grad).max_pool2d_backward(grad, argmax, *ctx.geometry), None, None, None


class AvgPool2d(Function):
    """The mean of each window.

    forward:    out = Σ over each KH x KW window / (KH KW) (the zero padding counts)
    derivative: each window's dL/dout / (KH KW) goes to each of its pixels
    kernels:    avg_pool2d_forward, avg_pool2d_backward
    """

    @staticmethod
    def forward(ctx, x, kernel_size, stride, padding):
        ctx.geometry = (x.shape, kernel_size, stride, padding)
        return backend.for_arrays(x).avg_pool2d_forward(x, kernel_size, stride, padding)

    @staticmethod
    def backward(ctx, grad):
        return backend.for_arrays(grad).avg_pool2d_backward(grad, *ctx.geometry), None, None, None


def batched(op: str, x: Tensor, spatial: int) -> tuple[Tensor, bool]:
    """``x`` as (N, C, *spatial), and whether it came unbatched as (C, *spatial)."""
    names = {1: "L", 2: "H, W", 3: "D, H, W"}[spatial]
    if not isinstance(x, Tensor):
        raise ArgumentError(f"{op}: expected input to be a Tensor, got {type(x).__name__}")
    if x.ndim not in (spatial + 1, spatial + 2):
        raise ShapeError(
            f"{op}: expected input of shape (N, C, {names}), got shape {x.shape} (the unbatched (C, {names}) works too)"
        )
    if 0 in x.shape[-spatial - 1 :]:
        raise ShapeError(f"{op}: expected input with no empty axis but the batch axis, got shape {x.shape}")
    return (unsqueeze(x, 0), True) if x.ndim == spatial + 1 else (x, False)


def _unbatched(t: Tensor, was_unbatched: bool) -> Tensor:
    return reshape(t, *t.shape[1:]) if was_unbatched else t


def _geometry(op: str, shape: tuple, spatial: int, kernel_size, stride, padding, dilation, ceil_mode: bool):
    """kernel_size, stride, padding, dilation as tuples, and the output's spatial size."""
    kernel = ntuple(op, "kernel_size", kernel_size, spatial, 1)
    no_stride = stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0)  # PyTorch's stride=[]
    stride = kernel if no_stride else ntuple(op, "stride", stride, spatial, 1)
    padding = ntuple(op, "padding", padding, spatial, 0)
    dilation = ntuple(op, "dilation", dilation, spatial, 1)
    if any(p > k // 2 for p, k in zip(padding, kernel)):
        raise ArgumentError(
            f"{op}: padding={padding} is more than half of kernel_size={kernel}; expected padding <= "
            "kernel_size // 2 along each axis (otherwise a window could hold nothing but padding)"
        )
    sizes = output_sizes(shape[-spatial:], kernel, stride, padding, dilation, ceil_mode)
    if min(sizes) < 1:
        raise ShapeError(
            f"{op}: input of shape {shape} is too small for kernel_size={kernel} with padding={padding}, "
            f"dilation={dilation}, stride={stride}, ceil_mode={ceil_mode}: the output size would be {sizes}; "
            "expected at least 1 along every axis (a larger input, or more padding)"
        )
    return kernel, stride, padding, dilation, sizes


def output_sizes(spatial: tuple, kernel, stride, padding, dilation, ceil_mode: bool) -> tuple[int, ...]:
    """PyTorch's pooled size: (L + 2p - d (k - 1) - 1) / s + 1, rounded down, or up with ceil_mode - except that
    a last window starting in the right padding is dropped."""
    sizes = []
    for n, k, s, p, d in zip(spatial, kernel, stride, padding, dilation):
        out = (n + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil_mode else 0)) // s + 1
        if ceil_mode and (out - 1) * s >= n + p:
            out -= 1
        sizes.append(out)
    return tuple(sizes)


def _max_pool(op: str, spatial: int, x: Tensor, kernel_size, stride, padding, dilation, ceil_mode, return_indices):
    if x.dtype.kind == "b" or (spatial == 1 and x.dtype.kind != "f" and not return_indices):
        raise DTypeError(f"{op}: expected a floating-point or integer input, got {x.dtype}")
    x4, was_unbatched = batched(op, x, spatial)
    kernel, stride, padding, dilation, sizes = _geometry(
        op, x.shape, spatial, kernel_size, stride, padding, dilation, ceil_mode
    )
    plain = sizes == output_sizes(x4.shape[2:], kernel, stride, padding, dilation, False)
    if spatial < 3 and plain and not return_indices and x.dtype.kind == "f" and set(dilation) == {1}:
        out = kernel_pool(MaxPool2d, x4, kernel, stride, padding)
        return _unbatched(out, was_unbatched)
    tables = [sliding(*axis) for axis in zip(x4.shape[2:], kernel, stride, padding, dilation, sizes)]
    index = window_argmax(x4.array, tables)
    out = _unbatched(GatherPlane.apply(x4, index), was_unbatched)
    if not return_indices:
        return out
    return out, _unbatched(Tensor(index), was_unbatched)


def kernel_pool(function: type, x: Tensor, kernel: tuple, stride: tuple, padding: tuple) -> Tensor:
    """MaxPool2d or AvgPool2d's kernel on x: (N, C, H, W), or (N, C, L) with 1-tuples."""
    if len(kernel) == 2:
        return function.apply(x, kernel, stride, padding)
    # A sequence is an image of height 1: pool it with a (1, K) window.
    return squeeze(function.apply(unsqueeze(x, 2), (1, *kernel), (1, *stride), (0, *padding)), 2)


def max_pool1d(
    input: Tensor,  # noqa: A002 (PyTorch's name)
    kernel_size: Size,
    stride: Size | None = None,
    padding: Size = 0,
    dilation: Size = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """The maximum of each window of kernel_size steps. input: (N, C, L) or (C, L) -> (N, C, OL).

    OL = (L + 2 padding - dilation (kernel_size - 1) - 1) // stride + 1 (rounded up with ceil_mode);
    stride defaults to kernel_size; padding (at most half the kernel) counts as -inf. With return_indices, also
    where each maximum is: int64 positions along L.
    """
    args = (kernel_size, stride, padding, dilation, ceil_mode, return_indices)
    return _max_pool("max_pool1d", 1, input, *args)


def max_pool2d(
    input: Tensor,  # noqa: A002
    kernel_size: Size,
    stride: Size | None = None,
    padding: Size = 0,
    dilation: Size = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """The maximum of each kernel_size window. input: (N, C, H, W) or (C, H, W) -> (N, C, OH, OW).

    OH = (H + 2 padding - dilation (KH - 1) - 1) // stride + 1, likewise OW (rounded up with ceil_mode, but a
    window starting in the right padding is dropped). stride defaults to kernel_size; padding (at most half the
    kernel) counts as -inf. The gradient goes to each window's first maximum. With return_indices, also where the
    maxima are: int64 positions flattened within each H x W plane (h * W + w), as max_unpool2d takes them.
    """
    args = (kernel_size, stride, padding, dilation, ceil_mode, return_indices)
    return _max_pool("max_pool2d", 2, input, *args)


def max_pool3d(
    input: Tensor,  # noqa: A002
    kernel_size: Size,
    stride: Size | None = None,
    padding: Size = 0,
    dilation: Size = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """The maximum of each kernel_size window. input: (N, C, D, H, W) or (C, D, H, W) -> (N, C, OD, OH, OW).

    As max_pool2d with one more axis; indices are flat within each D x H x W volume.
    """
    args = (kernel_size, stride, padding, dilation, ceil_mode, return_indices)
    return _max_pool("max_pool3d", 3, input, *args)


def max_pool1d_with_indices(input: Tensor, kernel_size: Size, stride: Size | None = None, padding: Size = 0,  # noqa: A002
                            dilation: Size = 1, ceil_mode: bool = False, return_indices: bool = True):  # fmt: skip
    """max_pool1d(..., return_indices=True): (values, int64 indices)."""
    return max_pool1d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool2d_with_indices(input: Tensor, kernel_size: Size, stride: Size | None = None, padding: Size = 0,  # noqa: A002
                            dilation: Size = 1, ceil_mode: bool = False, return_indices: bool = True):  # fmt: skip
    """max_pool2d(..., return_indices=True): (values, int64 indices)."""
    return max_pool2d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool3d_with_indices(input: Tensor, kernel_size: Size, stride: Size | None = None, padding: Size = 0,  # noqa: A002
                            dilation: Size = 1, ceil_mode: bool = False, return_indices: bool = True):  # fmt: skip
    """max_pool3d(..., return_indices=True): (values, int64 indices)."""
    return max_pool3d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def _avg_pool(op: str, spatial: int, x: Tensor, kernel_size, stride, padding, ceil_mode, count_include_pad,
              divisor_override):  # fmt: skip
    if x.dtype.kind != "f" and x.dtype != np.int64:
        raise DTypeError(f"{op}: expected a floating-point or int64 input, got {x.dtype}")
    if divisor_override is not None and (isinstance(divisor_override, bool) or divisor_override == 0):
        raise ArgumentError(f"{op}: divisor_override must be a nonzero int, got {divisor_override!r}")
    x4, was_unbatched = batched(op, x, spatial)
    kernel, stride, padding, _, sizes = _geometry(op, x.shape, spatial, kernel_size, stride, padding, 1, ceil_mode)
    plain = sizes == output_sizes(x4.shape[2:], kernel, stride, padding, (1,) * spatial, False)
    whole_windows = divisor_override is None and (count_include_pad or not any(padding))
    if spatial < 3 and plain and whole_windows and x.dtype.kind == "f":
        return _unbatched(kernel_pool(AvgPool2d, x4, kernel, stride, padding), was_unbatched)
    geometry = list(zip(x4.shape[2:], kernel, stride, padding, sizes))
    tables = [sliding(n, k, s, p, 1, o) for n, k, s, p, o in geometry]
    if divisor_override is not None:
        divisor = np.full(sizes, divisor_override)
    else:
        divisor = np.ones(())
        for n, k, s, p, o in geometry:
            start = np.arange(o) * s - p
            # Padding counts only up to its edge: a ceil_mode window reaching past it is cut there.
            count = (
                np.minimum(start + k, n + p) - start
                if count_include_pad
                else np.minimum(start + k, n) - (np.maximum(start, 0))
            )
            divisor = np.multiply.outer(divisor, count)
    return _unbatched(AvgPoolWindows.apply(x4, tables, divisor), was_unbatched)


def avg_pool1d(
    input: Tensor,  # noqa: A002
    kernel_size: Size,
    stride: Size | None = None,
    padding: Size = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
) -> Tensor:
    """The mean of each window of kernel_size steps. input: (N, C, L) or (C, L) -> (N, C, OL).

    OL = (L + 2 padding - kernel_size) // stride + 1 (rounded up with ceil_mode); the zero padding counts in
    the mean unless count_include_pad=False. int64 input gives int64 means, rounded toward zero.
    """
    args = (kernel_size, stride, padding, ceil_mode, count_include_pad, None)
    return _avg_pool("avg_pool1d", 1, input, *args)


def avg_pool2d(
    input: Tensor,  # noqa: A002
    kernel_size: Size,
    stride: Size | None = None,
    padding: Size = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> Tensor:
    """The mean of each kernel_size window. input: (N, C, H, W) or (C, H, W) -> (N, C, OH, OW).

    OH = (H + 2 padding - KH) // stride + 1, likewise OW (rounded up with ceil_mode). Each window divides by
    KH * KW (count_include_pad=True: the zero padding counts, up to its edge), by the input pixels it holds
    (count_include_pad=False) or by divisor_override when given.
    """
    args = (kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override)
    return _avg_pool("avg_pool2d", 2, input, *args)


def avg_pool3d(
    input: Tensor,  # noqa: A002
    kernel_size: Size,
    stride: Size | None = None,
    padding: Size = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> Tensor:
    """The mean of each kernel_size window. input: (N, C, D, H, W) or (C, D, H, W) -> (N, C, OD, OH, OW).

    As avg_pool2d with one more axis.
    """
    args = (kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override)
    return _avg_pool("avg_pool3d", 3, input, *args)


def _lp_pool(op: str, spatial: int, x: Tensor, norm_type: float, kernel_size, stride, ceil_mode: bool) -> Tensor:
    pool = {1: avg_pool1d, 2: avg_pool2d, 3: avg_pool3d}[spatial]
    mean = pool(elementwise.pow(x, norm_type), kernel_size, stride, 0, ceil_mode)
    window = math.prod(ntuple(op, "kernel_size", kernel_size, spatial, 1))
    # As PyTorch: a negative mean (odd norm_type) gives 0, not NaN.
    return elementwise.pow(sign(mean) * relu(unary.abs(mean)) * window, 1.0 / norm_type)


def lp_pool1d(input: Tensor, norm_type: float, kernel_size: Size, stride: Size | None = None,  # noqa: A002
              ceil_mode: bool = False) -> Tensor:  # fmt: skip
    """The p-norm of each window, (Σ x^p)^(1/p) with p = norm_type. input: (N, C, L) or (C, L) -> (N, C, OL)."""
    return _lp_pool("lp_pool1d", 1, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool2d(input: Tensor, norm_type: float, kernel_size: Size, stride: Size | None = None,  # noqa: A002
              ceil_mode: bool = False) -> Tensor:  # fmt: skip
    """The p-norm of each window, (Σ x^p)^(1/p). input: (N, C, H, W) or (C, H, W) -> (N, C, OH, OW)."""
    return _lp_pool("lp_pool2d", 2, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool3d(input: Tensor, norm_type: float, kernel_size: Size, stride: Size | None = None,  # noqa: A002
              ceil_mode: bool = False) -> Tensor:  # fmt: skip
    """The p-norm of each window, (Σ x^p)^(1/p). input: (N, C, D, H, W) or (C, D, H, W) -> (N, C, OD, OH, OW)."""
    return _lp_pool("lp_pool3d", 3, input, norm_type, kernel_size, stride, ceil_mode)
