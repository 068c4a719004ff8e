"""Checks of exercise `linear_module`: LinearFunction's output and three gradients against F.linear on drawn shapes,
the module's parameters (shapes, registration, initialisation), its forward and gradients, and a short training run
on a regression problem that must reach a stated loss."""

import math
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
from hypothesis import strategies as st

import tinynet as tn
import tinynet.nn.functional as F
from tinynet import nn
from tinynet.errors import GraphError, ShapeError
from tinynet.exercises.grading import WrongAnswerError, as_array, expect_close, input_gradients, on_drawn, part

TRANSPOSE = "weight is (out_features, in_features): the output is x @ weight.T (+ bias), of shape (..., out_features)"
TARGET_LOSS = 0.01  # what the training run must reach (the noise alone is 0.0025)


def _case(lead: tuple, n_in: int, n_out: int, seed: int) -> tuple:
    rng = np.random.default_rng(seed)
    return (np.round(rng.standard_normal((*lead, n_in)), 2), np.round(rng.standard_normal((n_out, n_in)), 2),
            np.round(rng.standard_normal(n_out), 2))  # fmt: skip


# (x (..., in), weight (out, in), bias (out,)): 0 to 2 leading axes, sizes 1 to 4.
CASES = st.builds(
    _case, st.lists(st.integers(1, 3), max_size=2).map(tuple), st.integers(1, 4), st.integers(1, 4),
    st.integers(0, 2**16),
)  # fmt: skip


def _gradient_shape_hint(err: GraphError, x_shape: tuple, weight_shape: tuple) -> str:
    text = str(err)
    if text.endswith(f"input of shape {weight_shape[:1]}"):
        return (
            "dL/dbias must have the bias's shape (out,): the bias was broadcast to every position, so sum grad over "
            "every leading axis (grad.reshape(-1, out).sum(dim=0))"
        )
    if text.endswith(f"input of shape {weight_shape}"):
        return "dL/dweight is (out, in): grad^T @ x with the leading axes flattened, (out, N) @ (N, in)"
    return f"dL/dx has x's shape {x_shape}: grad @ weight, (..., out) @ (out, in)"


@contextmanager
def _shapes_explained(what: str, x_shape: tuple, weight_shape: tuple) -> Iterator[None]:
    """A shape error in the learner's forward, or a gradient of the wrong shape from its backward (which the
    engine refuses), as a WrongAnswerError that says which shape is wrong and why."""
    try:
        yield
    except ShapeError as err:
        raise WrongAnswerError(f"{what} raised ShapeError: {err}", TRANSPOSE) from None
    except GraphError as err:
        raise WrongAnswerError(f"{what}: {err}", _gradient_shape_hint(err, x_shape, weight_shape)) from None


@part("LinearFunction: output and the gradients of x, weight and bias, as F.linear")
def function(learner) -> None:
    def check(case) -> None:
        x, weight, bias = case
        with _shapes_explained("LinearFunction", x.shape, weight.shape):
            got, got_grads = input_gradients(learner.LinearFunction.apply, case)
        expected, expected_grads = input_gradients(F.linear, case)
        square = weight.shape[0] == weight.shape[1]
        hint = TRANSPOSE if square and got.shape == expected.shape and np.allclose(got, x @ weight + bias) else ""
        if not hint and got.shape == expected.shape and np.allclose(got, x @ weight.T):
            hint = "add the bias"
        expect_close("LinearFunction(x, weight, bias): output", got, expected, hint=hint)
        for name, g, e in zip(("x", "weight", "bias"), got_grads, expected_grads):
            if g is None:
                raise WrongAnswerError(
                    f"LinearFunction: no gradient reached {name}",
                    "backward returns three gradients: dL/dx, dL/dweight, dL/dbias (in the order of forward's inputs)",
                )
            hint = ""
            if name == "weight" and square and np.allclose(g.T, e):
                hint = "dL/dweight is (out, in): grad^T @ x (not x^T @ grad)"
            expect_close(f"LinearFunction: gradient of {name}", g, e, hint=hint)

    on_drawn(check, CASES, examples=12)
    x, weight, _ = _case((2,), 3, 2, 0)
    got, (_, got_grad) = input_gradients(lambda a, w: learner.LinearFunction.apply(a, w, None), (x, weight))
    expected, (_, expected_grad) = input_gradients(lambda a, w: F.linear(a, w), (x, weight))
    expect_close("LinearFunction(x, weight, None) (no bias): output", got, expected, hint="with bias None, no bias")
    expect_close("LinearFunction(x, weight, None): gradient of weight", got_grad, expected_grad)


def _parameters_of(model, bias: bool) -> None:
    n_in, n_out = model.in_features, model.out_features
    names = {name: p for name, p in model.named_parameters()}
    for name, shape, wanted in (("weight", (n_out, n_in), True), ("bias", (n_out,), bias)):
        value = getattr(model, name, None)
        if not wanted:
            if value is not None or name in names:
                raise WrongAnswerError(
                    f"Linear({n_in}, {n_out}, bias=False): bias is {value!r}", "set self.bias = None"
                )
            continue
        if not isinstance(value, tn.Tensor):
            raise WrongAnswerError(f"Linear({n_in}, {n_out}).{name} is {type(value).__name__}, not a tensor",
                                   f"set self.{name} = nn.Parameter(...)")  # fmt: skip
        if not isinstance(value, nn.Parameter) or names.get(name) is not value:
            raise WrongAnswerError(
                f"Linear({n_in}, {n_out}): {name} is not an nn.Parameter, so model.parameters() does not list it "
                f"(it lists {sorted(names)})",
                f"wrap it: self.{name} = nn.Parameter(...); a plain tensor never trains: the optimizer never sees it",
            )
        if tuple(value.shape) != shape:
            raise WrongAnswerError(
                f"Linear({n_in}, {n_out}).{name}: shape {tuple(value.shape)}, expected {shape}",
                f"{name}: shape {shape}: (out_features, in_features) for the weight, as PyTorch's",
            )
        if value.dtype != tn.get_default_dtype():
            raise WrongAnswerError(
                f"Linear({n_in}, {n_out}).{name}: dtype {value.dtype}, expected {tn.get_default_dtype()}",
                "make it in the default dtype (float32), as PyTorch's Linear: tn.empty(...).uniform_(-k, k), or "
                "pass dtype=tn.float32",
            )
    if len(list(model.parameters())) != (2 if bias else 1):
        raise WrongAnswerError(
            f"Linear({n_in}, {n_out}, bias={bias}) has {len(list(model.parameters()))} parameters",
            "exactly the weight and the bias (when bias=True)",
        )


@part("Linear's parameters: weight (out, in) and bias (out,), nn.Parameters that model.parameters() lists")
def parameters(learner) -> None:
    for n_in, n_out in ((5, 3), (2, 4), (1, 1)):
        _parameters_of(learner.Linear(n_in, n_out), bias=True)
    _parameters_of(learner.Linear(4, 2, bias=False), bias=False)


def _expect_uniform(what: str, values: np.ndarray, n_in: int) -> None:
    """Within [-k, k]; and, where there are enough values for it to be certain, spread over it as U(-k, k)."""
    k = 1 / math.sqrt(n_in)
    hint = f"every value uniform in [-k, k], k = 1 / sqrt(in_features) = {k:.4g}"
    if not values.any():
        raise WrongAnswerError(f"{what}: all zero", f"initialise it randomly: {hint}")
    largest = np.abs(values).max()
    if largest > k * (1 + 1e-6):
        raise WrongAnswerError(f"{what}: a value of size {largest:.4g} is outside [-k, k], k = {k:.4g}", hint)
    if values.size < 1000:
        return
    # With n >= 1000 values of U(-k, k): max |w| < 0.9 k has chance 0.9^n, and the mean and mean size are within
    # 5 standard deviations of 0 and k / 2.
    if largest < 0.9 * k:
        raise WrongAnswerError(f"{what}: every value is within +-{largest:.4g}, far inside [-k, k], k = {k:.4g}", hint)
    mean, mean_size = values.mean(), np.abs(values).mean()
    if abs(mean) > 0.1 * k or not 0.4 * k < mean_size < 0.6 * k:
        raise WrongAnswerError(
            f"{what}: mean {mean:.4g} and mean size {mean_size:.4g} are not those of U(-k, k) (0 and k / 2 = "
            f"{k / 2:.4g})",
            hint,
        )


@part("initialisation: uniform in [-1/sqrt(in_features), 1/sqrt(in_features)], as PyTorch's")
def initialisation(learner) -> None:
    for n_in, n_out in ((64, 48), (4, 2000)):
        model = learner.Linear(n_in, n_out)
        _expect_uniform(f"Linear({n_in}, {n_out}).weight", as_array(model.weight, "weight"), n_in)
        _expect_uniform(f"Linear({n_in}, {n_out}).bias", as_array(model.bias, "bias"), n_in)
    a, b = learner.Linear(8, 8), learner.Linear(8, 8)
    if np.array_equal(as_array(a.weight, "weight"), as_array(b.weight, "weight")):
        raise WrongAnswerError("two Linear(8, 8) have the same weight", "draw the values at random in __init__")


@part("forward: x @ weight.T + bias for any leading axes; gradients reach weight and bias")
def module(learner) -> None:
    def check(x: np.ndarray) -> None:
        model = learner.Linear(x.shape[-1], 3)
        _parameters_of(model, bias=True)
        inputs = tn.tensor(x, dtype=tn.float32)
        with _shapes_explained(f"Linear({x.shape[-1]}, 3)(x) for x of shape {x.shape}", x.shape, (3, x.shape[-1])):
            y = model(inputs)
        expected = F.linear(inputs, model.weight.detach(), model.bias.detach())
        expect_close(f"Linear({x.shape[-1]}, 3)(x) for x of shape {x.shape}", as_array(y, "the output"), expected,
                     rtol=1e-4, atol=1e-5)  # fmt: skip
        projection = tn.tensor(np.random.default_rng(0).standard_normal(expected.shape), dtype=tn.float32)
        with _shapes_explained("backward through Linear(x)", x.shape, (3, x.shape[-1])):
            (y * projection).sum().backward()
        weight, bias = model.weight.detach().requires_grad_(), model.bias.detach().requires_grad_()
        (F.linear(inputs, weight, bias) * projection).sum().backward()
        for name, mine, theirs in (("weight", model.weight, weight), ("bias", model.bias, bias)):
            if mine.grad is None:
                raise WrongAnswerError(f"after backward, model.{name}.grad is None", f"{name} must be an nn.Parameter")
            expect_close(f"model.{name}.grad", mine.grad, theirs.grad, rtol=1e-4, atol=1e-5)

    on_drawn(check, CASES.map(lambda case: case[0]), examples=8)
    model = learner.Linear(3, 2, bias=False)
    x = tn.tensor(np.random.default_rng(1).standard_normal((4, 3)), dtype=tn.float32)
    expect_close("Linear(3, 2, bias=False)(x)", model(x), F.linear(x, model.weight.detach()), rtol=1e-4, atol=1e-5)


@part(f"training: 200 steps of SGD on a regression problem reach a mean squared error below {TARGET_LOSS}")
def training(learner) -> None:
    rng = np.random.default_rng(7)
    x = rng.standard_normal((256, 5))
    weight, bias = rng.standard_normal((3, 5)), np.array([2.0, -3.0, 1.0])
    y = x @ weight.T + bias + 0.05 * rng.standard_normal((256, 3))
    inputs, targets = tn.tensor(x, dtype=tn.float32), tn.tensor(y, dtype=tn.float32)
    model = learner.Linear(5, 3)
    optimizer = tn.optim.SGD(model.parameters(), lr=0.1)
    with _shapes_explained("training Linear(5, 3) on x of shape (256, 5)", (256, 5), (3, 5)):
        for _ in range(200):
            optimizer.zero_grad()
            loss = F.mse_loss(model(inputs), targets)
            loss.backward()
            optimizer.step()
    final = float(as_array(F.mse_loss(model(inputs), targets), "the loss"))
    if not final < TARGET_LOSS:
        raise WrongAnswerError(
            f"after 200 steps of SGD(model.parameters(), lr=0.1) on y = x @ W.T + b + noise, the mean squared error "
            f"is {final:.4g}, not below {TARGET_LOSS}",
            "the data has a bias b = [2, -3, 1]: does the bias train (an nn.Parameter, its gradient summed over the "
            "batch)? are the gradients of the weight right?",
        )
