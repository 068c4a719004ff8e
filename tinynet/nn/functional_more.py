"""More of ``torch.nn.functional``: bilinear, group_norm, instance_norm, rms_norm, pixel_shuffle, pixel_unshuffle.

Most are built from differentiable ops (reshape, layer_norm, matmul, ...), so autograd needs nothing new. Group norm
has a Function of its own (normalization.GroupNorm: the statistics of each sample's group of channels and the
per-channel scale and shift in one kernel each way), and instance norm is group norm with a group per channel.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from tinynet.amp_policy import autocast_op
from tinynet.dtypes import finfo
from tinynet.errors import ArgumentError, ShapeError
from tinynet.functions.linalg import matmul
from tinynet.functions.normalization import GroupNorm, channel_affine, floating_only
from tinynet.functions.shape import permute, reshape, unsqueeze
from tinynet.tensor import Tensor


@autocast_op("bilinear")
def bilinear(input1: Tensor, input2: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y[..., o] = sum_ij input1[..., i] weight[o, i, j] input2[..., j] + bias[o].

    input1: (..., in1), input2: (..., in2) with the same leading dims, weight: (out, in1, in2), bias: (out,)
    -> (..., out).
    """
    if input1.ndim == 0 or input1.shape[:-1] != input2.shape[:-1]:
        raise ShapeError(f"bilinear: input1 {input1.shape} and input2 {input2.shape} must have the same leading dims")
    if weight.ndim != 3 or weight.shape[1:] != (input1.shape[-1], input2.shape[-1]):
        raise ShapeError(
            f"bilinear: weight {weight.shape} must be (out_features, {input1.shape[-1]}, {input2.shape[-1]})"
        )
    out_features, in1, in2 = weight.shape
    lead = input1.shape[:-1]
    # One matmul for every output feature: (..., in1) @ (in1, out * in2), then contract each row with input2.
    mixed = matmul(input1, reshape(permute(weight, (1, 0, 2)), (in1, out_features * in2)))
    mixed = reshape(mixed, (*lead, out_features, in2))
    y = reshape(matmul(mixed, unsqueeze(input2, -1)), (*lead, out_features))
    return y if bias is None else y + bias


def _per_channel(t: Tensor, ndim: int) -> Tensor:
    # A (C,) vector shaped to broadcast over (N, C, *spatial).
    return reshape(t, (t.shape[0],) + (1,) * (ndim - 2))


@autocast_op("group_norm")
def group_norm(
    input: Tensor,  # noqa: A002 (PyTorch's name)
    num_groups: int,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Normalize each sample's channels in ``num_groups`` groups (over the group's channels and positions), then
    scale and shift per channel. input: (N, C, *) with C divisible by num_groups; weight, bias: (C,) -> input's shape.
    """
    floating_only("group_norm", input)
    if input.ndim < 2:
        raise ShapeError(f"group_norm: expected input (N, C, *), got shape {input.shape}")
    channels = input.shape[1]
    if num_groups <= 0 or channels % num_groups:
        raise ArgumentError(
            f"group_norm: Expected number of channels in input to be divisible by num_groups, but got input of "
            f"shape {list(input.shape)} and num_groups={num_groups}"
        )
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and t.shape != (channels,):
            raise ShapeError(f"group_norm: {name} has shape {t.shape}, expected ({channels},)")
    return GroupNorm.apply(input, weight, bias, num_groups, eps)


def instance_norm(
    input: Tensor,  # noqa: A002 (PyTorch's name)
    running_mean: Tensor | None = None,
    running_var: Tensor | None = None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    use_input_stats: bool = True,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Normalize each (sample, channel) over its positions, then scale and shift per channel.

    input: (N, C, *); running_mean, running_var, weight, bias: (C,) or None -> input's shape. With
    ``use_input_stats`` the running statistics (when given) are updated in place with the batch average of the
    instances' mean and unbiased variance, as PyTorch; without, they normalize instead.
    """
    floating_only("instance_norm", input)
    if input.ndim < 3:
        raise ShapeError(f"instance_norm: expected input (N, C, *) with at least one spatial dim, got {input.shape}")
    n, channels = input.shape[:2]
    for name, t in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight), ("bias", bias)):
        if t is not None and t.shape != (channels,):
            raise ShapeError(
                f"instance_norm: {name} has shape {t.shape}, expected ({channels},) for input {input.shape}"
            )
    positions = math.prod(input.shape[2:])
    if not use_input_stats:
        if running_mean is None or running_var is None:
            raise ArgumentError("instance_norm: use_input_stats=False needs running_mean and running_var")
        mean, var = _per_channel(running_mean, input.ndim), _per_channel(running_var, input.ndim)
        return channel_affine((input - mean) / (var + eps).sqrt(), weight, bias)
    if positions < 2:
        raise ArgumentError(
            f"instance_norm: Expected more than 1 spatial element when training, got input size {list(input.shape)}"
        )
    if running_mean is not None and running_var is not None:
        values = input.array.reshape(n, channels, positions)
        for running, batch in ((running_mean, values.mean(axis=2)), (running_var, values.var(axis=2, ddof=1))):
            # In place, so the module's buffer sees it: the average over the batch of each instance's statistic.
            running.array *= 1 - momentum
            running.array += momentum * batch.mean(axis=0).astype(running.dtype, copy=False)
            running.mark_changed()
    return GroupNorm.apply(input, weight, bias, channels, eps)  # a group per channel


def rms_norm(
    input: Tensor,  # noqa: A002 (PyTorch's name)
    normalized_shape: int | Sequence[int],
    weight: Tensor | None = None,
    eps: float | None = None,
) -> Tensor:
    """x / sqrt(mean(x^2) + eps) * weight, the mean over the trailing ``normalized_shape`` dims.

    input: (..., *normalized_shape); weight: normalized_shape or None. eps None: the machine epsilon of the
    input's dtype, as PyTorch.
    """
    floating_only("rms_norm", input)
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if not shape or input.ndim < len(shape) or input.shape[input.ndim - len(shape) :] != shape:
        raise ShapeError(f"rms_norm: input of shape {input.shape} must end with normalized_shape {shape}")
    if weight is not None and weight.shape != shape:
        raise ShapeError(f"rms_norm: weight has shape {weight.shape} but normalized_shape is {shape}")
    eps = float(finfo(input.dtype).eps) if eps is None else eps
    dims = tuple(range(-len(shape), 0))
    y = input * ((input * input).mean(dim=dims, keepdim=True) + eps).rsqrt()
    return y if weight is None else y * weight


def pixel_shuffle(input: Tensor, upscale_factor: int) -> Tensor:  # noqa: A002 (PyTorch's name)
    """Rearrange (*, C * r^2, H, W) into (*, C, H * r, W * r), r = upscale_factor (sub-pixel convolution)."""
    r = upscale_factor
    if input.ndim < 3:
        raise ShapeError(f"pixel_shuffle expects input to have at least 3 dimensions, but got input with {input.ndim}")
    *lead, c, h, w = input.shape
    if r <= 0 or c % (r * r):
        raise ShapeError(
            f"pixel_shuffle expects its input's 'channel' dimension to be divisible by the square of upscale_factor, "
            f"but input.size(-3)={c} is not divisible by {r * r}"
        )
    k = len(lead)
    x = reshape(input, (*lead, c // (r * r), r, r, h, w))
    x = permute(x, (*range(k), k, k + 3, k + 1, k + 4, k + 2))  # (*, C, H, r, W, r)
    return reshape(x, (*lead, c // (r * r), h * r, w * r))


def pixel_unshuffle(input: Tensor, downscale_factor: int) -> Tensor:  # noqa: A002 (PyTorch's name)
    """Rearrange (*, C, H * r, W * r) into (*, C * r^2, H, W), r = downscale_factor: pixel_shuffle undone."""
    r = downscale_factor
    if input.ndim < 3:
        raise ShapeError(
            f"pixel_unshuffle expects input to have at least 3 dimensions, but got input with {input.ndim}"
        )
    *lead, c, h, w = input.shape
    if r <= 0 or h % r or w % r:
        raise ShapeError(f"pixel_unshuffle expects height and width ({h}, {w}) to be divisible by downscale_factor {r}")
    k = len(lead)
    x = reshape(input, (*lead, c, h // r, r, w // r, r))
    x = permute(x, (*range(k), k, k + 2, k + 4, k + 1, k + 3))  # (*, C, r, r, H, W)
    return reshape(x, (*lead, c * r * r, h // r, w // r))


__all__ = ["bilinear", "group_norm", "instance_norm", "pixel_shuffle", "pixel_unshuffle", "rms_norm"]
