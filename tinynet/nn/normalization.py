"""Normalization layers: LayerNorm and RMSNorm (per sample, over features), BatchNorm1d/2d/3d (per channel, over the
batch), GroupNorm (per sample, over groups of channels) and InstanceNorm1d/2d (per sample and channel)."""

from __future__ import annotations

from collections.abc import Sequence

from tinynet.errors import ArgumentError, ShapeError
from tinynet.functions.shape import reshape
from tinynet.nn import functional as F
from tinynet.nn.functional_more import group_norm, instance_norm, rms_norm
from tinynet.nn.module import Module, Parameter
from tinynet.tensor import Tensor, int64, ones, zeros


class LayerNorm(Module):
    """Normalize each sample over its trailing ``normalized_shape`` axes, then scale and shift.

    x: (..., *normalized_shape) -> the same shape. weight (ones) and bias (zeros): normalized_shape,
    learned when ``elementwise_affine`` (bias only when ``bias`` too, as in PyTorch).
    """

    def __init__(
        self,
        normalized_shape: int | Sequence[int],
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        bias: bool = True,
    ) -> None:
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        self.normalized_shape, self.eps, self.elementwise_affine = shape, eps, elementwise_affine
        self.weight = Parameter(ones(shape)) if elementwise_affine else None
        self.bias = Parameter(zeros(shape)) if elementwise_affine and bias else None

    def forward(self, x: Tensor) -> Tensor:
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        affine = f"elementwise_affine={self.elementwise_affine}, bias={self.bias is not None}"
        return f"{self.normalized_shape}, eps={self.eps}, {affine}"


class _BatchNorm(Module):
    """Shared by BatchNorm1d and BatchNorm2d, which differ only in the input shapes they accept."""

    input_ranks: tuple[int, ...] = ()
    input_shapes = ""

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        *,
        bias: bool = True,
    ) -> None:
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        self.weight = Parameter(ones(num_features)) if affine else None
        self.bias = Parameter(zeros(num_features)) if affine and bias else None
        if track_running_stats:
            self.register_buffer("running_mean", zeros(num_features))
            self.register_buffer("running_var", ones(num_features))
            self.register_buffer("num_batches_tracked", zeros((), dtype=int64))
        else:
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                self.register_buffer(name, None)

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim not in self.input_ranks or x.shape[1] != self.num_features:
            raise ShapeError(
                f"{type(self).__name__}({self.num_features}): expected input {self.input_shapes} "
                f"with C={self.num_features}, got {x.shape}"
            )
        momentum = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked.array += 1
            if self.momentum is None:  # a plain average of every batch so far
                momentum = 1.0 / int(self.num_batches_tracked.item())
        # Batch statistics in training, and always when no running statistics are kept (as in PyTorch).
        use_batch_stats = self.training or not self.track_running_stats
        # F.batch_norm takes up to 4 dims: (N, C, D, H, W) has the same per-channel statistics as (N, C, D * H, W).
        flat = reshape(x, (*x.shape[:2], -1, x.shape[-1])) if x.ndim == 5 else x
        y = F.batch_norm(
            flat, self.running_mean, self.running_var, self.weight, self.bias, use_batch_stats, momentum, self.eps
        )
        return reshape(y, x.shape) if x.ndim == 5 else y

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
            f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}"
        )


class BatchNorm1d(_BatchNorm):
    """Batch normalization of (N, C) or (N, C, L): each of the C channels over N (and L).

    weight (ones), bias (zeros): (C,); buffers running_mean (zeros), running_var (ones), num_batches_tracked.
    Training normalizes with the batch's statistics and updates the running ones; eval() uses the running ones.
    """

    input_ranks = (2, 3)
    input_shapes = "(N, C) or (N, C, L)"


class BatchNorm2d(_BatchNorm):
    """Batch normalization of images (N, C, H, W): each of the C channels over N, H and W.

    Parameters and buffers as BatchNorm1d.
    """

    input_ranks = (4,)
    input_shapes = "(N, C, H, W)"


class BatchNorm3d(_BatchNorm):
    """Batch normalization of volumes (N, C, D, H, W): each of the C channels over N, D, H and W.

    Parameters and buffers as BatchNorm1d.
    """

    input_ranks = (5,)
    input_shapes = "(N, C, D, H, W)"


class GroupNorm(Module):
    """Normalize each sample's channels in ``num_groups`` groups, then scale and shift per channel.

    x: (N, C, *) -> the same shape, C = num_channels divisible by num_groups. weight (ones), bias (zeros): (C,),
    learned when ``affine``.
    """

    def __init__(
        self, num_groups: int, num_channels: int, eps: float = 1e-5, affine: bool = True, *, bias: bool = True
    ) -> None:
        super().__init__()
        if num_groups <= 0 or num_channels % num_groups:
            raise ArgumentError("num_channels must be divisible by num_groups")
        self.num_groups, self.num_channels, self.eps, self.affine = num_groups, num_channels, eps, affine
        self.weight = Parameter(ones(num_channels)) if affine else None
        self.bias = Parameter(zeros(num_channels)) if affine and bias else None

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002 (PyTorch's name)
        return group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        bias = self.bias is not None
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, bias={bias}"


class RMSNorm(Module):
    """x / sqrt(mean(x^2) + eps) * weight over the trailing ``normalized_shape`` dims (LLaMA-style models).

    x: (..., *normalized_shape) -> the same shape. weight (ones): normalized_shape when ``elementwise_affine``.
    eps None: the machine epsilon of the input's dtype, as PyTorch.
    """

    def __init__(
        self, normalized_shape: int | Sequence[int], eps: float | None = None, elementwise_affine: bool = True
    ) -> None:
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        self.normalized_shape, self.eps, self.elementwise_affine = shape, eps, elementwise_affine
        self.weight = Parameter(ones(shape)) if elementwise_affine else None

    def forward(self, x: Tensor) -> Tensor:
        return rms_norm(x, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"


class _InstanceNorm(Module):
    """Shared by InstanceNorm1d and InstanceNorm2d: each (sample, channel) normalized over its positions."""

    spatial_dims = 0

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float = 0.1,
        affine: bool = False,
        track_running_stats: bool = False,
        *,
        bias: bool = True,
    ) -> None:
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        self.weight = Parameter(ones(num_features)) if affine else None
        self.bias = Parameter(zeros(num_features)) if affine and bias else None
        if track_running_stats:
            self.register_buffer("running_mean", zeros(num_features))
            self.register_buffer("running_var", ones(num_features))
            self.register_buffer("num_batches_tracked", zeros((), dtype=int64))
        else:
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                self.register_buffer(name, None)

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002 (PyTorch's name)
        batched = self.spatial_dims + 2
        if input.ndim not in (batched - 1, batched):
            raise ShapeError(
                f"{type(self).__name__}: expected {batched - 1}D (unbatched) or {batched}D (batched) input "
                f"(got {input.ndim}D input)"
            )
        x = input if input.ndim == batched else reshape(input, (1, *input.shape))  # unbatched: a batch of one
        if x.shape[1] != self.num_features and self.affine:
            raise ShapeError(
                f"{type(self).__name__}: expected input's size at dim={input.ndim - self.spatial_dims - 1} to match "
                f"num_features ({self.num_features}), but got: {x.shape[1]}."
            )
        use_input_stats = self.training or not self.track_running_stats
        y = instance_norm(
            x, self.running_mean, self.running_var, self.weight, self.bias, use_input_stats, self.momentum, self.eps
        )
        return y if input.ndim == batched else reshape(y, input.shape)

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
            f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}"
        )


class InstanceNorm1d(_InstanceNorm):
    """Instance normalization of (N, C, L) or unbatched (C, L): each sample's channel over L.

    affine=False and track_running_stats=False by default, as in PyTorch.
    """

    spatial_dims = 1


class InstanceNorm2d(_InstanceNorm):
    """Instance normalization of (N, C, H, W) or unbatched (C, H, W): each sample's channel over H and W (style
    transfer). affine=False and track_running_stats=False by default, as in PyTorch.
    """

    spatial_dims = 2


class InstanceNorm3d(_InstanceNorm):
    """Instance normalization of (N, C, D, H, W) or unbatched (C, D, H, W)."""

    spatial_dims = 3
