"""Checks of exercise `sgd_momentum`: the learner's SGD and tinynet.optim.SGD, from the same parameters and given
the same gradients, move them the same way over several steps: plain, with weight decay, with momentum, with both,
with Nesterov momentum."""

import numpy as np

import tinynet as tn
from tinynet.exercises.checks._trajectories import expect_same_steps
from tinynet.exercises.grading import part

HINTS = {
    "ascent": "the step goes against the gradient: p <- p - lr * d",
    "decay_sign": "weight decay adds weight_decay * p to the gradient (d = g + weight_decay * p): you subtract it",
    "decay_after_momentum": "add weight_decay * p to the gradient first, and build the momentum buffer from that d",
    "buffer_not_kept": "the momentum buffer must be kept from step to step, in self.state[p]: set it to d on the "
    "first step only, and to momentum * buf + d after",
    "ema_buffer": "with dampening 0 the buffer is momentum * buf + d (no (1 - momentum) factor), and d itself on "
    "the first step",
    "zero_buffer_ema": "with dampening 0 the buffer is momentum * buf + d (no (1 - momentum) factor), and d itself "
    "on the first step",
    "nesterov_ignored": "with nesterov, step along d + momentum * buf (after updating buf), not along buf",
    "nesterov_old_buffer": "with nesterov, update the buffer first, then step along d + momentum * buf (the new buf)",
    "no_lr": "the step is lr * d: multiply by the learning rate",
}


def simulate(starts, grads, mistake, *, lr, momentum=0.0, weight_decay=0.0, nesterov=False):
    """The parameters after each step, of torch.optim.SGD, or of SGD written with ``mistake`` (a key of HINTS)."""
    params, buffers, trajectory = [a.copy() for a in starts], [None] * len(starts), []
    for step_grads in grads:
        for i, (p, g) in enumerate(zip(params, step_grads)):
            sign = -1 if mistake == "decay_sign" else 1
            d = g if mistake == "decay_after_momentum" else g + sign * weight_decay * p
            if momentum:
                old = buffers[i]
                if old is None or mistake == "buffer_not_kept":
                    buffers[i] = (1 - momentum) * d if mistake == "zero_buffer_ema" else d
                elif mistake in ("ema_buffer", "zero_buffer_ema"):
                    buffers[i] = momentum * old + (1 - momentum) * d
                else:
                    buffers[i] = momentum * old + d
                if nesterov and mistake == "nesterov_old_buffer":
                    d = d + momentum * (0 if old is None else old)
                elif nesterov and mistake != "nesterov_ignored":
                    d = d + momentum * buffers[i]
                else:
                    d = buffers[i]
            if mistake == "decay_after_momentum":
                d = d + weight_decay * p
            step = d if mistake == "no_lr" else lr * d
            params[i] = p + step if mistake == "ascent" else p - step
        trajectory.append([p.copy() for p in params])
    return trajectory


def _expect(learner, **settings) -> None:
    expect_same_steps(learner.SGD, tn.optim.SGD, dict(lr=0.1, **settings), simulate, HINTS)


@part("plain SGD: p <- p - lr * grad")
def plain(learner) -> None:
    _expect(learner)


@part("weight_decay: d = grad + weight_decay * p")
def weight_decay(learner) -> None:
    _expect(learner, weight_decay=0.1)


@part("momentum: the buffer, kept from step to step")
def momentum(learner) -> None:
    _expect(learner, momentum=0.9)


@part("momentum with weight decay")
def momentum_and_weight_decay(learner) -> None:
    _expect(learner, momentum=0.8, weight_decay=0.1)


@part("nesterov: d + momentum * buf")
def nesterov(learner) -> None:
    _expect(learner, momentum=0.9, nesterov=True)
    _expect(learner, momentum=0.5, weight_decay=0.05, nesterov=True)


def _self_check() -> None:
    """simulate without a mistake is tinynet's SGD (run by hand when editing simulate)."""
    rng = np.random.default_rng(0)
    starts, grads = [rng.standard_normal(3)], [[rng.standard_normal(3)] for _ in range(4)]
    for settings in [{}, {"momentum": 0.9, "weight_decay": 0.1}, {"momentum": 0.9, "nesterov": True}]:
        p = tn.tensor(starts[0], dtype=tn.float64, requires_grad=True)
        opt = tn.optim.SGD([p], lr=0.1, **settings)
        for (g,), expected in zip(grads, simulate(starts, grads, None, lr=0.1, **settings)):
            p.grad = tn.tensor(g, dtype=tn.float64)
            opt.step()
            assert np.allclose(p.detach().numpy(), expected[0]), settings
