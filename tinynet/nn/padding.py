"""Padding layers, as PyTorch's: ZeroPad, ConstantPad, ReflectionPad, ReplicationPad, CircularPad (1d/2d/3d).

Each holds F.pad's tuple, (left, right) for the last dim first; an int pads every side of the 1, 2 or 3 trailing
dims by that much. x: (N, C, H, W) with ReflectionPad2d((l, r, t, b)) -> (N, C, H + t + b, W + l + r).
"""

from __future__ import annotations

import numpy as np

from tinynet.errors import ArgumentError
from tinynet.nn import functional as F
from tinynet.nn.module import Module
from tinynet.tensor import Tensor

IntOrTuple = int | tuple[int, ...]


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


class _Pad(Module):
    spatial = 2
    mode = "constant"

    def __init__(self, padding: IntOrTuple) -> None:
        super().__init__()
        sides = 2 * self.spatial
        if _is_int(padding):
            self.padding = (int(padding),) * sides
        elif isinstance(padding, (tuple, list)) and len(padding) == sides and all(map(_is_int, padding)):
            self.padding = tuple(int(p) for p in padding)
        else:  # negative amounts are fine: they crop
            raise ArgumentError(f"{type(self).__name__}: padding must be an int or {sides} ints, got {padding!r}")

    def forward(self, x: Tensor) -> Tensor:
        return F.pad(x, self.padding, self.mode)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class _ConstantPad(_Pad):
    def __init__(self, padding: IntOrTuple, value: float) -> None:
        super().__init__(padding)
        self.value = value

    def forward(self, x: Tensor) -> Tensor:
        return F.pad(x, self.padding, "constant", self.value)

    def extra_repr(self) -> str:
        return f"padding={self.padding}, value={self.value}"


class ConstantPad1d(_ConstantPad):
    """Pad the last dim with ``value``: (*, W) -> (*, W + left + right)."""

    spatial = 1


class ConstantPad2d(_ConstantPad):
    """Pad the last 2 dims with ``value``: (*, H, W) -> (*, H + top + bottom, W + left + right)."""


class ConstantPad3d(_ConstantPad):
    """Pad the last 3 dims with ``value``: (*, D, H, W) -> (*, D + front + back, H + top + bottom, W + l + r)."""

    spatial = 3


class _ZeroPad(_ConstantPad):
    def __init__(self, padding: IntOrTuple) -> None:
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ZeroPad1d(_ZeroPad):
    """Pad the last dim with zeros: (*, W) -> (*, W + left + right)."""

    spatial = 1


class ZeroPad2d(_ZeroPad):
    """Pad the last 2 dims with zeros: (*, H, W) -> (*, H + top + bottom, W + left + right)."""


class ZeroPad3d(_ZeroPad):
    """Pad the last 3 dims with zeros."""

    spatial = 3


class ReflectionPad1d(_Pad):
    """Mirror the last dim at its edges, without repeating them: (N, C, W) or (C, W)."""

    spatial, mode = 1, "reflect"


class ReflectionPad2d(_Pad):
    """Mirror the last 2 dims at their edges, without repeating them: (N, C, H, W) or (C, H, W)."""

    mode = "reflect"


class ReflectionPad3d(_Pad):
    """Mirror the last 3 dims at their edges: (N, C, D, H, W) or (C, D, H, W)."""

    spatial, mode = 3, "reflect"


class ReplicationPad1d(_Pad):
    """Repeat the edge values of the last dim: (N, C, W) or (C, W)."""

    spatial, mode = 1, "replicate"


class ReplicationPad2d(_Pad):
    """Repeat the edge values of the last 2 dims: (N, C, H, W) or (C, H, W)."""

    mode = "replicate"


class ReplicationPad3d(_Pad):
    """Repeat the edge values of the last 3 dims: (N, C, D, H, W) or (C, D, H, W)."""

    spatial, mode = 3, "replicate"


class CircularPad1d(_Pad):
    """Wrap the last dim around: the left pad comes from the right end and the other way round."""

    spatial, mode = 1, "circular"


class CircularPad2d(_Pad):
    """Wrap the last 2 dims around (a torus): (N, C, H, W) or (C, H, W)."""

    mode = "circular"


class CircularPad3d(_Pad):
    """Wrap the last 3 dims around: (N, C, D, H, W) or (C, D, H, W)."""

    spatial, mode = 3, "circular"
