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


class BatchNormalize(Function):
    """x_hat = (x - mean) / sqrt(var + eps) with each channel's statistics over every other axis.

    That is layer norm of the channel-major view (C, N * L): the layer-norm kernels do the work.

    forward:    x̂ = (x - mean_c) / √(var_c + eps), statistics of channel c over every other axis
    derivative: layer norm's without weight, on the (C, N·L) view: dL/dx = rstd (g - mean(g) - x̂ mean(g x̂)), g =
                dL/dx̂
    kernels:    layer_norm_forward, layer_norm_backward
    """

    @staticmethod
    def forward(ctx, x, eps):
        xp = array_module(x)
        channels_first = xp.moveaxis(x, 1, 0)
        rows = channels_first.reshape(x.shape[1], -1)
        xhat, mean, rstd = backend.for_arrays(rows).layer_norm_forward(rows, None, None, eps)
        ctx.save_for_backward(rows, mean, rstd)
        ctx.shape = channels_first.shape
        return xp.moveaxis(xhat.reshape(channels_first.shape), 0, 1)

    @staticmethod
    def backward(ctx, grad):
        rows, mean, rstd = ctx.saved
        xp = array_module(grad)
        grad_rows = xp.moveaxis(grad, 1, 0).reshape(rows.shape)
        grad_x, _, _ = backend.for_arrays(grad_rows).layer_norm_backward(grad_rows, rows, None, mean, rstd)
        return xp.moveaxis(grad_x.reshape(ctx.shape), 0, 1), None


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
    per_channel = (1, channels) + (1,) * (x.ndim - 2)  # broadcasts a (C,) vector over (N, C, ...)
    if training:
        count = x.numel() // channels
        if count < 2:
            raise ArgumentError(
                f"batch_norm: training needs more than 1 value per channel to estimate a variance, "
                f"got input of shape {x.shape}"
            )
        if running_mean is not None and running_var is not None:
            others = (0, *range(2, x.ndim))
            _update_running(running_mean, x.array.mean(axis=others), momentum)
            _update_running(running_var, x.array.var(axis=others, ddof=1), momentum)
        xhat = BatchNormalize.apply(x, eps)
    else:
        if running_mean is None or running_var is None:
            raise ArgumentError("batch_norm: evaluation (training=False) needs running_mean and running_var")
        xhat = (x - running_mean.reshape(per_channel)) / sqrt(running_var.reshape(per_channel) + eps)
    if weight is not None:
        xhat = xhat * weight.reshape(per_channel)
    if bias is not None:
        xhat = xhat + bias.reshape(per_channel)
    return xhat


def _update_running(running: Tensor, batch, momentum: float) -> None:
    # In place, so the module's buffer (and anything sharing it) sees the new value.
    running.array *= 1 - momentum
    running.array += momentum * batch.astype(running.dtype, copy=False)
