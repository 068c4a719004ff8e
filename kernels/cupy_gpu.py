"""CuPy GPU kernels: tensors on this backend hold ``cupy.ndarray``s that stay on the device.

No kernel is overridden yet: every entry of ``numpy_ref.KERNELS`` falls back to the reference, which
takes its array module from its inputs, so the fallback runs on the GPU, not on the host.
"""

try:
    import cupy
except ImportError:  # reported by check_available(), so that `tinynet info` can say why
    cupy = None

NAME = "cupy"


def check_available() -> None:
    """Raise RuntimeError saying what is missing (cupy, a CUDA driver, or a GPU) and how to fix it."""
    if cupy is None:
        raise RuntimeError('cupy is not installed; fix: pip install -e ".[gpu]" (installs cupy-cuda12x)')
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except cupy.cuda.runtime.CUDARuntimeError as err:
        raise RuntimeError(
            f"cupy is installed but no CUDA driver or GPU answers ({err}); "
            "fix: run on a machine with an NVIDIA GPU and its driver"
        ) from None
    if count == 0:
        raise RuntimeError("cupy is installed but this machine has no CUDA GPU")


def array_module():
    """Tensors on this backend hold CuPy arrays."""
    return cupy
