"""Numba-JIT CPU kernels: NumPy arrays in and out, so numba and numpy tensors mix freely.

Every kernel here has the name, signature and results of its reference in ``numpy_ref`` (within
float32 rounding); whatever is missing falls back to the reference (``tinynet info`` lists both).

Practicalities:
- Compilation happens on a kernel's first call for each dtype and is cached on disk (``cache=True``),
  next to this file or, when that folder is read-only, in Numba's user-wide cache (or NUMBA_CACHE_DIR).
  ``tinynet.warmup()`` / ``tinynet info --warmup`` compile everything up front and say how long it took.
- Threads: ``parallel=True`` kernels split work with ``prange`` over NUMBA_NUM_THREADS threads.
- Debugging: with NUMBA_DISABLE_JIT=1 every kernel runs as plain Python (slowly), so a debugger can
  step into it line by line; the results are the same.
"""

from collections.abc import Callable

import numpy as np

try:
    import numba
except ImportError:  # reported by check_available(), so that `tinynet info` can say why
    numba = None

NAME = "numba"

# Functions that call kernels on tiny inputs of a given dtype, so warmup() can compile them all.
_warmups: list[Callable[[np.dtype], None]] = []


def check_available() -> None:
    """Raise RuntimeError saying what is missing when this backend cannot run here."""
    if numba is None:
        raise RuntimeError("numba is not installed; fix: pip install numba")


def array_module():
    """Tensors on this backend hold NumPy arrays."""
    return np


def describe() -> dict[str, str]:
    """What `tinynet info` shows about this backend: threads and the threading layer."""
    try:
        layer = numba.threading_layer()
    except ValueError:  # only known once a parallel kernel has run
        layer = "chosen at the first parallel kernel"
    return {"threads": str(numba.get_num_threads()), "threading layer": layer, "numba": numba.__version__}


def warms_up(function: Callable[[np.dtype], None]) -> Callable[[np.dtype], None]:
    """Register ``function(dtype)``, which calls some kernels on tiny inputs, with warmup()."""
    _warmups.append(function)
    return function


def warmup() -> None:
    """Compile (or load from the cache) every kernel for float32 and float64."""
    for dtype in (np.float32, np.float64):
        for function in _warmups:
            function(np.dtype(dtype))
