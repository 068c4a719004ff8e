"""Checks of exercise `cuda_softmax`: the kernel compiles, computes the softmax of rows of drawn sizes as the
reference kernel (kernels/numpy_ref/softmax.py) does, touching nothing outside the matrix, and stays finite on
rows of values near ±1000.

The kernel runs on a GPU with CuPy (cupy.RawKernel) where one is usable, and otherwise on kernels/cuda_emulator.py,
the CPU stand-in for CUDA the project's tests use (each thread a fiber, barriers as on a GPU: a missing
__syncthreads gives wrong sums there as it would on a GPU).
"""

import functools

import numpy as np
from hypothesis import strategies as st

from kernels.numpy_ref.softmax import softmax_forward
from tinynet.exercises.grading import WrongAnswerError, expect_close, on_drawn, part
from tinynet.exercises.registry import find

# (rows, cols, seed): columns both fewer and more than the threads of a block.
SHAPES = st.tuples(st.integers(1, 5), st.integers(1, 300), st.integers(0, 2**16))
PADDING = 4096  # elements after the matrix in x and y: a wrong offset reads and writes there, not out of bounds


def _gpu():
    """cupy, when a GPU is usable here; else None."""
    from tinynet import backend

    usable, _ = backend.status("cupy")
    return backend.load("cupy").xp if usable else None  # (cupy, loaded by kernels/cupy_gpu)


@functools.cache
def _compiled(source: str, threads: int):
    """The learner's kernel, compiled: (kernel, cupy or None)."""
    cupy = _gpu()
    options = (f"-DTHREADS={threads}",)
    if cupy is not None:
        kernel = cupy.RawKernel(source, "softmax_rows", options=options)
        kernel.compile()
        return kernel, cupy
    from kernels import cuda_emulator

    if cuda_emulator.COMPILER is None:
        raise WrongAnswerError(
            "your kernel cannot run here: no CUDA GPU usable with CuPy, and no g++ for the CPU stand-in for CUDA",
            "install g++ (apt-get install g++), or check on a machine with an NVIDIA GPU and cupy",
        )
    return cuda_emulator.RawKernel(source, "softmax_rows", options), None


def _kernel(learner):
    """The learner's compiled kernel and block size; WrongAnswerError saying so if SOURCE is the skeleton's or
    does not compile."""
    source, threads = getattr(learner, "SOURCE", None), getattr(learner, "THREADS", 128)
    if not isinstance(source, str):
        raise WrongAnswerError("the file has no SOURCE string", "SOURCE holds the kernel's CUDA C++ source")
    skeleton: dict = {}
    exec(find("cuda_softmax").skeleton(), skeleton)  # (the skeleton is a template, not a module)
    if source == skeleton["SOURCE"]:
        raise WrongAnswerError(
            "not written yet: softmax_rows in SOURCE is still the skeleton's",
            "write the kernel where the // TODO comments are in SOURCE",
        )
    if not isinstance(threads, int) or threads < 1 or threads > 1024 or threads & (threads - 1):
        raise WrongAnswerError(f"THREADS = {threads!r}", "THREADS must be a power of two from 1 to 1024 (say 128)")
    try:
        return (*_compiled(source, threads), threads)
    except WrongAnswerError:
        raise
    except Exception as err:
        raise WrongAnswerError(
            f"SOURCE does not compile: {str(err)[-3000:]}",
            'read the first error; the kernel is declared extern "C" __global__ void softmax_rows(const float* x, '
            "float* y, int rows, int cols)",
        ) from None


def _run(learner, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The learner's kernel on float32 x (rows, cols): (y, what it left in the padding after y)."""
    kernel, cupy, threads = _kernel(learner)
    rows, cols = x.shape
    x_flat = np.concatenate([x.ravel(), np.full(PADDING, 7.0)]).astype(np.float32)
    y_flat = np.full(rows * cols + PADDING, np.nan, dtype=np.float32)
    args = (np.int32(rows), np.int32(cols))
    if cupy is not None:
        x_dev, y_dev = cupy.asarray(x_flat), cupy.asarray(y_flat)
        kernel((rows,), (threads,), (x_dev, y_dev, *args))
        y_flat = cupy.asnumpy(y_dev)
    else:
        kernel((rows,), (threads,), (x_flat, y_flat, *args))
    return y_flat[: rows * cols].reshape(rows, cols), y_flat[rows * cols :]


def _expect_softmax(learner, x: np.ndarray, what: str) -> None:
    """The learner's y is softmax(x); a failure raised from one place (so hypothesis sees one kind of failure)."""
    failure = None
    try:
        _compare(learner, x, what)
    except WrongAnswerError as err:
        failure = err
    if failure is not None:
        raise WrongAnswerError(failure.message, failure.hint)


def _compare(learner, x: np.ndarray, what: str) -> None:
    got, padding = _run(learner, x)
    if not np.isnan(padding).all():
        raise WrongAnswerError(
            f"{what}: the kernel wrote after the end of y (at element {x.size + int(np.argmin(np.isnan(padding)))} "
            f"of a {x.shape} matrix)",
            "check the row offset: row blockIdx.x starts at element blockIdx.x * cols (not blockDim.x), and thread t "
            "writes only j < cols",
        )
    expected = softmax_forward(x.astype(np.float64), axis=-1)
    expect_close(f"{what}: y", got, expected, atol=1e-6, rtol=1e-4, hint=_hint(x, got, expected))


def _hint(x: np.ndarray, got: np.ndarray, expected: np.ndarray) -> str:
    """What the learner's y says about the mistake."""
    close = functools.partial(np.allclose, atol=1e-6, rtol=1e-4)
    if len(got) > 1 and close(got[0], expected[0]) and not close(got, expected):
        return (
            "row 0 is right but a later row is not: check the row offset (row blockIdx.x starts at x + blockIdx.x "
            "* cols, and likewise in y)"
        )
    if np.isnan(got).any() and not np.isinf(got).any() and np.abs(x).max() < 50:
        return (
            "some values of y were never written (they are still NaN): every thread writes out[j] for its "
            "j = t, t + THREADS, ... < cols, in every row"
        )
    if not np.isfinite(got).all():
        return "your values overflow to inf or nan: subtract the row's max before expf (expf(x[j] - max))"
    if close(got, np.exp(x - x.max(-1, keepdims=True))):
        return "y is exp(x - max) without dividing by the row's sum: write expf(x[j] - max) / sum"
    if not close(got.sum(-1), 1.0):
        return (
            "a row of y does not sum to 1, so the sum (or the max) the block computed is wrong: __syncthreads() "
            "after the threads write buf, and after every step of the reduction, so no thread reads buf[t + s] "
            "before it is written; every thread reads buf[0] once the reduction is done"
        )
    return "compare your kernel with the steps in the docstring"


@part("the kernel compiles")
def compiles(learner) -> None:
    _kernel(learner)


@part("rows of drawn sizes: y as the reference softmax, nothing written outside y")
def drawn_rows(learner) -> None:
    def check(shape):
        rows, cols, seed = shape
        x = (np.random.default_rng(seed).standard_normal((rows, cols)) * 3).astype(np.float32)
        _expect_softmax(learner, x, f"softmax_rows on a ({rows}, {cols}) matrix")

    on_drawn(check, SHAPES, examples=12)


@part("stable: rows of values near 1000 and -1000 give no inf or NaN")
def stable(learner) -> None:
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 200)).astype(np.float32)
    x[0] += 1000
    x[1] -= 1000
    x[2, ::7] += 950
    _expect_softmax(learner, x, "softmax_rows on rows near 1000, -1000, and one with a few values near 950")
