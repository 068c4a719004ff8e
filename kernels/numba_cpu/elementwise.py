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
def _add_into(start, stop, total, g):  # (not _add with out = a: LLVM's check that out overlaps no input then failed)
    for i in range(start, stop):
        total[i] += g[i]


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


# accumulate runs on the threads from this many numbers; NumPy's += is as fast below. 2 threads, float32, the AMD
# EPYC (2026-12-07), us, NumPy's += / the threads: (512, 128) 7.5 / 12.2, (768, 256) 21.5 / 20.8, (1024, 1024)
# 131 / 68, (8192, 256) 618 / 157 (add's new array: 13.2, 25.3, 98, 308).
ACCUMULATE_ON_THREADS = 1 << 18


def accumulate(total, g):
    """total += g in place, as the reference: on numba's threads for two C-contiguous float arrays of one shape and
    dtype, of ACCUMULATE_ON_THREADS numbers or more; else by NumPy's +=."""
    if _large_pair(total, g) and total.size >= ACCUMULATE_ON_THREADS:
        run_range(_add_into, CHEAP * total.size, total.size, total.reshape(-1), g.reshape(-1))
        return total
    return numpy_ref.accumulate(total, g)


def mul(a, b):
    """out = a * b, as the reference, the same way as add: on numba's threads for two large arrays of one shape (a
    dropout mask's product, a gate's, and their gradients), else NumPy's *, the same product to the last bit."""
    return _on_threads(_mul, a, b) if _large_pair(a, b) else numpy_ref.mul(a, b)


@warms_up
def warm_up(dtype: np.dtype) -> None:
    """Compile _add, _mul and _add_into for ``dtype``: arrays large enough to reach them."""
    ones = np.ones(max(SPLIT_WORK, ACCUMULATE_ON_THREADS), dtype)
    add(ones, ones)
    mul(ones, ones)
    accumulate(ones, ones)
