"""RMSprop: divide the gradient by a running root-mean-square of recent gradients."""

from collections.abc import Callable, Iterable

from kernels.numpy_ref import array_module
from tinynet import backend
from tinynet.optim.optimizer import Optimizer, check_hyperparameters


class RMSprop(Optimizer):
    """RMSprop (Hinton's lecture 6e), as PyTorch defines it. g: the gradient (negated with ``maximize``),
    plus weight_decay * p.

    v <- alpha v + (1 - alpha) g^2; with ``centered``, also gbar <- alpha gbar + (1 - alpha) g and
    v~ = v - gbar^2 (the variance), else v~ = v. With momentum: b <- momentum b + g / (sqrt(v~) + eps) and
    p <- p - lr b; without: p <- p - lr g / (sqrt(v~) + eps). In place, by the backend's ``rmsprop_step`` kernel.
    ``foreach``/``capturable`` are accepted and ignored (PyTorch implementation choices, not numbers).
    """

    def __init__(
        self,
        params: Iterable,
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum: float = 0,
        centered: bool = False,
        capturable: bool = False,
        foreach: bool | None = None,
        maximize: bool = False,
        differentiable: bool = False,
    ) -> None:
        check_hyperparameters("RMSprop", lr=lr, eps=eps, momentum=momentum, weight_decay=weight_decay, alpha=alpha)
        self._check_flags(differentiable)
        defaults = dict(
            lr=lr,
            momentum=momentum,
            alpha=alpha,
            eps=eps,
            centered=centered,
            weight_decay=weight_decay,
            capturable=capturable,
            foreach=foreach,
            maximize=maximize,
            differentiable=differentiable,
        )
        super().__init__(params, defaults)

    def step(self, closure: Callable | None = None):
        """One update of every parameter that has a gradient; returns ``closure()``'s loss when given."""
        loss = self._begin_step(closure)
        for group in self.param_groups:
            alpha, momentum = group["alpha"], group["momentum"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                xp = array_module(p.array)
                state = self.state[p]
                if not state:
                    state.update(step=0, square_avg=xp.zeros_like(p.array))
                # (also where momentum or centered were switched on after the first step)
                if momentum > 0 and "momentum_buffer" not in state:
                    state["momentum_buffer"] = xp.zeros_like(p.array)
                if group["centered"] and "grad_avg" not in state:
                    state["grad_avg"] = xp.zeros_like(p.array)
                state["step"] += 1
                backend.for_arrays(p.array).rmsprop_step(
                    p.array, -p.grad.array if group["maximize"] else p.grad.array, state["square_avg"],
                    state["grad_avg"] if group["centered"] else None,
                    state["momentum_buffer"] if momentum > 0 else None, lr=group["lr"], alpha=alpha,
                    eps=group["eps"], weight_decay=group["weight_decay"], momentum=momentum,
                )  # fmt: skip
                p.mark_changed()
        return loss
