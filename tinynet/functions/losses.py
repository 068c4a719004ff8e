"""Loss functions. ``reduction`` is "mean" (default), "sum" or "none" (one loss per element/sample).

All are numerically stable: finite losses and gradients even for logits of +-1e4.
"""

import numpy as np

from kernels.numpy_ref import array_module
from tinynet import backend
from tinynet.autograd import Function
from tinynet.errors import ArgumentError, DTypeError, ShapeError
from tinynet.functions import reduce
from tinynet.functions.shape import getitem
from tinynet.tensor import Tensor, tensor

REDUCTIONS = ("mean", "sum", "none")


def apply_reduction(op: str, loss: Tensor, reduction: str) -> Tensor:
    """Reduce per-element losses as ``reduction`` says."""
    if reduction == "mean":
        return reduce.mean(loss)
    if reduction == "sum":
        return reduce.sum(loss)
    if reduction == "none":
        return loss
    raise ArgumentError(f"{op}: reduction must be one of {REDUCTIONS}, got {reduction!r}")


def _check_same_shape(op: str, input: Tensor, target: Tensor) -> None:  # noqa: A002
    # Broadcasting (N, 1) against (N,) would silently compare every pair: refuse it.
    if input.shape != target.shape:
        raise ShapeError(
            f"{op}: input has shape {input.shape} but target has shape {target.shape}; they must match "
            "(reshape one of them, e.g. target.reshape(input.shape))"
        )


def _check_class_labels(op: str, input: Tensor, target: Tensor) -> None:  # noqa: A002
    if input.ndim != 2:
        raise ShapeError(f"{op}: expected input of shape (N, C), got {input.shape}")
    if not isinstance(target, Tensor) or target.dtype.kind not in "iu":
        dtype = target.dtype if isinstance(target, Tensor) else type(target).__name__
        raise DTypeError(
            f"{op}: target must hold integer class indices (N,), got dtype {dtype}; convert with target.long()"
        )
    if target.shape != (input.shape[0],):
        raise ShapeError(f"{op}: input {input.shape} needs target of shape ({input.shape[0]},), got {target.shape}")
    if target.numel():
        low, high = int(target.data.min()), int(target.data.max())
        if low < 0 or high >= input.shape[1]:
            bad = low if low < 0 else high
            raise ArgumentError(
                f"{op}: target holds class {bad}, outside [0, {input.shape[1] - 1}] for C={input.shape[1]}"
            )


def _as_target(target, like: Tensor) -> Tensor:
    return target if isinstance(target, Tensor) else tensor(target, dtype=like.dtype)


class CrossEntropy(Function):
    """Softmax cross-entropy with integer labels, fused and stable.

    forward:    loss_n = -log softmax(x_n)[label_n], then mean, sum or none
    derivative: dL/dx_n = (softmax(x_n) - onehot(label_n)) · dL/dloss_n
    kernels:    cross_entropy_forward, cross_entropy_backward
    """

    @staticmethod
    def forward(ctx, logits, labels, reduction):
        loss, probs = backend.active().cross_entropy_forward(logits, labels)
        ctx.save_for_backward(probs, labels)
        ctx.reduction = reduction
        if reduction == "mean":
            return loss.mean()
        return loss.sum() if reduction == "sum" else loss

    @staticmethod
    def backward(ctx, grad):
        probs, labels = ctx.saved
        xp = array_module(probs)
        n = len(labels)
        if ctx.reduction == "none":
            grad_loss = grad
        else:
            grad_loss = xp.broadcast_to(grad / n if ctx.reduction == "mean" else grad, (n,))
        return backend.active().cross_entropy_backward(grad_loss, probs, labels), None, None


class BinaryCrossEntropy(Function):
    """Binary cross-entropy of probabilities.

    forward:    loss = -(t log p + (1 - t) log(1 - p)), each log clamped at -100
    derivative: dL/dp = dL/dloss · (p - t) / (p (1 - p)), dL/dt = -dL/dloss · (log p - log(1 - p))
    kernels:    none: computed inline with the array module's calls
    """

    @staticmethod
    def forward(ctx, p, t):
        xp = array_module(p)
        # log is clamped at -100, as in PyTorch, so p = 0 or 1 gives a large finite loss, not inf.
        with np.errstate(divide="ignore"):
            log_p, log_1mp = xp.maximum(xp.log(p), -100), xp.maximum(xp.log1p(-p), -100)
        ctx.save_for_backward(p, t, log_p, log_1mp)
        return -(t * log_p + (1 - t) * log_1mp)

    @staticmethod
    def backward(ctx, grad):
        p, t, log_p, log_1mp = ctx.saved
        xp = array_module(p)
        need_p, need_t = ctx.needs_input_grad
        return (
            grad * (p - t) / xp.maximum(p * (1 - p), 1e-12) if need_p else None,
            -grad * (log_p - log_1mp) if need_t else None,
        )


class BinaryCrossEntropyWithLogits(Function):
    """Sigmoid and binary cross-entropy in one stable step.

    forward:    loss = max(x, 0) - x t + log(1 + e^-|x|) = BCE(σ(x), t)
    derivative: dL/dx = dL/dloss · (σ(x) - t), dL/dt = -dL/dloss · x
    kernels:    sigmoid_forward in backward; the forward is inline
    """

    @staticmethod
    def forward(ctx, x, t):
        xp = array_module(x)
        ctx.save_for_backward(x, t)
        # -[t log s(x) + (1-t) log(1-s(x))] = max(x, 0) - x t + log(1 + e^-|x|): never overflows.
        return xp.maximum(x, 0) - x * t + xp.log1p(xp.exp(-xp.abs(x)))

    @staticmethod
    def backward(ctx, grad):
        x, t = ctx.saved
        need_x, need_t = ctx.needs_input_grad
        return grad * (backend.active().sigmoid_forward(x) - t) if need_x else None, -grad * x if need_t else None


def mse_loss(input: Tensor, target, reduction: str = "mean") -> Tensor:  # noqa: A002 (PyTorch's name)
    """Mean squared error: (input - target)^2, reduced. input and target: the same shape."""
    target = _as_target(target, input)
    _check_same_shape("mse_loss", input, target)
    diff = input - target
    return apply_reduction("mse_loss", diff * diff, reduction)


def cross_entropy(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:  # noqa: A002
    """Softmax cross-entropy, fused and stable. input: (N, C) logits, target: (N,) class indices."""
    _check_class_labels("cross_entropy", input, target)
    if reduction not in REDUCTIONS:
        raise ArgumentError(f"cross_entropy: reduction must be one of {REDUCTIONS}, got {reduction!r}")
    return CrossEntropy.apply(input, target, reduction)


def nll_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:  # noqa: A002
    """Negative log-likelihood: -input[i, target[i]]. input: (N, C) log-probabilities, target: (N,)."""
    _check_class_labels("nll_loss", input, target)
    picked = getitem(input, (array_module(target.data).arange(len(target.data)), target.data))
    return apply_reduction("nll_loss", -picked, reduction)


def binary_cross_entropy(input: Tensor, target, reduction: str = "mean") -> Tensor:  # noqa: A002
    """-[t log p + (1 - t) log(1 - p)] for probabilities p = input in [0, 1]; same shapes."""
    target = _as_target(target, input)
    _check_same_shape("binary_cross_entropy", input, target)
    if not bool(((input.data >= 0) & (input.data <= 1)).all()):  # NaN fails this too
        raise ArgumentError(
            "binary_cross_entropy: input must hold probabilities in [0, 1]; for raw scores (logits) "
            "use binary_cross_entropy_with_logits"
        )
    return apply_reduction("binary_cross_entropy", BinaryCrossEntropy.apply(input, target), reduction)


def binary_cross_entropy_with_logits(input: Tensor, target, reduction: str = "mean") -> Tensor:  # noqa: A002
    """Sigmoid + binary cross-entropy in one stable step. input: logits, target: in [0, 1]; same shapes."""
    target = _as_target(target, input)
    _check_same_shape("binary_cross_entropy_with_logits", input, target)
    return apply_reduction(
        "binary_cross_entropy_with_logits", BinaryCrossEntropyWithLogits.apply(input, target), reduction
    )


__all__ = ["binary_cross_entropy", "binary_cross_entropy_with_logits", "cross_entropy", "mse_loss", "nll_loss"]
# The functions that are also Tensor methods, by method name (x.NAME(...) is FUNCTION(x, ...)).
METHODS: dict = {}
