"""Depthwise 2-D convolution (groups = channels), forward and backward: direct loops, (sample, channel) pairs in
parallel.

Why not conv.py's products: a depthwise layer's windows hold one channel each, so im2col and a product per group
made 64 kernel calls for a 64-channel layer, each a product 9 terms long (a MobileNet-style step took 2.6x
PyTorch's). Here each (sample, channel) pair is one zero-padded plane in the thread's cache, split into its
stride's phases, and each tap (i, j) adds w * (its phase shifted by the tap) into the output plane: one contiguous
loop a tap, at any stride, which LLVM vectorizes.
"""

import numpy as np

from kernels import numpy_ref
from kernels.numba_cpu.common import REORDER_SUMS, float32_and_float64_only, numba, range_kernel, run_range, warms_up
from kernels.numba_cpu.conv import _geometry as conv_geometry
from kernels.numba_cpu.conv import _index
from kernels.windows import output_size

# Multiply-adds per nanosecond on one thread, for run_range's count of work: these loops do about 4.
MACS_PER_NS = 4


@numba.njit(cache=True, inline="always")
def _pair_starts(a, r, pw, rows, columns):
    """At stride 2 across: where row r of the phases of row phase ``a`` takes the image row's even pixels, and
    where its odd ones (pixel x is padded pixel x + pw: phase (x + pw) % 2, column (x + pw) // 2)."""
    row, plane = (a * 2 * rows + r) * columns, rows * columns
    return row + pw % 2 * plane + pw // 2, row + (1 - pw % 2) * plane + (pw + 1) // 2


@numba.njit(cache=True, inline="always")
def _to_phases(source, h, w, geometry, rows, columns, phases):
    """phases[a*sw + b] (flat, each rows x columns) = the (h, w) image at the start of flat ``source``, zero-padded,
    at pixels (r*sh + a, c*sw + b): its stride's phases, so that each tap of a strided window reads a contiguous run
    (stride 1: one phase, the padded image). Only the image's pixels are written: the padding's stay the zeros the
    caller allocated."""
    _, _, sh, sw, ph, pw, _, _, _, _ = geometry
    for y in range(h):
        a, r = (y + ph) % sh, (y + ph) // sh
        if sw == 2:  # the row's even and odd pixels in one loop of pairs: LLVM vectorizes it, not a strided copy
            even, odd = _pair_starts(a, r, pw, rows, columns)
            for k in range(w // 2):
                phases[_index(even + k)] = source[_index(y * w + 2 * k)]
                phases[_index(odd + k)] = source[_index(y * w + 2 * k + 1)]
            if w % 2:
                phases[_index(even + w // 2)] = source[_index(y * w + w - 1)]
            continue
        for b in range(sw):
            first = (b - pw) % sw  # the first column of this phase
            to = ((a * sw + b) * rows + r) * columns + (first + pw) // sw
            for k in range((w - first + sw - 1) // sw):
                phases[_index(to + k)] = source[_index(y * w + first + k * sw)]


@numba.njit(cache=True, inline="always")
def _from_phases(phases, h, w, geometry, rows, columns, target):
    """_to_phases's inverse, the padding dropped: flat ``target`` (h, w) from the phases."""
    _, _, sh, sw, ph, pw, _, _, _, _ = geometry
    for y in range(h):
        a, r = (y + ph) % sh, (y + ph) // sh
        if sw == 2:  # as _to_phases
            even, odd = _pair_starts(a, r, pw, rows, columns)
            for k in range(w // 2):
                target[_index(y * w + 2 * k)] = phases[_index(even + k)]
                target[_index(y * w + 2 * k + 1)] = phases[_index(odd + k)]
            if w % 2:
                target[_index(y * w + w - 1)] = phases[_index(even + w // 2)]
            continue
        for b in range(sw):
            first = (b - pw) % sw
            start = ((a * sw + b) * rows + r) * columns + (first + pw) // sw
            for k in range((w - first + sw - 1) // sw):
                target[_index(y * w + first + k * sw)] = phases[_index(start + k)]


@numba.njit(cache=True, inline="always")
def _tap_start(i, j, geometry, rows, columns):
    """Where tap (i, j) of output row 0 starts in the phases: its phase, then the rows and columns it is shifted."""
    _, _, sh, sw, _, _, dh, dw, _, _ = geometry
    return (((i * dh) % sh * sw + (j * dw) % sw) * rows + (i * dh) // sh) * columns + (j * dw) // sw


# Each tap adds into the output over the phases' whole width, `columns` a row, not the output's OW: one loop of
# OH * columns values (long enough to run in vectors: loops of OW = 8 or 16 ran their scalar remainder), whose
# columns from OW on read past the row's end and are dropped. The phases get `columns` values of slack at their end
# for the last rows' overrun.


@range_kernel(fastmath=REORDER_SUMS)
def _depthwise_batch(start, stop, x, w, grad, geometry, threads, out, grad_x, partial):
    """Each pass where its arrays are not empty (one kernel for both: a second threaded kernel cost as much
    compiling again), the (sample, channel) pairs split into ``threads`` contiguous runs:
    forward:  out[n, c*M + m] = Σ taps w[c*M + m, tap] * padded x[n, c] at the tap;
    backward: partial[t, c*M + m, tap] += Σ grad[n, c*M + m] * padded x[n, c] at the tap over run t's pairs (the
              weight gradient, summed over runs by the caller), and, where grad_x is not empty, grad_x[n, c] = Σ
              over m and taps of w * grad put back at the tap's pixels.
    x: (N, C, H, W); w: (C*M, KH*KW); grad: (N, C*M, OH, OW) or empty; out: (N, C*M, OH, OW) or empty; grad_x:
    (N, C, H, W) or empty; partial: (threads, C*M, KH*KW), zeros, or (threads, 0, 0)."""
    pairs = x.shape[0] * x.shape[1]
    for t in range(start, stop):
        _depthwise_pairs(
            x, w, grad, geometry, t * pairs // threads, (t + 1) * pairs // threads, out, grad_x, partial[t]
        )


@numba.njit(cache=True, fastmath=REORDER_SUMS)
def _depthwise_pairs(x, w, grad, geometry, first, stop, out, grad_x, partial):
    """_depthwise_batch's work on pairs first .. stop - 1, partial: this run's (C*M, KH*KW). A function of its own,
    called from the threaded loop: inlined there, the kernel took 3.4 s to compile per dtype against 2.9 (and 2.8 as
    a C function called by name, see by_name.py: not worth its code)."""
    kh, kw, sh, sw, ph, pw, _, _, oh, ow = geometry
    _, channels, h, width = x.shape
    filters, rows, columns = w.shape[0] // channels, (h + 2 * ph + sh - 1) // sh, (width + 2 * pw + sw - 1) // sw
    size = sh * sw * rows * columns + columns
    source, gradient, target, into = x.reshape(-1), grad.reshape(-1), out.reshape(-1), grad_x.reshape(-1)
    phases, grad_phases, wide = np.zeros(size, x.dtype), np.empty(size, x.dtype), np.zeros(oh * columns, x.dtype)
    for pair in range(first, stop):
        _to_phases(source[pair * h * width :], h, width, geometry, rows, columns, phases)
        for e in range(size if into.size else 0):
            grad_phases[_index(e)] = 0
        for o in range((pair % channels) * filters, (pair % channels + 1) * filters):
            base = ((pair // channels) * w.shape[0] + o) * oh * ow
            if target.size:
                for e in range(oh * columns):
                    wide[_index(e)] = 0
                for i in range(kh):
                    for j in range(kw):
                        weight, start = w[o, i * kw + j], _tap_start(i, j, geometry, rows, columns)
                        for e in range(oh * columns):
                            wide[_index(e)] += weight * phases[_index(start + e)]
                for oy in range(oh):
                    for ox in range(ow):
                        target[_index(base + oy * ow + ox)] = wide[_index(oy * columns + ox)]
            if gradient.size:  # the gradient laid out as wide as the phases, zeros in the columns from OW on
                for e in range(oh * columns):
                    wide[_index(e)] = 0
                for oy in range(oh):
                    for ox in range(ow):
                        wide[_index(oy * columns + ox)] = gradient[_index(base + oy * ow + ox)]
                for i in range(kh):
                    for j in range(kw):
                        weight, start = w[o, i * kw + j], _tap_start(i, j, geometry, rows, columns)
                        total = x.dtype.type(0)
                        for e in range(oh * columns):
                            total += wide[_index(e)] * phases[_index(start + e)]
                        partial[o, i * kw + j] += total
                        for e in range(oh * columns if into.size else 0):  # the tap's adjoint
                            grad_phases[_index(start + e)] += weight * wide[_index(e)]
        if into.size:
            _from_phases(grad_phases, h, width, geometry, rows, columns, into[pair * h * width :])


def _geometry(x, w, stride, padding, dilation, out_hw=None) -> tuple:
    """conv.py's geometry tuple (KH, KW, sh, sw, ph, pw, dh, dw, OH, OW), the output size worked out unless given."""
    out_hw = out_hw or output_size(x.shape[2:], w.shape[2:], stride, padding, dilation)
    return conv_geometry(w.shape[2:], stride, padding, dilation, out_hw)


def _fits(*arrays) -> bool:
    """Whether the kernels take these arrays: float32 or float64 alike (else the reference runs)."""
    return all(a.dtype == arrays[0].dtype and a.dtype in (np.float32, np.float64) for a in arrays)


def depthwise_conv2d_forward(x, w, stride, padding, dilation):
    """As numpy_ref.depthwise_conv2d_forward."""
    if not _fits(x, w):
        return numpy_ref.depthwise_conv2d_forward(x, w, stride, padding, dilation)
    geometry, threads = _geometry(x, w, tuple(stride), tuple(padding), tuple(dilation)), numba.get_num_threads()
    out = np.empty((x.shape[0], w.shape[0], *geometry[8:]), x.dtype)
    x, rows = np.ascontiguousarray(x), np.ascontiguousarray(w).reshape(w.shape[0], -1)
    nothing = (np.empty((0, 0, 0, 0), x.dtype), np.empty((0, 1, 1, 1), x.dtype), np.empty((threads, 0, 0), x.dtype))
    args = (x, rows, nothing[0], geometry, threads, out, *nothing[1:])
    run_range(_depthwise_batch, out.size * rows.shape[1] // MACS_PER_NS, threads, *args)
    return out


def depthwise_conv2d_backward(grad, x, w, stride, padding, dilation, input_grad=True):
    """As numpy_ref.depthwise_conv2d_backward."""
    if not _fits(grad, x, w):
        return numpy_ref.depthwise_conv2d_backward(grad, x, w, stride, padding, dilation, input_grad)
    geometry = _geometry(x, w, tuple(stride), tuple(padding), tuple(dilation), grad.shape[2:])
    grad, x, rows = np.ascontiguousarray(grad), np.ascontiguousarray(x), np.ascontiguousarray(w).reshape(w.shape[0], -1)
    threads = numba.get_num_threads()
    partial, grad_x = (
        np.zeros((threads, *rows.shape), x.dtype),
        np.empty(x.shape if input_grad else (0, 1, 1, 1), x.dtype),
    )
    args = (x, rows, grad, geometry, threads, np.empty((0, 1, 1, 1), x.dtype), grad_x, partial)
    run_range(_depthwise_batch, 2 * grad.size * rows.shape[1] // MACS_PER_NS, threads, *args)
    return (grad_x if input_grad else None), partial.sum(axis=0).reshape(w.shape)


float32_and_float64_only(depthwise_conv2d_forward, depthwise_conv2d_backward)


@warms_up
def warm_up(dtype: np.dtype) -> None:
    """Compile the depthwise kernel for dtype (see common.warms_up)."""
    x, w = np.ones((2, 2, 5, 5), dtype), np.ones((4, 1, 3, 3), dtype)
    out = depthwise_conv2d_forward(x, w, (1, 1), (1, 1), (1, 1))
    depthwise_conv2d_backward(out, x, w, (1, 1), (1, 1), (1, 1))
