"""One-input elementwise ops that models use everywhere: neg, exp, log, sqrt, abs, clip. (The rest of the
elementwise math - trigonometric, rounding, ... - is in ``pointwise``, ``exponential`` and ``rounding``.)"""

import numpy as np

from kernels.numpy_ref import array_module
from tinynet.amp_policy import autocast_op
from tinynet.autograd import Function
from tinynet.errors import ArgumentError
from tinynet.functions.elementwise import floating
from tinynet.tensor import Tensor


class Neg(Function):
    """Negation.

    forward:    out = -x
    derivative: dL/dx = -dL/dout
    kernels:    none: computed inline with the array module's calls
    """

    @staticmethod
    def forward(ctx, x):
        return -x

    @staticmethod
    def backward(ctx, grad):
        return -grad


class Exp(Function):
    """The exponential.

    forward:    out = e^x
    derivative: dL/dx = dL/dout · e^x, from the saved output
    kernels:    none: computed inline with the array module's calls
    """

    @staticmethod
    def forward(ctx, x):
        out = array_module(x).exp(x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved
        return grad * out


class Log(Function):
    """The natural logarithm.

    forward:    out = log x
    derivative: dL/dx = dL/dout / x
    kernels:    none: computed inline with the array module's calls
    """

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return array_module(x).log(x)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved
        return grad / x


class Sqrt(Function):
    """The square root.

    forward:    out = √x
    derivative: dL/dx = dL/dout / (2 √x), from the saved output
    kernels:    none: computed inline with the array module's calls
    """

    @staticmethod
    def forward(ctx, x):
        out = array_module(x).sqrt(x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved
        return grad / (2 * out)


class Abs(Function):
    """The absolute value.

    forward:    out = |x|
    derivative: dL/dx = dL/dout · sign(x) (0 at x = 0)
    kernels:    none: computed inline with the array module's calls
    """

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return array_module(x).abs(x)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved
        return grad * array_module(x).sign(x)


class Clip(Function):
    """x limited to [low, high].

    forward:    out = min(max(x, low), high)
    derivative: dL/dx = dL/dout where low ≤ x ≤ high, else 0
    kernels:    none: computed inline with the array module's calls
    """

    @staticmethod
    def forward(ctx, x, low, high):
        ctx.save_for_backward(x)
        ctx.bounds = low, high
        return array_module(x).clip(x, low, high)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved
        low, high = ctx.bounds
        # The gradient passes where x lies inside [low, high], bounds included (as in PyTorch).
        inside = np.True_
        if low is not None:
            inside = inside & (x >= low)
        if high is not None:
            inside = inside & (x <= high)
        return grad * inside, None, None


def neg(x: Tensor) -> Tensor:
    return Neg.apply(x)


@autocast_op("exp")
def exp(x: Tensor) -> Tensor:
    return Exp.apply(floating(x))


@autocast_op("log")
def log(x: Tensor) -> Tensor:
    """The natural logarithm."""
    return Log.apply(floating(x))


def sqrt(x: Tensor) -> Tensor:
    return Sqrt.apply(floating(x))


def abs(x: Tensor) -> Tensor:  # noqa: A001 (PyTorch's name)
    """|x|; its gradient at 0 is 0."""
    return Abs.apply(x)


def clip(x: Tensor, min=None, max=None) -> Tensor:  # noqa: A002 (PyTorch's argument names)
    """x limited to [min, max] (either bound may be None)."""
    if min is None and max is None:
        raise ArgumentError("clip: give at least one of min and max")
    return Clip.apply(x, min, max)


clamp = clip


absolute, negative = abs, neg

__all__ = ["abs", "absolute", "clamp", "clip", "exp", "log", "neg", "negative", "sqrt"]
METHODS: dict = {
    "neg": neg,
    "negative": neg,
    "exp": exp,
    "log": log,
    "sqrt": sqrt,
    "abs": abs,
    "absolute": abs,
    "clip": clip,
    "clamp": clamp,
}
