"""CuPy GPU kernels: tensors on this backend hold ``cupy.ndarray``s that stay on the device.

Every kernel here has the name, signature and results of its reference in ``numpy_ref`` (within
rounding); whatever is missing falls back to the reference, which takes its array module from its
inputs and so runs on the GPU too, through CuPy's NumPy-compatible API (``tinynet info`` lists both).

Where the work happens:
- GEMMs (``matmul``, and the products inside the convolutions) are cuBLAS, through ``cupy.matmul``.
- The rest are CUDA C kernels in ``kernels/cuda/*.cu``, one file per family, each compiled by NVRTC
  on first use, once per process for each of float32 and float64 (CuPy also caches the result on disk),
  and launched through ``cupy.RawModule``. ``tinynet.warmup("cupy")`` compiles them all up front.

Layout: one module per op family, named as the reference's (``linalg``, ``activations``, ``softmax``,
``normalization``, ``embedding``, ``attention``, ``conv``, ``pooling``, ``optim``, ``losses``, ``dropout``), each the
Python side of its CUDA kernels (its docstring says how they are laid out); ``common`` holds what they share: the
cupy import, compiling and launching. This module re-exports every kernel, beside what any backend
module provides (``check_available``, ``array_module``, ...).

Practicalities:
- The kernels take float32 or float64 arrays of one dtype; anything else (float16, mixed dtypes, empty
  arrays, attention heads wider than its tiles) goes to the reference instead.
- Inputs are made C-contiguous before a launch (copied only when they are not already). A NumPy array
  is refused rather than uploaded: data crosses to the device only through ``Tensor.to("cupy")``.
"""

from kernels.cupy_gpu.activations import (
    gelu_backward,
    gelu_forward,
    relu_backward,
    relu_forward,
    sigmoid_backward,
    sigmoid_forward,
    silu_backward,
    silu_forward,
    tanh_backward,
    tanh_forward,
)
from kernels.cupy_gpu.attention import AttentionSaved, attention_backward, attention_forward, masked_softmax_forward
from kernels.cupy_gpu.common import C_TYPES, CUDA_DIR, FAMILIES, compile_options, cupy, raw_module, source
from kernels.cupy_gpu.conv import (
    conv2d_backward,
    conv2d_forward,
    conv_transpose2d_backward,
    conv_transpose2d_forward,
)
from kernels.cupy_gpu.dropout import dropout_mask
from kernels.cupy_gpu.embedding import embedding_backward
from kernels.cupy_gpu.linalg import matmul
from kernels.cupy_gpu.losses import bce_with_logits_backward, bce_with_logits_forward
from kernels.cupy_gpu.normalization import (
    batch_norm_backward,
    batch_norm_forward,
    channel_affine_backward,
    channel_affine_forward,
    group_norm_backward,
    group_norm_forward,
    layer_norm_backward,
    layer_norm_forward,
)
from kernels.cupy_gpu.optim import adam_step, sgd_step
from kernels.cupy_gpu.pooling import avg_pool2d_backward, avg_pool2d_forward, max_pool2d_backward, max_pool2d_forward
from kernels.cupy_gpu.softmax import (
    cross_entropy_backward,
    cross_entropy_forward,
    log_softmax_backward,
    log_softmax_forward,
    softmax_backward,
    softmax_forward,
)

NAME = "cupy"


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


def warmup() -> None:
    """Compile every kernel family for float32 and float64 (or load them from CuPy's disk cache)."""
    for family in FAMILIES:
        for dtype in C_TYPES:
            raw_module(family, dtype.name).compile()
