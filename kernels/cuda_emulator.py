"""Run CUDA kernels on the CPU, to test their logic on a machine without a GPU.

Every kernel family is compiled with g++ as C++, with cuda_emulator.h standing in for CUDA, into one
shared library per dtype, and ``EmulatedKernel`` launches a kernel as ``cupy.RawKernel`` would:
``kernel(grid, block, args)``, with NumPy arrays where CuPy would take device arrays. Patching
``kernels.cupy_gpu.common._kernel`` to ``emulated_kernel``, and cupy to NumPy in every module of
kernels.cupy_gpu (test_cupy_backend.patch_cupy), then runs the whole CuPy backend, Python launch code
included, on the CPU (tests/test_cupy_emulated.py). ``RawKernel(source, name)`` does the same for any one
source, as ``cupy.RawKernel`` would (the `cuda_softmax` exercise's checks run a learner's kernel with it).
Needs g++ (``COMPILER`` is None without it).
"""

import atexit
import ctypes
import functools
import hashlib
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from kernels import cupy_gpu

HEADER = Path(__file__).with_name("cuda_emulator.h")
COMPILER = shutil.which("g++")
_SCALARS = {
    np.int32: ctypes.c_int32,
    np.int64: ctypes.c_int64,
    np.float32: ctypes.c_float,
    np.float64: ctypes.c_double,
}
_build_dir = Path(tempfile.mkdtemp(prefix="tinynet-cuda-emulator-"))
atexit.register(shutil.rmtree, _build_dir, ignore_errors=True)


def _launchers(namespace: str, source: str) -> str:
    """``source`` in a namespace of its own, and a C entry point ``emu_launch_<kernel>(dims, args)`` for each of
    its kernels."""
    names = re.findall(r'extern\s+"C"\s+__global__\s+void\s+(\w+)\s*\(', source)
    launchers = "\n".join(
        f'extern "C" int emu_launch_{name}(const unsigned* dims, void** args) '
        f"{{ return emu::launch(dims, [=] {{ emu::call({namespace}::{name}, args); }}); }}"
        for name in names
    )
    return f"namespace {namespace} {{\n{source}\n}}\n{launchers}\n"


def _with_launchers(family: str) -> str:
    """One family's source with its launchers (kernel names are unique across families)."""
    return _launchers(family, cupy_gpu.source(family).replace("#pragma once", ""))


def _build(source: str, defines: list[str], stem: str) -> ctypes.CDLL:
    """``source`` compiled with g++, cuda_emulator.h standing in for CUDA, as a loaded shared library; a
    RuntimeError with the compiler's messages if it does not compile."""
    if COMPILER is None:
        raise RuntimeError("the CPU stand-in for CUDA needs g++, and there is none on the PATH")
    path = _build_dir / f"{stem}.so"
    cpp = path.with_suffix(".cpp")
    cpp.write_text(source)
    command = [COMPILER, "-std=c++20", "-O1", "-shared", "-fPIC", "-include", str(HEADER)]
    built = subprocess.run([*command, *defines, "-o", str(path), str(cpp)], capture_output=True, text=True)
    if built.returncode:
        raise RuntimeError(f"g++ could not build the emulated kernels ({stem}):\n{built.stderr}")
    return ctypes.CDLL(str(path))


@functools.cache
def library(dtype_name: str) -> ctypes.CDLL:
    """Every kernel family compiled for the CPU, as one library, with scalar_t = the C type of ``dtype_name``."""
    source = "".join(_with_launchers(family) for family in cupy_gpu.FAMILIES)
    defines = [o for o in cupy_gpu.compile_options(dtype_name) if o.startswith("-D")]  # scalar_t
    return _build(source, defines, f"kernels-{dtype_name}")


@functools.cache
def _source_library(source: str, options: tuple[str, ...]) -> ctypes.CDLL:
    defines = [o for o in options if o.startswith("-D")]  # the rest are NVRTC's own (-std=..., --use_fast_math)
    return _build(_launchers("user", source), defines, f"source-{hashlib.sha1(source.encode()).hexdigest()[:12]}")


def _pointer_to(value) -> ctypes.c_void_p | ctypes._SimpleCData:
    """The C value of one kernel argument (what the kernel's parameter holds)."""
    if value is None:
        return ctypes.c_void_p(None)
    if isinstance(value, np.ndarray):
        return ctypes.c_void_p(value.ctypes.data)
    return _SCALARS[type(value)](value)


class EmulatedKernel:
    """One kernel of a family's CPU library, called like ``cupy.RawKernel``: ``kernel(grid, block, args)``."""

    def __init__(self, family: str, name: str, dtype_name: str) -> None:
        self.launch = getattr(library(dtype_name), f"emu_launch_{name}")
        self.name = name

    def __call__(self, grid: tuple, block: tuple, args: tuple, shared_mem: int = 0) -> None:
        dims = (ctypes.c_uint * 6)(*(*grid, 1, 1)[:3], *(*block, 1, 1)[:3])
        values = [_pointer_to(a) for a in args]  # kept alive until the launch returns
        pointers = (ctypes.c_void_p * len(values))(*(ctypes.addressof(v) for v in values))
        if self.launch(dims, pointers):
            raise RuntimeError(f"{self.name}: deadlock: its threads wait at barriers that can never open")


class RawKernel(EmulatedKernel):
    """``cupy.RawKernel(code, name, options)`` on the CPU: kernel ``name`` (declared ``extern "C" __global__``) of
    the CUDA C++ ``code``, compiled with g++ (once per code and options); ``-D`` options are passed on. Its
    arguments: NumPy arrays where CuPy takes device arrays, and NumPy scalars (np.int32, np.float32...) typed as
    the kernel's parameters."""

    def __init__(self, code: str, name: str, options: tuple[str, ...] = ()) -> None:
        library = _source_library(code, tuple(options))
        try:
            self.launch = getattr(library, f"emu_launch_{name}")
        except AttributeError:
            raise RuntimeError(f'no kernel declared `extern "C" __global__ void {name}(` in the source') from None
        self.name = name


def emulated_kernel(family: str, name: str, dtype_name: str) -> EmulatedKernel:
    """A stand-in for ``kernels.cupy_gpu.common._kernel``."""
    return EmulatedKernel(family, name, dtype_name)
