"""Exercise `sgd_momentum` (lesson 04_optimizers): the SGD step of torch.optim.SGD, with momentum, weight decay and
Nesterov momentum (dampening 0).

For each parameter p with a gradient g = p.grad, one step does (all elementwise, as PyTorch's SGD):
    d = g + weight_decay * p                      (weight decay: an L2 penalty's gradient, added to g)
    if momentum != 0:
        buf = d                       on the first step of this parameter,
        buf = momentum * buf + d      on every later one (buf is kept from step to step)
        d = d + momentum * buf        with nesterov (the new buf: a look ahead),
        d = buf                       without
    p = p - lr * d                                (in place: the parameter itself must change)
Each parameter has its own buffer: keep it in `self.state[p]`, a dict of p's own that the optimizer keeps (under
the key "momentum_buffer", as PyTorch does). Work with Tensors (p, p.grad, their methods), under no_grad (given).
Plain SGD (momentum 0) keeps no buffer.

Write the TODO, then: tinynet exercises check sgd_momentum
"""

import tinynet as tn


class SGD(tn.optim.Optimizer):
    """SGD(params, lr, momentum=0, weight_decay=0, nesterov=False), a step like torch.optim.SGD's."""

    def __init__(self, params, lr: float, momentum: float = 0.0, weight_decay: float = 0.0,
                 nesterov: bool = False) -> None:  # fmt: skip
        # The base class sorts params into self.param_groups, each a dict with "params" and these settings.
        super().__init__(params, dict(lr=lr, momentum=momentum, weight_decay=weight_decay, nesterov=nesterov))

    @tn.no_grad()  # the update itself must not be recorded for autograd
    def step(self) -> None:
        for group in self.param_groups:
            lr, momentum = group["lr"], group["momentum"]
            weight_decay, nesterov = group["weight_decay"], group["nesterov"]
            for p in group["params"]:
                if p.grad is None:  # a parameter that got no gradient is left as it is
                    continue
                state = self.state[p]  # this parameter's own dict, kept from step to step
                # TODO: d with weight decay; the momentum buffer (kept in state) and Nesterov; update p in place.
                raise NotImplementedError("SGD.step: d = g + weight_decay * p, the momentum buffer, p -= lr * d")
