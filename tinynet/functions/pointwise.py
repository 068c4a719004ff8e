"""Elementwise math of one tensor, part one: trigonometric and hyperbolic functions and their inverses, each
with its derivative; and what the other elementwise families build on (``Elementwise``, ``inplace``, ``quiet``).

As in PyTorch, integer and bool tensors are computed in the default float dtype: ``tn.sin(tn.tensor([1, 2]))``
is float32. In-place forms (``x.sin_()``) follow ``Tensor._inplace``'s rule: no tensor that requires grad
while autograd records.
"""

import numpy as np

from kernels.numpy_ref import array_module
from tinynet.amp_policy import autocast_op
from tinynet.autograd import Function
from tinynet.errors import ArgumentTypeError, DTypeError
from tinynet.functions.elementwise import floating
from tinynet.tensor import Tensor


class Elementwise:
    """forward and backward of a one-input op whose derivative is elementwise, for the Functions here and in
    ``exponential`` and ``rounding`` to inherit (it is no Function itself). Each op writes ``value(xp, x,
    *params)`` (its output) and ``slope(xp, x, out, *params)`` (d out / d x, from the input and the saved
    output); the chain rule multiplies by the slope."""

    @classmethod
    def forward(cls, ctx, x, *params):
        with quiet():
            out = cls.value(array_module(x), x, *params)
        ctx.save_for_backward(x, out)
        ctx.params = params
        return out

    @classmethod
    def backward(cls, ctx, grad):
        x, out = ctx.saved
        with quiet():
            return (grad * cls.slope(array_module(x), x, out, *ctx.params), *(None for _ in ctx.params))


def quiet():
    """A context in which NumPy makes NaN and inf (log of a negative, 1 / 0) without a warning, as PyTorch does:
    they are the values these ops define there. (CuPy never warns.)"""
    return np.errstate(divide="ignore", invalid="ignore", over="ignore")


class Sin(Elementwise, Function):
    """The sine.

    forward:    out = sin x
    derivative: dL/dx = dL/dout · cos x
    kernels:    none: computed inline with the array module's calls
    """

    value = staticmethod(lambda xp, x: xp.sin(x))
    slope = staticmethod(lambda xp, x, out: xp.cos(x))


class Cos(Elementwise, Function):
    """The cosine.

    forward:    out = cos x
    derivative: dL/dx = -dL/dout · sin x
    kernels:    none: computed inline with the array module's calls
    """

    value = staticmethod(lambda xp, x: xp.cos(x))
    slope = staticmethod(lambda xp, x, out: -xp.sin(x))


class Tan(Elementwise, Function):
    """The tangent.

    forward:    out = tan x
    derivative: dL/dx = dL/dout · (1 + out²), from the saved output
    kernels:    none: computed inline with the array module's calls
    """

    value = staticmethod(lambda xp, x: xp.tan(x))
    slope = staticmethod(lambda xp, x, out: 1 + out * out)


class Asin(Elementwise, Function):
    """The inverse sine (NaN outside [-1, 1]).

    forward:    out = asin x
    derivative: dL/dx = dL/dout / √(1 - x²)
    kernels:    none: computed inline with the array module's calls
    """

    value = staticmethod(lambda xp, x: xp.arcsin(x))
    slope = staticmethod(lambda xp, x, out: 1 / xp.sqrt(1 - x * x))


class Acos(Elementwise, Function):
    """The inverse cosine (NaN outside [-1, 1]).

    forward:    out = acos x
    derivative: dL/dx = -dL/dout / √(1 - x²)
    kernels:    none: computed inline with the array module's calls
    """

    value = staticmethod(lambda xp, x: xp.arccos(x))
    slope = staticmethod(lambda xp, x, out: -1 / xp.sqrt(1 - x * x))


class Atan(Elementwise, Function):
    """The inverse tangent.

    forward:    out = atan x
    derivative: dL/dx = dL/dout / (1 + x²)
    kernels:    none: computed inline with the array module's calls
    """

    value = staticmethod(lambda xp, x: xp.arctan(x))
    slope = staticmethod(lambda xp, x, out: 1 / (1 + x * x))


class Sinh(Elementwise, Function):
    """The hyperbolic sine.

    forward:    out = sinh x
    derivative: dL/dx = dL/dout · cosh x
    kernels:    none: computed inline with the array module's calls
    """

    value = staticmethod(lambda xp, x: xp.sinh(x))
    slope = staticmethod(lambda xp, x, out: xp.cosh(x))


class Cosh(Elementwise, Function):
    """The hyperbolic cosine.

    forward:    out = cosh x
    derivative: dL/dx = dL/dout · sinh x
    kernels:    none: computed inline with the array module's calls
    """

    value = staticmethod(lambda xp, x: xp.cosh(x))
    slope = staticmethod(lambda xp, x, out: xp.sinh(x))


class Asinh(Elementwise, Function):
    """The inverse hyperbolic sine.

    forward:    out = asinh x
    derivative: dL/dx = dL/dout / √(x² + 1)
    kernels:    none: computed inline with the array module's calls
    """

    value = staticmethod(lambda xp, x: xp.arcsinh(x))
    slope = staticmethod(lambda xp, x, out: 1 / xp.sqrt(x * x + 1))


class Acosh(Elementwise, Function):
    """The inverse hyperbolic cosine (NaN below 1).

    forward:    out = acosh x
    derivative: dL/dx = dL/dout / √(x² - 1)
    kernels:    none: computed inline with the array module's calls
    """

    value = staticmethod(lambda xp, x: xp.arccosh(x))
    slope = staticmethod(lambda xp, x, out: 1 / xp.sqrt(x * x - 1))


class Atanh(Elementwise, Function):
    """The inverse hyperbolic tangent (NaN outside [-1, 1]).

    forward:    out = atanh x
    derivative: dL/dx = dL/dout / (1 - x²)
    kernels:    none: computed inline with the array module's calls
    """

    value = staticmethod(lambda xp, x: xp.arctanh(x))
    slope = staticmethod(lambda xp, x, out: 1 / (1 - x * x))


def float_input(op: str, x) -> Tensor:
    """``x`` as the tensor a floating-point op computes on: integer and bool tensors in the default float dtype."""
    if not isinstance(x, Tensor):
        raise ArgumentTypeError(f"{op}: expected a Tensor, got {type(x).__name__} (make one with tn.tensor(...))")
    return floating(x)


def sin(x: Tensor) -> Tensor:
    return Sin.apply(float_input("sin", x))


def cos(x: Tensor) -> Tensor:
    return Cos.apply(float_input("cos", x))


@autocast_op("tan")
def tan(x: Tensor) -> Tensor:
    return Tan.apply(float_input("tan", x))


@autocast_op("asin")
def asin(x: Tensor) -> Tensor:
    return Asin.apply(float_input("asin", x))


@autocast_op("acos")
def acos(x: Tensor) -> Tensor:
    return Acos.apply(float_input("acos", x))


def atan(x: Tensor) -> Tensor:
    return Atan.apply(float_input("atan", x))


@autocast_op("sinh")
def sinh(x: Tensor) -> Tensor:
    return Sinh.apply(float_input("sinh", x))


@autocast_op("cosh")
def cosh(x: Tensor) -> Tensor:
    return Cosh.apply(float_input("cosh", x))


def asinh(x: Tensor) -> Tensor:
    return Asinh.apply(float_input("asinh", x))


def acosh(x: Tensor) -> Tensor:
    return Acosh.apply(float_input("acosh", x))


def atanh(x: Tensor) -> Tensor:
    return Atanh.apply(float_input("atanh", x))


def inplace(name: str, function):
    """The Tensor method ``x.NAME_(...)``: ``function(x, ...)`` written into x. As in PyTorch, it refuses a result
    that x's dtype cannot hold without changing kind (floats into an integer tensor, integers into bool)."""

    def method(self: Tensor, *args, **kwargs) -> Tensor:
        def compute(x: Tensor) -> Tensor:
            result = function(x, *args, **kwargs)
            if not np.can_cast(result.dtype, self.dtype, casting="same_kind"):
                raise DTypeError(
                    f"{name}: the result has dtype {result.dtype}, which cannot be written into this {self.dtype} "
                    f"tensor in place; use the out-of-place x.{name.rstrip('_')}(...)"
                )
            return result

        return self._update(name, compute)  # (recorded when autograd watches, as PyTorch's in-place ops are)

    method.__name__ = name
    method.__doc__ = f"In-place ``{name.rstrip('_')}``: writes the result into this tensor and returns it."
    return method


arcsin, arccos, arctan, arcsinh, arccosh, arctanh = asin, acos, atan, asinh, acosh, atanh  # NumPy's names too

__all__ = [
    "acos", "acosh", "arccos", "arccosh", "arcsin", "arcsinh", "arctan", "arctanh", "asin", "asinh", "atan",
    "atanh", "cos", "cosh", "sin", "sinh", "tan",
]  # fmt: skip
METHODS: dict = {name: globals()[name] for name in __all__}
METHODS.update({name + "_": inplace(name + "_", globals()[name]) for name in __all__})
