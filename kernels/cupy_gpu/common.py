"""What every family of the CuPy backend shares: the cupy import, compiling the CUDA sources, launching.

A family module checks its inputs with ``fits`` (calling the reference when the kernels do not take
them), makes them ``contiguous``, allocates the outputs and ``launch``es a kernel of its
``kernels/cuda/<family>.cu``, sized by ``blocks`` or ``row_threads``. ``launch`` looks up ``_kernel``,
and ``blocks`` ``MAX_BLOCKS``, in this module at each call: replacing them here (as the tests do, to run
the kernels on a CPU stand-in) reaches every family.
"""

import functools
from pathlib import Path

import numpy as np

try:
    import cupy
except ImportError:  # reported by check_available(), so that `tinynet info` can say why
    cupy = None

CUDA_DIR = Path(__file__).parent.parent / "cuda"
FAMILIES = (
    "activations", "softmax", "layernorm", "embedding", "attention", "conv", "pooling", "optim", "losses", "dropout",
)  # fmt: skip
C_TYPES = {np.dtype(np.float32): "float", np.dtype(np.float64): "double"}
# No fused multiply-add: each product is rounded on its own, as NumPy rounds it, which keeps results
# within rounding of the reference (these kernels are bound by memory traffic, not arithmetic).
COMPILE_OPTIONS = ("-std=c++17", "--fmad=false")

THREADS = 256  # threads per block of the elementwise kernels: 8 warps, enough to hide memory latency
MAX_BLOCKS = 65535  # more blocks than any GPU runs at once: their grid-stride loops cover the rest


# --- compiling ---------------------------------------------------------------------------------


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
def raw_module(family: str, dtype_name: str):
    """One ``cupy.RawModule`` per family and dtype; NVRTC compiles it when a kernel is first asked of it."""
    return cupy.RawModule(code=source(family), options=compile_options(dtype_name))


@functools.cache
def _kernel(family: str, name: str, dtype_name: str):
    """Kernel ``name`` of ``kernels/cuda/<family>.cu`` for ``dtype_name`` arrays, compiled on first use."""
    return raw_module(family, dtype_name).get_function(name)


# --- launching ---------------------------------------------------------------------------------


def _argument(value):
    # Every integer parameter of the kernels is a 64-bit index_t. Floating-point parameters are passed
    # as NumPy scalars of the right precision by the caller (scalar_t or double): a bare Python float
    # would not say which.
    if isinstance(value, (bool, int, np.integer, np.bool_)):
        return np.int64(value)
    if type(value) is float:  # (np.float64 is a float too, but says its precision)
        raise TypeError(f"kernel argument {value!r}: pass floats as np.float32 or np.float64")
    return value


def launch(family: str, name: str, dtype, grid: tuple, block: tuple, *args) -> None:
    """Run kernel ``name`` of ``family``, compiled for ``dtype``, on ``grid`` blocks of ``block`` threads.

    Arrays pass as pointers to their first element, None as a null pointer.
    """
    _kernel(family, name, np.dtype(dtype).name)(grid, block, tuple(_argument(a) for a in args))


def blocks(n: int) -> int:
    """Blocks of THREADS threads for a grid-stride loop over n elements: one element per thread, capped."""
    return min(-(-n // THREADS), MAX_BLOCKS)


def row_threads(cols: int) -> int:
    """Threads per block for the one-block-per-row kernels: whole warps, one per 32 columns, at most 8.

    A short row (10 classes) gets one warp; a long one 256 threads, each striding over its columns.
    """
    return min(THREADS, 32 * -(-cols // 32))


# --- which arrays the kernels take -------------------------------------------------------------


def fits(*arrays) -> bool:
    """Whether the CUDA kernels take these arrays: one dtype, float32 or float64, none empty."""
    dtype = arrays[0].dtype
    return dtype in C_TYPES and all(a.dtype == dtype and a.size for a in arrays)


def contiguous(array):
    """``array`` as a C-contiguous CuPy array (a copy only if it is not one already).

    A NumPy array is refused, not uploaded behind the user's back (tinynet reports the mix of backends).
    """
    if not isinstance(array, cupy.ndarray):
        raise TypeError(f"expected a cupy.ndarray, got a {type(array).__module__}.{type(array).__name__}")
    return cupy.ascontiguousarray(array)
