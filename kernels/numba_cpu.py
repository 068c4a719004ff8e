"""Numba-JIT CPU kernels: NumPy arrays in and out, so numba and numpy tensors mix freely.

Every kernel here has the name, signature and results of its reference in ``numpy_ref`` (within
float32 rounding); whatever is missing falls back to the reference (``tinynet info`` lists both).

Practicalities:
- Compilation happens on a kernel's first call for each dtype and is cached on disk (``cache=True``),
  next to this file or, when that folder is read-only, in Numba's user-wide cache (or NUMBA_CACHE_DIR).
  ``tinynet.warmup()`` / ``tinynet info --warmup`` compile everything up front and say how long it took.
- Threads: ``parallel=True`` kernels split work with ``prange`` over NUMBA_NUM_THREADS threads.
- Debugging: with NUMBA_DISABLE_JIT=1 every kernel runs as plain Python (slowly), so a debugger can
  step into it line by line; the results are the same.
"""

import functools
import math
import os
import types
from collections.abc import Callable

import numpy as np

from kernels import numpy_ref

# Numba's OpenMP threads otherwise spin for a while after each parallel kernel, keeping the cores busy
# just when NumPy's BLAS threads want them: a 40-100-100-10 MLP training step took 9 ms spinning against
# 0.8 ms sleeping (and 1.4 ms on the NumPy backend). Read when the threads start: at the first parallel kernel.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

try:
    import numba
except ImportError as missing:  # the kernels below need numba at import: say why, with the fix
    raise ImportError("numba is not installed; fix: pip install numba") from missing

NAME = "numba"

# Functions that call kernels on tiny inputs of a given dtype, so warmup() can compile them all.
_warmups: list[Callable[[np.dtype], None]] = []
_warming = False  # set by warmup(): _run_kernel then compiles the threaded and the serial kernels alike


def check_available() -> None:
    """Numba imported (above), so this backend runs here."""


def array_module():
    """Tensors on this backend hold NumPy arrays."""
    return np


def describe() -> dict[str, str]:
    """What `tinynet info` shows about this backend: threads and the threading layer."""
    try:
        layer = numba.threading_layer()
    except ValueError:  # only known once a parallel kernel has run
        layer = "chosen at the first parallel kernel"
    return {"threads": str(numba.get_num_threads()), "threading layer": layer, "numba": numba.__version__}


def warms_up(function: Callable[[np.dtype], None]) -> Callable[[np.dtype], None]:
    """Register ``function(dtype)``, which calls some kernels on tiny inputs, with warmup(). While it runs,
    `_run_kernel` compiles each kernel's threaded version too, not only the serial one tiny inputs get."""

    @functools.wraps(function)
    def warm(dtype: np.dtype) -> None:
        global _warming
        _warming = True
        try:
            function(dtype)
        finally:
            _warming = False

    _warmups.append(warm)
    return warm


def warmup() -> None:
    """Compile (or load from the cache) every kernel for float32 and float64, threaded and serial."""
    for dtype in (np.float32, np.float64):
        for function in _warmups:
            function(np.dtype(dtype))


def threaded(**options):
    """``numba.njit(cache=True, parallel=True, **options)``, with a twin ``.serial``: the same loops compiled
    without threads (``prange`` then runs as ``range``), which `_run_kernel` calls for inputs too small to
    split. (Running the threaded code on one thread still pays its launch: 4 us against 1.3 us for a relu of
    10,000 values, and switching numba's thread count costs 3 us each way.)"""

    def compile_both(function):
        kernel = numba.njit(cache=True, parallel=True, **options)(function)
        # A renamed copy of the function: Numba keys its disk cache by qualified name, so the two
        # compilations never overwrite each other's cached code.
        twin = types.FunctionType(function.__code__, function.__globals__, f"{function.__name__}_serial")
        twin.__qualname__ = f"{function.__qualname__}_serial"
        kernel.serial = numba.njit(cache=True, **options)(twin)
        return kernel

    return compile_both


# --- recurrent sequences ---
# One kernel per direction and pass, parallel over the batch: each sample's recurrence is independent of
# the others. Within a sample, a step's h_{t-1} W_hh^T is written as loops: for each k, add h[k] times row k
# of W_hh^T to the gate pre-activations (an axpy over gates*H contiguous values, which LLVM vectorizes);
# backward adds each gate's gradient times a row of W_hh the same way. grad_w_hh sums over every sample
# and step, so it is one BLAS matmul after the parallel loop rather than a race inside it.
# Gate math stays in the input dtype: ``one`` is 1 of that dtype (a bare 1 would promote float32 to float64).
# Sigmoid and tanh are computed from exp (``_sigmoid``, ``_tanh``): see ``_tanh`` for why.
# Small problems (gradchecks, a few short sequences) run on one thread: see ``_run_kernel``.
# Large hidden sizes go to the reference instead, whose per-step BLAS matmul over the whole batch beats
# these loops from H ~ 64 up. Forward + backward of a GRU over (T, N) = (40, 100) float32, one thread:
# H = 6: 1.05 ms here, 2.5 ms there; H = 16: 2.4 / 3.4; H = 64: 11.5 / 10.3; H = 96: 23.2 / 17.4.
# (Measured on one thread; on more, these loops also split the batch between them.)
_LOOPS_UP_TO = 64


def _as(dtype, array, zeros_shape=None):
    """array as a C-contiguous array of dtype (no copy when it already is); zeros of zeros_shape for None."""
    return np.zeros(zeros_shape, dtype) if array is None else np.ascontiguousarray(array, dtype=dtype)


# Work is counted in units of about a nanosecond on one thread (a multiply-add, an element of a simple
# elementwise pass). Below about _SPLIT_WORK, waking the other threads costs more than they save: a launch
# costs ~10 us on an idle machine, and on a busy one it can wait for a scheduler tick (measured 16 ms against
# 7 us on one thread for a (3, 2, 6) GRU; a 40-100-100-10 MLP training step took 18 ms on two threads,
# 1.5 ms on NumPy, before its small kernels ran on one).
_SPLIT_WORK = 50_000
# Units of work per element of the elementwise and row kernels: a compare or a multiply-add; an exp or a
# division (sigmoid, tanh, gelu, softmax); the Adam step (a square root, a division, four arrays).
_CHEAP, _EXP, _ADAM = 1, 4, 6


def _run_kernel(kernel, work: int, *args):
    """kernel(*args) on Numba's threads, or its serial twin when ``work`` is below _SPLIT_WORK."""
    if _warming:  # compile both, whatever the size (the warm-up's scratch arrays take a second update)
        kernel(*args)
    return kernel(*args) if work >= _SPLIT_WORK else kernel.serial(*args)


def _work(out, w_hh) -> int:
    """Multiply-adds of a recurrent kernel, roughly: per state value, a row of W_hh and ~8 for the gates."""
    return out.size * (w_hh.shape[0] + 8)


def _recurrent_weight_grads(grad_gh, out, h0, b_hh):
    """As the reference: grad_w_hh = grad_gh^T h_{t-1} summed over steps and samples in one matmul.

    grad_b_hh sums grad_gh's rows as ones @ grad_gh, a BLAS matrix-vector product: NumPy's sum over the
    leading axis took 7x as long (measured 72 us against 10 us at (4000, 18) float32).
    """
    h_prev = np.empty_like(out)
    h_prev[0] = 0 if h0 is None else h0
    h_prev[1:] = out[:-1]
    rows = out.shape[0] * out.shape[1]
    grad_gh = grad_gh.reshape(rows, -1)
    grad_w_hh = grad_gh.T @ h_prev.reshape(rows, -1)
    return grad_w_hh, None if b_hh is None else np.ones(rows, grad_gh.dtype) @ grad_gh


@numba.njit(cache=True)
def _sigmoid(x):
    one = type(x)(1)  # 1 of x's float type: a bare 1 would turn float32 math into float64
    return one / (one + np.exp(-x))


@numba.njit(cache=True)
def _tanh(x):
    """tanh from exp: (1 - e) / (1 + e) with e = exp(-2|x|) <= 1, the sign put back.

    np.tanh compiles to a libm call that costs ~5x an exp (measured: 16 ns against 3 ns a value), and
    tanh is a third of the GRU's and half the LSTM's gate math. Absolute error ~1 ulp of 1.0; the relative
    error grows as |x| -> 0 (where tanh(x) ~ x is tiny), which the tolerances of every check allow.
    """
    one = type(x)(1)
    e = np.exp(-(one + one) * abs(x))
    t = (one - e) / (one + e)
    return t if x >= 0 else -t


@numba.njit(cache=True)
def _add_times_rows(acc, coefficients, rows):
    """acc += coefficients @ rows. acc: (m,), coefficients: (k,), rows: (k, m)."""
    for k in range(rows.shape[0]):
        c = coefficients[k]
        for j in range(rows.shape[1]):
            acc[j] += c * rows[k, j]


@threaded()
def _rnn_forward(gi, w_hh_t, b_hh, h0, relu, out):
    length, batch, size = out.shape
    zero = out.dtype.type(0)
    for n in numba.prange(batch):
        h, pre = h0[n].copy(), np.empty(size, out.dtype)
        for t in range(length):
            for j in range(size):
                pre[j] = gi[t, n, j] + b_hh[j]
            _add_times_rows(pre, h, w_hh_t)
            for j in range(size):
                h[j] = (pre[j] if pre[j] > 0 else zero) if relu else _tanh(pre[j])
                out[t, n, j] = h[j]


@threaded()
def _rnn_backward(grad_out, grad_last, w_hh, out, relu, grad_gi, grad_h0):
    length, batch, size = out.shape
    zero, one = out.dtype.type(0), out.dtype.type(1)
    for n in numba.prange(batch):
        dh = grad_last[n].copy()
        for t in range(length - 1, -1, -1):
            for j in range(size):
                h, d = out[t, n, j], dh[j] + grad_out[t, n, j]
                grad_gi[t, n, j] = (d if h > 0 else zero) if relu else d * (one - h * h)
                dh[j] = 0
            _add_times_rows(dh, grad_gi[t, n], w_hh)
        grad_h0[n] = dh


def rnn_sequence_forward(gi, w_hh, b_hh, h0, nonlinearity):
    """As numpy_ref.rnn_sequence_forward."""
    if w_hh.shape[1] > _LOOPS_UP_TO:
        return numpy_ref.rnn_sequence_forward(gi, w_hh, b_hh, h0, nonlinearity)
    dtype, (batch, size) = np.result_type(gi, w_hh), gi.shape[1:]
    out = np.empty(gi.shape, dtype)
    _run_kernel(
        _rnn_forward, _work(out, w_hh),
        _as(dtype, gi), _as(dtype, w_hh.T), _as(dtype, b_hh, size), _as(dtype, h0, (batch, size)),
        nonlinearity == "relu", out,
    )  # fmt: skip
    return out


def rnn_sequence_backward(grad_out, grad_hT, gi, w_hh, b_hh, h0, out, nonlinearity):
    """As numpy_ref.rnn_sequence_backward."""
    if w_hh.shape[1] > _LOOPS_UP_TO:
        return numpy_ref.rnn_sequence_backward(grad_out, grad_hT, gi, w_hh, b_hh, h0, out, nonlinearity)
    dtype, (batch, size) = out.dtype, out.shape[1:]
    grad_gi, grad_h0 = np.empty_like(out), np.empty((batch, size), dtype)
    _run_kernel(
        _rnn_backward, _work(out, w_hh),
        _as(dtype, grad_out), _as(dtype, grad_hT, (batch, size)), _as(dtype, w_hh), _as(dtype, out),
        nonlinearity == "relu", grad_gi, grad_h0,
    )  # fmt: skip
    return grad_gi, *_recurrent_weight_grads(grad_gi, out, h0, b_hh), grad_h0


@threaded()
def _gru_forward(gi, w_hh_t, b_hh, h0, out, saved):
    length, batch, size = out.shape
    for n in numba.prange(batch):
        h, gh = h0[n].copy(), np.empty(3 * size, out.dtype)
        for t in range(length):
            gh[:] = b_hh
            _add_times_rows(gh, h, w_hh_t)
            for j in range(size):
                r = _sigmoid(gi[t, n, j] + gh[j])
                z = _sigmoid(gi[t, n, size + j] + gh[size + j])
                candidate = _tanh(gi[t, n, 2 * size + j] + r * gh[2 * size + j])
                h[j] = candidate + z * (h[j] - candidate)
                out[t, n, j] = h[j]
                saved[t, n, j], saved[t, n, size + j] = r, z
                saved[t, n, 2 * size + j], saved[t, n, 3 * size + j] = candidate, gh[2 * size + j]


@threaded()
def _gru_backward(grad_out, grad_last, w_hh, h0, out, saved, grad_gi, grad_gh, grad_h0):
    length, batch, size = out.shape
    one = out.dtype.type(1)
    for n in numba.prange(batch):
        dh = grad_last[n].copy()
        for t in range(length - 1, -1, -1):
            for j in range(size):
                d = dh[j] + grad_out[t, n, j]
                r, z = saved[t, n, j], saved[t, n, size + j]
                candidate, gh_n = saved[t, n, 2 * size + j], saved[t, n, 3 * size + j]
                h_prev = out[t - 1, n, j] if t > 0 else h0[n, j]
                da_n = d * (one - z) * (one - candidate * candidate)
                da_z = d * (h_prev - candidate) * z * (one - z)
                da_r = da_n * gh_n * r * (one - r)
                grad_gi[t, n, j], grad_gi[t, n, size + j], grad_gi[t, n, 2 * size + j] = da_r, da_z, da_n
                grad_gh[t, n, j], grad_gh[t, n, size + j], grad_gh[t, n, 2 * size + j] = da_r, da_z, r * da_n
                dh[j] = d * z
            _add_times_rows(dh, grad_gh[t, n], w_hh)
        grad_h0[n] = dh


def gru_sequence_forward(gi, w_hh, b_hh, h0):
    """As numpy_ref.gru_sequence_forward."""
    if w_hh.shape[1] > _LOOPS_UP_TO:
        return numpy_ref.gru_sequence_forward(gi, w_hh, b_hh, h0)
    dtype, (length, batch), size = np.result_type(gi, w_hh), gi.shape[:2], w_hh.shape[1]
    out, saved = np.empty((length, batch, size), dtype), np.empty((length, batch, 4 * size), dtype)
    _run_kernel(
        _gru_forward, _work(out, w_hh),
        _as(dtype, gi), _as(dtype, w_hh.T), _as(dtype, b_hh, 3 * size), _as(dtype, h0, (batch, size)), out, saved,
    )  # fmt: skip
    return out, saved


def gru_sequence_backward(grad_out, grad_hT, gi, w_hh, b_hh, h0, out, saved):
    """As numpy_ref.gru_sequence_backward."""
    if w_hh.shape[1] > _LOOPS_UP_TO:
        return numpy_ref.gru_sequence_backward(grad_out, grad_hT, gi, w_hh, b_hh, h0, out, saved)
    dtype, (length, batch, size) = out.dtype, out.shape
    grad_gi = np.empty((length, batch, 3 * size), dtype)
    grad_gh, grad_h0 = np.empty_like(grad_gi), np.empty((batch, size), dtype)
    _run_kernel(
        _gru_backward, _work(out, w_hh),
        _as(dtype, grad_out), _as(dtype, grad_hT, (batch, size)), _as(dtype, w_hh), _as(dtype, h0, (batch, size)),
        _as(dtype, out), _as(dtype, saved), grad_gi, grad_gh, grad_h0,
    )  # fmt: skip
    return grad_gi, *_recurrent_weight_grads(grad_gh, out, h0, b_hh), grad_h0


@threaded()
def _lstm_forward(gi, w_hh_t, b_hh, h0, c0, out, c_last, saved):
    length, batch, size = out.shape
    for n in numba.prange(batch):
        h, c, a = h0[n].copy(), c0[n].copy(), np.empty(4 * size, out.dtype)
        for t in range(length):
            for j in range(4 * size):
                a[j] = gi[t, n, j] + b_hh[j]
            _add_times_rows(a, h, w_hh_t)
            for j in range(size):
                i = _sigmoid(a[j])
                f = _sigmoid(a[size + j])
                g = _tanh(a[2 * size + j])
                o = _sigmoid(a[3 * size + j])
                c[j] = f * c[j] + i * g
                h[j] = o * _tanh(c[j])
                out[t, n, j] = h[j]
                saved[t, n, j], saved[t, n, size + j], saved[t, n, 2 * size + j] = i, f, g
                saved[t, n, 3 * size + j], saved[t, n, 4 * size + j] = o, c[j]
        c_last[n] = c


@threaded()
def _lstm_backward(grad_out, grad_h_last, grad_c_last, w_hh, c0, saved, grad_gi, grad_h0, grad_c0):
    length, batch, size = grad_out.shape
    one = saved.dtype.type(1)
    for n in numba.prange(batch):
        dh, dc = grad_h_last[n].copy(), grad_c_last[n].copy()
        for t in range(length - 1, -1, -1):
            for j in range(size):
                d = dh[j] + grad_out[t, n, j]
                i, f, g = saved[t, n, j], saved[t, n, size + j], saved[t, n, 2 * size + j]
                o, c = saved[t, n, 3 * size + j], saved[t, n, 4 * size + j]
                c_prev = saved[t - 1, n, 4 * size + j] if t > 0 else c0[n, j]
                tanh_c = _tanh(c)
                dc[j] += d * o * (one - tanh_c * tanh_c)
                grad_gi[t, n, j] = dc[j] * g * i * (one - i)
                grad_gi[t, n, size + j] = dc[j] * c_prev * f * (one - f)
                grad_gi[t, n, 2 * size + j] = dc[j] * i * (one - g * g)
                grad_gi[t, n, 3 * size + j] = d * tanh_c * o * (one - o)
                dc[j] *= f
                dh[j] = 0
            _add_times_rows(dh, grad_gi[t, n], w_hh)
        grad_h0[n], grad_c0[n] = dh, dc


def lstm_sequence_forward(gi, w_hh, b_hh, h0, c0):
    """As numpy_ref.lstm_sequence_forward."""
    if w_hh.shape[1] > _LOOPS_UP_TO:
        return numpy_ref.lstm_sequence_forward(gi, w_hh, b_hh, h0, c0)
    dtype, (length, batch), size = np.result_type(gi, w_hh), gi.shape[:2], w_hh.shape[1]
    out, c_last = np.empty((length, batch, size), dtype), np.empty((batch, size), dtype)
    saved = np.empty((length, batch, 5 * size), dtype)
    _run_kernel(
        _lstm_forward, _work(out, w_hh),
        _as(dtype, gi), _as(dtype, w_hh.T), _as(dtype, b_hh, 4 * size), _as(dtype, h0, (batch, size)),
        _as(dtype, c0, (batch, size)), out, c_last, saved,
    )  # fmt: skip
    return out, c_last, saved


def lstm_sequence_backward(grad_out, grad_hT, grad_cT, gi, w_hh, b_hh, h0, c0, out, saved):
    """As numpy_ref.lstm_sequence_backward."""
    if w_hh.shape[1] > _LOOPS_UP_TO:
        return numpy_ref.lstm_sequence_backward(grad_out, grad_hT, grad_cT, gi, w_hh, b_hh, h0, c0, out, saved)
    dtype, (length, batch, size) = out.dtype, out.shape
    grad_gi = np.empty((length, batch, 4 * size), dtype)
    grad_h0, grad_c0 = np.empty((batch, size), dtype), np.empty((batch, size), dtype)
    _run_kernel(
        _lstm_backward, _work(out, w_hh),
        _as(dtype, grad_out), _as(dtype, grad_hT, (batch, size)), _as(dtype, grad_cT, (batch, size)),
        _as(dtype, w_hh), _as(dtype, c0, (batch, size)), _as(dtype, saved), grad_gi, grad_h0, grad_c0,
    )  # fmt: skip
    return grad_gi, *_recurrent_weight_grads(grad_gi, out, h0, b_hh), grad_h0, grad_c0


@warms_up
def _warm_recurrent(dtype: np.dtype) -> None:
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


# --- matmul, convolution and pooling ---
# Convolutions are im2col + BLAS, like the reference, but one sample (or a small group of samples) at a time,
# in parallel over the batch: each thread unfolds its samples' windows into a column buffer that stays in
# its cache (_unfold), then multiplies it with np.dot, which calls SciPy's BLAS. Measured on conv2d
# (64, 16, 28, 28) * (32, 16, 3, 3), 2 cores: unfolding the whole batch for one big product is much slower
# (that product alone took 9 to 23 ms, depending on its orientation; this whole forward takes 4: the unfolded
# batch is 29 MB, so every pass over it goes to memory), and letting BLAS split each sample's product over
# threads of its own while numba's threads run other samples is 2x slower (the two thread pools fight):
# numba's BLAS runs single-threaded (_with_one_blas_thread).
# Conv1d on short signals (5 to 19 outputs) would make tiny products, so samples are set side by side in
# one product of ~512 columns (_group_size).
# Weight gradients sum over the batch: each thread adds its samples' products into its own slice of
# ``partial``, summed after the parallel loop, so no two threads write the same memory.
# Pooling runs each (sample, channel) plane in parallel, one output pixel at a time with its taps innermost.

_numba_blas_limited = False


def _with_one_blas_thread(kernel, *args):
    """kernel(*args), with the BLAS that numba's np.dot calls (SciPy's copy) limited to one thread.

    Parallel kernels call np.dot from each of numba's threads; a BLAS that also splits every product over
    threads of its own fights them for the cores (measured: 2x slower). The limit is set on first use and
    left there: restoring it after every kernel made BLAS restart its threads, which cost up to 16 ms per call
    when the cores were busy. NumPy's BLAS (a separate library in pip installs) keeps its threads. Without
    threadpoolctl (a dependency of scikit-learn), or when SciPy shares NumPy's BLAS, nothing is limited:
    slower, same results.
    """
    global _numba_blas_limited
    if not _numba_blas_limited:
        _limit_scipy_blas()
        _numba_blas_limited = True
    return kernel(*args)


def _limit_scipy_blas() -> None:
    """Set the BLAS libraries that SciPy bundles (in scipy/ or scipy.libs/) to one thread."""
    import os

    try:
        import scipy
        import scipy.linalg.cython_blas  # numba's np.dot calls this module's BLAS: load it before listing
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return
    scipy_dir = os.path.dirname(os.path.realpath(scipy.__file__))
    for lib in ThreadpoolController().lib_controllers:
        path = os.path.realpath(lib.filepath)
        if lib.user_api == "blas" and path.startswith((scipy_dir + os.sep, scipy_dir + ".libs" + os.sep)):
            lib.set_num_threads(1)


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


def _group_size(batch: int, rows: int, pixels: int, threads: int) -> int:
    """How many samples one product takes: enough for >= 512 columns (BLAS is slow on thin products), few
    enough that the (rows, group * pixels) column buffer stays within 256 KB, at most a thread's share."""
    return max(1, min(512 // pixels, (1 << 16) // max(1, rows * pixels), batch // threads))


def _conv_arrays(dtype, *arrays):
    """The arrays as C-contiguous arrays of dtype: numba compiles one version per dtype and layout."""
    return tuple(np.ascontiguousarray(a, dtype=dtype) for a in arrays)


@threaded()
def _batched_matmul(a, b, out):
    """out[i] = a[i] @ b[i], matrices in parallel, one BLAS call each. a: (B, n, k), b: (B, k, m), out: (B, n, m)."""
    for i in numba.prange(out.shape[0]):
        np.dot(a[i], b[i], out[i])
    return out


def matmul(a, b):
    """As numpy_ref.matmul, choosing between three ways by what was measured (2 cores, float32):

    - 2-D operands, tiny products (under 1e5 multiply-adds) and batches that broadcast: NumPy's matmul (BLAS,
      multi-threaded per matrix; nothing beats it on one big product or undercuts its overhead on tiny ones);
    - a batch times one matrix (a linear layer on (..., n, k)): folded into one (batch * n, k) @ (k, m) product,
      1.5x faster than NumPy's matrix-by-matrix loop on (8, 100, 64) @ (64, 64);
    - batches of equal shape: numba runs the matrices in parallel, one single-threaded BLAS call each,
      1.3 to 2x faster than NumPy on (32, 50, 16) @ (32, 16, 50) or (64, 100, 64) @ (64, 64, 100).
    """
    if a.ndim == 2 or a.size * b.shape[-1] < 1e5:  # a.size * m: the multiply-adds when a holds every batch
        return np.matmul(a, b)
    if b.ndim == 2:
        return (a.reshape(-1, a.shape[-1]) @ b).reshape(*a.shape[:-1], b.shape[-1])
    if a.shape[:-2] == b.shape[:-2] and a.dtype == b.dtype and a.dtype in (np.float32, np.float64):
        a3, b3 = (np.ascontiguousarray(t).reshape(-1, *t.shape[-2:]) for t in (a, b))
        out = np.empty((a3.shape[0], a3.shape[1], b3.shape[2]), a.dtype)
        return _with_one_blas_thread(_batched_matmul, a3, b3, out).reshape(*a.shape[:-1], b.shape[-1])
    return np.matmul(a, b)


def conv2d_forward(x, w, stride, padding, dilation):
    """As numpy_ref.conv2d_forward: unfold each sample, times w.reshape(O, C*KH*KW), in parallel over samples."""
    x, w = _conv_arrays(np.result_type(x, w), x, w)
    n, _, h, wd = x.shape
    o, _, kh, kw = w.shape
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    oh, ow = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1, (wd + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    w2, threads = w.reshape(o, -1), numba.get_num_threads()
    group, geometry = _group_size(n, w2.shape[1], oh * ow, threads), (kh, kw, sh, sw, ph, pw, dh, dw, oh, ow)
    no_b = np.empty((n, 0, oh * ow), x.dtype)
    out, _ = _with_one_blas_thread(_unfold_multiply, x, w2, no_b, geometry, group, threads)
    return out.reshape(n, o, oh, ow)


def conv2d_backward(grad, x, w, stride, padding, dilation):
    """As numpy_ref.conv2d_backward: grad_w sums unfold(x[n]) @ grad[n]^T over samples (per-thread partial
    sums), grad_x[n] = fold(w^T @ grad[n]); both in one parallel pass."""
    grad, x, w = _conv_arrays(np.result_type(grad, x, w), grad, x, w)
    n, o, oh, ow = grad.shape
    kh, kw = w.shape[2:]
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    w2t, threads = np.ascontiguousarray(w.reshape(o, -1).T), numba.get_num_threads()
    group, geometry = _group_size(n, w2t.shape[0], oh * ow, threads), (kh, kw, sh, sw, ph, pw, dh, dw, oh, ow)
    grad = grad.reshape(n, o, oh * ow)
    grad_x, partial = _with_one_blas_thread(_conv2d_backward, grad, x, w2t, geometry, group, threads)
    return grad_x, np.ascontiguousarray(partial.sum(axis=0).T).reshape(w.shape)


def conv_transpose2d_forward(x, w, stride, padding, output_padding, dilation):
    """As numpy_ref.conv_transpose2d_forward: out[n] = fold(w.reshape(C_in, -1)^T @ x[n]), parallel over n."""
    x, w = _conv_arrays(np.result_type(x, w), x, w)
    n, c_in, h, wd = x.shape
    c_out, kh, kw = w.shape[1:]
    (sh, sw), (ph, pw), (oph, opw), (dh, dw) = stride, padding, output_padding, dilation
    out_h = (h - 1) * sh - 2 * ph + dh * (kh - 1) + oph + 1
    out_w = (wd - 1) * sw - 2 * pw + dw * (kw - 1) + opw + 1
    wt, threads = np.ascontiguousarray(w.reshape(c_in, -1).T), numba.get_num_threads()
    # The windows are the input's pixels: conv2d's output size is this one's input size.
    group, geometry = _group_size(n, wt.shape[0], h * wd, threads), (kh, kw, sh, sw, ph, pw, dh, dw, h, wd)
    out = np.empty((n, c_out, out_h, out_w), x.dtype)
    return _with_one_blas_thread(_multiply_fold, x.reshape(n, c_in, h * wd), wt, out, geometry, group, threads)


def conv_transpose2d_backward(grad, x, w, stride, padding, output_padding, dilation):
    """As numpy_ref.conv_transpose2d_backward: cols = unfold(grad[n]); grad_x[n] = w.reshape(C_in, -1) @ cols,
    grad_w sums cols @ x[n]^T over samples (per-thread partial sums)."""
    grad, x, w = _conv_arrays(np.result_type(grad, x, w), grad, x, w)
    n, c_in, h, wd = x.shape
    kh, kw = w.shape[2:]
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    w2, threads = w.reshape(c_in, -1), numba.get_num_threads()
    group, geometry = _group_size(n, w2.shape[1], h * wd, threads), (kh, kw, sh, sw, ph, pw, dh, dw, h, wd)
    x3 = x.reshape(n, c_in, h * wd)
    grad_x, partial = _with_one_blas_thread(_unfold_multiply, grad, w2, x3, geometry, group, threads)
    return grad_x.reshape(x.shape), np.ascontiguousarray(partial.sum(axis=0).T).reshape(w.shape)


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


def _pooled_size(x_shape, kernel_size, stride, padding):
    return tuple((n + 2 * p - k) // s + 1 for n, k, s, p in zip(x_shape[2:], kernel_size, stride, padding))


def max_pool2d_forward(x, kernel_size, stride, padding):
    """As numpy_ref.max_pool2d_forward (same argmax on ties and NaN), parallel over (sample, channel) planes."""
    x = np.ascontiguousarray(x)
    shape = x.shape[:2] + _pooled_size(x.shape, kernel_size, stride, padding)
    out, argmax = np.empty(shape, x.dtype), np.empty(shape, np.int64)
    _run_kernel(_max_pool2d_forward, out.size * math.prod(kernel_size), x, *kernel_size, *stride, *padding, out, argmax)
    return out, argmax


def max_pool2d_backward(grad, argmax, x_shape, kernel_size, stride, padding):
    """As numpy_ref.max_pool2d_backward, parallel over (sample, channel) planes."""
    grad, argmax = np.ascontiguousarray(grad), np.ascontiguousarray(argmax, dtype=np.int64)
    grad_x = np.empty(x_shape, grad.dtype)
    _run_kernel(_max_pool2d_backward, grad_x.size + grad.size, grad, argmax, kernel_size[1], *stride, *padding, grad_x)
    return grad_x


def avg_pool2d_forward(x, kernel_size, stride, padding):
    """As numpy_ref.avg_pool2d_forward (the zero padding counts), parallel over (sample, channel) planes."""
    x = np.ascontiguousarray(x)
    out = np.empty(x.shape[:2] + _pooled_size(x.shape, kernel_size, stride, padding), x.dtype)
    _run_kernel(_avg_pool2d, out.size * math.prod(kernel_size), x, *kernel_size, *stride, *padding, out)
    return out


def avg_pool2d_backward(grad, x_shape, kernel_size, stride, padding):
    """As numpy_ref.avg_pool2d_backward, parallel over (sample, channel) planes."""
    grad = np.ascontiguousarray(grad)
    grad_x = np.empty(x_shape, grad.dtype)
    _run_kernel(
        _avg_pool2d_backward, grad_x.size * math.prod(kernel_size), grad, *kernel_size, *stride, *padding, grad_x
    )
    return grad_x


@warms_up
def _warm_convolution_and_pooling(dtype: np.dtype) -> None:
    x, w = np.ones((2, 2, 4, 4), dtype), np.ones((3, 2, 3, 3), dtype)
    geometry, transposed = ((1, 1), (1, 1), (1, 1)), ((1, 1), (1, 1), (0, 0), (1, 1))
    y = conv2d_forward(x, w, *geometry)
    conv2d_backward(y, x, w, *geometry)
    conv_transpose2d_backward(conv_transpose2d_forward(y, w, *transposed), y, w, *transposed)
    pool = ((2, 2), (2, 2), (0, 0))
    out, argmax = max_pool2d_forward(x, *pool)
    max_pool2d_backward(out, argmax, x.shape, *pool)
    avg_pool2d_backward(avg_pool2d_forward(x, *pool), x.shape, *pool)
    matmul(np.ones((2, 64, 40), dtype), np.ones((2, 40, 40), dtype))  # big enough for numba's batched product


# --- pointwise kernels: shared helpers (argument checks, a vectorizable exp) ---

# Sums may be reordered (so that LLVM vectorizes them) and a * b + c fused: only the rounding changes,
# never how inf and NaN propagate (so no "nnan"/"ninf", which fastmath=True would add).
_REORDER_SUMS = {"reassoc", "contract"}


def _same_floats(*arrays) -> bool:
    """Whether every argument is a NumPy array of one dtype, float32 or float64: what these kernels compile for.

    Anything else (float16, integers, mixed dtypes) goes to the reference kernel, which handles every case.
    """
    first = arrays[0]
    same = all(isinstance(a, np.ndarray) and a.dtype == first.dtype for a in arrays)
    return same and first.dtype in (np.float32, np.float64)


def _contiguous(a, dtype=None):
    """``a`` as a writable C-contiguous array (of ``dtype``): ``a`` itself when it is one, else a copy.

    Numba compiles a kernel anew for every array layout and for read-only arrays (such as np.broadcast_to's
    views): copying the odd input is cheaper than compiling for it, so every kernel gets this one type.
    """
    dtype = a.dtype if dtype is None else np.dtype(dtype)
    usable = a.flags.c_contiguous and a.flags.writeable and a.dtype == dtype
    return a if usable else np.array(a, dtype=dtype, order="C")


def _flat(a, dtype=None):
    """``a`` as a writable C-contiguous 1-D array: a view when `_contiguous` need not copy."""
    return _contiguous(a, dtype).reshape(-1)


def _exp(x):
    """exp(x) of a float32 or float64 scalar.

    Run as Python (NUMBA_DISABLE_JIT=1) this is NumPy's exp; compiled, it is `_exp_polynomial` below.
    """
    return np.exp(x)


def _expm1(x):
    """exp(x) - 1, accurate also for tiny |x| (tanh needs that); NumPy's expm1 when run as Python."""
    return np.expm1(x)


def _exp_polynomial(float_type, minus_one: bool):
    """The compiled exp (or expm1, when ``minus_one``) for ``float_type``: float32 or float64.

    Why: without Intel's SVML, Numba calls libm's scalar exp, which does not vectorize; on the (2048, 1000)
    logits of a softmax it was 3-6x slower than NumPy's SIMD exp. This one vectorizes (AVX-512 here) and
    measured 2x faster than NumPy's in float32, on par in float64. How: write x = n ln2 + r with
    |r| <= ln2 / 2 (ln2 split in a high and a low part, so that n ln2 is exact: Cody and Waite),
    expm1(r) = r + r^2/2! + ... to degree 7 (float32) or 13 (float64), which leaves an error under half an
    ulp, then exp(x) = 2^n (1 + expm1(r)), with 2^n assembled from its exponent bits. Measured against
    the exact values on 2M points: at most 1 ulp (exp) and 1.3 ulp (expm1) off. Below about -87.3 (float32;
    -708.4 in float64) it returns 0 (-1 for expm1) where the true value is subnormal; above 88 (709) inf,
    a little before the true overflow: softmax and friends only ever call it on x <= 0.
    """
    single = float_type == numba.float32
    if not single and float_type != numba.float64:
        return None
    # Polynomial degree, exponent bias and mantissa bits; where the result leaves the normal range; and
    # ln 2 = ln2_high + ln2_low, ln2_high with few enough bits that n * ln2_high is exact.
    if single:
        real, bits, degree, bias, mantissa = np.float32, np.int32, 7, 127, 23
        low, high, ln2_high, ln2_low = -87.33, 88.0, 0.693359375, -2.12194440e-4
    else:
        real, bits, degree, bias, mantissa = np.float64, np.int64, 13, 1023, 52
        low, high, ln2_high, ln2_low = -708.39, 709.0, 0.6931471803691238, 1.9082149292705877e-10
    low, high, ln2_high, ln2_low, log2_e = real(low), real(high), real(ln2_high), real(ln2_low), real(1 / math.log(2))
    top = real(1 / math.factorial(degree))
    coefficients = tuple(real(1 / math.factorial(k)) for k in range(degree - 1, 0, -1))
    half, one, inf = real(0.5), real(1), real(np.inf)
    underflow = -one if minus_one else real(0)

    def exp_or_expm1(x):
        clamped = min(max(x, low), high)
        n = np.floor(clamped * log2_e + half)
        r = (clamped - n * ln2_high) - n * ln2_low
        q = top
        for c in coefficients:  # Horner's rule: q = expm1(r) / r, then expm1(r)
            q = q * r + c
        q = q * r
        two_to_n = bits((bits(n) + bits(bias)) << bits(mantissa)).view(real)
        y = (two_to_n - one) + two_to_n * q if minus_one else two_to_n + two_to_n * q
        # Out of range: 0 (or -1) below, inf above, and NaN stays NaN (NaN + inf).
        return y if low <= x <= high else (underflow if x < low else x + inf)

    return exp_or_expm1


@numba.extending.overload(_exp)
def _exp_compiled(x):
    return _exp_polynomial(x, minus_one=False)


@numba.extending.overload(_expm1)
def _expm1_compiled(x):
    return _exp_polynomial(x, minus_one=True)


def _unary(kernel, reference, x, cost: int = _EXP):
    """y = f(x) elementwise: ``kernel(x_flat, y_flat)`` fills y; any shape or strides in, C-contiguous out.
    cost: units of work per element (see _SPLIT_WORK)."""
    if not _same_floats(x):
        return reference(x)
    y = np.empty(x.shape, x.dtype)
    _run_kernel(kernel, cost * x.size, _flat(x), y.reshape(-1))
    return y


def _binary(kernel, reference, a, b, cost: int = _EXP):
    """out = f(a, b) elementwise, for a and b of one shape (other shapes broadcast in the reference)."""
    if not (_same_floats(a, b) and a.shape == b.shape):
        return reference(a, b)
    out = np.empty(a.shape, a.dtype)
    _run_kernel(kernel, cost * a.size, _flat(a), _flat(b), out.reshape(-1))
    return out


# --- activations ---


@threaded()
def _relu_forward(x, y):
    zero = x.dtype.type(0)
    for i in numba.prange(x.size):
        y[i] = zero if x[i] < 0 else x[i]  # NaN stays NaN, as with np.maximum


def relu_forward(x):
    """y = max(x, 0). x: any shape -> y: same shape and dtype."""
    return _unary(_relu_forward, numpy_ref.relu_forward, x, _CHEAP)


@threaded()
def _relu_backward(grad_y, x, grad_x):
    zero, one = x.dtype.type(0), x.dtype.type(1)
    for i in numba.prange(x.size):
        grad_x[i] = grad_y[i] * (one if x[i] > 0 else zero)  # a product, as the reference: inf * 0 is NaN


def relu_backward(grad_y, x):
    """dL/dx = dL/dy where x > 0, else 0. grad_y, x: same shape."""
    return _binary(_relu_backward, numpy_ref.relu_backward, grad_y, x, _CHEAP)


@threaded()
def _sigmoid_forward(x, y):
    one = x.dtype.type(1)
    for i in numba.prange(x.size):
        e = _exp(-abs(x[i]))  # in (0, 1]: never overflows
        y[i] = one / (one + e) if x[i] >= 0 else e / (one + e)


def sigmoid_forward(x):
    """y = 1 / (1 + exp(-x)), without overflow for large |x|. x: any shape."""
    return _unary(_sigmoid_forward, numpy_ref.sigmoid_forward, x)


@threaded()
def _sigmoid_backward(grad_y, y, grad_x):
    one = y.dtype.type(1)
    for i in numba.prange(y.size):
        grad_x[i] = grad_y[i] * y[i] * (one - y[i])


def sigmoid_backward(grad_y, y):
    """dL/dx = dL/dy * y * (1 - y), from the forward's output y. grad_y, y: same shape."""
    return _binary(_sigmoid_backward, numpy_ref.sigmoid_backward, grad_y, y, _CHEAP)


@threaded()
def _tanh_forward(x, y):
    two = x.dtype.type(2)
    for i in numba.prange(x.size):
        m = _expm1(-two * abs(x[i]))  # tanh|x| = -m / (2 + m): no cancellation near 0, unlike (1 - e) / (1 + e)
        t = -m / (two + m)
        y[i] = -t if x[i] < 0 else t


def tanh_forward(x):
    """y = tanh(x). x: any shape.

    Computed from expm1 (vectorized, see `_exp_polynomial`) rather than libm's scalar tanh, which measured
    30x (float32) and 12x (float64) slower on 1M values; at most about 2 ulp from the exact tanh (measured
    on 200k points).
    """
    return _unary(_tanh_forward, numpy_ref.tanh_forward, x)


@threaded()
def _tanh_backward(grad_y, y, grad_x):
    one = y.dtype.type(1)
    for i in numba.prange(y.size):
        grad_x[i] = grad_y[i] * (one - y[i] * y[i])


def tanh_backward(grad_y, y):
    """dL/dx = dL/dy * (1 - y^2), from the forward's output y. grad_y, y: same shape."""
    return _binary(_tanh_backward, numpy_ref.tanh_backward, grad_y, y, _CHEAP)


@threaded()
def _gelu_forward(x, y):
    half, sqrt_half = x.dtype.type(0.5), x.dtype.type(math.sqrt(0.5))
    for i in numba.prange(x.size):
        y[i] = half * x[i] * math.erfc(-x[i] * sqrt_half)


def gelu_forward(x):
    """y = x * Phi(x), Phi the standard normal CDF = (1 + erf(x / sqrt 2)) / 2. x: any shape.

    Phi is computed as erfc(-x / sqrt 2) / 2, the same value but without the cancellation in 1 + erf for
    x << 0, which in float32 would leave few correct digits there (the reference computes in float64).
    """
    return _unary(_gelu_forward, numpy_ref.gelu_forward, x)


@threaded()
def _gelu_backward(grad_y, x, grad_x):
    half, sqrt_half = x.dtype.type(0.5), x.dtype.type(math.sqrt(0.5))
    inv_sqrt_2pi = x.dtype.type(1 / math.sqrt(2 * math.pi))
    for i in numba.prange(x.size):
        cdf = half * math.erfc(-x[i] * sqrt_half)  # see gelu_forward
        pdf = _exp(-half * x[i] * x[i]) * inv_sqrt_2pi
        grad_x[i] = grad_y[i] * (cdf + x[i] * pdf)


def gelu_backward(grad_y, x):
    """dL/dx = dL/dy * (Phi(x) + x * phi(x)), phi the standard normal density. grad_y, x: same shape."""
    return _binary(_gelu_backward, numpy_ref.gelu_backward, grad_y, x)


# --- softmax family and cross-entropy ---


def _as_rows(x, axis):
    """x with ``axis`` moved last, as a C-contiguous (rows, K) array (no copy when it already is one),
    and the shape of x with the axis moved (to put the result back with `_from_rows`)."""
    moved = np.moveaxis(x, axis, -1)
    rows = _contiguous(moved).reshape(math.prod(moved.shape[:-1]), moved.shape[-1])
    return rows, moved.shape


def _from_rows(rows, moved_shape, axis):
    return np.moveaxis(rows.reshape(moved_shape), -1, axis)


@numba.njit(cache=True)
def _row_max(row):
    # A NaN is skipped here, but it still turns the row's sum of exps, and so every output, into NaN.
    top = row[0]
    for v in row:
        top = v if v > top else top
    return top


@threaded(fastmath=_REORDER_SUMS)
def _softmax_forward(x, y):
    for i in numba.prange(x.shape[0]):
        row, out = x[i], y[i]
        top = _row_max(row)
        total = x.dtype.type(0)
        for j in range(row.size):
            out[j] = _exp(row[j] - top)
            total += out[j]
        for j in range(row.size):
            out[j] = out[j] / total


def softmax_forward(x, axis):
    """y = exp(x) / sum(exp(x)) along axis, the max subtracted first. Threads split the rows."""
    if not _same_floats(x) or x.size == 0:
        return numpy_ref.softmax_forward(x, axis)
    rows, moved_shape = _as_rows(x, axis)
    y = np.empty_like(rows)
    _run_kernel(_softmax_forward, _EXP * rows.size, rows, y)
    return _from_rows(y, moved_shape, axis)


@threaded(fastmath=_REORDER_SUMS)
def _softmax_backward(grad_y, y, grad_x):
    for i in numba.prange(y.shape[0]):
        g, p, out = grad_y[i], y[i], grad_x[i]
        dot = y.dtype.type(0)
        for j in range(p.size):
            dot += g[j] * p[j]
        for j in range(p.size):
            out[j] = p[j] * (g[j] - dot)


def softmax_backward(grad_y, y, axis):
    """dL/dx = y * (dL/dy - sum(dL/dy * y)) along axis. grad_y, y: same shape."""
    if not (_same_floats(grad_y, y) and grad_y.shape == y.shape) or y.size == 0:
        return numpy_ref.softmax_backward(grad_y, y, axis)
    (g, moved_shape), (p, _) = _as_rows(grad_y, axis), _as_rows(y, axis)
    grad_x = np.empty_like(p)
    _run_kernel(_softmax_backward, _EXP * g.size, g, p, grad_x)
    return _from_rows(grad_x, moved_shape, axis)


@threaded(fastmath=_REORDER_SUMS)
def _log_softmax_forward(x, y):
    for i in numba.prange(x.shape[0]):
        row, out = x[i], y[i]
        top = _row_max(row)
        total = x.dtype.type(0)
        for j in range(row.size):
            total += _exp(row[j] - top)
        log_total = math.log(total)
        for j in range(row.size):
            out[j] = (row[j] - top) - log_total


def log_softmax_forward(x, axis):
    """y = x - logsumexp(x) along axis, from the max-shifted x (stable). Threads split the rows."""
    if not _same_floats(x) or x.size == 0:
        return numpy_ref.log_softmax_forward(x, axis)
    rows, moved_shape = _as_rows(x, axis)
    y = np.empty_like(rows)
    _run_kernel(_log_softmax_forward, _EXP * rows.size, rows, y)
    return _from_rows(y, moved_shape, axis)


@threaded(fastmath=_REORDER_SUMS)
def _log_softmax_backward(grad_y, y, grad_x):
    for i in numba.prange(y.shape[0]):
        g, log_p, out = grad_y[i], y[i], grad_x[i]
        total = y.dtype.type(0)
        for j in range(g.size):
            total += g[j]
        for j in range(g.size):
            out[j] = g[j] - _exp(log_p[j]) * total


def log_softmax_backward(grad_y, y, axis):
    """dL/dx = dL/dy - softmax(x) * sum(dL/dy) along axis, with softmax(x) = exp(y). Same shapes."""
    if not (_same_floats(grad_y, y) and grad_y.shape == y.shape) or y.size == 0:
        return numpy_ref.log_softmax_backward(grad_y, y, axis)
    (g, moved_shape), (log_p, _) = _as_rows(grad_y, axis), _as_rows(y, axis)
    grad_x = np.empty_like(log_p)
    _run_kernel(_log_softmax_backward, _EXP * g.size, g, log_p, grad_x)
    return _from_rows(grad_x, moved_shape, axis)


def _labels_in_range(labels, n: int, classes: int) -> bool:
    """n integer labels, all in [0, classes): anything else goes to the reference, which wraps or raises."""
    return (
        isinstance(labels, np.ndarray)
        and labels.shape == (n,)
        and labels.dtype.kind in "iu"
        and (labels.size == 0 or (labels.min() >= 0 and labels.max() < classes))
    )


@threaded(fastmath=_REORDER_SUMS)
def _cross_entropy_forward(logits, labels, loss, probs):
    for i in numba.prange(logits.shape[0]):
        row, p = logits[i], probs[i]
        top = _row_max(row)
        total = logits.dtype.type(0)
        for j in range(row.size):
            p[j] = _exp(row[j] - top)
            total += p[j]
        for j in range(row.size):
            p[j] = p[j] / total
        loss[i] = math.log(total) - (row[labels[i]] - top)


def cross_entropy_forward(logits, labels):
    """Per-sample cross-entropy of integer labels, and the probabilities backward needs.

    logits: (N, C) float, labels: (N,) integers in [0, C) -> loss: (N,), probs: (N, C).
    One pass per row (threads split the rows): max, exps into probs, their sum, loss = logsumexp - the
    label's logit, probs scaled by 1 / sum.
    """
    usable = _same_floats(logits) and logits.ndim == 2 and logits.size > 0
    if not (usable and _labels_in_range(labels, *logits.shape)):
        return numpy_ref.cross_entropy_forward(logits, labels)
    loss, probs = np.empty(logits.shape[0], logits.dtype), np.empty(logits.shape, logits.dtype)
    _run_kernel(
        _cross_entropy_forward, _EXP * logits.size, _contiguous(logits), _contiguous(labels, np.intp), loss, probs
    )
    return loss, probs


@threaded()
def _cross_entropy_backward(grad_loss, probs, labels, grad):
    for i in numba.prange(probs.shape[0]):
        g, p, out = grad_loss[i], probs[i], grad[i]
        for j in range(p.size):
            out[j] = p[j] * g
        out[labels[i]] = (p[labels[i]] - p.dtype.type(1)) * g


def cross_entropy_backward(grad_loss, probs, labels):
    """dL/dlogits = (probs - onehot(labels)) * dL/dloss. grad_loss: (N,), probs: (N, C), labels: (N,)."""
    usable = _same_floats(grad_loss, probs) and probs.ndim == 2 and grad_loss.shape == probs.shape[:1]
    if not (usable and _labels_in_range(labels, *probs.shape)):
        return numpy_ref.cross_entropy_backward(grad_loss, probs, labels)
    grad = np.empty(probs.shape, probs.dtype)
    # grad_loss is often a broadcast scalar (reduction="mean"): `_contiguous` copies its N values.
    labels = _contiguous(labels, np.intp)
    _run_kernel(_cross_entropy_backward, _CHEAP * probs.size, _contiguous(grad_loss), _contiguous(probs), labels, grad)
    return grad


@threaded(fastmath=_REORDER_SUMS)
def _masked_softmax_forward(x, mask, mask_row, y):
    minus_inf = x.dtype.type(-np.inf)
    for i in numba.prange(x.shape[0]):
        row, allowed, out = x[i], mask[mask_row[i]], y[i]
        top = minus_inf
        for j in range(row.size):
            if allowed[j] and (row[j] > top or row[j] != row[j]):  # a NaN max stays NaN, as np.max
                top = row[j]
        if not math.isfinite(top):
            top = x.dtype.type(0)  # as the reference: a row whose max is not finite is not shifted
        total = x.dtype.type(0)
        for j in range(row.size):
            out[j] = _exp(row[j] - top) if allowed[j] else x.dtype.type(0)
            total += out[j]
        if total > 0:
            for j in range(row.size):
                out[j] = out[j] / total


def masked_softmax_forward(x, mask):
    """Softmax over the last axis, over the entries ``mask`` allows; a row with none allowed gives zeros.

    x: (..., K) (entries of -inf count as masked too); mask: bool broadcastable to x (True = take part),
    or None -> y: x's broadcast shape with mask. Threads split the rows. The mask is not expanded to x's
    shape: each row of x reads the row of the mask it broadcasts from (``mask_row``).
    """
    if not _same_floats(x) or x.ndim == 0 or (mask is not None and not isinstance(mask, np.ndarray)):
        return numpy_ref.masked_softmax_forward(x, mask)
    shape = x.shape if mask is None else np.broadcast_shapes(x.shape, mask.shape)
    if math.prod(shape) == 0:
        return numpy_ref.masked_softmax_forward(x, mask)
    lead, width = shape[:-1], shape[-1]
    rows = _contiguous(np.broadcast_to(x, shape)).reshape(-1, width)
    if mask is None:
        mask = np.ones((1, width), dtype=bool)
        mask_row = np.zeros(rows.shape[0], dtype=np.intp)
    else:
        mask = mask.reshape((1,) * (len(shape) - mask.ndim) + mask.shape)
        mask_lead = mask.shape[:-1]
        mask_row = _flat(np.broadcast_to(np.arange(math.prod(mask_lead)).reshape(mask_lead), lead), np.intp)
        mask = _contiguous(np.broadcast_to(mask.reshape(-1, mask.shape[-1]), (math.prod(mask_lead), width)), bool)
    y = np.empty_like(rows)
    _run_kernel(_masked_softmax_forward, _EXP * rows.size, rows, mask, mask_row, y)
    return y.reshape(shape)


# --- layer norm ---


@threaded(fastmath=_REORDER_SUMS)
def _layer_norm_forward(x, weight, bias, eps, y, mean, rstd):
    width, one = x.dtype.type(x.shape[1]), x.dtype.type(1)  # typed: float32 / int64 would give float64
    for i in numba.prange(x.shape[0]):
        row, out = x[i], y[i]
        total = x.dtype.type(0)
        for j in range(row.size):
            total += row[j]
        mu = total / width
        squares = x.dtype.type(0)
        for j in range(row.size):
            squares += (row[j] - mu) * (row[j] - mu)
        r = one / math.sqrt(squares / width + eps)
        for j in range(row.size):
            out[j] = (row[j] - mu) * r * weight[j] + bias[j]
        mean[i], rstd[i] = mu, r


def layer_norm_forward(x, weight, bias, eps):
    """Normalize each row over the last axis to mean 0 and variance 1, then scale and shift.

    x: (..., D); weight, bias: (D,) or None -> y: (..., D), mean: (..., 1), rstd: (..., 1), as the reference
    (biased variance, two passes over each row: mean, then squared deviations). Threads split the rows;
    a missing weight (bias) is a row of ones (zeros), which changes no value.
    """
    affine = tuple(a for a in (weight, bias) if a is not None)
    usable = _same_floats(x, *affine) and x.ndim > 0 and x.size > 0
    if not (usable and all(a.shape == x.shape[-1:] for a in affine)):
        return numpy_ref.layer_norm_forward(x, weight, bias, eps)
    width = x.shape[-1]
    rows = _contiguous(x).reshape(-1, width)
    weight = np.ones(width, x.dtype) if weight is None else _contiguous(weight)
    bias = np.zeros(width, x.dtype) if bias is None else _contiguous(bias)
    y, mean, rstd = np.empty_like(rows), np.empty(rows.shape[0], x.dtype), np.empty(rows.shape[0], x.dtype)
    _run_kernel(_layer_norm_forward, _EXP * rows.size, rows, weight, bias, x.dtype.type(eps), y, mean, rstd)
    stats_shape = (*x.shape[:-1], 1)
    return y.reshape(x.shape), mean.reshape(stats_shape), rstd.reshape(stats_shape)


@threaded(fastmath=_REORDER_SUMS)
def _layer_norm_backward(grad, x, weight, mean, rstd, grad_x, weight_partial, bias_partial):
    rows, width = x.shape
    chunks, float_width = weight_partial.shape[0], x.dtype.type(width)
    # Chunk c of the rows adds its grad_weight and grad_bias terms into row c of the partials: no two
    # threads write the same memory, and the sums do not depend on the number of threads.
    for c in numba.prange(chunks):
        for i in range(c * rows // chunks, (c + 1) * rows // chunks):
            g_row, x_row, out = grad[i], x[i], grad_x[i]
            mu, r = mean[i], rstd[i]
            mean_g, mean_g_xhat = x.dtype.type(0), x.dtype.type(0)
            for j in range(width):
                xhat = (x_row[j] - mu) * r
                g = g_row[j] * weight[j]
                mean_g += g
                mean_g_xhat += g * xhat
                weight_partial[c, j] += g_row[j] * xhat
                bias_partial[c, j] += g_row[j]
            mean_g, mean_g_xhat = mean_g / float_width, mean_g_xhat / float_width
            for j in range(width):
                xhat = (x_row[j] - mu) * r
                out[j] = r * (g_row[j] * weight[j] - mean_g - xhat * mean_g_xhat)


def layer_norm_backward(grad, x, weight, mean, rstd):
    """Gradients of layer_norm_forward, from the mean and rstd it returned.

    grad, x: (..., D); weight: (D,) or None; mean, rstd: (..., 1) -> grad_x: (..., D), grad_weight: (D,),
    grad_bias: (D,). grad_x = rstd * (g - mean(g) - xhat * mean(g * xhat)) with g = grad * weight, one row
    per thread; grad_weight and grad_bias are summed over up to 64 chunks of rows (one partial sum per
    chunk, so threads never race), then over the chunks.
    """
    weights = () if weight is None else (weight,)
    usable = _same_floats(grad, x, mean, rstd, *weights) and x.ndim > 0 and x.size > 0
    shapes_agree = usable and grad.shape == x.shape and mean.shape == rstd.shape == (*x.shape[:-1], 1)
    if not (shapes_agree and all(w.shape == x.shape[-1:] for w in weights)):
        return numpy_ref.layer_norm_backward(grad, x, weight, mean, rstd)
    width = x.shape[-1]
    rows = x.size // width
    weight = np.ones(width, x.dtype) if weight is None else _contiguous(weight)
    chunks = min(rows, 64)
    weight_partial, bias_partial = np.zeros((chunks, width), x.dtype), np.zeros((chunks, width), x.dtype)
    grad_x = np.empty((rows, width), x.dtype)
    _run_kernel(
        _layer_norm_backward, _EXP * x.size, _contiguous(grad).reshape(rows, width),
        _contiguous(x).reshape(rows, width), weight, _flat(mean), _flat(rstd), grad_x, weight_partial, bias_partial,
    )  # fmt: skip
    return grad_x.reshape(x.shape), weight_partial.sum(axis=0), bias_partial.sum(axis=0)


# --- attention ---
# Scaled dot-product attention, fused per (batch, head): threads split the heads (prange over every leading
# axis merged into one), and each head makes its scores, softmax and output in one pass while they are in its
# cache. The products are BLAS calls (np.dot, one BLAS thread each, as in convolution), the softmax and its
# gradient are vectorized loops over rows. Measured on workload 5, q/k/v (8, 4, 128, 64) float32, forward +
# backward, 2 threads, best of 70: these kernels 2.8 ms (causal mask or none); the same with BLAS left
# multi-threaded inside prange 16 ms (its threads fight numba's, and OpenBLAS prints warnings); fused loops
# with hand-written (vectorized) products instead of BLAS 8.0 ms, 5.0 ms causal (they skipped hidden keys);
# numpy_ref 4.8 ms; torch's scaled_dot_product_attention 4.1 ms (is_causal: the same).
# The forward saves the weights P (..., Tq, Tk), as the reference does, and backward reuses them: saving the
# log-sum-exp instead (Tq numbers per head) and recomputing P in backward costs one more product and the
# exps again: 3.2 ms instead of 2.8 ms on that workload.
# A mask is not expanded per head: it becomes a table of score offsets (0 where a query may attend, -inf where
# it may not, or the float mask's values) holding the mask's own rows, and each query reads its row by index
# (``bias_row``): a causal (Tq, Tk) mask stays Tq rows, shared by every head of every batch.


def _score_offsets(mask, lead: tuple, length: int, source: int, dtype):
    """The mask as rows of offsets to add to the scores, and which row each query uses.

    mask: None, bool (True = may attend) or float, broadcastable to (*lead, Tq, Tk)
    -> table: (R, Tk) of dtype, bias_row: (B * Tq,) with B = prod(lead): query i of head b adds
    table[bias_row[b * Tq + i]]. R is the number of rows the mask has of its own (1 without a mask).
    """
    if mask is None:
        return np.zeros((1, source), dtype), np.zeros(math.prod(lead) * length, np.intp)
    offsets = np.where(mask, dtype.type(0), dtype.type(-np.inf)) if mask.dtype == bool else mask.astype(dtype)
    offsets = offsets.reshape((1,) * (len(lead) + 2 - offsets.ndim) + offsets.shape)
    rows = offsets.shape[:-1]
    bias_row = np.broadcast_to(np.arange(math.prod(rows)).reshape(rows), (*lead, length))
    table = np.broadcast_to(offsets.reshape(-1, offsets.shape[-1]), (math.prod(rows), source))
    return _contiguous(table), _flat(bias_row, np.intp)


def _heads(*arrays):
    """Each array (..., T, n) as a C-contiguous (B, T, n): its leading axes merged into one axis of heads."""
    return tuple(_contiguous(a).reshape(-1, *a.shape[-2:]) for a in arrays)


def _attention_usable(*arrays) -> bool:
    """Whether the compiled kernels take these: one float dtype, no empty axis, the same leading axes."""
    if not (_same_floats(*arrays) and all(a.ndim >= 2 and a.size > 0 for a in arrays)):
        return False
    return len({a.shape[:-2] for a in arrays}) == 1


def _mask_usable(mask, scores_shape: tuple) -> bool:
    """Whether the mask is a NumPy bool or float array that broadcasts to the scores' shape (not beyond it)."""
    if not isinstance(mask, np.ndarray) or not (mask.dtype == bool or mask.dtype.kind == "f"):
        return False
    try:
        return np.broadcast_shapes(mask.shape, scores_shape) == scores_shape
    except ValueError:
        return False


@numba.njit(cache=True, fastmath=_REORDER_SUMS)
def _softmax_of_scores(scores, offsets, scale):
    """scores <- softmax(scores * scale + offsets) in place, the max subtracted first; zeros where every
    entry is -inf (a query that may attend to no key)."""
    top = scores.dtype.type(-np.inf)
    for j in range(scores.size):
        scores[j] = scores[j] * scale + offsets[j]
        top = max(top, scores[j])
    if top == -np.inf:
        scores[:] = 0
        return
    total = scores.dtype.type(0)
    for j in range(scores.size):
        scores[j] = _exp(scores[j] - top)  # masked entries: exp(-inf) = 0
        total += scores[j]
    for j in range(scores.size):
        scores[j] = scores[j] / total


@numba.njit(cache=True, fastmath=_REORDER_SUMS)
def _scores_gradient(grad, weights, scale):
    """grad <- weights * (grad - sum(grad * weights)) * scale in place: one row's dL/dP turned into dL/dS."""
    dot = grad.dtype.type(0)
    for j in range(grad.size):
        dot += grad[j] * weights[j]
    for j in range(grad.size):
        grad[j] = weights[j] * (grad[j] - dot) * scale


@threaded(fastmath=_REORDER_SUMS)
def _attention_forward(q, k, v, table, bias_row, scale):
    """q: (B, Tq, d), k: (B, Tk, d), v: (B, Tk, dv), table and bias_row from _score_offsets
    -> out: (B, Tq, dv), weights: (B, Tq, Tk)."""
    heads, length = q.shape[0], q.shape[1]
    out = np.empty((heads, length, v.shape[2]), q.dtype)
    weights = np.empty((heads, length, k.shape[1]), q.dtype)
    for b in numba.prange(heads):
        np.dot(q[b], k[b].T, weights[b])
        for i in range(length):
            _softmax_of_scores(weights[b, i], table[bias_row[b * length + i]], scale)
        np.dot(weights[b], v[b], out[b])
    return out, weights


@threaded(fastmath=_REORDER_SUMS)
def _attention_backward(grad_out, q, k, v, weights, scale):
    """grad_out: (B, Tq, dv), weights: (B, Tq, Tk), the rest as in _attention_forward -> dq, dk, dv."""
    dq, dk, dv = np.empty_like(q), np.empty_like(k), np.empty_like(v)
    for b in numba.prange(q.shape[0]):
        np.dot(weights[b].T, grad_out[b], dv[b])
        dscores = np.dot(grad_out[b], v[b].T)  # dL/dP, made dL/dS row by row
        for i in range(dscores.shape[0]):
            _scores_gradient(dscores[i], weights[b, i], scale)
        np.dot(dscores, k[b], dq[b])
        np.dot(dscores.T, q[b], dk[b])
    return dq, dk, dv


def attention_forward(q, k, v, mask, scale):
    """Scaled dot-product attention, as numpy_ref.attention_forward: out = softmax(q k^T * scale, masked) v.

    q: (..., Tq, d), k: (..., Tk, d), v: (..., Tk, dv) (same leading axes); mask: None, bool broadcastable
    to (..., Tq, Tk) (True = may attend) or float (added to the scores); scale: a number
    -> out: (..., Tq, dv), saved: the weights (..., Tq, Tk), as the reference's (either backward takes them).
    A query allowed no key gets weights 0 and out 0. Other dtypes, mixed dtypes, empty axes and leading axes
    that differ (the reference broadcasts them) go to the reference.
    """
    usable = _attention_usable(q, k, v) and (mask is None or _mask_usable(mask, (*q.shape[:-1], k.shape[-2])))
    if not usable:
        return numpy_ref.attention_forward(q, k, v, mask, scale)
    lead, length, source = q.shape[:-2], q.shape[-2], k.shape[-2]
    table, bias_row = _score_offsets(mask, lead, length, source, q.dtype)
    out, weights = _with_one_blas_thread(_attention_forward, *_heads(q, k, v), table, bias_row, q.dtype.type(scale))
    return out.reshape(*lead, length, v.shape[-1]), weights.reshape(*lead, length, source)


def attention_backward(grad_out, q, k, v, saved, mask, scale):
    """Gradients of attention_forward, from the weights P it saved: dq, dk, dv, shaped as q, k, v.

    grad_out: (..., Tq, dv); saved: P (..., Tq, Tk) (this backend's or the reference's: they are the same).
    dv = P^T grad_out, dS = P * (dP - rowsum(dP * P)) * scale with dP = grad_out v^T, dq = dS k, dk = dS^T q.
    ``mask`` is not needed: P is 0 wherever a query may not attend, and so is dS.
    """
    if not _attention_usable(grad_out, q, k, v, saved):
        return numpy_ref.attention_backward(grad_out, q, k, v, saved, mask, scale)
    arrays = _heads(grad_out, q, k, v, saved)
    dq, dk, dv = _with_one_blas_thread(_attention_backward, *arrays, q.dtype.type(scale))
    return dq.reshape(q.shape), dk.reshape(k.shape), dv.reshape(v.shape)


@warms_up
def _warm_attention(dtype: np.dtype) -> None:
    q = np.linspace(-1, 1, 6).astype(dtype).reshape(1, 2, 3)
    out, weights = attention_forward(q, q, q, np.tril(np.ones((2, 2), bool)), 0.5)
    attention_backward(out, q, q, q, weights, None, 0.5)


# --- scatter-add and the embedding gradient ---


@threaded()
def _add_rows_at(table, index, values, blocks):
    # table[index[i]] += values[i] for every i in order. Threads split the columns into blocks, not the i,
    # so no two threads add into one element, and each element adds its values in the reference's order.
    columns = table.shape[1]
    for b in numba.prange(blocks):
        for i in range(index.size):
            target, source = table[index[i]], values[i]
            for j in range(b * columns // blocks, (b + 1) * columns // blocks):
                target[j] += source[j]


def _column_blocks(columns: int) -> int:
    return min(columns, numba.get_num_threads())


def _rows_index(index, rows: int) -> bool:
    """Whether ``index`` is an integer array whose entries all pick one of ``rows`` rows (no negatives)."""
    return (
        isinstance(index, np.ndarray)
        and index.dtype.kind in "iu"
        and (index.size == 0 or (index.min() >= 0 and index.max() < rows))
    )


def scatter_add(target, index, values):
    """target[index] += values, in place, where repeated indices each add (unlike ``+=``).

    target: any shape; index: anything that indexes it; values: the shape of target[index] (or broadcast
    to it). Compiled for the common case, an integer array picking rows of a C-contiguous target (any
    shape of index, entries in [0, len(target))); every other index (slices, tuples, booleans, negative
    entries) and dtype goes to the reference's np.add.at.
    """
    if not (
        _same_floats(target, values)
        and target.ndim >= 1
        and target.flags.c_contiguous
        and target.flags.writeable
        and _rows_index(index, target.shape[0])
    ):
        return numpy_ref.scatter_add(target, index, values)
    row_size = math.prod(target.shape[1:])
    values = _contiguous(np.broadcast_to(values, index.shape + target.shape[1:]))
    _run_kernel(
        _add_rows_at, values.size, target.reshape(target.shape[0], row_size), _flat(index, np.intp),
        values.reshape(index.size, row_size), _column_blocks(row_size),
    )  # fmt: skip


def embedding_backward(grad, indices, num_embeddings):
    """Gradient of the embedding table for out = weight[indices].

    grad: (..., D), indices: (...) integers in [0, num_embeddings) -> (num_embeddings, D), row i summing
    the gradients of every position that looked up i. Threads split the D columns (see `_add_rows_at`).
    """
    usable = _same_floats(grad) and grad.ndim >= 1 and _rows_index(indices, num_embeddings)
    if not (usable and indices.shape == grad.shape[:-1]):
        return numpy_ref.embedding_backward(grad, indices, num_embeddings)
    dim = grad.shape[-1]
    table = np.zeros((num_embeddings, dim), grad.dtype)
    values = _contiguous(grad).reshape(indices.size, dim)
    _run_kernel(_add_rows_at, values.size, table, _flat(indices, np.intp), values, _column_blocks(dim))
    return table


# --- optimizer steps (in place) ---


def _updatable(*arrays) -> bool:
    """In-place steps need writable C-contiguous arrays of one shape and float dtype: flat views that write
    through. (grad is only read, but a read-only one would cost a compile: see `_contiguous`.)"""
    same = _same_floats(*arrays)
    return same and all(a.flags.c_contiguous and a.flags.writeable and a.shape == arrays[0].shape for a in arrays)


@threaded()
def _sgd_step(param, grad, buffer, lr, momentum, one_minus_dampening, weight_decay, nesterov, first):
    for i in numba.prange(param.size):
        d = grad[i] + weight_decay * param[i] if weight_decay else grad[i]
        if momentum:
            buffer[i] = d if first else buffer[i] * momentum + one_minus_dampening * d
            d = d + momentum * buffer[i] if nesterov else buffer[i]
        param[i] -= lr * d


def sgd_step(param, grad, momentum_buffer, *, lr, momentum, dampening, weight_decay, nesterov, first):
    """One SGD step, as PyTorch defines it, updating param (and momentum_buffer) in place.

    param, grad, momentum_buffer: same shape (momentum_buffer is None when momentum == 0); first: True on
    the buffer's first step, when it starts as the gradient itself. One fused pass over the flattened
    arrays, threads splitting it; the hyperparameters are cast to param's dtype, as NumPy does.
    """
    buffers = () if momentum_buffer is None else (momentum_buffer,)
    grad = _contiguous(grad)  # only read: a strided gradient (a conv weight's, say) is copied, not refused
    if not _updatable(param, grad, *buffers) or (momentum and momentum_buffer is None):
        return numpy_ref.sgd_step(
            param, grad, momentum_buffer, lr=lr, momentum=momentum, dampening=dampening,
            weight_decay=weight_decay, nesterov=nesterov, first=first,
        )  # fmt: skip
    real = param.dtype.type
    buffer = np.empty(0, param.dtype) if momentum_buffer is None else momentum_buffer.reshape(-1)
    _run_kernel(
        _sgd_step, _EXP * param.size, param.reshape(-1), grad.reshape(-1), buffer, real(lr), real(momentum),
        real(1 - dampening), real(weight_decay), bool(nesterov), bool(first),
    )  # fmt: skip


@threaded()
def _adam_step(param, grad, exp_avg, exp_avg_sq, shrink, l2, beta1, one_minus_beta1, beta2, one_minus_beta2,
               step_size, sqrt_bias_correction2, eps):  # fmt: skip
    for i in numba.prange(param.size):
        param[i] *= shrink  # AdamW's decoupled decay (1 exactly otherwise)
        g = grad[i] + l2 * param[i] if l2 else grad[i]  # Adam's L2 decay
        exp_avg[i] = exp_avg[i] * beta1 + one_minus_beta1 * g
        exp_avg_sq[i] = exp_avg_sq[i] * beta2 + one_minus_beta2 * g * g
        denom = math.sqrt(exp_avg_sq[i]) / sqrt_bias_correction2 + eps
        param[i] -= step_size * exp_avg[i] / denom


def adam_step(param, grad, exp_avg, exp_avg_sq, *, step, lr, beta1, beta2, eps, weight_decay, decoupled):
    """One Adam (decoupled=False) or AdamW (decoupled=True) step, updating everything in place.

    param, grad, exp_avg (m), exp_avg_sq (v): same shape; step: 1 on the first update. One fused pass over
    the flattened arrays (read p, g, m, v; write p, m, v), threads splitting it; float32 stays float32.
    """
    grad = _contiguous(grad)  # only read: a strided gradient (a conv weight's, say) is copied, not refused
    if not _updatable(param, grad, exp_avg, exp_avg_sq):
        return numpy_ref.adam_step(
            param, grad, exp_avg, exp_avg_sq, step=step, lr=lr, beta1=beta1, beta2=beta2, eps=eps,
            weight_decay=weight_decay, decoupled=decoupled,
        )  # fmt: skip
    real = param.dtype.type
    shrink = 1 - lr * weight_decay if weight_decay and decoupled else 1
    l2 = 0 if decoupled else weight_decay
    bias_correction1, bias_correction2 = 1 - beta1**step, 1 - beta2**step
    _run_kernel(
        _adam_step, _ADAM * param.size, param.reshape(-1), grad.reshape(-1), exp_avg.reshape(-1),
        exp_avg_sq.reshape(-1), real(shrink), real(l2), real(beta1), real(1 - beta1), real(beta2), real(1 - beta2),
        real(lr / bias_correction1), real(math.sqrt(bias_correction2)), real(eps),
    )  # fmt: skip


@warms_up
def _warm_up_pointwise(dtype: np.dtype) -> None:
    x = np.linspace(-3, 3, 12).astype(dtype).reshape(3, 4)
    labels = np.array([0, 3, 1])
    for unary in (relu_forward, sigmoid_forward, tanh_forward, gelu_forward):
        unary(x)
    for binary in (relu_backward, sigmoid_backward, tanh_backward, gelu_backward):
        binary(x, x)
    for forward, backward in ((softmax_forward, softmax_backward), (log_softmax_forward, log_softmax_backward)):
        backward(x, forward(x, -1), -1)
    _, probs = cross_entropy_forward(x, labels)
    cross_entropy_backward(x[:, 0].copy(), probs, labels)
    masked_softmax_forward(x, x > 0)
    y, mean, rstd = layer_norm_forward(x, x[0].copy(), x[1].copy(), 1e-5)
    layer_norm_backward(y, x, x[0].copy(), mean, rstd)
    embedding_backward(x, labels, 4)
    scatter_add(np.zeros((4, 4), dtype), labels, x)
    sgd_step(x.copy(), x, x.copy(), lr=0.1, momentum=0.9, dampening=0.0, weight_decay=0.1, nesterov=False, first=False)
    adam_step(x.copy(), x, x.copy(), x * x, step=1, lr=0.1, beta1=0.9, beta2=0.99, eps=1e-8, weight_decay=0.0,
              decoupled=False)  # fmt: skip
