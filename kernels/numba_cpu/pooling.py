"""Max and average pooling over 2-D windows, forward and backward.

Each (sample, channel) plane is one parallel task, computed one output pixel at a time with its taps
innermost; output sizes come from ``kernels.windows``.
"""

import math

import numpy as np

from kernels.numba_cpu.common import numba, run_kernel, threaded, warms_up
from kernels.windows import output_size


@threaded()
def _max_pool2d_forward(x, kh, kw, sh, sw, ph, pw, out, argmax):
    """Per (sample, channel) plane and output pixel: the running maximum over the taps, and the first tap that
    reached it (a later tap must be strictly greater to take over).

    A tap in the padding counts as -inf: it never beats the running maximum (which starts at -inf with tap
    0), so it is skipped. A NaN never compares greater; it is remembered, and such a window gets NaN and
    position 0, as in the reference (where NaN equals nothing, so the argmax keeps its initial 0). Written
    with selects rather than branches: measured 7x faster than looping over taps outermost (vectorized).
    """
    n, c, h, w = x.shape
    oh, ow = out.shape[2], out.shape[3]
    for plane in numba.prange(n * c):
        image, best, arg = x[plane // c, plane % c], out[plane // c, plane % c], argmax[plane // c, plane % c]
        for oy in range(oh):
            for ox in range(ow):
                maximum, position, seen_nan = image.dtype.type(-np.inf), 0, False
                for i in range(kh):
                    y = oy * sh - ph + i
                    if 0 <= y < h:
                        for j in range(kw):
                            xx = ox * sw - pw + j
                            if 0 <= xx < w:
                                v = image[y, xx]
                                greater = v > maximum
                                maximum = v if greater else maximum
                                position = i * kw + j if greater else position
                                seen_nan |= v != v
                best[oy, ox] = np.nan if seen_nan else maximum
                arg[oy, ox] = 0 if seen_nan else position


@threaded()
def _max_pool2d_backward(grad, argmax, kw, sh, sw, ph, pw, grad_x):
    """Each window's gradient onto its maximum (position argmax), planes in parallel; shared maxima add up."""
    n, c, oh, ow = grad.shape
    h, w = grad_x.shape[2], grad_x.shape[3]
    for plane in numba.prange(n * c):
        g, arg, target = grad[plane // c, plane % c], argmax[plane // c, plane % c], grad_x[plane // c, plane % c]
        target[:] = 0
        for oy in range(oh):
            for ox in range(ow):
                y, xx = oy * sh - ph + arg[oy, ox] // kw, ox * sw - pw + arg[oy, ox] % kw
                if 0 <= y < h and 0 <= xx < w:
                    target[y, xx] += g[oy, ox]


@threaded()
def _avg_pool2d(x, kh, kw, sh, sw, ph, pw, out):
    """Per (sample, channel) plane and output pixel: the sum of its taps inside the image (the padding adds 0),
    in the reference's order, divided by KH*KW."""
    n, c, h, w = x.shape
    oh, ow = out.shape[2], out.shape[3]
    for plane in numba.prange(n * c):
        image, mean = x[plane // c, plane % c], out[plane // c, plane % c]
        for oy in range(oh):
            for ox in range(ow):
                total = image.dtype.type(0)
                for i in range(kh):
                    y = oy * sh - ph + i
                    if 0 <= y < h:
                        for j in range(kw):
                            xx = ox * sw - pw + j
                            if 0 <= xx < w:
                                total += image[y, xx]
                mean[oy, ox] = total / (kh * kw)


@threaded()
def _avg_pool2d_backward(grad, kh, kw, sh, sw, ph, pw, grad_x):
    """Each window's gradient / (KH*KW) added onto each of its pixels inside the image; planes in parallel."""
    n, c, oh, ow = grad.shape
    h, w = grad_x.shape[2], grad_x.shape[3]
    for plane in numba.prange(n * c):
        g, target = grad[plane // c, plane % c], grad_x[plane // c, plane % c]
        target[:] = 0
        for oy in range(oh):
            for ox in range(ow):
                share = g[oy, ox] / grad.dtype.type(kh * kw)  # a bare int would promote float32 to float64
                for i in range(kh):
                    y = oy * sh - ph + i
                    if 0 <= y < h:
                        for j in range(kw):
                            xx = ox * sw - pw + j
                            if 0 <= xx < w:
                                target[y, xx] += share


def max_pool2d_forward(x, kernel_size, stride, padding):
    """As numpy_ref.max_pool2d_forward (same argmax on ties and NaN), parallel over (sample, channel) planes."""
    x = np.ascontiguousarray(x)
    shape = x.shape[:2] + output_size(x.shape[2:], kernel_size, stride, padding)
    out, argmax = np.empty(shape, x.dtype), np.empty(shape, np.int64)
    run_kernel(_max_pool2d_forward, out.size * math.prod(kernel_size), x, *kernel_size, *stride, *padding, out, argmax)
    return out, argmax


def max_pool2d_backward(grad, argmax, x_shape, kernel_size, stride, padding):
    """As numpy_ref.max_pool2d_backward, parallel over (sample, channel) planes."""
    grad, argmax = np.ascontiguousarray(grad), np.ascontiguousarray(argmax, dtype=np.int64)
    grad_x = np.empty(x_shape, grad.dtype)
    run_kernel(_max_pool2d_backward, grad_x.size + grad.size, grad, argmax, kernel_size[1], *stride, *padding, grad_x)
    return grad_x


def avg_pool2d_forward(x, kernel_size, stride, padding):
    """As numpy_ref.avg_pool2d_forward (the zero padding counts), parallel over (sample, channel) planes."""
    x = np.ascontiguousarray(x)
    out = np.empty(x.shape[:2] + output_size(x.shape[2:], kernel_size, stride, padding), x.dtype)
    run_kernel(_avg_pool2d, out.size * math.prod(kernel_size), x, *kernel_size, *stride, *padding, out)
    return out


def avg_pool2d_backward(grad, x_shape, kernel_size, stride, padding):
    """As numpy_ref.avg_pool2d_backward, parallel over (sample, channel) planes."""
    grad = np.ascontiguousarray(grad)
    grad_x = np.empty(x_shape, grad.dtype)
    run_kernel(
        _avg_pool2d_backward, grad_x.size * math.prod(kernel_size), grad, *kernel_size, *stride, *padding, grad_x
    )
    return grad_x


@warms_up
def warm_up(dtype: np.dtype) -> None:
    """Compile every pooling kernel for dtype (see common.warms_up)."""
    x, pool = np.ones((2, 2, 4, 4), dtype), ((2, 2), (2, 2), (0, 0))
    out, argmax = max_pool2d_forward(x, *pool)
    max_pool2d_backward(out, argmax, x.shape, *pool)
    avg_pool2d_backward(avg_pool2d_forward(x, *pool), x.shape, *pool)
