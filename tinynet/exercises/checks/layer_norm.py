"""Checks of exercise `layer_norm`: the forward's values, then dL/dbias, dL/dweight and dL/dx of the hand-written
backward, against tinynet's F.layer_norm, on shapes, scales and eps hypothesis draws. A wrong value or gradient is
compared with the usual mistakes (unbiased variance, eps outside the square root, mean terms left out) to name it."""

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

FORWARD_HINT = "xhat = (x - mean) / sqrt(var + eps) over the last weight.ndim axes, out = xhat * weight + bias"
FORWARD_MISTAKES = {
    "unbiased": "the variance of layer norm is the biased one, the mean of (x - mean)^2: divide by D, not D - 1",
    "eps_outside": "eps goes inside the square root: (x - mean) / sqrt(var + eps), not / (sqrt(var) + eps)",
    "no_eps": "eps goes inside the square root: (x - mean) / sqrt(var + eps); yours leaves it out",
}
GRAD_HINTS = {
    "bias": "bias is added to every row: dL/dbias is grad summed over the leading (batch) axes (weight's shape)",
    "weight": "dL/dweight is grad * xhat summed over the leading (batch) axes, normalized_shape's shape",
    "x": (
        "dL/dx = (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)) / sqrt(var + eps), dxhat = grad * weight, the "
        "means over the normalized axes"
    ),
}
X_MISTAKES = {
    "none": "both mean terms are missing: mean and var depend on every x of the row, and each gives a term; "
    + GRAD_HINTS["x"],
    "no_xhat_term": "the term - xhat * mean(dxhat * xhat) is missing (it comes from var depending on x); "
    + GRAD_HINTS["x"],
    "no_mean_term": "the term - mean(dxhat) is missing (it comes from mean depending on x); " + GRAD_HINTS["x"],
}
SHAPE_HINT = (
    "each gradient has its input's shape: dL/dweight and dL/dbias have normalized_shape's shape, so sum them over "
    "the leading (batch) axes"
)

# leading shape, normalized shape (at least 2 values), scale of x, eps
CASES = st.tuples(
    st.lists(st.integers(1, 3), min_size=1, max_size=2).map(tuple),
    st.one_of(st.tuples(st.integers(2, 5)), st.tuples(st.integers(1, 3), st.integers(2, 3))),
    st.sampled_from([1.0, 0.05]),
    st.sampled_from([1e-5, 1e-3]),
)


def _inputs(case) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    leading, normalized, scale, _ = case
    rng = np.random.default_rng([*leading, *normalized, int(scale * 100)])
    x = scale * rng.standard_normal((*leading, *normalized)) + rng.standard_normal()
    return x, 1 + 0.5 * rng.standard_normal(normalized), rng.standard_normal(normalized)


def _forward_variants(x, w, b, eps) -> dict[str, np.ndarray]:
    axes = tuple(range(x.ndim - w.ndim, x.ndim))
    centred = x - x.mean(axis=axes, keepdims=True)
    var = (centred**2).mean(axis=axes, keepdims=True)
    d = centred[(0,) * (x.ndim - w.ndim)].size
    return {
        "unbiased": centred / np.sqrt(var * d / (d - 1) + eps) * w + b,
        "eps_outside": centred / (np.sqrt(var) + eps) * w + b,
        "no_eps": centred / np.sqrt(var) * w + b,
    }


def _x_variants(x, w, eps, g) -> dict[str, np.ndarray]:
    axes = tuple(range(x.ndim - w.ndim, x.ndim))
    centred = x - x.mean(axis=axes, keepdims=True)
    rstd = 1 / np.sqrt((centred**2).mean(axis=axes, keepdims=True) + eps)
    xhat, dxhat = centred * rstd, g * w
    mean_term, xhat_term = dxhat.mean(axis=axes, keepdims=True), xhat * (dxhat * xhat).mean(axis=axes, keepdims=True)
    return {
        "none": rstd * dxhat,
        "no_xhat_term": rstd * (dxhat - mean_term),
        "no_mean_term": rstd * (dxhat - xhat_term),
    }


def _matching(got, variants: dict, hints: dict, default: str) -> str:
    for name, value in variants.items():
        if np.shape(got) == value.shape and np.allclose(got, value, atol=1e-5, rtol=1e-4):
            return hints[name]
    return default


@part("forward: F.layer_norm's values")
def forward(learner) -> None:
    def check(case):
        x, w, b = _inputs(case)
        eps = case[3]
        with learner_errors(learner, "layer_norm (LayerNorm.forward)", FORWARD_HINT):
            got = learner.layer_norm(Tensor(x), w.shape, Tensor(w), Tensor(b), eps)
        expected = F.layer_norm(Tensor(x), w.shape, Tensor(w), Tensor(b), eps)
        got_array = got.numpy() if isinstance(got, Tensor) else got
        hint = _matching(got_array, _forward_variants(x, w, b, eps), FORWARD_MISTAKES, FORWARD_HINT)
        what = f"layer_norm(x of shape {x.shape}, normalized_shape={w.shape}, eps={eps})"
        expect_close(what, got, expected, atol=1e-5, rtol=1e-4, hint=hint)

    on_drawn(check, CASES, 25)


@part("backward: dL/dbias, dL/dweight and dL/dx as F.layer_norm's")
def backward(learner) -> None:
    def check(case):
        x, w, b = _inputs(case)
        eps = case[3]
        what = f"layer_norm(x of shape {x.shape}, normalized_shape={w.shape}, eps={eps})"
        with learner_errors(learner, "layer_norm (forward, then backward)", SHAPE_HINT):
            out, got = input_gradients(lambda *t: learner.layer_norm(t[0], w.shape, t[1], t[2], eps), [x, w, b])
        expected_out, expected = input_gradients(lambda *t: F.layer_norm(t[0], w.shape, t[1], t[2], eps), [x, w, b])
        expect_close(what, out, expected_out, atol=1e-5, rtol=1e-4, hint="the forward is wrong here: fix it first")
        g = np.random.default_rng(0).standard_normal(out.shape)  # the grad input_gradients passes to backward
        for name, k in (("bias", 2), ("weight", 1), ("x", 0)):
            if got[k] is None:
                raise WrongAnswerError(
                    f"{what}: no gradient reached {name}", "backward returns (dL/dx, dL/dweight, dL/dbias, None)"
                )
            hint = GRAD_HINTS[name]
            if name == "x":
                hint = _matching(got[k], _x_variants(x, w, eps, g), X_MISTAKES, hint)
            expect_close(f"{what}: gradient of {name}", got[k], expected[k], atol=1e-4, rtol=1e-3, hint=hint)

    on_drawn(check, CASES, 25)


@part("in a small model, tn.check_backward finds your backward agrees with your forward")
def checked_in_a_model(learner) -> None:
    rng = np.random.default_rng(7)
    x = Tensor(rng.standard_normal((3, 2, 5)), requires_grad=True)
    weight, bias = (Tensor(rng.standard_normal(5), requires_grad=True) for _ in range(2))
    with learner_errors(learner, "layer_norm in (layer_norm(x * 2, (5,), weight, bias) ** 2).sum()"):
        loss = (learner.layer_norm(x * 2, (5,), weight, bias, 1e-5) ** 2).sum()
    expect_backward_agrees("(layer_norm(x * 2, (5,), weight, bias) ** 2).sum()", loss, GRAD_HINTS["x"])
