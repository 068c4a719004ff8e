"""Max and average pooling over 2-D windows, forward and backward.

Each (sample, channel) plane is one parallel task, computed one output pixel at a time with its taps
innermost; output sizes come from ``kernels.windows``.
"""

import math

import numpy as np

from kernels.numba_cpu.common import REORDER_SUMS, float32_and_float64_only, numba, range_kernel, run_range, warms_up
from kernels.numba_cpu.conv import _index
from kernels.windows import output_size


@range_kernel()
def _max_pool2d_forward(start, stop, x, kh, kw, sh, sw, ph, pw, out, argmax):
    """Per (sample, channel) plane and output pixel: the maximum over the taps, and the tap the gradient goes to.

    As the reference (and PyTorch): the search starts at the window's first tap inside the image, with -inf, and
    moves on to a strictly greater value or a NaN. So the first maximum wins ties, the padding (skipped) never
    wins, even where every pixel of the window is -inf, and a window holding NaN gets NaN at its last NaN.
    Written with selects rather than branches: measured 7x faster than looping over taps outermost (vectorized).
    (Also measured, slower: a whole output row at a time, tap by tap, 2x; the window's rows and columns inside
    the image computed first instead of a check per tap, 1.2x.)
    """
    c, h, w = x.shape[1:]
    oh, ow = out.shape[2], out.shape[3]
    for plane in range(start, stop):
        image, best, arg = x[plane // c, plane % c], out[plane // c, plane % c], argmax[plane // c, plane % c]
        for oy in range(oh):
            for ox in range(ow):
                first = max(0, ph - oy * sh) * kw + max(0, pw - ox * sw)  # the first tap inside the image
                maximum, position = image.dtype.type(-np.inf), first
                for i in range(kh):
                    y = oy * sh - ph + i
                    if 0 <= y < h:
                        for j in range(kw):
                            xx = ox * sw - pw + j
                            if 0 <= xx < w:
                                v = image[y, xx]
                                take = (v > maximum) | (v != v)
                                maximum = v if take else maximum
                                position = i * kw + j if take else position
                best[oy, ox] = maximum
                arg[oy, ox] = position


@range_kernel()
def _max_pool_2x2_forward(start, stop, x, out, argmax):
    """_max_pool2d_forward for 2x2 windows, stride 2, no padding (nearly every CNN's pooling), taps written out:
    the loop over output pixels then has no inner loop and LLVM vectorizes it. The same choices: the first tap,
    then a strictly greater value; a window holding a NaN (its sum is not a number) goes by the full rule (_take).
    The test is v > m alone: with the full rule's `| (v != v)` at every tap, (64, 32, 26, 26) float32 took 5.0 ms
    on one thread, 0.73 ms so (the AMD EPYC, 2026-12-08; PyTorch's max_pool2d keeping its indices, 2 threads:
    4.3 ms)."""
    h, w = x.shape[2:]
    oh, ow = out.shape[2], out.shape[3]
    source, best, arg = x.reshape(-1), out.reshape(-1), argmax.reshape(-1)
    for plane in range(start, stop):
        for oy in range(oh):
            top, row = (plane * h + 2 * oy) * w, (plane * oh + oy) * ow
            for ox in range(ow):
                a, b = source[_index(top + 2 * ox)], source[_index(top + 2 * ox + 1)]
                c, d = source[_index(top + w + 2 * ox)], source[_index(top + w + 2 * ox + 1)]
                maximum, position = a, 0
                if b > maximum:
                    maximum, position = b, 1
                if c > maximum:
                    maximum, position = c, 2
                if d > maximum:
                    maximum, position = d, 3
                total = a + b + c + d
                if total != total:
                    maximum, position = _take(b, 1, a, 0)
                    maximum, position = _take(c, 2, maximum, position)
                    maximum, position = _take(d, 3, maximum, position)
                best[_index(row + ox)] = maximum
                arg[_index(row + ox)] = position


@numba.njit(cache=True, inline="always")
def _take(v, tap, maximum, position):
    """The window's search one tap on (see _max_pool2d_forward): (v, tap) where v is greater or a NaN."""
    take = (v > maximum) | (v != v)
    return (v if take else maximum), (tap if take else position)


@range_kernel()
def _max_pool2d_backward(start, stop, grad, argmax, kh, kw, sh, sw, ph, pw, grad_x):
    """Each window's gradient onto its maximum (position argmax), planes in parallel; shared maxima add up.
    The tap's row and column come from small tables rather than a division per window (measured 1.5x faster)."""
    c, oh, ow = grad.shape[1:]
    h, w = grad_x.shape[2], grad_x.shape[3]
    row_of, column_of = np.empty(kh * kw, np.int64), np.empty(kh * kw, np.int64)
    for tap in range(kh * kw):
        row_of[tap], column_of[tap] = tap // kw, tap % kw
    for plane in range(start, stop):
        g, arg, target = grad[plane // c, plane % c], argmax[plane // c, plane % c], grad_x[plane // c, plane % c]
        target[:] = 0
        for oy in range(oh):
            for ox in range(ow):
                tap = arg[oy, ox]
                y, xx = oy * sh - ph + row_of[tap], ox * sw - pw + column_of[tap]
                if 0 <= y < h and 0 <= xx < w:
                    target[y, xx] += g[oy, ox]


@range_kernel(fastmath=REORDER_SUMS)
def _avg_pool2d(start, stop, x, kh, kw, sh, sw, ph, pw, out):
    """Per (sample, channel) plane and output pixel: the sum of its taps inside the image (the padding adds 0),
    divided by KH*KW. Each window's rows inside the image are summed over their columns inside it, a contiguous run
    that LLVM vectorizes, and a window as wide as the image sums its rows as one run: adaptive_avg_pool2d to 1 x 1
    (a global average pool) of (32, 256, 16, 16) took 6x PyTorch's time with a bounds check per tap."""
    h, w = x.shape[2:]
    oh, ow = out.shape[2], out.shape[3]
    pixels, means = x.reshape(-1), out.reshape(-1)
    for plane in range(start, stop):
        start = plane * h * w
        for oy in range(oh):
            top, bottom = max(oy * sh - ph, 0), min(oy * sh - ph + kh, h)
            for ox in range(ow):
                left, right = max(ox * sw - pw, 0), min(ox * sw - pw + kw, w)
                total = x.dtype.type(0)
                if left == 0 and right == w:
                    for e in range(start + top * w, start + bottom * w):
                        total += pixels[_index(e)]
                else:
                    for y in range(top, bottom):
                        for e in range(start + y * w + left, start + y * w + right):
                            total += pixels[_index(e)]
                means[(plane * oh + oy) * ow + ox] = total / (kh * kw)


@range_kernel()
def _avg_pool_2x2(start, stop, x, out):
    """_avg_pool2d for 2x2 windows, stride 2, no padding, its four taps written out in the general kernel's order:
    the loop over output pixels has no inner loop, which LLVM vectorizes. (64, 32, 28, 28) float32, 2 threads:
    0.16 ms against 1.4 ms for the general kernel, whose windows made loops of two (PyTorch: 1.4 ms)."""
    h, w = x.shape[2:]
    oh, ow = out.shape[2], out.shape[3]
    source, means, four = x.reshape(-1), out.reshape(-1), x.dtype.type(4)
    for plane in range(start, stop):
        for oy in range(oh):
            top, row = (plane * h + 2 * oy) * w, (plane * oh + oy) * ow
            for ox in range(ow):
                at = top + 2 * ox
                total = (
                    source[_index(at)] + source[_index(at + 1)] + source[_index(at + w)] + source[_index(at + w + 1)]
                )
                means[_index(row + ox)] = total / four


@range_kernel()
def _avg_pool_2x2_backward(start, stop, grad, grad_x):
    """_avg_pool2d_backward for _avg_pool_2x2's windows, which do not overlap: each pixel gets its window's share
    (a quarter of its gradient) once, and an odd last row or column, in no window, 0."""
    oh, ow = grad.shape[2:]
    h, w = grad_x.shape[2], grad_x.shape[3]
    shares, pixels, four = grad.reshape(-1), grad_x.reshape(-1), grad.dtype.type(4)
    for plane in range(start, stop):
        for y in range(h):
            top, row = (plane * h + y) * w, (plane * oh + y // 2) * ow
            if y >= 2 * oh:
                for e in range(top, top + w):
                    pixels[_index(e)] = 0
                continue
            for ox in range(ow):
                share = shares[_index(row + ox)] / four
                pixels[_index(top + 2 * ox)] = share
                pixels[_index(top + 2 * ox + 1)] = share
            for e in range(top + 2 * ow, top + w):
                pixels[_index(e)] = 0


@range_kernel()
def _avg_pool2d_backward(start, stop, grad, kh, kw, sh, sw, ph, pw, grad_x):
    """Each window's gradient / (KH*KW) added onto each of its pixels inside the image, a contiguous run per window
    row (as the forward's); planes in parallel."""
    oh, ow = grad.shape[2:]
    h, w = grad_x.shape[2], grad_x.shape[3]
    shares, pixels = grad.reshape(-1), grad_x.reshape(-1)
    for plane in range(start, stop):
        start = plane * h * w
        for e in range(start, start + h * w):
            pixels[_index(e)] = 0
        for oy in range(oh):
            top, bottom = max(oy * sh - ph, 0), min(oy * sh - ph + kh, h)
            for ox in range(ow):
                left, right = max(ox * sw - pw, 0), min(ox * sw - pw + kw, w)
                share = shares[(plane * oh + oy) * ow + ox] / grad.dtype.type(kh * kw)  # (an int: float64)
                for y in range(top, bottom):
                    for e in range(start + y * w + left, start + y * w + right):
                        pixels[_index(e)] += share


def _planes(a) -> int:
    """The kernels' items: the (sample, channel) planes of a (N, C, H, W) array."""
    return a.shape[0] * a.shape[1]


def _two_by_two(kernel_size, stride, padding) -> bool:
    return tuple(kernel_size) == tuple(stride) == (2, 2) and tuple(padding) == (0, 0)


def max_pool2d_forward(x, kernel_size, stride, padding):
    """As numpy_ref.max_pool2d_forward (the same argmax on ties, -inf and NaN), parallel over (sample, channel)
    planes."""
    x = np.ascontiguousarray(x)
    shape = x.shape[:2] + output_size(x.shape[2:], kernel_size, stride, padding)
    out, argmax = np.empty(shape, x.dtype), np.empty(shape, np.int64)
    if _two_by_two(kernel_size, stride, padding):
        run_range(_max_pool_2x2_forward, out.size, _planes(x), x, out, argmax)
        return out, argmax
    work = out.size * math.prod(kernel_size)
    run_range(_max_pool2d_forward, work, _planes(x), x, *kernel_size, *stride, *padding, out, argmax)
    return out, argmax


def max_pool2d_backward(grad, argmax, x_shape, kernel_size, stride, padding):
    """As numpy_ref.max_pool2d_backward, parallel over (sample, channel) planes."""
    grad, argmax = np.ascontiguousarray(grad), np.ascontiguousarray(argmax, dtype=np.int64)
    grad_x = np.empty(x_shape, grad.dtype)
    work = grad_x.size + grad.size
    run_range(_max_pool2d_backward, work, _planes(grad), grad, argmax, *kernel_size, *stride, *padding, grad_x)
    return grad_x


def avg_pool2d_forward(x, kernel_size, stride, padding):
    """As numpy_ref.avg_pool2d_forward (the zero padding counts), parallel over (sample, channel) planes."""
    x = np.ascontiguousarray(x)
    out = np.empty(x.shape[:2] + output_size(x.shape[2:], kernel_size, stride, padding), x.dtype)
    if _two_by_two(kernel_size, stride, padding):
        run_range(_avg_pool_2x2, out.size, _planes(x), x, out)
        return out
    work = out.size * math.prod(kernel_size)
    run_range(_avg_pool2d, work, _planes(x), x, *kernel_size, *stride, *padding, out)
    return out


def avg_pool2d_backward(grad, x_shape, kernel_size, stride, padding):
    """As numpy_ref.avg_pool2d_backward, parallel over (sample, channel) planes."""
    grad = np.ascontiguousarray(grad)
    grad_x = np.empty(x_shape, grad.dtype)
    if _two_by_two(kernel_size, stride, padding):
        run_range(_avg_pool_2x2_backward, grad_x.size, _planes(grad), grad, grad_x)
        return grad_x
    work = grad_x.size * math.prod(kernel_size)
    run_range(_avg_pool2d_backward, work, _planes(grad), grad, *kernel_size, *stride, *padding, grad_x)
    return grad_x


float32_and_float64_only(max_pool2d_forward, max_pool2d_backward, avg_pool2d_forward, avg_pool2d_backward)


@warms_up
def warm_up(dtype: np.dtype) -> None:
    """Compile every pooling kernel for dtype (see common.warms_up)."""
    x, pool = np.ones((2, 2, 4, 4), dtype), ((2, 2), (2, 2), (0, 0))
    for window in (pool, ((3, 3), (2, 2), (1, 1))):  # the 2x2 kernels, and the general ones
        out, argmax = max_pool2d_forward(x, *window)
        max_pool2d_backward(out, argmax, x.shape, *window)
        avg_pool2d_backward(avg_pool2d_forward(x, *window), x.shape, *window)
