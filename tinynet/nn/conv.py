"""Convolution layers: Conv1d, Conv2d, ConvTranspose2d, with PyTorch's arguments and default init."""

import math

from tinynet.errors import ShapeError
from tinynet.functions.windows import ntuple
from tinynet.nn import functional as F
from tinynet.nn import init
from tinynet.nn.module import Module, Parameter
from tinynet.tensor import Tensor, zeros


class _Conv(Module):
    """What the convolution layers share: arguments kept as tuples, parameters, PyTorch's init, the repr."""

    spatial = 2
    transposed = False

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, dilation, bias, output_padding=0):
        super().__init__()
        name, n = type(self).__name__, self.spatial
        for label, value in (("in_channels", in_channels), ("out_channels", out_channels)):
            ntuple(name, label, value, 1, 1)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = ntuple(name, "kernel_size", kernel_size, n, 1)
        self.stride = ntuple(name, "stride", stride, n, 1)
        self.padding = ntuple(name, "padding", padding, n, 0)
        self.output_padding = ntuple(name, "output_padding", output_padding, n, 0)
        self.dilation = ntuple(name, "dilation", dilation, n, 1)
        # A transposed convolution is the adjoint of a convolution from out_channels to in_channels, so its
        # weight is laid out (in_channels, out_channels, *kernel), as in PyTorch.
        channels = (in_channels, out_channels) if self.transposed else (out_channels, in_channels)
        self.weight = Parameter(zeros(*channels, *self.kernel_size))
        self.bias = Parameter(zeros(out_channels)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # PyTorch's default: weight kaiming_uniform_(a=sqrt(5)) = U(-1/sqrt(fan_in), 1/sqrt(fan_in)), bias the
        # same bound. fan_in = weight.shape[1] * KH * KW: in_channels * K*K for a convolution, but
        # out_channels * K*K for a transposed one (PyTorch computes it from the weight's layout).
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init.fan_in_and_fan_out(self.weight)
            bound = 1 / math.sqrt(fan_in)
            init.uniform_(self.bias, -bound, bound)

    def _check_input(self, x: Tensor) -> None:
        axes = "L" if self.spatial == 1 else "H, W"
        if x.ndim != self.spatial + 2 or x.shape[1] != self.in_channels:
            raise ShapeError(
                f"{type(self).__name__}({self.extra_repr()}): expected input of shape "
                f"(N, {self.in_channels}, {axes}), got {x.shape}"
            )

    def extra_repr(self) -> str:
        zeros_, ones = (0,) * self.spatial, (1,) * self.spatial
        text = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != zeros_:
            text += f", padding={self.padding}"
        if self.dilation != ones:
            text += f", dilation={self.dilation}"
        if self.output_padding != zeros_:
            text += f", output_padding={self.output_padding}"
        if self.bias is None:
            text += ", bias=False"
        return text


class Conv1d(_Conv):
    """1-D convolution over sequences. x: (N, in_channels, L) -> (N, out_channels, OL).

    weight: (out_channels, in_channels, K), bias: (out_channels,); OL = (L + 2p - d(K-1) - 1) // s + 1.
    """

    spatial = 1

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        padding: int = 0,
        dilation: int = 1,
        bias: bool = True,
    ) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, bias)

    def forward(self, x: Tensor) -> Tensor:
        self._check_input(x)
        return F.conv1d(x, self.weight, self.bias, self.stride, self.padding, self.dilation)


class Conv2d(_Conv):
    """2-D convolution over images. x: (N, in_channels, H, W) -> (N, out_channels, OH, OW).

    weight: (out_channels, in_channels, KH, KW), bias: (out_channels,);
    OH = (H + 2 padding - dilation (KH - 1) - 1) // stride + 1, likewise OW.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] = 0,
        dilation: int | tuple[int, int] = 1,
        bias: bool = True,
    ) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, bias)

    def forward(self, x: Tensor) -> Tensor:
        self._check_input(x)
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation)


class ConvTranspose2d(_Conv):
    """2-D transposed convolution, the learnable upsampler. x: (N, in_channels, H, W) -> (N, out_channels, OH, OW).

    weight: (in_channels, out_channels, KH, KW), bias: (out_channels,);
    OH = (H - 1) stride - 2 padding + dilation (KH - 1) + output_padding + 1, likewise OW.
    """

    transposed = True

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] = 0,
        output_padding: int | tuple[int, int] = 0,
        bias: bool = True,
        dilation: int | tuple[int, int] = 1,
    ) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, bias, output_padding)

    def forward(self, x: Tensor) -> Tensor:
        self._check_input(x)
        return F.conv_transpose2d(
            x, self.weight, self.bias, self.stride, self.padding, self.output_padding, self.dilation
        )
