"""2-D convolution and transposed convolution, forward and backward: im2col and BLAS, samples in parallel."""

import numpy as np

from kernels.numba_cpu.common import (
    SPLIT_WORK,
    float32_and_float64_only,
    numba,
    threaded,
    warms_up,
    with_one_blas_thread,
)
from kernels.windows import output_size, transposed_output_size

# Convolutions are im2col + BLAS, like the reference, but one sample (or a small group of samples) at a time,
# in parallel over the batch: each thread unfolds its samples' windows into a column buffer that stays in
# its cache (_unfold), then multiplies it with np.dot, which calls SciPy's BLAS. Measured on conv2d
# (64, 16, 28, 28) * (32, 16, 3, 3), 2 cores: unfolding the whole batch for one big product is much slower
# (that product alone took 9 to 23 ms, depending on its orientation; this whole forward takes 4: the unfolded
# batch is 29 MB, so every pass over it goes to memory), and letting BLAS split each sample's product over
# threads of its own while numba's threads run other samples is 2x slower (the two thread pools fight):
# numba's BLAS runs single-threaded (common.with_one_blas_thread).
# Conv1d on short signals (5 to 19 outputs) would make tiny products, so samples are set side by side in
# one product of ~512 columns (_group_size).
# Weight gradients sum over the batch: each thread adds its samples' products into its own slice of
# ``partial``, summed after the parallel loop, so no two threads write the same memory.


@numba.njit(cache=True, inline="always")
def _index(i):
    """i as an unsigned index. numba checks every signed index for Python's negative wraparound; in the copy
    loops below that check took half the time (measured), and these offsets are never negative."""
    return numba.uint64(i)


@numba.njit(cache=True)
def _unfold(padded, size, geometry, cols):
    """im2col of a group of zero-padded samples, side by side: sample m's columns are m*P .. (m+1)*P - 1.

    padded: (G, C, H + 2ph, W + 2pw), its first ``size`` samples used; cols: (C*KH*KW, >= size * P);
    geometry: (KH, KW, sh, sw, ph, pw, dh, dw, OH, OW), P = OH*OW, and
    cols[(c, i, j), m*P + oy*OW + ox] = padded[m, c, oy*sh + i*dh, ox*sw + j*dw].
    Loops over flat arrays, not slices: LLVM vectorizes these and not numba's slice copies (5x faster).
    """
    kh, kw, sh, sw, _, _, dh, dw, oh, ow = geometry  # the padding is already in padded
    channels, padded_h, padded_w = padded.shape[1], padded.shape[2], padded.shape[3]
    source, target, width = padded.reshape(-1), cols.reshape(-1), cols.shape[1]
    for c in range(channels):
        for i in range(kh):
            for j in range(kw):
                for m in range(size):
                    # tap (i, j) of output pixel (0, 0), and where it goes
                    start = ((m * channels + c) * padded_h + i * dh) * padded_w + j * dw
                    to = ((c * kh + i) * kw + j) * width + m * oh * ow
                    for oy in range(oh):
                        row_start, row_to = start + oy * sh * padded_w, to + oy * ow
                        for ox in range(ow):
                            target[_index(row_to + ox)] = source[_index(row_start + ox * sw)]


@numba.njit(cache=True)
def _fold(cols, size, geometry, padded):
    """The adjoint of _unfold: padded[:size] = 0, then every entry of cols added onto the pixel it was copied
    from."""
    kh, kw, sh, sw, _, _, dh, dw, oh, ow = geometry
    channels, padded_h, padded_w = padded.shape[1], padded.shape[2], padded.shape[3]
    padded[:size] = 0
    source, target, width = cols.reshape(-1), padded.reshape(-1), cols.shape[1]
    for c in range(channels):
        for i in range(kh):
            for j in range(kw):
                for m in range(size):
                    start = ((c * kh + i) * kw + j) * width + m * oh * ow
                    to = ((m * channels + c) * padded_h + i * dh) * padded_w + j * dw
                    for oy in range(oh):
                        row_start, row_to = start + oy * ow, to + oy * sh * padded_w
                        for ox in range(ow):
                            target[_index(row_to + ox * sw)] += source[_index(row_start + ox)]


@numba.njit(cache=True)
def _copy_rows(source, start, pitch, target, to, to_pitch, rows, length):
    """target[to + k*to_pitch + x] = source[start + k*pitch + x] for k < rows, x < length (flat arrays).

    The copies between layouts below are of rows of a few to a few dozen numbers: a slice per row (a view
    each) took 1.6x as long as these loops.
    """
    for k in range(rows):
        a, b = start + k * pitch, to + k * to_pitch
        for x in range(length):
            target[_index(b + x)] = source[_index(a + x)]


@numba.njit(cache=True)
def _pad(x, n0, size, ph, pw, padded):
    """padded[m, :, ph : ph + H, pw : pw + W] = x[n0 + m] for m < size; padded's border is left as it is.

    x: (N, C, H, W), padded: (G, C, H + 2ph, W + 2pw). (A 4-D slice assignment says the same, but numba takes
    5 s to compile each one.)
    """
    channels, h, w = x.shape[1], x.shape[2], x.shape[3]
    padded_h, padded_w = padded.shape[2], padded.shape[3]
    source, target = x.reshape(-1), padded.reshape(-1)
    for m in range(size):
        for c in range(channels):
            start, to = ((n0 + m) * channels + c) * h * w, ((m * channels + c) * padded_h + ph) * padded_w + pw
            _copy_rows(source, start, w, target, to, padded_w, h, w)


@numba.njit(cache=True)
def _crop(padded, size, ph, pw, out, n0):
    """out[n0 + m] = padded[m, :, ph : ph + H, pw : pw + W] for m < size: _pad's inverse."""
    channels, h, w = out.shape[1], out.shape[2], out.shape[3]
    padded_h, padded_w = padded.shape[2], padded.shape[3]
    source, target = padded.reshape(-1), out.reshape(-1)
    for m in range(size):
        for c in range(channels):
            start, to = ((m * channels + c) * padded_h + ph) * padded_w + pw, ((n0 + m) * channels + c) * h * w
            _copy_rows(source, start, padded_w, target, to, w, h, w)


@numba.njit(cache=True)
def _side_by_side(a, n0, size, block):
    """block[:, m*P : (m+1)*P] = a[n0 + m] for m < size, zeros after. a: (N, R, P), block: (R, G*P)."""
    rows, p = a.shape[1], a.shape[2]
    block[:, size * p :] = 0
    for m in range(size):
        _copy_rows(a.reshape(-1), (n0 + m) * rows * p, p, block.reshape(-1), m * p, block.shape[1], rows, p)


@numba.njit(cache=True)
def _split(block, n0, size, out):
    """The inverse of _side_by_side: out[n0 + m] = block[:, m*P : (m+1)*P] for m < size. out: (N, R, P)."""
    rows, p = out.shape[1], out.shape[2]
    for m in range(size):
        _copy_rows(block.reshape(-1), m * p, block.shape[1], out.reshape(-1), (n0 + m) * rows * p, p, rows, p)


@numba.njit(cache=True)
def _unfold_multiply_samples(src, a, b, geometry, group, start, stop, out, partial):
    """_unfold_multiply for samples start .. stop - 1, on this thread: partial is this thread's (K, B)."""
    _, _, _, _, ph, pw, _, _, oh, ow = geometry
    channels, h, w = src.shape[1], src.shape[2], src.shape[3]
    k, p = a.shape[1], oh * ow
    rows_a, rows_b = a.shape[0], b.shape[1]
    padded = np.zeros((group, channels, h + 2 * ph, w + 2 * pw), src.dtype)  # its border stays 0
    cols = np.empty((k, group * p), src.dtype)
    product = np.empty((rows_a, group * p), src.dtype)
    b_block = np.empty((rows_b, group * p), src.dtype)
    b_product = np.empty((k, rows_b), src.dtype)
    for n0 in range(start, stop, group):
        size = min(group, stop - n0)
        _pad(src, n0, size, ph, pw, padded)
        _unfold(padded, size, geometry, cols)
        if rows_a and group == 1:
            np.dot(a, cols, out[n0])
        elif rows_a:
            np.dot(a, cols, product)
            _split(product, n0, size, out)
        if rows_b and group == 1:
            np.dot(cols, b[n0].T, b_product)
            partial += b_product
        elif rows_b:
            # A last, smaller group leaves columns of cols from the group before: zeroed (in b_block too), they
            # add nothing, and an inf there cannot make 0 * inf = NaN.
            cols[:, size * p :] = 0
            _side_by_side(b, n0, size, b_block)
            np.dot(cols, b_block.T, b_product)
            partial += b_product


@threaded()
def _unfold_multiply(src, a, b, geometry, group, threads):
    """Per group of samples, cols = unfold(src); out = a @ cols; partial[thread] += cols @ b^T.

    src: (N, C, H, W); a: (A, C*KH*KW), or (0, C*KH*KW) to skip; b: (N, B, OH*OW), or (N, 0, OH*OW) to skip
    -> out: (N, A, OH*OW), partial: (threads, C*KH*KW, B), to be summed over threads.
    Each thread takes a contiguous share of the samples.
    """
    batch, p = src.shape[0], geometry[8] * geometry[9]
    out = np.empty((batch, a.shape[0], p), src.dtype)
    partial = np.zeros((threads, a.shape[1], b.shape[1]), src.dtype)
    for t in numba.prange(threads):
        start, stop = t * batch // threads, (t + 1) * batch // threads
        _unfold_multiply_samples(src, a, b, geometry, group, start, stop, out, partial[t])
    return out, partial


@numba.njit(cache=True)
def _multiply_fold_samples(src, at, geometry, group, start, stop, out):
    """_multiply_fold for samples start .. stop - 1, on this thread."""
    _, _, _, _, ph, pw, _, _, oh, ow = geometry
    rows, p = src.shape[1], oh * ow
    channels, h, w = out.shape[1], out.shape[2], out.shape[3]
    padded = np.empty((group, channels, h + 2 * ph, w + 2 * pw), src.dtype)
    cols = np.empty((at.shape[0], group * p), src.dtype)
    block = np.empty((rows, group * p), src.dtype)
    for n0 in range(start, stop, group):
        size = min(group, stop - n0)
        if group == 1:
            np.dot(at, src[n0], cols)
        else:
            _side_by_side(src, n0, size, block)
            np.dot(at, block, cols)
        _fold(cols, size, geometry, padded)
        _crop(padded, size, ph, pw, out, n0)


@threaded()
def _multiply_fold(src, at, out, geometry, group, threads):
    """Per group of samples, out = fold(at @ src). src: (N, S, OH*OW), at: (C*KH*KW, S), out: (N, C, H, W)."""
    batch = src.shape[0]
    for t in numba.prange(threads):
        _multiply_fold_samples(src, at, geometry, group, t * batch // threads, (t + 1) * batch // threads, out)
    return out


@numba.njit(cache=True)
def _conv2d_backward_samples(grad, x, w2t, geometry, group, start, stop, grad_x, partial):
    """_conv2d_backward for samples start .. stop - 1, on this thread: partial is this thread's (K, O)."""
    _, _, _, _, ph, pw, _, _, oh, ow = geometry
    o, p = grad.shape[1], oh * ow
    channels, h, w = x.shape[1], x.shape[2], x.shape[3]
    k = w2t.shape[0]
    padded = np.zeros((group, channels, h + 2 * ph, w + 2 * pw), x.dtype)  # its border stays 0
    grad_padded = np.empty_like(padded)
    cols = np.empty((k, group * p), x.dtype)
    grad_cols = np.empty((k, group * p), x.dtype)
    block = np.empty((o, group * p), x.dtype)
    product = np.empty((k, o), x.dtype)
    for n0 in range(start, stop, group):
        size = min(group, stop - n0)
        _pad(x, n0, size, ph, pw, padded)
        _unfold(padded, size, geometry, cols)
        if group == 1:
            g = grad[n0]
        else:
            cols[:, size * p :] = 0  # as in _unfold_multiply_samples
            _side_by_side(grad, n0, size, block)
            g = block
        np.dot(cols, g.T, product)
        partial += product
        np.dot(w2t, g, grad_cols)
        _fold(grad_cols, size, geometry, grad_padded)
        _crop(grad_padded, size, ph, pw, grad_x, n0)


@threaded()
def _conv2d_backward(grad, x, w2t, geometry, group, threads):
    """conv2d's two gradients in one pass over the batch, per group of samples:
    cols = unfold(x); partial[thread] += cols @ grad^T; grad_x = fold(w2t @ grad).

    grad: (N, O, OH*OW), x: (N, C, H, W), w2t: (C*KH*KW, O) -> grad_x: (N, C, H, W), partial: (threads, C*KH*KW, O).
    """
    batch = x.shape[0]
    grad_x = np.empty(x.shape, x.dtype)
    partial = np.zeros((threads, w2t.shape[0], grad.shape[1]), x.dtype)
    for t in numba.prange(threads):
        start, stop = t * batch // threads, (t + 1) * batch // threads
        _conv2d_backward_samples(grad, x, w2t, geometry, group, start, stop, grad_x, partial[t])
    return grad_x, partial


# Work for run_kernel (nanoseconds on one thread) per multiply-add of a convolution: its small products and the
# unfolding around them run at about 20 multiply-adds per nanosecond on one core (measured, float32).
CONV_MACS_PER_NS = 20


def _work_and_threads(macs: int) -> tuple[int, int]:
    """(work, threads) for a convolution of ``macs`` multiply-adds: numba's threads, or 1 below SPLIT_WORK, which
    with_one_blas_thread then runs on the caller alone (small convolutions, as the MNIST-1D CNN's, lost more
    waking a thread than it saved)."""
    work = macs // CONV_MACS_PER_NS
    return work, numba.get_num_threads() if work >= SPLIT_WORK else 1


def _launch(kernel, work: int, *args):
    """kernel(*args): on numba's threads from SPLIT_WORK, else on the caller alone (see _work_and_threads)."""
    return with_one_blas_thread(kernel, *args, work=work, twin=False)


def _group_size(batch: int, rows: int, pixels: int, threads: int) -> int:
    """How many samples one product takes: enough for >= 512 columns (BLAS is slow on thin products), few
    enough that the (rows, group * pixels) column buffer stays within 256 KB, at most a thread's share."""
    return max(1, min(512 // pixels, (1 << 16) // max(1, rows * pixels), batch // threads))


def _conv_arrays(dtype, *arrays):
    """The arrays as C-contiguous arrays of dtype: numba compiles one version per dtype and layout."""
    return tuple(np.ascontiguousarray(a, dtype=dtype) for a in arrays)


def _geometry(w, stride, padding, dilation, windows) -> tuple:
    """What _unfold and _fold take: (KH, KW, sh, sw, ph, pw, dh, dw, OH, OW), from a weight (..., KH, KW),
    the (h, w) pairs of the op, and how many windows fit along each axis, (OH, OW)."""
    return (*w.shape[2:], *stride, *padding, *dilation, *windows)


def conv2d_forward(x, w, stride, padding, dilation):
    """As numpy_ref.conv2d_forward: unfold each sample, times w.reshape(O, C*KH*KW), in parallel over samples."""
    x, w = _conv_arrays(np.result_type(x, w), x, w)
    n, o = x.shape[0], w.shape[0]
    oh, ow = output_size(x.shape[2:], w.shape[2:], stride, padding, dilation)
    w2, (work, threads) = w.reshape(o, -1), _work_and_threads(n * o * oh * ow * w[0].size)
    group, geometry = _group_size(n, w2.shape[1], oh * ow, threads), _geometry(w, stride, padding, dilation, (oh, ow))
    no_b = np.empty((n, 0, oh * ow), x.dtype)
    out, _ = _launch(_unfold_multiply, work, x, w2, no_b, geometry, group, threads)
    return out.reshape(n, o, oh, ow)


def conv2d_backward(grad, x, w, stride, padding, dilation, input_grad=True):
    """As numpy_ref.conv2d_backward: grad_w sums unfold(x[n]) @ grad[n]^T over samples (per-thread partial
    sums), grad_x[n] = fold(w^T @ grad[n]); both in one parallel pass. With input_grad=False, grad_w alone
    (conv_transpose2d_backward's pass without its first product): no w^T @ grad, no fold."""
    grad, x, w = _conv_arrays(np.result_type(grad, x, w), grad, x, w)
    n, o, oh, ow = grad.shape
    products = 2 if input_grad else 1
    w2t = np.ascontiguousarray(w.reshape(o, -1).T)
    work, threads = _work_and_threads(products * n * o * oh * ow * w[0].size)
    group, geometry = _group_size(n, w2t.shape[0], oh * ow, threads), _geometry(w, stride, padding, dilation, (oh, ow))
    grad = grad.reshape(n, o, oh * ow)
    if not input_grad:
        no_a = np.empty((0, w2t.shape[0]), x.dtype)
        _, partial = _launch(_unfold_multiply, work, x, no_a, grad, geometry, group, threads)
        return None, np.ascontiguousarray(partial.sum(axis=0).T).reshape(w.shape)
    grad_x, partial = _launch(_conv2d_backward, work, grad, x, w2t, geometry, group, threads)
    return grad_x, np.ascontiguousarray(partial.sum(axis=0).T).reshape(w.shape)


def conv_transpose2d_forward(x, w, stride, padding, output_padding, dilation):
    """As numpy_ref.conv_transpose2d_forward: out[n] = fold(w.reshape(C_in, -1)^T @ x[n]), parallel over n."""
    x, w = _conv_arrays(np.result_type(x, w), x, w)
    n, c_in, h, wd = x.shape
    out_size = transposed_output_size((h, wd), w.shape[2:], stride, padding, output_padding, dilation)
    wt, (work, threads) = np.ascontiguousarray(w.reshape(c_in, -1).T), _work_and_threads(x.size * w[0].size)
    # The windows are the input's pixels: conv2d's output size is this one's input size.
    group, geometry = _group_size(n, wt.shape[0], h * wd, threads), _geometry(w, stride, padding, dilation, (h, wd))
    out = np.empty((n, w.shape[1], *out_size), x.dtype)
    x3 = x.reshape(n, c_in, h * wd)
    return _launch(_multiply_fold, work, x3, wt, out, geometry, group, threads)


def conv_transpose2d_backward(grad, x, w, stride, padding, output_padding, dilation):
    """As numpy_ref.conv_transpose2d_backward: cols = unfold(grad[n]); grad_x[n] = w.reshape(C_in, -1) @ cols,
    grad_w sums cols @ x[n]^T over samples (per-thread partial sums)."""
    grad, x, w = _conv_arrays(np.result_type(grad, x, w), grad, x, w)
    n, c_in, h, wd = x.shape
    w2, (work, threads) = w.reshape(c_in, -1), _work_and_threads(2 * x.size * w[0].size)
    group, geometry = _group_size(n, w2.shape[1], h * wd, threads), _geometry(w, stride, padding, dilation, (h, wd))
    x3 = x.reshape(n, c_in, h * wd)
    grad_x, partial = _launch(_unfold_multiply, work, grad, w2, x3, geometry, group, threads)
    return grad_x.reshape(x.shape), np.ascontiguousarray(partial.sum(axis=0).T).reshape(w.shape)


float32_and_float64_only(conv2d_forward, conv2d_backward, conv_transpose2d_forward, conv_transpose2d_backward)


@warms_up
def warm_up(dtype: np.dtype) -> None:
    """Compile every convolution kernel for dtype (see common.warms_up)."""
    x, w = np.ones((2, 2, 4, 4), dtype), np.ones((3, 2, 3, 3), dtype)
    geometry, transposed = ((1, 1), (1, 1), (1, 1)), ((1, 1), (1, 1), (0, 0), (1, 1))
    y = conv2d_forward(x, w, *geometry)
    conv2d_backward(y, x, w, *geometry)
    conv2d_backward(y, x, w, *geometry, input_grad=False)
    conv_transpose2d_backward(conv_transpose2d_forward(y, w, *transposed), y, w, *transposed)
