"""What the optimizer exercises (`sgd_momentum`, `adam`) check: the learner's optimizer and tinynet's own, started
from the same parameters and given the same gradients, must move the parameters the same way, step after step.

A mismatch names the step, the parameter and the index; its hint comes from replaying known mistakes (in NumPy,
by the exercise's ``simulate``) and finding the one whose numbers the learner's match.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st

import tinynet as tn
from tinynet.exercises.grading import WrongAnswerError, as_array, expect_close, on_drawn

STEPS = 4


@dataclass(frozen=True)
class Case:
    """The shapes of the parameters, and the seed of their values and gradients."""

    shapes: tuple
    seed: int

    def __repr__(self) -> str:
        return f"parameters of shapes {', '.join(map(str, self.shapes))}, values and gradients from seed {self.seed}"


# Two parameters of 1 or 2 axes (sizes 1 to 4).
CASES = st.builds(
    Case,
    st.lists(st.lists(st.integers(1, 4), min_size=1, max_size=2).map(tuple), min_size=2, max_size=2).map(tuple),
    st.integers(0, 2**16),
)

# simulate(starts, grads, mistake, **settings): per step, the parameters' values (NumPy) after that step.
Simulate = Callable[..., list[list[np.ndarray]]]


def _problem(shapes: tuple, seed: int, tiny_gradients: bool) -> tuple[list[np.ndarray], list[list[np.ndarray]]]:
    """Starting values, and per step a gradient per parameter; with ``tiny_gradients`` their sizes span 1e-6..1."""
    rng = np.random.default_rng(seed)
    starts = [np.round(rng.standard_normal(shape), 2) for shape in shapes]
    grads = []
    for _ in range(STEPS):
        step = [np.round(rng.standard_normal(shape), 3) for shape in shapes]
        if tiny_gradients:
            step = [g * 10.0 ** rng.integers(-6, 1, size=g.shape) for g in step]
        grads.append(step)
    return starts, grads


def _matching_mistake(history: list[list[np.ndarray]], starts: list[np.ndarray], replays: dict, hints: dict) -> str:
    """The hint of the first mistake whose replay moved every parameter as the learner's did in every step so far
    (compared by how far each moved from its start, so that a small step is not lost in a large value)."""
    for name, trajectory in replays.items():
        if all(
            wrong.shape == got.shape and np.allclose(got - start, wrong - start, rtol=1e-3, atol=1e-9, equal_nan=True)
            for step, values in enumerate(history)
            for got, wrong, start in zip(values, trajectory[step], starts)
        ):
            return hints[name]
    return ""


def expect_same_steps(learner_class, reference_class, settings: dict, simulate: Simulate, hints: dict[str, str],
                      *, tiny_gradients: bool = False, examples: int = 6) -> None:  # fmt: skip
    """``learner_class(params, **settings)`` moves drawn parameters as ``reference_class`` does, over STEPS steps;
    ``hints`` maps each mistake ``simulate`` knows to what to say when the learner's numbers match it."""
    described = ", ".join(f"{k}={v}" for k, v in settings.items())

    def check(case: Case) -> None:
        starts, grads = _problem(case.shapes, case.seed, tiny_gradients)
        mine = [tn.tensor(a, dtype=tn.float64, requires_grad=True) for a in starts]
        theirs = [tn.tensor(a, dtype=tn.float64, requires_grad=True) for a in starts]
        optimizer, reference = learner_class(mine, **settings), reference_class(theirs, **settings)
        replays = {name: simulate(starts, grads, name, **settings) for name in hints}
        history = []  # the learner's parameters after each step
        for step, step_grads in enumerate(grads):
            for p, q, g in zip(mine, theirs, step_grads):
                p.grad, q.grad = tn.tensor(g, dtype=tn.float64), tn.tensor(g, dtype=tn.float64)
            with np.errstate(all="ignore"):  # (a division by zero shows as inf or nan, and is reported below)
                optimizer.step()
            reference.step()
            history.append([as_array(p, "a parameter") for p in mine])
            for index, (got, q) in enumerate(zip(history[-1], theirs)):
                expected = as_array(q, "a parameter")
                if step == 0 and np.array_equal(got, starts[index]) and not np.array_equal(expected, got):
                    raise WrongAnswerError(
                        f"parameter {index} (shape {got.shape}) did not change in step 1",
                        "update the parameter in place (p -= lr * d, or p.add_(d, alpha=-lr)) under no_grad: "
                        "p = p - ... makes a new tensor and leaves the parameter as it was",
                    )
                hint = _matching_mistake(history, starts, replays, hints)
                if not hint and not np.isfinite(got).all():
                    hint = "your parameters became inf or nan: is something divided by zero?"
                expect_close(
                    f"with {described}: parameter {index} (shape {got.shape}) after step {step + 1}", got, expected,
                    hint=hint,
                )  # fmt: skip

    on_drawn(check, CASES, examples=examples)
