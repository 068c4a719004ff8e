"""2-D convolution and transposed convolution, forward and backward: im2col and products, samples in parallel."""

import functools
from typing import NamedTuple

import numpy as np
from numba.core import types
from numba.extending import overload

from kernels import numpy_ref
from kernels.numba_cpu import winograd
from kernels.numba_cpu.by_name import ByName, call_by_name, data_pointer, data_pointers
from kernels.numba_cpu.common import (
    SPLIT_WORK,
    add_row_sums,
    float32_and_float64_only,
    limit_blas_threads,
    numba,
    range_kernel,
    run_range,
    warms_up,
)
from kernels.numba_cpu.dot import LONG_SUM, beats_blas, tiles_run
from kernels.numba_cpu.tile import (
    add_dot_nt,
    as_columns,
    dot,
    gemm_gathered,
    small_dot,
    times_transposed,
    transposed,
)
from kernels.windows import output_size, transposed_output_size

# Convolutions are im2col + BLAS, like the reference, but one sample (or a small group of samples) at a time,
# in parallel over the batch: each thread unfolds its samples' windows into a column buffer that stays in
# its cache (_unfold_lanes), then multiplies it with np.dot, which calls SciPy's BLAS. Measured on conv2d
# (64, 16, 28, 28) * (32, 16, 3, 3), 2 cores: unfolding the whole batch for one big product is much slower
# (that product alone took 9 to 23 ms, depending on its orientation; this whole forward takes 4: the unfolded
# batch is 29 MB, so every pass over it goes to memory), and letting BLAS split each sample's product over
# threads of its own while numba's threads run other samples is 2x slower (the two thread pools fight):
# numba's BLAS runs single-threaded (common.limit_blas_threads).
# Conv1d on short signals (5 to 19 outputs) would make tiny products, so a group of samples shares one product
# of ~512 columns (_group_size), the group laid out with its samples side by side in the last axis (lanes, see
# _to_lanes): every copy then moves the whole group's values. Laid out sample after sample, the copies were of
# 5 to 19 numbers each and took 2-4x the product's time; in lanes the MNIST-1D CNN's convolutions took 0.78x
# as long forward and backward (conv1d_mnist1d, paired runs). Images of many pixels (lesson 08's, conv2d's)
# are one sample per product, where lanes measured slower.
# Weight gradients sum over the batch: each thread adds its samples' products into its own slice of
# ``partial``, summed after the parallel loop, so no two threads write the same memory.
# On CPUs with AVX-512 (dot.beats_blas; first measured where OpenBLAS was held to AVX2), the float32 products run
# at the CPU's full vector width instead: w @ cols and w^T @ grad by tile.gemm, weight gradients of few channels
# summed over >= LONG_SUM pixels as dot products of rows (dot.dot_nt, as both operands run along that sum;
# DOT_NT_BELOW), the others by tiles on the gradient transposed. conv2d (64, 16, 28, 28) * (32, 16, 3, 3) forward and
# backward took 0.83x the time of BLAS with the long windows by dot_nt (copied into rows, a kernel of their own), and
# 0.74x once those were unfolded and taken by tiles too (in-process alternation, 14 rounds): the rows' kernel was
# deleted. At stride 1 the windows are not unfolded at all (_in_place_batch, below): 0.78x again. And 3x3 ones take
# Winograd's F(4x2, 3x3) (winograd.py): a third of the multiply-adds, forward and backward 0.59x the in-place kernel's
# time. On AVX2 (no AVX-512), where products stay OpenBLAS's, 3x3 ones take Winograd's tiles too (dot.tiles_run):
# 0.56x the time of im2col and OpenBLAS on conv2d's shapes.


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
                for e in range(row):
                    lanes[_index(to + e)] = 0
                continue
            for e in range(pw * size):  # (loops: numba's slice assignments took half the time on conv2d's images)
                lanes[_index(to + e)] = 0
                lanes[_index(to + (pw + w) * size + e)] = 0
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
    if sw == 2 and dw == 1 and size == 1:
        return _unfold_pairs(lanes, channels, padded_h, padded_w, geometry, cols)
    for c in range(channels):
        for i in range(kh):
            for j in range(kw):
                to = ((c * kh + i) * kw + j) * oh * ow * size
                for oy in range(oh):
                    start = ((c * padded_h + oy * sh + i * dh) * padded_w + j * dw) * size
                    if sw == 1:  # the row's windows, all lanes, are one contiguous run
                        for e in range(ow * size):
                            cols[_index(to + e)] = lanes[_index(start + e)]
                        to += ow * size
                        continue
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
    if sw == 2 and dw == 1 and size == 1:
        return _fold_pairs(lanes, channels, padded_h, padded_w, geometry, cols)
    for c in range(channels):
        for i in range(kh):
            for j in range(kw):
                start = ((c * kh + i) * kw + j) * oh * ow * size
                for oy in range(oh):
                    to = ((c * padded_h + oy * sh + i * dh) * padded_w + j * dw) * size
                    if sw == 1:
                        for e in range(ow * size):
                            lanes[_index(to + e)] += cols[_index(start + e)]
                        start += ow * size
                        continue
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


# At stride 2 across, tap j of a window row reads every other pixel of the image row from column j on. Unfolding, the
# row's even and odd pixels are copied apart first (its two phases, each half as wide), so that each tap reads one
# contiguous run of its phase, eight numbers at a time (_copy8). One core of the AMD EPYC (2026-12-07), us a sample:
# (32, 20, 20) -> 5x5 windows of 8 x 8 outputs (conv_5x5_stride2's second layer) 10.3 against 18.4 by pairs of pixels;
# (3, 36, 36) -> 16 x 16 outputs 3.5 against 5.9. Folding keeps the pairs (0.77x the time of strided adds): by the
# phases it took 27 us against 26, and 40 eight at a time (a tap's eight stores, then the next tap's loads of the same
# numbers one place along, which the CPU cannot forward).


@numba.njit(cache=True)
def _copy8(source, at, target, to):
    """target[to:to + 8] = source[at:at + 8], all eight read before any is written, so that LLVM may make them one
    vector load and one store whatever the arrays are (a plain loop over each run took 18 us a sample, as the pairs
    of pixels had: see above)."""
    v0, v1, v2, v3 = source[_index(at)], source[_index(at + 1)], source[_index(at + 2)], source[_index(at + 3)]
    v4, v5, v6, v7 = source[_index(at + 4)], source[_index(at + 5)], source[_index(at + 6)], source[_index(at + 7)]
    target[_index(to)], target[_index(to + 1)], target[_index(to + 2)], target[_index(to + 3)] = v0, v1, v2, v3
    target[_index(to + 4)], target[_index(to + 5)], target[_index(to + 6)], target[_index(to + 7)] = v4, v5, v6, v7


@numba.njit(cache=True)
def _unfold_pairs(image, channels, padded_h, padded_w, geometry, cols):
    """_unfold_lanes of one sample at stride 2 across, dilation 1 across: by the image rows' phases (see above)."""
    kh, kw, sh, _, _, _, dh, _, oh, ow = geometry
    half, pairs, rows = (padded_w + 1) // 2, padded_w // 2, channels * padded_h
    plane = rows * half
    phases = np.empty(2 * plane, image.dtype)  # [even, odd][c, y, x // 2]
    for row in range(rows):
        at, to = row * padded_w, row * half
        for k in range(pairs):
            phases[_index(to + k)] = image[_index(at + 2 * k)]
            phases[_index(plane + to + k)] = image[_index(at + 2 * k + 1)]
        if padded_w % 2:
            phases[_index(to + pairs)] = image[_index(at + padded_w - 1)]
    for c in range(channels):
        for i in range(kh):
            for j in range(kw):
                at = ((c * kh + i) * kw + j) * oh * ow
                for oy in range(oh):
                    start = (j % 2) * plane + (c * padded_h + oy * sh + i * dh) * half + j // 2
                    for ox in range(0, ow - 7, 8):
                        _copy8(phases, start + ox, cols, at + ox)
                    for ox in range(ow - ow % 8, ow):
                        cols[_index(at + ox)] = phases[_index(start + ox)]
                    at += ow


@numba.njit(cache=True)
def _fold_pairs(image, channels, padded_h, padded_w, geometry, cols):
    """_fold_lanes of one sample at stride 2 across, dilation 1 across (image zeroed first): taps j and j + 1 add onto
    the even and the odd pixels of one run of the image row, in one loop of pairs (see above)."""
    kh, kw, sh, _, _, _, dh, _, oh, ow = geometry
    pixels = oh * ow
    for c in range(channels):
        for i in range(kh):
            for j in range(0, kw, 2):
                at = ((c * kh + i) * kw + j) * pixels  # tap j's row of cols; j + 1's is the next
                for oy in range(oh):
                    start, pair = (c * padded_h + oy * sh + i * dh) * padded_w + j, j + 1 < kw
                    for ox in range(ow):
                        pixel, value = start + 2 * ox, at + ox
                        image[_index(pixel)] += cols[_index(value)]
                        if pair:
                            image[_index(pixel + 1)] += cols[_index(value + pixels)]
                    at += ow


@numba.njit(cache=True)
def _matrix(buffer, rows, columns):
    """The first rows * columns numbers of a flat scratch buffer, as a (rows, columns) matrix."""
    return buffer[: rows * columns].reshape((rows, columns))


@numba.njit(cache=True, inline="always")
def _add_to_rows(rows, values):
    """rows[r] += values[r] for each row, where values is not empty (a bias per output channel)."""
    for r in range(rows.shape[0] if values.size else 0):
        for j in range(rows.shape[1]):
            rows[r, j] += values[r]


@numba.njit(cache=True, inline="always")
def _convolve_samples(image, a, b, at, folded, geometry, group, long_sum, tiles, start, stop, out, partial, bias,
                      bias_partial):  # fmt: skip
    """_convolve_batch for samples start .. stop - 1, on this thread: partial is this thread's (K, B), bias_partial
    its (B,) or (0,)."""
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
                product = out[n0] if size == 1 else _matrix(product_lanes, rows_a, p * size)
                if tiles >= FORWARD_TILES:
                    small_dot(a, cols, product)
                else:
                    dot(a, cols, product, False)
                _add_to_rows(product, bias)  # while the rows are in this thread's cache
                if size > 1:
                    _scatter_lanes(product_lanes, out_rows, n0, size)
            if rows_b and p * size >= long_sum:  # long sums of few channels: dot_nt (see DOT_NT_BELOW)
                add_dot_nt(cols, b_group, partial)
            elif rows_b:  # shorter sums: tiles (on b's group transposed) or BLAS
                times_transposed(cols, b_group, partial, b_transposed, tiles == ALL_TILES, True)
            add_row_sums(b_group, bias_partial)
        if fold:
            dot(at, b_group, cols, tiles == ALL_TILES)
            _fold_lanes(cols_lanes, channels, padded_h, padded_w, size, geometry, lanes)
            _from_lanes(lanes, ph, pw, folded, n0, size)


def _c_signature(number, arrays: int):
    """A C function's signature taking ``arrays`` pointers to numbers, a table of integers (the arrays' shapes and
    the options), and the first and last sample + 1 (see _samples_by_pointers, _in_place_by_pointers)."""
    index = types.intp
    return types.void(*[types.CPointer(number)] * arrays, types.CPointer(types.int64), index, index)


def _samples_by_pointers(image, a, b, at, folded, out, partial, bias, bias_partial, sizes, start, stop):
    """_convolve_samples on arrays rebuilt from their first numbers (all C-contiguous) and the table of integers of
    convolve_samples: the arrays' shapes, then the geometry and the options."""
    s = numba.carray(sizes, 35)
    geometry = (s[22], s[23], s[24], s[25], s[26], s[27], s[28], s[29], s[30], s[31])
    _convolve_samples(
        numba.carray(image, (s[0], s[1], s[2], s[3])), numba.carray(a, (s[4], s[5])),
        numba.carray(b, (s[6], s[7], s[8])), numba.carray(at, (s[9], s[10])),
        numba.carray(folded, (s[11], s[12], s[13], s[14])), geometry, s[32], s[33], s[34], start, stop,
        numba.carray(out, (s[15], s[16], s[17])), numba.carray(partial, (s[18], s[19])), numba.carray(bias, s[20]),
        numba.carray(bias_partial, s[21]),
    )  # fmt: skip


# NumPy's error model, as the threaded kernels have (see common.threaded).
_SAMPLES = {
    number: ByName(f"tinynet_conv_samples_{number}", _c_signature(number, 9), _samples_by_pointers,
                   error_model="numpy")
    for number in (types.float32, types.float64)
}  # fmt: skip


def convolve_samples(image, a, b, at, folded, geometry, group, long_sum, tiles, start, stop, out, partial, bias,
                     bias_partial):  # fmt: skip
    """_convolve_samples, which kernels call through its C function (_SAMPLES: compiled once per dtype, see
    by_name). As plain Python (NUMBA_DISABLE_JIT), itself."""
    arrays = (out, partial, bias, bias_partial)
    _convolve_samples(image, a, b, at, folded, geometry, group, long_sum, tiles, start, stop, *arrays)


@overload(convolve_samples, inline="always")
def _convolve_samples_by_name(
    image, a, b, at, folded, geometry, group, long_sum, tiles, start, stop, out, partial, bias, bias_partial
):
    external = _SAMPLES[image.dtype].external

    def by_name(image, a, b, at, folded, geometry, group, long_sum, tiles, start, stop, out, partial, bias,
                bias_partial):  # fmt: skip
        shapes = image.shape + a.shape + b.shape + at.shape + folded.shape + out.shape + partial.shape + bias.shape
        shapes = shapes + bias_partial.shape
        sizes = np.array(shapes + geometry + (group, long_sum, tiles), np.int64)
        pointers = data_pointers((image, a, b, at, folded, out, partial, bias, bias_partial))
        external(*pointers, data_pointer(sizes), start, stop)

    return by_name


@range_kernel()
def _convolve_batch(
    start, stop, image, a, b, at, folded, geometry, group, long_sum, tiles, out, partial, bias, bias_partial
):
    """Every convolution pass, per group of samples, each part done where its arrays are not empty:
    unfold: cols = unfold(image); out = a @ cols; partial[thread] += cols @ b^T
    fold:   folded = fold(at @ b)

    image: (N, C, H, W) or empty; a: (A, K), or (0, K) to skip; b: (N, B, OH*OW), B may be 0; at: (K, B);
    folded: (N, C, H, W) or empty; out: (N, A, OH*OW); partial: (threads, K, B), zeros, to be summed over threads;
    bias: (A,) added to out's rows, or (0,); bias_partial: (threads, B), zeros, where thread t adds up its samples' rows
    of b (a bias's gradient), or (threads, 0);
    long_sum: from how many terms (columns of cols) cols @ b^T is taken by dot_nt rather than BLAS.
    K = C*KH*KW. conv2d's forward unfolds (a = its weight); its backward unfolds x and folds (b = the output's
    gradient); the transposed convolution's forward folds and its backward unfolds. One body for all, the three
    passes share most of it, compiled once per dtype as a C function that this kernel calls
    (convolve_samples, see by_name): inside the threaded kernel it took 8.6 s to compile, and the family's float32
    kernels 23 s; called by name, 8.7 s. Each thread takes a contiguous share of the samples.
    """
    batch, threads = b.shape[0], partial.shape[0]
    for t in range(start, stop):
        first, last = t * batch // threads, (t + 1) * batch // threads
        convolve_samples(
            image, a, b, at, folded, geometry, group, long_sum, tiles, first, last, out, partial[t], bias,
            bias_partial[t],
        )  # fmt: skip


# At stride 1 with tiles, conv2d's forward reads its windows where they lie (_in_place_batch): no im2col. Row k =
# (c, i, j) of the windows, for every output pixel at once, is the padded image itself from offset c*Hp*Wp + i*dh*Wp
# + j*dw on (tile.gemm_gathered); each output row oy takes OW of those columns from oy*Wp on (the forward), and the
# weight gradient sums over the padded width, the gradient 0 in the columns from OW on (windows that wrap into the
# next row). conv2d (64, 16, 28, 28) * (32, 16, 3, 3), pad 1: the forward (then over the padded width, the columns
# that wrapped dropped) in 0.73x the time of unfolding (2 threads); row by row it is as fast; lesson 08's second layer,
# (64, 32, 13, 13) * (64, 32, 3, 3), 0.84x. Its first layer, windows of 9 values (one channel), took 1.2x: the copies
# of the output outweigh the product's, so windows of fewer than IN_PLACE_FROM values are unfolded. The second
# layer's gain did not show in lesson 08's step (1.01x, in-process alternation), while compiling the kernel took
# 2.7 s of the lesson's cold start: outputs of fewer than IN_PLACE_PIXELS pixels are unfolded too. From 128 pixels
# on, in place (and then 3x3 by Winograd) measured faster on 2026-12-06: (64, 32, 14, 14) * (64, 32, 3, 3), pad 1,
# forward 0.76x, backward 0.69x, the weight gradient alone 0.62x; a conv1d over 128 outputs, (64, 32, 128) * (32,
# 32, 5), 0.74x / 0.81x / 0.83x. At 64-121 pixels Winograd's tiles made the forward and backward 1.2-1.8x slower.
IN_PLACE_FROM = 64
IN_PLACE_PIXELS = 128
# Outputs of fewer pixels than this are multiplied a group of samples at a time (_group_size). From 64 on one sample
# a product was as fast or faster (2026-12-06, 2 threads): a conv1d over 128 outputs, (64, 32, 128) * (32, 32, 5),
# took 0.69x the time of groups of 3 forward, 0.73x backward (the lanes' copies outweighed the product's gain), and
# a 5x5 stride-2 conv over 256 outputs, (32, 3, 32, 32) * (32, 3, 5, 5), 0.55x / 0.64x of groups of 2.
GROUP_BELOW = 64


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


@numba.njit(cache=True, inline="always")
def _in_place_samples(x, w_rows, grad, geometry, out, partial, bias, bias_partial, start, stop):
    """_in_place_batch for samples start .. stop - 1, on this thread: partial is this thread's (C*KH*KW, O),
    bias_partial its (O,) or (0,)."""
    _, kw, _, _, ph, pw, _, dw, oh, ow = geometry
    _, channels, h, width = x.shape
    padded_h, padded_w, o = h + 2 * ph, width + 2 * pw, max(w_rows.shape[0], grad.shape[1])
    starts, target = (
        _window_starts(channels, padded_h, padded_w, geometry),
        out.reshape((out.shape[0], out.shape[1], out.shape[2] * out.shape[3])),
    )
    w_starts, grad_starts = np.arange(w_rows.shape[0]) * w_rows.shape[1], np.arange(oh * padded_w) * o
    image = np.zeros(channels * padded_h * padded_w + (kw - 1) * dw, x.dtype)
    grad_wide = np.zeros((oh * padded_w, o), x.dtype)  # (OH * Wp, O): the rows of wrapped columns stay zeros
    for n in range(start, stop):
        _to_lanes(x, n, 1, ph, pw, image)  # the sample zero-padded
        if out.size:  # row by row of the output, each from its row of the image on: no columns that wrap
            for oy in range(oh):
                output_row = target[n, :, oy * ow : (oy + 1) * ow]
                gemm_gathered(w_rows, w_starts, 1, image[oy * padded_w :], starts, output_row)
            _add_to_rows(target[n], bias)
        if partial.size:
            for oy in range(oh):  # grad[n]^T, each output row's pixels at their places over the padded width
                wide_rows = grad_wide[oy * padded_w : oy * padded_w + ow]
                as_columns(grad[n, :, oy * ow : (oy + 1) * ow], 0, o, wide_rows)
            gemm_gathered(image, starts, 1, grad_wide.reshape(-1), grad_starts, partial, True)
            add_row_sums(grad[n], bias_partial)


def _in_place_by_pointers(x, w_rows, grad, out, partial, bias, bias_partial, sizes, start, stop):
    """_in_place_samples on arrays rebuilt from their first numbers and the table of in_place_samples."""
    s = numba.carray(sizes, 27)
    geometry = (s[17], s[18], s[19], s[20], s[21], s[22], s[23], s[24], s[25], s[26])
    _in_place_samples(
        numba.carray(x, (s[0], s[1], s[2], s[3])), numba.carray(w_rows, (s[4], s[5])),
        numba.carray(grad, (s[6], s[7], s[8])), geometry, numba.carray(out, (s[9], s[10], s[11], s[12])),
        numba.carray(partial, (s[13], s[14])), numba.carray(bias, s[15]), numba.carray(bias_partial, s[16]), start,
        stop,
    )  # fmt: skip


_IN_PLACE = ByName(
    "tinynet_conv_in_place_float32", _c_signature(types.float32, 7), _in_place_by_pointers, error_model="numpy"
)


def in_place_samples(x, w_rows, grad, geometry, out, partial, bias, bias_partial, start, stop):
    """_in_place_samples, which kernels call through its C function (float32 alone takes this path). As plain
    Python, itself."""
    _in_place_samples(x, w_rows, grad, geometry, out, partial, bias, bias_partial, start, stop)


call_by_name(in_place_samples, _IN_PLACE)


@range_kernel()
def _in_place_batch(start, stop, x, w_rows, grad, geometry, out, partial, bias, bias_partial):
    """conv2d at stride 1 by tile.gemm_gathered, windows read in the padded image, samples in parallel; each pass
    done where its arrays are not empty (one kernel for both):
    forward:         out[n] = w_rows @ windows(x[n]), an output row at a time;
    weight gradient: partial[t] (C*KH*KW, O) += windows(x[n]) @ grad[n]^T over thread t's samples, summed over
                     the padded width with a gradient of 0 in the columns that wrapped.

    x: (N, C, H, W); w_rows: (O, C*KH*KW) C-contiguous, or (0, 0); grad: (N, O, OH*OW), or (0, 0, 0); out:
    (N, O, OH, OW), or empty; partial: (threads, C*KH*KW, O), zeros, or (threads, 0, 0); bias: (O,) added to out,
    or (0,); bias_partial: (threads, O), zeros, where thread t adds up its samples' gradient (a bias's gradient), or
    (threads, 0). Each thread takes a contiguous share of the samples. The padded image has (KW - 1) * dw zeros
    more at its end: the last row's windows that wrap read them."""
    batch, threads = x.shape[0], partial.shape[0]
    for t in range(start, stop):
        first, last = t * batch // threads, (t + 1) * batch // threads
        in_place_samples(x, w_rows, grad, geometry, out, partial[t], bias, bias_partial[t], first, last)


# Work for run_range (nanoseconds on one thread) per multiply-add of a convolution: its small products and the
# unfolding around them run at about 20 multiply-adds per nanosecond on one core (measured, float32).
CONV_MACS_PER_NS = 20
# ... but not the MNIST-1D CNN's (2026-12-07, the AMD EPYC, one core, batch 100): its first layer, windows of 5 values,
# ran at 3.5 a nanosecond and its third, 5 outputs a sample, at 12, both on the caller alone, where 2 threads took
# 0.69x and 0.70x their time. So a pass's work counts windows shorter than SHORT_WINDOW values as that long (the
# BLAS's short sums run slowly) and each value the pass copies (unfolded, folded, written out: window + output
# channels per pixel) as COPY_MACS multiply-adds. At batch 32 the same layers stay on the caller (threads: 0.9x to
# 1.1x their time).
SHORT_WINDOW, COPY_MACS = 16, 10


def _conv_macs(n: int, o: int, pixels: int, window: int) -> int:
    """The multiply-adds that a pass of a convolution counts as (see SHORT_WINDOW): n samples, o output channels,
    ``pixels`` outputs a sample, windows of ``window`` values."""
    return n * pixels * (o * max(window, SHORT_WINDOW) + COPY_MACS * (window + o))


NEVER = np.iinfo(np.int64).max  # long_sum where no sum is long enough for dot_nt


def _work_and_threads(macs: int, available: int | None = None) -> tuple[int, int]:
    """(work, threads) for a convolution of ``macs`` multiply-adds: numba's threads (or ``available``), or 1 below
    SPLIT_WORK, where run_range runs the kernel on the caller alone (small convolutions, as the MNIST-1D
    CNN's, lost more waking a thread than it saved)."""
    work = macs // CONV_MACS_PER_NS
    return work, (numba.get_num_threads() if available is None else available) if work >= SPLIT_WORK else 1


def _convolve(
    work: int, threads: int, geometry: tuple, b, image=None, a=None, at=None, folded=None, bias=None, bias_grad=False
):
    """_convolve_batch, the parts not given as empty arrays, on numba's threads from SPLIT_WORK, else on the
    caller alone (see _work_and_threads). Returns (out, partial summed over the threads: (K, B), or None where b has
    no rows, and with bias_grad b summed over samples and pixels: (B,), else None)."""
    n, dtype, pixels = b.shape[0], b.dtype, geometry[8] * geometry[9]
    k = (image if image is not None else folded).shape[1] * geometry[0] * geometry[1]
    plan, nothing = _pass_plan(dtype, n, k, pixels, threads, b.shape[1]), _nothing(dtype, threads)
    a, at = nothing.matrix if a is None else a, nothing.matrix if at is None else at
    out, partial = np.empty((n, a.shape[0], pixels), dtype), np.zeros((threads, k, b.shape[1]), dtype)
    image, folded = nothing.image if image is None else image, nothing.image if folded is None else folded
    bias = nothing.vector if bias is None else bias
    bias_partial = np.zeros((threads, b.shape[1]), dtype) if bias_grad else nothing.rows
    kernel_args = (image, a, b, at, folded, geometry, plan.group, plan.long_sum, plan.tiles, out, partial, bias)
    limit_blas_threads()
    run_range(_convolve_batch, work, threads, *kernel_args, bias_partial)
    bias_sums = _over_threads(bias_partial) if bias_grad else None
    return out, (_over_threads(partial) if b.shape[1] else None), bias_sums


class _PassPlan(NamedTuple):
    """What _convolve's shapes decide, worked out once per shapes: that Python took 2 of the 7 us a call costs on
    top of its kernel, and the MNIST-1D CNN's step makes six calls."""

    group: int
    long_sum: int
    tiles: int  # which products the tiles take: NO_TILES, FORWARD_TILES or ALL_TILES


# Which of _convolve_samples's products take tiles: none; a @ cols alone (the forward's, on AVX2); or every one
# (dot.beats_blas: AVX-512). On AVX2 (the AMD EPYC, Zen 2, of 2026-12-07, one core, GMAC/s, tiles against OpenBLAS's
# Haswell kernels) the tiles took the forward's products: the MNIST-1D CNN's (25, 75) @ (75, 500) twice as fast,
# conv_5x5_stride2's (64, 800) @ (800, 64) 40 against 33, lesson 08's (64, 288) @ (288, 121) 37 against 33 (after
# the tiles' edges read b from a padded copy: 31 before). OpenBLAS kept the rest: the input gradient's (144, 32) @
# (32, 784) 38 against 35 GMAC/s, a weight gradient's cols @ grad^T by tiles on grad transposed 39 against 56 us.
# The step of model_steps.py's conv1d_global_pool took 3.37 ms against 3.82, the MNIST-1D CNN's forward passes 44-61
# us a layer against 47-84; conv_5x5_stride2's second layer's forward 1.71 ms against 2.01.
NO_TILES, FORWARD_TILES, ALL_TILES = 0, 1, 2


# A weight gradient's long sums (cols @ b^T over >= LONG_SUM pixels) go by dot.dot_nt where b has fewer rows (output
# channels) than this, else by tiles on b transposed, as the short ones. The Intel Xeon of 2026-12-08, 2 threads,
# conv2d's grad_w alone, ms, dot_nt / tiles: 64 channels, (64, 32, 28, 28) * (64, 32, 4, 4) at stride 2 6.9 / 4.4,
# ResNet's stem (16, 3, 64, 64) * (64, 3, 7, 7) at stride 2 2.03 / 1.66; 128 channels, the GAN discriminator's (64, 64,
# 14, 14) * (128, 64, 4, 4) 5.2 / 4.6, (32, 64, 16, 16) * (128, 64, 3, 3) 1.70 / 1.65; fewer channels lost by tiles: 6
# channels, (32, 3, 32, 32) * (6, 3, 5, 5), 0.43 / 0.44 with the backward 0.62 / 0.87; 32 of windows of 9, 0.35 / 0.44.
DOT_NT_BELOW = 64


@functools.lru_cache(maxsize=1024)
def _pass_plan(dtype, n: int, k: int, pixels: int, threads: int, columns: int) -> _PassPlan:
    """_convolve's plan for n samples of K = C*KH*KW window values over ``pixels`` outputs, on ``threads``; ``columns``:
    the rows of b (B, the weight gradient's columns), 0 where there is none."""
    if beats_blas(dtype):
        tiles = ALL_TILES
    elif tiles_run(dtype):
        tiles = FORWARD_TILES
    else:
        tiles = NO_TILES
    _SAMPLES[numba.from_dtype(dtype)].ready()  # the C function the kernel calls, compiled before its first call
    long_sum = LONG_SUM if tiles == ALL_TILES and columns < DOT_NT_BELOW else NEVER
    return _PassPlan(_group_size(n, k, pixels, threads), long_sum, tiles)


class _Nothing(NamedTuple):
    """Empty arrays that stand for the parts of a kernel not run. The kernels read their shapes, never their
    numbers, so one of each serves every call."""

    image: np.ndarray  # (0, 1, 1, 1): no image, nothing to fold into, no output
    matrix: np.ndarray  # (0, 0): no a, no at, no weight rows
    vector: np.ndarray  # (0,): no bias
    rows: np.ndarray  # (threads, 0): no bias gradient
    grad: np.ndarray  # (0, 0, 0): no gradient, no transformed weight (winograd)
    partials: np.ndarray  # (threads, 0, 0): no weight gradient
    tiles: np.ndarray  # (threads, 0, 0, 0): no weight gradient in winograd's tiles


@functools.lru_cache(maxsize=64)
def _nothing(dtype, threads: int) -> _Nothing:
    shapes = ((0, 1, 1, 1), (0, 0), (0,), (threads, 0), (0, 0, 0), (threads, 0, 0), (threads, 0, 0, 0))
    return _Nothing(*(np.empty(shape, dtype) for shape in shapes))


def _over_threads(partial):
    """The per-thread partial sums (threads, ...) added up."""
    return partial[0] if partial.shape[0] == 1 else partial.sum(axis=0)


def _in_place(batch: int, window: int, pixels: int, threads: int, stride, dtype) -> bool:
    """Whether conv2d's forward (and its backward, see conv2d_backward) reads its windows in place
    (_in_place_batch): where the shapes suit it (_fits_in_place) and float32 products take tiles (dot.beats_blas:
    AVX-512). On AVX2 that kernel took 1.2-1.9x the time of im2col and OpenBLAS; Winograd's does not (winograd.py)."""
    return _fits_in_place(batch, window, pixels, threads, stride, dtype) and beats_blas(dtype)


def _fits_in_place(batch: int, window: int, pixels: int, threads: int, stride, dtype) -> bool:
    """Whether a convolution's shapes suit windows read in place, by the direct kernel or by Winograd's: at stride 1,
    float32, windows of IN_PLACE_FROM values or more, outputs of IN_PLACE_PIXELS pixels or more, where
    _convolve_batch would multiply one sample at a time."""
    if tuple(stride) != (1, 1) or window < IN_PLACE_FROM or pixels < IN_PLACE_PIXELS or dtype != np.float32:
        return False
    return _group_size(batch, window, pixels, threads) == 1


# At most this many numbers in a group's (rows, group * pixels) column buffer. A core's L2 (1 MB on the Intel Xeon,
# 512 KB on the AMD EPYC) had seemed the bound, 2^18; wider products gained more than the cache: on the AMD EPYC
# (2026-12-07, 2 threads), the GAN discriminator's (64, 64, 14, 14) * (128, 64, 4, 4) at stride 2 (49 pixels, 1024
# rows) took 6.27 / 11.16 ms forward / backward in groups of 5, 7.6 / 12.8 in groups of 2, 5.53 / 10.46 in groups
# of 16 (2^20 numbers).
COLUMN_NUMBERS = 1 << 20


def _group_size(batch: int, rows: int, pixels: int, threads: int) -> int:
    """How many samples one product takes: one from GROUP_BELOW pixels on, else enough for >= 512 columns (products
    are slow on thin ones) and at least 16, few enough for COLUMN_NUMBERS in the (rows, group * pixels) column
    buffer, at most a thread's share."""
    if pixels >= GROUP_BELOW:
        return 1
    return max(1, min(max(512 // pixels, 16), COLUMN_NUMBERS // max(1, rows * pixels), batch // threads))


def _conv_arrays(*arrays):
    """The arrays as C-contiguous arrays of their common dtype: numba compiles one version per dtype and layout.
    (Most calls pass such arrays already: they are returned as they are, in a third of the time.)"""
    dtype = arrays[0].dtype
    for a in arrays:  # (a loop: all() over a generator took as long as the copies it spares)
        if a.dtype != dtype or not a.flags.c_contiguous:
            dtype = np.result_type(*arrays)
            return tuple(np.ascontiguousarray(a, dtype=dtype) for a in arrays)
    return arrays


def _geometry(kernel, stride, padding, dilation, windows) -> tuple:
    """What _unfold_lanes and _fold_lanes take: (KH, KW, sh, sw, ph, pw, dh, dw, OH, OW), from the kernel's (KH, KW),
    the (h, w) pairs of the op, and how many windows fit along each axis, (OH, OW)."""
    return (*kernel, *stride, *padding, *dilation, *windows)


def _weight_grad(partial, w):
    """grad_w (O, C, KH, KW) from the summed (C*KH*KW, O) products."""
    return transposed(partial).reshape(w.shape)


class _Plan(NamedTuple):
    """What a conv2d call's shapes decide (_plan): its work, threads, geometry (_geometry), output size, whether
    its windows are read in place (_in_place; for the backward, grad_x's), the padding of the transpose, and whether
    Winograd's F(4x2, 3x3) takes the call instead (winograd.py: the forward, or both gradients of the backward)."""

    work: int
    threads: int
    geometry: tuple
    out_hw: tuple
    in_place: bool
    full: tuple
    winograd: bool


@functools.lru_cache(maxsize=1024)
def _plan(x_shape, w_shape, out_hw, dtype, stride, padding, dilation, available: int, passes: int) -> _Plan:
    """conv2d_forward's plan (passes 1, out_hw None: from the geometry), or conv2d_backward's (passes 2, or 1 for
    grad_w alone, read in place where the forward's windows are; out_hw the gradient's), worked out once per shapes:
    2-3 us of Python a call otherwise. The C function of the kernel it chooses (in place, or Winograd's) is made
    ready."""
    forward, n, o, window = out_hw is None, x_shape[0], w_shape[0], w_shape[1] * w_shape[2] * w_shape[3]
    out_hw = out_hw or output_size(x_shape[2:], w_shape[2:], stride, padding, dilation)
    pixels = out_hw[0] * out_hw[1]
    work, threads = _work_and_threads(passes * _conv_macs(n, o, pixels, window), available)
    geometry = _geometry(w_shape[2:], stride, padding, dilation, out_hw)
    full = tuple(d * (size - 1) - p for d, size, p in zip(dilation, w_shape[2:], padding))  # the transpose's padding
    fits = _fits_in_place(n, window, pixels, threads, stride, dtype)
    windows_in_place = fits and beats_blas(dtype)
    three_by_three = tuple(w_shape[2:]) == (3, 3) and tuple(dilation) == (1, 1)
    few_channels = w_shape[0] * w_shape[1] <= winograd.MAX_CHANNEL_PAIRS
    winograd_fits = three_by_three and few_channels and fits and tiles_run(dtype)
    if forward:
        in_place = windows_in_place
    elif passes == 2:
        # grad_x by a convolution reads the gradient's zero border as well: (H, OW + 2 full_w) positions, where
        # w^T @ grad takes (OH, OW). Lesson 08's second layer (11 x 11 -> 13 x 15, 1.6x the multiply-adds) took
        # 1.19x as long.
        cheap = x_shape[2] * (out_hw[1] + 2 * full[1]) <= 1.25 * pixels
        in_place = min(full) >= 0 and cheap and _in_place(n, o * w_shape[2] * w_shape[3], x_shape[2] * x_shape[3],
                                                              threads, stride, dtype)  # fmt: skip
    else:
        in_place = windows_in_place
    use_winograd = winograd_fits and (forward or passes == 2)  # (grad_w alone keeps the direct kernel)
    if use_winograd:
        winograd.WINOGRAD.ready()
    elif in_place:
        _IN_PLACE.ready()
    return _Plan(work, threads, geometry, out_hw, in_place, full, use_winograd)


# Convolutions of fewer multiply-adds than this (counted at stride 1) are the reference's, as linalg sends tiny
# products to NumPy: a gradient check's, (2, 3, 7, 7) * (4, 3, 3, 3) in float64, made lesson 08's cold start
# compile the float64 convolution kernels, 14 s of its 53 (the Intel Xeon of 2026-12-06).
TINY_MACS = 100_000


def _tiny(x, w) -> bool:
    """Whether conv2d of x: (N, C, H, W) and w: (O, C/groups, KH, KW) is under TINY_MACS multiply-adds."""
    return x.size * w[0].size * w.shape[0] < TINY_MACS * w.shape[1]


def conv2d_forward(x, w, stride, padding, dilation, bias=None):
    """As numpy_ref.conv2d_forward: unfold each sample, times w.reshape(O, C*KH*KW), in parallel over samples; the
    bias added by the thread that made the rows, while they are in its cache (NumPy's add after the kernel took 4 us
    of the MNIST-1D CNN's 25 us layers, and its gradient's sums as long). Windows read in place, or 3x3 ones by
    Winograd's tiles, where the plan says (_plan); tiny ones (TINY_MACS) by the reference."""
    if _tiny(x, w):
        return numpy_ref.conv2d_forward(x, w, stride, padding, dilation, bias)
    x, w, bias = _conv_arrays(x, w, np.empty(0, x.dtype) if bias is None else bias)
    n, o = x.shape[0], w.shape[0]
    geometry = (tuple(stride), tuple(padding), tuple(dilation))
    plan = _plan(x.shape, w.shape, None, x.dtype, *geometry, numba.get_num_threads(), 1)
    (oh, ow), threads = plan.out_hw, plan.threads
    if plan.winograd:
        out, nothing = np.empty((n, o, oh, ow), x.dtype), _nothing(x.dtype, threads)
        args = (x, winograd.weight_tiles(w), nothing.image, geometry[1], out, nothing.tiles, bias, nothing.rows)
        run_range(winograd.winograd_batch, plan.work, threads, *args)
        return out
    if plan.in_place:
        out, nothing = np.empty((n, o, oh, ow), x.dtype), _nothing(x.dtype, threads)
        args = (x, w.reshape(o, -1), nothing.grad, plan.geometry, out, nothing.partials, bias, nothing.rows)
        run_range(_in_place_batch, plan.work, threads, *args)
        return out
    no_b = np.empty((n, 0, oh * ow), x.dtype)
    out, _, _ = _convolve(plan.work, threads, plan.geometry, no_b, image=x, a=w.reshape(o, -1), bias=bias)
    return out.reshape(n, o, oh, ow)


def conv2d_backward(grad, x, w, stride, padding, dilation, input_grad=True, bias_grad=False):
    """As numpy_ref.conv2d_backward: grad_w sums unfold(x[n]) @ grad[n]^T over samples (per-thread partial
    sums), grad_x[n] = fold(w^T @ grad[n]); both in one parallel pass, and the bias's gradient too with bias_grad
    (each thread adding up the rows of the gradient it has in its cache). With input_grad=False, grad_w alone
    (conv_transpose2d_backward's pass without its first product, or an input that needs no gradient): no w^T @ grad,
    no fold, and the windows read in place where the forward reads them. Tiny ones by the reference."""
    if _tiny(x, w):
        return numpy_ref.conv2d_backward(grad, x, w, stride, padding, dilation, input_grad, bias_grad)
    grad, x, w = _conv_arrays(grad, x, w)
    n, o, oh, ow = grad.shape
    options = (tuple(stride), tuple(padding), tuple(dilation), numba.get_num_threads(), 2 if input_grad else 1)
    plan = _plan(x.shape, w.shape, (oh, ow), x.dtype, *options)
    work, threads, geometry, grad = plan.work, plan.threads, plan.geometry, grad.reshape(n, o, oh * ow)
    if not input_grad:
        if plan.in_place:
            grad_w, bias_sums = _in_place_weight_grad(grad, x, w, plan, bias_grad)
            return _with_bias_grad((None, grad_w), bias_sums)
        _, partial, bias_sums = _convolve(work, threads, geometry, grad, image=x, bias_grad=bias_grad)
        return _with_bias_grad((None, _weight_grad(partial, w)), bias_sums)
    if plan.winograd:  # both gradients in one pass, sample by sample (winograd.py)
        return _winograd_backward(grad, x, w, plan, bias_grad)
    if plan.in_place:
        # At stride 1, grad_x is a convolution of the gradient with the weight flipped and transposed, (C, O, KH,
        # KW), read in place as the forward's windows are: no w^T @ grad, no fold (conv2d's backward 0.95x).
        grad_w, bias_sums = _in_place_weight_grad(grad, x, w, plan, bias_grad)
        flipped = np.ascontiguousarray(w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3))
        grad_x = conv2d_forward(grad.reshape(n, o, oh, ow), flipped, (1, 1), plan.full, dilation)
        return _with_bias_grad((grad_x, grad_w), bias_sums)
    grad_x, w2t = np.empty(x.shape, x.dtype), transposed(w.reshape(o, -1))
    _, partial, bias_sums = _convolve(
        work, threads, geometry, grad, image=x, at=w2t, folded=grad_x, bias_grad=bias_grad
    )
    return _with_bias_grad((grad_x, _weight_grad(partial, w)), bias_sums)


def _in_place_weight_grad(grad, x, w, plan: _Plan, bias_grad: bool) -> tuple:
    """(grad_w, the bias's gradient or None) by _in_place_batch. grad: (N, O, OH*OW)."""
    threads, o, nothing = plan.threads, w.shape[0], _nothing(x.dtype, plan.threads)
    partial, bias_partial = np.zeros((threads, w[0].size, o), x.dtype), _bias_partial(threads, o, x.dtype, bias_grad)
    args = (x, nothing.matrix, grad, plan.geometry, nothing.image, partial, nothing.vector, bias_partial)
    run_range(_in_place_batch, plan.work // 2, threads, *args)
    return _weight_grad(_over_threads(partial), w), _over_threads(bias_partial) if bias_grad else None


def _winograd_backward(grad, x, w, plan: _Plan, bias_grad: bool) -> tuple:
    """conv2d_backward's gradients by winograd.winograd_batch: grad_x, grad_w, and the bias's where asked for.
    grad: (N, O, OH*OW)."""
    threads, (o, c), nothing = plan.threads, w.shape[:2], _nothing(x.dtype, plan.threads)
    partial = np.zeros((threads, winograd.PLANES, o, c), x.dtype)
    bias_partial = _bias_partial(threads, o, x.dtype, bias_grad)
    grad, grad_x = grad.reshape(grad.shape[0], o, *plan.out_hw), np.empty(x.shape, x.dtype)
    args = (x, winograd.weight_tiles(w), grad, plan.geometry[4:6], grad_x, partial, nothing.vector, bias_partial)
    run_range(winograd.winograd_batch, plan.work, threads, *args)
    grad_w = winograd.weight_from_tiles(_over_threads(partial))
    return _with_bias_grad((grad_x, grad_w), _over_threads(bias_partial) if bias_grad else None)


def _bias_partial(threads: int, o: int, dtype, bias_grad: bool):
    """Where each thread sums its share of a bias's gradient: (threads, O) zeros, or (threads, 0) without one."""
    return np.zeros((threads, o), dtype) if bias_grad else _nothing(dtype, threads).rows


def _with_bias_grad(grads: tuple, bias_sums) -> tuple:
    """conv2d_backward's result: (grad_x, grad_w), and grad_bias after them where it was asked for."""
    return grads if bias_sums is None else (*grads, bias_sums)


def conv_transpose2d_forward(x, w, stride, padding, output_padding, dilation):
    """As numpy_ref.conv_transpose2d_forward: out[n] = fold(w.reshape(C_in, -1)^T @ x[n]), parallel over n."""
    x, w = _conv_arrays(x, w)
    n, c_in, h, wd = x.shape
    out_size = transposed_output_size((h, wd), w.shape[2:], stride, padding, output_padding, dilation)
    wt, (work, threads) = transposed(w.reshape(c_in, -1)), _work_and_threads(x.size * w[0].size)
    # The windows are the input's pixels: conv2d's output size is this one's input size.
    geometry = _geometry(w.shape[2:], stride, padding, dilation, (h, wd))
    out = np.empty((n, w.shape[1], *out_size), x.dtype)
    _convolve(work, threads, geometry, x.reshape(n, c_in, h * wd), at=wt, folded=out)
    return out


def conv_transpose2d_backward(grad, x, w, stride, padding, output_padding, dilation):
    """As numpy_ref.conv_transpose2d_backward: cols = unfold(grad[n]); grad_x[n] = w.reshape(C_in, -1) @ cols,
    grad_w sums cols @ x[n]^T over samples (per-thread partial sums)."""
    grad, x, w = _conv_arrays(grad, x, w)
    n, c_in, h, wd = x.shape
    work, threads = _work_and_threads(2 * x.size * w[0].size)
    geometry, x3 = _geometry(w.shape[2:], stride, padding, dilation, (h, wd)), x.reshape(n, c_in, h * wd)
    grad_x, partial, _ = _convolve(work, threads, geometry, x3, image=grad, a=w.reshape(c_in, -1))
    return grad_x.reshape(x.shape), _weight_grad(partial, w)


float32_and_float64_only(conv2d_forward, conv2d_backward, conv_transpose2d_forward, conv_transpose2d_backward)


@warms_up
def warm_up(dtype: np.dtype) -> None:
    """Compile every convolution kernel for dtype (see common.warms_up)."""
    x, w = np.ones((64, 2, 4, 4), dtype), np.ones((8, 2, 3, 3), dtype)  # (not tiny: TINY_MACS)
    geometry, transposed = ((1, 1), (1, 1), (1, 1)), ((1, 1), (1, 1), (0, 0), (1, 1))
    y = conv2d_forward(x, w, *geometry)
    conv2d_backward(y, x, w, *geometry)
    conv2d_backward(y, x, w, *geometry, input_grad=False)
    conv_transpose2d_backward(conv_transpose2d_forward(y, w, *transposed), y, w, *transposed)
    # Windows of 64 values on 256 pixels: read in place (where float32 takes tiles; one kernel for both passes);
    # 3x3 ones by Winograd's tiles (winograd.py).
    for x_shape, w_shape in (((2, 8, 17, 19), (4, 8, 2, 4)), ((2, 8, 16, 16), (4, 8, 3, 3))):
        x, w = np.ones(x_shape, dtype), np.ones(w_shape, dtype)
        conv2d_backward(conv2d_forward(x, w, *geometry), x, w, *geometry)
