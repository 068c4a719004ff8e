"""Softmax, log-softmax and cross-entropy along an axis: the row-wise family, stable by subtracting the max."""

from kernels.numpy_ref.common import array_module


def softmax_forward(x, axis):
    """y = exp(x) / sum(exp(x)) along axis; the max is subtracted first so exp never overflows."""
    xp = array_module(x)
    if x.size == 0:  # no values: no max to take, nothing to compute
        return x.copy()
    e = xp.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def softmax_backward(grad_y, y, axis):
    """dL/dx = y * (dL/dy - sum(dL/dy * y)) along axis (the softmax Jacobian, applied)."""
    return y * (grad_y - (grad_y * y).sum(axis=axis, keepdims=True))


def log_softmax_forward(x, axis):
    """y = x - logsumexp(x) along axis, computed from the max-shifted x (stable)."""
    xp = array_module(x)
    if x.size == 0:
        return x.copy()
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - xp.log(xp.exp(shifted).sum(axis=axis, keepdims=True))


def log_softmax_backward(grad_y, y, axis):
    """dL/dx = dL/dy - softmax(x) * sum(dL/dy) along axis, with softmax(x) = exp(y)."""
    xp = array_module(y)
    return grad_y - xp.exp(y) * grad_y.sum(axis=axis, keepdims=True)


def cross_entropy_forward(logits, labels):
    """Per-sample cross-entropy of integer labels, and the probabilities backward needs.

    logits: (N, C) float, labels: (N,) integers in [0, C)
    -> loss: (N,) with loss[i] = -log softmax(logits[i])[labels[i]], probs: (N, C).
    """
    xp = array_module(logits)
    log_probs = log_softmax_forward(logits, axis=1)
    loss = -log_probs[xp.arange(len(labels)), labels]
    return loss, xp.exp(log_probs)


def cross_entropy_backward(grad_loss, probs, labels):
    """dL/dlogits = (probs - onehot(labels)) * dL/dloss.

    grad_loss: (N,), probs: (N, C), labels: (N,) -> (N, C).
    """
    xp = array_module(probs)
    grad = probs.copy()
    grad[xp.arange(len(labels)), labels] -= 1
    return grad * grad_loss[:, None]
