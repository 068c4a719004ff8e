"""Checks of exercise `conv2d_im2col`: output_size, im2col and col2im against NumPy references, then the Function's
values and gradients against tinynet's F.conv2d, on shapes, strides and paddings hypothesis draws."""

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

SIZE_HINT = (
    "OH = (H + 2*padding - kernel) // stride + 1: the first window starts at 0, the last at most at "
    "H + 2*padding - kernel, one every stride"
)
IM2COL_HINT = (
    "the window at (i, j) starts at row i*stride, column j*stride of the padded x (np.pad only H and W, by padding "
    "on both sides) and is kh by kw; column i*OW + j of cols holds it flattened in (c, a, e) order"
)
COL2IM_HINT = (
    "column i*OW + j, reshaped to (N, C, kh, kw), goes back into the window at row i*stride, column j*stride of a "
    "zero array of the padded shape; then cut the padding off"
)
OVERLAP_HINT = (
    "where windows overlap (stride < kernel) a pixel is in several windows and gets the sum of their gradients: "
    "add (+=), do not assign (=)"
)
GRAD_HINTS = {
    "x": "dL/dx = col2im(W2^T @ g): each column's gradient added back into its window, overlapping windows adding up",
    "weight": (
        "dL/dW2 = the sum over the batch n of g[n] @ cols[n]^T, shape (C_out, C*kh*kw), not its transpose; then "
        "reshape it to weight's shape"
    ),
    "bias": "the bias is added at every sample and position: dL/db is g summed over the batch and the positions",
}
SHAPE_HINT = (
    "each gradient has its input's shape: the same weight and bias serve every sample, so sum their gradients over "
    "the batch (and the bias's over the positions)"
)


def reference_im2col(x: np.ndarray, kh: int, kw: int, stride: int, padding: int) -> np.ndarray:
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    windows = np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(2, 3))[:, :, ::stride, ::stride]
    n, c, oh, ow = windows.shape[:4]
    return windows.transpose(0, 1, 4, 5, 2, 3).reshape(n, c * kh * kw, oh * ow)


def reference_col2im(cols: np.ndarray, shape: tuple, kh: int, kw: int, stride: int, padding: int) -> np.ndarray:
    n, c, h, w = shape
    oh, ow = (h + 2 * padding - kh) // stride + 1, (w + 2 * padding - kw) // stride + 1
    xp = np.zeros((n, c, h + 2 * padding, w + 2 * padding))
    blocks = cols.reshape(n, c, kh, kw, oh, ow)
    for a in range(kh):  # for one offset (a, e) in the window, the pixels of different windows never coincide
        for e in range(kw):
            xp[:, :, a : a + stride * oh : stride, e : e + stride * ow : stride] += blocks[:, :, a, e]
    return xp[:, :, padding : padding + h, padding : padding + w]


# (N, C, C_out, kh, kw, stride, padding, extra H, extra W): H = kh + extra H, so that a window always fits.
CASES = st.tuples(
    st.integers(1, 2), st.integers(1, 3), st.integers(1, 3), st.integers(1, 3), st.integers(1, 3),
    st.integers(1, 3), st.integers(0, 2), st.integers(0, 4), st.integers(0, 4),
)  # fmt: skip


def _inputs(case) -> tuple:
    n, c, c_out, kh, kw, stride, padding, eh, ew = case
    rng = np.random.default_rng(list(case))
    x = rng.standard_normal((n, c, kh + eh, kw + ew))
    return x, rng.standard_normal((c_out, c, kh, kw)), rng.standard_normal(c_out), stride, padding


@part("output_size counts the window positions along an axis")
def output_size(learner) -> None:
    def check(case):
        size, kernel, stride, padding = case
        if kernel > size + 2 * padding:
            return
        with learner_errors(learner, "output_size", SIZE_HINT):
            got = learner.output_size(size, kernel, stride, padding)
        expected = (size + 2 * padding - kernel) // stride + 1
        expect_close(f"output_size({size}, {kernel}, {stride}, {padding})", got, expected, hint=SIZE_HINT)

    expect_close("output_size(5, 3, 2, 0)", learner.output_size(5, 3, 2, 0), 2, hint=SIZE_HINT)
    on_drawn(check, st.tuples(st.integers(1, 9), st.integers(1, 4), st.integers(1, 3), st.integers(0, 2)), 40)


@part("im2col: each window becomes a column, in F.unfold's layout")
def im2col(learner) -> None:
    def check(case):
        x, weight, _, stride, padding = _inputs(case)
        kh, kw = weight.shape[2:]
        with learner_errors(learner, "im2col", IM2COL_HINT):
            got = learner.im2col(x.copy(), kh, kw, stride, padding)
        expected = reference_im2col(x, kh, kw, stride, padding)
        expect_close(f"im2col(x of shape {x.shape}, {kh}, {kw}, stride={stride}, padding={padding})", got, expected,
                     hint=IM2COL_HINT)  # fmt: skip

    on_drawn(check, CASES, 25)


@part("col2im adds each column back into its window")
def col2im(learner) -> None:
    def check(case, overlapping: bool):
        x, weight, _, stride, padding = _inputs(case)
        kh, kw = weight.shape[2:]
        stride = min(stride, kh, kw) if overlapping else max(kh, kw)
        if overlapping and stride >= max(kh, kw):
            return
        cols = np.random.default_rng(7).standard_normal(reference_im2col(x, kh, kw, stride, padding).shape)
        with learner_errors(learner, "col2im", COL2IM_HINT):
            got = learner.col2im(cols.copy(), x.shape, kh, kw, stride, padding)
        expected = reference_col2im(cols, x.shape, kh, kw, stride, padding)
        what = f"col2im(cols of shape {cols.shape}, x_shape={x.shape}, {kh}, {kw}, stride={stride}, padding={padding})"
        expect_close(what, got, expected, hint=OVERLAP_HINT if overlapping else COL2IM_HINT)

    on_drawn(lambda case: check(case, overlapping=False), CASES, 15)
    on_drawn(lambda case: check(case, overlapping=True), CASES, 20)


@part("conv2d forward: F.conv2d's values")
def forward(learner) -> None:
    def check(case):
        x, weight, bias, stride, padding = _inputs(case)
        x_, weight_, bias_ = (Tensor(a) for a in (x, weight, bias))  # (no gradient: only the forward runs)
        with learner_errors(learner, "conv2d (Conv2d.forward)", "read the error at that line"):
            got = learner.conv2d(x_, weight_, bias_, stride, padding)
        expected = F.conv2d(x_, weight_, bias_, stride=stride, padding=padding)
        expect_close(f"conv2d(x of shape {x.shape}, weight of shape {weight.shape}, stride={stride}, "
                     f"padding={padding})", got, expected, atol=1e-5, rtol=1e-4,
                     hint="out = W2 @ cols + bias[:, None] for each sample, reshaped to (N, C_out, OH, OW), with "
                     "W2 = weight.reshape(C_out, C*kh*kw)")  # fmt: skip

    on_drawn(check, CASES, 20)


@part("conv2d backward: dL/dx, dL/dweight and dL/dbias as F.conv2d's")
def backward(learner) -> None:
    def check(case):
        arrays = _inputs(case)[:3]
        stride, padding = case[5], case[6]
        with learner_errors(learner, "conv2d (forward, then backward)", SHAPE_HINT):
            _, got = input_gradients(lambda *t: learner.conv2d(*t, stride, padding), arrays)
        _, expected = input_gradients(lambda *t: F.conv2d(*t, stride=stride, padding=padding), arrays)
        for name, g, e in zip(GRAD_HINTS, got, expected):
            if g is None:
                raise WrongAnswerError(
                    f"conv2d backward: no gradient reached {name}",
                    "backward returns (dL/dx, dL/dweight, dL/dbias, None, None), in forward's order",
                )
            expect_close(f"conv2d backward (stride={stride}, padding={padding}): gradient of {name}", g, e,
                         atol=1e-4, rtol=1e-3, hint=GRAD_HINTS[name])  # fmt: skip

    on_drawn(check, CASES, 20)


@part("in a small model, tn.check_backward finds your backward agrees with your forward")
def checked_in_a_model(learner) -> None:
    rng = np.random.default_rng(7)
    x = Tensor(rng.standard_normal((2, 2, 5, 5)), requires_grad=True)
    weight = Tensor(rng.standard_normal((3, 2, 3, 3)), requires_grad=True)
    bias = Tensor(rng.standard_normal(3), requires_grad=True)
    with learner_errors(learner, "conv2d in relu(conv2d(x, weight, bias, 2, 1)).sum()"):
        loss = F.relu(learner.conv2d(x, weight, bias, 2, 1)).sum()
    expect_backward_agrees("relu(conv2d(x, weight, bias, stride=2, padding=1)).sum()", loss, GRAD_HINTS["x"])
