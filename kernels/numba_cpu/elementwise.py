"""Elementwise arithmetic on whole arrays: the sum and the product of two, on numba's threads where the arrays
are large."""

import numpy as np

from kernels import numpy_ref
from kernels.numba_cpu.common import CHEAP, FLOATS, SPLIT_WORK, range_kernel, run_range, warms_up


@range_kernel()
def _add(start, stop, a, b, out):
    for i in range(start, stop):
        out[i] = a[i] + b[i]


@range_kernel()
def _mul(start, stop, a, b, out):
    for i in range(start, stop):
        out[i] = a[i] * b[i]


def _large_pair(a, b) -> bool:
    """Whether a and b are C-contiguous float32 or float64 arrays of one shape and dtype, of SPLIT_WORK numbers or
    more: what the threaded kernels take."""
    return (
        type(a) is np.ndarray and type(b) is np.ndarray and a.shape == b.shape and a.dtype == b.dtype
        and a.dtype in FLOATS and a.size >= SPLIT_WORK and a.flags.c_contiguous and b.flags.c_contiguous
    )  # fmt: skip


def _on_threads(kernel, a, b):
    out = np.empty(a.shape, a.dtype)
    run_range(kernel, CHEAP * a.size, a.size, a.reshape(-1), b.reshape(-1), out.reshape(-1))
    return out


def add(a, b):
    """out = a + b, as the reference. Two C-contiguous float32 or float64 arrays of one shape, of SPLIT_WORK numbers
    or more, are added on numba's threads; anything else (a number, broadcasting, other dtypes, fewer numbers) by the
    reference, NumPy's +, which is as fast on one thread as a compiled loop and is the same sum to the last bit.

    Why: NumPy's ufuncs run on one thread. A transformer's residual stream adds (N, T, d) arrays, and backward sums
    the two gradients of each block's input: (32, 64, 64) float32 took 19 us by NumPy, 10 us on 2 threads; the bench's
    transformer LM step took 0.96x the time with this kernel, its small ResNet's 0.95x (alternating in one process).
    """
    return _on_threads(_add, a, b) if _large_pair(a, b) else numpy_ref.add(a, b)


def mul(a, b):
    """out = a * b, as the reference, the same way as add: on numba's threads for two large arrays of one shape (a
    dropout mask's product, a gate's, and their gradients), else NumPy's *, the same product to the last bit."""
    return _on_threads(_mul, a, b) if _large_pair(a, b) else numpy_ref.mul(a, b)


@warms_up
def warm_up(dtype: np.dtype) -> None:
    """Compile _add and _mul for ``dtype``: arrays large enough to reach them."""
    ones = np.ones(SPLIT_WORK, dtype)
    add(ones, ones)
    mul(ones, ones)
