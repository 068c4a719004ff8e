"""Normalization layers: LayerNorm (per sample, over features) and BatchNorm1d/2d (per channel, over the batch)."""

from __future__ import annotations

from collections.abc import Sequence

from tinynet.errors import ShapeError
from tinynet.nn import functional as F
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
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"


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
    ) -> None:
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        self.weight = Parameter(ones(num_features)) if affine else None
        self.bias = Parameter(zeros(num_features)) if affine else None
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
            self.num_batches_tracked.data += 1
            if self.momentum is None:  # a plain average of every batch so far
                momentum = 1.0 / int(self.num_batches_tracked.item())
        # Batch statistics in training, and always when no running statistics are kept (as in PyTorch).
        use_batch_stats = self.training or not self.track_running_stats
        return F.batch_norm(
            x, self.running_mean, self.running_var, self.weight, self.bias, use_batch_stats, momentum, self.eps
        )

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
            f"track_running_stats={self.track_running_stats}"
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
