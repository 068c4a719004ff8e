"""The backend switch, and every kernel of every usable backend against the reference."""

import subprocess
import sys
import types

import numpy as np
import pytest
from device import to_device

import tinynet as tn
from kernels import numpy_ref
from tinynet import backend


def test_numpy_is_the_default_and_set_backend_switches():
    assert tn.get_backend() == "numpy"
    tn.set_backend("numba")
    assert tn.get_backend() == "numba"
    tn.set_backend("numpy")
    assert tn.get_backend() == "numpy"


def test_use_backend_restores_the_previous_backend_even_after_an_error():
    with pytest.raises(KeyError), tn.use_backend("numba"):
        assert tn.get_backend() == "numba"
        raise KeyError("boom")
    assert tn.get_backend() == "numpy"


def test_an_unknown_backend_names_the_choices():
    with pytest.raises(tn.BackendError, match=r"unknown backend 'jax'.*numpy, numba, cupy"):
        tn.set_backend("jax")


def test_an_unusable_backend_says_why_and_how_to_fix():
    usable, reason = backend.status("cupy")
    if usable:
        pytest.skip("cupy is usable on this machine, so there is no failure to report")
    assert "cupy" in reason and ("pip install" in reason or "GPU" in reason)
    with pytest.raises(tn.BackendError, match="not usable here"):
        tn.set_backend("cupy")
    assert tn.get_backend() == "numpy"  # a failed switch leaves the backend as it was


def _python(code: str, **env) -> str:
    import os

    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, **env}, check=True
    )
    return result.stdout.strip()


def test_importing_tinynet_imports_neither_numba_nor_cupy():
    out = _python("import sys, tinynet; print('numba' in sys.modules, 'cupy' in sys.modules)", TINYNET_BACKEND="")
    assert out == "False False"


def test_the_environment_variable_chooses_the_backend():
    out = _python("import sys, tinynet; print(tinynet.get_backend(), 'numba' in sys.modules)", TINYNET_BACKEND="numba")
    assert out == "numba True"


def test_a_backend_lacking_a_kernel_falls_back_to_the_reference():
    def relu_forward(x):
        return np.full_like(x, 42.0)

    fake = types.ModuleType("fake_backend")
    fake.array_module = lambda: np
    fake.relu_forward = relu_forward
    table = backend.Backend("fake", fake)
    assert table.overrides == ("relu_forward",)
    assert set(table.fallbacks) == set(numpy_ref.KERNELS) - {"relu_forward"}
    assert table.relu_forward is relu_forward
    assert table.sigmoid_forward is numpy_ref.sigmoid_forward


@pytest.mark.parametrize("name", ["numba", "cupy"])
def test_overrides_and_fallbacks_partition_the_kernel_table(name):
    usable, reason = backend.status(name)
    if not usable:
        pytest.skip(reason)
    table = backend.load(name)
    assert sorted(table.overrides + table.fallbacks) == sorted(numpy_ref.KERNELS)
    for kernel in numpy_ref.KERNELS:
        expected = getattr(table.module, kernel) if kernel in table.overrides else getattr(numpy_ref, kernel)
        entry = getattr(table, kernel)
        assert getattr(entry, "__wrapped__", entry) is expected  # dtype-limited kernels are wrapped (dtype_limits)


# --- every kernel, on every backend, against the reference ------------------------------------


def _window_inputs(kernel: str, rng: np.random.Generator, dtype) -> tuple[tuple, dict]:
    """Convolution and pooling: uneven strides, padding, dilation and overlapping windows."""
    x = rng.standard_normal((2, 3, 7, 6)).astype(dtype)
    geometry = ((2, 1), (1, 2), (1, 2))  # stride, padding, dilation
    if kernel.startswith("conv2d"):
        w = rng.standard_normal((4, 3, 3, 2)).astype(dtype)
        grad = rng.standard_normal(numpy_ref.conv2d_forward(x, w, *geometry).shape).astype(dtype)
        return ((x, w, *geometry) if kernel == "conv2d_forward" else (grad, x, w, *geometry)), {}
    if kernel.startswith("depthwise"):  # 3 channels, 2 filters each
        w = rng.standard_normal((6, 1, 3, 2)).astype(dtype)
        grad = rng.standard_normal(numpy_ref.depthwise_conv2d_forward(x, w, *geometry).shape).astype(dtype)
        return ((x, w, *geometry) if kernel.endswith("_forward") else (grad, x, w, *geometry)), {}
    if kernel.startswith("conv_transpose2d"):
        w = rng.standard_normal((3, 4, 3, 2)).astype(dtype)
        geometry = ((2, 1), (1, 0), (1, 1), (1, 2))  # stride, padding, output_padding, dilation
        grad = rng.standard_normal(numpy_ref.conv_transpose2d_forward(x, w, *geometry).shape).astype(dtype)
        return ((x, w, *geometry) if kernel.endswith("_forward") else (grad, x, w, *geometry)), {}
    pool = ((3, 2), (2, 1), (1, 1))  # kernel_size, stride, padding
    out, argmax = numpy_ref.max_pool2d_forward(x, *pool)
    grad = rng.standard_normal(out.shape).astype(dtype)
    if kernel.endswith("_forward"):
        return (x, *pool), {}
    if kernel == "max_pool2d_backward":
        return (grad, argmax, x.shape, *pool), {}
    return (grad, x.shape, *pool), {}


def _inputs(kernel: str, rng: np.random.Generator, dtype) -> tuple[tuple, dict]:
    """Arguments for one call of ``kernel``: (positional, keyword)."""
    x = rng.standard_normal((5, 7)).astype(dtype)
    g = rng.standard_normal((5, 7)).astype(dtype)
    labels = rng.integers(0, 7, 5)
    if kernel == "matmul":
        return (rng.standard_normal((3, 5, 4)).astype(dtype), rng.standard_normal((4, 6)).astype(dtype)), {}
    if kernel in ("add", "mul"):  # enough numbers for numba's kernels (common.SPLIT_WORK: fewer go to NumPy's)
        return (rng.standard_normal((250, 256)).astype(dtype), rng.standard_normal((250, 256)).astype(dtype)), {}
    if kernel == "accumulate":  # (elementwise.ACCUMULATE_ON_THREADS numbers and more on numba's threads)
        return (rng.standard_normal((512, 520)).astype(dtype), rng.standard_normal((512, 520)).astype(dtype)), {}
    if kernel.startswith("linear"):
        weight, bias = rng.standard_normal((6, 7)).astype(dtype), rng.standard_normal(6).astype(dtype)
        if kernel == "linear_forward":
            return (x, weight, bias), {}
        return (rng.standard_normal((5, 6)).astype(dtype), x, weight, True, True, True), {}
    if kernel == "dropout_mask":  # 30,000 values: enough for numba's threads
        return (np.empty(0, dtype), (100, 300), np.array([12345, 678910], np.uint32), 0.3), {}
    if kernel.startswith("resample"):  # 7 -> 10 positions along axis 1, bilinear: two taps each
        from tinynet.functions.resize import _plan

        index, weight = _plan("bilinear", 7, 10, None, False, np.dtype(dtype))
        x3 = rng.standard_normal((2, 7, 3)).astype(dtype)
        grad3 = rng.standard_normal((2, 10, 3)).astype(dtype)
        return ((x3, 1, index, weight) if kernel == "resample_forward" else (grad3, 1, index, weight, 7)), {}
    if kernel.startswith(("conv", "depthwise", "max_pool", "avg_pool")):
        return _window_inputs(kernel, rng, dtype)
    norms = ("layer_norm", "batch_norm", "group_norm", "channel_affine")
    if kernel.startswith((*norms, "embedding", "masked_softmax", "attention")):
        return _normalization_attention_inputs(kernel, x, g, rng, dtype)
    if kernel.startswith(("rnn_sequence", "gru_sequence", "lstm_sequence")):
        return _recurrent_inputs(kernel, rng, dtype)
    if kernel == "recurrent_weight_grads":  # a GRU's gates' gradient (T, N, 3H) = (4, 3, 15), out (4, 3, 5)
        grad_gh, out = rng.standard_normal((4, 3, 15)).astype(dtype), rng.standard_normal((4, 3, 5)).astype(dtype)
        return (grad_gh, out, rng.standard_normal((3, 5)).astype(dtype), np.zeros(15, dtype)), {}
    if kernel.endswith("_forward") and kernel.startswith(("softmax", "log_softmax")):
        return (x, 1), {}
    if kernel == "softmax_backward":
        return (g, numpy_ref.softmax_forward(x, 0), 0), {}
    if kernel == "log_softmax_backward":
        return (g, numpy_ref.log_softmax_forward(x, 1), 1), {}
    if kernel == "cross_entropy_forward":
        return (x, labels), {}
    if kernel == "cross_entropy_backward":
        return (g[:, 0], numpy_ref.softmax_forward(x, 1), labels), {}
    if kernel.startswith("bce_with_logits"):  # logits far into both tails; pos_weight per class (the last dim)
        t, pos_weight = rng.random((5, 7)).astype(dtype), (rng.random(7) + 0.5).astype(dtype)
        return ((10 * x, t, pos_weight) if kernel.endswith("forward") else (g, 10 * x, t, pos_weight)), {}
    if kernel == "hardtanh_forward":
        return (x, -0.5, 1.0), {}
    if kernel == "hardtanh_backward":
        return (g, x, -0.5, 1.0), {}
    if kernel == "leaky_relu_forward":
        return (x, 0.1), {}
    if kernel == "leaky_relu_backward":
        return (g, x, 0.1), {}
    if kernel.startswith(("hardswish", "hardsigmoid")):  # both sides of -3 and 3, where the pieces meet
        return ((4 * x,) if kernel.endswith("forward") else (g, 4 * x)), {}
    if kernel in ("sigmoid_backward", "tanh_backward"):
        return (g, numpy_ref.sigmoid_forward(x)), {}
    if kernel.endswith("_forward"):
        return (x,), {}
    if kernel.endswith("_backward"):
        return (g, x), {}
    if kernel == "scatter_add":
        return (np.zeros((4, 7), dtype), rng.integers(0, 4, 9), rng.standard_normal((9, 7)).astype(dtype)), {}
    if kernel == "sgd_step":
        options = dict(lr=0.1, momentum=0.9, dampening=0.1, weight_decay=0.01, nesterov=False, first=False)
        return (x, g, rng.standard_normal((5, 7)).astype(dtype)), options
    if kernel == "adam_step":
        state = np.abs(rng.standard_normal((5, 7))).astype(dtype)
        options = dict(step=3, lr=0.01, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.01, decoupled=True)
        return (x, g, g * 0.1, state), options
    if kernel == "rmsprop_step":
        state = np.abs(rng.standard_normal((5, 7))).astype(dtype) + 1
        options = dict(lr=0.01, alpha=0.99, eps=1e-8, weight_decay=0.01, momentum=0.9)
        return (x, g, state, g * 0.1, g * 0.5), options
    raise AssertionError(f"no test inputs for kernel {kernel!r}: add them here")


def _normalization_attention_inputs(kernel: str, x, g, rng: np.random.Generator, dtype) -> tuple[tuple, dict]:
    """Inputs of the normalization, embedding and attention kernels; masks hide one query's every key."""
    weight, bias = rng.standard_normal(7).astype(dtype), rng.standard_normal(7).astype(dtype)
    may_attend = rng.random((5, 6)) < 0.7
    may_attend[2] = False  # a fully masked row, which must give zeros
    q, k, v = (rng.standard_normal(shape).astype(dtype) for shape in [(2, 5, 4), (2, 6, 4), (2, 6, 3)])
    if kernel == "layer_norm_forward":
        return (x, weight, bias, 1e-5), {}
    if kernel == "layer_norm_backward":
        _, mean, rstd = numpy_ref.layer_norm_forward(x, weight, bias, 1e-5)
        return (g, x, weight, mean, rstd), {}
    if kernel.startswith("channel_affine"):  # (N, C, L) = (5, 7, 3), as batch norm's
        x3, g3 = (np.repeat(a[:, :, None], 3, axis=2) * rng.random(3).astype(dtype) for a in (x, g))
        return ((x3, weight, bias) if kernel.endswith("forward") else (g3, x3, weight)), {}
    if kernel.startswith("group_norm"):  # (N, C, L) = (5, 6, 3) in 3 groups of 2 channels
        x3, g3 = (np.repeat(a[:, :6, None], 3, axis=2) * rng.random(3).astype(dtype) for a in (x, g))
        if kernel == "group_norm_forward":
            return (x3, weight[:6], bias[:6], 3, 1e-5), {}
        _, mean, rstd = numpy_ref.group_norm_forward(x3, weight[:6], bias[:6], 3, 1e-5)
        return (g3, x3, weight[:6], mean, rstd, 3), {}
    if kernel.startswith("batch_norm"):  # (N, C, L) = (5, 7, 3): the channels are x's columns
        x3, g3 = (np.repeat(a[:, :, None], 3, axis=2) * rng.random(3).astype(dtype) for a in (x, g))
        if kernel == "batch_norm_forward":
            return (x3, weight, bias, 1e-5), {}
        _, mean, rstd = numpy_ref.batch_norm_forward(x3, weight, bias, 1e-5)
        return (g3, x3, weight, mean, rstd), {}
    if kernel == "embedding_backward":
        return (g, rng.integers(0, 4, 5), 4), {}  # 5 lookups into 4 rows: some row repeats
    if kernel == "masked_softmax_forward":
        return (rng.standard_normal((2, 5, 6)).astype(dtype), may_attend), {}
    if kernel == "attention_forward":
        return (q, k, v, may_attend, 0.5), {}
    if kernel == "attention_backward":
        _, probs = numpy_ref.attention_forward(q, k, v, may_attend, 0.5)
        return (rng.standard_normal((2, 5, 3)).astype(dtype), q, k, v, probs, may_attend, 0.5), {}
    raise AssertionError(f"no test inputs for kernel {kernel!r}: add them here")


def _recurrent_inputs(kernel: str, rng: np.random.Generator, dtype) -> tuple[tuple, dict]:
    """One direction of a recurrent layer: T = 4 steps, N = 3, H = 5, with bias, h0 and a gradient for h_T."""
    kind = kernel.split("_")[0]
    gates = {"rnn": 1, "gru": 3, "lstm": 4}[kind]
    gi = rng.standard_normal((4, 3, gates * 5)).astype(dtype)
    w_hh, b_hh = (rng.standard_normal(shape).astype(dtype) * 0.5 for shape in [(gates * 5, 5), (gates * 5,)])
    h0, c0, grad_hT, grad_cT = (rng.standard_normal((3, 5)).astype(dtype) for _ in range(4))
    grad_out = rng.standard_normal((4, 3, 5)).astype(dtype)
    options = {"nonlinearity": "tanh"} if kind == "rnn" else {}
    forward_args = (gi, w_hh, b_hh, h0, c0) if kind == "lstm" else (gi, w_hh, b_hh, h0)
    if kernel.endswith("_forward"):
        return forward_args, options
    forward = getattr(numpy_ref, f"{kind}_sequence_forward")(*forward_args, **options)
    if kind == "rnn":
        return (grad_out, grad_hT, *forward_args, forward), options
    if kind == "gru":
        return (grad_out, grad_hT, *forward_args, *forward), options
    out, _, saved = forward
    return (grad_out, grad_hT, grad_cT, *forward_args, out, saved), options


def _host(value):
    if isinstance(value, tuple):
        return tuple(_host(v) for v in value)
    return value if value is None or isinstance(value, (np.ndarray, np.generic)) else value.get()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kernel", numpy_ref.KERNELS)
def test_every_kernel_matches_the_reference(backend_name, kernel, dtype):
    args, options = _inputs(kernel, np.random.default_rng(0), dtype)
    table = backend.active()
    device_args = to_device(args, table.xp)
    reference_args = tuple(a.copy() if isinstance(a, np.ndarray) else a for a in args)
    got = getattr(table, kernel)(*device_args, **options)
    expected = getattr(numpy_ref, kernel)(*reference_args, **options)
    tolerance = dict(rtol=1e-4, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-12)
    # In-place kernels return nothing: compare the arrays they updated.
    got, expected = (_host(device_args), reference_args) if expected is None else (_host(got), expected)
    for g, e in zip(
        got if isinstance(got, tuple) else (got,), expected if isinstance(expected, tuple) else (expected,)
    ):
        if isinstance(e, np.ndarray):
            np.testing.assert_allclose(g, e, **tolerance)
            assert g.dtype == e.dtype, f"{kernel} on {backend_name} returned {g.dtype}, the reference {e.dtype}"
