"""``tn.cuda``, as ``torch.cuda``: whether a GPU can run tinynet's CUDA tensors here, and the few calls PyTorch
programs make about it (``is_available()``, ``device_count()``, ``synchronize()``, ``manual_seed``...).

tinynet's CUDA tensors are CuPy arrays computed by the cupy backend (``kernels/cupy_gpu/``), so a GPU is
"available" when that backend can run: cupy installed, a CUDA driver and GPU answering, NVRTC loadable. Where
it cannot, ``is_available()`` is False and the calls that need a GPU raise BackendError saying why. tinynet
uses one GPU, cuda:0. Nothing here imports cupy until it is called.
"""

from __future__ import annotations

from tinynet import backend, random
from tinynet.cuda import amp  # tn.cuda.amp, as torch.cuda.amp


def is_available() -> bool:
    """Whether tensors can go to "cuda" here (the cupy backend can run); ``tinynet info`` says why not."""
    return backend.status("cupy")[0]


def device_count() -> int:
    """How many GPUs tinynet could see (0 where no GPU can run; tinynet itself uses cuda:0 only)."""
    if not is_available():
        return 0
    return int(backend.gpu().xp.cuda.runtime.getDeviceCount())


def _cupy():
    # backend.gpu() raises BackendError with the reason (no cupy, no driver, no GPU, no NVRTC).
    return backend.gpu().xp


def current_device() -> int:
    """The index of the GPU tinynet computes on: 0. Raises BackendError where no GPU can run."""
    _cupy()
    return 0


def get_device_name(device=None) -> str:
    """The GPU's name, e.g. "NVIDIA H100 80GB HBM3". Raises BackendError where no GPU can run."""
    cupy = _cupy()
    name = cupy.cuda.runtime.getDeviceProperties(cupy.cuda.Device().id)["name"]
    return name.decode() if isinstance(name, bytes) else str(name)


def synchronize(device=None) -> None:
    """Wait until the GPU has finished every kernel launched so far (to time GPU code honestly)."""
    _cupy().cuda.Device().synchronize()


def empty_cache() -> None:
    """Hand the GPU memory CuPy keeps for reuse back to the driver (nothing to do where no GPU runs)."""
    if is_available():
        _cupy().get_default_memory_pool().free_all_blocks()


def is_bf16_supported(including_emulation: bool = True) -> bool:
    """False: CuPy has no bfloat16 arrays, so tinynet's CUDA tensors cannot be bfloat16 (programs that ask then choose
    float16 or float32)."""
    return False


def manual_seed(seed: int) -> None:
    """Seed tinynet's one generator (every random draw, CPU or GPU, comes from it: ``tn.manual_seed``)."""
    random.manual_seed(seed)


def manual_seed_all(seed: int) -> None:
    """As ``manual_seed``: tinynet has one generator for all devices."""
    random.manual_seed(seed)


__all__ = [
    "amp", "current_device", "device_count", "empty_cache", "get_device_name", "is_available", "is_bf16_supported",
    "manual_seed", "manual_seed_all", "synchronize",
]  # fmt: skip
