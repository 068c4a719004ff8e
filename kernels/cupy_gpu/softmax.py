"""Softmax, log-softmax and cross-entropy (softmax.cu): the row-wise family, one block per row.

A row is one run of memory (the axis moved last, the array made contiguous), and one sample's logits
for cross-entropy: the ``row_threads(cols)`` threads of its block stride over its columns and combine
their max and their sum of exps across the block.
"""

from kernels import numpy_ref
from kernels.cupy_gpu.common import contiguous, cupy, fits, launch, row_threads


def _along_rows(name: str, axis: int, *arrays):
    """Row kernel ``name`` of softmax.cu along ``axis`` of same-shaped arrays; one output, their shape.

    Arrays the kernels do not take (or of different shapes) go to the reference kernel of that name.
    """
    if not fits(*arrays) or any(a.shape != arrays[0].shape for a in arrays):
        return getattr(numpy_ref, name)(*arrays, axis)
    rows = [contiguous(cupy.moveaxis(a, axis, -1)) for a in arrays]
    cols = rows[0].shape[-1]
    out = cupy.empty_like(rows[0])
    launch("softmax", name, out.dtype, (out.size // cols,), (row_threads(cols),), *rows, out, cols)
    return cupy.moveaxis(out, -1, axis)


def softmax_forward(x, axis):
    """y = exp(x) / sum(exp(x)) along axis; the max is subtracted first so exp never overflows."""
    return _along_rows("softmax_forward", axis, x)


def softmax_backward(grad_y, y, axis):
    """dL/dx = y * (dL/dy - sum(dL/dy * y)) along axis (the softmax Jacobian, applied)."""
    return _along_rows("softmax_backward", axis, grad_y, y)


def log_softmax_forward(x, axis):
    """y = x - logsumexp(x) along axis, computed from the max-shifted x (stable)."""
    return _along_rows("log_softmax_forward", axis, x)


def log_softmax_backward(grad_y, y, axis):
    """dL/dx = dL/dy - softmax(x) * sum(dL/dy) along axis, with softmax(x) = exp(y)."""
    return _along_rows("log_softmax_backward", axis, grad_y, y)


def cross_entropy_forward(logits, labels):
    """Per-sample cross-entropy of integer labels, and the probabilities backward needs.

    logits: (N, C) float, labels: (N,) integers in [0, C) -> loss: (N,), probs: (N, C). One block per sample.
    """
    if not fits(logits) or logits.ndim != 2:
        return numpy_ref.cross_entropy_forward(logits, labels)
    logits, labels = contiguous(logits), contiguous(labels).astype(cupy.int64, copy=False)
    n, c = logits.shape
    loss, probs = cupy.empty(n, dtype=logits.dtype), cupy.empty_like(logits)
    launch("softmax", "cross_entropy_forward", logits.dtype, (n,), (row_threads(c),), logits, labels, loss, probs, c)
    return loss, probs


def cross_entropy_backward(grad_loss, probs, labels):
    """dL/dlogits = (probs - onehot(labels)) * dL/dloss. grad_loss: (N,), probs: (N, C), labels: (N,) -> (N, C)."""
    if not fits(grad_loss, probs) or probs.ndim != 2:
        return numpy_ref.cross_entropy_backward(grad_loss, probs, labels)
    grad_loss, probs = contiguous(grad_loss), contiguous(probs)
    labels = contiguous(labels).astype(cupy.int64, copy=False)
    n, c = probs.shape
    grad = cupy.empty_like(probs)
    launch(
        "softmax", "cross_entropy_backward", probs.dtype, (n,), (row_threads(c),),
        grad_loss, probs, labels, grad, c,
    )  # fmt: skip
    return grad
