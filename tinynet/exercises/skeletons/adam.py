"""Exercise `adam` (lesson 04_optimizers): the step of torch.optim.Adam (Kingma & Ba, 2015), with bias correction.

For each parameter p with a gradient g = p.grad, step t = 1, 2, 3, ... of p does (all elementwise):
    g = g + weight_decay * p                      (Adam's weight decay: L2, added to the gradient)
    m = beta1 * m + (1 - beta1) * g               (running mean of g; m starts at 0)
    v = beta2 * v + (1 - beta2) * g * g           (running mean of g^2; v starts at 0)
    m_hat = m / (1 - beta1 ** t)                  (bias correction: m and v start at 0, so early on they are
    v_hat = v / (1 - beta2 ** t)                   too small; this undoes it. t counts from 1)
    p = p - lr * m_hat / (sqrt(v_hat) + eps)      (in place; eps outside the square root)
Each parameter has its own t, m and v: keep them in `self.state[p]`, a dict of p's own that the optimizer keeps
("step", "exp_avg", "exp_avg_sq" in PyTorch). Work with Tensors (p, p.grad, tn.zeros_like, .sqrt()), under
no_grad (given).

Write the TODO, then: tinynet exercises check adam
"""

import tinynet as tn


class Adam(tn.optim.Optimizer):
    """Adam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0), a step like torch.optim.Adam's."""

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0) -> None:  # fmt: skip
        # The base class sorts params into self.param_groups, each a dict with "params" and these settings.
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay))

    @tn.no_grad()  # the update itself must not be recorded for autograd
    def step(self) -> None:
        for group in self.param_groups:
            lr, (beta1, beta2) = group["lr"], group["betas"]
            eps, weight_decay = group["eps"], group["weight_decay"]
            for p in group["params"]:
                if p.grad is None:  # a parameter that got no gradient is left as it is
                    continue
                state = self.state[p]  # this parameter's own dict, kept from step to step
                # TODO: on p's first step, t = 0 and m, v zeros like p; then t += 1, weight decay, m, v, the bias
                # corrections and the update of p, in place.
                raise NotImplementedError("Adam.step: t, m and v in state, bias correction, p -= lr * m_hat / ...")
