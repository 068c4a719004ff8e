"""Classification losses over class scores: cross_entropy and nll_loss, with PyTorch's options.

``reduction`` is "mean" (default), "sum" or "none" (one loss per sample). Inputs are (N, C) scores,
(N, C, d1, d2, ...) for per-pixel classes, or an unbatched (C,); targets are class indices (N, d1, ...)
or, for cross_entropy, class probabilities of the input's shape. The plain case (2-d scores, integer
labels, no weights, nothing ignored, no smoothing) runs the fused cross-entropy kernel; every other case
is log_softmax followed by the inline ``NegativeLogLikelihood``.

The pointwise losses (mse, l1, binary cross-entropy, kl_div...) are in ``losses_pointwise``, the
embedding losses (margin ranking, triplet, cosine) in ``losses_embedding``; both are exported from here.
"""

from __future__ import annotations

import math

import numpy as np

from kernels.numpy_ref import array_module
from tinynet import backend
from tinynet.amp_policy import autocast_op
from tinynet.autograd import Function
from tinynet.errors import ArgumentError, ArgumentTypeError, DTypeError, ShapeError
from tinynet.functions import reduce as reductions
from tinynet.functions.activations import log_softmax
from tinynet.functions.elementwise import where
from tinynet.functions.losses_embedding import *  # noqa: F403
from tinynet.functions.losses_embedding import __all__ as _embedding_all
from tinynet.functions.losses_pointwise import *  # noqa: F403
from tinynet.functions.losses_pointwise import __all__ as _pointwise_all
from tinynet.functions.losses_pointwise import apply_reduction, legacy_reduction  # noqa: F401 (imported from here too)
from tinynet.tensor import Tensor, tensor


class CrossEntropy(Function):
    """Softmax cross-entropy with integer labels, fused and stable.

    forward:    loss_n = -log softmax(x_n)[label_n], then mean, sum or none
    derivative: dL/dx_n = (softmax(x_n) - onehot(label_n)) · dL/dloss_n
    kernels:    cross_entropy_forward, cross_entropy_backward
    """

    @staticmethod
    def forward(ctx, logits, labels, reduction):
        loss, probs = backend.for_arrays(logits, labels).cross_entropy_forward(logits, labels)
        ctx.save_for_backward(probs, labels)
        ctx.reduction = reduction
        if reduction == "mean":  # .mean()'s sum and division without its 2 us of Python (it sums float16 in float32)
            return loss.sum() / len(loss) if loss.dtype.itemsize >= 4 else loss.mean()
        return loss.sum() if reduction == "sum" else loss

    @staticmethod
    def backward(ctx, grad):
        probs, labels = ctx.saved
        xp = array_module(probs)
        n = len(labels)
        if ctx.reduction == "none":
            grad_loss = grad
        else:  # filled, not broadcast: the kernels take contiguous arrays, and a broadcast's copy cost 2 us more
            grad_loss = xp.empty(n, grad.dtype)
            grad_loss[...] = grad / n if ctx.reduction == "mean" else grad
        return backend.for_arrays(grad_loss).cross_entropy_backward(grad_loss, probs, labels), None, None


class NegativeLogLikelihood(Function):
    """Weighted negative log-likelihood of class indices, with ignored targets, over (N, C, d1, ...) inputs.

    forward:    loss_i = -w[t_i] x[i, t_i] (0 where t_i = ignore_index), then none, sum, or the weighted
                mean sum(loss) / sum(w[t_i] over targets not ignored)
    derivative: dL/dx[i, c] = -w[c] dL/dloss_i where c = t_i (divided by sum w[t_i] for mean), else 0
    kernels:    none: computed inline with the array module's calls
    """

    @staticmethod
    def forward(ctx, x, target, weight, ignore_index, reduction):
        xp = array_module(x)
        valid = target != ignore_index
        safe = xp.where(valid, target, 0).astype(np.int64)  # ignored rows read class 0, then count nothing
        picked = xp.take_along_axis(x, xp.expand_dims(safe, 1), axis=1).squeeze(1)
        w = xp.ones(safe.shape, dtype=x.dtype) if weight is None else weight[safe]
        w = xp.where(valid, w, 0).astype(x.dtype)
        loss = -w * picked
        ctx.save_for_backward(safe, w)
        ctx.shape, ctx.reduction = x.shape, reduction
        if reduction == "none":
            return loss
        if reduction == "sum":
            return loss.sum()
        ctx.total = w.sum()
        with np.errstate(invalid="ignore", divide="ignore"):  # nothing counted: 0 / 0 is NaN, as in PyTorch
            return loss.sum() / ctx.total

    @staticmethod
    def backward(ctx, grad):
        safe, w = ctx.saved
        xp = array_module(w)
        with np.errstate(invalid="ignore", divide="ignore"):  # nothing counted: NaN here, masked out below
            per_sample = xp.broadcast_to(grad / ctx.total if ctx.reduction == "mean" else grad, safe.shape) * -w
        # where, not a product: with every target ignored, 0 / 0 must not turn the zeros into NaN. Zeros, then each
        # target's value put at its class: a class-by-class comparison over the whole (N, C, d1, ...) input took 3
        # passes more (segmentation scores (16, 10, 32, 32): 0.35 of the 0.49 ms backward).
        grad_x = xp.zeros(ctx.shape, w.dtype)
        values = xp.where(w != 0, per_sample, 0).astype(w.dtype)
        xp.put_along_axis(grad_x, xp.expand_dims(safe, 1), xp.expand_dims(values, 1), axis=1)
        return grad_x, None, None, None, None


def _check_scores(op: str, input: Tensor) -> None:  # noqa: A002 (PyTorch's argument names)
    if not isinstance(input, Tensor):
        raise ArgumentTypeError(f"{op}: input must be a Tensor of class scores, got {type(input).__name__}")
    if input.ndim == 0:
        raise ShapeError(f"{op}: expected input of shape (N, C), (N, C, d1, ...) or unbatched (C,), got a 0-d tensor")
    if input.dtype.kind != "f":
        raise DTypeError(f"{op}: input must be floating point (scores or log-probabilities), got {input.dtype}")


def _check_labels(op: str, input: Tensor, target, ignore_index: int) -> bool:  # noqa: A002
    """Class-index targets: int64 (or uint8) of the input's shape without its class dim, each in [0, C) or
    ignore_index. Returns whether any is ignore_index."""
    if not isinstance(target, Tensor) or target.dtype not in (np.dtype("int64"), np.dtype("uint8")):
        dtype = target.dtype if isinstance(target, Tensor) else type(target).__name__
        raise DTypeError(
            f"{op}: target must hold integer class indices (dtype int64, 'long'), got {dtype}; convert it with "
            "target.long() (or pass class probabilities of the input's shape to cross_entropy)"
        )
    expected = () if input.ndim == 1 else (input.shape[0], *input.shape[2:])
    if target.shape != expected:
        raise ShapeError(
            f"{op}: expected input (N, C) or (N, C, d1, ...) with target (N,) or (N, d1, ...), or an unbatched "
            f"input (C,) with a 0-d target; input {input.shape} needs target of shape {expected}, got {target.shape}"
        )
    classes = input.shape[0] if input.ndim == 1 else input.shape[1]
    labels = target.array
    if labels.size == 0:
        return False
    low, high = int(labels.min()), int(labels.max())
    if low >= 0 and high < classes and not low <= ignore_index <= high:  # the usual case: two reductions
        return False
    ignored = labels == ignore_index
    counted = labels[~ignored]
    if counted.size:
        low, high = int(counted.min()), int(counted.max())
        if low < 0 or high >= classes:
            bad = low if low < 0 else high
            raise ArgumentError(
                f"{op}: target holds class {bad}, outside [0, {classes - 1}] for C={classes} "
                f"(ignore_index={ignore_index} is skipped)"
            )
    return bool(ignored.any())


def _class_weight(op: str, weight, input: Tensor):  # noqa: A002
    """The weight's array (C,), checked; None when there is none."""
    if weight is None:
        return None
    weight = weight if isinstance(weight, Tensor) else tensor(weight, dtype=input.dtype)
    classes = input.shape[0] if input.ndim == 1 else input.shape[1]
    if weight.shape != (classes,):
        raise ShapeError(f"{op}: weight must hold one value per class, shape ({classes},), got {weight.shape}")
    if weight.dtype != input.dtype:
        raise DTypeError(f"{op}: weight has dtype {weight.dtype} but input has {input.dtype}; they must match")
    return weight.array


def _batched(input: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:  # noqa: A002
    # An unbatched (C,) input is a batch of one: its 0-d target becomes (1,).
    return (input.reshape(1, -1), target.reshape(1)) if input.ndim == 1 else (input, target)


def _unbatched(loss: Tensor, input: Tensor, reduction: str) -> Tensor:  # noqa: A002
    return loss.reshape(()) if input.ndim == 1 and reduction == "none" else loss


def _nll(log_probs: Tensor, target: Tensor, weight, ignore_index: int, reduction: str) -> Tensor:
    x, t = _batched(log_probs, target)
    loss = NegativeLogLikelihood.apply(x, t.array, weight, ignore_index, reduction)
    return _unbatched(loss, log_probs, reduction)


@autocast_op("nll_loss")
def nll_loss(input: Tensor, target: Tensor, weight=None, size_average=None, ignore_index: int = -100,  # noqa: A002
             reduce=None, reduction: str = "mean") -> Tensor:  # fmt: skip
    """Negative log-likelihood -w[t] input[n, t]. input: (N, C), (N, C, d1, ...) or (C,) log-probabilities;
    target: (N,), (N, d1, ...) or () class indices; weight: (C,). "mean" divides by the total weight counted."""
    if isinstance(weight, str):  # tinynet also takes the reduction third, as its first versions did
        weight, reduction = None, weight
    reduction = legacy_reduction("nll_loss", size_average, reduce, reduction)
    _check_scores("nll_loss", input)
    _check_labels("nll_loss", input, target, ignore_index)
    return _nll(input, target, _class_weight("nll_loss", weight, input), ignore_index, reduction)


def _probability_targets(input: Tensor, target: Tensor, weight, reduction: str, smoothing: float) -> Tensor:  # noqa: A002
    dim = 0 if input.ndim == 1 else 1
    classes = input.shape[dim]
    if smoothing > 0:
        target = target * (1 - smoothing) + smoothing / classes
    terms = log_softmax(input, dim) * target
    if weight is not None:
        terms = terms * Tensor(weight.reshape((-1,) + (1,) * (input.ndim - dim - 1)))
    if reduction == "none":
        return -reductions.sum(terms, dim)
    total = -reductions.sum(terms)
    if reduction == "sum":
        return total
    # The mean over the samples; NaN for an empty batch, as in PyTorch (a product: no 0 / 0 warning).
    return total * (classes / input.numel() if input.numel() else math.nan)


def _smoothed(input: Tensor, target: Tensor, weight, ignore_index: int, reduction: str, smoothing: float) -> Tensor:  # noqa: A002
    """(1 - s) nll + s/C (-sum_c w_c log p_c), each term zero where the target is ignored; PyTorch's "mean"
    divides the second sum by the total weight of the targets counted, as the first."""
    x, t = _batched(input, target)
    log_probs = log_softmax(x, 1)
    nll = NegativeLogLikelihood.apply(log_probs, t.array, weight, ignore_index, reduction)
    xp = array_module(x.array)
    if weight is not None:
        log_probs = log_probs * Tensor(weight.reshape((-1,) + (1,) * (x.ndim - 2)))
    kept = t.array != ignore_index
    # where, not a product with the mask: with nothing counted, the mean's NaN gradient must not leak in.
    smooth = where(Tensor(kept), -reductions.sum(log_probs, 1), 0.0)
    if reduction == "none":
        loss = nll * (1 - smoothing) + smooth * (smoothing / x.shape[1])
        return _unbatched(loss, input, reduction)
    smooth = reductions.sum(smooth)
    if reduction == "mean":
        counted = float(kept.sum() if weight is None else xp.where(kept, weight[xp.where(kept, t.array, 0)], 0).sum())
        smooth = smooth * (1 / counted if counted else math.nan)
    return nll * (1 - smoothing) + smooth * (smoothing / x.shape[1])


@autocast_op("cross_entropy")
def cross_entropy(input: Tensor, target: Tensor, weight=None, size_average=None, ignore_index: int = -100,  # noqa: A002
                  reduce=None, reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:  # fmt: skip
    """Softmax cross-entropy. input: (N, C), (N, C, d1, ...) or (C,) scores (logits); target: class indices
    (N,), (N, d1, ...) or (), or class probabilities of the input's shape; weight: (C,) per class."""
    if isinstance(weight, str):  # tinynet also takes the reduction third, as its first versions did
        weight, reduction = None, weight
    reduction = legacy_reduction("cross_entropy", size_average, reduce, reduction)
    _check_scores("cross_entropy", input)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ArgumentError(f"cross_entropy: label_smoothing must be between 0.0 and 1.0, got {label_smoothing}")
    w = _class_weight("cross_entropy", weight, input)
    if isinstance(target, Tensor) and target.dtype.kind == "f" and target.shape == input.shape:
        return _probability_targets(input, target, w, reduction, label_smoothing)
    ignored = _check_labels("cross_entropy", input, target, ignore_index)
    if label_smoothing > 0:
        return _smoothed(input, target, w, ignore_index, reduction, label_smoothing)
    plain = input.ndim == 2 and w is None and input.shape[0] > 0 and not ignored
    if plain:
        return CrossEntropy.apply(input, target.array.astype(np.int64, copy=False), reduction)
    return _nll(log_softmax(input, 0 if input.ndim == 1 else 1), target, w, ignore_index, reduction)


__all__ = ["cross_entropy", "nll_loss", *_pointwise_all, *_embedding_all]
# The functions that are also Tensor methods, by method name (x.NAME(...) is FUNCTION(x, ...)).
METHODS: dict = {}
