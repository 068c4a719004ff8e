"""Pooling and resizing layers, as ``torch.nn``: MaxPool1d/2d/3d, AvgPool1d/2d/3d, LPPool1d/2d/3d, the adaptive
pools, MaxUnpool1d/2d/3d, Upsample, UpsamplingNearest2d, UpsamplingBilinear2d. None has parameters."""

from __future__ import annotations

from tinynet.errors import ArgumentError
from tinynet.functions.resize import MODES
from tinynet.functions.windows import ntuple
from tinynet.nn import functional as F
from tinynet.nn.module import Module
from tinynet.tensor import Tensor

Size = int | tuple[int, ...]


def _checked(name: str, spatial: int, kernel_size, stride, padding) -> None:
    """Check the geometry now, so a bad argument fails where the layer is built rather than at its first call."""
    ntuple(name, "kernel_size", kernel_size, spatial, 1)
    ntuple(name, "padding", padding, spatial, 0)
    if stride is not None:
        ntuple(name, "stride", stride, spatial, 1)


class _MaxPool(Module):
    spatial = 2
    pool = None  # the functional form, set by each subclass

    def __init__(self, kernel_size: Size, stride: Size | None = None, padding: Size = 0, dilation: Size = 1,
                 return_indices: bool = False, ceil_mode: bool = False) -> None:  # fmt: skip
        super().__init__()
        _checked(type(self).__name__, self.spatial, kernel_size, stride, padding)
        self.kernel_size, self.stride = kernel_size, kernel_size if stride is None else stride
        self.padding, self.dilation = padding, dilation
        self.return_indices, self.ceil_mode = return_indices, ceil_mode

    def forward(self, x: Tensor):
        args = (self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode, self.return_indices)
        return self.pool(x, *args)

    def extra_repr(self) -> str:
        return (
            f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
            f"dilation={self.dilation}, ceil_mode={self.ceil_mode}"
        )


class MaxPool1d(_MaxPool):
    """The maximum of each window. x: (N, C, L) -> (N, C, OL), OL = (L + 2 padding - d (K - 1) - 1) // stride + 1."""

    spatial = 1
    pool = staticmethod(F.max_pool1d)


class MaxPool2d(_MaxPool):
    """The maximum of each window. x: (N, C, H, W) -> (N, C, OH, OW), OH = (H + 2 padding - KH) // stride + 1."""

    pool = staticmethod(F.max_pool2d)


class MaxPool3d(_MaxPool):
    """The maximum of each window. x: (N, C, D, H, W) -> (N, C, OD, OH, OW)."""

    spatial = 3
    pool = staticmethod(F.max_pool3d)


class AvgPool1d(Module):
    """The mean of each window. x: (N, C, L) -> (N, C, (L + 2 padding - kernel_size) // stride + 1)."""

    def __init__(self, kernel_size: Size, stride: Size | None = None, padding: Size = 0, ceil_mode: bool = False,
                 count_include_pad: bool = True) -> None:  # fmt: skip
        super().__init__()
        _checked("AvgPool1d", 1, kernel_size, stride, padding)
        # PyTorch keeps AvgPool1d's geometry as 1-tuples.
        self.kernel_size = ntuple("AvgPool1d", "kernel_size", kernel_size, 1, 1)
        self.stride = self.kernel_size if stride is None else ntuple("AvgPool1d", "stride", stride, 1, 1)
        self.padding = ntuple("AvgPool1d", "padding", padding, 1, 0)
        self.ceil_mode, self.count_include_pad = ceil_mode, count_include_pad

    def forward(self, x: Tensor) -> Tensor:
        return F.avg_pool1d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode, self.count_include_pad)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class _AvgPool(Module):
    spatial = 2
    pool = None

    def __init__(self, kernel_size: Size, stride: Size | None = None, padding: Size = 0, ceil_mode: bool = False,
                 count_include_pad: bool = True, divisor_override: int | None = None) -> None:  # fmt: skip
        super().__init__()
        _checked(type(self).__name__, self.spatial, kernel_size, stride, padding)
        self.kernel_size, self.stride = kernel_size, kernel_size if stride is None else stride
        self.padding, self.ceil_mode = padding, ceil_mode
        self.count_include_pad, self.divisor_override = count_include_pad, divisor_override

    def forward(self, x: Tensor) -> Tensor:
        args = (self.kernel_size, self.stride, self.padding, self.ceil_mode, self.count_include_pad)
        return self.pool(x, *args, self.divisor_override)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool2d(_AvgPool):
    """The mean of each window. x: (N, C, H, W) -> (N, C, OH, OW), OH = (H + 2 padding - KH) // stride + 1."""

    pool = staticmethod(F.avg_pool2d)


class AvgPool3d(_AvgPool):
    """The mean of each window. x: (N, C, D, H, W) -> (N, C, OD, OH, OW)."""

    spatial = 3
    pool = staticmethod(F.avg_pool3d)


class _LPPool(Module):
    pool = None

    def __init__(
        self, norm_type: float, kernel_size: Size, stride: Size | None = None, ceil_mode: bool = False
    ) -> None:
        super().__init__()
        self.norm_type, self.kernel_size, self.stride, self.ceil_mode = norm_type, kernel_size, stride, ceil_mode

    def forward(self, x: Tensor) -> Tensor:
        return self.pool(x, self.norm_type, self.kernel_size, self.stride, self.ceil_mode)

    def extra_repr(self) -> str:
        shown = f"norm_type={self.norm_type}, kernel_size={self.kernel_size}"
        return f"{shown}, stride={self.stride}, ceil_mode={self.ceil_mode}"


class LPPool1d(_LPPool):
    """The p-norm of each window. x: (N, C, L) -> (N, C, OL)."""

    pool = staticmethod(F.lp_pool1d)


class LPPool2d(_LPPool):
    """The p-norm of each window. x: (N, C, H, W) -> (N, C, OH, OW)."""

    pool = staticmethod(F.lp_pool2d)


class LPPool3d(_LPPool):
    """The p-norm of each window. x: (N, C, D, H, W) -> (N, C, OD, OH, OW)."""

    pool = staticmethod(F.lp_pool3d)


class _Adaptive(Module):
    pool = None

    def __init__(self, output_size) -> None:
        super().__init__()
        self.output_size = output_size

    def forward(self, x: Tensor) -> Tensor:
        return self.pool(x, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveAvgPool1d(_Adaptive):
    """The mean of each of output_size windows tiling L. x: (N, C, L) -> (N, C, output_size)."""

    pool = staticmethod(F.adaptive_avg_pool1d)


class AdaptiveAvgPool2d(_Adaptive):
    """The mean of each window of an output_size grid tiling the image. x: (N, C, H, W) -> (N, C, OH, OW)."""

    pool = staticmethod(F.adaptive_avg_pool2d)


class AdaptiveAvgPool3d(_Adaptive):
    """The mean of each window of an output_size grid tiling the volume. x: (N, C, D, H, W) -> (N, C, OD, OH, OW)."""

    pool = staticmethod(F.adaptive_avg_pool3d)


class _AdaptiveMax(_Adaptive):
    def __init__(self, output_size, return_indices: bool = False) -> None:
        super().__init__(output_size)
        self.return_indices = return_indices

    def forward(self, x: Tensor):
        return self.pool(x, self.output_size, self.return_indices)


class AdaptiveMaxPool1d(_AdaptiveMax):
    """The maximum of each of output_size windows tiling L. x: (N, C, L) -> (N, C, output_size)."""

    pool = staticmethod(F.adaptive_max_pool1d)


class AdaptiveMaxPool2d(_AdaptiveMax):
    """The maximum of each window of an output_size grid tiling the image. x: (N, C, H, W) -> (N, C, OH, OW)."""

    pool = staticmethod(F.adaptive_max_pool2d)


class AdaptiveMaxPool3d(_AdaptiveMax):
    """The maximum of each window of an output_size grid tiling the volume."""

    pool = staticmethod(F.adaptive_max_pool3d)


class _MaxUnpool(Module):
    spatial = 2
    unpool = None

    def __init__(self, kernel_size: Size, stride: Size | None = None, padding: Size = 0) -> None:
        super().__init__()
        name, n = type(self).__name__, self.spatial
        _checked(name, n, kernel_size, stride, padding)
        # PyTorch keeps the unpools' geometry as tuples.
        self.kernel_size = ntuple(name, "kernel_size", kernel_size, n, 1)
        self.stride = self.kernel_size if stride is None else ntuple(name, "stride", stride, n, 1)
        self.padding = ntuple(name, "padding", padding, n, 0)

    def forward(self, x: Tensor, indices: Tensor, output_size=None) -> Tensor:
        return self.unpool(x, indices, self.kernel_size, self.stride, self.padding, output_size)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxUnpool1d(_MaxUnpool):
    """Values put back where MaxPool1d(return_indices=True) found them. x, indices: (N, C, L) -> (N, C, OL)."""

    spatial = 1
    unpool = staticmethod(F.max_unpool1d)


class MaxUnpool2d(_MaxUnpool):
    """Values put back where MaxPool2d(return_indices=True) found them. x, indices: (N, C, H, W) -> (N, C, OH, OW)."""

    unpool = staticmethod(F.max_unpool2d)


class MaxUnpool3d(_MaxUnpool):
    """Values put back where MaxPool3d(return_indices=True) found them."""

    spatial = 3
    unpool = staticmethod(F.max_unpool3d)


class Upsample(Module):
    """Resize (N, C, L), (N, C, H, W) or (N, C, D, H, W) to ``size`` or by ``scale_factor``, as F.interpolate."""

    def __init__(
        self,
        size: int | tuple[int, ...] | None = None,
        scale_factor: float | tuple[float, ...] | None = None,
        mode: str = "nearest",
        align_corners: bool | None = None,
        recompute_scale_factor: bool | None = None,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        if mode not in MODES:
            raise ArgumentError(f"{name}: unknown mode {mode!r}; expected one of {', '.join(map(repr, MODES))}")
        if (size is None) == (scale_factor is None):
            raise ArgumentError(f"{name}: give exactly one of size and scale_factor")
        self.size, self.mode, self.align_corners = size, mode, align_corners
        # As PyTorch: scale factors are kept as floats.
        if isinstance(scale_factor, (tuple, list)):
            scale_factor = tuple(float(f) for f in scale_factor)
        elif scale_factor is not None:
            scale_factor = float(scale_factor)
        self.scale_factor = scale_factor
        self.recompute_scale_factor = recompute_scale_factor

    def forward(self, x: Tensor) -> Tensor:
        args = (self.size, self.scale_factor, self.mode, self.align_corners, self.recompute_scale_factor)
        return F.interpolate(x, *args)

    def extra_repr(self) -> str:
        shown = f"scale_factor={self.scale_factor!r}" if self.scale_factor is not None else f"size={self.size!r}"
        return f"{shown}, mode={self.mode!r}"


class UpsamplingNearest2d(Upsample):
    """Upsample(size, scale_factor, mode="nearest") for (N, C, H, W)."""

    def __init__(self, size: int | tuple[int, int] | None = None, scale_factor: float | None = None) -> None:
        super().__init__(size, scale_factor, mode="nearest")


class UpsamplingBilinear2d(Upsample):
    """Upsample(size, scale_factor, mode="bilinear", align_corners=True) for (N, C, H, W)."""

    def __init__(self, size: int | tuple[int, int] | None = None, scale_factor: float | None = None) -> None:
        super().__init__(size, scale_factor, mode="bilinear", align_corners=True)
