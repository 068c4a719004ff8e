"""Where Numba's threads run: each worker on a core of its own, and the caller kept off the workers' cores.

Why: on a virtual machine a vCPU that has been idle for a while is handed back to the host, and Linux then
counts it as busy (``vcpu_is_preempted``). A worker woken after a pause is put on the core of the thread that
woke it, and the two share one core until the load balancer moves one of them, tens of milliseconds later.
Measured on 2 cores: conv2d forward of (64, 16, 28, 28) took 2.3 ms back to back and 4 to 4.7 ms in each of
the five calls after a 0.1 s pause (as slow as one thread); with the workers pinned and the caller moved off
their cores, 3.0 ms for the first call after the pause and 2.4-2.6 ms for the next. (``OMP_PROC_BIND`` pins
the workers as well, but pins the calling thread for good, and every thread and process it starts afterwards
inherits that one core.)

- ``place_workers()`` (once, from the first threaded kernel): worker k of Numba's pool to the k-th core of the
  process's CPUs, for k >= 1; the caller is thread 0.
- ``run_threaded(kernel, args, long)``: kernel(*args), with the caller moved to core 0 for the call (its own CPU
  set restored afterwards); for a short kernel, only when the caller is on a worker's core.
Left alone (nothing pinned): fewer CPUs than threads (an MPI rank bound to its cores), several MPI ranks on
this machine, a user's own ``OMP_PROC_BIND``/``OMP_PLACES``/``GOMP_CPU_AFFINITY``, ``TINYNET_PIN_THREADS=0``,
``NUMBA_DISABLE_JIT``, or a threading layer whose workers are not one per thread.
The 2-D products of the numba backend run on these threads too (linalg.py), not on NumPy's BLAS threads, which
keep spinning after each call on whichever cores they like.
"""

import ctypes
import os
import sys
import threading

import numba
import numpy as np
from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic

_worker_cpus: frozenset[int] | None = None  # None until place_workers ran; empty when nothing is pinned
_caller_cpus: set[int] = set()
_sched_getcpu = None


@intrinsic
def _gettid(typingctx):
    """The calling thread's id (glibc's gettid) inside a kernel."""

    def codegen(context, builder, signature, args):
        function = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ir.IntType(32), []), "gettid")
        return builder.sext(builder.call(function, []), ir.IntType(64))

    return types.int64(), codegen


@numba.njit(cache=True, parallel=True)
def _thread_ids(out):
    """out[i] = the kernel-side id of the thread numba numbers i (one iteration per thread, static split)."""
    for _ in numba.prange(out.size):
        out[numba.get_thread_id()] = _gettid()


def _allowed() -> bool:
    user_placed = any(os.environ.get(k) for k in ("OMP_PROC_BIND", "OMP_PLACES", "GOMP_CPU_AFFINITY"))
    # Ranks of one MPI job on this machine share its cores: pinning each rank's workers alike would stack them.
    ranks_here = max(int(os.environ.get(k, "1") or 1) for k in ("OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS"))
    wanted = os.environ.get("TINYNET_PIN_THREADS", "1") != "0"
    return sys.platform.startswith("linux") and wanted and not user_placed and ranks_here == 1


def place_workers() -> frozenset[int]:
    """Pin Numba's worker threads, one core each (see the module's docstring); the workers' cores, or an empty
    set when nothing was pinned."""
    global _worker_cpus, _caller_cpus, _sched_getcpu
    _worker_cpus = frozenset()
    cpus, threads = sorted(os.sched_getaffinity(0)), numba.config.NUMBA_NUM_THREADS
    if not _allowed() or numba.config.DISABLE_JIT or threads < 2 or len(cpus) < threads:
        return _worker_cpus
    try:
        _sched_getcpu = ctypes.CDLL("libc.so.6").sched_getcpu
    except (OSError, AttributeError):
        return _worker_cpus
    chosen = numba.get_num_threads()
    numba.set_num_threads(threads)
    try:
        ids = np.zeros(threads, np.int64)
        _thread_ids(ids)
    finally:
        numba.set_num_threads(chosen)
    if numba.threading_layer() != "omp" or len(set(ids.tolist())) != threads or ids[0] != threading.get_native_id():
        return _worker_cpus
    try:
        for k in range(1, threads):
            os.sched_setaffinity(int(ids[k]), {cpus[k]})
    except OSError:
        return _worker_cpus
    _caller_cpus, _worker_cpus = {cpus[0]}, frozenset(cpus[1:threads])
    return _worker_cpus


def describe() -> str:
    """Where the workers run, for `tinynet info`."""
    if _worker_cpus is None:
        return "decided at the first threaded kernel"
    if not _worker_cpus:
        return "left to the OS (nothing pinned)"
    return f"workers pinned to CPUs {sorted(_worker_cpus)}; the caller on CPU {min(_caller_cpus)} during long kernels"


def _forget_in_child() -> None:
    """A forked child (a DataLoader worker, say) has none of its parent's threads: pin nothing there."""
    global _worker_cpus
    _worker_cpus = frozenset()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_in_child)


def run_threaded(kernel, args: tuple, long: bool = True):
    """kernel(*args) on Numba's threads (see the module's docstring). A ``long`` kernel (a millisecond or more)
    pins the caller to core 0 for the call, 5 us of system calls; a short one only when the caller is on a
    worker's core. (Checking alone left the conv2d calls after a pause at 3 to 4.6 ms: the caller strays onto
    the worker's core during the call.)"""
    workers = place_workers() if _worker_cpus is None else _worker_cpus
    if not workers or not (long or _sched_getcpu() in workers):
        return kernel(*args)
    own = os.sched_getaffinity(0)
    os.sched_setaffinity(0, _caller_cpus)
    try:
        return kernel(*args)
    finally:
        os.sched_setaffinity(0, own)
