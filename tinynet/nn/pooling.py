"""Pooling and upsampling layers: MaxPool1d/2d, AvgPool1d/2d, Upsample. None has parameters."""

from tinynet.errors import ArgumentError
from tinynet.functions.windows import ntuple
from tinynet.nn import functional as F
from tinynet.nn.module import Module
from tinynet.tensor import Tensor


class _Pool(Module):
    """What the pools share: kernel_size, stride (defaulting to kernel_size) and padding, kept as given."""

    spatial = 2
    pool = None  # the functional form, set by each subclass

    def __init__(
        self, kernel_size: int | tuple[int, ...], stride: int | tuple[int, ...] | None = None, padding: int = 0
    ) -> None:
        super().__init__()
        name, n = type(self).__name__, self.spatial
        # Checked now, so a bad argument fails where the layer is built rather than at its first call.
        ntuple(name, "kernel_size", kernel_size, n, 1)
        ntuple(name, "padding", padding, n, 0)
        if stride is not None:
            ntuple(name, "stride", stride, n, 1)
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding = padding

    def forward(self, x: Tensor) -> Tensor:
        return self.pool(x, self.kernel_size, self.stride, self.padding)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxPool1d(_Pool):
    """The maximum of each window. x: (N, C, L) -> (N, C, (L + 2 padding - kernel_size) // stride + 1)."""

    spatial = 1
    pool = staticmethod(F.max_pool1d)


class MaxPool2d(_Pool):
    """The maximum of each window. x: (N, C, H, W) -> (N, C, OH, OW), OH = (H + 2 padding - KH) // stride + 1."""

    pool = staticmethod(F.max_pool2d)


class AvgPool1d(_Pool):
    """The mean of each window, zero padding included. x: (N, C, L) -> (N, C, OL)."""

    spatial = 1
    pool = staticmethod(F.avg_pool1d)


class AvgPool2d(_Pool):
    """The mean of each window, zero padding included. x: (N, C, H, W) -> (N, C, OH, OW)."""

    pool = staticmethod(F.avg_pool2d)


class Upsample(Module):
    """Nearest-neighbour upsampling: each pixel becomes a block. (N, C, L) or (N, C, H, W) in.

    Give ``scale_factor`` (whole numbers) or ``size`` (a whole multiple of the input's size), as in PyTorch.
    """

    def __init__(
        self,
        size: int | tuple[int, ...] | None = None,
        scale_factor: float | tuple[float, ...] | None = None,
        mode: str = "nearest",
    ) -> None:
        super().__init__()
        if mode != "nearest":
            raise ArgumentError(f"Upsample: only mode='nearest' is supported, got mode={mode!r}")
        if (size is None) == (scale_factor is None):
            raise ArgumentError("Upsample: give exactly one of size and scale_factor")
        self.size, self.scale_factor, self.mode = size, scale_factor, mode

    def forward(self, x: Tensor) -> Tensor:
        return F.interpolate(x, self.size, self.scale_factor, self.mode)

    def extra_repr(self) -> str:
        shown = f"size={self.size}" if self.size is not None else f"scale_factor={self.scale_factor}"
        return f"{shown}, mode={self.mode!r}"
