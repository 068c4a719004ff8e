"""Exercise `softmax_cross_entropy` (lesson 03_activations_and_losses): a stable softmax, and cross-entropy with
the gradient written by hand.

softmax(x): x (..., C) -> (..., C), over the last axis: softmax(x)_i = exp(x_i) / sum_j exp(x_j), so each row of
    C values is positive and sums to 1. exp(1000) overflows to inf (and inf / inf is nan), but softmax(x - c) =
    softmax(x) for any c: subtract each row's own maximum first and every exp is at most 1.
    Write it with Tensor operations (x.max(dim=-1, keepdim=True).values, .exp(), .sum(dim=-1, keepdim=True)) so
    that autograd differentiates it for you.

cross_entropy(logits, target): logits (N, C) floats, target (N,) integer class indices in [0, C) -> a scalar, the
    mean over the batch of -log softmax(logits)[n, target[n]] (as F.cross_entropy). Take the log of the softmax in
    a stable way too: log softmax(x)_i = (x_i - m) - log sum_j exp(x_j - m), m the row's maximum.
    It is a tn.autograd.Function, so you write its backward yourself. Derive it:
        d loss / d logits = (softmax(logits) - onehot(target)) / N       (N, C)
    and backward returns grad (dL/d loss, a scalar Tensor) times that, and None for target (no gradient).
    onehot(target): an (N, C) Tensor, 1 at [n, target[n]] and 0 elsewhere (tn.nn.functional.one_hot(target, C)).
    logits[tn.arange(N), target] picks each row's value at its target.

Write the TODOs, then: tinynet exercises check softmax_cross_entropy
"""

import tinynet as tn


def softmax(x: tn.Tensor) -> tn.Tensor:
    """x (..., C) -> (..., C): softmax over the last axis, computed stably (the row's max subtracted first)."""
    # TODO: subtract each row's max (keepdim=True so it broadcasts), exp, divide by the row's sum.
    raise NotImplementedError("softmax: exp(x - rowmax) / its sum over the last axis")


class CrossEntropy(tn.autograd.Function):
    @staticmethod
    def forward(ctx, logits: tn.Tensor, target: tn.Tensor) -> tn.Tensor:
        """logits (N, C), target (N,) integers -> the mean cross-entropy, a scalar Tensor."""
        # TODO: the stable log-softmax of each row at its target, the mean of its negative over the batch; save
        # what backward needs (ctx.save_for_backward).
        raise NotImplementedError("CrossEntropy.forward: mean over the batch of -log softmax(logits)[n, target[n]]")

    @staticmethod
    def backward(ctx, grad: tn.Tensor):
        """grad: dL/d loss (a scalar) -> (dL/d logits (N, C), None for target)."""
        # TODO: grad * (softmax(logits) - onehot(target)) / N, and None.
        raise NotImplementedError("CrossEntropy.backward: return grad * (softmax - onehot) / N, None")


# Given: the function a model calls (Function.apply records the op for backward).
def cross_entropy(logits: tn.Tensor, target: tn.Tensor) -> tn.Tensor:
    return CrossEntropy.apply(logits, target)
