"""CuPy GPU kernels: tensors on this backend hold ``cupy.ndarray``s that stay on the device.

Every kernel here has the name, signature and results of its reference in ``numpy_ref`` (within
rounding); whatever is missing falls back to the reference, which takes its array module from its
inputs and so runs on the GPU too, through CuPy's NumPy-compatible API (``tinynet info`` lists both).

Where the work happens:
- GEMMs (``matmul``, and the products inside the convolutions) are cuBLAS, through ``cupy.matmul``.
- The rest are CUDA C kernels in ``kernels/cuda/*.cu``, one file per family, each compiled by NVRTC
  on first use, once per process for each of float32 and float64 (CuPy also caches the result on disk),
  and launched through ``cupy.RawModule``. ``tinynet.warmup("cupy")`` compiles them all up front.

Practicalities:
- The kernels take float32 or float64 arrays of one dtype; anything else (float16, mixed dtypes, empty
  arrays, attention heads wider than its tiles) goes to the reference instead.
- Inputs are made C-contiguous before a launch (copied only when they are not already). A NumPy array
  is refused rather than uploaded: data crosses to the device only through ``Tensor.to("cupy")``.
"""

import functools
import math
from pathlib import Path

import numpy as np

from kernels import numpy_ref
from kernels.numpy_ref import _out_size

try:
    import cupy
except ImportError:  # reported by check_available(), so that `tinynet info` can say why
    cupy = None

NAME = "cupy"

CUDA_DIR = Path(__file__).parent / "cuda"
FAMILIES = ("activations", "softmax", "layernorm", "embedding", "attention", "conv", "pooling", "optim")
C_TYPES = {np.dtype(np.float32): "float", np.dtype(np.float64): "double"}
# No fused multiply-add: each product is rounded on its own, as NumPy rounds it, which keeps results
# within rounding of the reference (these kernels are bound by memory traffic, not arithmetic).
COMPILE_OPTIONS = ("-std=c++17", "--fmad=false")

THREADS = 256  # threads per block of the elementwise kernels: 8 warps, enough to hide memory latency
MAX_BLOCKS = 65535  # more blocks than any GPU runs at once: their grid-stride loops cover the rest


def check_available() -> None:
    """Raise RuntimeError saying what is missing (cupy, a CUDA driver or GPU, NVRTC) and how to fix it."""
    if cupy is None:
        raise RuntimeError('cupy is not installed; fix: pip install -e ".[gpu]" (installs cupy-cuda12x and NVRTC)')
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except cupy.cuda.runtime.CUDARuntimeError as err:
        raise RuntimeError(
            f"cupy is installed, but no CUDA driver or GPU answers ({err}); "
            "fix: run on a machine with an NVIDIA GPU and its driver (`nvidia-smi` lists them)"
        ) from None
    if count == 0:
        raise RuntimeError("cupy is installed, but this machine has no CUDA GPU")
    try:
        cupy.cuda.nvrtc.getVersion()
    except (RuntimeError, OSError) as err:
        raise RuntimeError(
            f"cupy and a GPU are here, but NVRTC, the CUDA compiler the kernels need, cannot be loaded ({err}); "
            "fix: pip install nvidia-cuda-nvrtc-cu12"
        ) from None


def array_module():
    """Tensors on this backend hold CuPy arrays."""
    return cupy


def describe() -> dict[str, str]:
    """What `tinynet info` shows about this backend: the GPU and the CUDA versions."""
    device = cupy.cuda.Device()
    props = cupy.cuda.runtime.getDeviceProperties(device.id)
    runtime = cupy.cuda.runtime.runtimeGetVersion()
    return {
        "device": f"{props['name'].decode()} (compute capability {props['major']}.{props['minor']}, "
        f"{props['totalGlobalMem'] / 2**30:.1f} GiB)",
        "CUDA runtime": f"{runtime // 1000}.{runtime % 1000 // 10}",
        "NVRTC": ".".join(map(str, cupy.cuda.nvrtc.getVersion())),
        "cupy": cupy.__version__,
    }


# --- compiling and launching -------------------------------------------------------------------


def source(family: str) -> str:
    """The CUDA source of one kernel family, with common.cuh pasted in place of its ``#include``.

    One self-contained text, so that CuPy's disk cache, keyed by the source, sees a change in either file.
    """
    text = (CUDA_DIR / f"{family}.cu").read_text()
    return text.replace('#include "common.cuh"', (CUDA_DIR / "common.cuh").read_text())


def compile_options(dtype) -> tuple[str, ...]:
    """NVRTC options for a family's kernels on arrays of ``dtype``: scalar_t is float or double."""
    return (*COMPILE_OPTIONS, f"-DSCALAR_T={C_TYPES[np.dtype(dtype)]}")


@functools.cache
def _module(family: str, dtype_name: str):
    """One module per family and dtype; NVRTC compiles it when a kernel is first asked of it."""
    return cupy.RawModule(code=source(family), options=compile_options(dtype_name))


@functools.cache
def _kernel(family: str, name: str, dtype_name: str):
    """Kernel ``name`` of ``kernels/cuda/<family>.cu`` for ``dtype_name`` arrays, compiled on first use."""
    return _module(family, dtype_name).get_function(name)


def warmup() -> None:
    """Compile every kernel family for float32 and float64 (or load them from CuPy's disk cache)."""
    for family in FAMILIES:
        for dtype in C_TYPES:
            _module(family, dtype.name).compile()


def _argument(value):
    # Every integer parameter of the kernels is a 64-bit index_t. Floating-point parameters are passed
    # as NumPy scalars of the right precision by the caller (scalar_t or double): a bare Python float
    # would not say which.
    if isinstance(value, (bool, int, np.integer, np.bool_)):
        return np.int64(value)
    if type(value) is float:  # (np.float64 is a float too, but says its precision)
        raise TypeError(f"kernel argument {value!r}: pass floats as np.float32 or np.float64")
    return value


def _launch(family: str, name: str, dtype, grid: tuple, block: tuple, *args) -> None:
    """Run kernel ``name`` of ``family``, compiled for ``dtype``, on ``grid`` blocks of ``block`` threads.

    Arrays pass as pointers to their first element, None as a null pointer.
    """
    _kernel(family, name, np.dtype(dtype).name)(grid, block, tuple(_argument(a) for a in args))


def _blocks(n: int) -> int:
    """Blocks of THREADS threads for a grid-stride loop over n elements: one element per thread, capped."""
    return min(-(-n // THREADS), MAX_BLOCKS)


def _row_threads(cols: int) -> int:
    """Threads per block for the one-block-per-row kernels: whole warps, one per 32 columns, at most 8.

    A short row (10 classes) gets one warp; a long one 256 threads, each striding over its columns.
    """
    return min(THREADS, 32 * -(-cols // 32))


def _fits(*arrays) -> bool:
    """Whether the CUDA kernels take these arrays: one dtype, float32 or float64, none empty."""
    dtype = arrays[0].dtype
    return dtype in C_TYPES and all(a.dtype == dtype and a.size for a in arrays)


def _contiguous(array):
    """``array`` as a C-contiguous CuPy array (a copy only if it is not one already).

    A NumPy array is refused, not uploaded behind the user's back (tinynet reports the mix of backends).
    """
    if not isinstance(array, cupy.ndarray):
        raise TypeError(f"expected a cupy.ndarray, got a {type(array).__module__}.{type(array).__name__}")
    return cupy.ascontiguousarray(array)


# --- linear algebra -------------------------------------------------------------------------


def matmul(a, b):
    """Batched matrix product on cuBLAS. a: (..., n, k), b: (..., k, m) -> (..., n, m), batches broadcast."""
    return cupy.matmul(a, b)


# --- activations: one thread per element ----------------------------------------------------


def _activation(name: str):
    """The kernel ``name`` of activations.cu: same-shaped arrays in (x, or grad_y and x or y), one out."""
    reference = getattr(numpy_ref, name)

    def kernel(*arrays):
        if not _fits(*arrays) or any(a.shape != arrays[0].shape for a in arrays):
            return reference(*arrays)
        arrays = [_contiguous(a) for a in arrays]
        out = cupy.empty_like(arrays[0])
        _launch("activations", name, out.dtype, (_blocks(out.size),), (THREADS,), *arrays, out, out.size)
        return out

    kernel.__name__ = kernel.__qualname__ = name
    kernel.__doc__ = reference.__doc__
    return kernel


relu_forward = _activation("relu_forward")
relu_backward = _activation("relu_backward")
sigmoid_forward = _activation("sigmoid_forward")
sigmoid_backward = _activation("sigmoid_backward")
tanh_forward = _activation("tanh_forward")
tanh_backward = _activation("tanh_backward")
gelu_forward = _activation("gelu_forward")
gelu_backward = _activation("gelu_backward")


# --- softmax family: one block per row ------------------------------------------------------


def _along_rows(name: str, axis: int, *arrays):
    """Run row kernel ``name`` of softmax.cu along ``axis`` of same-shaped arrays; one output, their shape.

    The axis is moved last and the arrays made contiguous, so each row is one run of memory.
    """
    rows = [_contiguous(cupy.moveaxis(a, axis, -1)) for a in arrays]
    cols = rows[0].shape[-1]
    out = cupy.empty_like(rows[0])
    _launch("softmax", name, out.dtype, (out.size // cols,), (_row_threads(cols),), *rows, out, cols)
    return cupy.moveaxis(out, -1, axis)


def softmax_forward(x, axis):
    """y = exp(x) / sum(exp(x)) along axis; the max is subtracted first so exp never overflows."""
    if not _fits(x):
        return numpy_ref.softmax_forward(x, axis)
    return _along_rows("softmax_forward", axis, x)


def softmax_backward(grad_y, y, axis):
    """dL/dx = y * (dL/dy - sum(dL/dy * y)) along axis (the softmax Jacobian, applied)."""
    if not _fits(grad_y, y) or grad_y.shape != y.shape:
        return numpy_ref.softmax_backward(grad_y, y, axis)
    return _along_rows("softmax_backward", axis, grad_y, y)


def log_softmax_forward(x, axis):
    """y = x - logsumexp(x) along axis, computed from the max-shifted x (stable)."""
    if not _fits(x):
        return numpy_ref.log_softmax_forward(x, axis)
    return _along_rows("log_softmax_forward", axis, x)


def log_softmax_backward(grad_y, y, axis):
    """dL/dx = dL/dy - softmax(x) * sum(dL/dy) along axis, with softmax(x) = exp(y)."""
    if not _fits(grad_y, y) or grad_y.shape != y.shape:
        return numpy_ref.log_softmax_backward(grad_y, y, axis)
    return _along_rows("log_softmax_backward", axis, grad_y, y)


def masked_softmax_forward(x, mask):
    """Softmax over the last axis, over the entries ``mask`` allows; a row with none allowed gives zeros.

    x: (..., K); mask: bool broadcastable to x, or None -> y: x's broadcast shape with mask. One block per row.
    """
    if not _fits(x) or (mask is not None and mask.dtype != bool):
        return numpy_ref.masked_softmax_forward(x, mask)
    shape = x.shape if mask is None else cupy.broadcast_shapes(x.shape, mask.shape)
    cols = shape[-1]
    rows = _contiguous(cupy.broadcast_to(x, shape)).reshape(-1, cols)
    allow = None if mask is None else _contiguous(cupy.broadcast_to(mask, shape)).reshape(-1, cols)
    y = cupy.empty_like(rows)
    _launch("softmax", "masked_softmax_forward", x.dtype, (len(rows),), (_row_threads(cols),), rows, allow, y, cols)
    return y.reshape(shape)


def cross_entropy_forward(logits, labels):
    """Per-sample cross-entropy of integer labels, and the probabilities backward needs.

    logits: (N, C) float, labels: (N,) integers in [0, C) -> loss: (N,), probs: (N, C). One block per sample.
    """
    if not _fits(logits) or logits.ndim != 2:
        return numpy_ref.cross_entropy_forward(logits, labels)
    logits, labels = _contiguous(logits), _contiguous(labels).astype(cupy.int64, copy=False)
    n, c = logits.shape
    loss, probs = cupy.empty(n, dtype=logits.dtype), cupy.empty_like(logits)
    _launch("softmax", "cross_entropy_forward", logits.dtype, (n,), (_row_threads(c),), logits, labels, loss, probs, c)
    return loss, probs


def cross_entropy_backward(grad_loss, probs, labels):
    """dL/dlogits = (probs - onehot(labels)) * dL/dloss. grad_loss: (N,), probs: (N, C), labels: (N,) -> (N, C)."""
    if not _fits(grad_loss, probs) or probs.ndim != 2:
        return numpy_ref.cross_entropy_backward(grad_loss, probs, labels)
    grad_loss, probs = _contiguous(grad_loss), _contiguous(probs)
    labels = _contiguous(labels).astype(cupy.int64, copy=False)
    n, c = probs.shape
    grad = cupy.empty_like(probs)
    _launch(
        "softmax", "cross_entropy_backward", probs.dtype, (n,), (_row_threads(c),),
        grad_loss, probs, labels, grad, c,
    )  # fmt: skip
    return grad


# --- layer norm and embedding ---------------------------------------------------------------


def layer_norm_forward(x, weight, bias, eps):
    """Normalize each row over the last axis to mean 0 and variance 1, then scale and shift.

    x: (..., D); weight, bias: (D,) or None -> y: (..., D), mean: (..., 1), rstd: (..., 1). One block per row.
    """
    if not _fits(x, *(a for a in (weight, bias) if a is not None)):
        return numpy_ref.layer_norm_forward(x, weight, bias, eps)
    cols = x.shape[-1]
    rows = _contiguous(x).reshape(-1, cols)
    weight, bias = (None if a is None else _contiguous(a) for a in (weight, bias))
    y = cupy.empty_like(rows)
    mean, rstd = cupy.empty((len(rows), 1), dtype=x.dtype), cupy.empty((len(rows), 1), dtype=x.dtype)
    real = x.dtype.type
    _launch(
        "layernorm", "layer_norm_forward", x.dtype, (len(rows),), (_row_threads(cols),),
        rows, weight, bias, y, mean, rstd, cols, real(eps),
    )  # fmt: skip
    stats_shape = (*x.shape[:-1], 1)
    return y.reshape(x.shape), mean.reshape(stats_shape), rstd.reshape(stats_shape)


def layer_norm_backward(grad, x, weight, mean, rstd):
    """Gradients of layer_norm_forward, from the mean and rstd it returned.

    grad, x: (..., D); weight: (D,) or None; mean, rstd: (..., 1) -> grad_x: (..., D), grad_weight: (D,),
    grad_bias: (D,). grad_x: one block per row; grad_weight and grad_bias: column sums, 32 columns a block.
    """
    if not _fits(grad, x, mean, rstd, *(() if weight is None else (weight,))) or grad.shape != x.shape:
        return numpy_ref.layer_norm_backward(grad, x, weight, mean, rstd)
    cols = x.shape[-1]
    grad_rows, rows = _contiguous(grad).reshape(-1, cols), _contiguous(x).reshape(-1, cols)
    mean, rstd = _contiguous(mean).reshape(-1), _contiguous(rstd).reshape(-1)
    weight = None if weight is None else _contiguous(weight)
    grad_x = cupy.empty_like(rows)
    _launch(
        "layernorm", "layer_norm_backward_input", x.dtype, (len(rows),), (_row_threads(cols),),
        grad_rows, rows, weight, mean, rstd, grad_x, cols,
    )  # fmt: skip
    grad_weight, grad_bias = cupy.empty(cols, dtype=x.dtype), cupy.empty(cols, dtype=x.dtype)
    # Blocks of 32 columns x 8 row lanes (COLUMN_TILE x ROW_LANES in layernorm.cu).
    _launch(
        "layernorm", "layer_norm_backward_params", x.dtype, (-(-cols // 32),), (32, 8),
        grad_rows, rows, mean, rstd, grad_weight, grad_bias, len(rows), cols,
    )  # fmt: skip
    return grad_x.reshape(x.shape), grad_weight, grad_bias


def embedding_backward(grad, indices, num_embeddings):
    """Gradient of the embedding table for out = weight[indices].

    grad: (..., D), indices: (...) -> (num_embeddings, D); one thread per element of grad, adding it into
    its row atomically (repeated indices add up).
    """
    if not _fits(grad):
        return numpy_ref.embedding_backward(grad, indices, num_embeddings)
    dim = grad.shape[-1]
    grad = _contiguous(grad).reshape(-1, dim)
    indices = _contiguous(indices).astype(cupy.int64, copy=False).reshape(-1)
    table = cupy.zeros((num_embeddings, dim), dtype=grad.dtype)
    _launch(
        "embedding", "embedding_backward", grad.dtype, (_blocks(grad.size),), (THREADS,),
        grad, indices, table, len(indices), dim,
    )  # fmt: skip
    return table


# --- attention: fused, tiled ----------------------------------------------------------------

# As in attention.cu: each block of 8 warps owns 8 queries (or keys), and head dimensions up to
# MAX_DIM fit its shared-memory tiles.
ATTENTION_ROWS_PER_BLOCK = 8
ATTENTION_MAX_DIM = {np.dtype(np.float32): 128, np.dtype(np.float64): 64}


class AttentionSaved:
    """What the fused attention forward keeps for backward, instead of the (..., Tq, Tk) weights.

    out: (..., Tq, Dv), the forward's output; row_max, log_sum: (..., Tq), each query's largest masked
    score m (-inf for a query allowed no key) and the log of its sum l of exp(score - m). A weight is
    exp((score - m) - log l): the backward recomputes them tile by tile; ``weights()`` computes them all
    at once, to look at. (m and log l stay apart: their float32 sum would lose log l at huge scores.)
    """

    def __init__(self, out, row_max, log_sum, q, k, mask, scale) -> None:
        self.out, self.row_max, self.log_sum = out, row_max, log_sum
        self._inputs = q, k, mask, scale

    def weights(self):
        """The attention weights (..., Tq, Tk), as the reference's attention_forward saves them."""
        q, k, mask, scale = self._inputs
        scores = cupy.matmul(q, cupy.swapaxes(k, -1, -2)) * scale
        if mask is not None:
            scores = cupy.where(mask, scores, -cupy.inf) if mask.dtype == bool else scores + mask
        m, log_l = self.row_max[..., None], self.log_sum[..., None]
        hidden = cupy.isneginf(scores) | cupy.isneginf(m)
        exponent = cupy.where(hidden, 0, (scores - m) - log_l)
        return cupy.where(hidden, 0, cupy.exp(exponent)).astype(q.dtype, copy=False)

    def get(self):
        """The weights on the host, as a NumPy array (what ``.get()`` of the reference's saved array gives)."""
        return self.weights().get()


def _attention_fits(q, k, v) -> bool:
    lead = q.shape[:-2]
    return (
        _fits(q, k, v)
        and q.ndim >= 2
        and k.shape[:-2] == lead == v.shape[:-2]
        and k.shape[-1] == q.shape[-1]
        and v.shape[-2] == k.shape[-2]
        and max(q.shape[-1], v.shape[-1]) <= ATTENTION_MAX_DIM[q.dtype]
        and math.prod(lead) <= 65535  # the batch is gridDim.y
    )


def _batched(a, length: int):
    """a: (..., T, d) -> a contiguous (B, T, d), B the product of the leading axes."""
    return _contiguous(a).reshape(-1, length, a.shape[-1])


def _mask_operand(mask, shape, dtype):
    """(allow, bias, strides) for the kernels: the mask as a (B, Tq, Tk) view of ``shape`` = (..., Tq, Tk).

    A bool mask is ``allow``, any other is ``bias`` (in ``dtype``); strides count elements. A mask
    broadcast over the batch keeps stride 0 there, so it is read in place, not copied once per batch.
    """
    if mask is None:
        return None, None, (0, 0, 0)
    if mask.dtype != bool:
        mask = mask.astype(dtype, copy=False)
    view = cupy.broadcast_to(mask, shape).reshape(-1, *shape[-2:])
    strides = tuple(s // view.itemsize for s in view.strides)
    return (view, None, strides) if mask.dtype == bool else (None, view, strides)


def attention_forward(q, k, v, mask, scale):
    """Scaled dot-product attention: out = softmax(q k^T * scale, masked) v, without the weights in memory.

    q: (..., Tq, d), k: (..., Tk, d), v: (..., Tk, dv); mask: None, bool (True = may attend) or float
    (added to the scores), broadcastable to (..., Tq, Tk); scale: a number.
    -> out: (..., Tq, dv), saved: an AttentionSaved (out, each query's max score and log-sum) for backward.
    Grid (ceil(Tq / 8), B) of 256 threads: each warp owns a query.
    """
    if not _attention_fits(q, k, v):
        return numpy_ref.attention_forward(q, k, v, mask, scale)
    (tq, d), (tk, dv) = q.shape[-2:], v.shape[-2:]
    lead, real = q.shape[:-2], q.dtype.type
    q3, k3, v3 = _batched(q, tq), _batched(k, tk), _batched(v, tk)
    allow, bias, strides = _mask_operand(mask, (*lead, tq, tk), q.dtype)
    out = cupy.empty((len(q3), tq, dv), dtype=q.dtype)
    row_max, log_sum = (cupy.empty((len(q3), tq), dtype=q.dtype) for _ in range(2))
    _launch(
        "attention", "attention_forward", q.dtype, (-(-tq // ATTENTION_ROWS_PER_BLOCK), len(q3)), (THREADS,),
        q3, k3, v3, allow, bias, *strides, out, row_max, log_sum, tq, tk, d, dv, real(scale),
    )  # fmt: skip
    out = out.reshape(*lead, tq, dv)
    return out, AttentionSaved(out, row_max.reshape(*lead, tq), log_sum.reshape(*lead, tq), q, k, mask, scale)


def attention_backward(grad_out, q, k, v, saved, mask, scale):
    """Gradients of attention_forward -> dq: (..., Tq, d), dk: (..., Tk, d), dv: (..., Tk, dv).

    From an AttentionSaved, two kernels recompute the weights tile by tile: one with a warp per query
    (dq), one with a warp per key (dk, dv). Saved weights (the reference's) go to the reference.
    """
    if not isinstance(saved, AttentionSaved) or not _fits(grad_out, q):
        return numpy_ref.attention_backward(grad_out, q, k, v, saved, mask, scale)
    (tq, d), (tk, dv) = q.shape[-2:], v.shape[-2:]
    lead, real = q.shape[:-2], q.dtype.type
    q3, k3, v3, g3 = _batched(q, tq), _batched(k, tk), _batched(v, tk), _batched(grad_out, tq)
    allow, bias, strides = _mask_operand(mask, (*lead, tq, tk), q.dtype)
    row_max, log_sum = (_contiguous(a).reshape(-1, tq) for a in (saved.row_max, saved.log_sum))
    # delta = rowsum(dP * P) = rowsum(dout * out): one number per query, so computed once, here.
    delta = _contiguous((grad_out * saved.out).sum(axis=-1)).reshape(-1, tq)
    dq, dk, dv_ = cupy.empty_like(q3), cupy.empty_like(k3), cupy.empty_like(v3)
    common = (q3, k3, v3, allow, bias, *strides, g3, row_max, log_sum, delta)
    sizes = (tq, tk, d, dv, real(scale))
    batch = len(q3)
    _launch(
        "attention", "attention_backward_dq", q.dtype, (-(-tq // ATTENTION_ROWS_PER_BLOCK), batch), (THREADS,),
        *common, dq, *sizes,
    )  # fmt: skip
    _launch(
        "attention", "attention_backward_dkdv", q.dtype, (-(-tk // ATTENTION_ROWS_PER_BLOCK), batch), (THREADS,),
        *common, dk, dv_, *sizes,
    )  # fmt: skip
    return dq.reshape(q.shape), dk.reshape(k.shape), dv_.reshape(v.shape)


# --- convolution: im2col / col2im kernels around cuBLAS GEMMs -------------------------------


def _window_arguments(image_shape, kernel, stride, padding, dilation, out_size) -> tuple:
    """The geometry arguments of im2col and col2im: C, H, W, KH, KW, OH, OW, sh, sw, ph, pw, dh, dw."""
    return (*image_shape[1:], *kernel, *out_size, *stride, *padding, *dilation)


def _im2col(x, kernel, stride, padding, dilation, out_size):
    """x (N, C, H, W) -> cols (N, C * KH * KW, OH * OW), as numpy_ref._im2col; one thread per element of cols."""
    n, c = x.shape[:2]
    cols = cupy.empty((n, c * kernel[0] * kernel[1], out_size[0] * out_size[1]), dtype=x.dtype)
    geometry = _window_arguments(x.shape, kernel, stride, padding, dilation, out_size)
    _launch(
        "conv", "im2col", x.dtype, (_blocks(cols.size),), (THREADS,),
        _contiguous(x), cols, cols.size, *geometry,
    )  # fmt: skip
    return cols


def _col2im(cols, x_shape, kernel, stride, padding, dilation, out_size):
    """cols (N, C * KH * KW, OH * OW) -> (N, C, H, W), as numpy_ref._col2im; one thread per pixel."""
    image = cupy.empty(x_shape, dtype=cols.dtype)
    geometry = _window_arguments(x_shape, kernel, stride, padding, dilation, out_size)
    _launch(
        "conv", "col2im", cols.dtype, (_blocks(image.size),), (THREADS,),
        _contiguous(cols), image, image.size, *geometry,
    )  # fmt: skip
    return image


def conv2d_forward(x, w, stride, padding, dilation):
    """2-D cross-correlation without bias. x: (N, C, H, W), w: (O, C, KH, KW) -> (N, O, OH, OW).

    out[n] = w.reshape(O, C * KH * KW) @ im2col(x)[n]: one im2col kernel, one batched GEMM.
    """
    out_size = _out_size(x.shape[2:], w.shape[2:], stride, padding, dilation)
    if not _fits(x, w) or min(out_size) <= 0:
        return numpy_ref.conv2d_forward(x, w, stride, padding, dilation)
    n, o = x.shape[0], w.shape[0]
    cols = _im2col(x, w.shape[2:], stride, padding, dilation, out_size)
    return cupy.matmul(w.reshape(o, -1), cols).reshape(n, o, *out_size)


def conv2d_backward(grad, x, w, stride, padding, dilation):
    """Gradients of conv2d_forward. grad: (N, O, OH, OW) -> grad_x: (N, C, H, W), grad_w: (O, C, KH, KW).

    grad_w = sum over n of grad[n] @ cols[n]^T; grad_x = col2im(w^T @ grad).
    """
    if not _fits(grad, x, w):
        return numpy_ref.conv2d_backward(grad, x, w, stride, padding, dilation)
    n, o, oh, ow = grad.shape
    kernel = w.shape[2:]
    grad = grad.reshape(n, o, oh * ow)
    cols = _im2col(x, kernel, stride, padding, dilation, (oh, ow))
    grad_w = cupy.matmul(grad, cols.swapaxes(1, 2)).sum(axis=0).reshape(w.shape)
    grad_cols = cupy.matmul(w.reshape(o, -1).T, grad)
    return _col2im(grad_cols, x.shape, kernel, stride, padding, dilation, (oh, ow)), grad_w


def conv_transpose2d_forward(x, w, stride, padding, output_padding, dilation):
    """2-D transposed convolution without bias. x: (N, C_in, H, W), w: (C_in, C_out, KH, KW) -> (N, C_out, OH, OW).

    The input gradient of conv2d: one GEMM (w^T @ x) spreads each pixel over a window, col2im adds them up.
    """
    if not _fits(x, w):
        return numpy_ref.conv_transpose2d_forward(x, w, stride, padding, output_padding, dilation)
    n, c_in, h, wd = x.shape
    c_out, kh, kw = w.shape[1:]
    out_h = (h - 1) * stride[0] - 2 * padding[0] + dilation[0] * (kh - 1) + output_padding[0] + 1
    out_w = (wd - 1) * stride[1] - 2 * padding[1] + dilation[1] * (kw - 1) + output_padding[1] + 1
    cols = cupy.matmul(w.reshape(c_in, -1).T, x.reshape(n, c_in, h * wd))
    return _col2im(cols, (n, c_out, out_h, out_w), (kh, kw), stride, padding, dilation, (h, wd))


def conv_transpose2d_backward(grad, x, w, stride, padding, output_padding, dilation):
    """Gradients of conv_transpose2d_forward -> grad_x: (N, C_in, H, W), grad_w: (C_in, C_out, KH, KW).

    Going back gathers the windows the forward scattered to: an im2col of grad, then two GEMMs.
    """
    if not _fits(grad, x, w):
        return numpy_ref.conv_transpose2d_backward(grad, x, w, stride, padding, output_padding, dilation)
    n, c_in, h, wd = x.shape
    cols = _im2col(grad, w.shape[2:], stride, padding, dilation, (h, wd))
    grad_x = cupy.matmul(w.reshape(c_in, -1), cols).reshape(n, c_in, h, wd)
    grad_w = cupy.matmul(x.reshape(n, c_in, h * wd), cols.swapaxes(1, 2)).sum(axis=0).reshape(w.shape)
    return grad_x, grad_w


# --- pooling: a thread per output (forward) or per input pixel (backward) -------------------


def _pool_arguments(x_shape, kernel_size, stride, padding, out_size) -> tuple:
    """The geometry arguments of the pooling kernels: H, W, KH, KW, OH, OW, sh, sw, ph, pw."""
    return (*x_shape[2:], *kernel_size, *out_size, *stride, *padding)


def max_pool2d_forward(x, kernel_size, stride, padding):
    """The largest value of each window, and where it was (tap i * KW + j of its first maximum).

    x: (N, C, H, W) -> out: (N, C, OH, OW), argmax: (N, C, OH, OW) int64.
    """
    if not _fits(x):
        return numpy_ref.max_pool2d_forward(x, kernel_size, stride, padding)
    out_size = _out_size(x.shape[2:], kernel_size, stride, padding, (1, 1))
    out = cupy.empty((*x.shape[:2], *out_size), dtype=x.dtype)
    argmax = cupy.empty(out.shape, dtype=cupy.int64)
    geometry = _pool_arguments(x.shape, kernel_size, stride, padding, out_size)
    _launch(
        "pooling", "max_pool2d_forward", x.dtype, (_blocks(out.size),), (THREADS,),
        _contiguous(x), out, argmax, out.size, *geometry,
    )  # fmt: skip
    return out, argmax


def max_pool2d_backward(grad, argmax, x_shape, kernel_size, stride, padding):
    """Each window's gradient to its maximum. grad, argmax: (N, C, OH, OW) -> (N, C, H, W)."""
    if not _fits(grad):
        return numpy_ref.max_pool2d_backward(grad, argmax, x_shape, kernel_size, stride, padding)
    grad_x = cupy.empty(x_shape, dtype=grad.dtype)
    geometry = _pool_arguments(x_shape, kernel_size, stride, padding, grad.shape[2:])
    _launch(
        "pooling", "max_pool2d_backward", grad.dtype, (_blocks(grad_x.size),), (THREADS,),
        _contiguous(grad), _contiguous(argmax).astype(cupy.int64, copy=False), grad_x, grad_x.size, *geometry,
    )  # fmt: skip
    return grad_x


def avg_pool2d_forward(x, kernel_size, stride, padding):
    """The mean of each window, the zero border included. x: (N, C, H, W) -> (N, C, OH, OW)."""
    if not _fits(x):
        return numpy_ref.avg_pool2d_forward(x, kernel_size, stride, padding)
    out_size = _out_size(x.shape[2:], kernel_size, stride, padding, (1, 1))
    out = cupy.empty((*x.shape[:2], *out_size), dtype=x.dtype)
    geometry = _pool_arguments(x.shape, kernel_size, stride, padding, out_size)
    _launch(
        "pooling", "avg_pool2d_forward", x.dtype, (_blocks(out.size),), (THREADS,),
        _contiguous(x), out, out.size, *geometry,
    )  # fmt: skip
    return out


def avg_pool2d_backward(grad, x_shape, kernel_size, stride, padding):
    """Each window's gradient shared equally by its KH * KW pixels. grad: (N, C, OH, OW) -> (N, C, H, W)."""
    if not _fits(grad):
        return numpy_ref.avg_pool2d_backward(grad, x_shape, kernel_size, stride, padding)
    grad_x = cupy.empty(x_shape, dtype=grad.dtype)
    geometry = _pool_arguments(x_shape, kernel_size, stride, padding, grad.shape[2:])
    _launch(
        "pooling", "avg_pool2d_backward", grad.dtype, (_blocks(grad_x.size),), (THREADS,),
        _contiguous(grad), grad_x, grad_x.size, *geometry,
    )  # fmt: skip
    return grad_x


# --- optimizer steps: fused, in place ---------------------------------------------------------


def _updatable(*arrays) -> bool:
    """Whether a fused step can update these arrays in place: they fit the kernels, contiguous, one shape."""
    return _fits(*arrays) and all(a.flags.c_contiguous and a.shape == arrays[0].shape for a in arrays)


def sgd_step(param, grad, momentum_buffer, *, lr, momentum, dampening, weight_decay, nesterov, first):
    """One SGD step, as PyTorch defines it, updating param (and momentum_buffer) in place: one kernel.

    param, grad, momentum_buffer: same shape (momentum_buffer is None when momentum == 0).
    """
    state = (param, momentum_buffer) if momentum else (param,)
    if not (_updatable(*state) and _fits(param, grad) and grad.shape == param.shape):
        return numpy_ref.sgd_step(
            param, grad, momentum_buffer, lr=lr, momentum=momentum, dampening=dampening,
            weight_decay=weight_decay, nesterov=nesterov, first=first,
        )  # fmt: skip
    real = param.dtype.type
    _launch(
        "optim", "sgd_step", param.dtype, (_blocks(param.size),), (THREADS,),
        param, _contiguous(grad), momentum_buffer if momentum else None, param.size,
        real(lr), real(momentum), real(1 - dampening), real(weight_decay), nesterov, first,
    )  # fmt: skip


def adam_step(param, grad, exp_avg, exp_avg_sq, *, step, lr, beta1, beta2, eps, weight_decay, decoupled):
    """One Adam (decoupled=False) or AdamW (decoupled=True) step, updating everything in place: one kernel.

    param, grad, exp_avg (m), exp_avg_sq (v): same shape; step: 1 on the first update.
    """
    if not (_updatable(param, exp_avg, exp_avg_sq) and _fits(param, grad) and grad.shape == param.shape):
        return numpy_ref.adam_step(
            param, grad, exp_avg, exp_avg_sq, step=step, lr=lr, beta1=beta1, beta2=beta2, eps=eps,
            weight_decay=weight_decay, decoupled=decoupled,
        )  # fmt: skip
    real = param.dtype.type
    decay = 1 - lr * weight_decay if weight_decay and decoupled else 1  # AdamW shrinks the parameter
    l2 = weight_decay if weight_decay and not decoupled else 0  # Adam adds weight_decay * param to the gradient
    bias_correction1, bias_correction2 = 1 - beta1**step, 1 - beta2**step
    _launch(
        "optim", "adam_step", param.dtype, (_blocks(param.size),), (THREADS,),
        param, _contiguous(grad), exp_avg, exp_avg_sq, param.size,
        real(decay), real(l2), real(beta1), real(1 - beta1), real(beta2), real(1 - beta2),
        real(lr / bias_correction1), np.float64(math.sqrt(bias_correction2)), np.float64(eps),
    )  # fmt: skip
