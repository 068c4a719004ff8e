"""2-D convolution and transposed convolution, forward and backward: im2col and products, samples in parallel."""

import numpy as np

from kernels.numba_cpu.common import (
    SPLIT_WORK,
    float32_and_float64_only,
    numba,
    run_kernel,
    threaded,
    warms_up,
    with_one_blas_thread,
)
from kernels.numba_cpu.dot import LONG_SUM, beats_blas
from kernels.numba_cpu.tile import add_dot_nt, as_columns, dot, gemm_gathered, times_transposed
from kernels.windows import output_size, transposed_output_size

# Convolutions are im2col + BLAS, like the reference, but one sample (or a small group of samples) at a time,
# in parallel over the batch: each thread unfolds its samples' windows into a column buffer that stays in
# its cache (_unfold_lanes), then multiplies it with np.dot, which calls SciPy's BLAS. Measured on conv2d
# (64, 16, 28, 28) * (32, 16, 3, 3), 2 cores: unfolding the whole batch for one big product is much slower
# (that product alone took 9 to 23 ms, depending on its orientation; this whole forward takes 4: the unfolded
# batch is 29 MB, so every pass over it goes to memory), and letting BLAS split each sample's product over
# threads of its own while numba's threads run other samples is 2x slower (the two thread pools fight):
# numba's BLAS runs single-threaded (common.with_one_blas_thread).
# Conv1d on short signals (5 to 19 outputs) would make tiny products, so a group of samples shares one product
# of ~512 columns (_group_size), the group laid out with its samples side by side in the last axis (lanes, see
# _to_lanes): every copy then moves the whole group's values. Laid out sample after sample, the copies were of
# 5 to 19 numbers each and took 2-4x the product's time; in lanes the MNIST-1D CNN's convolutions took 0.78x
# as long forward and backward (conv1d_mnist1d, paired runs). Images of many pixels (lesson 08's, conv2d's)
# are one sample per product, where lanes measured slower.
# Weight gradients sum over the batch: each thread adds its samples' products into its own slice of
# ``partial``, summed after the parallel loop, so no two threads write the same memory.
# Where the environment holds OpenBLAS to narrower kernels than the CPU's (dot.beats_blas), the float32 products run
# at the CPU's full vector width instead: w @ cols and w^T @ grad by tile.gemm, weight gradients summed over
# >= LONG_SUM pixels as dot products of rows (dot.dot_nt, as both operands run along that sum), shorter ones by
# tiles on the gradient transposed. conv2d (64, 16, 28, 28) * (32, 16, 3, 3) forward and backward took 0.83x the
# time of BLAS with the long windows by dot_nt (copied into rows, a kernel of their own), and 0.74x once those were
# unfolded and taken by tiles too (in-process alternation, 14 rounds): the rows' kernel was deleted. At stride 1 the
# windows are not unfolded at all (_in_place_batch, below): 0.78x again.


@numba.njit(cache=True, inline="always")
def _index(i):
    """i as an unsigned index. numba checks every signed index for Python's negative wraparound; in the copy
    loops below that check took half the time (measured), and these offsets are never negative."""
    return numba.uint64(i)


@numba.njit(cache=True)
def _to_lanes(x, n0, size, ph, pw, lanes):
    """lanes[c, ph + y, pw + x, m] = x[n0 + m, c, y, x] for m < size, and 0 on the border.

    x: (N, C, H, W) -> lanes: (C, H + 2ph, W + 2pw, size), a flat scratch array: a group's samples side by side
    in the last axis (its "lanes"), so that each copy of _unfold_lanes moves ``size`` contiguous numbers (a
    signal of 5 outputs gave loops of 5 a copy, and unfolding took 4x as long as the product). One sample is
    the plain zero-padded (C, H + 2ph, W + 2pw), copied row by row.
    """
    channels, h, w = x.shape[1], x.shape[2], x.shape[3]
    padded_h, padded_w, plane = h + 2 * ph, w + 2 * pw, channels * h * w
    source, row = x.reshape(-1), padded_w * size
    for c in range(channels):
        for y in range(padded_h):
            to = (c * padded_h + y) * row
            if y < ph or y >= ph + h:
                lanes[to : to + row] = 0
                continue
            lanes[to : to + pw * size] = 0
            lanes[to + (pw + w) * size : to + row] = 0
            to, start = to + pw * size, ((n0 * channels + c) * h + y - ph) * w
            if size == 1:
                for col in range(w):
                    lanes[_index(to + col)] = source[_index(start + col)]
                continue
            for col in range(w):
                for m in range(size):
                    lanes[_index(to + m)] = source[_index(start + col + m * plane)]
                to += size


@numba.njit(cache=True)
def _from_lanes(lanes, ph, pw, out, n0, size):
    """out[n0 + m, c, y, x] = lanes[c, ph + y, pw + x, m] for m < size: _to_lanes's inverse, the border dropped.
    Sample by sample, so that the writes are contiguous and the reads strided (35% faster than the other way)."""
    channels, h, w = out.shape[1], out.shape[2], out.shape[3]
    padded_h, padded_w = h + 2 * ph, w + 2 * pw
    target = out.reshape(-1)
    for m in range(size):
        for c in range(channels):
            for y in range(h):
                start = ((c * padded_h + y + ph) * padded_w + pw) * size + m
                to = (((n0 + m) * channels + c) * h + y) * w
                for col in range(w):
                    target[_index(to + col)] = lanes[_index(start + col * size)]


@numba.njit(cache=True)
def _gather_lanes(a, n0, size, lanes):
    """lanes[r, m] = a[n0 + m, r] for m < size: a: (N, R) -> lanes: (R, size), flat (a group's matrices in lanes)."""
    rows, source = a.shape[1], a.reshape(-1)
    for r in range(rows):
        for m in range(size):
            lanes[_index(r * size + m)] = source[_index((n0 + m) * rows + r)]


@numba.njit(cache=True)
def _scatter_lanes(lanes, a, n0, size):
    """a[n0 + m, r] = lanes[r, m] for m < size: _gather_lanes's inverse (writes contiguous, as in _from_lanes)."""
    rows, target = a.shape[1], a.reshape(-1)
    for m in range(size):
        for r in range(rows):
            target[_index((n0 + m) * rows + r)] = lanes[_index(r * size + m)]


@numba.njit(cache=True)
def _unfold_lanes(lanes, channels, padded_h, padded_w, size, geometry, cols):
    """im2col of a group in lanes (see _to_lanes): cols[(c, i, j), (oy*OW + ox)*size + m] =
    lanes[c, oy*sh + i*dh, ox*sw + j*dw, m]. cols: flat, C*KH*KW rows of OH*OW*size. geometry: (KH, KW, sh, sw,
    ph, pw, dh, dw, OH, OW). Loops over flat arrays, not slices: LLVM vectorizes these and not numba's slice
    copies (5x faster)."""
    kh, kw, sh, sw, _, _, dh, dw, oh, ow = geometry
    for c in range(channels):
        for i in range(kh):
            for j in range(kw):
                to = ((c * kh + i) * kw + j) * oh * ow * size
                for oy in range(oh):
                    start = ((c * padded_h + oy * sh + i * dh) * padded_w + j * dw) * size
                    if size == 1:
                        for ox in range(ow):
                            cols[_index(to + ox)] = lanes[_index(start + ox * sw)]
                        to += ow
                        continue
                    for ox in range(ow):
                        source = start + ox * sw * size
                        for m in range(size):
                            cols[_index(to + m)] = lanes[_index(source + m)]
                        to += size


@numba.njit(cache=True)
def _fold_lanes(cols, channels, padded_h, padded_w, size, geometry, lanes):
    """The adjoint of _unfold_lanes: lanes = 0, then every entry of cols added onto the one it was copied from."""
    kh, kw, sh, sw, _, _, dh, dw, oh, ow = geometry
    lanes[: channels * padded_h * padded_w * size] = 0
    for c in range(channels):
        for i in range(kh):
            for j in range(kw):
                start = ((c * kh + i) * kw + j) * oh * ow * size
                for oy in range(oh):
                    to = ((c * padded_h + oy * sh + i * dh) * padded_w + j * dw) * size
                    if size == 1:
                        for ox in range(ow):
                            lanes[_index(to + ox * sw)] += cols[_index(start + ox)]
                        start += ow
                        continue
                    for ox in range(ow):
                        target = to + ox * sw * size
                        for m in range(size):
                            lanes[_index(target + m)] += cols[_index(start + m)]
                        start += size


@numba.njit(cache=True)
def _matrix(buffer, rows, columns):
    """The first rows * columns numbers of a flat scratch buffer, as a (rows, columns) matrix."""
    return buffer[: rows * columns].reshape((rows, columns))


@numba.njit(cache=True, inline="always")
def _convolve_samples(image, a, b, at, folded, geometry, group, long_sum, by_tiles, start, stop, out, partial):
    """_convolve_batch for samples start .. stop - 1, on this thread: partial is this thread's (K, B)."""
    _, _, _, _, ph, pw, _, _, oh, ow = geometry
    unfold, fold = image.shape[0] > 0, folded.shape[0] > 0
    shape = image.shape if unfold else folded.shape  # the same when both are used (conv2d's backward)
    channels, padded_h, padded_w = shape[1], shape[2] + 2 * ph, shape[3] + 2 * pw
    p, k, rows_a, rows_b = oh * ow, channels * geometry[0] * geometry[1], a.shape[0], b.shape[1]
    lanes = np.empty(channels * padded_h * padded_w * group, b.dtype)
    cols_lanes = np.empty(k * p * group, b.dtype)
    product_lanes = np.empty(rows_a * p * group, b.dtype)
    b_lanes = np.empty(rows_b * p * group, b.dtype)
    b_transposed = np.empty(p * group * rows_b, b.dtype)
    out_rows, b_rows = out.reshape((out.shape[0], -1)), b.reshape((b.shape[0], -1))
    for n0 in range(start, stop, group):
        size = min(group, stop - n0)
        cols = _matrix(cols_lanes, k, p * size)
        if rows_b and size > 1:
            _gather_lanes(b_rows, n0, size, b_lanes)
        b_group = b[n0] if size == 1 else _matrix(b_lanes, rows_b, p * size)
        if unfold:
            _to_lanes(image, n0, size, ph, pw, lanes)
            _unfold_lanes(lanes, channels, padded_h, padded_w, size, geometry, cols_lanes)
            if rows_a:
                dot(a, cols, out[n0] if size == 1 else _matrix(product_lanes, rows_a, p * size), by_tiles)
                if size > 1:
                    _scatter_lanes(product_lanes, out_rows, n0, size)
            if rows_b and p * size >= long_sum:  # sums over this many pixels: dot_nt beats BLAS (see dot.py)
                add_dot_nt(cols, b_group, partial)
            elif rows_b:  # shorter sums: tiles (on b's group transposed) or BLAS
                times_transposed(cols, b_group, partial, b_transposed, by_tiles, True)
        if fold:
            dot(at, b_group, cols, by_tiles)
            _fold_lanes(cols_lanes, channels, padded_h, padded_w, size, geometry, lanes)
            _from_lanes(lanes, ph, pw, folded, n0, size)


@threaded()
def _convolve_batch(image, a, b, at, folded, geometry, group, long_sum, by_tiles, out, partial):
    """Every convolution pass, per group of samples, each part done where its arrays are not empty:
    unfold: cols = unfold(image); out = a @ cols; partial[thread] += cols @ b^T
    fold:   folded = fold(at @ b)

    image: (N, C, H, W) or empty; a: (A, K), or (0, K) to skip; b: (N, B, OH*OW), B may be 0; at: (K, B);
    folded: (N, C, H, W) or empty; out: (N, A, OH*OW); partial: (threads, K, B), zeros, to be summed over threads;
    long_sum: from how many terms (columns of cols) cols @ b^T is taken by dot_nt rather than BLAS.
    K = C*KH*KW. conv2d's forward unfolds (a = its weight); its backward unfolds x and folds (b = the output's
    gradient); the transposed convolution's forward folds and its backward unfolds. One kernel for all: each
    threaded kernel compiles its whole body again (numba's gufunc and its wrapper re-optimize what they link),
    and the three passes share most of theirs (two kernels took 15 s to compile, one did both in 8; 9-10 with dot_nt).
    Each thread takes a contiguous share of the samples.
    """
    batch, threads = b.shape[0], partial.shape[0]
    for t in numba.prange(threads):
        start, stop = t * batch // threads, (t + 1) * batch // threads
        _convolve_samples(image, a, b, at, folded, geometry, group, long_sum, by_tiles, start, stop, out, partial[t])


# At stride 1 with tiles, conv2d's forward reads its windows where they lie (_in_place_batch): no im2col. Row k =
# (c, i, j) of the windows, for every output pixel at once, is the padded image itself from offset c*Hp*Wp + i*dh*Wp
# + j*dw on (tile.gemm_gathered), if the output is taken over the padded width: out[o, oy*Wp + ox], its columns from
# OW on (windows that wrap into the next row) computed and dropped. conv2d (64, 16, 28, 28) * (32, 16, 3, 3), pad 1:
# the forward in 0.73x the time of unfolding (2 threads), 7 % of its multiply-adds dropped; lesson 08's second layer,
# (64, 32, 13, 13) * (64, 32, 3, 3), 0.84x. Its first layer, windows of 9 values (one channel), took 1.2x: the copies
# of the output outweigh the product's, so windows of fewer than IN_PLACE_FROM values are unfolded. The second
# layer's gain did not show in lesson 08's step (1.01x, in-process alternation), while compiling the kernel took
# 2.7 s of the lesson's cold start: outputs of fewer than IN_PLACE_PIXELS pixels are unfolded too.
IN_PLACE_FROM = 64
IN_PLACE_PIXELS = 256


@numba.njit(cache=True)
def _window_starts(channels, padded_h, padded_w, geometry):
    """Where each row (c, i, j) of the windows starts in a padded image (C, Hp, Wp), flat: c*Hp*Wp + i*dh*Wp + j*dw."""
    kh, kw, _, _, _, _, dh, dw, _, _ = geometry
    starts = np.empty(channels * kh * kw, np.int64)
    for c in range(channels):
        for i in range(kh):
            for j in range(kw):
                starts[(c * kh + i) * kw + j] = (c * padded_h + i * dh) * padded_w + j * dw
    return starts


@threaded()
def _in_place_batch(x, w_rows, grad, geometry, out, partial, threads):
    """conv2d at stride 1 by tile.gemm_gathered, windows read in the padded image, samples in parallel; each pass
    done where its arrays are not empty (one kernel for both: each threaded kernel compiles its body again):
    forward:         out[n] = w_rows @ windows(x[n]), over the padded width, the columns that wrapped dropped;
    weight gradient: partial[t] (C*KH*KW, O) += windows(x[n]) @ grad[n]^T over thread t's samples, summed over
                     the padded width with a gradient of 0 in the columns that wrapped.

    x: (N, C, H, W); w_rows: (O, C*KH*KW) C-contiguous, or (0, 0); grad: (N, O, OH*OW), or (0, 0, 0); out:
    (N, O, OH, OW), or empty; partial: (threads, C*KH*KW, O), zeros, or empty. Each thread takes a contiguous share
    of the samples. The padded image has (KW - 1) * dw zeros more at its end: the last row's windows that wrap
    read them."""
    _, kw, _, _, ph, pw, _, dw, oh, ow = geometry
    batch, channels, h, width = x.shape
    padded_h, padded_w, o = h + 2 * ph, width + 2 * pw, max(w_rows.shape[0], grad.shape[1])
    starts, target = _window_starts(channels, padded_h, padded_w, geometry), out.reshape(-1)
    w_starts, grad_starts = np.arange(w_rows.shape[0]) * w_rows.shape[1], np.arange(oh * padded_w) * o
    for t in numba.prange(threads):
        image = np.zeros(channels * padded_h * padded_w + (kw - 1) * dw, x.dtype)
        wide = np.empty((w_rows.shape[0], oh * padded_w), x.dtype)
        flat_wide = wide.reshape(-1)
        grad_wide = np.zeros(oh * padded_w * o, x.dtype)  # (OH * Wp, O): the rows of wrapped columns stay zeros
        grad_t = np.empty((oh * ow, o), x.dtype)
        flat_t = grad_t.reshape(-1)
        for n in range(t * batch // threads, (t + 1) * batch // threads):
            _to_lanes(x, n, 1, ph, pw, image)  # the sample zero-padded
            if out.size:
                gemm_gathered(w_rows, w_starts, 1, image, starts, wide)
                for row in range(o * oh):  # each output row without the columns that wrapped
                    to, start = (n * o * oh + row) * ow, row * padded_w
                    for col in range(ow):
                        target[_index(to + col)] = flat_wide[_index(start + col)]
            if partial.size:
                as_columns(grad[n], 0, o, grad_t)  # grad[n]^T, 8 rows at a time
                for oy in range(oh):  # its rows at their places over the padded width
                    to, start = oy * padded_w * o, oy * ow * o
                    for e in range(ow * o):
                        grad_wide[_index(to + e)] = flat_t[_index(start + e)]
                gemm_gathered(image, starts, 1, grad_wide, grad_starts, partial[t], True)


# Work for run_kernel (nanoseconds on one thread) per multiply-add of a convolution: its small products and the
# unfolding around them run at about 20 multiply-adds per nanosecond on one core (measured, float32).
CONV_MACS_PER_NS = 20


def _work_and_threads(macs: int) -> tuple[int, int]:
    """(work, threads) for a convolution of ``macs`` multiply-adds: numba's threads, or 1 below SPLIT_WORK, where
    run_kernel calls the serial twin on the caller alone (small convolutions, as the MNIST-1D CNN's, lost more
    waking a thread than it saved)."""
    work = macs // CONV_MACS_PER_NS
    return work, numba.get_num_threads() if work >= SPLIT_WORK else 1


def _convolve(work: int, threads: int, geometry: tuple, b, image=None, a=None, at=None, folded=None):
    """_convolve_batch, the parts not given as empty arrays, on numba's threads from SPLIT_WORK, else its serial
    twin on the caller alone (see _work_and_threads). Returns (out, partial summed over the threads: (K, B), or
    None where b has no rows).
    The twin compiles in 1.3 s once the threaded kernel has (they share their helpers) and saves 6-12 us a call
    against the threaded kernel on one thread: 3 % of the MNIST-1D CNN's step, whose first and last layers are
    small (paired runs)."""
    n, dtype, pixels = b.shape[0], b.dtype, geometry[8] * geometry[9]
    k = (image if image is not None else folded).shape[1] * geometry[0] * geometry[1]
    nothing = np.empty((0, 1, 1, 1), dtype)
    a = np.empty((0, k), dtype) if a is None else a
    at = np.empty((0, 0), dtype) if at is None else at
    out, partial = np.empty((n, a.shape[0], pixels), dtype), np.zeros((threads, k, b.shape[1]), dtype)
    image, folded = nothing if image is None else image, nothing if folded is None else folded
    by_tiles, group = beats_blas(dtype), _group_size(n, k, pixels, threads)
    long_sum = LONG_SUM if by_tiles else np.iinfo(np.int64).max
    kernel_args = (image, a, b, at, folded, geometry, group, long_sum, by_tiles, out, partial)
    with_one_blas_thread(_convolve_batch, *kernel_args, work=work)
    if b.shape[1] == 0:
        return out, None
    return out, (partial[0] if threads == 1 else partial.sum(axis=0))


def _in_place(batch: int, window: int, pixels: int, threads: int, stride, dtype) -> bool:
    """Whether conv2d's forward (and its backward, see conv2d_backward) reads its windows in place
    (_in_place_batch): at stride 1, by tiles (float32's), windows of IN_PLACE_FROM values or more, outputs of
    IN_PLACE_PIXELS pixels or more, where _convolve_batch would multiply one sample at a time."""
    if tuple(stride) != (1, 1) or window < IN_PLACE_FROM or pixels < IN_PLACE_PIXELS or dtype != np.float32:
        return False
    if not beats_blas(dtype):
        return False
    return _group_size(batch, window, pixels, threads) == 1


def _group_size(batch: int, rows: int, pixels: int, threads: int) -> int:
    """How many samples one product takes: enough for >= 512 columns (BLAS is slow on thin products), few
    enough that the (rows, group * pixels) column buffer stays within 256 KB, at most a thread's share."""
    return max(1, min(512 // pixels, (1 << 16) // max(1, rows * pixels), batch // threads))


def _conv_arrays(dtype, *arrays):
    """The arrays as C-contiguous arrays of dtype: numba compiles one version per dtype and layout."""
    return tuple(np.ascontiguousarray(a, dtype=dtype) for a in arrays)


def _geometry(w, stride, padding, dilation, windows) -> tuple:
    """What _unfold_lanes and _fold_lanes take: (KH, KW, sh, sw, ph, pw, dh, dw, OH, OW), from a weight
    (..., KH, KW), the (h, w) pairs of the op, and how many windows fit along each axis, (OH, OW)."""
    return (*w.shape[2:], *stride, *padding, *dilation, *windows)


def _weight_grad(partial, w):
    """grad_w (O, C, KH, KW) from the summed (C*KH*KW, O) products."""
    return np.ascontiguousarray(partial.T).reshape(w.shape)


def conv2d_forward(x, w, stride, padding, dilation):
    """As numpy_ref.conv2d_forward: unfold each sample, times w.reshape(O, C*KH*KW), in parallel over samples."""
    x, w = _conv_arrays(np.result_type(x, w), x, w)
    n, o = x.shape[0], w.shape[0]
    oh, ow = output_size(x.shape[2:], w.shape[2:], stride, padding, dilation)
    work, threads = _work_and_threads(n * o * oh * ow * w[0].size)
    geometry, no_b = _geometry(w, stride, padding, dilation, (oh, ow)), np.empty((n, 0, oh * ow), x.dtype)
    if _in_place(n, w[0].size, oh * ow, threads, stride, x.dtype):
        out = np.empty((n, o, oh, ow), x.dtype)
        nothing = np.empty((0, 0, 0), x.dtype)  # no gradient, no weight gradient
        run_kernel(_in_place_batch, work, x, w.reshape(o, -1), nothing, geometry, out, nothing, threads, twin=False)
        return out
    out, _ = _convolve(work, threads, geometry, no_b, image=x, a=w.reshape(o, -1))
    return out.reshape(n, o, oh, ow)


def conv2d_backward(grad, x, w, stride, padding, dilation, input_grad=True):
    """As numpy_ref.conv2d_backward: grad_w sums unfold(x[n]) @ grad[n]^T over samples (per-thread partial
    sums), grad_x[n] = fold(w^T @ grad[n]); both in one parallel pass. With input_grad=False, grad_w alone
    (conv_transpose2d_backward's pass without its first product): no w^T @ grad, no fold."""
    grad, x, w = _conv_arrays(np.result_type(grad, x, w), grad, x, w)
    n, o, oh, ow = grad.shape
    work, threads = _work_and_threads((2 if input_grad else 1) * n * o * oh * ow * w[0].size)
    geometry, grad = _geometry(w, stride, padding, dilation, (oh, ow)), grad.reshape(n, o, oh * ow)
    if not input_grad:
        _, partial = _convolve(work, threads, geometry, grad, image=x)
        return None, _weight_grad(partial, w)
    kh, kw = w.shape[2:]
    full = tuple(d * (size - 1) - p for d, size, p in zip(dilation, (kh, kw), padding))  # padding of the transpose
    # grad_x by a convolution reads the gradient's zero border as well: (H, OW + 2 full_w) positions, where w^T @ grad
    # takes (OH, OW). Lesson 08's second layer (11 x 11 -> 13 x 15, 1.6x the multiply-adds) took 1.19x as long.
    cheap = x.shape[2] * (ow + 2 * full[1]) <= 1.25 * oh * ow
    if min(full) >= 0 and cheap and _in_place(n, o * kh * kw, x.shape[2] * x.shape[3], threads, stride, x.dtype):
        # At stride 1, grad_x is a convolution of the gradient with the weight flipped and transposed, (C, O, KH,
        # KW), read in place as the forward's windows are: no w^T @ grad, no fold (conv2d's backward 0.95x).
        partial, no_w, no_out = (
            np.zeros((threads, w[0].size, o), x.dtype),
            np.empty((0, 0), x.dtype),
            np.empty((0, 0, 0, 0), x.dtype),
        )
        run_kernel(_in_place_batch, work // 2, x, no_w, grad, geometry, no_out, partial, threads, twin=False)
        partial = partial[0] if threads == 1 else partial.sum(axis=0)
        flipped = np.ascontiguousarray(w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3))
        return conv2d_forward(grad.reshape(n, o, oh, ow), flipped, (1, 1), full, dilation), _weight_grad(partial, w)
    grad_x, w2t = np.empty(x.shape, x.dtype), np.ascontiguousarray(w.reshape(o, -1).T)
    _, partial = _convolve(work, threads, geometry, grad, image=x, at=w2t, folded=grad_x)
    return grad_x, _weight_grad(partial, w)


def conv_transpose2d_forward(x, w, stride, padding, output_padding, dilation):
    """As numpy_ref.conv_transpose2d_forward: out[n] = fold(w.reshape(C_in, -1)^T @ x[n]), parallel over n."""
    x, w = _conv_arrays(np.result_type(x, w), x, w)
    n, c_in, h, wd = x.shape
    out_size = transposed_output_size((h, wd), w.shape[2:], stride, padding, output_padding, dilation)
    wt, (work, threads) = np.ascontiguousarray(w.reshape(c_in, -1).T), _work_and_threads(x.size * w[0].size)
    # The windows are the input's pixels: conv2d's output size is this one's input size.
    geometry, out = _geometry(w, stride, padding, dilation, (h, wd)), np.empty((n, w.shape[1], *out_size), x.dtype)
    _convolve(work, threads, geometry, x.reshape(n, c_in, h * wd), at=wt, folded=out)
    return out


def conv_transpose2d_backward(grad, x, w, stride, padding, output_padding, dilation):
    """As numpy_ref.conv_transpose2d_backward: cols = unfold(grad[n]); grad_x[n] = w.reshape(C_in, -1) @ cols,
    grad_w sums cols @ x[n]^T over samples (per-thread partial sums)."""
    grad, x, w = _conv_arrays(np.result_type(grad, x, w), grad, x, w)
    n, c_in, h, wd = x.shape
    work, threads = _work_and_threads(2 * x.size * w[0].size)
    geometry, x3 = _geometry(w, stride, padding, dilation, (h, wd)), x.reshape(n, c_in, h * wd)
    grad_x, partial = _convolve(work, threads, geometry, x3, image=grad, a=w.reshape(c_in, -1))
    return grad_x.reshape(x.shape), _weight_grad(partial, w)


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
    # Windows of 72 values on 256 pixels: read in place (where float32 takes tiles; one kernel for both passes).
    x, w = np.ones((1, 8, 16, 16), dtype), np.ones((4, 8, 3, 3), dtype)
    conv2d_backward(conv2d_forward(x, w, *geometry), x, w, *geometry)
