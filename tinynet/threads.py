"""How many threads the CPU computes on: ``torch.set_num_threads`` and ``torch.get_num_threads``.

PyTorch programs set it first thing (``torch.set_num_threads(2)``), and benchmarks give both frameworks the same
count. Here it is the numba backend's threaded kernels (on at most the NUMBA_NUM_THREADS threads numba
started) and NumPy's BLAS (the reference's products). Neither is loaded for it: a count set before the numba
backend loads is given to it when it does (``backend.load``).
"""

from __future__ import annotations

import builtins
import numbers
import os
import sys

from tinynet.errors import ArgumentError, DTypeError

_count: int | None = None  # what set_num_threads was given; None: every core this process may run on


def set_num_threads(int: int) -> None:  # noqa: A002 (PyTorch's parameter name)
    """Compute on ``int`` threads from now on, as ``torch.set_num_threads``.

    Numba keeps its count per Python thread (PyTorch's is per process): this sets the calling thread's, and a
    thread started later runs numba's kernels on every thread numba started.
    """
    count = int
    if isinstance(count, bool) or not isinstance(count, numbers.Integral):
        raise DTypeError(f"set_num_threads: expected an int number of threads, got {type(count).__name__} {count!r}")
    if count < 1:
        raise ArgumentError(f"set_num_threads: expected a positive number of threads, got {count}")
    global _count
    _count = builtins.int(count)
    numba_kernels = sys.modules.get("kernels.numba_cpu")
    if numba_kernels is not None:
        numba_kernels.set_num_threads(_count)
    _limit_numpy_blas(_count)


def get_num_threads() -> int:
    """The threads the CPU computes on: set_num_threads's count, else every core this process may run on."""
    if _count is not None:
        return _count
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def requested() -> int | None:
    """set_num_threads's count, or None when it was never called (for a backend that loads later)."""
    return _count


def _limit_numpy_blas(count: int) -> None:
    """NumPy's own BLAS to ``count`` threads. Only NumPy's: the one SciPy bundles, which numba's kernels call from
    inside their threads, stays at one thread (kernels/numba_cpu/common.py). Without threadpoolctl (a dependency
    of scikit-learn), nothing changes."""
    try:
        import numpy
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return
    numpy_dir = os.path.dirname(os.path.realpath(numpy.__file__))
    inside = (numpy_dir + os.sep, numpy_dir + ".libs" + os.sep)
    for lib in ThreadpoolController().lib_controllers:
        if lib.user_api == "blas" and os.path.realpath(lib.filepath).startswith(inside):
            lib.set_num_threads(count)
