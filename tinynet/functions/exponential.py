"""Elementwise math of one tensor, part two: logs, exponentials, powers and the error function, each with its
derivative (part one, trigonometry, is ``pointwise``). Integer and bool tensors are computed in the default float
dtype, as in PyTorch; only square keeps integers.
"""

import math

import numpy as np

from kernels.numpy_ref.common import special_functions
from tinynet.amp_policy import autocast_op
from tinynet.autograd import Function
from tinynet.errors import ArgumentTypeError
from tinynet.functions.pointwise import Elementwise, float_input, inplace
from tinynet.tensor import Tensor


class Log2(Elementwise, Function):
    """The base-2 logarithm.

    forward:    out = log₂ x
    derivative: dL/dx = dL/dout / (x ln 2)
    kernels:    none: computed inline with the array module's calls
    """

    value = staticmethod(lambda xp, x: xp.log2(x))
    slope = staticmethod(lambda xp, x, out: 1 / (x * math.log(2)))


class Log10(Elementwise, Function):
    """The base-10 logarithm.

    forward:    out = log₁₀ x
    derivative: dL/dx = dL/dout / (x ln 10)
    kernels:    none: computed inline with the array module's calls
    """

    value = staticmethod(lambda xp, x: xp.log10(x))
    slope = staticmethod(lambda xp, x, out: 1 / (x * math.log(10)))


class Log1p(Elementwise, Function):
    """log(1 + x), accurate for small x.

    forward:    out = log(1 + x)
    derivative: dL/dx = dL/dout / (1 + x)
    kernels:    none: computed inline with the array module's calls
    """

    value = staticmethod(lambda xp, x: xp.log1p(x))
    slope = staticmethod(lambda xp, x, out: 1 / (x + 1))


class Exp2(Elementwise, Function):
    """Two to the power x.

    forward:    out = 2^x
    derivative: dL/dx = dL/dout · out ln 2, from the saved output
    kernels:    none: computed inline with the array module's calls
    """

    value = staticmethod(lambda xp, x: xp.exp2(x))
    slope = staticmethod(lambda xp, x, out: out * math.log(2))


class Expm1(Elementwise, Function):
    """e^x - 1, accurate for small x.

    forward:    out = e^x - 1
    derivative: dL/dx = dL/dout · (out + 1), from the saved output
    kernels:    none: computed inline with the array module's calls
    """

    value = staticmethod(lambda xp, x: xp.expm1(x))
    slope = staticmethod(lambda xp, x, out: out + 1)


class Rsqrt(Elementwise, Function):
    """The reciprocal of the square root.

    forward:    out = 1 / √x
    derivative: dL/dx = -dL/dout · out³ / 2, from the saved output
    kernels:    none: computed inline with the array module's calls
    """

    value = staticmethod(lambda xp, x: 1 / xp.sqrt(x))
    slope = staticmethod(lambda xp, x, out: -0.5 * out * out * out)


class Reciprocal(Elementwise, Function):
    """One over x.

    forward:    out = 1 / x
    derivative: dL/dx = -dL/dout · out², from the saved output
    kernels:    none: computed inline with the array module's calls
    """

    value = staticmethod(lambda xp, x: 1 / x)
    slope = staticmethod(lambda xp, x, out: -(out * out))


class Square(Elementwise, Function):
    """x times itself.

    forward:    out = x²
    derivative: dL/dx = dL/dout · 2x
    kernels:    none: computed inline with the array module's calls
    """

    value = staticmethod(lambda xp, x: x * x)
    slope = staticmethod(lambda xp, x, out: 2 * x)


class Erf(Elementwise, Function):
    """The error function.

    forward:    out = erf x = 2/√π ∫₀ˣ e^(-t²) dt
    derivative: dL/dx = dL/dout · 2/√π e^(-x²)
    kernels:    none: computed inline with the array module's calls
    """

    # SciPy computes float16 in float32: the casts keep the input's dtype, as PyTorch does.
    value = staticmethod(lambda xp, x: special_functions(xp).erf(x).astype(x.dtype, copy=False))
    slope = staticmethod(lambda xp, x, out: 2 / math.sqrt(math.pi) * xp.exp(-x * x))


class Erfc(Elementwise, Function):
    """The complementary error function, accurate where erf x is near 1.

    forward:    out = erfc x = 1 - erf x
    derivative: dL/dx = -dL/dout · 2/√π e^(-x²)
    kernels:    none: computed inline with the array module's calls
    """

    value = staticmethod(lambda xp, x: special_functions(xp).erfc(x).astype(x.dtype, copy=False))
    slope = staticmethod(lambda xp, x, out: -2 / math.sqrt(math.pi) * xp.exp(-x * x))


class Erfinv(Elementwise, Function):
    """The inverse error function (±inf at ±1, NaN outside [-1, 1]).

    forward:    out = erfinv x, the y with erf y = x
    derivative: dL/dx = dL/dout · √π/2 e^(out²), from the saved output
    kernels:    none: computed inline with the array module's calls
    """

    value = staticmethod(lambda xp, x: special_functions(xp).erfinv(x).astype(x.dtype, copy=False))
    slope = staticmethod(lambda xp, x, out: math.sqrt(math.pi) / 2 * xp.exp(out * out))


@autocast_op("log2")
def log2(x: Tensor) -> Tensor:
    return Log2.apply(float_input("log2", x))


@autocast_op("log10")
def log10(x: Tensor) -> Tensor:
    return Log10.apply(float_input("log10", x))


@autocast_op("log1p")
def log1p(x: Tensor) -> Tensor:
    """log(1 + x), accurate for small x."""
    return Log1p.apply(float_input("log1p", x))


def exp2(x: Tensor) -> Tensor:
    return Exp2.apply(float_input("exp2", x))


@autocast_op("expm1")
def expm1(x: Tensor) -> Tensor:
    """e^x - 1, accurate for small x."""
    return Expm1.apply(float_input("expm1", x))


@autocast_op("rsqrt")
def rsqrt(x: Tensor) -> Tensor:
    """1 / √x."""
    return Rsqrt.apply(float_input("rsqrt", x))


@autocast_op("reciprocal")
def reciprocal(x: Tensor) -> Tensor:
    """1 / x (integer tensors give floats: 1 / 0 is inf)."""
    return Reciprocal.apply(float_input("reciprocal", x))


def square(x: Tensor) -> Tensor:
    """x²; integer tensors stay integers (bool ones become int64), as in PyTorch."""
    if not isinstance(x, Tensor):
        raise ArgumentTypeError(f"square: expected a Tensor, got {type(x).__name__}")
    if x.dtype.kind == "f":
        return Square.apply(x)
    data = x.array.astype(np.int64) if x.dtype.kind == "b" else x.array
    return Tensor(data * data)


def erf(x: Tensor) -> Tensor:
    return Erf.apply(float_input("erf", x))


def erfc(x: Tensor) -> Tensor:
    return Erfc.apply(float_input("erfc", x))


@autocast_op("erfinv")
def erfinv(x: Tensor) -> Tensor:
    return Erfinv.apply(float_input("erfinv", x))


__all__ = ["erf", "erfc", "erfinv", "exp2", "expm1", "log10", "log1p", "log2", "reciprocal", "rsqrt", "square"]
METHODS: dict = {name: globals()[name] for name in __all__}
METHODS.update({name + "_": inplace(name + "_", globals()[name]) for name in __all__})
