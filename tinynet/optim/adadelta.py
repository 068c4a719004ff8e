"""Adadelta: step sizes from running averages of squared gradients and of squared updates (no lr needed)."""

from collections.abc import Callable, Iterable

from kernels.numpy_ref import array_module
from tinynet.errors import ArgumentError
from tinynet.optim.optimizer import Optimizer, check_hyperparameters


class Adadelta(Optimizer):
    """Adadelta (Zeiler, 2012), as PyTorch defines it. g: the gradient (negated with ``maximize``), plus
    weight_decay * p.

    v <- rho v + (1 - rho) g^2; dx = sqrt(u + eps) / sqrt(v + eps) * g; u <- rho u + (1 - rho) dx^2;
    p <- p - lr dx. ``foreach``/``capturable`` are accepted and ignored.
    """

    def __init__(self, params: Iterable, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6,
                 weight_decay: float = 0, foreach: bool | None = None, *, capturable: bool = False,
                 maximize: bool = False, differentiable: bool = False) -> None:  # fmt: skip
        check_hyperparameters("Adadelta", lr=lr, eps=eps, weight_decay=weight_decay)
        if not 0 <= rho <= 1:
            raise ArgumentError(f"Adadelta: invalid rho value: {rho} (must be in [0, 1])")
        self._check_flags(differentiable)
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize, capturable=capturable,
                        foreach=foreach, differentiable=differentiable)  # fmt: skip
        super().__init__(params, defaults)

    def step(self, closure: Callable | None = None):
        """One update of every parameter that has a gradient; returns ``closure()``'s loss when given."""
        loss = self._begin_step(closure)
        for group in self.param_groups:
            rho, eps = group["rho"], group["eps"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                xp = array_module(p.array)
                state = self.state[p]
                if not state:
                    state.update(step=0, square_avg=xp.zeros_like(p.array), acc_delta=xp.zeros_like(p.array))
                state["step"] += 1
                grad = -p.grad.array if group["maximize"] else p.grad.array
                if group["weight_decay"]:
                    grad = grad + group["weight_decay"] * p.array
                square_avg, acc_delta = state["square_avg"], state["acc_delta"]
                square_avg *= rho
                square_avg += (1 - rho) * grad * grad
                delta = xp.sqrt(acc_delta + eps) / xp.sqrt(square_avg + eps) * grad
                acc_delta *= rho
                acc_delta += (1 - rho) * delta * delta
                p.array -= group["lr"] * delta
                p.mark_changed()
        return loss
