"""The CUDA kernels' logic, tested without a GPU.

kernels/cuda/*.cu are compiled with g++ against a CPU stand-in for CUDA (kernels/cuda_emulator.h: real threads
per block, real barriers and warp shuffles) and driven by the CuPy backend's own Python code, with
NumPy in place of CuPy. On a GPU, test_backend.py checks the real thing against the reference; this
runs wherever g++ does, so CI, which has no GPU, still catches a wrong index, a missing barrier or a
bad launch configuration. What it cannot catch: speed, CUDA's memory model, NVRTC itself (see
test_cuda_compile.py for that).
"""

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from test_backend import _inputs
from test_cupy_backend import _gradcheck_cases, patch_cupy
from test_model_parity import TinyEncoder, train_losses

import tinynet as tn
from kernels import cuda_emulator, cupy_gpu, numpy_ref
from tinynet import backend
from tinynet.models import MNIST1DCNN

pytestmark = pytest.mark.skipif(cuda_emulator.COMPILER is None, reason="needs g++ to build the CPU stand-in")

CUDA_KERNELS = [k for k in numpy_ref.KERNELS if hasattr(cupy_gpu, k) and k != "matmul"]  # matmul is cuBLAS
DTYPES = [np.float32, np.float64]


@pytest.fixture(scope="module")
def _libraries():
    with ThreadPoolExecutor(2) as pool:  # both dtypes at once: the compilations are the slow part
        list(pool.map(cuda_emulator.library, ["float32", "float64"]))


@pytest.fixture
def launched(monkeypatch, _libraries) -> list[str]:
    """Run the CuPy backend on the emulator; returns the names of the kernels launched, in order."""
    names = []

    def kernel(family: str, name: str, dtype_name: str):
        names.append(name)
        return cuda_emulator.emulated_kernel(family, name, dtype_name)

    patch_cupy(monkeypatch, np)
    monkeypatch.setattr(cupy_gpu.common, "_kernel", kernel)  # launch() looks it up there at every call
    return names


@pytest.fixture
def emulated_backend(monkeypatch, launched) -> str:
    """The CuPy backend's kernel table, on the emulator, registered as backend "cupy-emulated"."""
    monkeypatch.setitem(backend._loaded, "cupy-emulated", backend.Backend("cupy-emulated", cupy_gpu))
    return "cupy-emulated"


def _tolerance(dtype) -> dict:
    return dict(rtol=1e-4, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-12)


def _as_arrays(result) -> tuple:
    """A kernel's results as a tuple of arrays; the fused attention's saved state as its weights."""
    results = result if isinstance(result, tuple) else (result,)
    return tuple(r.weights() if isinstance(r, cupy_gpu.AttentionSaved) else r for r in results)


def _check(kernel: str, args: tuple, options: dict, launched: list[str], fused: bool = True) -> None:
    """Run ``kernel`` on the emulator and the reference on copies of ``args``; compare every result.

    fused: whether the arguments are such that a CUDA kernel must run (not the reference fallback).
    """
    # Copies, since some kernels update in place; read-only views (a broadcast gradient) as they are.
    copies = [tuple(a.copy() if isinstance(a, np.ndarray) and a.flags.writeable else a for a in args) for _ in "ab"]
    launched.clear()
    got = getattr(cupy_gpu, kernel)(*copies[0], **options)
    expected = getattr(numpy_ref, kernel)(*copies[1], **options)
    assert launched or not fused, f"{kernel} fell back to the reference instead of launching a CUDA kernel"
    if expected is None:  # an in-place kernel: compare what it updated
        got, expected = copies
    dtype = next(a.dtype for a in args if isinstance(a, np.ndarray) and a.dtype.kind == "f")
    with np.errstate(invalid="ignore"):  # recomputed attention weights of a query allowed no key
        got = _as_arrays(got)
    for g, e in zip(got, _as_arrays(expected), strict=True):
        if isinstance(e, np.ndarray):
            assert (g.dtype, g.shape) == (e.dtype, e.shape), f"{kernel}: {g.dtype}{g.shape}, not {e.dtype}{e.shape}"
            np.testing.assert_allclose(g, e, **_tolerance(dtype), err_msg=kernel)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kernel", CUDA_KERNELS)
def test_every_cuda_kernel_matches_the_reference(launched, kernel, dtype):
    args, options = _inputs(kernel, np.random.default_rng(0), dtype)
    # Given the reference's saved weights, attention_backward uses the reference; its fused path, from
    # the fused forward's saved state, is tested below.
    _check(kernel, args, options, launched, fused=kernel != "attention_backward")


# --- shapes that exercise more of each kernel than the shared inputs do ---------------------


@pytest.mark.parametrize("dtype", DTYPES)
def test_grid_stride_loops_cover_more_elements_than_the_grid_has_threads(launched, monkeypatch, dtype):
    monkeypatch.setattr(cupy_gpu.common, "MAX_BLOCKS", 2)  # 512 threads for 2000 elements: about 4 each
    assert cupy_gpu.common.blocks(2000) == 2
    rng = np.random.default_rng(1)
    x, g = (rng.standard_normal(2000).astype(dtype) for _ in range(2))
    for kernel in ("gelu_forward", "sigmoid_forward"):
        _check(kernel, (x,), {}, launched)
    _check("gelu_backward", (g, x), {}, launched)
    grad, indices = rng.standard_normal((500, 4)).astype(dtype), rng.integers(0, 3, 500)
    _check("embedding_backward", (grad, indices, 3), {}, launched)


@pytest.mark.parametrize("dtype", DTYPES)
def test_row_kernels_on_rows_longer_than_a_block_and_along_a_middle_axis(launched, dtype):
    rng = np.random.default_rng(2)
    x, g = (rng.standard_normal((3, 300, 2)).astype(dtype) for _ in range(2))  # 300 > 256 threads per row
    for axis in (1, 0):  # 6 rows of 300, or 600 rows of 3
        _check("softmax_forward", (x, axis), {}, launched)
        _check("log_softmax_forward", (x, axis), {}, launched)
        _check("softmax_backward", (g, numpy_ref.softmax_forward(x, axis), axis), {}, launched)
        _check("log_softmax_backward", (g, numpy_ref.log_softmax_forward(x, axis), axis), {}, launched)
    logits = rng.standard_normal((4, 300)).astype(dtype)
    labels = rng.integers(0, 300, 4)
    _check("cross_entropy_forward", (logits, labels), {}, launched)
    grad_loss = np.broadcast_to(dtype(0.25), (4,))  # as a mean reduction passes it: a stride-0 view
    _check("cross_entropy_backward", (grad_loss, numpy_ref.softmax_forward(logits, 1), labels), {}, launched)


@pytest.mark.parametrize("dtype", DTYPES)
def test_masked_softmax_with_broadcast_masks_and_rows_with_nothing_left(launched, dtype):
    rng = np.random.default_rng(9)
    x = rng.standard_normal((2, 3, 300)).astype(dtype)
    x[0, 1, ::2] = -np.inf  # -inf entries count as masked
    x[1, 2, :] = -np.inf  # a row with nothing left, without a mask
    mask = rng.random((2, 1, 300)) < 0.5  # broadcast over the middle axis
    mask[1, 0, :] = False  # rows with nothing allowed
    for m in (None, mask, mask[0, 0]):
        _check("masked_softmax_forward", (x, m), {}, launched)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("affine", [True, False])
def test_layer_norm_with_many_rows_and_several_column_tiles(launched, dtype, affine):
    rng = np.random.default_rng(3)
    x, g = (rng.standard_normal((3, 15, 70)).astype(dtype) * 3 + 1 for _ in range(2))  # 70 columns: 3 tiles of 32
    weight, bias = (rng.standard_normal(70).astype(dtype) if affine else None for _ in range(2))
    _check("layer_norm_forward", (x, weight, bias, 1e-5), {}, launched)
    _, mean, rstd = numpy_ref.layer_norm_forward(x, weight, bias, 1e-5)
    _check("layer_norm_backward", (g, x, weight, mean, rstd), {}, launched)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm_and_channel_affine_on_channels_of_more_values_than_a_block_has_threads(launched, dtype, affine):
    rng = np.random.default_rng(4)
    x, g = (rng.standard_normal((9, 5, 37)).astype(dtype) * 3 + 1 for _ in range(2))  # 333 values a channel
    weight, bias = (rng.standard_normal(5).astype(dtype) if affine else None for _ in range(2))
    _check("batch_norm_forward", (x, weight, bias, 1e-5), {}, launched)
    _, mean, rstd = numpy_ref.batch_norm_forward(x, weight, bias, 1e-5)
    _check("batch_norm_backward", (g, x, weight, mean, rstd), {}, launched)
    scale, shift = (rng.standard_normal(5).astype(dtype) for _ in range(2))
    _check("channel_affine_forward", (x, scale, shift), {}, launched)
    _check("channel_affine_backward", (g, x, scale), {}, launched)  # (_check: a CUDA kernel ran, not the reference)


def _attention_masks(rng, lead, tq, tk, dtype) -> dict:
    causal = np.tril(np.ones((tq, tk), dtype=bool))  # broadcast over the batch: read in place, stride 0
    per_head = rng.random((*lead, tq, tk)) < 0.6
    per_head[..., 3, :] = False  # a query allowed no key: output 0, no gradient
    additive = np.where(rng.random((tq, tk)) < 0.2, -np.inf, rng.standard_normal((tq, tk))).astype(dtype)
    return {"none": None, "causal": causal, "per_head": per_head, "additive": additive}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mask_kind", ["none", "causal", "per_head", "additive"])
def test_attention_over_several_tiles_of_queries_and_keys(launched, dtype, mask_kind):
    """Tq = 19 (3 blocks of 8 queries), Tk = 70 (3 tiles of 32 keys), dv = 40 (two dims per lane)."""
    rng = np.random.default_rng(4)
    lead, tq, tk, d, dv = (2, 2), 19, 70, 6, 40
    q, k, v = (rng.standard_normal((*lead, t, n)).astype(dtype) for t, n in [(tq, d), (tk, d), (tk, dv)])
    mask = _attention_masks(rng, lead, tq, tk, dtype)[mask_kind]
    grad_out = rng.standard_normal((*lead, tq, dv)).astype(dtype)
    _check("attention_forward", (q, k, v, mask, 0.4), {}, launched)

    _, saved = cupy_gpu.attention_forward(q, k, v, mask, 0.4)
    assert isinstance(saved, cupy_gpu.AttentionSaved)  # the fused path, which saves no (Tq, Tk) weights
    got = cupy_gpu.attention_backward(grad_out, q, k, v, saved, mask, 0.4)
    _, probs = numpy_ref.attention_forward(q, k, v, mask, 0.4)
    expected = numpy_ref.attention_backward(grad_out, q, k, v, probs, mask, 0.4)
    assert launched[-2:] == ["attention_backward_dq", "attention_backward_dkdv"]
    for name, g, e in zip(("dq", "dk", "dv"), got, expected, strict=True):
        np.testing.assert_allclose(g, e, **_tolerance(dtype), err_msg=name)


@pytest.mark.parametrize("dtype", DTYPES)
def test_attention_at_huge_scores_with_tied_keys(launched, dtype):
    """Scores of +-8e8 (exact in float32) where several keys tie for the top score: their weights are
    1/ties, which exp(score - (max + log sum)) in float32 would round to 1 (log sum lost beside 8e8)."""
    rng = np.random.default_rng(1)
    q, k = (rng.choice([-1e4, 1e4], (2, n, 8)).astype(dtype) for n in (3, 5))
    v, grad_out = rng.standard_normal((2, 5, 3)).astype(dtype), rng.standard_normal((2, 3, 3)).astype(dtype)
    out, saved = cupy_gpu.attention_forward(q, k, v, None, 1.0)
    expected_out, probs = numpy_ref.attention_forward(q, k, v, None, 1.0)
    assert (probs.max(-1) < 1).any()  # some query's top score is tied
    np.testing.assert_allclose(out, expected_out, **_tolerance(dtype))
    np.testing.assert_allclose(saved.weights(), probs, **_tolerance(dtype))
    got = cupy_gpu.attention_backward(grad_out, q, k, v, saved, None, 1.0)
    expected = numpy_ref.attention_backward(grad_out, q, k, v, probs, None, 1.0)
    for name, g, e in zip(("dq", "dk", "dv"), got, expected, strict=True):
        # dq and dk: sums of terms of 1e4 that cancel to near zero, rounded at float32's epsilon of 1e4.
        atol = 8 * np.finfo(dtype).eps * np.abs(e).max()
        np.testing.assert_allclose(g, e, rtol=_tolerance(dtype)["rtol"], atol=atol, err_msg=name)


def test_attention_falls_back_to_the_reference_for_heads_wider_than_its_tiles(launched):
    rng = np.random.default_rng(5)
    q, k, v = (rng.standard_normal((3, 65)) for _ in range(3))  # float64 tiles hold 64 dims
    out, saved = cupy_gpu.attention_forward(q, k, v, None, 0.1)
    assert not launched and isinstance(saved, np.ndarray)
    np.testing.assert_allclose(out, numpy_ref.attention_forward(q, k, v, None, 0.1)[0])


@pytest.mark.parametrize("dtype", DTYPES)
def test_max_pool_with_nan_and_ties_matches_the_reference(launched, dtype):
    x = np.zeros((1, 2, 5, 5), dtype)  # all ties: the first tap of each window wins
    x[0, 1, 2, 2] = np.nan
    geometry = ((3, 3), (2, 2), (1, 1))
    _check("max_pool2d_forward", (x, *geometry), {}, launched)
    out, argmax = numpy_ref.max_pool2d_forward(x, *geometry)
    grad = np.arange(out.size, dtype=dtype).reshape(out.shape)
    _check("max_pool2d_backward", (grad, argmax, x.shape, *geometry), {}, launched)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "options",
    [
        dict(lr=0.1, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, first=False),
        dict(lr=0.1, momentum=0.9, dampening=0.0, weight_decay=0.01, nesterov=True, first=True),
        dict(lr=1, momentum=0.5, dampening=0.3, weight_decay=0.0, nesterov=False, first=False),  # an int lr
    ],
)
def test_sgd_step_variants(launched, dtype, options):
    rng = np.random.default_rng(6)
    param, grad, buffer = (rng.standard_normal((3, 4)).astype(dtype) for _ in range(3))
    _check("sgd_step", (param, grad, buffer if options["momentum"] else None), options, launched)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("decoupled", [False, True])
def test_adam_step_variants(launched, dtype, decoupled):
    rng = np.random.default_rng(7)
    param, grad, m = (rng.standard_normal((3, 4)).astype(dtype) for _ in range(3))
    v = np.abs(rng.standard_normal((3, 4))).astype(dtype)
    options = dict(step=1, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.1, decoupled=decoupled)
    _check("adam_step", (param, grad, m, v), options, launched)


@pytest.mark.parametrize("dtype", DTYPES)
def test_convolutions_with_unit_stride_and_larger_images(launched, dtype):
    rng = np.random.default_rng(8)
    x = rng.standard_normal((2, 3, 11, 9)).astype(dtype)
    w = rng.standard_normal((5, 3, 3, 3)).astype(dtype)
    geometry = ((1, 1), (1, 1), (1, 1))
    _check("conv2d_forward", (x, w, *geometry), {}, launched)
    grad = rng.standard_normal(numpy_ref.conv2d_forward(x, w, *geometry).shape).astype(dtype)
    _check("conv2d_backward", (grad, x, w, *geometry), {}, launched)
    wt = rng.standard_normal((3, 2, 4, 4)).astype(dtype)
    transposed = ((2, 2), (1, 1), (1, 0), (1, 1))  # stride, padding, output_padding, dilation
    _check("conv_transpose2d_forward", (x, wt, *transposed), {}, launched)
    grad = rng.standard_normal(numpy_ref.conv_transpose2d_forward(x, wt, *transposed).shape).astype(dtype)
    _check("conv_transpose2d_backward", (grad, x, wt, *transposed), {}, launched)


# --- the kernels inside the whole stack: autograd, layers, optimizers -----------------------


@pytest.mark.parametrize("case", list(_gradcheck_cases(np.random.default_rng(0))))
def test_gradcheck_through_the_emulated_kernels(emulated_backend, launched, case):
    """The GPU gradchecks of test_cupy_backend.py, on the emulator."""
    with tn.use_backend(emulated_backend):
        fn, inputs = _gradcheck_cases(np.random.default_rng(0))[case]
        assert tn.gradcheck(fn, inputs)
    assert launched


@pytest.mark.parametrize("model", [MNIST1DCNN, TinyEncoder])
def test_models_train_on_the_emulated_kernels_as_on_numpy(emulated_backend, model):
    """test_model_parity.py's training, shortened: fewer samples and steps (the emulator is slow)."""
    rng = np.random.default_rng(0)
    if model is MNIST1DCNN:
        x, y = rng.standard_normal((32, 40)).astype(np.float32), rng.integers(0, 10, 32)
    else:
        x = rng.integers(0, 12, (6, 10))
        y = (x == 3).sum(axis=1) % 3
    losses = {}
    for name in ("numpy", emulated_backend):
        with tn.use_backend(name):
            tn.manual_seed(0)
            losses[name] = train_losses(model(), x, y, steps=3)
    np.testing.assert_allclose(losses[emulated_backend], losses["numpy"], rtol=1e-5)
