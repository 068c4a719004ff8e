"""The numba LSTM, GRU and RNN kernels (kernels/numba_cpu/recurrent.py: ``_lstm_forward_gemm``, ``_gru_forward_gemm``,
``_rnn_forward_gemm``, their backwards and their row-block product ``_rows_dot``), against the reference
kernels (the spec), at the hidden sizes that tests/test_kernels_recurrent.py does not draw (it draws 1-5): odd batch
sizes (row blocks of 4 and the rows left over), one and two threads (the batch split into blocks of rows), with and
without bias and initial states, gi contiguous or time-reversed, float32 and float64; then as plain Python
(NUMBA_DISABLE_JIT=1) and warmed up.
"""

import os
import subprocess
import sys

import numpy as np
import pytest
from numba_marks import compiled_for, jit_compiles, numba_usable

from kernels import numpy_ref

pytestmark = numba_usable
TOLERANCE = {np.float32: dict(rtol=1e-4, atol=1e-5), np.float64: dict(rtol=1e-10, atol=1e-12)}


GATES = {"lstm": 4, "gru": 3, "rnn": 1}
STATES = {"lstm": 2, "gru": 1, "rnn": 1}  # (h0, c0), or h0 alone


def _inputs(rng, kind, length, batch, size, dtype, bias, states, reverse_view):
    gates = GATES[kind]
    gi = rng.standard_normal((length, batch, gates * size)).astype(dtype)
    gi = gi[::-1] if reverse_view else gi
    w_hh = (rng.standard_normal((gates * size, size)) / np.sqrt(size)).astype(dtype)
    b_hh = rng.standard_normal(gates * size).astype(dtype) if bias else None
    initial = [rng.standard_normal((batch, size)).astype(dtype) if states else None for _ in range(STATES[kind])]
    return gi, w_hh, b_hh, *initial


def _assert_matches(got, expected, dtype):
    """The absolute tolerance is in units of each output's largest value (from 1 up): a ReLU RNN's values and
    gradients grow without bound over 35 steps, and the weight gradients sum 700 products of values in the tens, so
    float32's rounding of large sums reaches the entries that cancel to near zero (the kernels sum in another order
    than the reference: the tiles' multiply-adds by k, rows_dot's in blocks)."""
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert (g is None) == (e is None)
        if e is not None:
            assert g.shape == e.shape and g.dtype == e.dtype, (g.shape, e.shape, g.dtype, e.dtype)
            tolerance = dict(TOLERANCE[dtype])
            tolerance["atol"] *= max(1.0, float(np.abs(e).max(initial=0)))
            np.testing.assert_allclose(g, e, **tolerance)


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn_tanh", "rnn_relu"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "length, batch, size, bias, states, reverse_view, threads",
    [
        (35, 20, 128, True, False, False, 1),  # the benchmark's LSTM: 4-row blocks only
        (35, 20, 128, True, True, True, 2),  # two blocks of 10 rows: 4 + 4 + 2 left over each
        (4, 7, 65, False, True, False, 2),  # a column left over in the backward product
        (3, 1, 67, True, False, True, 2),  # one sample: one block, one row left over
        (1, 5, 66, False, False, False, 1),  # a single step
        (20, 4, 5, True, True, False, 1),  # lesson 10's small LSTM
        (6, 9, 13, True, True, True, 2),  # gate rows shorter than a vector, columns left over both ways
    ],
)
def test_gate_kernels_match_the_reference(kind, dtype, length, batch, size, bias, states, reverse_view, threads):
    import numba

    from kernels import numba_cpu

    rng = np.random.default_rng(length * 1000 + batch)
    kind, *nonlinearity = kind.split("_")  # the RNN's tanh or relu, its last argument
    args = _inputs(rng, kind, length, batch, size, dtype, bias, states, reverse_view)
    forward, backward = (f"{kind}_sequence_{way}" for way in ("forward", "backward"))
    expected = getattr(numpy_ref, forward)(*args, *nonlinearity)
    copies = [None if a is None else a.copy() for a in args]
    before = numba.get_num_threads()
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    try:
        got = getattr(numba_cpu, forward)(*args, *nonlinearity)
        if kind == "rnn":  # out alone, not a tuple
            got, expected = (got,), (expected,)
        _assert_matches(got, expected, dtype)
        out, saved = expected[0], expected[-1:] if kind != "rnn" else ()
        grads = [rng.standard_normal((length, batch, size)).astype(dtype)]
        grads += [rng.standard_normal((batch, size)).astype(dtype) if states else None for _ in range(STATES[kind])]
        kernel_args = (*grads, *args, out, *saved, *nonlinearity)
        got = getattr(numba_cpu, backward)(*kernel_args)
        _assert_matches(got, getattr(numpy_ref, backward)(*kernel_args), dtype)
    finally:
        numba.set_num_threads(before)
    for arg, copy in zip(args, copies):  # the inputs are left alone
        assert arg is None or np.array_equal(arg, copy)


@pytest.mark.parametrize("rows, columns, depth", [(20, 512, 128), (10, 128, 512), (3, 6, 5), (5, 4, 1), (0, 4, 3)])
def test_rows_dot_is_a_matrix_product(rows, columns, depth):
    from kernels.numba_cpu.recurrent import _rows_dot

    rng = np.random.default_rng(rows + columns)
    x, w = rng.standard_normal((rows, depth)), rng.standard_normal((columns, depth))
    out = np.full((rows, columns), np.nan)
    _rows_dot(x, w, out)
    np.testing.assert_allclose(out, x @ w.T, rtol=1e-12, atol=1e-12)


PLAIN_PYTHON_SCRIPT = """
import numpy as np
from kernels import numba_cpu as nb, numpy_ref as ref
rng = np.random.default_rng(0)
size = 5
gi = rng.standard_normal((2, 3, 4 * size))[::-1]
w_hh, b_hh = rng.standard_normal((4 * size, size)) / 8, rng.standard_normal(4 * size)
h0, c0 = rng.standard_normal((3, size)), rng.standard_normal((3, size))
forward = ref.lstm_sequence_forward(gi, w_hh, b_hh, h0, c0)
got = nb.lstm_sequence_forward(gi, w_hh, b_hh, h0, c0)
args = (rng.standard_normal((2, 3, size)), None, rng.standard_normal((3, size)), gi, w_hh, b_hh, h0, c0, forward[0],
        forward[2])
checked = 0
weights = lambda k, g: k.recurrent_weight_grads(g, forward[0], h0, b_hh)
grad_got, grad_want = nb.lstm_sequence_backward(*args), ref.lstm_sequence_backward(*args)
grad_got, grad_want = grad_got + weights(nb, grad_got[0]), grad_want + weights(ref, grad_want[0])
for a, e in zip(got + grad_got, forward + grad_want):
    np.testing.assert_allclose(a, e, rtol=1e-10, atol=1e-12)
    checked += 1
gi = rng.standard_normal((2, 3, 3 * size))
w_hh, b_hh = rng.standard_normal((3 * size, size)) / 8, rng.standard_normal(3 * size)
forward, got = ref.gru_sequence_forward(gi, w_hh, b_hh, h0), nb.gru_sequence_forward(gi, w_hh, b_hh, h0)
args = (rng.standard_normal((2, 3, size)), rng.standard_normal((3, size)), gi, w_hh, b_hh, h0, *forward)
weights = lambda k, g: k.recurrent_weight_grads(g, forward[0], h0, b_hh)
grad_got, grad_want = nb.gru_sequence_backward(*args), ref.gru_sequence_backward(*args)
grad_got, grad_want = grad_got + weights(nb, grad_got[1]), grad_want + weights(ref, grad_want[1])
for a, e in zip(got + grad_got, forward + grad_want):
    np.testing.assert_allclose(a, e, rtol=1e-10, atol=1e-12)
    checked += 1
print("ok", checked)
"""


def test_the_gate_kernels_run_as_plain_python_without_the_jit():
    env = {**os.environ, "NUMBA_DISABLE_JIT": "1"}
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    result = subprocess.run(
        [sys.executable, "-c", PLAIN_PYTHON_SCRIPT], capture_output=True, text=True, env=env, cwd=root
    )
    assert result.returncode == 0, result.stderr
    # LSTM: out, c_T, saved, 3 gradients and the weights' 2; GRU: out, saved, 3 and 2
    assert result.stdout.split() == ["ok", str(3 + 5 + 2 + 5)]


@jit_compiles
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_warmup_compiles_the_gate_kernels(dtype):
    import numba

    from kernels.numba_cpu import recurrent

    recurrent.warm_up(np.dtype(dtype))
    float_type = numba.from_dtype(np.dtype(dtype))
    kernels = (recurrent._lstm_forward_gemm, recurrent._lstm_backward_gemm, recurrent._gru_forward_gemm,
               recurrent._gru_backward_gemm, recurrent._rnn_forward_gemm, recurrent._rnn_backward_gemm)  # fmt: skip
    for kernel in kernels:  # one compiled version each, for threads and one thread alike
        assert compiled_for(kernel, float_type), (kernel, float_type)
