"""Stochastic gradient descent, with momentum, Nesterov momentum, dampening, weight decay and maximize."""

from collections.abc import Callable, Iterable

from kernels.numpy_ref import array_module
from tinynet import backend
from tinynet.errors import ArgumentError
from tinynet.optim.optimizer import Optimizer, check_hyperparameters


class SGD(Optimizer):
    """p <- p - lr * d, where d is the gradient g (negated when maximizing) plus weight_decay * p, or its
    momentum average: buf <- momentum * buf + (1 - dampening) * d (buf = d on the first step), then d <- buf,
    or d <- d + momentum * buf with ``nesterov``. The update is the backend's ``sgd_step`` kernel.

    ``foreach`` and ``fused`` choose PyTorch's implementation, not the numbers: tinynet accepts and ignores them.
    """

    def __init__(
        self,
        params: Iterable,
        lr: float = 1e-3,
        momentum: float = 0,
        dampening: float = 0,
        weight_decay: float = 0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        check_hyperparameters("SGD", lr=lr, momentum=momentum, weight_decay=weight_decay)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ArgumentError("SGD: nesterov momentum requires a momentum (> 0) and zero dampening")
        self._check_flags(differentiable)
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay, nesterov=nesterov,
                        maximize=maximize, foreach=foreach, differentiable=differentiable, fused=fused)  # fmt: skip
        super().__init__(params, defaults)

    def step(self, closure: Callable | None = None):
        """One update of every parameter that has a gradient; returns ``closure()``'s loss when given."""
        loss = self._begin_step(closure)
        for group in self.param_groups:
            momentum = group["momentum"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = -p.grad.array if group["maximize"] else p.grad.array
                buffer, first = None, False
                if momentum != 0:  # plain SGD keeps no state at all, as in PyTorch
                    state = self.state[p]
                    first = state.get("momentum_buffer") is None
                    if first:
                        state["momentum_buffer"] = array_module(p.array).zeros_like(p.array)
                    buffer = state["momentum_buffer"]
                backend.for_arrays(p.array).sgd_step(
                    p.array, grad, buffer,
                    lr=group["lr"], momentum=momentum, dampening=group["dampening"],
                    weight_decay=group["weight_decay"], nesterov=group["nesterov"], first=first,
                )  # fmt: skip
                p.mark_changed()
        return loss
