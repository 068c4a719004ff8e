"""The basic layers: Linear, Bilinear, Identity, Flatten, Unflatten (the containers live in ``container.py``)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from tinynet.errors import DimensionError, ShapeError
from tinynet.functions.shape import flatten, reshape
from tinynet.nn import functional as F
from tinynet.nn import init
from tinynet.nn.container import ModuleDict, ModuleList, ParameterDict, ParameterList, Sequential  # noqa: F401
from tinynet.nn.functional_more import bilinear, pixel_shuffle, pixel_unshuffle
from tinynet.nn.module import Module, Parameter
from tinynet.tensor import Tensor, zeros


class Linear(Module):
    """y = x W^T + b. x: (..., in_features) -> (..., out_features).

    weight: (out_features, in_features), bias: (out_features,), both U(-1/sqrt(in), 1/sqrt(in)) as in PyTorch.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True) -> None:
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = Parameter(zeros(out_features, in_features))
        self.bias = Parameter(zeros(out_features)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # PyTorch's default: kaiming_uniform_(a=sqrt(5)), which works out to U(-1/sqrt(in), 1/sqrt(in)).
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1 / math.sqrt(self.in_features) if self.in_features else 0.0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise ShapeError(
                f"Linear(in_features={self.in_features}, out_features={self.out_features}): "
                f"expected input of shape (..., {self.in_features}), got {x.shape}"
            )
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Identity(Module):
    """Returns its input: a placeholder where a layer is optional. Any arguments are accepted and ignored."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__()

    def forward(self, x: Tensor) -> Tensor:
        return x


class Flatten(Module):
    """Merges dims start_dim..end_dim: (N, C, H, W) -> (N, C*H*W) by default."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x: Tensor) -> Tensor:
        return flatten(x, self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Splits dim ``dim`` into ``unflattened_size``: ``Unflatten(1, (2, 5))`` takes (N, 10) to (N, 2, 5).

    One entry of unflattened_size may be -1 (inferred), as in ``Tensor.unflatten``.
    """

    def __init__(self, dim: int, unflattened_size: Sequence[int]) -> None:
        super().__init__()
        if not isinstance(dim, int):
            raise TypeError(f"invalid argument dim: expected an int, got {type(dim).__name__}")
        if not isinstance(unflattened_size, (tuple, list)) or not all(isinstance(n, int) for n in unflattened_size):
            raise TypeError("unflattened_size must be a tuple of ints")
        self.dim, self.unflattened_size = dim, unflattened_size

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002 (PyTorch's name)
        dim = self.dim + input.ndim if self.dim < 0 else self.dim
        if not 0 <= dim < input.ndim:
            raise DimensionError(
                f"Unflatten: dimension out of range (expected to be in range of [{-input.ndim}, {input.ndim - 1}], "
                f"but got {self.dim})"
            )
        sizes = list(self.unflattened_size)
        known = math.prod(n for n in sizes if n != -1)
        if sizes.count(-1) > 1 or (-1 in sizes and (known == 0 or input.shape[dim] % known)):
            raise ShapeError(f"Unflatten: cannot split dim {self.dim} of size {input.shape[dim]} into {tuple(sizes)}")
        sizes = [input.shape[dim] // known if n == -1 else n for n in sizes]
        if math.prod(sizes) != input.shape[dim]:
            raise ShapeError(
                f"unflatten: Provided sizes {list(self.unflattened_size)} don't multiply up to the size of dim "
                f"{self.dim} ({input.shape[dim]}) in the input tensor"
            )
        return reshape(input, (*input.shape[:dim], *sizes, *input.shape[dim + 1 :]))

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"


class Bilinear(Module):
    """y = x1^T A x2 + b for each output feature. x1: (..., in1_features), x2: (..., in2_features) -> (..., out).

    weight: (out_features, in1_features, in2_features), bias: (out_features,), both U(-1/sqrt(in1), 1/sqrt(in1)) as
    in PyTorch.
    """

    def __init__(self, in1_features: int, in2_features: int, out_features: int, bias: bool = True) -> None:
        super().__init__()
        self.in1_features, self.in2_features, self.out_features = in1_features, in2_features, out_features
        self.weight = Parameter(zeros(out_features, in1_features, in2_features))
        self.bias = Parameter(zeros(out_features)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1 / math.sqrt(self.weight.shape[1]) if self.weight.shape[1] else 0.0
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input1: Tensor, input2: Tensor) -> Tensor:
        return bilinear(input1, input2, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (
            f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
            f"out_features={self.out_features}, bias={self.bias is not None}"
        )


class PixelShuffle(Module):
    """(*, C * r^2, H, W) -> (*, C, H * r, W * r), r = upscale_factor: sub-pixel upsampling."""

    def __init__(self, upscale_factor: int) -> None:
        super().__init__()
        self.upscale_factor = upscale_factor

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002 (PyTorch's name)
        return pixel_shuffle(input, self.upscale_factor)

    def extra_repr(self) -> str:
        return f"upscale_factor={self.upscale_factor}"


class PixelUnshuffle(Module):
    """(*, C, H * r, W * r) -> (*, C * r^2, H, W), r = downscale_factor: PixelShuffle undone."""

    def __init__(self, downscale_factor: int) -> None:
        super().__init__()
        self.downscale_factor = downscale_factor

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002 (PyTorch's name)
        return pixel_unshuffle(input, self.downscale_factor)

    def extra_repr(self) -> str:
        return f"downscale_factor={self.downscale_factor}"


class Softmax2d(Module):
    """Softmax over the channels at each position: (N, C, H, W) or (C, H, W) -> the same shape."""

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002 (PyTorch's name)
        if input.ndim not in (3, 4):
            raise ShapeError(f"Softmax2d: expected input of 3 or 4 dimensions (got {input.ndim})")
        return F.softmax(input, -3)
