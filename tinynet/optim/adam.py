"""Adam and AdamW: per-parameter step sizes from running averages of the gradient and its square."""

import math
from collections.abc import Callable, Iterable

import numpy as np

from kernels.numpy_ref import array_module
from tinynet import backend
from tinynet.errors import ArgumentError
from tinynet.optim.optimizer import Optimizer, check_hyperparameters

# Parameters of more numbers than this on average are updated one call each: laying them end to end copies the
# values and gradients in and the values back out, which cost more than the calls it saves (numba, 2 threads: an
# LSTM language model's 292,000 numbers in 7 tensors, 1.6 ms a step joined against 0.9 each; a 784-512-10 MLP's
# 407,000 in 4, 2.1 against 0.9; lesson 14's transformer, 112,000 in 29, 0.75 joined against 0.87 each).
JOIN_UP_TO = 8192


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015). m, v: running means of g and g^2; their bias-corrected ratio steps p.

    p <- p - lr * m_hat / (sqrt(v_hat) + eps), m_hat = m / (1 - beta1^t), v_hat = v / (1 - beta2^t).
    g is negated with ``maximize``; weight_decay adds weight_decay * p to g (L2), or with
    ``decoupled_weight_decay`` (AdamW) shrinks p by (1 - lr * weight_decay) first. ``amsgrad`` divides by the
    largest v seen so far instead of v. The plain update is the backend's ``adam_step`` kernel; amsgrad is
    computed here with the array library. ``foreach``/``fused``/``capturable`` are accepted and ignored
    (they choose PyTorch's implementation, not the numbers).
    """

    def __init__(self, params: Iterable, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, amsgrad: bool = False, *,
                 foreach: bool | None = None, maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False, fused: bool | None = None,
                 decoupled_weight_decay: bool = False) -> None:  # fmt: skip
        name = type(self).__name__
        check_hyperparameters(name, lr=lr, eps=eps, weight_decay=weight_decay)
        for i, beta in enumerate(betas):
            if not 0 <= beta < 1:
                raise ArgumentError(f"{name}: invalid beta parameter at index {i}: {beta} (betas must be in [0, 1))")
        self._check_flags(differentiable)
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                        maximize=maximize, foreach=foreach, capturable=capturable, differentiable=differentiable,
                        fused=fused, decoupled_weight_decay=decoupled_weight_decay)  # fmt: skip
        super().__init__(params, defaults)
        self._joined: dict[tuple, tuple] = {}  # a group's m and v laid end to end (see _step_all_at_once)

    def step(self, closure: Callable | None = None):
        """One update of every parameter that has a gradient; returns ``closure()``'s loss when given."""
        loss = self._begin_step(closure)
        for group in self.param_groups:
            if not self._step_all_at_once(group):
                self._step_each(group)
        return loss

    def _step_all_at_once(self, group: dict) -> bool:
        """The group's update as one kernel call on its parameters laid end to end (PyTorch's "foreach"): a
        small model's step is mostly the cost of calling per parameter (not for large ones: JOIN_UP_TO). Only where
        that gives the same numbers as ``_step_each``: every parameter has a gradient, one dtype, on the CPU, the
        same step count, no amsgrad. m and v live in one buffer each, every parameter's state holding its views of
        them. False when the group does not qualify."""
        params = group["params"]
        if group["amsgrad"] or len(params) < 2:
            return False
        dtype, size = params[0].array.dtype, 0
        for p in params:  # plain loops here and below: this is most of a small model's optimizer step
            if p.grad is None or type(p.array) is not np.ndarray or p.array.dtype != dtype:
                return False
            if p.grad.array.dtype != dtype:
                return False
            size += p.array.size
        if size > JOIN_UP_TO * len(params):
            return False
        buffers = self._joined_state(params)
        if buffers is None:
            return False
        exp_avg, exp_avg_sq = buffers
        values = np.concatenate([p.array.reshape(-1) for p in params])
        grads = np.concatenate([p.grad.array.reshape(-1) for p in params])
        state = self.state
        for p in params:
            state[p]["step"] += 1
        beta1, beta2 = group["betas"]
        backend.for_arrays(values).adam_step(
            values, -grads if group["maximize"] else grads, exp_avg, exp_avg_sq, step=state[params[0]]["step"],
            lr=group["lr"], beta1=beta1, beta2=beta2, eps=group["eps"], weight_decay=group["weight_decay"],
            decoupled=group["decoupled_weight_decay"],
        )  # fmt: skip
        start = 0
        for p in params:
            array = p.array
            array[...] = values[start : start + array.size].reshape(array.shape)
            start += array.size
            p.mark_changed()
        return True

    def _joined_state(self, params: list) -> tuple | None:
        """(m, v) of ``params`` laid end to end, each parameter's state["exp_avg"] and ["exp_avg_sq"] views of
        them (made from the states when they are not: first step, load_state_dict); None if the states differ
        in step count or in being started."""
        states = [self.state[p] for p in params]
        joined = self._joined.get(tuple(map(id, params)))
        if joined is not None and _views_of(joined, states):
            return joined
        if any(states) and not (all(states) and len({s["step"] for s in states}) == 1):
            return None
        sizes = [p.array.size for p in params]
        if all(states):
            exp_avg = np.concatenate([s["exp_avg"].reshape(-1) for s in states])
            exp_avg_sq = np.concatenate([s["exp_avg_sq"].reshape(-1) for s in states])
        else:
            exp_avg, exp_avg_sq = np.zeros(sum(sizes), params[0].dtype), np.zeros(sum(sizes), params[0].dtype)
        start = 0
        for p, state, size in zip(params, states, sizes):
            state.setdefault("step", 0)
            state["exp_avg"] = exp_avg[start : start + size].reshape(p.shape)
            state["exp_avg_sq"] = exp_avg_sq[start : start + size].reshape(p.shape)
            start += size
        self._joined[tuple(map(id, params))] = (exp_avg, exp_avg_sq)
        return exp_avg, exp_avg_sq

    def _step_each(self, group: dict) -> None:
        """The group's update, one parameter at a time."""
        beta1, beta2 = group["betas"]
        for p in group["params"]:
            if p.grad is None:
                continue
            grad = -p.grad.array if group["maximize"] else p.grad.array
            state = self.state[p]
            if not state:
                xp = array_module(p.array)
                state.update(step=0, exp_avg=xp.zeros_like(p.array), exp_avg_sq=xp.zeros_like(p.array))
                if group["amsgrad"]:
                    state["max_exp_avg_sq"] = xp.zeros_like(p.array)
            state["step"] += 1
            settings = dict(
                step=state["step"],
                lr=group["lr"],
                beta1=beta1,
                beta2=beta2,
                eps=group["eps"],
                weight_decay=group["weight_decay"],
                decoupled=group["decoupled_weight_decay"],
            )
            if group["amsgrad"]:
                _amsgrad_step(p.array, grad, state["exp_avg"], state["exp_avg_sq"], state["max_exp_avg_sq"],
                              **settings)  # fmt: skip
            else:
                backend.for_arrays(p.array).adam_step(p.array, grad, state["exp_avg"], state["exp_avg_sq"], **settings)
            p.mark_changed()


def _amsgrad_step(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, *, step, lr, beta1, beta2, eps, weight_decay,
                  decoupled):  # fmt: skip
    """Adam's step dividing by sqrt(max over steps of v) (Reddi et al., 2018), everything in place."""
    xp = array_module(param)
    if weight_decay and decoupled:
        param *= 1 - lr * weight_decay
    elif weight_decay:
        grad = grad + weight_decay * param
    exp_avg *= beta1
    exp_avg += (1 - beta1) * grad
    exp_avg_sq *= beta2
    exp_avg_sq += (1 - beta2) * grad * grad
    xp.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)
    # math.sqrt gives a Python float, which keeps float32 arrays float32 (a NumPy float64 would not).
    denom = xp.sqrt(max_exp_avg_sq) / math.sqrt(1 - beta2**step) + eps
    param -= (lr / (1 - beta1**step)) * exp_avg / denom


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter, 2019): p <- p (1 - lr wd), then Adam's step."""

    def __init__(self, params: Iterable, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False, *,
                 maximize: bool = False, foreach: bool | None = None, capturable: bool = False,
                 differentiable: bool = False, fused: bool | None = None) -> None:  # fmt: skip
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach, maximize=maximize,
                         capturable=capturable, differentiable=differentiable, fused=fused,
                         decoupled_weight_decay=True)  # fmt: skip


def _views_of(joined: tuple, states: list[dict]) -> bool:
    """Whether every state is started, at one step count, its m and v views of the joined buffers: the usual
    case, checked in a plain loop (generators took 3 of the 13 us of a small model's optimizer step)."""
    exp_avg, exp_avg_sq = joined
    step = states[0].get("step")
    for state in states:
        if not state or state["step"] != step or state["exp_avg"].base is not exp_avg:
            return False
        if state["exp_avg_sq"].base is not exp_avg_sq:
            return False
    return True
