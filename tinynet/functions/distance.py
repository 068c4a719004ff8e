"""Norms, distances and similarities between vectors: normalize, cosine_similarity, pairwise_distance, cdist.

Each vector is a slice along one axis. The p-norm and its gradient are shared: ``‖x‖_p = (Σ |x_i|^p)^(1/p)``,
with p = inf the largest |x_i| (-inf: the smallest) and p = 0 the count of non-zero values. Where a norm
is 0 its gradient is taken as 0 (the limit of x / ‖x‖ is undefined there), as in PyTorch.
"""

import math

import numpy as np

from kernels.numpy_ref import array_module
from tinynet.amp_policy import autocast_op
from tinynet.autograd import Function, unbroadcast
from tinynet.dtypes import result_type
from tinynet.errors import ArgumentError, DTypeError, ShapeError
from tinynet.functions.activation_checks import floating_only, in_place, numbers_only
from tinynet.functions.elementwise import add, cast, sub
from tinynet.functions.moments import norm, p_norm
from tinynet.functions.reduce import normalize_dims
from tinynet.functions.shape import unsqueeze
from tinynet.tensor import Tensor


def _axes(axis) -> tuple | None:
    """One axis (or None: all of x) as the axes p_norm takes."""
    return None if axis is None else (axis,)


def _norm_slope(x, norm, p: float, axis):
    """d‖x‖_p / dx for array x, ``norm`` its norm from ``_norm``: 0 wherever the norm is 0."""
    xp = array_module(x)
    if p == 0:
        return xp.zeros_like(x)
    if p == 1:
        return xp.sign(x)
    safe = xp.where(norm == 0, 1, norm)
    if p == 2:
        return xp.where(norm == 0, 0, x / safe)
    if math.isinf(p):
        # The largest |x_i| (the smallest for -inf) share the gradient equally when several tie.
        top = (xp.abs(x) == norm) & (norm != 0)
        return xp.sign(x) * top / xp.maximum(top.sum(axis=axis, keepdims=True), 1)
    magnitude = xp.abs(x)
    power = xp.where(magnitude == 0, 0, magnitude ** (p - 1))  # 0^(p-1) is inf for p < 1: no slope there
    return xp.where(norm == 0, 0, xp.sign(x) * power / safe ** (p - 1))


class PNorm(Function):
    """The p-norm of each slice along an axis (the distances of pairwise_distance and cdist).

    forward:    n = (Σ_i |x_i|^p)^(1/p) along the axis (p = inf: max |x_i|; p = 0: the count of x_i ≠ 0)
    derivative: dL/dx_i = dL/dn · sign(x_i) |x_i|^(p-1) / n^(p-1), 0 where n = 0;
                for p = inf, dL/dn is shared by the largest |x_i|
    kernels:    none: computed inline with the array module's calls
    """

    @staticmethod
    def forward(ctx, x, p, axis, keepdim):
        norm = p_norm(x, p, _axes(axis))
        ctx.save_for_backward(x, norm)
        ctx.p, ctx.axis, ctx.keepdim = p, axis, keepdim
        return norm if keepdim else norm.squeeze(axis)

    @staticmethod
    def backward(ctx, grad):
        x, norm = ctx.saved
        grad = grad if ctx.keepdim else array_module(grad).expand_dims(grad, ctx.axis)
        return (grad * _norm_slope(x, norm, ctx.p, ctx.axis)).astype(x.dtype, copy=False), None, None, None


class Normalize(Function):
    """Each slice along an axis divided by its p-norm (at least eps).

    forward:    y = x / max(‖x‖_p, eps) along the axis
    derivative: dL/dx = dL/dy / d - (Σ dL/dy · x) / d² · d‖x‖_p/dx, d = max(‖x‖_p, eps);
                the last term only where ‖x‖_p ≥ eps
    kernels:    none: computed inline with the array module's calls
    """

    @staticmethod
    def forward(ctx, x, p, axis, eps):
        xp = array_module(x)
        norm = p_norm(x, p, _axes(axis))
        denominator = xp.maximum(norm, eps).astype(x.dtype, copy=False)
        ctx.save_for_backward(x, norm, denominator)
        ctx.p, ctx.axis, ctx.eps = p, axis, eps
        return x / denominator

    @staticmethod
    def backward(ctx, grad):
        x, norm, denominator = ctx.saved
        xp = array_module(x)
        through_norm = xp.where(norm >= ctx.eps, (grad * x).sum(axis=ctx.axis, keepdims=True), 0)
        slope = _norm_slope(x, norm, ctx.p, ctx.axis)
        grad_x = grad / denominator - through_norm / (denominator * denominator) * slope
        return grad_x.astype(x.dtype, copy=False), None, None, None


class CosineSimilarity(Function):
    """The cosine of the angle between paired slices of a and b along an axis, broadcasting a against b.

    forward:    y = Σ (a / d_a)(b / d_b) along the axis, d = max(‖·‖₂, eps) each
    derivative: dL/da = dL/dy (b / (d_a d_b) - y a / (d_a ‖a‖₂)) (the last term 0 where ‖a‖₂ = 0); b alike
    kernels:    none: computed inline with the array module's calls
    """

    @staticmethod
    def forward(ctx, a, b, axis, eps):
        xp = array_module(a)
        ctx.shapes = np.shape(a), np.shape(b)
        a, b = xp.broadcast_arrays(a, b)
        norm_a, norm_b = p_norm(a, 2, _axes(axis)), p_norm(b, 2, _axes(axis))
        # eps bounds each norm (not their product) from below, as PyTorch does.
        d_a, d_b = xp.maximum(norm_a, eps).astype(a.dtype), xp.maximum(norm_b, eps).astype(a.dtype)
        y = ((a / d_a) * (b / d_b)).sum(axis=axis, keepdims=True)
        ctx.save_for_backward(a, b, norm_a, norm_b, d_a, d_b, y)
        ctx.axis = axis
        return y.squeeze(axis) if axis is not None else y.reshape(())

    @staticmethod
    def backward(ctx, grad):
        a, b, norm_a, norm_b, d_a, d_b, y = ctx.saved
        grad = grad.reshape(y.shape)
        need_a, need_b = ctx.needs_input_grad[:2]
        shape_a, shape_b = ctx.shapes
        grad_a = grad_b = None
        if need_a:
            grad_a = grad * (b / (d_a * d_b) - y / d_a * _norm_slope(a, norm_a, 2, ctx.axis))
            grad_a = unbroadcast(grad_a, shape_a)
        if need_b:
            grad_b = grad * (a / (d_a * d_b) - y / d_b * _norm_slope(b, norm_b, 2, ctx.axis))
            grad_b = unbroadcast(grad_b, shape_b)
        return grad_a, grad_b, None, None


def _check_p(op: str, p: float) -> None:
    if math.isnan(p):
        raise ArgumentError(f"{op}: p must be a norm order (0, 1, 2, ..., inf), got nan")


def _common_float(op: str, x1: Tensor, x2: Tensor) -> tuple[Tensor, Tensor]:
    dtype = result_type(x1, x2)
    if dtype.kind != "f":
        raise DTypeError(f"{op}: expected floating-point inputs, got dtypes {x1.dtype} and {x2.dtype}")
    return (x1 if x1.dtype == dtype else cast(x1, dtype)), (x2 if x2.dtype == dtype else cast(x2, dtype))


def _broadcast_shape(op: str, x1: Tensor, x2: Tensor) -> tuple:
    try:
        return np.broadcast_shapes(x1.shape, x2.shape)
    except ValueError:
        raise ShapeError(
            f"{op}: shapes {x1.shape} and {x2.shape} cannot broadcast (aligned from the right, each pair of sizes "
            "must be equal or one of them 1)"
        ) from None


@autocast_op("normalize")
def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12, out=None) -> Tensor:  # noqa: A002
    """input / max(‖input‖_p, eps) along ``dim``: each slice becomes a unit vector (a zero slice stays zero)."""
    floating_only("normalize", input)
    _check_p("normalize", p)
    axes = normalize_dims("normalize", dim, input.ndim)
    result = Normalize.apply(input, p, None if axes is None else axes[0], eps)
    return result if out is None else in_place("normalize", out, result)


@autocast_op("cosine_similarity")
def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """The cosine similarity of x1 and x2 along ``dim`` (of their broadcast shape), which is removed:
    x1 · x2 / (max(‖x1‖, eps) max(‖x2‖, eps)). x1: (..., D, ...), x2 broadcastable to it."""
    x1, x2 = _common_float("cosine_similarity", x1, x2)
    shape = _broadcast_shape("cosine_similarity", x1, x2)
    axes = normalize_dims("cosine_similarity", dim, len(shape))
    return CosineSimilarity.apply(x1, x2, None if axes is None else axes[0], eps)


def pairwise_distance(x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False) -> Tensor:
    """‖x1 - x2 + eps‖_p along the last dimension. x1: (N, D) or (D,), x2 broadcastable to it -> (N,) or ()."""
    numbers_only("pairwise_distance", x1)
    numbers_only("pairwise_distance", x2)
    _check_p("pairwise_distance", p)
    _broadcast_shape("pairwise_distance", x1, x2)
    difference = add(sub(x1, x2), eps)
    if difference.ndim == 0:  # two single values: the distance of 1-vectors, with no axis to keep
        return PNorm.apply(difference, p, None, True)
    return PNorm.apply(difference, p, difference.ndim - 1, keepdim)


@autocast_op("cdist")
def cdist(x1: Tensor, x2: Tensor, p: float = 2.0, compute_mode: str = "use_mm_for_euclid_dist_if_necessary") -> Tensor:
    """The p-norm distance between every row of x1 and every row of x2.

    x1: (..., P, M), x2: (..., R, M), batch dims broadcasting -> (..., P, R). ``compute_mode`` is accepted for
    PyTorch's signature; the distances are always computed directly (no matrix-product shortcut).
    """
    for name, x in (("x1", x1), ("x2", x2)):
        if x.ndim < 2:
            raise ShapeError(f"cdist: {name} must be at least 2-d (rows, columns), got shape {x.shape}")
        if x.dtype.kind != "f":
            raise DTypeError(f"cdist: expected floating-point inputs, got {name} of dtype {x.dtype}")
    if x1.shape[-1] != x2.shape[-1]:
        raise ShapeError(
            f"cdist: x1 {x1.shape} and x2 {x2.shape} must have the same number of columns (the last dimension)"
        )
    if not p >= 0:
        raise ArgumentError(f"cdist: p must be a non-negative norm order (0, 1, 2, ..., inf), got {p}")
    modes = ("use_mm_for_euclid_dist_if_necessary", "use_mm_for_euclid_dist", "donot_use_mm_for_euclid_dist")
    if compute_mode not in modes:
        raise ArgumentError(f"cdist: compute_mode must be one of {modes}, got {compute_mode!r}")
    x1, x2 = _common_float("cdist", x1, x2)
    difference = sub(unsqueeze(x1, -2), unsqueeze(x2, -3))  # (..., P, 1, M) - (..., 1, R, M) = (..., P, R, M)
    return PNorm.apply(difference, p, difference.ndim - 1, False)


@autocast_op("dist")
def dist(input: Tensor, other: Tensor, p: float = 2) -> Tensor:  # noqa: A002 (PyTorch's names)
    """The p-norm of input - other over every element (they broadcast), as ``torch.dist``."""
    return norm(sub(input, other), p)


__all__ = ["cdist", "cosine_similarity", "dist", "pairwise_distance"]  # at torch.*; normalize is only in F
METHODS: dict = {"dist": dist}
