"""Reference solution of exercise `softmax_cross_entropy` (must pass every part)."""

import tinynet as tn


def softmax(x):
    e = (x - x.max(dim=-1, keepdim=True).values).exp()
    return e / e.sum(dim=-1, keepdim=True)


class CrossEntropy(tn.autograd.Function):
    @staticmethod
    def forward(ctx, logits, target):
        n = logits.shape[0]
        shifted = logits - logits.max(dim=-1, keepdim=True).values
        log_probs = shifted - shifted.exp().sum(dim=-1, keepdim=True).log()
        ctx.save_for_backward(logits, target)
        return -log_probs[tn.arange(n), target].sum() / n

    @staticmethod
    def backward(ctx, grad):
        logits, target = ctx.saved_tensors
        n, c = logits.shape
        onehot = tn.nn.functional.one_hot(target, c)
        return grad * (softmax(logits) - onehot) / n, None


def cross_entropy(logits, target):
    return CrossEntropy.apply(logits, target)
