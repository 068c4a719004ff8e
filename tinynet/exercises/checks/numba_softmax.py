"""Checks of exercise `numba_softmax`: softmax_rows is a Numba kernel (njit, parallel=True, the rows in prange), it
gives the reference kernel's softmax (kernels/numpy_ref/softmax.py) on drawn shapes in float32 and float64, keeping
the dtype, and stays finite on rows of values near ±1000."""

import numpy as np
from hypothesis import strategies as st

from kernels.numpy_ref.softmax import softmax_forward
from tinynet.exercises.grading import WrongAnswerError, expect_close, on_drawn, part

# (rows, cols, float32?, seed)
SHAPES = st.tuples(st.integers(1, 6), st.integers(1, 40), st.booleans(), st.integers(0, 2**16))


@part("softmax_rows is compiled by Numba: njit(parallel=True), the rows in prange")
def compiled(learner) -> None:
    from kernels.numba_cpu.introspect import describe  # (only kernels/ imports numba)

    fn = learner.softmax_rows
    if not describe(fn)["compiled"]:
        raise WrongAnswerError(
            f"softmax_rows is a {type(fn).__name__}, not a Numba-compiled function",
            "decorate it with @numba.njit(parallel=True), as in the skeleton",
        )
    if not describe(fn)["parallel"]:
        raise WrongAnswerError(
            "softmax_rows is compiled without parallel=True", "decorate it with @numba.njit(parallel=True)"
        )
    fn(np.zeros((2, 3)))
    if not describe(fn)["user_pranges"]:
        raise WrongAnswerError(
            "softmax_rows has no prange loop: its rows run one after another on one thread",
            "loop over the rows with `for i in prange(rows)` (from numba import prange), not range",
        )


def _hint(x: np.ndarray, got: np.ndarray, expected: np.ndarray) -> str:
    x64 = x.astype(np.float64)
    if not np.isfinite(got).all():
        with np.errstate(all="ignore"):
            shifted = np.exp(x64 - x64.max())
            whole_max = shifted / shifted.sum(-1, keepdims=True)
        if np.allclose(got, whole_max, rtol=1e-4, atol=1e-6, equal_nan=True):
            return (
                "your values turn to 0/0: subtract each row's own max, not the whole matrix's (a row far below it "
                "has exp() = 0 everywhere)"
            )
        return "your values overflow to inf or nan: subtract the row's max before exp (exp(x - max))"
    if np.allclose(got, softmax_forward(x64, axis=0), rtol=1e-4, atol=1e-6):
        return "you normalised over the columns (axis 0): each ROW of y must sum to 1"
    if np.allclose(got, np.exp(x64 - x64.max(-1, keepdims=True)), rtol=1e-4, atol=1e-6):
        return "y is exp(x - max) without dividing by the row's sum"
    if not np.allclose(got.sum(-1), 1.0, rtol=1e-4):
        return "a row of y does not sum to 1: divide each row by its own sum of exp(x - max)"
    return "compare your kernel with the formula in the docstring, on a small input"


def _expect_softmax(learner, x: np.ndarray, what: str) -> None:
    got = learner.softmax_rows(x)
    failure = None
    if not isinstance(got, np.ndarray) or got.dtype != x.dtype:
        failure = WrongAnswerError(
            f"{what}: returned {type(got).__name__} of dtype {getattr(got, 'dtype', None)}, expected a {x.dtype} array",
            "y keeps x's dtype: make it with np.empty_like(x) (np.empty(shape) is float64)",
        )
    else:
        tolerance = dict(rtol=1e-4, atol=1e-6) if x.dtype == np.float32 else dict(rtol=1e-9, atol=1e-12)
        expected = softmax_forward(x.astype(np.float64), axis=-1)
        try:
            expect_close(f"{what}: y", got, expected, **tolerance, hint=_hint(x, got, expected))
        except WrongAnswerError as err:
            failure = err
    if failure is not None:  # raised from one place, so that hypothesis sees one kind of failure
        raise WrongAnswerError(failure.message, failure.hint)


@part("drawn shapes, float32 and float64: the reference softmax, in x's dtype")
def drawn(learner) -> None:
    def check(shape):
        rows, cols, single, seed = shape
        x = np.random.default_rng(seed).standard_normal((rows, cols)) * 3
        x = x.astype(np.float32 if single else np.float64)
        _expect_softmax(learner, x, f"softmax_rows of a ({rows}, {cols}) {x.dtype} array")

    on_drawn(check, SHAPES, examples=12)


@part("stable: rows of values near 1000 and -1000 give no inf or NaN")
def stable(learner) -> None:
    for dtype in (np.float64, np.float32):
        x = np.random.default_rng(3).standard_normal((3, 50))
        x[0] += 1000
        x[1] -= 1000
        x[2, ::5] += 900
        _expect_softmax(learner, x.astype(dtype), f"softmax_rows of rows near 1000, -1000 and 900 ({dtype.__name__})")
