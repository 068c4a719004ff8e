"""Dropout as modules: active in training mode, the identity after ``model.eval()``."""

from tinynet.errors import ArgumentError
from tinynet.nn import functional as F
from tinynet.nn.module import Module
from tinynet.tensor import Tensor


class _DropoutNd(Module):
    """A dropout module: forward is ``function(x, p, self.training, inplace)``."""

    function = None

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        if not 0 <= p <= 1:
            name = type(self).__name__
            raise ArgumentError(f"{name}: p is the probability of zeroing a value and must be in [0, 1], got {p}")
        self.p, self.inplace = p, inplace

    def forward(self, x: Tensor) -> Tensor:
        return type(self).function(x, self.p, self.training, self.inplace)

    def extra_repr(self) -> str:
        return f"p={self.p}" + (", inplace=True" if self.inplace else "")


class Dropout(_DropoutNd):
    """Zero each value with probability p in training, scaling the rest by 1 / (1 - p). x: any shape."""

    function = staticmethod(F.dropout)


class Dropout1d(_DropoutNd):
    """Zero whole channels in training: x (N, C, L) or (C, L)."""

    function = staticmethod(F.dropout1d)


class Dropout2d(_DropoutNd):
    """Zero whole channels in training: x (N, C, H, W) or (C, H, W)."""

    function = staticmethod(F.dropout2d)


class Dropout3d(_DropoutNd):
    """Zero whole channels in training: x (N, C, D, H, W) or (C, D, H, W)."""

    function = staticmethod(F.dropout3d)


class AlphaDropout(_DropoutNd):
    """SELU's dropout, per value, in training (keeps a unit-normal input's mean and variance). x: any shape."""

    function = staticmethod(F.alpha_dropout)


class FeatureAlphaDropout(_DropoutNd):
    """SELU's dropout of whole channels in training: x (N, C, ...)."""

    function = staticmethod(F.feature_alpha_dropout)
