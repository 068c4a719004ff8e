"""Recurrent layers over whole sequences (RNN, GRU, LSTM), forward and backward, given the input projections."""

import numpy as np

from kernels import numpy_ref
from kernels.numba_cpu.common import (
    float32_and_float64_only,
    gate_tanh,
    numba,
    run_kernel,
    sigmoid,
    tanh,
    threaded,
    warms_up,
)

# One kernel per direction and pass, parallel over the batch: each sample's recurrence is independent of
# the others. Within a sample, a step's h_{t-1} W_hh^T is written as loops: for each k, add h[k] times row k
# of W_hh^T to the gate pre-activations (an axpy over gates*H contiguous values, which LLVM vectorizes);
# backward adds each gate's gradient times a row of W_hh the same way. grad_w_hh sums over every sample
# and step, so it is one BLAS matmul after the parallel loop rather than a race inside it.
# Gate math stays in the input dtype: ``one`` is 1 of that dtype (a bare 1 would promote float32 to float64).
# Small problems (gradchecks, a few short sequences) run on one thread: see ``common.run_kernel``.
# Large hidden sizes go to the reference instead, whose per-step BLAS matmul over the whole batch beats
# these loops from H ~ 64 up. Forward + backward of a GRU over (T, N) = (40, 100) float32, one thread:
# H = 6: 1.05 ms here, 2.5 ms there; H = 16: 2.4 / 3.4; H = 64: 11.5 / 10.3; H = 96: 23.2 / 17.4.
# (Measured on one thread; on more, these loops also split the batch between them.) The GRU and LSTM gates
# take their tanh from libm's exp (common.gate_tanh), the RNN's from expm1 (common.tanh): see gate_tanh.
_LOOPS_UP_TO = 64


def _as(dtype, array, zeros_shape=None):
    """array as a C-contiguous array of dtype (no copy when it already is); zeros of zeros_shape for None."""
    return np.zeros(zeros_shape, dtype) if array is None else np.ascontiguousarray(array, dtype=dtype)


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
                h[j] = (pre[j] if pre[j] > 0 else zero) if relu else tanh(pre[j])
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
    run_kernel(
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
    run_kernel(
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
                r = sigmoid(gi[t, n, j] + gh[j])
                z = sigmoid(gi[t, n, size + j] + gh[size + j])
                candidate = gate_tanh(gi[t, n, 2 * size + j] + r * gh[2 * size + j])
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
    run_kernel(
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
    run_kernel(
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
                i = sigmoid(a[j])
                f = sigmoid(a[size + j])
                g = gate_tanh(a[2 * size + j])
                o = sigmoid(a[3 * size + j])
                c[j] = f * c[j] + i * g
                h[j] = o * gate_tanh(c[j])
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
                tanh_c = gate_tanh(c)
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
    run_kernel(
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
    run_kernel(
        _lstm_backward, _work(out, w_hh),
        _as(dtype, grad_out), _as(dtype, grad_hT, (batch, size)), _as(dtype, grad_cT, (batch, size)),
        _as(dtype, w_hh), _as(dtype, c0, (batch, size)), _as(dtype, saved), grad_gi, grad_h0, grad_c0,
    )  # fmt: skip
    return grad_gi, *_recurrent_weight_grads(grad_gi, out, h0, b_hh), grad_h0, grad_c0


float32_and_float64_only(
    rnn_sequence_forward, rnn_sequence_backward, gru_sequence_forward, gru_sequence_backward,
    lstm_sequence_forward, lstm_sequence_backward,
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
