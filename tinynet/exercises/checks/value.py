"""Checks of exercise `value`: each operation's value and local gradients, then backward on whole expressions
against tinynet's autograd."""

import math

from hypothesis import strategies as st

import tinynet as tn
from tinynet.exercises.grading import WrongAnswerError, expect_close, on_drawn, part


def _grads_after(out, *values) -> list[float]:
    out.grad = 1.0
    out._backward()
    return [v.grad for v in values]


@part("+ and * compute their values")
def forward_values(learner) -> None:
    a, b = learner.Value(2.0), learner.Value(-3.0)
    expect_close("(a + b).data for a = 2, b = -3", (a + b).data, -1.0)
    expect_close("(a * b).data for a = 2, b = -3", (a * b).data, -6.0)
    expect_close("(a * b + 1.5).data", (a * b + 1.5).data, -4.5)


@part("+ passes out.grad on to both inputs, adding to what they have")
def add_backward(learner) -> None:
    a, b = learner.Value(2.0), learner.Value(-3.0)
    got = _grads_after(a + b, a, b)
    expect_close("a.grad, b.grad after (a + b)._backward() with out.grad = 1", got, [1.0, 1.0])
    a = learner.Value(2.0)
    expect_close(
        "a.grad after (a + a)._backward(): a is used twice", _grads_after(a + a, a)[0], 2.0,
        hint="a Value used twice gets a gradient from each use: add with +=, do not assign with =",
    )  # fmt: skip


@part("* passes out.grad times the other input on")
def mul_backward(learner) -> None:
    a, b = learner.Value(2.0), learner.Value(-3.0)
    expect_close("a.grad, b.grad after (a * b)._backward() with out.grad = 1", _grads_after(a * b, a, b), [-3.0, 2.0])
    a = learner.Value(3.0)
    expect_close(
        "a.grad after (a * a)._backward(): d(a^2)/da = 2a", _grads_after(a * a, a)[0], 6.0,
        hint="a Value used twice gets a gradient from each use: add with +=, do not assign with =",
    )  # fmt: skip


@part("tanh: its value and 1 - tanh^2")
def tanh_backward(learner) -> None:
    for x in (0.5, -1.2, 0.0):
        a = learner.Value(x)
        out = a.tanh()
        expect_close(f"tanh({x}).data", out.data, math.tanh(x))
        expect_close(f"d tanh(a)/da at a = {x}", _grads_after(out, a)[0], 1 - math.tanh(x) ** 2)


def _neuron(lib_value, xs, ws, b):
    """tanh(w . x + b) with the hidden value used twice: h * h + h (a diamond needs the topological order)."""
    total = lib_value(b)
    for x, w in zip(xs, ws):
        total = total + x * w
    h = total.tanh()
    return h * h + h


@part("backward: every gradient of a whole expression, as tinynet's autograd gives")
def whole_backward(learner) -> None:
    def check(numbers):
        xs, ws, b = numbers[:3], numbers[3:6], numbers[6]
        mine_x, mine_w = [learner.Value(v) for v in xs], [learner.Value(v) for v in ws]
        out = _neuron(learner.Value, mine_x, mine_w, b)
        out.backward()
        theirs_x, theirs_w = [tn.tensor(xs, requires_grad=True, dtype=tn.float64), tn.tensor(ws, requires_grad=True,
                              dtype=tn.float64)]  # fmt: skip
        h = ((theirs_x * theirs_w).sum() + b).tanh()
        reference = h * h + h
        reference.backward()
        expect_close("out.data", out.data, reference.item())
        if out.grad != 1.0:
            raise WrongAnswerError(
                f"out.grad after out.backward() is {out.grad}, expected 1", "backward starts with dL/dL = 1"
            )
        expect_close(
            "the inputs' gradients x.grad", [v.grad for v in mine_x], theirs_x.grad.numpy(),
            hint="call each _backward only after every Value that uses it: in reverse topological order",
        )  # fmt: skip
        expect_close(
            "the weights' gradients w.grad",
            [v.grad for v in mine_w],
            theirs_w.grad.numpy(),
            hint="call each _backward only after every Value that uses it: in reverse topological order",
        )

    numbers = st.lists(st.floats(-2, 2, allow_nan=False).map(lambda v: round(v, 3)), min_size=7, max_size=7)
    on_drawn(check, numbers)
