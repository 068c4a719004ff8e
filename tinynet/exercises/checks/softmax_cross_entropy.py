"""Checks of exercise `softmax_cross_entropy`: softmax's values and gradient against F.softmax, the cross-entropy
loss against F.cross_entropy, CrossEntropy.backward's gradient against tinynet's, each on drawn shapes, and both at
logits near +-1000, where exp overflows unless the maximum is subtracted."""

import numpy as np
from hypothesis import strategies as st

import tinynet as tn
import tinynet.nn.functional as F
from tinynet.exercises.grading import (
    WrongAnswerError,
    as_array,
    expect_backward_agrees,
    expect_close,
    input_gradients,
    learner_errors,
    on_drawn,
    part,
)

FORGOT_GRAD = "backward returns grad times d loss/d logits (the chain rule): multiply by grad, do not drop it"
UNSTABLE = (
    "exp overflows to inf (or a whole row underflows to 0, and 0 / 0 is nan): subtract each row's own maximum, "
    "x.max(dim=-1, keepdim=True).values, before exp"
)
MEAN = "the loss is the mean over the batch, so divide by N (the batch size, logits.shape[0])"


def _known_mistake(got: np.ndarray, mistakes) -> str:
    """The hint of the first known mistake whose numbers ``got`` matches, or "" (then the generic hints apply)."""
    for wrong, hint in mistakes:
        if np.shape(wrong) == got.shape and np.allclose(got, wrong, rtol=1e-4, atol=1e-6):
            return hint
    return ""


def _softmax(x: np.ndarray, axis=-1) -> np.ndarray:
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _array(shape: tuple, seed: int) -> np.ndarray:
    return np.round(np.random.default_rng(seed).standard_normal(shape) * 2, 2)


def _batch(n: int, c: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return np.round(rng.standard_normal((n, c)) * 2, 2), rng.integers(0, c, n)


# Softmax inputs: 1 to 3 axes, the last of 1 to 5 classes; cross-entropy: (logits (N, C), target (N,)).
ARRAYS = st.builds(_array, st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple), st.integers(0, 2**16))
BATCHES = st.builds(_batch, st.integers(1, 5), st.integers(2, 5), st.integers(0, 2**16))
# Rows near +1000, near -1000 and near 0: exp overflows (or a row underflows) unless each row's max is subtracted.
LARGE = np.round(np.array([[1000.0], [-1000.0], [0.0]]) + np.random.default_rng(5).standard_normal((3, 4)) * 3, 2)


def _expect_softmax(learner, x: np.ndarray, where: str = "") -> None:
    got, (got_grad,) = input_gradients(learner.softmax, [x])
    expected, (expected_grad,) = input_gradients(lambda t: F.softmax(t, dim=-1), [x])
    mistakes = [(np.exp(x), "divide exp(x) by its sum over the last axis, so that each row sums to 1")]
    if x.ndim > 1:
        mistakes += [
            (_softmax(x, axis=0), "softmax is over the last axis (dim=-1), not the first"),
            (_softmax(x, axis=None), "softmax is over the last axis: sum each row (dim=-1, keepdim=True), not all"),
        ]
    hint = UNSTABLE if not np.isfinite(got).all() else _known_mistake(got, mistakes)
    expect_close(f"softmax(x){where}", got, expected, hint=hint)
    if got_grad is None:
        raise WrongAnswerError(
            f"softmax(x){where}: no gradient reached x",
            "write softmax with Tensor operations (not NumPy) so that autograd can differentiate it",
        )
    expect_close(f"the gradient through softmax(x){where}", got_grad, expected_grad, atol=1e-6, rtol=1e-5)


def _expect_loss(learner, logits: np.ndarray, target: np.ndarray, where: str = "") -> None:
    z, t = tn.tensor(logits, dtype=tn.float64), tn.tensor(target)
    got = as_array(learner.cross_entropy(z, t), f"cross_entropy(logits, target){where}")
    expected = F.cross_entropy(z, t).item()
    n, c = logits.shape
    hint = UNSTABLE if not np.isfinite(got).all() else ""
    hint = hint or _known_mistake(got, [(expected * n, MEAN), (expected / c, f"{MEAN}, not by N * C")])
    expect_close(f"the loss: cross_entropy(logits, target){where}", got, expected, hint=hint)


def _expect_gradient(learner, logits: np.ndarray, target: np.ndarray, where: str = "") -> None:
    t = tn.tensor(target)
    _, (got,) = input_gradients(lambda z: learner.cross_entropy(z, t), [logits])
    _, (expected,) = input_gradients(lambda z: F.cross_entropy(z, t), [logits])
    if got is None:
        raise WrongAnswerError(
            f"CrossEntropy.backward{where}: no gradient reached the logits", "backward returns (dL/d logits, None)"
        )
    n, c = logits.shape
    g = np.random.default_rng(0).standard_normal(())  # the grad input_gradients passes back
    p, onehot = _softmax(logits), np.eye(c)[target]
    hint = UNSTABLE if not np.isfinite(got).all() else ""
    hint = hint or _known_mistake(got, [
        (g * (p - onehot), f"d loss/d logits = (softmax - onehot) / N: {MEAN}"),
        ((p - onehot) / n, FORGOT_GRAD),
        (g * p / n, "subtract onehot(target) from the softmax: d loss/d logits = (softmax - onehot) / N"),
    ])  # fmt: skip
    expect_close(f"the gradient of the logits, CrossEntropy.backward's{where}", got, expected, hint=hint)


@part("softmax: values and gradient, as F.softmax(x, dim=-1)")
def softmax(learner) -> None:
    on_drawn(lambda x: _expect_softmax(learner, x), ARRAYS, examples=10)


@part("softmax is stable: logits near +-1000 give the right values, not inf or nan")
def softmax_stable(learner) -> None:
    with np.errstate(all="ignore"):  # (an overflow is reported below, with what to do about it)
        _expect_softmax(learner, LARGE, f" for x = {LARGE.tolist()}")


@part("cross_entropy: the loss, as F.cross_entropy")
def loss(learner) -> None:
    on_drawn(lambda batch: _expect_loss(learner, *batch), BATCHES, examples=10)


@part("CrossEntropy.backward: the gradient of the logits, (softmax - onehot) / N times grad")
def gradient(learner) -> None:
    on_drawn(lambda batch: _expect_gradient(learner, *batch), BATCHES, examples=10)


@part("cross_entropy is stable: logits near +-1000 give the right loss and gradient")
def loss_stable(learner) -> None:
    target = np.array([1, 3, 0])
    where = f" for logits = {LARGE.tolist()}, target = {target.tolist()}"
    with np.errstate(all="ignore"):
        _expect_loss(learner, LARGE, target, where)
        _expect_gradient(learner, LARGE, target, where)


@part("in a small model, tn.check_backward finds CrossEntropy's backward agrees with its forward")
def checked_in_a_model(learner) -> None:
    rng = np.random.default_rng(7)
    x = tn.tensor(rng.standard_normal((5, 4)), dtype=tn.float64)
    w = tn.tensor(rng.standard_normal((4, 3)), dtype=tn.float64, requires_grad=True)
    target = tn.tensor(rng.integers(0, 3, 5))
    with learner_errors(learner, "cross_entropy(tanh(x @ w) * 2, target)"):
        loss = learner.cross_entropy((x @ w).tanh() * 2, target)
    expect_backward_agrees("cross_entropy(tanh(x @ w) * 2, target)", loss, MEAN)
