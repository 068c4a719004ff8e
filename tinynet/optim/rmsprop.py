"""RMSprop: divide the gradient by a running root-mean-square of recent gradients."""

from collections.abc import Callable, Iterable

from kernels.numpy_ref import array_module
from tinynet.optim.optimizer import Optimizer, check_hyperparameters


class RMSprop(Optimizer):
    """RMSprop (Hinton's lecture 6e), as PyTorch defines it. g: the gradient (negated with ``maximize``),
    plus weight_decay * p.

    v <- alpha v + (1 - alpha) g^2; with ``centered``, also gbar <- alpha gbar + (1 - alpha) g and
    v~ = v - gbar^2 (the variance), else v~ = v. With momentum: b <- momentum b + g / (sqrt(v~) + eps) and
    p <- p - lr b; without: p <- p - lr g / (sqrt(v~) + eps). Computed in place with the array library.
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
                    if momentum > 0:
                        state["momentum_buffer"] = xp.zeros_like(p.array)
                    if group["centered"]:
                        state["grad_avg"] = xp.zeros_like(p.array)
                state["step"] += 1
                grad = -p.grad.array if group["maximize"] else p.grad.array
                if group["weight_decay"]:
                    grad = grad + group["weight_decay"] * p.array
                square_avg = state["square_avg"]
                square_avg *= alpha
                square_avg += (1 - alpha) * grad * grad
                if group["centered"]:
                    grad_avg = state["grad_avg"]
                    grad_avg += (1 - alpha) * (grad - grad_avg)  # a lerp towards g, as PyTorch writes it
                    avg = xp.sqrt(square_avg - grad_avg * grad_avg)
                else:
                    avg = xp.sqrt(square_avg)
                avg += group["eps"]
                if momentum > 0:
                    buffer = state["momentum_buffer"]
                    buffer *= momentum
                    buffer += grad / avg
                    p.array -= group["lr"] * buffer
                else:
                    p.array -= group["lr"] * grad / avg
                p.mark_changed()
        return loss
