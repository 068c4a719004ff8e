"""Pointwise losses that have kernels of their own: binary cross-entropy on logits, forward and backward.

The loss is a sigmoid and a binary cross-entropy in one: written on the logits x it never overflows,
where log(sigmoid(x)) taken in two steps gives -inf (and NaN gradients) from |x| of about 100 in float32.
"""

from kernels.numpy_ref.activations import sigmoid_forward
from kernels.numpy_ref.common import array_module


def softplus_of_negative(x):
    """log(1 + e^-x) elementwise, as max(-x, 0) + log(1 + e^-|x|): exp only ever of -|x|, so it never overflows.
    x: any shape -> same shape and dtype."""
    xp = array_module(x)
    return xp.maximum(-x, 0) + xp.log1p(xp.exp(-xp.abs(x)))


def bce_with_logits_forward(x, target, pos_weight=None):
    """loss = -[w t log sigmoid(x) + (1 - t) log(1 - sigmoid(x))] elementwise, unreduced, computed as
    (1 - t) x + (1 + (w - 1) t) log(1 + e^-x). x, target: one shape; pos_weight w (the positives' weight):
    None (w = 1) or an array that broadcasts to x -> loss: x's shape and dtype."""
    scale = 1 if pos_weight is None else 1 + (pos_weight - 1) * target
    return (1 - target) * x + scale * softplus_of_negative(x)


def bce_with_logits_backward(grad_loss, x, target, pos_weight=None):
    """dL/dx = dL/dloss * ((1 + (w - 1) t) sigmoid(x) - w t). grad_loss, x, target: x's shape; pos_weight as
    the forward's -> dL/dx: x's shape."""
    w = 1 if pos_weight is None else pos_weight
    return grad_loss * ((1 + (w - 1) * target) * sigmoid_forward(x) - w * target)
