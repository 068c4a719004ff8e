"""Checks of exercise `adam`: the learner's Adam and tinynet.optim.Adam, from the same parameters and given the
same gradients (of sizes from 1e-6 to 1, where eps matters), move them the same way over several steps."""

import numpy as np

import tinynet as tn
from tinynet.exercises.checks._trajectories import expect_same_steps
from tinynet.exercises.grading import part

HINTS = {
    "t_from_0": "t counts from 1: add 1 to the step count before the bias correction (at t = 0, 1 - beta ** t is 0)",
    "no_bias_correction": "divide m by (1 - beta1 ** t) and v by (1 - beta2 ** t): the bias correction",
    "m_corrected_only": "divide v by (1 - beta2 ** t) too: the bias correction of v",
    "v_corrected_only": "divide m by (1 - beta1 ** t) too: the bias correction of m",
    "eps_inside_sqrt": "eps goes outside the square root: sqrt(v_hat) + eps",
    "no_sqrt": "divide by the square root of v_hat (plus eps), not by v_hat",
    "betas_swapped": "m uses beta1 and v uses beta2",
    "m_with_beta2": "m uses beta1 and v uses beta2",
    "v_with_beta1": "m uses beta1 and v uses beta2",
    "ema_weights_swapped": "m = beta1 * m + (1 - beta1) * g: beta1 weighs the old m, (1 - beta1) the new gradient",
    "state_reset": "t, m and v must be kept from step to step in self.state[p]: create them on p's first step only",
    "decoupled_decay": "Adam's weight decay adds weight_decay * p to the gradient, before m and v (shrinking p "
    "itself is AdamW's decoupled weight decay)",
    "decay_sign": "weight decay adds weight_decay * p to the gradient: you subtract it",
    "ascent": "the step goes against the gradient: p <- p - lr * m_hat / (sqrt(v_hat) + eps)",
}


def simulate(starts, grads, mistake, *, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
    """The parameters after each step, of torch.optim.Adam, or of Adam written with ``mistake`` (a key of HINTS)."""
    beta1, beta2 = betas
    m_beta = beta2 if mistake in ("betas_swapped", "m_with_beta2") else beta1
    v_beta = beta1 if mistake in ("betas_swapped", "v_with_beta1") else beta2
    params = [a.copy() for a in starts]
    ms, vs = [np.zeros_like(a) for a in starts], [np.zeros_like(a) for a in starts]
    trajectory = []
    for t, step_grads in enumerate(grads, start=1):
        if mistake == "state_reset":
            t, ms, vs = 1, [np.zeros_like(a) for a in starts], [np.zeros_like(a) for a in starts]
        tc = t - 1 if mistake == "t_from_0" else t
        for i, (p, g) in enumerate(zip(params, step_grads)):
            if mistake == "decoupled_decay":
                p = p * (1 - lr * weight_decay)
            else:
                g = g + (-1 if mistake == "decay_sign" else 1) * weight_decay * p
            if mistake == "ema_weights_swapped":
                ms[i] = (1 - m_beta) * ms[i] + m_beta * g
                vs[i] = (1 - v_beta) * vs[i] + v_beta * g * g
            else:
                ms[i] = m_beta * ms[i] + (1 - m_beta) * g
                vs[i] = v_beta * vs[i] + (1 - v_beta) * g * g
            with np.errstate(all="ignore"):
                m_hat, v_hat = ms[i], vs[i]
                if mistake not in ("no_bias_correction", "v_corrected_only"):
                    m_hat = m_hat / (1 - beta1**tc)
                if mistake not in ("no_bias_correction", "m_corrected_only"):
                    v_hat = v_hat / (1 - beta2**tc)
                if mistake == "eps_inside_sqrt":
                    update = m_hat / np.sqrt(v_hat + eps)
                elif mistake == "no_sqrt":
                    update = m_hat / (v_hat + eps)
                else:
                    update = m_hat / (np.sqrt(v_hat) + eps)
            params[i] = p + lr * update if mistake == "ascent" else p - lr * update
        trajectory.append([p.copy() for p in params])
    return trajectory


def _expect(learner, **settings) -> None:
    expect_same_steps(learner.Adam, tn.optim.Adam, dict(lr=0.01, **settings), simulate, HINTS, tiny_gradients=True)


@part("default settings: m, v, their bias correction and the step, over 4 steps")
def default_settings(learner) -> None:
    _expect(learner)


@part("other betas and eps: read them from the group")
def settings(learner) -> None:
    _expect(learner, betas=(0.8, 0.99), eps=1e-3)


@part("weight_decay: g + weight_decay * p, before m and v")
def weight_decay(learner) -> None:
    _expect(learner, weight_decay=0.1)


def _self_check() -> None:
    """simulate without a mistake is tinynet's Adam (run by hand when editing simulate)."""
    rng = np.random.default_rng(0)
    starts, grads = [rng.standard_normal(3)], [[rng.standard_normal(3) * 1e-5] for _ in range(4)]
    for settings in [{}, {"betas": (0.8, 0.99), "eps": 1e-3}, {"weight_decay": 0.1}]:
        p = tn.tensor(starts[0], dtype=tn.float64, requires_grad=True)
        opt = tn.optim.Adam([p], lr=0.01, **settings)
        for (g,), expected in zip(grads, simulate(starts, grads, None, lr=0.01, **settings)):
            p.grad = tn.tensor(g, dtype=tn.float64)
            opt.step()
            assert np.allclose(p.detach().numpy(), expected[0], rtol=1e-10, atol=0), settings
