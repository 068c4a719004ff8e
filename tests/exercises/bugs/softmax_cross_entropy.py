"""Planted bugs of exercise `softmax_cross_entropy` (see tests/test_exercises.py): (name, text of the solution, what
replaces it, a regular expression the failure's message or hint must match)."""

BUGS = [
    (
        "unstable_softmax",
        "e = (x - x.max(dim=-1, keepdim=True).values).exp()",
        "e = x.exp()",
        r"overflow.*subtract each row's own maximum",
    ),
    (
        "backward_without_mean",
        "return grad * (softmax(logits) - onehot) / n, None",
        "return grad * (softmax(logits) - onehot), None",
        r"mean over the batch.*divide by N",
    ),
    (
        "backward_wrong_sign",
        "return grad * (softmax(logits) - onehot) / n, None",
        "return grad * (onehot - softmax(logits)) / n, None",
        r"sign is flipped",
    ),
    (
        "loss_summed_not_averaged",
        "return -log_probs[tn.arange(n), target].sum() / n",
        "return -log_probs[tn.arange(n), target].sum()",
        r"the loss: .*mean over the batch",
    ),
    (
        "softmax_over_the_wrong_axis",
        "return e / e.sum(dim=-1, keepdim=True)",
        "return e / e.sum(dim=0, keepdim=True)",
        r"last axis",
    ),
]
