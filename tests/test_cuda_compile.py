"""Every CUDA source compiles, for the oldest and the newest GPU architecture we support, without a GPU.

NVRTC (the CUDA runtime compiler that CuPy uses) needs no device, so this runs in CI: each kernel
family of kernels/cuda, for float and double, through ``cupy.cuda.nvrtc`` with the options the backend
itself uses, for sm_75 (Turing) and sm_90 (Hopper). Compiling for sm_XX makes NVRTC generate PTX for
the virtual architecture compute_XX and then assemble it with ptxas into machine code, which also
checks that every kernel's registers and shared memory fit. The compiler's log (with ptxas's report
of each kernel's resources) is printed: pytest shows it with -s, or on failure.
"""

import re

import pytest

from kernels import cupy_gpu

ARCHITECTURES = ["sm_75", "sm_90"]
STATIC_SHARED_MEMORY_LIMIT = 48 * 1024  # bytes a block may declare with __shared__ on every architecture


def _nvrtc():
    """cupy.cuda.nvrtc, or a skip saying what is missing (the gpu extra installs both)."""
    try:
        from cupy.cuda import nvrtc
    except ImportError as err:
        pytest.skip(f'cupy is not installed ({err}); pip install -e ".[gpu]" to compile the CUDA kernels')
    try:
        nvrtc.getVersion()
    except (RuntimeError, OSError) as err:
        pytest.skip(f"NVRTC cannot be loaded ({err}); pip install nvidia-cuda-nvrtc-cu12")
    return nvrtc


def _compile(nvrtc, source: str, name: str, options: tuple[str, ...]) -> tuple[str, str]:
    """(log, ptx) of one compilation; raises AssertionError with the log when it fails."""
    program = nvrtc.createProgram(source, name, [], [])
    try:
        try:
            nvrtc.compileProgram(program, list(options))
        except nvrtc.NVRTCError as err:
            raise AssertionError(f"{name} {' '.join(options)} failed: {err}\n{nvrtc.getProgramLog(program)}") from None
        nvrtc.getCUBIN(program)  # the machine code exists (ptxas ran)
        return nvrtc.getProgramLog(program), nvrtc.getPTX(program).decode()
    finally:
        nvrtc.destroyProgram(program)


@pytest.mark.parametrize("dtype", sorted(cupy_gpu.C_TYPES, key=str), ids=str)
@pytest.mark.parametrize("arch", ARCHITECTURES)
@pytest.mark.parametrize("family", cupy_gpu.FAMILIES)
def test_every_kernel_family_compiles(family, arch, dtype):
    nvrtc = _nvrtc()
    source = cupy_gpu.source(family)
    options = (*cupy_gpu.compile_options(dtype), f"--gpu-architecture={arch}", "--ptxas-options=-v")
    log, ptx = _compile(nvrtc, source, f"{family}.cu", options)
    print(f"\nnvrtc {'.'.join(map(str, nvrtc.getVersion()))} {family}.cu {' '.join(options)}:\n{log.strip()}")
    assert "warning" not in log, log
    assert f".target {arch}" in ptx  # PTX for compute_XX names its target sm_XX
    for used in re.findall(r"(\d+) bytes smem", log):
        assert int(used) <= STATIC_SHARED_MEMORY_LIMIT, log
    # Every kernel keeps its C name (extern "C"), which is how kernels/cupy_gpu asks for it.
    kernels = re.findall(r'extern "C" __global__ void (\w+)\(', source)
    assert kernels
    for kernel in kernels:
        assert re.search(rf"\.entry {kernel}\(", ptx), f"{kernel} is missing from the PTX of {family}.cu"


def test_every_family_has_a_source_and_every_source_a_family():
    on_disk = {path.stem for path in cupy_gpu.CUDA_DIR.glob("*.cu")}
    assert on_disk == set(cupy_gpu.FAMILIES)
    for family in cupy_gpu.FAMILIES:
        assert '#include "common.cuh"' not in cupy_gpu.source(family)  # pasted in, so NVRTC needs no include path


def test_a_compile_error_is_reported_with_the_compiler_log():
    nvrtc = _nvrtc()
    broken = cupy_gpu.source("activations").replace("y[i] = math_tanh(x[i]);", "y[i] = math_tanh(x[i])")
    with pytest.raises(AssertionError, match=r"(?s)activations\.cu .*failed.*expected a \";\""):
        _compile(nvrtc, broken, "activations.cu", (*cupy_gpu.compile_options("float32"), "--gpu-architecture=sm_75"))
