"""Convolution layers: Conv1d/2d/3d, ConvTranspose1d/2d/3d, with PyTorch's arguments and default init."""

from __future__ import annotations

import math

from tinynet.errors import ArgumentError, ShapeError
from tinynet.functions.conv import same_padding
from tinynet.functions.windows import ntuple
from tinynet.nn import functional as F
from tinynet.nn import init
from tinynet.nn.module import Module, Parameter
from tinynet.tensor import Tensor, zeros

PADDING_MODES = ("zeros", "reflect", "replicate", "circular")
IntOrTuple = int | tuple[int, ...]


class _Conv(Module):
    """What the convolution layers share: arguments kept as tuples, parameters, PyTorch's init, the repr."""

    spatial = 2
    transposed = False

    def __init__(
        self, in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias, padding_mode,
        output_padding=0,
    ) -> None:  # fmt: skip
        super().__init__()
        name, n = type(self).__name__, self.spatial
        for label, value in (("in_channels", in_channels), ("out_channels", out_channels), ("groups", groups)):
            ntuple(name, label, value, 1, 1)
        for label, value in (("in_channels", in_channels), ("out_channels", out_channels)):
            if value % groups:
                raise ArgumentError(f"{name}: {label}={value} must be divisible by groups={groups}")
        if padding_mode not in PADDING_MODES:
            raise ArgumentError(f"{name}: padding_mode must be one of {PADDING_MODES}, got {padding_mode!r}")
        if self.transposed and padding_mode != "zeros":
            raise ArgumentError(f'{name}: only "zeros" padding mode is supported, got {padding_mode!r}')
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = ntuple(name, "kernel_size", kernel_size, n, 1)
        self.stride = ntuple(name, "stride", stride, n, 1)
        self.dilation = ntuple(name, "dilation", dilation, n, 1)
        self.output_padding = ntuple(name, "output_padding", output_padding, n, 0)
        self.padding = self._padding(name, padding)
        self.padding_mode = padding_mode
        # A transposed convolution is the adjoint of a convolution from out_channels to in_channels, so its
        # weight is laid out (in_channels, out_channels / groups, *kernel), as in PyTorch.
        if self.transposed:
            channels = (in_channels, out_channels // groups)
        else:
            channels = (out_channels, in_channels // groups)
        self.weight = Parameter(zeros(*channels, *self.kernel_size))
        self.bias = Parameter(zeros(out_channels)) if bias else None
        self.reset_parameters()

    def _padding(self, name: str, padding) -> tuple[int, ...] | str:
        if not isinstance(padding, str) or self.transposed:
            return ntuple(name, "padding", padding, self.spatial, 0)
        if padding not in ("same", "valid"):
            raise ArgumentError(f"{name}: padding must be an int, a tuple, 'same' or 'valid', got {padding!r}")
        if padding == "same" and any(s != 1 for s in self.stride):
            raise ArgumentError(f"{name}: padding='same' is not supported for strided convolutions ({self.stride})")
        return padding

    def reset_parameters(self) -> None:
        # PyTorch's default: weight kaiming_uniform_(a=sqrt(5)) = U(-1/sqrt(fan_in), 1/sqrt(fan_in)), bias the
        # same bound. fan_in = weight.shape[1] * prod(kernel): in_channels / groups * K*K for a convolution, but
        # out_channels / groups * K*K for a transposed one (PyTorch computes it from the weight's layout).
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init.fan_in_and_fan_out(self.weight)
            bound = 1 / math.sqrt(fan_in) if fan_in else 0.0
            init.uniform_(self.bias, -bound, bound)

    def _check_input(self, x: Tensor) -> None:
        axes = ("L", "H, W", "D, H, W")[self.spatial - 1]
        if x.ndim not in (self.spatial + 1, self.spatial + 2) or x.shape[-self.spatial - 1] != self.in_channels:
            raise ShapeError(
                f"{type(self).__name__}({self.extra_repr()}): expected input of shape "
                f"(N, {self.in_channels}, {axes}), got {x.shape} (or an unbatched ({self.in_channels}, {axes}))"
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
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        if self.padding_mode != "zeros":
            text += f", padding_mode={self.padding_mode}"
        return text


class _ConvNd(_Conv):
    """Conv1d/2d/3d: ``padding_mode`` other than "zeros" pads the input with F.pad first, then convolves."""

    def _reversed_padding_repeated_twice(self) -> list[int]:
        """F.pad's tuple for this layer's padding: the last axis first, (before, after) each."""
        if self.padding == "valid":
            return [0] * (2 * self.spatial)
        if self.padding == "same":
            before, after = same_padding(self.kernel_size, self.dilation)
        else:
            before = after = self.padding
        return [p for b, a in zip(reversed(before), reversed(after)) for p in (b, a)]

    def forward(self, x: Tensor) -> Tensor:
        self._check_input(x)
        conv = (F.conv1d, F.conv2d, F.conv3d)[self.spatial - 1]
        if self.padding_mode == "zeros":
            return conv(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)
        x = F.pad(x, self._reversed_padding_repeated_twice(), mode=self.padding_mode)
        return conv(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


class Conv1d(_ConvNd):
    """1-D convolution over sequences. x: (N, in_channels, L) -> (N, out_channels, OL).

    weight: (out_channels, in_channels / groups, K), bias: (out_channels,); OL = (L + 2p - d(K-1) - 1) // s + 1.
    """

    spatial = 1

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: IntOrTuple,
        stride: IntOrTuple = 1,
        padding: IntOrTuple | str = 0,
        dilation: IntOrTuple = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
    ) -> None:
        args = (kernel_size, stride, padding, dilation, groups, bias, padding_mode)
        super().__init__(in_channels, out_channels, *args)


class Conv2d(_ConvNd):
    """2-D convolution over images. x: (N, in_channels, H, W) -> (N, out_channels, OH, OW).

    weight: (out_channels, in_channels / groups, KH, KW), bias: (out_channels,);
    OH = (H + 2 padding - dilation (KH - 1) - 1) // stride + 1, likewise OW.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: IntOrTuple,
        stride: IntOrTuple = 1,
        padding: IntOrTuple | str = 0,
        dilation: IntOrTuple = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
    ) -> None:
        args = (kernel_size, stride, padding, dilation, groups, bias, padding_mode)
        super().__init__(in_channels, out_channels, *args)


class Conv3d(_ConvNd):
    """3-D convolution over volumes. x: (N, in_channels, D, H, W) -> (N, out_channels, OD, OH, OW).

    weight: (out_channels, in_channels / groups, KD, KH, KW), bias: (out_channels,); sizes as in Conv2d.
    """

    spatial = 3

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: IntOrTuple,
        stride: IntOrTuple = 1,
        padding: IntOrTuple | str = 0,
        dilation: IntOrTuple = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
    ) -> None:
        args = (kernel_size, stride, padding, dilation, groups, bias, padding_mode)
        super().__init__(in_channels, out_channels, *args)


class _ConvTransposeNd(_Conv):
    """ConvTranspose1d/2d/3d: ``forward(x, output_size)`` may ask for one of the sizes a stride allows."""

    transposed = True

    def __init__(
        self, in_channels, out_channels, kernel_size, stride, padding, output_padding, groups, bias, dilation,
        padding_mode,
    ) -> None:  # fmt: skip
        args = (kernel_size, stride, padding, dilation, groups, bias, padding_mode, output_padding)
        super().__init__(in_channels, out_channels, *args)

    def _output_padding(self, x: Tensor, output_size) -> tuple[int, ...]:
        """The output_padding that gives ``output_size`` (the spatial sizes, or with (N, C) in front)."""
        if output_size is None:
            return self.output_padding
        n, name = self.spatial, type(self).__name__
        size = tuple(output_size)
        size = size[-n:] if len(size) == x.ndim else size  # (N, C, *spatial) or (C, *spatial) given: keep spatial
        if len(size) != n:
            raise ArgumentError(f"{name}: output_size must have {n} or {n + 2} elements, got {tuple(output_size)}")
        geometry = zip(x.shape[-n:], self.stride, self.padding, self.dilation, self.kernel_size)
        smallest = [(h - 1) * s - 2 * p + d * (k - 1) + 1 for h, s, p, d, k in geometry]
        if any(not lo <= want < lo + s for want, lo, s in zip(size, smallest, self.stride)):
            largest = [lo + s - 1 for lo, s in zip(smallest, self.stride)]
            raise ArgumentError(
                f"{name}: output_size {size} is not reachable from input {x.shape}: expected sizes between "
                f"{tuple(smallest)} and {tuple(largest)}"
            )
        return tuple(want - lo for want, lo in zip(size, smallest))

    def forward(self, x: Tensor, output_size=None) -> Tensor:
        self._check_input(x)
        conv = (F.conv_transpose1d, F.conv_transpose2d, F.conv_transpose3d)[self.spatial - 1]
        output_padding = self._output_padding(x, output_size)
        return conv(x, self.weight, self.bias, self.stride, self.padding, output_padding, self.groups, self.dilation)


class ConvTranspose1d(_ConvTransposeNd):
    """1-D transposed convolution. x: (N, in_channels, L) -> (N, out_channels, OL).

    weight: (in_channels, out_channels / groups, K), bias: (out_channels,);
    OL = (L - 1) stride - 2 padding + dilation (K - 1) + output_padding + 1.
    """

    spatial = 1

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: IntOrTuple,
        stride: IntOrTuple = 1,
        padding: IntOrTuple = 0,
        output_padding: IntOrTuple = 0,
        groups: int = 1,
        bias: bool = True,
        dilation: IntOrTuple = 1,
        padding_mode: str = "zeros",
    ) -> None:
        args = (kernel_size, stride, padding, output_padding, groups, bias, dilation, padding_mode)
        super().__init__(in_channels, out_channels, *args)


class ConvTranspose2d(_ConvTransposeNd):
    """2-D transposed convolution, the learnable upsampler. x: (N, in_channels, H, W) -> (N, out_channels, OH, OW).

    weight: (in_channels, out_channels / groups, KH, KW), bias: (out_channels,);
    OH = (H - 1) stride - 2 padding + dilation (KH - 1) + output_padding + 1, likewise OW.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: IntOrTuple,
        stride: IntOrTuple = 1,
        padding: IntOrTuple = 0,
        output_padding: IntOrTuple = 0,
        groups: int = 1,
        bias: bool = True,
        dilation: IntOrTuple = 1,
        padding_mode: str = "zeros",
    ) -> None:
        args = (kernel_size, stride, padding, output_padding, groups, bias, dilation, padding_mode)
        super().__init__(in_channels, out_channels, *args)


class ConvTranspose3d(_ConvTransposeNd):
    """3-D transposed convolution. x: (N, in_channels, D, H, W) -> (N, out_channels, OD, OH, OW).

    weight: (in_channels, out_channels / groups, KD, KH, KW), bias: (out_channels,); sizes as in ConvTranspose2d.
    """

    spatial = 3

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: IntOrTuple,
        stride: IntOrTuple = 1,
        padding: IntOrTuple = 0,
        output_padding: IntOrTuple = 0,
        groups: int = 1,
        bias: bool = True,
        dilation: IntOrTuple = 1,
        padding_mode: str = "zeros",
    ) -> None:
        args = (kernel_size, stride, padding, output_padding, groups, bias, dilation, padding_mode)
        super().__init__(in_channels, out_channels, *args)
