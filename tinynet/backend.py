"""Which kernel table computes an op: the one for its inputs' device.

A tensor lives on a device: ``cpu`` (NumPy arrays) or ``cuda`` (CuPy arrays). An op runs its kernels on its
inputs' device: CuPy arrays on the ``cupy`` backend, NumPy arrays on the CPU backend chosen with
``set_backend`` (``numpy``, the reference and the default, or ``numba``); ``for_arrays(*arrays)`` is that
lookup. A backend replaces kernels one for one, and any kernel it lacks falls back to the reference. A kernel
may declare the floating dtypes it computes (``kernel.dtypes``, e.g. numba's pools and convolutions: Numba
compiles no float16); inputs of another floating dtype go to the reference, with a warning once per dtype, and
``tinynet info`` lists those kernels.

``set_backend("cupy")`` (or ``set_default_device("cuda")``) makes ``cuda`` the device of new tensors;
``active()`` is the table for new tensors' device, for the few places that create data. Backend modules
are imported lazily, so importing tinynet imports neither numba nor cupy. Choose with ``set_backend``,
``use_backend`` (a context manager) or the ``TINYNET_BACKEND`` environment variable.
"""

import contextlib
import functools
import importlib
import os
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator

import numpy as np

from kernels import numpy_ref
from tinynet import device as devices
from tinynet import threads
from tinynet.errors import ArgumentTypeError, BackendError

MODULES = {"numpy": "kernels.numpy_ref", "numba": "kernels.numba_cpu", "cupy": "kernels.cupy_gpu"}


class Backend:
    """A kernel table: one attribute per kernel name, the backend's own or the reference's.

    ``backend.xp`` is the array library its tensors hold; ``overrides`` the kernels it replaces, ``fallbacks``
    those it lacks; ``dtype_limits`` {kernel: the floating dtypes it computes} for the overrides that declare them
    (other floating dtypes go to the reference), and ``dtype_fallbacks`` the dtypes that went there so far.
    """

    def __init__(self, name: str, module) -> None:
        self.name = name
        self.module = module
        self.xp = module.array_module()
        # The reference neither overrides nor falls back: it is the table everyone else is measured by.
        self.overrides = _overrides(module)
        self.fallbacks = () if module is numpy_ref else tuple(k for k in numpy_ref.KERNELS if k not in self.overrides)
        self.dtype_limits: dict[str, tuple[str, ...]] = {}
        self.dtype_fallbacks: set[str] = set()
        for kernel in numpy_ref.KERNELS:
            reference = getattr(numpy_ref, kernel)
            own = getattr(module, kernel, reference)
            if own is not reference and getattr(own, "dtypes", None) is not None:
                self.dtype_limits[kernel] = tuple(np.dtype(d).name for d in own.dtypes)
                own = _within_dtypes(self, own, reference)
            setattr(self, kernel, own)

    def __repr__(self) -> str:
        limited = f", some float dtypes only for {len(self.dtype_limits)}" if self.dtype_limits else ""
        return f"Backend({self.name!r}, overrides={len(self.overrides)}, falls back for {len(self.fallbacks)}{limited})"

    def fell_back_for(self, dtype: np.dtype) -> None:
        """Record that inputs of ``dtype`` went to the reference; warn the first time, naming every kernel that
        does so (not only the one that ran first), so that a float16 model says it once, not once per layer."""
        if dtype.name in self.dtype_fallbacks:
            return
        self.dtype_fallbacks.add(dtype.name)
        kernels = [k for k, dtypes in self.dtype_limits.items() if dtype.name not in dtypes]
        warnings.warn(
            f"backend {self.name!r} has no {dtype.name} kernels for {', '.join(kernels)}: those run on the "
            f"reference (numpy) kernels for {dtype.name} inputs (`tinynet info` lists them)",
            UserWarning,
            stacklevel=3,
        )


def _within_dtypes(table: Backend, kernel: Callable, reference: Callable) -> Callable:
    """``kernel``, except that inputs of a floating dtype it does not declare go to ``reference``, recorded in
    ``table`` (a check of a few arguments' dtypes: the kernels that declare dtypes are the heavy ones)."""
    computes = frozenset(np.dtype(d) for d in kernel.dtypes)

    @functools.wraps(kernel)  # its name and docstring, and __wrapped__: the backend's own kernel
    def kernel_or_reference(*args, **kwargs):
        for arg in args:
            dtype = getattr(arg, "dtype", None)
            if dtype is not None and dtype.kind == "f" and dtype not in computes:
                table.fell_back_for(dtype)
                return reference(*args, **kwargs)
        return kernel(*args, **kwargs)

    return kernel_or_reference


def _overrides(module) -> tuple[str, ...]:
    return () if module is numpy_ref else tuple(k for k in numpy_ref.KERNELS if hasattr(module, k))


def overrides(name: str) -> tuple[str, ...]:
    """The kernels backend ``name`` computes itself, read from its package without checking that it can run
    here (so cupy's are known without a GPU). Raises ImportError when the package cannot be imported."""
    return _overrides(importlib.import_module(MODULES[name]))


_loaded: dict[str, Backend] = {}


def load(name: str) -> Backend:
    """The backend called ``name``, imported on first use. Raises BackendError if unknown or unusable."""
    if name in _loaded:
        return _loaded[name]
    if name not in MODULES:
        raise BackendError(f"unknown backend {name!r}; choose one of: {', '.join(MODULES)}")
    try:
        module = importlib.import_module(MODULES[name])
        module.check_available()
    except (ImportError, RuntimeError) as err:
        raise BackendError(f"backend {name!r} is not usable here: {err}") from None
    if threads.requested() is not None and hasattr(module, "set_num_threads"):  # tn.set_num_threads came first
        module.set_num_threads(threads.requested())
    _loaded[name] = Backend(name, module)
    return _loaded[name]


class _Choice:
    """What set_backend chose, by name: the backend for CPU arrays, the one for GPU arrays (cupy) and whether
    new tensors go to the GPU. Names, not tables: the table for a name is always ``load(name)``'s."""

    __slots__ = ("cpu", "gpu", "new_on_gpu")

    def __init__(self, cpu: str, gpu: str = "cupy", new_on_gpu: bool = False) -> None:
        self.cpu, self.gpu, self.new_on_gpu = cpu, gpu, new_on_gpu


class _PerThread(threading.local):
    """Each thread's own choice, as PyTorch's default device is per thread: set_backend or use_backend in one
    thread never changes another's. A thread starts from TINYNET_BACKEND (else numpy) and the CPU."""

    def __init__(self) -> None:
        self.choice: _Choice | None = None


_thread = _PerThread()


def _chosen() -> _Choice:
    if _thread.choice is None:  # this thread's first use: TINYNET_BACKEND, else numpy
        _thread.choice = _with(_Choice("numpy"), os.environ.get("TINYNET_BACKEND", "numpy") or "numpy")
    return _thread.choice


def _with(choice: _Choice, name: str) -> _Choice:
    """``choice`` with backend ``name`` set (BackendError if it cannot run here). A CPU backend (its arrays are
    NumPy's, as numpy's and numba's) computes CPU arrays and new tensors go to the CPU; a GPU backend computes
    GPU arrays and new tensors go to the GPU (the CPU backend stays as it was)."""
    if load(name).xp is np:
        return _Choice(name, choice.gpu, new_on_gpu=False)
    return _Choice(choice.cpu, name, new_on_gpu=True)


def active() -> Backend:
    """The table for new tensors' device: the GPU backend after set_backend("cupy") or
    set_default_device("cuda"), else the chosen CPU backend. Ops pick theirs with ``for_arrays``."""
    choice = _chosen()
    return load(choice.gpu if choice.new_on_gpu else choice.cpu)


def cpu() -> Backend:
    """The table that computes on CPU (NumPy) arrays: numpy unless set_backend chose another."""
    return load(_chosen().cpu)


def gpu() -> Backend:
    """The table that computes on CUDA (CuPy) arrays: cupy. Raises BackendError saying why where none runs."""
    return load(_chosen().gpu)


def for_arrays(*arrays) -> Backend:
    """The kernel table for ``arrays``' device: the cupy backend's for CuPy arrays, else the chosen CPU
    backend's. Entries that are not arrays (None, numbers) are skipped. Raises BackendError naming the op and
    both devices when the arrays live on two devices, as PyTorch refuses to mix them."""
    on_cpu = on_gpu = False
    for array in arrays:
        kind = type(array)
        if kind is np.ndarray:  # the common case first: a plain NumPy array
            on_cpu = True
        elif kind.__module__.startswith("cupy"):
            on_gpu = True
        elif isinstance(array, (np.ndarray, np.generic)):
            on_cpu = True
    if on_gpu:
        if on_cpu:
            raise BackendError(device_mix_message(_calling_op(), arrays))
        return gpu()
    return cpu()


def device_of(array) -> str:
    """The device an array lives on, as PyTorch prints it: "cpu", or "cuda:N" for a CuPy array."""
    if not type(array).__module__.startswith("cupy"):
        return "cpu"
    return f"cuda:{getattr(getattr(array, 'device', None), 'id', 0)}"


def device_mix_message(op: str, arrays) -> str:
    """PyTorch's words for an op whose inputs live on two devices, naming the op and the devices."""
    found = list(dict.fromkeys(device_of(a) for a in arrays if hasattr(a, "shape") and hasattr(a, "dtype")))
    first, second = [*found, "cpu"][:2]
    return (
        f"{op}: expected all tensors to be on the same device, but found at least two devices, {first} and "
        f"{second}; move them to one first, e.g. x.to({second!r}) or model.to({second!r})"
    )


def _calling_op() -> str:
    """The name of the op whose forward or backward called for_arrays, read off the stack (only when raising:
    so that each kernel call stays one short ``backend.for_arrays(x)``), e.g. "relu" for Relu.forward."""
    frame = sys._getframe(2)
    while frame is not None:
        qualname = getattr(frame.f_code, "co_qualname", frame.f_code.co_name)  # co_qualname: Python 3.11+
        parts = qualname.split(".")
        if len(parts) > 1 and parts[1] in ("forward", "backward"):
            return parts[0].lower() + (" (backward)" if parts[1] == "backward" else "")
        frame = frame.f_back
    return "an op"


def set_backend(name: str) -> None:
    """Make ``name`` the backend from now on: "numpy" or "numba" compute CPU tensors (and new tensors go to
    the CPU); "cupy" computes CUDA tensors and makes ``cuda`` the device of new tensors, as
    ``set_default_device("cuda")``. Raises BackendError (changing nothing) where ``name`` cannot run. It is this
    thread's choice: other threads keep theirs."""
    _thread.choice = _with(_chosen(), name)


def get_backend() -> str:
    """The name of the backend of new tensors' device ("numpy", "numba" or "cupy")."""
    return active().name


@contextlib.contextmanager
def use_backend(name: str) -> Iterator[Backend]:
    """Run the ``with`` block on backend ``name`` (as set_backend), then restore this thread's previous choice."""
    previous = _chosen()
    _thread.choice = _with(previous, name)
    try:
        yield load(name)
    finally:
        _thread.choice = previous


def set_default_device(device) -> None:
    """PyTorch's ``torch.set_default_device``: where factories (zeros, randn, tensor...) put new tensors that
    are given no ``device=``: "cpu" (or None) or "cuda" (raises BackendError saying why where no GPU runs)."""
    kind, choice = "cpu" if device is None else _device_type(device), _chosen()
    if kind == "cuda":
        gpu()  # raises, saying why, where no GPU runs
    _thread.choice = _Choice(choice.cpu, choice.gpu, new_on_gpu=kind == "cuda")


def get_default_device() -> devices.device:
    """The device of new tensors: device(type='cpu'), or device(type='cuda', index=0)."""
    return devices.device("cuda", 0) if _chosen().new_on_gpu else devices.device("cpu")


def for_device(device) -> Backend:
    """The table whose arrays live on ``device`` ("cpu", "cuda", "cuda:0", a tn.device; None: the default
    device). Raises ArgumentError for an unknown device, BackendError where CUDA cannot run here."""
    if device is None:
        return active()
    return gpu() if _device_type(device) == "cuda" else cpu()


def _device_type(device) -> str:
    parsed = devices.device(device) if isinstance(device, (str, int, devices.device)) else None
    if parsed is None:
        raise ArgumentTypeError(f"expected a device such as 'cpu', 'cuda' or tn.device('cuda'), got {device!r}")
    if parsed.type == "cuda" and parsed.index not in (None, 0):
        gpu()  # no GPU at all: say that first
        raise BackendError(f"device {parsed}: tinynet runs on one GPU, cuda:0 (several GPUs are not supported)")
    return parsed.type


def status(name: str) -> tuple[bool, str]:
    """(usable, reason): whether backend ``name`` can run here, and why not when it cannot."""
    try:
        load(name)
    except BackendError as err:
        return False, str(err)
    return True, ""


def warmup(name: str | None = None) -> float:
    """Compile every kernel of backend ``name`` (the active one by default) now, not at first use.

    JIT backends compile a kernel on its first call (or load it from their disk cache); warming up keeps
    that cost out of timings. Prints and returns the seconds it took.
    """
    chosen = load(name) if name else active()
    start = time.perf_counter()
    if hasattr(chosen.module, "warmup"):
        chosen.module.warmup()
    seconds = time.perf_counter() - start
    print(f"warmup: backend {chosen.name!r} compiled or loaded its kernels in {seconds:.2f} s")
    return seconds
