"""What the checks of an exercise are made of: parts, failures that say what is wrong, and comparisons.

A checks module (``checks/NAME.py``) marks its parts with ``@part("title")``; each takes the learner's module and
raises ``WrongAnswerError`` (or lets the learner's own error through) when something is wrong. The comparisons
below raise one naming the output or gradient, the worst index, the expected and the learner's value, and a hint:
the exercise's own, or one read off the numbers (a flipped sign, a factor, a transpose, a missing sum).
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType

import numpy as np

from tinynet.errors import NotImplementedOpError
from tinynet.tensor import Tensor, to_host


class WrongAnswerError(Exception):
    """A part's check failed: ``message`` says what is wrong and where, ``hint`` what the mistake likely is."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message, self.hint = message, hint


def part(title: str) -> Callable:
    """Mark a function ``check(learner)`` of a checks module as one part, graded PASS or FAIL under ``title``."""

    def mark(check: Callable[[ModuleType], None]) -> Callable[[ModuleType], None]:
        check.part_title = title
        return check

    return mark


def parts(checks: ModuleType) -> list[tuple[str, Callable]]:
    """The parts of a checks module, in the order they are written."""
    return [(f.part_title, f) for f in vars(checks).values() if callable(f) and hasattr(f, "part_title")]


def as_array(value, what: str) -> np.ndarray:
    """A learner's result as a float64 (or integer) NumPy array; WrongAnswerError if it is not a number or array."""
    if isinstance(value, Tensor):
        value = to_host(value.array)
    elif hasattr(value, "detach") and hasattr(value, "numpy"):  # a PyTorch tensor
        value = value.detach().numpy()
    if value is None:
        raise WrongAnswerError(f"{what}: got None", "a function that computes a value must `return` it")
    try:
        array = np.asarray(value)
    except Exception as err:
        raise WrongAnswerError(f"{what}: got {type(value).__name__}, not numbers ({err})") from None
    if array.dtype.kind not in "biuf":
        raise WrongAnswerError(f"{what}: got {type(value).__name__} of dtype {array.dtype}, not numbers")
    return array.astype(np.float64) if array.dtype.kind == "f" else array


def expect_close(what: str, got, expected, *, atol: float = 1e-6, rtol: float = 1e-5, hint: str = "") -> None:
    """``got`` (the learner's) equals ``expected`` within atol + rtol |expected|, element by element; else a
    WrongAnswerError naming the worst index, both values and how many elements are off."""
    got, expected = as_array(got, what), as_array(expected, f"{what} (expected)")
    if got.shape != expected.shape:
        raise WrongAnswerError(
            f"{what}: shape {got.shape}, expected {expected.shape}", hint or shape_hint(got, expected)
        )
    if got.size == 0:
        return
    with np.errstate(invalid="ignore"):
        error = np.abs(got - expected) - (atol + rtol * np.abs(expected))
    error = np.where(np.isnan(got) != np.isnan(expected), np.inf, np.nan_to_num(error, nan=-1.0, posinf=np.inf))
    off = int((error > 0).sum())
    if off == 0:
        return
    worst = np.unravel_index(int(np.argmax(error)), error.shape)
    where = f" at index {tuple(int(i) for i in worst)}" if got.ndim else ""
    raise WrongAnswerError(
        f"{what}{where}: expected {expected[worst]:.6g}, got {got[worst]:.6g} ({off} of {got.size} values differ)",
        hint or value_hint(got, expected),
    )


def value_hint(got: np.ndarray, expected: np.ndarray) -> str:
    """A likely mistake read off the numbers, or a general pointer."""
    finite = np.isfinite(got).all()
    if not finite and np.isfinite(expected).all():
        return "your values overflow to inf or nan: subtract the maximum before exp (or compute in a stable form)"
    scale = np.abs(expected).max()
    if scale > 0 and np.allclose(got, -expected, atol=1e-6 * scale, rtol=1e-4):
        return "the sign is flipped"
    nonzero = np.abs(expected) > 1e-9 * scale
    if scale > 0 and nonzero.any():
        ratios = got[nonzero] / expected[nonzero]
        if np.allclose(ratios, ratios.flat[0], rtol=1e-4) and not np.isclose(ratios.flat[0], 1, rtol=1e-4):
            return f"every value is {ratios.flat[0]:.4g} times the expected one: a constant factor is off"
    if got.ndim == 2 and got.shape[0] == got.shape[1] and np.allclose(got.T, expected, rtol=1e-4, atol=1e-6):
        return "you have the transpose"
    if not got.any() and expected.any():
        return "all your values are zero: is a result computed but not returned, or a gradient not accumulated?"
    return "compare your formula with the docstring, one step at a time, on a small input"


def shape_hint(got: np.ndarray, expected: np.ndarray) -> str:
    if got.ndim > expected.ndim or any(g != e and e == 1 for g, e in zip(got.shape[::-1], expected.shape[::-1])):
        return (
            "a gradient must have its input's shape: where the input was broadcast in the forward pass, sum the "
            "gradient over the broadcast axes"
        )
    if sorted(got.shape) == sorted(expected.shape):
        return "the axes are in another order: check your transposes and reshapes"
    return "check the shapes in the docstring"


def input_gradients(fn: Callable[..., Tensor], arrays: Sequence[np.ndarray], seed: int = 0):
    """fn's output and the gradients of a fixed random projection of it with respect to each input array (as
    float64 tensors that require grad): (output array, [gradient array or None per input])."""
    inputs = [Tensor(np.array(a, dtype=np.float64), requires_grad=True) for a in arrays]
    output = fn(*inputs)
    if not isinstance(output, Tensor):
        raise WrongAnswerError(
            f"the function returned {type(output).__name__}, not a Tensor", "return a tinynet Tensor"
        )
    projection = np.random.default_rng(seed).standard_normal(output.shape)
    (output * Tensor(projection.astype(output.dtype))).sum().backward()
    grads = [None if t.grad is None else to_host(t.grad.array) for t in inputs]
    return to_host(output.array), grads


def expect_same_function(
    what: str, learner_fn: Callable, reference_fn: Callable, arrays: Sequence[np.ndarray], names: Sequence[str],
    *, atol: float = 1e-6, rtol: float = 1e-5, hint: str = "",
) -> None:  # fmt: skip
    """The learner's function gives the reference's output and, for each input (``names``), its gradient."""
    got, got_grads = input_gradients(learner_fn, arrays)
    expected, expected_grads = input_gradients(reference_fn, arrays)
    expect_close(f"{what}: output", got, expected, atol=atol, rtol=rtol, hint=hint)
    for name, g, e in zip(names, got_grads, expected_grads):
        if e is None:
            continue
        if g is None:
            raise WrongAnswerError(
                f"{what}: no gradient reached {name}",
                "backward must return one gradient per input of forward (None only for inputs without one)",
            )
        expect_close(f"{what}: gradient of {name}", g, e, atol=atol * 10, rtol=rtol * 10, hint=hint)


def on_drawn(check: Callable, strategy, examples: int = 15) -> None:
    """``check(value)`` for values hypothesis draws from ``strategy`` (shapes, say); a WrongAnswerError is raised
    for the smallest value that fails, naming it, so that a learner debugs the simplest case."""
    from hypothesis import HealthCheck, Phase, given, settings

    @settings(
        max_examples=examples, deadline=None, database=None, derandomize=True, phases=(Phase.generate, Phase.shrink),
        suppress_health_check=list(HealthCheck), report_multiple_bugs=False,  # one failure: the smallest
    )  # fmt: skip
    @given(strategy)
    def run(value) -> None:
        try:
            check(value)
        except WrongAnswerError as failure:
            raise WrongAnswerError(f"{failure.message} (for {value!r})", failure.hint) from None

    run()


def expect_backward_agrees(what: str, loss: Tensor, hint: str = "") -> None:
    """Every op in ``loss``'s graph (the learner's Functions among them) has a backward that agrees with finite
    differences of its forward (``tn.check_backward``); else a WrongAnswerError naming the first op that does not,
    its line, input and index."""
    from tinynet.backward_check import check_backward

    wrong = check_backward(loss).first_wrong
    if wrong is not None:
        raise WrongAnswerError(
            f"{what}: {wrong}",
            hint or "the backward does not match the forward: derive the local derivative again, term by term",
        )


class learner_errors:
    """``with learner_errors(learner, "im2col", hint):`` around a call of the learner's code: an error it raises
    (other than a TODO's NotImplementedError and the checks' own WrongAnswerError) becomes a WrongAnswerError
    naming what was called, the error, the learner's line and ``hint``. Inside ``on_drawn`` this also keeps
    hypothesis from reporting several distinct errors at once."""

    def __init__(self, learner: ModuleType, what: str, hint: str = "read the error at that line") -> None:
        self.learner, self.what, self.hint = learner, what, hint

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, err, tb) -> bool:
        if err is None or not isinstance(err, Exception) or isinstance(err, WrongAnswerError):
            return False
        if isinstance(err, NotImplementedError) and not isinstance(err, NotImplementedOpError):
            return False  # a TODO: the runner says "not written yet"
        where = learner_line(err, getattr(self.learner, "__file__", None))
        raise WrongAnswerError(f"{self.what} raised {type(err).__name__}: {err}{where}", self.hint) from None


def learner_line(err: BaseException, path) -> str:
    """ " at FILE, line N (the code)": the last line of the learner's file ``path`` in ``err``'s traceback, or ""."""
    if path is None:
        return ""
    path = Path(path).resolve()
    frames = [f for f in traceback.extract_tb(err.__traceback__) if Path(f.filename).resolve() == path]
    return f" at {path.name}, line {frames[-1].lineno} ({frames[-1].line})" if frames else ""
