"""Recurrent layers over whole sequences (RNN, GRU, LSTM), forward and backward, given the input projections."""

import numpy as np
from numba.core import types
from numba.extending import overload

from kernels.numba_cpu.by_name import ByName, data_pointer
from kernels.numba_cpu.common import (
    FUSED,
    REORDER_SUMS,
    SPLIT_WORK,
    float32_and_float64_only,
    numba,
    range_kernel,
    run_range,
    sigmoid,
    tanh,
    warms_up,
)
from kernels.numba_cpu.dot import tiles_run
from kernels.numba_cpu.linalg import matmul
from kernels.numba_cpu.tile import gemm_gathered, transposed

# Every layer's kernels make each step one matrix product over a block of the batch (h_{t-1} W_hh^T forward, the
# gradient times W_hh backward) and one vectorized pass over the gate values around it: see the LSTM's below.
# Gate math stays in the input dtype: ``one`` is 1 of that dtype (a bare 1 would promote float32 to float64).
# A pass over the gates touches few arrays: LLVM vectorizes a loop only after checking at run time that what it
# writes overlaps nothing else it reads or writes, and gives up when that takes more than 8 checks. The LSTM's
# backward pass touched six arrays and ran a value at a time, its tanh included: 15.9 ns a state value, (N, H) = (32,
# 128), one core of the AMD EPYC (2026-12-07); with dh += grad_out in a pass of its own, 3.3 (the GRU's likewise).
# The forwards' passes, whose exps dominate, ran as fast with their sums apart (the LSTM's 7.5 and 7.1 ns), which
# cost compile time: they keep theirs.
# Small problems (gradchecks, a few short sequences) run on one thread: see ``common.run_range``.


def _as(dtype, array, zeros_shape=None):
    """array as a C-contiguous array of dtype (no copy when it already is); zeros of zeros_shape for None."""
    return np.zeros(zeros_shape, dtype) if array is None else np.ascontiguousarray(array, dtype=dtype)


def _work(out, w_hh) -> int:
    """Multiply-adds of a recurrent kernel, roughly: ~8 per state value for the gates, and a row of W_hh per state
    value of every step but the first (step 0's products are matmuls outside the kernels: _first_products,
    _last_products)."""
    length, batch, size = out.shape
    return out.size * 8 + max(length - 1, 0) * batch * size * w_hh.shape[0]


# --- the LSTM: one matrix product per step, the gates fused around it ---
# A matrix product over the whole batch per step beats per-sample loops (the RNN's and the GRU's were such) from H ~ 12
# up (forward + backward over (T, N) = (40, 100) float32, 2 threads: 0.88x their time at H = 12, 0.59x at 16, 0.37x at
# 64; but 1.7x at H = 6, 1.5x for lesson 10's (20, 4, 5), 35 against 52 us). Each layer has these kernels alone: loops
# as well cost 2.4 s more compiling per dtype (tinynet warmup). The reference also multiplies per step, but spends some
# 15 NumPy calls per step on the gates (forward) and 20 on their gradients (backward), each on an (N, H) slice: at (T,
# N, H) = (35, 20, 128) that Python and the temporaries cost more than the products. These kernels make each step one
# product (h_{t-1} W_hh^T forward, da_t W_hh backward, written into preallocated blocks) and one pass over the gates,
# written so that LLVM vectorizes it (``sigmoid`` and ``tanh`` on the polynomial exp; no libm calls). Threads split the
# batch into blocks of rows, one per thread, each running its own recurrence (samples are independent, so no thread
# waits for another at any step). h_t is written straight into out[t], the next step's left operand. The step's product
# is ``_rows_dot`` or tile.gemm's tiles (``times_weight``), not BLAS: its rows are few (the batch, or a thread's share
# of it), and OpenBLAS's kernels, tuned for large blocks, ran (20, 128) @ (128, 512) at 64 GFLOP/s on one thread of the
# AMD EPYC, where _rows_dot ran 145 (174 for (20, 512) @ (512, 128); with 10 or fewer rows BLAS fell to 30-40,
# _rows_dot kept 100+).


@numba.njit(cache=True, fastmath=REORDER_SUMS)
def _rows_dot(x, w, out):
    """out = x @ w.T, every entry a dot product of two contiguous rows. x: (m, k), w: (n, k), out: (m, n).

    Blocks of 4 x 4 outputs: for each k, 4 values of x and 4 of w feed 16 multiply-adds, whose 16 sums LLVM
    vectorizes along k (the sums may be reordered: REORDER_SUMS), so a load feeds a multiply-add, against two
    loads for one dot product at a time. Rows left over (m not a multiple of 4) go in 1 x 4 blocks, columns left
    over one by one.
    """
    m, n, depth = x.shape[0], w.shape[0], x.shape[1]
    zero = out.dtype.type(0)
    m4, n4 = m - m % 4, n - n % 4
    for r in range(0, m4, 4):
        x0, x1, x2, x3 = x[r], x[r + 1], x[r + 2], x[r + 3]
        for j in range(0, n4, 4):
            w0, w1, w2, w3 = w[j], w[j + 1], w[j + 2], w[j + 3]
            s00 = s01 = s02 = s03 = s10 = s11 = s12 = s13 = zero
            s20 = s21 = s22 = s23 = s30 = s31 = s32 = s33 = zero
            for k in range(depth):
                a0, a1, a2, a3, b0, b1, b2, b3 = x0[k], x1[k], x2[k], x3[k], w0[k], w1[k], w2[k], w3[k]
                s00 += a0 * b0
                s01 += a0 * b1
                s02 += a0 * b2
                s03 += a0 * b3
                s10 += a1 * b0
                s11 += a1 * b1
                s12 += a1 * b2
                s13 += a1 * b3
                s20 += a2 * b0
                s21 += a2 * b1
                s22 += a2 * b2
                s23 += a2 * b3
                s30 += a3 * b0
                s31 += a3 * b1
                s32 += a3 * b2
                s33 += a3 * b3
            out[r, j], out[r, j + 1], out[r, j + 2], out[r, j + 3] = s00, s01, s02, s03
            out[r + 1, j], out[r + 1, j + 1], out[r + 1, j + 2], out[r + 1, j + 3] = s10, s11, s12, s13
            out[r + 2, j], out[r + 2, j + 1], out[r + 2, j + 2], out[r + 2, j + 3] = s20, s21, s22, s23
            out[r + 3, j], out[r + 3, j + 1], out[r + 3, j + 2], out[r + 3, j + 3] = s30, s31, s32, s33
    for r in range(m4, m):  # rows left over: 1 x 4 blocks (5 loads for 4 multiply-adds)
        xr = x[r]
        for j in range(0, n4, 4):
            w0, w1, w2, w3 = w[j], w[j + 1], w[j + 2], w[j + 3]
            s0 = s1 = s2 = s3 = zero
            for k in range(depth):
                a = xr[k]
                s0 += a * w0[k]
                s1 += a * w1[k]
                s2 += a * w2[k]
                s3 += a * w3[k]
            out[r, j], out[r, j + 1], out[r, j + 2], out[r, j + 3] = s0, s1, s2, s3
    for r in range(m):  # columns left over
        for j in range(n4, n):
            xr, wj, total = x[r], w[j], zero
            for k in range(depth):
                total += xr[k] * wj[k]
            out[r, j] = total


def _rows_dot_by_pointers(x, w, out, m, n, depth):
    """_rows_dot on pointers to C-contiguous (m, depth), (n, depth) and (m, n)."""
    _rows_dot(numba.carray(x, (m, depth)), numba.carray(w, (n, depth)), numba.carray(out, (m, n)))


# _rows_dot compiled once per dtype as a C function, which the four product kernels call by name: each threaded
# kernel otherwise optimized its own copies of it (see by_name.py).
_ROWS_DOT = {
    number: ByName(f"tinynet_rows_dot_{number}", types.void(*[types.CPointer(number)] * 3, *[types.intp] * 3),
                   _rows_dot_by_pointers)
    for number in (types.float32, types.float64)
}  # fmt: skip


def _tiles_by_pointers(x, w_rows, out, m, n, depth, stride):
    """tile.gemm's product on pointers to C-contiguous (m, depth), (depth, stride >= n) and (m, n) float32: w_rows's
    first n columns. (By gemm_gathered on flat arrays, as the convolutions call it: gemm on a view of w_rows's columns
    compiled a version of its own, 0.8 s of the family's warm-up.)"""
    a, b = numba.carray(x, m * depth), numba.carray(w_rows, depth * stride)
    gemm_gathered(a, np.arange(m) * depth, 1, b, np.arange(depth) * stride, numba.carray(out, (m, n)), False)


# times_weight's tiles as a C function too: with each of the six kernels compiling its own gemm for its operands'
# layouts, the recurrent family's float32 warm-up (alone, an empty cache) took 22.2 s, against 17.7 this way.
_TILES = ByName(
    "tinynet_recurrent_tiles_float32", types.void(*[types.CPointer(types.float32)] * 3, *[types.intp] * 4),
    _tiles_by_pointers,
)  # fmt: skip


def rows_dot(x, w, out):
    """out = x @ w.T (see _rows_dot), which kernels call through its C function (_ROWS_DOT; each row of x, w and out
    contiguous, one after the other). As plain Python, _rows_dot itself."""
    _rows_dot(x, w, out)


@overload(rows_dot, inline="always")
def _rows_dot_by_name(x, w, out):
    external = _ROWS_DOT[x.dtype].external

    def by_name(x, w, out):
        external(data_pointer(x), data_pointer(w), data_pointer(out), out.shape[0], out.shape[1], x.shape[1])

    return by_name


def times_weight(x, w, w_rows, out):
    """out = x @ w.T inside the kernels (each row of x, w_rows and out contiguous, one after the other, as rows_dot's):
    by tile.gemm (its C function _TILES) on w_rows (w.T with its rows contiguous, see _weight_operands) where the
    tiles run (float32 with AVX2 or AVX-512, dot.tiles_run), else by rows_dot on w. The tiles ran the steps'
    products 1.5-2x as fast as rows_dot on one core of the Intel Xeon (GMAC/s: (10, 128) @ (128, 512) 34 against 20,
    (20, 128) @ (128, 512) 56 against 32, (16, 256) @ (256, 1024) 54 against 37), and on one of the AMD EPYC (Zen 2,
    2026-12-07): (10, 128) @ (128, 512) 34 against 22, (16, 1024) @ (1024, 256) 39 against 24, (16, 256) @ (256,
    1024) 25 against 23 (40 with w_rows's rows padded). Where the tiles run, float32 kernels compile them alone: the
    rows_dot way as well cost 2.4 s of the family's warm-up. As plain Python, rows_dot."""
    rows_dot(x, w, out)


@overload(times_weight, inline="always")
def _times_weight(x, w, w_rows, out):
    if not tiles_run(x.dtype):
        return lambda x, w, w_rows, out: rows_dot(x, w, out)

    tiles = _TILES.external

    def by_tiles(x, w, w_rows, out):
        m, n, depth = out.shape[0], out.shape[1], x.shape[1]
        tiles(data_pointer(x), data_pointer(w_rows), data_pointer(out), m, n, depth, w_rows.shape[1])

    return by_tiles


# w.T's rows for the tiles are ROW_PAD numbers longer than w has rows: rows 1024 numbers (4 KB) apart fell on the
# same sets of the L1 cache. One core of the AMD EPYC, (16, 256) @ (256, 1024): 26 GMAC/s, 40 with the rows 8 numbers
# longer (34 with 16, 39 with 32); (16, 1024) @ (1024, 256) 35 -> 42; (16, 128) @ (128, 512) 35 -> 39. The backward's
# w.T is W_hh itself, read where it lies unless its rows are a multiple of 1024 numbers long: its LSTM kernel with the
# copy against without (2 threads, the AMD EPYC, 2026-12-07, (T, N, H)): (1, 32, 128) 98 / 73 us (an LSTMCell's
# step), (1, 32, 256) 269 / 199, (35, 32, 128) 2012 / 1973.
ROW_PAD = 8


def _weight_operands(dtype, w, needed: bool = True):
    """(w, w_rows) for times_weight(x, w, w_rows, out) = x @ w.T: where the tiles run for dtype, w.T with its rows
    contiguous (W_hh as it lies for the backward's w = W_hh^T, else a copy, each row ROW_PAD numbers longer, zeros)
    and w empty; else w C-contiguous (rows_dot reads it) and w_rows empty. Only the way that runs gets its copy, and
    neither does when not ``needed``: both empty."""
    nothing = np.empty((0, 0), dtype)
    if not needed:
        return nothing, nothing
    if not tiles_run(np.dtype(dtype)):
        return _as(dtype, w), nothing
    rows = w.T
    if rows.dtype == dtype and rows.flags.c_contiguous and rows.shape[1] % 1024:
        return nothing, rows
    return nothing, transposed(w, dtype, ROW_PAD)


def _first_products(dtype, h0, w_hh, batch: int):
    """The forward's step-0 product h0 W_hh^T, (N, gates*H), by matmul before the kernel runs (zeros for h0 None):
    it needs h0 alone, and a sequence of one step (an RNNCell's, GRUCell's or LSTMCell's call) then needs no copy
    of W_hh^T. The LSTM's forward over one step, (N, H) = (32, 128), 2 threads, the AMD EPYC (2026-12-07): 182 -> 87
    us; the copy had taken 20-50 us, and the kernel, reading it from the other core's cache, 105-121 against 57. At
    (32, 256), 540-600 -> 247 us; on one thread the product by matmul is the slower (382-427 -> 483-502 us: linalg's
    tiles for x @ W^T, 20 GMAC/s there, against 40 on the copy)."""
    if h0 is None:
        return np.zeros((batch, w_hh.shape[0]), dtype)
    return matmul(_as(dtype, h0), _as(dtype, w_hh).T)


def _last_products(dtype, grad_gh, w_hh):
    """The backward's step-0 product grad_gh_0 W_hh, (N, H), the part of grad_h0 that goes through W_hh, by matmul
    after the kernel: as _first_products, a sequence of one step needs no other product with W_hh."""
    return matmul(grad_gh[0], _as(dtype, w_hh))


def _ready(dtype) -> None:
    """The C function the product kernels call, compiled (or loaded) before they are."""
    if tiles_run(np.dtype(dtype)):
        _TILES.ready()
    else:
        _ROWS_DOT[numba.from_dtype(dtype)].ready()


def _blocks(batch: int, work: int) -> int:
    """How many blocks of rows the GEMM kernels split the batch into: one per thread, or 1 when small."""
    return 1 if work < SPLIT_WORK else max(1, min(batch, numba.get_num_threads()))


@range_kernel(fastmath=FUSED)
def _lstm_forward_gemm(start, stop, gi, first, w_hh, w_hh_rows, b_hh, c0, blocks, out, c_last, saved):
    length, batch, size = out.shape
    for k in range(start, stop):
        lo, hi = k * batch // blocks, (k + 1) * batch // blocks
        c, a, products = c0[lo:hi].copy(), first[lo:hi], np.empty((hi - lo, 4 * size), out.dtype)
        for t in range(length):
            if t > 0:  # (step 0's a = h0 W_hh^T came made: _first_products)
                times_weight(out[t - 1, lo:hi], w_hh, w_hh_rows, products)  # a = h_{t-1} W_hh^T
                a = products
            for r in range(hi - lo):  # (indexed in full, not by row views: see softmax._softmax_rows)
                n = lo + r
                for j in range(size):
                    i = sigmoid(a[r, j] + gi[t, n, j] + b_hh[j])
                    f = sigmoid(a[r, size + j] + gi[t, n, size + j] + b_hh[size + j])
                    g = tanh(a[r, 2 * size + j] + gi[t, n, 2 * size + j] + b_hh[2 * size + j])
                    o = sigmoid(a[r, 3 * size + j] + gi[t, n, 3 * size + j] + b_hh[3 * size + j])
                    c[r, j] = f * c[r, j] + i * g
                    out[t, n, j] = o * tanh(c[r, j])
                    saved[t, n, j], saved[t, n, size + j], saved[t, n, 2 * size + j] = i, f, g
                    saved[t, n, 3 * size + j], saved[t, n, 4 * size + j] = o, c[r, j]
        for r in range(hi - lo):
            for j in range(size):
                c_last[lo + r, j] = c[r, j]


@range_kernel(fastmath=FUSED)
def _lstm_backward_gemm(
    start, stop, grad_out, grad_h_last, grad_c_last, w_hh_t, w_hh, c0, saved, blocks, grad_gi, grad_c0
):
    length, batch, size = grad_out.shape
    one = saved.dtype.type(1)
    for k in range(start, stop):
        lo, hi = k * batch // blocks, (k + 1) * batch // blocks
        dh, dc = grad_h_last[lo:hi].copy(), grad_c_last[lo:hi].copy()
        for t in range(length - 1, -1, -1):
            before, at = (saved[t - 1], 4 * size) if t > 0 else (c0, 0)  # c_{t-1} is before[n, at + j]
            for r in range(hi - lo):  # (indexed in full, not by row views: see softmax._softmax_rows)
                n = lo + r
                for j in range(size):  # (a pass of its own: see the top)
                    dh[r, j] += grad_out[t, n, j]
                for j in range(size):
                    d = dh[r, j]
                    i, f, g = saved[t, n, j], saved[t, n, size + j], saved[t, n, 2 * size + j]
                    o, c, c_prev = saved[t, n, 3 * size + j], saved[t, n, 4 * size + j], before[n, at + j]
                    tanh_c = tanh(c)
                    dcj = dc[r, j] + d * o * (one - tanh_c * tanh_c)
                    grad_gi[t, n, j] = dcj * g * i * (one - i)
                    grad_gi[t, n, size + j] = dcj * c_prev * f * (one - f)
                    grad_gi[t, n, 2 * size + j] = dcj * i * (one - g * g)
                    grad_gi[t, n, 3 * size + j] = d * tanh_c * o * (one - o)
                    dc[r, j] = dcj * f
            if t > 0:  # (step 0's, into grad_h0, is made after the kernel: _last_products)
                times_weight(grad_gi[t, lo:hi], w_hh_t, w_hh, dh)  # dL/dh_{t-1} = da_t W_hh
        for r in range(hi - lo):
            for j in range(size):
                grad_c0[lo + r, j] = dc[r, j]


def recurrent_weight_grads(grad_gh, out, h0, b_hh):
    """As numpy_ref.recurrent_weight_grads: grad_w_hh = Σ_t grad_gh_tᵀ h_{t-1}, without assembling h_{t-1}: steps
    1.. against out[:-1] in one product, plus step 0 against h0 (nothing when h0 is None: zeros).

    grad_b_hh sums grad_gh's rows as ones @ grad_gh, a BLAS matrix-vector product: NumPy's sum over the
    leading axis took 7x as long (measured 72 us against 10 us at (4000, 18) float32).
    """
    length, batch, gates = grad_gh.shape
    grad_gh, out = _as(out.dtype, grad_gh), _as(out.dtype, out)
    rows = length * batch
    flat = grad_gh.reshape(rows, gates)
    first = None if h0 is None else matmul(flat[:batch].T, _as(out.dtype, h0))
    if length == 1:  # a sequence of one step: step 0's product alone (zeros and an add cost 23 us at (512, 128))
        grad_w_hh = np.zeros((gates, out.shape[2]), out.dtype) if first is None else first
    else:
        grad_w_hh = matmul(flat[batch:].T, out[:-1].reshape(rows - batch, out.shape[2]))
        if first is not None:
            grad_w_hh += first
    return grad_w_hh, None if b_hh is None else matmul(np.ones(rows, flat.dtype), flat)


def lstm_sequence_forward(gi, w_hh, b_hh, h0, c0):
    """As numpy_ref.lstm_sequence_forward."""
    dtype, (length, batch), size = np.result_type(gi, w_hh), gi.shape[:2], w_hh.shape[1]
    out, c_last = np.empty((length, batch, size), dtype), np.empty((batch, size), dtype)
    saved = np.empty((length, batch, 5 * size), dtype)
    work = _work(out, w_hh)
    _ready(dtype)
    blocks = _blocks(batch, work)
    run_range(
        _lstm_forward_gemm, work, blocks,
        _as(dtype, gi), _first_products(dtype, h0, w_hh, batch), *_weight_operands(dtype, w_hh, length > 1),
        _as(dtype, b_hh, 4 * size), _as(dtype, c0, (batch, size)), blocks, out, c_last, saved,
    )  # fmt: skip
    return out, c_last, saved


def lstm_sequence_backward(grad_out, grad_hT, grad_cT, gi, w_hh, b_hh, h0, c0, out, saved):
    """As numpy_ref.lstm_sequence_backward."""
    dtype, (length, batch, size) = out.dtype, out.shape
    grad_gi, grad_c0 = np.empty((length, batch, 4 * size), dtype), np.empty((batch, size), dtype)
    work = _work(out, w_hh)
    _ready(dtype)
    blocks = _blocks(batch, work)
    run_range(
        _lstm_backward_gemm, work, blocks,
        _as(dtype, grad_out), _as(dtype, grad_hT, (batch, size)), _as(dtype, grad_cT, (batch, size)),
        *_weight_operands(dtype, w_hh.T, length > 1), _as(dtype, c0, (batch, size)), _as(dtype, saved),
        blocks, grad_gi, grad_c0,
    )  # fmt: skip
    return grad_gi, _last_products(dtype, grad_gi, w_hh), grad_c0


# --- the GRU: as the LSTM's, one product per step (h_{t-1} W_hh^T forward, grad_gh W_hh backward) and one
# vectorized pass over its gates. The per-sample loops it had (as the RNN's, above) sent H > 64 to the reference,
# whose 20 NumPy calls a step cost more than the products: a GRU classifier's step over (N, T) = (32, 35) at H = 128
# took 1.1x PyTorch's, and takes 0.3x. Forward + backward, 2 threads, against the loops: (T, N, H) = (35, 32, 128)
# 0.27x; (40, 100, 6), the bench's MNIST-1D GRU, 1.13x (its bench step as fast, in alternation); (20, 4, 5) 1.07x.


@range_kernel(fastmath=FUSED)
def _gru_forward_gemm(start, stop, gi, first, w_hh, w_hh_rows, b_hh, h0, blocks, out, saved):
    length, batch, size = out.shape
    for k in range(start, stop):
        lo, hi = k * batch // blocks, (k + 1) * batch // blocks
        gh, products = first[lo:hi], np.empty((hi - lo, 3 * size), out.dtype)
        for t in range(length):
            previous = h0[lo:hi] if t == 0 else out[t - 1, lo:hi]
            if t > 0:  # (step 0's gh = h0 W_hh^T came made: _first_products)
                times_weight(previous, w_hh, w_hh_rows, products)  # gh = h_{t-1} W_hh^T
                gh = products
            for r in range(hi - lo):  # (indexed in full, not by row views: see softmax._softmax_rows)
                n = lo + r
                for j in range(size):
                    gh_n = gh[r, 2 * size + j] + b_hh[2 * size + j]
                    reset = sigmoid(gi[t, n, j] + gh[r, j] + b_hh[j])
                    update = sigmoid(gi[t, n, size + j] + gh[r, size + j] + b_hh[size + j])
                    candidate = tanh(gi[t, n, 2 * size + j] + reset * gh_n)
                    out[t, n, j] = candidate + update * (previous[r, j] - candidate)
                    saved[t, n, j], saved[t, n, size + j] = reset, update
                    saved[t, n, 2 * size + j], saved[t, n, 3 * size + j] = candidate, gh_n


@range_kernel(fastmath=FUSED)
def _gru_backward_gemm(
    start, stop, grad_out, grad_h_last, w_hh_t, w_hh, h0, out, saved, blocks, grad_gi, grad_gh, grad_h0
):
    length, batch, size = out.shape
    one = out.dtype.type(1)
    for k in range(start, stop):
        lo, hi = k * batch // blocks, (k + 1) * batch // blocks
        dh, carried = grad_h_last[lo:hi].copy(), np.empty((hi - lo, size), out.dtype)
        for t in range(length - 1, -1, -1):
            before = out[t - 1] if t > 0 else h0  # h_{t-1}
            for r in range(hi - lo):  # (indexed in full, not by row views: see softmax._softmax_rows)
                n = lo + r
                for j in range(size):  # (passes of their own: see the top)
                    dh[r, j] += grad_out[t, n, j]
                for j in range(size):
                    d, reset, update = dh[r, j], saved[t, n, j], saved[t, n, size + j]
                    candidate, gh_n = saved[t, n, 2 * size + j], saved[t, n, 3 * size + j]
                    da_n = d * (one - update) * (one - candidate * candidate)
                    da_z = d * (before[n, j] - candidate) * update * (one - update)
                    da_r = da_n * gh_n * reset * (one - reset)
                    grad_gi[t, n, j], grad_gi[t, n, size + j], grad_gi[t, n, 2 * size + j] = da_r, da_z, da_n
                    dh[r, j] = d * update
                for j in range(2 * size):  # grad_gh: grad_gi's, but r ⊙ da_n for n
                    grad_gh[t, n, j] = grad_gi[t, n, j]
                for j in range(size):
                    grad_gh[t, n, 2 * size + j] = saved[t, n, j] * grad_gi[t, n, 2 * size + j]
            if t > 0:  # (step 0's, into grad_h0, is made after the kernel: _last_products)
                times_weight(grad_gh[t, lo:hi], w_hh_t, w_hh, carried)  # dL/dh_{t-1} = dh z + grad_gh W_hh
                for r in range(hi - lo):
                    for j in range(size):
                        dh[r, j] += carried[r, j]
        for r in range(hi - lo):
            for j in range(size):
                grad_h0[lo + r, j] = dh[r, j]


def gru_sequence_forward(gi, w_hh, b_hh, h0):
    """As numpy_ref.gru_sequence_forward."""
    dtype, (length, batch), size = np.result_type(gi, w_hh), gi.shape[:2], w_hh.shape[1]
    out, saved = np.empty((length, batch, size), dtype), np.empty((length, batch, 4 * size), dtype)
    work = _work(out, w_hh)
    _ready(dtype)
    blocks = _blocks(batch, work)
    run_range(
        _gru_forward_gemm, work, blocks,
        _as(dtype, gi), _first_products(dtype, h0, w_hh, batch), *_weight_operands(dtype, w_hh, length > 1),
        _as(dtype, b_hh, 3 * size), _as(dtype, h0, (batch, size)), blocks, out, saved,
    )  # fmt: skip
    return out, saved


def gru_sequence_backward(grad_out, grad_hT, gi, w_hh, b_hh, h0, out, saved):
    """As numpy_ref.gru_sequence_backward."""
    dtype, (length, batch, size) = out.dtype, out.shape
    grad_gi = np.empty((length, batch, 3 * size), dtype)
    grad_gh, grad_h0 = np.empty_like(grad_gi), np.empty((batch, size), dtype)
    work = _work(out, w_hh)
    _ready(dtype)
    blocks = _blocks(batch, work)
    run_range(
        _gru_backward_gemm, work, blocks,
        _as(dtype, grad_out), _as(dtype, grad_hT, (batch, size)),
        *_weight_operands(dtype, w_hh.T, length > 1), _as(dtype, h0, (batch, size)), _as(dtype, out),
        _as(dtype, saved), blocks, grad_gi, grad_gh, grad_h0,
    )  # fmt: skip
    grad_h0 += _last_products(dtype, grad_gh, w_hh)
    return grad_gi, grad_gh, grad_h0


# --- the RNN: as the GRU's and the LSTM's, one product per step and one vectorized pass over the values. Its
# per-sample loops (an axpy per row of W_hh) sent H > 64 to the reference, whose per-step NumPy product ran NumPy's
# own BLAS threads against numba's pinned ones: an RNN classifier's step at H = 128 took 0.9-10x PyTorch's.


@range_kernel(fastmath=FUSED)
def _rnn_forward_gemm(start, stop, gi, first, w_hh, w_hh_rows, b_hh, relu, blocks, out):
    length, batch, size = out.shape
    zero = out.dtype.type(0)
    for k in range(start, stop):
        lo, hi = k * batch // blocks, (k + 1) * batch // blocks
        pre, products = first[lo:hi], np.empty((hi - lo, size), out.dtype)
        for t in range(length):
            if t > 0:  # (step 0's pre = h0 W_hh^T came made: _first_products)
                times_weight(out[t - 1, lo:hi], w_hh, w_hh_rows, products)  # pre = h_{t-1} W_hh^T
                pre = products
            for r in range(hi - lo):  # (indexed in full, not by row views: see softmax._softmax_rows)
                n = lo + r
                for j in range(size):
                    a = pre[r, j] + gi[t, n, j] + b_hh[j]
                    out[t, n, j] = (a if a > zero else zero) if relu else tanh(a)


@range_kernel(fastmath=FUSED)
def _rnn_backward_gemm(start, stop, grad_out, grad_h_last, w_hh_t, w_hh, out, relu, blocks, grad_gi):
    length, batch, size = out.shape
    zero, one = out.dtype.type(0), out.dtype.type(1)
    for k in range(start, stop):
        lo, hi = k * batch // blocks, (k + 1) * batch // blocks
        dh = grad_h_last[lo:hi].copy()
        for t in range(length - 1, -1, -1):
            for r in range(hi - lo):  # (indexed in full, not by row views: see softmax._softmax_rows)
                n = lo + r
                for j in range(size):
                    d, h = dh[r, j] + grad_out[t, n, j], out[t, n, j]
                    grad_gi[t, n, j] = (d if h > zero else zero) if relu else d * (one - h * h)
            if t > 0:  # (step 0's, into grad_h0, is made after the kernel: _last_products)
                times_weight(grad_gi[t, lo:hi], w_hh_t, w_hh, dh)  # dL/dh_{t-1} = da_t W_hh


def rnn_sequence_forward(gi, w_hh, b_hh, h0, nonlinearity):
    """As numpy_ref.rnn_sequence_forward."""
    dtype, (length, batch), size = np.result_type(gi, w_hh), gi.shape[:2], w_hh.shape[1]
    out = np.empty((length, batch, size), dtype)
    work = _work(out, w_hh)
    _ready(dtype)
    blocks = _blocks(batch, work)
    run_range(
        _rnn_forward_gemm, work, blocks,
        _as(dtype, gi), _first_products(dtype, h0, w_hh, batch), *_weight_operands(dtype, w_hh, length > 1),
        _as(dtype, b_hh, size), nonlinearity == "relu", blocks, out,
    )  # fmt: skip
    return out


def rnn_sequence_backward(grad_out, grad_hT, gi, w_hh, b_hh, h0, out, nonlinearity):
    """As numpy_ref.rnn_sequence_backward."""
    dtype, (length, batch, size) = out.dtype, out.shape
    grad_gi = np.empty((length, batch, size), dtype)
    work = _work(out, w_hh)
    _ready(dtype)
    blocks = _blocks(batch, work)
    run_range(
        _rnn_backward_gemm, work, blocks,
        _as(dtype, grad_out), _as(dtype, grad_hT, (batch, size)),
        *_weight_operands(dtype, w_hh.T, length > 1), _as(dtype, out), nonlinearity == "relu", blocks, grad_gi,
    )  # fmt: skip
    return grad_gi, _last_products(dtype, grad_gi, w_hh)


float32_and_float64_only(
    rnn_sequence_forward, rnn_sequence_backward, gru_sequence_forward, gru_sequence_backward,
    lstm_sequence_forward, lstm_sequence_backward, recurrent_weight_grads,
)  # fmt: skip


@warms_up
def warm_up(dtype: np.dtype) -> None:
    """Compile every recurrent kernel for dtype (see common.warms_up)."""
    rng = np.random.default_rng(0)
    gi1, gi3, gi4 = (rng.standard_normal((2, 2, gates * 2)).astype(dtype) for gates in (1, 3, 4))
    w1, w3, w4 = (rng.standard_normal((gates * 2, 2)).astype(dtype) for gates in (1, 3, 4))
    grad = np.ones((2, 2, 2), dtype)
    out = rnn_sequence_forward(gi1, w1, None, None, "tanh")
    rnn_sequence_backward(grad, None, gi1, w1, None, None, out, "tanh")
    out, saved = gru_sequence_forward(gi3, w3, None, None)
    gru_sequence_backward(grad, None, gi3, w3, None, None, out, saved)
    out, _, saved = lstm_sequence_forward(gi4, w4, None, None, None)
    lstm_sequence_backward(grad, None, None, gi4, w4, None, None, None, out, saved)
