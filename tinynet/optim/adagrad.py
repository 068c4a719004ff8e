"""Adagrad: per-parameter step sizes that shrink with the sum of all squared gradients seen."""

from collections.abc import Callable, Iterable

from kernels.numpy_ref import array_module
from tinynet.optim.optimizer import Optimizer, check_hyperparameters


class Adagrad(Optimizer):
    """Adagrad (Duchi et al., 2011), as PyTorch defines it. g: the gradient (negated with ``maximize``),
    plus weight_decay * p; t: the step count from 1.

    lr_t = lr / (1 + (t - 1) lr_decay); s <- s + g^2 (s starts at ``initial_accumulator_value``);
    p <- p - lr_t g / (sqrt(s) + eps). The accumulators exist from construction (so ``state_dict`` holds
    them before any step, as PyTorch's does). ``foreach``/``fused`` are accepted and ignored.
    """

    def __init__(self, params: Iterable, lr: float = 1e-2, lr_decay: float = 0, weight_decay: float = 0,
                 initial_accumulator_value: float = 0, eps: float = 1e-10, foreach: bool | None = None, *,
                 maximize: bool = False, differentiable: bool = False, fused: bool | None = None) -> None:  # fmt: skip
        check_hyperparameters("Adagrad", lr=lr, lr_decay=lr_decay, weight_decay=weight_decay, eps=eps,
                              initial_accumulator_value=initial_accumulator_value)  # fmt: skip
        self._check_flags(differentiable)
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, foreach=foreach, maximize=maximize,
                        differentiable=differentiable, fused=fused)  # fmt: skip
        super().__init__(params, defaults)

    def add_param_group(self, param_group: dict) -> None:
        super().add_param_group(param_group)
        group = self.param_groups[-1]
        for p in group["params"]:
            xp = array_module(p.array)
            self.state[p].update(step=0, sum=xp.full_like(p.array, group["initial_accumulator_value"]))

    def step(self, closure: Callable | None = None):
        """One update of every parameter that has a gradient; returns ``closure()``'s loss when given."""
        loss = self._begin_step(closure)
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                xp = array_module(p.array)
                state = self.state[p]
                state["step"] += 1
                grad = -p.grad.array if group["maximize"] else p.grad.array
                if group["weight_decay"]:
                    grad = grad + group["weight_decay"] * p.array
                clr = group["lr"] / (1 + (state["step"] - 1) * group["lr_decay"])
                state["sum"] += grad * grad
                p.array -= clr * grad / (xp.sqrt(state["sum"]) + group["eps"])
                p.mark_changed()
        return loss
