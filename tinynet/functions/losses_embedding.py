"""Losses on pairs and triplets of embeddings or scores: margin ranking, hinge embedding, cosine embedding
and triplet margin. Each is a few differentiable ops; ``reduction`` is "mean" (default), "sum" or "none".
"""

from __future__ import annotations

from tinynet.amp_policy import autocast_op
from tinynet.errors import ShapeError
from tinynet.functions import reduce as reductions
from tinynet.functions.elementwise import minimum, where
from tinynet.functions.losses_pointwise import apply_reduction, legacy_reduction
from tinynet.functions.unary import abs, clamp, sqrt
from tinynet.tensor import Tensor, tensor

# Added to squared norms before the square root, as PyTorch's cosine_embedding_loss does.
EPSILON = 1e-12


def _as_tensor(value, like: Tensor) -> Tensor:
    return value if isinstance(value, Tensor) else tensor(value, dtype=like.dtype)


@autocast_op("margin_ranking_loss")
def margin_ranking_loss(input1: Tensor, input2: Tensor, target, margin: float = 0.0, size_average=None,
                        reduce=None, reduction: str = "mean") -> Tensor:  # fmt: skip
    """max(0, -y (x1 - x2) + margin) for y = 1 (x1 should rank higher) or -1. x1, x2, y: the same number of
    dims (they broadcast)."""
    reduction = legacy_reduction("margin_ranking_loss", size_average, reduce, reduction)
    target = _as_tensor(target, input1)
    if not input1.ndim == input2.ndim == target.ndim:
        raise ShapeError(
            f"margin_ranking_loss: input1 {input1.shape}, input2 {input2.shape} and target {target.shape} "
            "should have the same number of dims"
        )
    return apply_reduction("margin_ranking_loss", clamp(-target * (input1 - input2) + margin, min=0), reduction)


@autocast_op("hinge_embedding_loss")
def hinge_embedding_loss(input: Tensor, target, margin: float = 1.0, size_average=None, reduce=None,  # noqa: A002
                         reduction: str = "mean") -> Tensor:  # fmt: skip
    """x where y = 1, max(0, margin - x) where y = -1 (x: distances, y: +-1 similar or not)."""
    reduction = legacy_reduction("hinge_embedding_loss", size_average, reduce, reduction)
    target = _as_tensor(target, input)
    loss = where(target != 1, clamp(margin - input, min=0), 0.0) + where(target != -1, input, 0.0)
    return apply_reduction("hinge_embedding_loss", loss, reduction)


@autocast_op("cosine_embedding_loss")
def cosine_embedding_loss(input1: Tensor, input2: Tensor, target, margin: float = 0.0, size_average=None,
                          reduce=None, reduction: str = "mean") -> Tensor:  # fmt: skip
    """1 - cos(x1, x2) where y = 1, max(0, cos(x1, x2) - margin) where y = -1. x1, x2: (N, D) with y (N,),
    or unbatched (D,) with a 0-d y."""
    reduction = legacy_reduction("cosine_embedding_loss", size_average, reduce, reduction)
    target = _as_tensor(target, input1)
    if input1.shape != input2.shape or input1.ndim not in (1, 2) or target.shape != input1.shape[:-1]:
        raise ShapeError(
            f"cosine_embedding_loss: expected input1 and input2 of the same shape (N, D) with target (N,), or (D,) "
            f"with a 0-d target; got {input1.shape}, {input2.shape} and target {target.shape}"
        )
    dim = input1.ndim - 1
    dot = reductions.sum(input1 * input2, dim)
    norms = (reductions.sum(input1 * input1, dim) + EPSILON) * (reductions.sum(input2 * input2, dim) + EPSILON)
    cos = dot / sqrt(norms)
    loss = where(target == 1, 1 - cos, 0.0) + where(target == -1, clamp(cos - margin, min=0), 0.0)
    return apply_reduction("cosine_embedding_loss", loss, reduction)


def _distance(a: Tensor, b: Tensor, p: float, eps: float) -> Tensor:
    # ||a - b + eps||_p over the last dim, as PyTorch's pairwise_distance (eps keeps the norm's gradient finite).
    diff = a - b + eps
    if p == 2:
        return sqrt(reductions.sum(diff * diff, -1))
    if p == float("inf"):
        return reductions.amax(abs(diff), -1)
    return reductions.sum(abs(diff) ** p, -1) ** (1 / p)


@autocast_op("triplet_margin_loss")
def triplet_margin_loss(anchor: Tensor, positive: Tensor, negative: Tensor, margin: float = 1.0, p: float = 2,
                        eps: float = 1e-6, swap: bool = False, size_average=None, reduce=None,
                        reduction: str = "mean") -> Tensor:  # fmt: skip
    """max(0, d(a, p) - d(a, n) + margin), d the p-norm distance over the last dim; ``swap`` uses
    min(d(a, n), d(p, n)). anchor, positive, negative: (N, D) or (D,)."""
    reduction = legacy_reduction("triplet_margin_loss", size_average, reduce, reduction)
    if not anchor.ndim == positive.ndim == negative.ndim or anchor.ndim not in (1, 2):
        raise ShapeError(
            f"triplet_margin_loss: anchor {anchor.shape}, positive {positive.shape} and negative {negative.shape} "
            "should have the same number of dims: all (N, D) or all (D,)"
        )
    to_positive, to_negative = _distance(anchor, positive, p, eps), _distance(anchor, negative, p, eps)
    if swap:
        to_negative = minimum(to_negative, _distance(positive, negative, p, eps))
    return apply_reduction("triplet_margin_loss", clamp(margin + to_positive - to_negative, min=0), reduction)


__all__ = ["cosine_embedding_loss", "hinge_embedding_loss", "margin_ranking_loss", "triplet_margin_loss"]
