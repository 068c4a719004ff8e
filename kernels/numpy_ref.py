"""Reference kernels: the specification every other backend must match.

Each kernel is plain, readable NumPy with its shapes in the docstring. A kernel takes its array
module from its inputs (``xp = array_module(x)``), so the same code runs on CuPy arrays, on the GPU,
when a backend falls back to it. Kernels never modify their inputs, except the optimizer steps,
which update parameters and their state in place by design.
"""

import sys

import numpy as np

NAME = "numpy"

# The kernel table: every backend provides these names, or falls back to this module's.
KERNELS = (
    "matmul",
    "relu_forward",
    "relu_backward",
    "sigmoid_forward",
    "sigmoid_backward",
    "tanh_forward",
    "tanh_backward",
    "gelu_forward",
    "gelu_backward",
    "softmax_forward",
    "softmax_backward",
    "log_softmax_forward",
    "log_softmax_backward",
    "cross_entropy_forward",
    "cross_entropy_backward",
    "scatter_add",
    "sgd_step",
    "adam_step",
)


def check_available() -> None:
    """The reference runs wherever NumPy does."""


def array_module(*arrays):
    """The array library of the inputs: cupy when any input is a cupy array, else numpy."""
    for a in arrays:
        if type(a).__module__.startswith("cupy"):
            return sys.modules["cupy"]
    return np


# --- linear algebra -------------------------------------------------------------------------


def matmul(a, b):
    """Batched matrix product.

    a: (..., n, k), b: (..., k, m) -> (..., n, m); the batch dimensions broadcast.
    """
    return array_module(a, b).matmul(a, b)


# --- activations ----------------------------------------------------------------------------


def relu_forward(x):
    """y = max(x, 0). x: any shape -> y: same shape."""
    return array_module(x).maximum(x, 0)


def relu_backward(grad_y, x):
    """dL/dx = dL/dy where x > 0, else 0. grad_y, x: same shape."""
    return grad_y * (x > 0)


def sigmoid_forward(x):
    """y = 1 / (1 + exp(-x)), computed without overflow for large |x|. x: any shape."""
    xp = array_module(x)
    e = xp.exp(-xp.abs(x))  # in (0, 1], never overflows
    return xp.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)


def sigmoid_backward(grad_y, y):
    """dL/dx = dL/dy * y * (1 - y), from the forward's output y. grad_y, y: same shape."""
    return grad_y * y * (1 - y)


def tanh_forward(x):
    """y = tanh(x). x: any shape."""
    return array_module(x).tanh(x)


def tanh_backward(grad_y, y):
    """dL/dx = dL/dy * (1 - y^2), from the forward's output y. grad_y, y: same shape."""
    return grad_y * (1 - y * y)


def _erf(x):
    # NumPy has no erf; SciPy's (or CuPy's twin of it) is exact to the last bit.
    if array_module(x) is np:
        from scipy.special import erf
    else:
        from cupyx.scipy.special import erf
    return erf(x)


def gelu_forward(x):
    """y = x * Phi(x), Phi the standard normal CDF = (1 + erf(x / sqrt 2)) / 2. x: any shape."""
    return (0.5 * x * (1 + _erf(x / np.sqrt(2)))).astype(x.dtype, copy=False)


def gelu_backward(grad_y, x):
    """dL/dx = dL/dy * (Phi(x) + x * phi(x)), phi the standard normal density. grad_y, x: same shape."""
    xp = array_module(x)
    cdf = 0.5 * (1 + _erf(x / np.sqrt(2)))
    pdf = xp.exp(-0.5 * x * x) / np.sqrt(2 * np.pi)
    return (grad_y * (cdf + x * pdf)).astype(x.dtype, copy=False)


# --- softmax family -------------------------------------------------------------------------


def softmax_forward(x, axis):
    """y = exp(x) / sum(exp(x)) along axis; the max is subtracted first so exp never overflows."""
    xp = array_module(x)
    e = xp.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def softmax_backward(grad_y, y, axis):
    """dL/dx = y * (dL/dy - sum(dL/dy * y)) along axis (the softmax Jacobian, applied)."""
    return y * (grad_y - (grad_y * y).sum(axis=axis, keepdims=True))


def log_softmax_forward(x, axis):
    """y = x - logsumexp(x) along axis, computed from the max-shifted x (stable)."""
    xp = array_module(x)
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


# --- indexing -------------------------------------------------------------------------------


def scatter_add(target, index, values):
    """target[index] += values, in place, where repeated indices each add (unlike ``+=``).

    target: any shape; index: anything that indexes it (integer arrays, slices);
    values: the shape of target[index].
    """
    if array_module(target) is np:
        np.add.at(target, index, values)
    else:
        import cupyx

        cupyx.scatter_add(target, index, values)


# --- optimizer steps (in place) -------------------------------------------------------------


def sgd_step(param, grad, momentum_buffer, *, lr, momentum, dampening, weight_decay, nesterov, first):
    """One SGD step, as PyTorch defines it, updating param (and momentum_buffer) in place.

    param, grad, momentum_buffer: same shape (momentum_buffer is None when momentum == 0);
    first: True on the buffer's first step, when it starts as the gradient itself.
    """
    d = grad + weight_decay * param if weight_decay else grad
    if momentum:
        if first:
            momentum_buffer[...] = d
        else:
            momentum_buffer *= momentum
            momentum_buffer += (1 - dampening) * d
        d = d + momentum * momentum_buffer if nesterov else momentum_buffer
    param -= lr * d


def adam_step(param, grad, exp_avg, exp_avg_sq, *, step, lr, beta1, beta2, eps, weight_decay, decoupled):
    """One Adam (decoupled=False) or AdamW (decoupled=True) step, updating everything in place.

    param, grad, exp_avg (m), exp_avg_sq (v): same shape; step: 1 on the first update.
    Adam adds weight_decay * param to the gradient (L2); AdamW shrinks param directly.
    """
    if weight_decay and decoupled:
        param *= 1 - lr * weight_decay
    elif weight_decay:
        grad = grad + weight_decay * param
    exp_avg *= beta1
    exp_avg += (1 - beta1) * grad
    exp_avg_sq *= beta2
    exp_avg_sq += (1 - beta2) * grad * grad
    xp = array_module(param)
    bias_correction1 = 1 - beta1**step
    bias_correction2 = 1 - beta2**step
    denom = xp.sqrt(exp_avg_sq) / np.sqrt(bias_correction2) + eps
    param -= (lr / bias_correction1) * exp_avg / denom
