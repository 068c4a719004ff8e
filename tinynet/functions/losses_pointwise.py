"""Pointwise losses: one loss per element, then reduced. ``reduction`` is "mean" (default), "sum" or "none".

mse, l1, smooth_l1 and huber broadcast input against target as PyTorch does (warning when the shapes
differ, since (N, 1) against (N,) silently compares every pair); the binary cross-entropies need equal
shapes. All are numerically stable: finite losses and gradients even for logits of +-1e4.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from kernels.numpy_ref import array_module
from kernels.numpy_ref.losses import softplus_of_negative
from tinynet import backend
from tinynet.amp_policy import autocast_op
from tinynet.autograd import Function
from tinynet.dtypes import result_type
from tinynet.errors import ArgumentError, DTypeError, ShapeError
from tinynet.functions import reduce as reductions
from tinynet.functions.activations import softplus
from tinynet.functions.elementwise import where
from tinynet.functions.moments import sum_of_squares
from tinynet.functions.unary import abs, exp, log
from tinynet.tensor import Tensor, tensor

REDUCTIONS = ("mean", "sum", "none")


def legacy_reduction(op: str, size_average, reduce_, reduction: str, allowed: tuple = REDUCTIONS) -> str:
    """The reduction to apply, checked; PyTorch's deprecated ``size_average``/``reduce`` flags win when given
    (reduce=False: "none"; else size_average=False: "sum"; else "mean")."""
    if size_average is not None or reduce_ is not None:
        if reduce_ is False:
            return "none"
        return "sum" if size_average is False else "mean"
    if reduction not in allowed:
        raise ArgumentError(f"{op}: {reduction!r} is not a valid value for reduction; expected one of {allowed}")
    return reduction


def apply_reduction(op: str, loss: Tensor, reduction: str) -> Tensor:
    """Reduce per-element losses as ``reduction`` says ("mean" of nothing is NaN, as in PyTorch)."""
    if reduction == "mean":
        with np.errstate(invalid="ignore"):
            return reductions.mean(loss)
    if reduction == "sum":
        return reductions.sum(loss)
    if reduction == "none":
        return loss
    raise ArgumentError(f"{op}: {reduction!r} is not a valid value for reduction; expected one of {REDUCTIONS}")


def _as_tensor(value, like: Tensor) -> Tensor:
    return value if isinstance(value, Tensor) else tensor(value, dtype=like.dtype)


def _constant(value, like: Tensor) -> Tensor | None:
    """A weight: a tensor without gradient (PyTorch refuses to differentiate these), in ``like``'s dtype."""
    if value is None:
        return None
    value = _as_tensor(value, like)
    return Tensor(value.array.astype(like.dtype, copy=False))


def _float_target(op: str, input: Tensor, target) -> Tensor:  # noqa: A002 (PyTorch's names)
    target = _as_tensor(target, input)
    if result_type(input, target).kind != "f":
        raise DTypeError(f"{op}: needs floating-point input or target, got {input.dtype} and {target.dtype}")
    return target


def _broadcast_target(op: str, input: Tensor, target) -> Tensor:  # noqa: A002
    target = _float_target(op, input, target)
    if input.shape != target.shape:
        try:
            np.broadcast_shapes(input.shape, target.shape)
        except ValueError:
            raise ShapeError(
                f"{op}: input of shape {input.shape} and target of shape {target.shape} cannot broadcast; "
                "they should have the same shape"
            ) from None
        warnings.warn(
            f"{op}: using a target size {target.shape} that is different to the input size {input.shape}. "
            "This will likely lead to incorrect results due to broadcasting. Please ensure they have the same size.",
            UserWarning,
            stacklevel=3,
        )
    return target


def _same_shape_target(op: str, input: Tensor, target) -> Tensor:  # noqa: A002
    target = _float_target(op, input, target)
    # Broadcasting (N, 1) against (N,) would silently compare every pair: PyTorch refuses it here.
    if input.shape != target.shape:
        raise ShapeError(
            f"{op}: input has shape {input.shape} but target has shape {target.shape}; they must match "
            "(reshape one of them, e.g. target.reshape(input.shape))"
        )
    return target


def _weighted(op: str, loss: Tensor, weight, input: Tensor, reduction: str) -> Tensor:  # noqa: A002
    """mse/l1 ``weight`` (input's shape): "mean" is sum(w loss) / sum(w), as PyTorch's."""
    if weight is None:
        return apply_reduction(op, loss, reduction)
    weight = _constant(weight, input)
    if weight.shape != input.shape:
        raise ShapeError(f"{op}: weight of shape {weight.shape} must have the input's shape {input.shape}")
    loss = loss * weight
    if reduction == "mean":
        with np.errstate(invalid="ignore", divide="ignore"):
            return reductions.sum(loss) / reductions.sum(weight)
    return apply_reduction(op, loss, reduction)


@autocast_op("mse_loss")
def mse_loss(input: Tensor, target, size_average=None, reduce=None, reduction: str = "mean",  # noqa: A002
             weight=None) -> Tensor:  # fmt: skip
    """(input - target)^2, reduced; input and target broadcast (same shape expected). weight: input's shape."""
    if isinstance(size_average, str):  # tinynet also takes the reduction third, as its first versions did
        size_average, reduction = None, size_average
    reduction = legacy_reduction("mse_loss", size_average, reduce, reduction)
    target = _broadcast_target("mse_loss", input, target)
    if weight is None and target.shape == input.shape and target.dtype == input.dtype and input.dtype.kind == "f":
        return MSELoss.apply(input, target, reduction)  # one op where the general form is three
    diff = input - target
    return _weighted("mse_loss", diff * diff, weight, input, reduction)


class MSELoss(Function):
    """The mean (or sum, or each) of (x - t)^2, x and t of one shape and dtype, as one op.

    forward:    out = reduce((x - t)^2)
    derivative: dL/dx = dL/dout · 2 (x - t), divided by the count for "mean"; dL/dt = -dL/dx
    kernels:    none: computed inline with the array module's calls
    """

    @staticmethod
    def forward(ctx, x, t, reduction):
        ctx.diff, ctx.reduction = x - t, reduction
        if reduction == "none":
            return ctx.diff * ctx.diff
        total = sum_of_squares(ctx.diff, None).reshape(())  # no array of squares made
        # the sum divided by the count is NumPy's mean, without its 3 us of bookkeeping
        return total / ctx.diff.size if reduction == "mean" else total

    @staticmethod
    def backward(ctx, grad):
        scale = grad / ctx.diff.size if ctx.reduction == "mean" else grad
        grad_x = (2 * scale) * ctx.diff
        return grad_x, (-grad_x if ctx.needs_input_grad[1] else None), None


@autocast_op("l1_loss")
def l1_loss(input: Tensor, target, size_average=None, reduce=None, reduction: str = "mean",  # noqa: A002
            weight=None) -> Tensor:  # fmt: skip
    """|input - target|, reduced; input and target broadcast (same shape expected). weight: input's shape."""
    reduction = legacy_reduction("l1_loss", size_average, reduce, reduction)
    target = _broadcast_target("l1_loss", input, target)
    return _weighted("l1_loss", abs(input - target), weight, input, reduction)


def _quadratic_then_linear(diff: Tensor, width: float) -> Tensor:
    # 0.5 d^2 for |d| < width, else width (|d| - 0.5 width): Huber's loss, continuous in value and slope.
    size = abs(diff)
    return where(size < width, 0.5 * diff * diff, width * (size - 0.5 * width))


@autocast_op("smooth_l1_loss")
def smooth_l1_loss(input: Tensor, target, size_average=None, reduce=None, reduction: str = "mean",  # noqa: A002
                   beta: float = 1.0) -> Tensor:  # fmt: skip
    """0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta (d = input - target); beta = 0 is l1_loss."""
    reduction = legacy_reduction("smooth_l1_loss", size_average, reduce, reduction)
    if beta < 0:
        raise ArgumentError(f"smooth_l1_loss: beta must not be negative, got {beta}")
    target = _broadcast_target("smooth_l1_loss", input, target)
    diff = input - target
    loss = abs(diff) if beta == 0 else _quadratic_then_linear(diff, beta) / beta
    return apply_reduction("smooth_l1_loss", loss, reduction)


@autocast_op("huber_loss")
def huber_loss(input: Tensor, target, reduction: str = "mean", delta: float = 1.0, weight=None) -> Tensor:  # noqa: A002
    """0.5 d^2 where |d| < delta, else delta (|d| - 0.5 delta) (d = input - target); delta > 0."""
    reduction = legacy_reduction("huber_loss", None, None, reduction)
    if delta <= 0:
        raise ArgumentError(f"huber_loss: delta must be positive, got {delta}")
    target = _broadcast_target("huber_loss", input, target)
    loss = _quadratic_then_linear(input - target, delta)
    if weight is None:
        return apply_reduction("huber_loss", loss, reduction)
    weight = _constant(weight, input)
    if weight.shape != input.shape:
        raise ShapeError(f"huber_loss: weight of shape {weight.shape} must have the input's shape {input.shape}")
    return apply_reduction("huber_loss", loss * weight, reduction)  # PyTorch's "mean" here is a plain mean


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
    """Sigmoid and binary cross-entropy in one stable step, positives weighted by ``pos_weight`` (1 if None).

    forward:    loss = (1 - t) x + (1 + (w+ - 1) t) log(1 + e^-x) = -[w+ t log σ(x) + (1 - t) log(1 - σ(x))],
                with log(1 + e^-x) = max(-x, 0) + log(1 + e^-|x|), which never overflows
    derivative: dL/dx = dL/dloss · ((1 + (w+ - 1) t) σ(x) - w+ t), dL/dt = dL/dloss · ((w+ - 1) log(1 + e^-x) - x)
    kernels:    bce_with_logits_forward, bce_with_logits_backward
    """

    @staticmethod
    def forward(ctx, x, t, pos_weight):
        ctx.save_for_backward(x, t)
        ctx.pos_weight = pos_weight
        return backend.for_arrays(x).bce_with_logits_forward(x, t, pos_weight)

    @staticmethod
    def backward(ctx, grad):
        x, t = ctx.saved
        pos_weight = ctx.pos_weight
        need_x, need_t = ctx.needs_input_grad[:2]
        grad_x = backend.for_arrays(grad).bce_with_logits_backward(grad, x, t, pos_weight) if need_x else None
        grad_t = None
        if need_t:  # (rare: a target that is itself learned) by the formula, in the array module's own ops
            grad_t = -grad * x if pos_weight is None else grad * ((pos_weight - 1) * softplus_of_negative(x) - x)
        return grad_x, grad_t, None


@autocast_op("binary_cross_entropy")
def binary_cross_entropy(input: Tensor, target, weight=None, size_average=None, reduce=None,  # noqa: A002
                         reduction: str = "mean") -> Tensor:  # fmt: skip
    """-w [t log p + (1 - t) log(1 - p)] for probabilities p = input in [0, 1]; target: input's shape;
    weight broadcasts to it."""
    if isinstance(weight, str):  # tinynet also takes the reduction third, as its first versions did
        weight, reduction = None, weight
    reduction = legacy_reduction("binary_cross_entropy", size_average, reduce, reduction)
    target = _same_shape_target("binary_cross_entropy", input, target)
    if not bool(((input.array >= 0) & (input.array <= 1)).all()):  # NaN fails this too
        raise ArgumentError(
            "binary_cross_entropy: input must hold probabilities in [0, 1]; for raw scores (logits) "
            "use binary_cross_entropy_with_logits"
        )
    loss = BinaryCrossEntropy.apply(input, target)
    if weight is not None:
        loss = loss * _constant(weight, input)
    return apply_reduction("binary_cross_entropy", loss, reduction)


@autocast_op("binary_cross_entropy_with_logits")
def binary_cross_entropy_with_logits(input: Tensor, target, weight=None, size_average=None, reduce=None,  # noqa: A002
                                     reduction: str = "mean", pos_weight=None) -> Tensor:  # fmt: skip
    """Sigmoid + binary cross-entropy in one stable step. input: logits, target: its shape, in [0, 1];
    weight broadcasts to it; pos_weight (C,) weights the positives of each class (the last dim)."""
    if isinstance(weight, str):  # tinynet also takes the reduction third, as its first versions did
        weight, reduction = None, weight
    op = "binary_cross_entropy_with_logits"
    reduction = legacy_reduction(op, size_average, reduce, reduction)
    target = _same_shape_target(op, input, target)
    pos = None if pos_weight is None else _constant(pos_weight, input)
    if pos is not None:
        try:
            np.broadcast_shapes(pos.shape, input.shape)
        except ValueError:
            raise ShapeError(
                f"{op}: pos_weight of shape {pos.shape} does not broadcast to input {input.shape}"
            ) from None
    loss = BinaryCrossEntropyWithLogits.apply(input, target, None if pos is None else pos.array)
    if weight is not None:
        loss = loss * _constant(weight, input)
    return apply_reduction(op, loss, reduction)


def _xlogx(t: Tensor) -> Tensor:
    # t log t, 0 at t = 0 (its limit), without the NaN gradient log would give there.
    positive = t > 0
    return where(positive, t * log(where(positive, t, 1.0)), 0.0)


@autocast_op("kl_div")
def kl_div(input: Tensor, target, size_average=None, reduce=None, reduction: str = "mean",  # noqa: A002
           log_target: bool = False) -> Tensor:  # fmt: skip
    """KL(target || q) pointwise, with input = log q: t (log t - input), or e^t (t - input) if log_target.
    "batchmean" divides the sum by the batch size (input.shape[0]), the true KL divergence per sample."""
    reduction = legacy_reduction("kl_div", size_average, reduce, reduction, (*REDUCTIONS, "batchmean"))
    target = _float_target("kl_div", input, target)
    loss = exp(target) * (target - input) if log_target else _xlogx(target) - target * input
    if reduction != "batchmean":
        return apply_reduction("kl_div", loss, reduction)
    batch = input.shape[0] if input.ndim else 1
    with np.errstate(invalid="ignore", divide="ignore"):
        return reductions.sum(loss) / batch


@autocast_op("soft_margin_loss")
def soft_margin_loss(input: Tensor, target, size_average=None, reduce=None, reduction: str = "mean") -> Tensor:  # noqa: A002
    """log(1 + e^(-y x)) for labels y = +-1: a smooth hinge."""
    reduction = legacy_reduction("soft_margin_loss", size_average, reduce, reduction)
    target = _float_target("soft_margin_loss", input, target)
    return apply_reduction("soft_margin_loss", softplus(-target * input), reduction)


@autocast_op("multilabel_soft_margin_loss")
def multilabel_soft_margin_loss(input: Tensor, target, weight=None, size_average=None, reduce=None,  # noqa: A002
                                reduction: str = "mean") -> Tensor:  # fmt: skip
    """Binary cross-entropy of sigmoid(input) against 0/1 target per class, averaged over the classes (last
    dim): one loss per sample. input, target: (N, C) or (C,); weight: (C,)."""
    reduction = legacy_reduction("multilabel_soft_margin_loss", size_average, reduce, reduction)
    target = _float_target("multilabel_soft_margin_loss", input, target)
    # -[t log σ(x) + (1 - t) log σ(-x)], with -log σ(x) = softplus(-x)
    loss = target * softplus(-input) + (1 - target) * softplus(input)
    if weight is not None:
        loss = loss * _constant(weight, input)
    loss = reductions.sum(loss, -1) / input.shape[-1]
    return apply_reduction("multilabel_soft_margin_loss", loss, reduction)


@autocast_op("poisson_nll_loss")
def poisson_nll_loss(input: Tensor, target, log_input: bool = True, full: bool = False,  # noqa: A002
                     size_average=None, eps: float = 1e-8, reduce=None, reduction: str = "mean") -> Tensor:  # fmt: skip
    """Poisson negative log-likelihood of counts ``target``: e^input - t input (log_input), else
    input - t log(input + eps); ``full`` adds Stirling's t log t - t + 0.5 log(2 pi t) where t > 1."""
    reduction = legacy_reduction("poisson_nll_loss", size_average, reduce, reduction)
    target = _float_target("poisson_nll_loss", input, target)
    loss = exp(input) - target * input if log_input else input - target * log(input + eps)
    if full:
        counted = target > 1
        safe = where(counted, target, 1.0)  # log only where it is used: no NaN gradient at t <= 0
        loss = loss + where(counted, safe * log(safe) - safe + 0.5 * log(2 * math.pi * safe), 0.0)
    return apply_reduction("poisson_nll_loss", loss, reduction)


@autocast_op("gaussian_nll_loss")
def gaussian_nll_loss(input: Tensor, target, var, full: bool = False, eps: float = 1e-6,  # noqa: A002
                      reduction: str = "mean") -> Tensor:  # fmt: skip
    """Gaussian negative log-likelihood 0.5 (log var + (input - target)^2 / var) (+ 0.5 log 2 pi if full).
    var: input's shape, one dim short of it, or with one dim of size 1; clamped at eps (the gradient passes
    through the clamp unchanged, as in PyTorch)."""
    target = _float_target("gaussian_nll_loss", input, target)
    if not isinstance(var, Tensor):
        if var < 0:
            raise ArgumentError(f"gaussian_nll_loss: var has a negative entry ({var})")
        var = Tensor(array_module(input.array).full(input.shape, var, dtype=input.dtype))
    elif bool((var.array < 0).any()):
        raise ArgumentError("gaussian_nll_loss: var has negative entries")
    if var.shape != input.shape:
        if var.shape == input.shape[:-1]:
            var = var.unsqueeze(-1)
        elif var.ndim != input.ndim or sum(v for i, v in zip(input.shape, var.shape) if i != v) != 1:
            raise ShapeError(
                f"gaussian_nll_loss: var of shape {var.shape} is of incorrect size for input {input.shape}: expected "
                "the input's shape, the input's shape without its last dim, or one dim of size 1"
            )
    reduction = legacy_reduction("gaussian_nll_loss", None, None, reduction)
    xp = array_module(var.array)
    var = var + Tensor(xp.maximum(var.array, eps) - var.array)  # the clamp, as a constant shift
    diff = input - target
    loss = 0.5 * (log(var) + diff * diff / var)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return apply_reduction("gaussian_nll_loss", loss, reduction)


__all__ = [
    "binary_cross_entropy", "binary_cross_entropy_with_logits", "gaussian_nll_loss", "huber_loss", "kl_div",
    "l1_loss", "mse_loss", "multilabel_soft_margin_loss", "poisson_nll_loss", "smooth_l1_loss", "soft_margin_loss",
]  # fmt: skip
