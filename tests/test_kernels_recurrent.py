"""The fused recurrent sequence kernels (RNN, GRU, LSTM; forward and backpropagation through time) and the
ops built on them (tinynet.functions.recurrent).

The kernels of every backend are compared with the reference kernels (the spec) on hypothesis-drawn sizes,
with and without bias and initial states, float32 and float64, gi contiguous or a time-reversed view. The
reference is held to PyTorch's equations in turn: its forward against a loop of the cells' one-step ops
(rnn_step, gru_step, lstm_step), its backward by gradchecks of the ops, on every backend. Then the numba
kernels run as plain Python (NUMBA_DISABLE_JIT=1) and warm up. Budget: ~60 s.
"""

import os
import subprocess
import sys

import numpy as np
import pytest
from device import to_device, to_host
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numba_marks import compiled_for, jit_compiles, numba_usable

import tinynet as tn
from kernels import numpy_ref
from tinynet import backend
from tinynet.functions.recurrent import gru_sequence, lstm_sequence, rnn_sequence
from tinynet.nn.recurrent import gru_step, lstm_step, rnn_step

# The `backend_name` fixture only switches the backend for the whole test: sharing it across examples is fine.
per_backend = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])

KINDS = ["rnn-tanh", "rnn-relu", "gru", "lstm"]
GATES = {"rnn": 1, "gru": 3, "lstm": 4}
TOLERANCE = {np.float32: dict(rtol=1e-4, atol=1e-5), np.float64: dict(rtol=1e-10, atol=1e-12)}


def _case(rng, kind, length, batch, size, dtype, bias, states, reverse_view):
    """(kernel prefix, forward args, options) for one direction of a layer of ``kind``."""
    name = kind.split("-")[0]
    gates = GATES[name]
    gi = rng.standard_normal((length, batch, gates * size)).astype(dtype)
    if reverse_view:  # what the ops pass for a reverse direction: a view with negative time strides
        gi = gi[::-1]
    w_hh = (rng.standard_normal((gates * size, size)) / np.sqrt(size)).astype(dtype)
    b_hh = rng.standard_normal(gates * size).astype(dtype) if bias else None
    initial = [
        rng.standard_normal((batch, size)).astype(dtype) if states else None for _ in range(1 + (name == "lstm"))
    ]
    options = {"nonlinearity": kind.split("-")[1]} if name == "rnn" else {}
    return name, (gi, w_hh, b_hh, *initial), options


def _assert_matches(got, expected, dtype):
    """Output by output: None where the reference gives None, else the same shape, dtype and values."""
    got = got if isinstance(got, tuple) else (got,)
    expected = expected if isinstance(expected, tuple) else (expected,)
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        if e is None:
            assert g is None
            continue
        assert g.shape == e.shape and g.dtype == e.dtype, (g.shape, e.shape, g.dtype, e.dtype)
        np.testing.assert_allclose(g, e, **TOLERANCE[dtype])


def _with_weight_grads(table, name: str, grads: tuple, kernel_args: tuple) -> tuple:
    """A sequence backward's outputs, then recurrent_weight_grads on its gates' gradient (the GRU's grad_gh, the
    others' grad_gi), as the ops call it. kernel_args: the backward's (grad_out, extra grads, gi, w_hh, b_hh, h0, [c0,]
    out[, saved])."""
    first = 2 if name == "lstm" else 1  # after grad_out: the extra gradients of h_T (and c_T)
    b_hh, h0 = kernel_args[first + 3 : first + 5]
    out = kernel_args[first + 6] if name == "lstm" else kernel_args[first + 5]
    return (*grads, *table.recurrent_weight_grads(grads[1] if name == "gru" else grads[0], out, h0, b_hh))


cases = st.fixed_dictionaries(
    {
        "kind": st.sampled_from(KINDS),
        "length": st.integers(1, 6),
        "batch": st.integers(1, 4),
        "size": st.integers(1, 5),
        "dtype": st.sampled_from([np.float32, np.float64]),
        "bias": st.booleans(),
        "states": st.booleans(),
        "reverse_view": st.booleans(),
    }
)


# --- every backend against the reference kernels -------------------------------------------------------


@per_backend
@given(case=cases, seed=st.integers(0, 2**32 - 1))
def test_forward_kernels_match_the_reference(backend_name, case, seed):
    name, args, options = _case(np.random.default_rng(seed), **case)
    kernel = f"{name}_sequence_forward"
    table = backend.active()
    got = getattr(table, kernel)(*to_device(tuple(args)), **options)
    expected = getattr(numpy_ref, kernel)(*args, **options)
    _assert_matches(to_host(got), expected, case["dtype"])


@per_backend
@given(case=cases, seed=st.integers(0, 2**32 - 1), grads_of_last=st.booleans())
def test_backward_kernels_match_the_reference(backend_name, case, seed, grads_of_last):
    rng = np.random.default_rng(seed)
    name, args, options = _case(rng, **case)
    dtype, batch, size = case["dtype"], case["batch"], case["size"]
    forward = getattr(numpy_ref, f"{name}_sequence_forward")(*args, **options)
    out = forward if name == "rnn" else forward[0]
    grad_out = rng.standard_normal(out.shape).astype(dtype)
    grads_last = [
        rng.standard_normal((batch, size)).astype(dtype) if grads_of_last else None for _ in range(1 + (name == "lstm"))
    ]
    saved = () if name == "rnn" else (forward[-1],)
    kernel_args = (grad_out, *grads_last, *args, out, *saved)
    table = backend.active()
    device_args = to_device(kernel_args)
    got = getattr(table, f"{name}_sequence_backward")(*device_args, **options)
    got = _with_weight_grads(table, name, got, device_args)
    expected = getattr(numpy_ref, f"{name}_sequence_backward")(*kernel_args, **options)
    expected = _with_weight_grads(numpy_ref, name, expected, kernel_args)
    _assert_matches(to_host(got), expected, dtype)


@numba_usable
@jit_compiles
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_numba_recurrent_kernels_by_tiles_or_by_rows_dot_match_the_reference(dtype):
    """Each step's product is tile.gemm's where the tiles run (float32 on a CPU with AVX2 or AVX-512: dot.tiles_run),
    rows_dot's otherwise (float64 everywhere): forward and backward of every kind, a batch of 20 (blocks of 10 rows a
    thread: tiles of fewer than tile.ROWS) and 40 units (gates of 40 to 160 columns: tiles of fewer than
    tile.WIDTH last)."""
    from kernels.numba_cpu import recurrent

    by_tiles = recurrent.tiles_run(np.dtype(dtype))
    w, w_rows = recurrent._weight_operands(dtype, np.ones((4 * 40, 40), dtype))
    assert (w.shape, w_rows.shape) == (((0, 0), (40, 4 * 40 + recurrent.ROW_PAD)) if by_tiles else ((160, 40), (0, 0)))
    previous = backend.get_backend()
    backend.set_backend("numba")
    try:
        table = backend.active()
        for kind in KINDS:
            rng = np.random.default_rng(len(kind))
            name, args, options = _case(rng, kind, 6, 20, 40, dtype, True, True, False)
            forward = getattr(numpy_ref, f"{name}_sequence_forward")(*args, **options)
            _assert_matches(getattr(table, f"{name}_sequence_forward")(*args, **options), forward, dtype)
            out = forward if name == "rnn" else forward[0]
            grads_last = [rng.standard_normal((20, 40)).astype(dtype) for _ in range(1 + (name == "lstm"))]
            saved = () if name == "rnn" else (forward[-1],)
            kernel_args = (rng.standard_normal(out.shape).astype(dtype), *grads_last, *args, out, *saved)
            got = getattr(table, f"{name}_sequence_backward")(*kernel_args, **options)
            expected = getattr(numpy_ref, f"{name}_sequence_backward")(*kernel_args, **options)
            _assert_matches(
                _with_weight_grads(table, name, got, kernel_args),
                _with_weight_grads(numpy_ref, name, expected, kernel_args),
                dtype,
            )
    finally:
        backend.set_backend(previous)


def test_the_kernels_leave_their_inputs_alone(backend_name):
    rng, table = np.random.default_rng(0), backend.active()
    for kind in KINDS:
        name, args, options = _case(rng, kind, 3, 2, 4, np.float64, True, True, False)
        args = to_device(tuple(args))
        copies = [a.copy() for a in args]
        forward = getattr(table, f"{name}_sequence_forward")(*args, **options)
        out = forward if name == "rnn" else forward[0]
        extra = (None,) * (2 if name == "lstm" else 1)
        saved = () if name == "rnn" else (forward[-1],)
        grad_out = table.xp.ones_like(out)
        getattr(table, f"{name}_sequence_backward")(grad_out, *extra, *args, out, *saved, **options)
        for a, copy in zip(args, copies):
            np.testing.assert_array_equal(to_host(a), to_host(copy))


# --- the reference against the cells' one-step ops ------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("reverse", [False, True])
def test_the_ops_equal_a_loop_of_one_step_ops(backend_name, kind, reverse):
    """out[t] is the state after step t, whichever order the steps run in; LSTM also returns c at the end."""
    name = kind.split("-")[0]
    length, batch, size = 5, 3, 4
    gi = tn.randn(length, batch, GATES[name] * size, dtype=tn.float64)
    w_hh = tn.randn(GATES[name] * size, size, dtype=tn.float64) * 0.5
    b_hh, h0, c0 = (
        tn.randn(GATES[name] * size, dtype=tn.float64),
        *(tn.randn(batch, size, dtype=tn.float64) for _ in "hc"),
    )
    w_hh_t = w_hh.transpose(0, 1)
    h, c, want = h0, c0, [None] * length
    for t in reversed(range(length)) if reverse else range(length):
        if name == "rnn":
            h = rnn_step(gi[t], h, w_hh_t, b_hh, kind.split("-")[1])
        elif name == "gru":
            h = gru_step(gi[t], h, w_hh_t, b_hh)
        else:
            h, c = lstm_step(gi[t], h, c, w_hh_t, b_hh)
        want[t] = h.numpy()
    if name == "rnn":
        out = rnn_sequence(gi, w_hh, b_hh, h0, kind.split("-")[1], reverse=reverse)
    elif name == "gru":
        out = gru_sequence(gi, w_hh, b_hh, h0, reverse=reverse)
    else:
        out, c_last = lstm_sequence(gi, w_hh, b_hh, h0, c0, reverse=reverse)
        np.testing.assert_allclose(c_last.numpy(), c.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(out.numpy(), np.stack(want), rtol=1e-10, atol=1e-12)


# --- gradients of the ops (the backward kernels against finite differences) ----------------------------------


@settings(max_examples=15, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    kind=st.sampled_from(KINDS),
    length=st.integers(1, 4),
    batch=st.integers(1, 3),
    size=st.integers(1, 3),
    bias=st.booleans(),
    reverse=st.booleans(),
)
def test_the_ops_gradcheck(backend_name, kind, length, batch, size, bias, reverse):
    name = kind.split("-")[0]
    gates = GATES[name]
    gi = tn.randn(length, batch, gates * size, dtype=tn.float64, requires_grad=True)
    w_hh = (tn.randn(gates * size, size, dtype=tn.float64) * 0.7).requires_grad_()
    b_hh = tn.randn(gates * size, dtype=tn.float64, requires_grad=True) if bias else None
    h0, c0 = (tn.randn(batch, size, dtype=tn.float64, requires_grad=True) for _ in "hc")
    inputs = [gi, w_hh, h0, c0] + ([b_hh] if bias else [])

    def fn(gi, w_hh, h0, c0, *b):
        b_hh = b[0] if b else None
        if name == "rnn":
            return rnn_sequence(gi, w_hh, b_hh, h0, kind.split("-")[1], reverse=reverse)
        if name == "gru":
            return gru_sequence(gi, w_hh, b_hh, h0, reverse=reverse)
        out, c_last = lstm_sequence(gi, w_hh, b_hh, h0, c0, reverse=reverse)
        return tn.cat([out.flatten(), c_last.flatten()])  # the gradient of c_T must arrive too

    assert tn.gradcheck(fn, inputs)


def test_gradcheck_of_the_gru_op_without_initial_state_or_bias():
    gi = tn.randn(4, 2, 9, dtype=tn.float64, requires_grad=True)
    w_hh = tn.randn(9, 3, dtype=tn.float64, requires_grad=True)
    assert tn.gradcheck(lambda gi, w_hh: gru_sequence(gi, w_hh), [gi, w_hh])
    assert tn.gradcheck(lambda gi, w_hh: gru_sequence(gi, w_hh, reverse=True)[0], [gi, w_hh])


@pytest.mark.parametrize("reverse, last", [(False, -1), (True, 0)])
def test_the_final_state_gets_its_gradient_through_the_output(backend_name, reverse, last):
    # h_n is out[-1] (out[0] reversed): a loss on h_n alone must reach every step's input share through time.
    gi = tn.randn(5, 2, 6, dtype=tn.float64, requires_grad=True)
    w_hh = tn.randn(6, 2, dtype=tn.float64, requires_grad=True)
    gru_sequence(gi, w_hh, reverse=reverse)[last].sum().backward()
    assert np.all(np.abs(gi.grad.numpy()).sum(axis=(1, 2)) > 0)
    assert tn.gradcheck(lambda gi, w_hh: gru_sequence(gi, w_hh, reverse=reverse)[last], [gi, w_hh])


# --- errors ------------------------------------------------------------------------------------------------


def test_shape_errors_name_the_op_and_the_expected_shape():
    gi, w_hh = tn.randn(5, 2, 9), tn.randn(9, 3)
    with pytest.raises(tn.ShapeError, match=r"gru_sequence: expected gi of shape \(T, N, 9\) .*got \(5, 2, 8\)"):
        gru_sequence(tn.randn(5, 2, 8), w_hh)
    with pytest.raises(tn.ShapeError, match=r"lstm_sequence: expected w_hh of shape \(4 \* H, H\), got \(9, 3\)"):
        lstm_sequence(gi, w_hh)
    with pytest.raises(tn.ShapeError, match=r"b_hh of shape \(9,\) .*got \(3,\)"):
        gru_sequence(gi, w_hh, tn.randn(3))
    with pytest.raises(tn.ShapeError, match=r"initial states of shape \(2, 3\) \(N, H\), got \(3, 3\)"):
        gru_sequence(gi, w_hh, h0=tn.randn(3, 3))
    with pytest.raises(ValueError, match="nonlinearity must be 'tanh' or 'relu', got 'gelu'"):
        rnn_sequence(tn.randn(5, 2, 3), tn.randn(3, 3), nonlinearity="gelu")


# --- numba without the JIT, and its warm-up ---------------------------------------------------------------


PLAIN_PYTHON_SCRIPT = """
import numpy as np
from kernels import numba_cpu as nb, numpy_ref as ref
rng = np.random.default_rng(0)
checked = 0
for name, gates, options in [("rnn", 1, {"nonlinearity": "relu"}), ("gru", 3, {}), ("lstm", 4, {})]:
    gi = rng.standard_normal((3, 2, gates * 2))[::-1]
    w_hh, b_hh = rng.standard_normal((gates * 2, 2)), rng.standard_normal(gates * 2)
    states = [rng.standard_normal((2, 2)) for _ in range(1 + (name == "lstm"))]
    forward = getattr(ref, name + "_sequence_forward")(gi, w_hh, b_hh, *states, **options)
    got = getattr(nb, name + "_sequence_forward")(gi, w_hh, b_hh, *states, **options)
    out = forward if name == "rnn" else forward[0]
    saved = () if name == "rnn" else (forward[-1],)
    grads = (rng.standard_normal(out.shape), *[rng.standard_normal((2, 2)) for _ in states])
    args = (*grads, gi, w_hh, b_hh, *states, out, *saved)
    grad_got = getattr(nb, name + "_sequence_backward")(*args, **options)
    grad_want = getattr(ref, name + "_sequence_backward")(*args, **options)
    weights = lambda k, g: k.recurrent_weight_grads(g[1] if name == "gru" else g[0], out, states[0], b_hh)
    grad_got, grad_want = grad_got + weights(nb, grad_got), grad_want + weights(ref, grad_want)
    as_tuple = lambda value: value if isinstance(value, tuple) else (value,)
    for a, e in zip(as_tuple(got) + grad_got, as_tuple(forward) + grad_want):
        np.testing.assert_allclose(a, e, rtol=1e-10, atol=1e-12, err_msg=name)
        checked += 1
print("ok", checked)
"""


@numba_usable
def test_the_numba_kernels_run_as_plain_python_without_the_jit():
    env = {**os.environ, "NUMBA_DISABLE_JIT": "1"}
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    result = subprocess.run(
        [sys.executable, "-c", PLAIN_PYTHON_SCRIPT], capture_output=True, text=True, env=env, cwd=root
    )
    assert result.returncode == 0, result.stderr
    # rnn: out, then grad_gi, grad_h0 and the weights' 2; gru: out, saved, then grad_gi, grad_gh, grad_h0 and 2;
    # lstm: out, c_T, saved, then grad_gi, grad_h0, grad_c0 and 2.
    assert result.stdout.split() == ["ok", str(5 + 7 + 8)]


@numba_usable
@jit_compiles
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_warmup_compiles_every_recurrent_kernel(dtype):
    import numba

    from kernels.numba_cpu import common, recurrent

    names = [f"{kind}_sequence_{way}" for kind in GATES for way in ("forward", "backward")]
    assert set(names) <= set(backend.load("numba").overrides)
    assert recurrent.warm_up in common.WARMUPS  # so tinynet.warmup() runs it
    recurrent.warm_up(np.dtype(dtype))
    float_type = numba.from_dtype(np.dtype(dtype))
    # Every layer's kernels are its per-step products (see test_kernels_gate_products.py).
    inner = [f"_{kind}_{way}_gemm" for kind in GATES for way in ("forward", "backward")]
    uncompiled = [name for name in inner if not compiled_for(getattr(recurrent, name), float_type)]
    assert uncompiled == [], f"warm-up left these uncompiled for {float_type}"
