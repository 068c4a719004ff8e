"""Stochastic gradient descent, with momentum, Nesterov momentum and weight decay."""

from kernels.numpy_ref import array_module
from tinynet import backend
from tinynet.errors import ArgumentError
from tinynet.optim.optimizer import Optimizer


class SGD(Optimizer):
    """p <- p - lr * d, where d is the gradient (plus weight_decay * p), or its momentum average.

    With momentum: buf <- momentum * buf + (1 - dampening) * d, and d <- buf
    (Nesterov: d <- d + momentum * buf). The update itself is the backend's ``sgd_step`` kernel.
    """

    def __init__(self, params, lr: float, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False) -> None:  # fmt: skip
        if lr < 0 or momentum < 0 or weight_decay < 0:
            raise ArgumentError(
                f"SGD: lr, momentum and weight_decay must be >= 0, got {lr}, {momentum}, {weight_decay}"
            )
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ArgumentError("SGD: nesterov needs momentum > 0 and dampening = 0")
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay, nesterov=nesterov)
        super().__init__(params, defaults)

    def step(self) -> None:
        sgd_step = backend.active().sgd_step
        for group in self.param_groups:
            momentum = group["momentum"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state.setdefault(id(p), {})
                first = momentum != 0 and "momentum_buffer" not in state
                if first:
                    state["momentum_buffer"] = array_module(p.data).zeros_like(p.data)
                sgd_step(
                    p.data, p.grad.data, state.get("momentum_buffer"),
                    lr=group["lr"], momentum=momentum, dampening=group["dampening"],
                    weight_decay=group["weight_decay"], nesterov=group["nesterov"], first=first,
                )  # fmt: skip
                p.mark_changed()
