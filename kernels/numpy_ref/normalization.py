"""Layer normalization over the last axis, batch normalization per channel and group normalization per sample's
group of channels, forward and backward."""

from kernels.numpy_ref.common import array_module


def layer_norm_forward(x, weight, bias, eps):
    """Normalize each row over the last axis to mean 0 and variance 1, then scale and shift.

    x: (..., D); weight, bias: (D,) or None; eps: added to the variance.
    -> y: (..., D) = (x - mean) * rstd * weight + bias, mean: (..., 1), rstd: (..., 1) = 1 / sqrt(var + eps),
    with the biased variance (divided by D), as PyTorch. Several trailing axes: merge them into one first.
    """
    xp = array_module(x)
    mean = x.mean(axis=-1, keepdims=True)
    centered = x - mean
    rstd = 1 / xp.sqrt((centered * centered).mean(axis=-1, keepdims=True) + eps)
    y = centered * rstd
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y, mean, rstd


def layer_norm_backward(grad, x, weight, mean, rstd):
    """Gradients of layer_norm_forward, from the mean and rstd it returned.

    grad, x: (..., D); weight: (D,) or None; mean, rstd: (..., 1)
    -> grad_x: (..., D), grad_weight: (D,), grad_bias: (D,) (both summed over every leading axis).
    With xhat = (x - mean) * rstd and g = grad * weight, the chain rule through mean and variance gives
    grad_x = rstd * (g - mean(g) - xhat * mean(g * xhat)), means over the last axis.
    """
    xhat = (x - mean) * rstd
    lead = tuple(range(x.ndim - 1))
    grad_weight = (grad * xhat).sum(axis=lead)
    grad_bias = grad.sum(axis=lead)
    g = grad if weight is None else grad * weight
    grad_x = rstd * (g - g.mean(axis=-1, keepdims=True) - xhat * (g * xhat).mean(axis=-1, keepdims=True))
    return grad_x, grad_weight, grad_bias


def batch_norm_forward(x, weight, bias, eps):
    """Normalize each channel over the batch and positions to mean 0 and variance 1, then scale and shift.

    x: (N, C, L); weight, bias: (C,) or None; eps: added to the variance.
    -> y: (N, C, L) = (x - mean) * rstd * weight + bias, mean: (C,), rstd: (C,) = 1 / sqrt(var + eps), with the
    biased variance of each channel's N * L values, as PyTorch. (N, C) or (N, C, H, W): reshape to (N, C, L) first.
    """
    xp = array_module(x)
    mean = x.mean(axis=(0, 2))
    centered = x - mean[:, None]
    rstd = 1 / xp.sqrt((centered * centered).mean(axis=(0, 2)) + eps)
    y = centered * rstd[:, None]
    if weight is not None:
        y = y * weight[:, None]
    if bias is not None:
        y = y + bias[:, None]
    return y, mean, rstd


def batch_norm_backward(grad, x, weight, mean, rstd):
    """Gradients of batch_norm_forward, from the mean and rstd it returned.

    grad, x: (N, C, L); weight: (C,) or None; mean, rstd: (C,) -> grad_x: (N, C, L), grad_weight: (C,),
    grad_bias: (C,). Layer norm's chain rule, with each channel's N * L values in place of a row: with
    xhat = (x - mean) * rstd and g = grad * weight, grad_x = rstd * (g - mean(g) - xhat * mean(g * xhat)).
    """
    per_channel = (0, 2)
    xhat = (x - mean[:, None]) * rstd[:, None]
    grad_weight = (grad * xhat).sum(axis=per_channel)
    grad_bias = grad.sum(axis=per_channel)
    g = grad if weight is None else grad * weight[:, None]
    mean_g, mean_g_xhat = g.mean(axis=per_channel), (g * xhat).mean(axis=per_channel)
    grad_x = rstd[:, None] * (g - mean_g[:, None] - xhat * mean_g_xhat[:, None])
    return grad_x, grad_weight, grad_bias


def group_norm_forward(x, weight, bias, groups, eps):
    """Normalize each sample's channels in ``groups`` groups (over the group's channels and positions) to mean 0 and
    variance 1, then scale and shift per channel.

    x: (N, C, L), C divisible by groups; weight, bias: (C,) or None; eps: added to the variance.
    -> y: (N, C, L) = (x - mean) * rstd * weight + bias, mean: (N, groups), rstd: (N, groups) = 1 / sqrt(var + eps),
    with the biased variance of each group's C / groups * L values, as PyTorch. Layer norm of the (N, groups, rest)
    rows, then batch norm's per-channel affine.
    """
    xp = array_module(x)
    rows = x.reshape(x.shape[0], groups, -1)
    mean = rows.mean(axis=2)
    centered = rows - mean[..., None]
    rstd = 1 / xp.sqrt((centered * centered).mean(axis=2) + eps)
    y = (centered * rstd[..., None]).reshape(x.shape)
    if weight is not None:
        y = y * weight[:, None]
    if bias is not None:
        y = y + bias[:, None]
    return y, mean, rstd


def group_norm_backward(grad, x, weight, mean, rstd, groups):
    """Gradients of group_norm_forward, from the mean and rstd it returned.

    grad, x: (N, C, L); weight: (C,) or None; mean, rstd: (N, groups) -> grad_x: (N, C, L), grad_weight: (C,),
    grad_bias: (C,). Layer norm's chain rule on each group's values: with xhat = (x - mean) * rstd and
    g = grad * weight, grad_x = rstd * (g - mean(g) - xhat * mean(g * xhat)), means over the group.
    """
    groups_shape = (x.shape[0], groups, -1)
    xhat = ((x.reshape(groups_shape) - mean[..., None]) * rstd[..., None]).reshape(x.shape)
    grad_weight, grad_bias = (grad * xhat).sum(axis=(0, 2)), grad.sum(axis=(0, 2))
    g = (grad if weight is None else grad * weight[:, None]).reshape(groups_shape)
    xhat = xhat.reshape(groups_shape)
    mean_g, mean_g_xhat = g.mean(axis=2, keepdims=True), (g * xhat).mean(axis=2, keepdims=True)
    grad_x = rstd[..., None] * (g - mean_g - xhat * mean_g_xhat)
    return grad_x.reshape(x.shape), grad_weight, grad_bias


def channel_affine_forward(x, scale, shift):
    """Scale and shift each channel: y = x * scale[c] + shift[c] (batch norm in evaluation, the per-channel weight
    and bias of group and instance norm).

    x: (N, C, L); scale, shift: (C,) -> y: (N, C, L).
    """
    return x * scale[:, None] + shift[:, None]


def channel_affine_backward(grad, x, scale):
    """Gradients of channel_affine_forward. grad, x: (N, C, L); scale: (C,) -> grad_x: (N, C, L), grad_scale: (C,)
    = sum of grad * x over every axis but C, grad_shift: (C,) = sum of grad over them."""
    return grad * scale[:, None], (grad * x).sum(axis=(0, 2)), grad.sum(axis=(0, 2))
