"""Layer normalization and batch normalization.

Both rescale activations to mean 0 and variance 1, then apply a learned scale and shift. Layer norm
takes the statistics of each sample over its features; batch norm takes them of each channel over
the batch (and positions), and keeps running averages of them for evaluation.
"""

import math
from collections.abc import Sequence

from kernels.numpy_ref import array_module
from tinynet import backend
from tinynet.amp_policy import autocast_op
from tinynet.autograd import Function
from tinynet.errors import ArgumentError, DTypeError, ShapeError
from tinynet.functions.unary import sqrt
from tinynet.tensor import Tensor


class LayerNorm(Function):
    """Normalize over the last ``n`` axes (merged into one for the kernel, split again after).

    forward:    y = x̂ · weight + bias, x̂ = (x - mean) · rstd, rstd = 1 / √(var + eps), over the normalized axes
    derivative: with g = dL/dy · weight: dL/dx = rstd (g - mean(g) - x̂ mean(g x̂)), dL/dweight = Σ dL/dy x̂, dL/dbias =
                Σ dL/dy
    kernels:    layer_norm_forward, layer_norm_backward
    """

    @staticmethod
    def forward(ctx, x, weight, bias, n, eps):
        lead, features = x.shape[: x.ndim - n], x.shape[x.ndim - n :]
        rows = x.reshape(*lead, math.prod(features))  # (not -1: features may hold no values)
        flat_weight = None if weight is None else weight.reshape(-1)
        flat_bias = None if bias is None else bias.reshape(-1)
        table = backend.for_arrays(rows, flat_weight, flat_bias)
        y, mean, rstd = table.layer_norm_forward(rows, flat_weight, flat_bias, eps)
        ctx.save_for_backward(rows, flat_weight, mean, rstd)
        ctx.shapes = x.shape, features
        return y.reshape(x.shape)

    @staticmethod
    def backward(ctx, grad):
        rows, flat_weight, mean, rstd = ctx.saved
        shape, features = ctx.shapes
        grad_x, grad_weight, grad_bias = backend.for_arrays(grad).layer_norm_backward(
            grad.reshape(rows.shape), rows, flat_weight, mean, rstd
        )
        need_x, need_weight, need_bias = ctx.needs_input_grad[:3]
        return (
            grad_x.reshape(shape) if need_x else None,
            grad_weight.reshape(features) if need_weight else None,
            grad_bias.reshape(features) if need_bias else None,
            None,
            None,
        )


class BatchNorm(Function):
    """Normalize each channel with the batch's statistics, then scale and shift it (training mode).

    forward:    y = x̂ · weight_c + bias_c, x̂ = (x - mean_c) · rstd_c, statistics of channel c over every other axis
                (the biased variance); with running statistics, also running = (1 - momentum) running + momentum
                batch, in place, with the unbiased variance
    derivative: layer norm's with each channel's values in place of a row: with g = dL/dy · weight_c, dL/dx = rstd_c
                (g - mean(g) - x̂ mean(g x̂)), dL/dweight_c = Σ dL/dy x̂, dL/dbias_c = Σ dL/dy
    kernels:    batch_norm_forward, batch_norm_backward
    """

    @staticmethod
    def forward(ctx, x, weight, bias, running_mean, running_var, momentum, eps):
        x3 = x.reshape(x.shape[0], x.shape[1], -1)  # (N, C, L): the positions of each sample in one axis
        y, mean, rstd = backend.for_arrays(x3, weight, bias).batch_norm_forward(x3, weight, bias, eps)
        if running_mean is not None:
            running_mean *= 1 - momentum
            running_mean += momentum * mean.astype(running_mean.dtype, copy=False)
        if running_var is not None:
            count = x3.shape[0] * x3.shape[2]
            # The kernel's variance, back from rstd = 1 / sqrt(var + eps); never below 0 where var is 0.
            variance = (1 / rstd.astype(running_var.dtype) ** 2 - eps).clip(0) * (count / (count - 1))
            running_var *= 1 - momentum
            running_var += momentum * variance
        ctx.save_for_backward(x3, weight, mean, rstd)
        return y.reshape(x.shape)

    @staticmethod
    def backward(ctx, grad):
        x3, weight, mean, rstd = ctx.saved
        grad_x, grad_weight, grad_bias = backend.for_arrays(grad).batch_norm_backward(
            grad.reshape(x3.shape), x3, weight, mean, rstd
        )
        need_weight, need_bias = ctx.needs_input_grad[1:3]
        return (
            grad_x.reshape(grad.shape),
            grad_weight if need_weight else None,
            grad_bias if need_bias else None,
            None, None, None, None,
        )  # fmt: skip


class GroupNorm(Function):
    """Normalize each sample's channels in groups (over a group's channels and positions), then scale and shift per
    channel: layer norm of each (sample, group) row and the per-channel affine, in one kernel each way.

    forward:    y = x̂ · weight_c + bias_c, x̂ = (x - mean) · rstd, rstd = 1 / √(var + eps), over each sample's group
    derivative: with g = dL/dy · weight_c: dL/dx = rstd (g - mean(g) - x̂ mean(g x̂)) over the group, dL/dweight_c =
                Σ dL/dy x̂, dL/dbias_c = Σ dL/dy (over every axis but C)
    kernels:    group_norm_forward, group_norm_backward
    """

    @staticmethod
    def forward(ctx, x, weight, bias, groups, eps):
        x3 = x.reshape(x.shape[0], x.shape[1], -1)  # (N, C, L), as batch norm's
        y, mean, rstd = backend.for_arrays(x3, weight, bias).group_norm_forward(x3, weight, bias, groups, eps)
        ctx.save_for_backward(x3, weight, mean, rstd)
        return y.reshape(x.shape)

    @staticmethod
    def backward(ctx, grad):
        x3, weight, mean, rstd = ctx.saved
        groups = mean.shape[1]  # mean: (N, groups)
        kernel = backend.for_arrays(grad).group_norm_backward
        grad_x, grad_weight, grad_bias = kernel(grad.reshape(x3.shape), x3, weight, mean, rstd, groups)
        need_x, need_weight, need_bias = ctx.needs_input_grad[:3]
        return (
            grad_x.reshape(grad.shape) if need_x else None,
            grad_weight if need_weight else None,
            grad_bias if need_bias else None,
            None,
            None,
        )


class ChannelAffine(Function):
    """Scale and shift each channel: batch norm in evaluation, and group and instance norm's weight and bias.

    forward:    y = x · scale_c + shift_c, for channel c of x: (N, C, *)
    derivative: dL/dx = dL/dy · scale_c, dL/dscale_c = Σ dL/dy x, dL/dshift_c = Σ dL/dy (over every axis but C)
    kernels:    channel_affine_forward, channel_affine_backward
    """

    @staticmethod
    def forward(ctx, x, scale, shift):
        x3 = x.reshape(x.shape[0], x.shape[1], -1)  # (N, C, L), as batch norm's
        ctx.save_for_backward(x3, scale)
        return backend.for_arrays(x3, scale, shift).channel_affine_forward(x3, scale, shift).reshape(x.shape)

    @staticmethod
    def backward(ctx, grad):
        x3, scale = ctx.saved
        grad_x, grad_scale, grad_shift = backend.for_arrays(grad).channel_affine_backward(
            grad.reshape(x3.shape), x3, scale
        )
        return grad_x.reshape(grad.shape), grad_scale, grad_shift


def channel_affine(x: Tensor, scale: Tensor | None, shift: Tensor | None) -> Tensor:
    """x * scale + shift per channel of x: (N, C, *); scale, shift: (C,) or None (ones, zeros)."""
    if scale is None and shift is None:
        return x
    xp = array_module(x.array)
    scale = Tensor(xp.ones(x.shape[1], dtype=x.dtype)) if scale is None else scale
    shift = Tensor(xp.zeros(x.shape[1], dtype=x.dtype)) if shift is None else shift
    return ChannelAffine.apply(x, scale, shift)


def floating_only(op: str, x: Tensor) -> None:
    """Refuse integer and bool inputs, as PyTorch's normalizations do (their statistics are fractions)."""
    if not x.is_floating_point():
        raise DTypeError(f"{op}: input of dtype {x.dtype} is not supported: it takes floating point; use x.float()")


@autocast_op("layer_norm")
def layer_norm(
    x: Tensor,
    normalized_shape: int | Sequence[int],
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """(x - mean) / sqrt(var + eps) * weight + bias, statistics over the trailing ``normalized_shape`` axes.

    x: (..., *normalized_shape); weight, bias: normalized_shape or None -> the shape of x.
    The variance is the biased one (divided by the count), as in PyTorch.
    """
    floating_only("layer_norm", x)
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    n = len(shape)
    if n == 0 or x.ndim < n or x.shape[x.ndim - n :] != shape:
        raise ShapeError(
            f"layer_norm: input of shape {x.shape} must end with normalized_shape {shape} "
            f"(expected input (..., {', '.join(map(str, shape))}))"
        )
    for name, param in (("weight", weight), ("bias", bias)):
        if param is not None and param.shape != shape:
            raise ShapeError(f"layer_norm: {name} has shape {param.shape} but normalized_shape is {shape}")
    return LayerNorm.apply(x, weight, bias, n, eps)


def batch_norm(
    x: Tensor,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Normalize each channel, then y = x_hat * weight + bias per channel.

    x: (N, C), (N, C, L) or (N, C, H, W); running_mean, running_var, weight, bias: (C,) or None.
    Training: normalize with the batch's mean and biased variance, and update the running statistics in
    place: running = (1 - momentum) * running + momentum * batch, with the unbiased variance (n / (n - 1)),
    as in PyTorch. Evaluation: normalize with the running statistics.
    """
    floating_only("batch_norm", x)
    if x.ndim not in (2, 3, 4):
        raise ShapeError(f"batch_norm: expected input (N, C), (N, C, L) or (N, C, H, W), got shape {x.shape}")
    channels = x.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight), ("bias", bias)):
        if t is not None and t.shape != (channels,):
            raise ShapeError(f"batch_norm: {name} has shape {t.shape}, expected ({channels},) for input {x.shape}")
    if training:
        if (running_mean is None) != (running_var is None):
            raise ArgumentError("batch_norm: running_mean and running_var must either both be None or neither be None")
        if x.numel() // channels < 2:
            raise ArgumentError(
                f"batch_norm: training needs more than 1 value per channel to estimate a variance, "
                f"got input of shape {x.shape}"
            )
        return BatchNorm.apply(x, weight, bias, running_mean, running_var, momentum, eps)
    if running_mean is None or running_var is None:
        raise ArgumentError("batch_norm: evaluation (training=False) needs running_mean and running_var")
    # (x - mean) / sqrt(var + eps) * weight + bias is x * scale + shift: the (C,) vectors first, then one pass.
    scale = 1 / sqrt(running_var + eps)
    if weight is not None:
        scale = scale * weight
    shift = -running_mean * scale
    return channel_affine(x, scale, shift if bias is None else shift + bias)
