"""Checks of exercise `max_pool2d`: values and the gradient of x against tinynet's F.max_pool2d, first with windows
side by side (stride = kernel), then overlapping (stride < kernel), on shapes hypothesis draws. A wrong gradient
is compared with the usual wrong routings (to every position of the window, averaged) to name the mistake."""

import numpy as np
from hypothesis import strategies as st

import tinynet.nn.functional as F
from tinynet.exercises.grading import (
    WrongAnswerError,
    expect_backward_agrees,
    expect_close,
    input_gradients,
    learner_errors,
    on_drawn,
    part,
)
from tinynet.tensor import Tensor

SIZE_HINT = "OH = (H - kernel) // stride + 1 (and OW alike): the last window starts at most at H - kernel"
WINDOW_HINT = (
    "the window at (i, j) is kernel rows and kernel columns, x[:, :, i*stride : i*stride + kernel, "
    "j*stride : j*stride + kernel] (a slice's end is excluded), and OH = (H - kernel) // stride + 1"
)
ROUTE_HINT = "each grad[n, c, i, j] goes to the one position of x where its window's max was, and nowhere else"
EVERY_HINT = (
    "the gradient of an output goes only to the position where its window's max was, not to every position of "
    "the window: the other inputs did not change the max"
)
AVERAGED_HINT = (
    "the gradient of an output goes whole to the position where its window's max was, not averaged over the "
    "window (that is avg_pool2d's backward)"
)
OVERLAP_HINT = (
    "windows overlap when stride < kernel: a position can be the max of several windows and gets the sum of their "
    "gradients: add (+=), do not assign (=)"
)

# (N, C, kernel, stride, extra H, extra W): H = kernel + extra H.
CASES = st.tuples(
    st.integers(1, 2), st.integers(1, 3), st.integers(1, 3), st.integers(1, 3), st.integers(0, 5), st.integers(0, 5)
)


def _case(case, overlapping: bool) -> tuple[np.ndarray, int, int] | None:
    """x, kernel, stride; None where the case has no such windows (no overlap with a kernel of 1)."""
    n, c, k, s, eh, ew = case
    if overlapping and k == 1:
        return None
    s = min(s, k - 1) if overlapping else k
    x = np.random.default_rng(list(case)).standard_normal((n, c, k + eh, k + ew))  # no ties: one max per window
    return x, k, s


def _check_forward(learner, case, overlapping: bool) -> None:
    drawn_case = _case(case, overlapping)
    if drawn_case is None:
        return
    x, k, s = drawn_case
    with learner_errors(learner, "max_pool2d (MaxPool2d.forward)", WINDOW_HINT):
        got = learner.max_pool2d(Tensor(x), k, None if s == k else s)
    expected = F.max_pool2d(Tensor(x), k, stride=s)
    what = f"max_pool2d(x of shape {x.shape}, kernel_size={k}, stride={s})"
    expect_close(what, got, expected, hint=SIZE_HINT if np.shape(got) != expected.shape else WINDOW_HINT)


def _check_backward(learner, case, overlapping: bool) -> None:
    drawn_case = _case(case, overlapping)
    if drawn_case is None:
        return
    x, k, s = drawn_case
    with learner_errors(learner, "max_pool2d (forward, then backward)", "dL/dx has x's shape"):
        out, (got,) = input_gradients(lambda t: learner.max_pool2d(t, k, s), [x])
    expected_out, (expected,) = input_gradients(lambda t: F.max_pool2d(t, k, stride=s), [x])
    what = f"max_pool2d(x of shape {x.shape}, kernel_size={k}, stride={s})"
    expect_close(what, out, expected_out, hint="the forward is wrong here (see the forward parts): fix it first")
    if got is None:
        raise WrongAnswerError("max_pool2d: no gradient reached x", "backward returns (dL/dx, None, None)")
    _, (averaged,) = input_gradients(lambda t: F.avg_pool2d(t, k, stride=s), [x])  # (the same projection)
    hint = OVERLAP_HINT if overlapping else ROUTE_HINT
    if got.shape == expected.shape and not np.allclose(got, expected, atol=1e-4, rtol=1e-3):
        if np.allclose(got, averaged * k * k, atol=1e-4, rtol=1e-3):
            hint = EVERY_HINT
        elif np.allclose(got, averaged, atol=1e-4, rtol=1e-3):
            hint = AVERAGED_HINT
    expect_close(f"{what}: gradient of x", got, expected, atol=1e-5, rtol=1e-4, hint=hint)


@part("forward, windows side by side (stride = kernel): F.max_pool2d's values")
def forward_side_by_side(learner) -> None:
    on_drawn(lambda case: _check_forward(learner, case, overlapping=False), CASES, 20)


@part("forward, overlapping windows (stride < kernel)")
def forward_overlapping(learner) -> None:
    on_drawn(lambda case: _check_forward(learner, case, overlapping=True), CASES, 20)


@part("backward, windows side by side: each gradient goes to its window's max")
def backward_side_by_side(learner) -> None:
    on_drawn(lambda case: _check_backward(learner, case, overlapping=False), CASES, 20)


@part("backward, overlapping windows: the gradients of a shared max add up")
def backward_overlapping(learner) -> None:
    on_drawn(lambda case: _check_backward(learner, case, overlapping=True), CASES, 20)


@part("in a small model, tn.check_backward finds your backward agrees with your forward")
def checked_in_a_model(learner) -> None:
    x = Tensor(np.random.default_rng(7).standard_normal((2, 3, 6, 6)), requires_grad=True)
    with learner_errors(learner, "max_pool2d in (max_pool2d(tanh(x), 3, 2) ** 2).sum()"):
        loss = (learner.max_pool2d(x.tanh(), 3, 2) ** 2).sum()
    expect_backward_agrees("(max_pool2d(tanh(x), kernel 3, stride 2) ** 2).sum()", loss, ROUTE_HINT)
