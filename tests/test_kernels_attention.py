"""The attention kernels (attention_forward, attention_backward) of every backend against the reference.

Hypothesis draws the leading (batch, head) axes, the lengths Tq and Tk, the feature sizes d and dv, the
layout of q, k, v (contiguous, transposed, broadcast along the heads, packed heads) and the mask: none, causal,
random bool or float (with -inf entries), of the full scores' shape or broadcast from fewer axes, and sometimes with a
query that may attend to no key. Every backend's forward saves the weights P, as the reference's does; its
backward gets its own forward's P and the reference's (as in test_backend): both must give the reference's
gradients. Then: a fully masked row in
detail, huge scores, mixed dtypes, warm-up, and the numba kernels run as plain Python (NUMBA_DISABLE_JIT=1).
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

from kernels import numpy_ref
from tinynet import backend

# The `backend_name` fixture only switches the backend for the whole test: sharing it across examples is fine.
per_backend = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])

DTYPES = [np.float32, np.float64]
TOLERANCE = {np.float32: dict(rtol=1e-4, atol=1e-5), np.float64: dict(rtol=1e-10, atol=1e-12)}
MASKS = ["none", "causal", "bool", "float"]


def assert_matches(got, expected, dtype, scaled=False):
    """Same number of outputs, shapes, dtypes and values (within the dtype's tolerance), output by output.

    scaled: measure the absolute tolerance against each output's largest entry, for outputs whose entries
    are differences of terms that large (their rounding is a few epsilons of the largest term, whatever
    the kernel: the float32 reference is no closer to the float64 truth).
    """
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert isinstance(g, np.ndarray) and g.shape == e.shape and g.dtype == e.dtype, (g.shape, e.shape, g.dtype)
        tolerance = dict(TOLERANCE[dtype])
        if scaled:
            tolerance["atol"] = max(tolerance["atol"], 8 * np.finfo(dtype).eps * float(np.abs(e).max()))
        np.testing.assert_allclose(g, e, **tolerance)


def make_input(rng, shape, dtype, layout):
    """Normal data of ``shape``: contiguous, a view with its last two axes transposed, one broadcast along its
    first axis (read-only, zero stride), or one of three heads packed side by side as a self-attention
    projection lays them out, (N, T, 3, H, n) viewed as (N, H, T, n): rows strided, each contiguous."""
    if layout == "packed":
        batch, heads = (1, 1, *shape[:-2])[-2:]  # (at most two leading axes are drawn)
        packed = rng.standard_normal((batch, shape[-2], 3, heads, shape[-1])).astype(dtype)
        return packed[:, :, 1].swapaxes(1, 2).reshape(shape)
    if layout == "transposed":
        return rng.standard_normal((*shape[:-2], shape[-1], shape[-2])).astype(dtype).swapaxes(-1, -2)
    if layout == "broadcast" and len(shape) > 2:
        return np.broadcast_to(rng.standard_normal((1, *shape[1:])).astype(dtype), shape)
    return rng.standard_normal(shape).astype(dtype)


def make_mask(rng, kind, shape, kept_axes, fully_masked_row):
    """A mask broadcastable to the scores' ``shape`` (..., Tq, Tk): only the axes in ``kept_axes`` keep their
    size (the others are 1), and leading axes of size 1 are dropped. None, causal, bool (True = may attend)
    or float (normal values and some -inf); ``fully_masked_row`` hides every key from the first query."""
    if kind == "none":
        return None
    length, source = shape[-2:]
    if kind == "causal":
        return np.tril(np.ones((length, source), dtype=bool))
    own = tuple(size if axis in kept_axes else 1 for axis, size in enumerate(shape))
    while len(own) > 2 and own[0] == 1:
        own = own[1:]
    allowed = rng.random(own) < 0.6
    if fully_masked_row:
        allowed[..., 0, :] = False
    if kind == "bool":
        return allowed
    return np.where(allowed, rng.standard_normal(own), -np.inf)


def call(kernel, *args):
    """The active backend's ``kernel`` on args moved to its device, checking that it left its inputs as they
    were. Arrays come back to the host; what a forward saves for its backward stays as the backend made it."""
    device_args = to_device(args)
    result = getattr(backend.active(), kernel)(*device_args)
    for a, device_a in zip(args, device_args):
        if isinstance(a, np.ndarray):
            np.testing.assert_array_equal(to_host(device_a), a, err_msg=f"{kernel} wrote into its input")
    return to_host(result)


def weights_of(saved) -> np.ndarray:
    """The attention weights a forward saved: that array, or on the GPU, what its saved state recomputes."""
    return saved.get() if hasattr(saved, "weights") else saved


@per_backend
@pytest.mark.parametrize("dtype", DTYPES)
@given(
    lead=st.lists(st.integers(1, 3), max_size=2).map(tuple),
    length=st.integers(1, 6),
    source=st.integers(1, 6),
    features=st.integers(1, 5),
    value_features=st.integers(1, 4),
    layout=st.sampled_from(["contiguous", "transposed", "broadcast", "packed"]),
    mask_kind=st.sampled_from(MASKS),
    kept_axes=st.sets(st.integers(0, 3)),
    fully_masked_row=st.booleans(),
    scale=st.floats(0.1, 2.0),
    seed=st.integers(0, 2**32 - 1),
)
def test_attention_matches_the_reference(
    backend_name, dtype, lead, length, source, features, value_features, layout, mask_kind, kept_axes,
    fully_masked_row, scale, seed,
):  # fmt: skip
    rng = np.random.default_rng(seed)
    q = make_input(rng, (*lead, length, features), dtype, layout)
    k = make_input(rng, (*lead, source, features), dtype, layout)
    v = make_input(rng, (*lead, source, value_features), dtype, layout)
    grad = rng.standard_normal((*lead, length, value_features)).astype(dtype)
    scores_shape = (*lead, length, source)
    mask = make_mask(rng, mask_kind, scores_shape, {a - 4 + len(scores_shape) for a in kept_axes}, fully_masked_row)

    out, saved = call("attention_forward", q, k, v, mask, scale)
    expected_out, expected_weights = numpy_ref.attention_forward(q, k, v, mask, scale)
    assert_matches((out, weights_of(saved)), (expected_out, expected_weights), dtype)

    expected_grads = numpy_ref.attention_backward(grad, q, k, v, expected_weights, mask, scale)
    # A backend's backward takes what its own forward saved, and the reference's weights as well.
    assert_matches(call("attention_backward", grad, q, k, v, saved, mask, scale), expected_grads, dtype)
    assert_matches(call("attention_backward", grad, q, k, v, expected_weights, mask, scale), expected_grads, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("float_mask", [False, True])
def test_a_query_allowed_no_key_gets_zero_weights_output_and_gradient(backend_name, dtype, float_mask):
    rng = np.random.default_rng(0)
    q, k, v = (rng.standard_normal((2, 3, n, 4)).astype(dtype) for n in (3, 5, 5))
    allowed = np.array([[True] * 5, [False] * 5, [True, False, True, False, False]])
    mask = np.where(allowed, 0.0, -np.inf) if float_mask else allowed
    out, saved = call("attention_forward", q, k, v, mask, 0.5)
    dq, dk, dv = call("attention_backward", np.ones_like(out), q, k, v, saved, mask, 0.5)
    # What a forward saves stands for the weights P (see the docstring): test_backend feeds numpy_ref's to every
    # backward. (The GPU's saves the log-sum-exp of each row instead, and recomputes P when asked.)
    saved = weights_of(saved)
    np.testing.assert_array_equal(out[..., 1, :], 0)
    np.testing.assert_array_equal(saved[..., 1, :], 0)
    np.testing.assert_array_equal(saved[..., 2, [1, 3, 4]], 0)  # masked keys of a partly masked query
    np.testing.assert_allclose(saved.sum(-1), np.broadcast_to([1, 0, 1], (2, 3, 3)), rtol=1e-6)
    np.testing.assert_array_equal(dq[..., 1, :], 0)
    assert all(np.isfinite(g).all() for g in (dq, dk, dv))


@pytest.mark.parametrize("dtype", DTYPES)
def test_huge_scores_stay_finite_and_match(backend_name, dtype):
    rng = np.random.default_rng(1)
    q, k = (rng.choice([-1e4, 1e4], (2, n, 8)).astype(dtype) for n in (3, 5))  # scores of +-8e8
    v, grad = rng.standard_normal((2, 5, 3)).astype(dtype), rng.standard_normal((2, 3, 3)).astype(dtype)
    out, saved = call("attention_forward", q, k, v, None, 1.0)
    _, weights = numpy_ref.attention_forward(q, k, v, None, 1.0)
    assert_matches((out,), (numpy_ref.attention_forward(q, k, v, None, 1.0)[0],), dtype)
    grads = call("attention_backward", grad, q, k, v, saved, None, 1.0)
    # dq and dk are sums of P * (dP - D) * (+-1e4): entries near zero carry the rounding of 1e4-sized terms.
    assert_matches(grads, numpy_ref.attention_backward(grad, q, k, v, weights, None, 1.0), dtype, scaled=True)


def test_mixed_dtypes_give_the_references_results(backend_name):
    rng = np.random.default_rng(2)
    q, k = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 5, 4))
    v = rng.standard_normal((2, 5, 2)).astype(np.float32)
    mask = rng.random((3, 5)) < 0.7
    out, saved = call("attention_forward", q, k, v, mask, 0.5)
    expected_out, expected_weights = numpy_ref.attention_forward(q, k, v, mask, 0.5)
    assert_matches((out, weights_of(saved)), (expected_out, expected_weights), np.float64)
    grad = np.ones_like(out)
    got = call("attention_backward", grad, q, k, v, saved, mask, 0.5)
    assert_matches(got, numpy_ref.attention_backward(grad, q, k, v, expected_weights, mask, 0.5), np.float64)


@numba_usable
@jit_compiles
@pytest.mark.parametrize("dtype", DTYPES)
def test_warmup_compiles_the_attention_kernels(dtype):
    import numba

    from kernels.numba_cpu import attention, common

    assert {"attention_forward", "attention_backward"} <= set(backend.load("numba").overrides)
    assert attention.warm_up in common.WARMUPS  # so tinynet.warmup() runs it
    attention.warm_up(np.dtype(dtype))
    float_type = numba.from_dtype(np.dtype(dtype))
    for inner in (attention._attention_forward, attention._attention_backward):
        assert compiled_for(inner, float_type), inner


@numba_usable
@jit_compiles
@pytest.mark.parametrize("dtype", DTYPES)
def test_numba_attention_outputs_hold_the_heads_side_by_side(dtype):
    """Outputs of heads (N, H, T, n) lie as (N, T, H, n): putting the heads side by side again, as
    PackedSelfAttention and MultiheadAttention do next, is a view. Self-attention's dq, dk, dv lie side by side
    as well, (N, T, 3, H, n): PackedSelfAttention's packed gradient is the memory they share, no copy. Other
    shapes come out contiguous."""
    from kernels import numba_cpu
    from tinynet.functions.attention import _side_by_side

    rng = np.random.default_rng(5)
    q, k, v = (rng.standard_normal((2, 3, 40, 8)).astype(dtype) for _ in "qkv")
    out, saved = numba_cpu.attention_forward(q, k, v, None, 0.3)
    grads = numba_cpu.attention_backward(out, q, k, v, saved, None, 0.3)
    assert out.shape == v.shape and out.swapaxes(1, 2).flags.c_contiguous
    packed = _side_by_side(grads, (2, 40, 3, 3, 8))
    assert packed.shape == (2, 40, 72) and all(np.shares_memory(packed, g) for g in grads)
    expected = (
        numpy_ref.attention_forward(q, k, v, None, 0.3)[0],
        *numpy_ref.attention_backward(out, q, k, v, saved, None, 0.3),
    )
    assert_matches((out, *grads), expected, dtype)
    unpacked = np.stack([g.swapaxes(1, 2) for g in expected[1:]], axis=2).reshape(2, 40, 72)
    assert_matches((packed,), (unpacked,), dtype)
    # Keys of another length (cross-attention): each gradient its own (N, T, H, n) block.
    grads = numba_cpu.attention_backward(out, q, k[:, :, :30], v[:, :, :30], saved[..., :30], None, 0.3)
    for g, like in zip(grads, (q, k[:, :, :30], v[:, :, :30])):
        assert g.shape == like.shape and g.swapaxes(1, 2).flags.c_contiguous
    single, _ = numba_cpu.attention_forward(q[0], k[0], v[0], None, 0.3)
    assert single.flags.c_contiguous


# Numba's attention kernels on small float64 inputs against the reference, every kind of mask; prints "ok".
PLAIN_PYTHON_SCRIPT = """
import numpy as np
from kernels import numba_cpu as nb, numpy_ref as ref

rng = np.random.default_rng(0)
q, k, v = (rng.standard_normal((2, 3, n, m)) for n, m in ((4, 3), (5, 3), (5, 2)))
grad = rng.standard_normal((2, 3, 4, 2))
allowed = rng.random((4, 5)) < 0.6
allowed[1] = False
for mask in (None, allowed, np.tril(np.ones((4, 5), bool)), np.where(allowed, 0.5, -np.inf)):
    out, saved = nb.attention_forward(q, k, v, mask, 0.4)
    want_out, weights = ref.attention_forward(q, k, v, mask, 0.4)
    got = (out, saved, *nb.attention_backward(grad, q, k, v, saved, mask, 0.4))
    want = (want_out, weights, *ref.attention_backward(grad, q, k, v, weights, mask, 0.4))
    for a, e in zip(got, want):
        np.testing.assert_allclose(a, e, rtol=1e-10, atol=1e-12)
print("ok")
"""


@numba_usable
def test_the_numba_attention_kernels_run_as_plain_python_without_the_jit(tmp_path):
    # An empty cache: the package imports without compiling anything (tile.py's C functions are not made then).
    env = {**os.environ, "NUMBA_DISABLE_JIT": "1", "NUMBA_CACHE_DIR": str(tmp_path)}
    result = subprocess.run([sys.executable, "-c", PLAIN_PYTHON_SCRIPT], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["ok"]
