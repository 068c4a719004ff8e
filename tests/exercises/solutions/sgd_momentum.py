"""Reference solution of exercise `sgd_momentum` (must pass every part)."""

import tinynet as tn


class SGD(tn.optim.Optimizer):
    def __init__(self, params, lr, momentum=0.0, weight_decay=0.0, nesterov=False):
        super().__init__(params, dict(lr=lr, momentum=momentum, weight_decay=weight_decay, nesterov=nesterov))

    @tn.no_grad()
    def step(self):
        for group in self.param_groups:
            lr, momentum = group["lr"], group["momentum"]
            weight_decay, nesterov = group["weight_decay"], group["nesterov"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                d = p.grad
                if weight_decay != 0:
                    d = d + weight_decay * p
                if momentum != 0:
                    if "momentum_buffer" not in state:
                        state["momentum_buffer"] = d.clone()
                    else:
                        state["momentum_buffer"] = momentum * state["momentum_buffer"] + d
                    buf = state["momentum_buffer"]
                    if nesterov:
                        d = d + momentum * buf
                    else:
                        d = buf
                p -= lr * d
