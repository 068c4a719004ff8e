"""The backend switch: which kernel module computes the heavy ops.

``numpy`` (the reference) is the default; ``numba`` and ``cupy`` replace kernels one for one, and any
kernel a backend lacks falls back to the reference. Backend modules are imported lazily, so importing
tinynet imports neither numba nor cupy. Choose with ``set_backend``, ``use_backend`` (a context
manager) or the ``TINYNET_BACKEND`` environment variable.
"""

import contextlib
import importlib
import os
import time
from collections.abc import Iterator

from kernels import numpy_ref
from tinynet.errors import BackendError

MODULES = {"numpy": "kernels.numpy_ref", "numba": "kernels.numba_cpu", "cupy": "kernels.cupy_gpu"}


class Backend:
    """A kernel table: one attribute per kernel name, the backend's own or the reference's.

    ``backend.xp`` is the array library its tensors hold; ``overrides`` the kernels it replaces.
    """

    def __init__(self, name: str, module) -> None:
        self.name = name
        self.module = module
        self.xp = module.array_module()
        # The reference neither overrides nor falls back: it is the table everyone else is measured by.
        self.overrides = _overrides(module)
        self.fallbacks = () if module is numpy_ref else tuple(k for k in numpy_ref.KERNELS if k not in self.overrides)
        for kernel in numpy_ref.KERNELS:
            setattr(self, kernel, getattr(module, kernel, getattr(numpy_ref, kernel)))

    def __repr__(self) -> str:
        return f"Backend({self.name!r}, overrides={len(self.overrides)}, falls back for {len(self.fallbacks)})"


def _overrides(module) -> tuple[str, ...]:
    return () if module is numpy_ref else tuple(k for k in numpy_ref.KERNELS if hasattr(module, k))


def overrides(name: str) -> tuple[str, ...]:
    """The kernels backend ``name`` computes itself, read from its package without checking that it can run
    here (so cupy's are known without a GPU). Raises ImportError when the package cannot be imported."""
    return _overrides(importlib.import_module(MODULES[name]))


_loaded: dict[str, Backend] = {}
_active: Backend | None = None


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
    _loaded[name] = Backend(name, module)
    return _loaded[name]


def active() -> Backend:
    """The backend ops run on now (from TINYNET_BACKEND on first use, else numpy)."""
    global _active
    if _active is None:
        _active = load(os.environ.get("TINYNET_BACKEND", "numpy") or "numpy")
    return _active


def set_backend(name: str) -> None:
    """Make ``name`` ("numpy", "numba" or "cupy") the backend for every op from now on."""
    global _active
    _active = load(name)


def get_backend() -> str:
    """The name of the active backend."""
    return active().name


@contextlib.contextmanager
def use_backend(name: str) -> Iterator[Backend]:
    """Run the ``with`` block on backend ``name``, then restore the previous one."""
    global _active
    previous = _active
    _active = load(name)
    try:
        yield _active
    finally:
        _active = previous


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
