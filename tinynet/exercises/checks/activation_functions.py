"""Checks of exercise `activation_functions`: each Function's output and the gradient its backward passes on,
against tinynet's own sigmoid, tanh and relu on drawn shapes, then at inputs large enough to overflow exp."""

import numpy as np
from hypothesis import strategies as st

import tinynet as tn
from tinynet.exercises.grading import (
    WrongAnswerError,
    expect_backward_agrees,
    expect_close,
    input_gradients,
    learner_errors,
    on_drawn,
    part,
)

FORGOT_GRAD = "backward returns grad times the derivative (the chain rule): multiply by grad, do not drop it"


def _array(shape: tuple, seed: int) -> np.ndarray:
    """Standard normal values times 3, rounded to read well in a message; never exactly 0 (where relu's derivative
    is a convention, not a mistake to look for)."""
    x = np.round(np.random.default_rng(seed).standard_normal(shape) * 3, 2)
    return np.where(x == 0, 0.01, x)


# Small arrays of any rank (hypothesis draws the shape and a seed, and shrinks to the smallest that fails).
CASES = st.builds(_array, st.lists(st.integers(1, 4), min_size=0, max_size=3).map(tuple), st.integers(0, 2**16))


def _known_mistake(got: np.ndarray, mistakes) -> str:
    """The hint of the first known mistake whose numbers ``got`` matches, or "" (then the generic hints apply)."""
    for wrong, hint in mistakes:
        if np.shape(wrong) == got.shape and np.allclose(got, wrong, rtol=1e-4, atol=1e-6):
            return hint
    return ""


def _expect_same_activation(name: str, learner_fn, reference_fn, x: np.ndarray, mistakes, where: str = "") -> None:
    """Output and dL/dx of ``learner_fn`` equal ``reference_fn``'s; a wrong gradient is matched against
    ``mistakes(x, y, g)`` (y the right output, g the grad passed back) to name the fault."""
    got, (got_grad,) = input_gradients(learner_fn, [x])
    expected, (expected_grad,) = input_gradients(reference_fn, [x])
    hint = ""
    if not np.isfinite(got).all():
        hint = (
            "exp of a large number overflows to inf (and inf / inf is nan): compute it from exp(-|x|), which never "
            "overflows, or use the Tensor's own method"
        )
    expect_close(f"{name}(x){where}: output", got, expected, hint=hint)
    if got_grad is None:
        raise WrongAnswerError(
            f"{name}{where}: no gradient reached x", "backward must return dL/dx, a Tensor of x's shape"
        )
    g = np.random.default_rng(0).standard_normal(expected.shape)  # the grad input_gradients passes back
    hint = _known_mistake(got_grad, mistakes(x, expected, g))
    expect_close(f"{name}{where}: gradient of x (backward's result)", got_grad, expected_grad, atol=1e-6, rtol=1e-5,
                 hint=hint)  # fmt: skip


def _on_drawn_inputs(name: str, learner_fn, reference_fn, mistakes) -> None:
    def check(x: np.ndarray) -> None:
        _expect_same_activation(name, learner_fn, reference_fn, x, mistakes)

    on_drawn(check, CASES, examples=10)


def _sigmoid_mistakes(x, s, g):
    return [
        (s * (1 - s), FORGOT_GRAD),
        (g * x * (1 - x), "d sigmoid/dx = s (1 - s) of the output s = sigmoid(x), not of the input x: save s"),
        (g * s, "d sigmoid/dx = s (1 - s), not s"),
    ]


def _tanh_mistakes(x, t, g):
    return [
        (1 - t * t, FORGOT_GRAD),
        (g * (1 - x * x), "d tanh/dx = 1 - t^2 of the output t = tanh(x), not of the input x: save t"),
        (g * (1 - t), "d tanh/dx = 1 - t^2: square t"),
    ]


def _relu_mistakes(x, y, g):
    return [
        (g, "relu's gradient is grad where x > 0 and zero where x <= 0: multiply grad by the mask (x > 0)"),
        ((x > 0).astype(np.float64), FORGOT_GRAD),
        (g * (x < 0), "the mask is the wrong way round: relu passes grad on where x > 0"),
    ]


@part("Sigmoid: output and gradient, as tinynet's sigmoid")
def sigmoid(learner) -> None:
    _on_drawn_inputs("sigmoid", learner.sigmoid, tn.sigmoid, _sigmoid_mistakes)


@part("Tanh: output and gradient, as tinynet's tanh")
def tanh(learner) -> None:
    _on_drawn_inputs("tanh", learner.tanh, tn.tanh, _tanh_mistakes)


@part("ReLU: output and gradient, as tinynet's relu")
def relu(learner) -> None:
    _on_drawn_inputs("relu", learner.relu, tn.relu, _relu_mistakes)


@part("large inputs (|x| up to 1000): outputs and gradients stay finite and right")
def large_inputs(learner) -> None:
    x = np.array([-1000.0, -100.0, -30.0, -0.5, 0.5, 30.0, 100.0, 1000.0])
    for name, learner_fn, reference_fn, mistakes in [
        ("sigmoid", learner.sigmoid, tn.sigmoid, _sigmoid_mistakes),
        ("tanh", learner.tanh, tn.tanh, _tanh_mistakes),
        ("relu", learner.relu, tn.relu, _relu_mistakes),
    ]:
        with np.errstate(all="ignore"):  # (an overflow is reported below, with what to do about it)
            _expect_same_activation(name, learner_fn, reference_fn, x, mistakes, f" at x = {x.tolist()}")


@part("in a small model using all three, tn.check_backward finds each backward agrees with its forward")
def checked_in_a_model(learner) -> None:
    rng = np.random.default_rng(7)
    x = tn.tensor(rng.standard_normal((4, 3)), dtype=tn.float64, requires_grad=True)
    w = tn.tensor(rng.standard_normal((3, 5)), dtype=tn.float64, requires_grad=True)
    with learner_errors(learner, "sigmoid(tanh(relu(x @ w) - 0.5)).sum()"):
        loss = learner.sigmoid(learner.tanh(learner.relu(x @ w) - 0.5)).sum()
    expect_backward_agrees("sigmoid(tanh(relu(x @ w) - 0.5)).sum()", loss, FORGOT_GRAD)
