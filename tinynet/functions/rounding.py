"""Rounding (floor, ceil, round, trunc, frac), the sign, the tests for NaN and inf, and nan_to_num.

Rounding and the sign are step functions: their gradient is 0 everywhere, as PyTorch defines it (frac, x minus
its integer part, has gradient 1). Integer tensors are already whole: rounding returns them unchanged.
"""

from kernels.numpy_ref import array_module
from tinynet.autograd import Function
from tinynet.errors import ArgumentTypeError, DTypeError
from tinynet.functions.pointwise import Elementwise, inplace
from tinynet.tensor import Tensor


def _flat(xp, x, out, *params):
    return xp.zeros_like(x)  # a step function's slope, away from its jumps (and PyTorch's at them)


class Floor(Elementwise, Function):
    """The largest integer not above x.

    forward:    out = ⌊x⌋
    derivative: dL/dx = 0 (a step function)
    kernels:    none: computed inline with the array module's calls
    """

    value = staticmethod(lambda xp, x: xp.floor(x))
    slope = staticmethod(_flat)


class Ceil(Elementwise, Function):
    """The smallest integer not below x.

    forward:    out = ⌈x⌉
    derivative: dL/dx = 0 (a step function)
    kernels:    none: computed inline with the array module's calls
    """

    value = staticmethod(lambda xp, x: xp.ceil(x))
    slope = staticmethod(_flat)


class Trunc(Elementwise, Function):
    """x with its fractional part dropped (rounded toward zero).

    forward:    out = sign(x) ⌊|x|⌋
    derivative: dL/dx = 0 (a step function)
    kernels:    none: computed inline with the array module's calls
    """

    value = staticmethod(lambda xp, x: xp.trunc(x))
    slope = staticmethod(_flat)


class Round(Elementwise, Function):
    """x rounded to ``decimals`` decimal places, halves to even (2.5 -> 2, as PyTorch and NumPy do).

    forward:    out = rint(x · 10^d) / 10^d (for d < 0: rint(x / 10^-d) · 10^-d)
    derivative: dL/dx = 0 (a step function)
    kernels:    none: computed inline with the array module's calls
    """

    @staticmethod
    def value(xp, x, decimals):
        if decimals == 0:
            return xp.rint(x)
        # PyTorch's order of operations, so that float32 results agree to the last bit.
        if decimals > 0:
            scale = x.dtype.type(10.0**decimals)
            return xp.rint(x * scale) / scale
        scale = x.dtype.type(10.0**-decimals)
        return xp.rint(x / scale) * scale

    slope = staticmethod(_flat)


class Frac(Elementwise, Function):
    """The fractional part of x, with x's sign.

    forward:    out = x - trunc(x)
    derivative: dL/dx = dL/dout
    kernels:    none: computed inline with the array module's calls
    """

    value = staticmethod(lambda xp, x: x - xp.trunc(x))
    slope = staticmethod(lambda xp, x, out: xp.ones_like(x))


class Sign(Elementwise, Function):
    """-1, 0 or 1 as x is negative, zero or positive; 0 for NaN, as in PyTorch.

    forward:    out = sign(x) (0 where x is NaN)
    derivative: dL/dx = 0 (a step function)
    kernels:    none: computed inline with the array module's calls
    """

    value = staticmethod(lambda xp, x: xp.where(xp.isnan(x), 0, xp.sign(x)).astype(x.dtype, copy=False))
    slope = staticmethod(_flat)


class NanToNum(Elementwise, Function):
    """x with NaN, +inf and -inf replaced by finite numbers.

    forward:    out = x where finite; nan, posinf, neginf (default 0, the dtype's largest, its lowest) where not
    derivative: dL/dx = dL/dout where x is finite, else 0
    kernels:    none: computed inline with the array module's calls
    """

    value = staticmethod(lambda xp, x, nan, posinf, neginf: xp.nan_to_num(x, nan=nan, posinf=posinf, neginf=neginf))
    slope = staticmethod(lambda xp, x, out, *replacements: xp.isfinite(x).astype(x.dtype))


def _tensor(op: str, x) -> Tensor:
    if not isinstance(x, Tensor):
        raise ArgumentTypeError(f"{op}: expected a Tensor, got {type(x).__name__} (make one with tn.tensor(...))")
    return x


def _rounded(op: str, function: type, x, *params) -> Tensor:
    """``function`` (a rounding) applied to float tensor ``x``; a copy of an integer tensor, already whole."""
    if _tensor(op, x).dtype.kind == "b":
        raise DTypeError(f"{op}: not defined for bool tensors (convert with .int() or .float() first)")
    return Tensor(x.array.copy()) if x.dtype.kind in "iu" else function.apply(x, *params)


def floor(x: Tensor) -> Tensor:
    """The largest integer not above x, elementwise; its gradient is 0."""
    return _rounded("floor", Floor, x)


def ceil(x: Tensor) -> Tensor:
    """The smallest integer not below x, elementwise; its gradient is 0."""
    return _rounded("ceil", Ceil, x)


def trunc(x: Tensor) -> Tensor:
    """x rounded toward zero, elementwise; its gradient is 0."""
    return _rounded("trunc", Trunc, x)


fix = trunc  # PyTorch's other name for it


def round(x: Tensor, *, decimals: int = 0) -> Tensor:  # noqa: A001 (PyTorch's name)
    """x rounded to ``decimals`` decimal places (negative: to tens, hundreds...), halves to even; gradient 0."""
    if not isinstance(decimals, int) or isinstance(decimals, bool):
        raise ArgumentTypeError(f"round: decimals must be an int, got {decimals!r}")
    if isinstance(x, Tensor) and x.dtype.kind in "iub" and decimals != 0:
        raise DTypeError(f"round: decimals= needs a floating-point tensor, not {x.dtype}")
    return _rounded("round", Round, x, decimals)


def frac(x: Tensor) -> Tensor:
    """x - trunc(x): the fractional part, with x's sign. Floating-point tensors only, as in PyTorch."""
    if _tensor("frac", x).dtype.kind != "f":
        raise DTypeError(f"frac: needs a floating-point tensor, not {x.dtype}")
    return Frac.apply(x)


def sign(x: Tensor) -> Tensor:
    """-1, 0 or 1 elementwise (0 for NaN), in x's dtype (bool tensors stay bool); its gradient is 0."""
    if _tensor("sign", x).dtype.kind == "f":
        return Sign.apply(x)
    return Tensor(x.array.copy() if x.dtype.kind == "b" else array_module(x.array).sign(x.array))


sgn = sign  # PyTorch's name for the complex-aware sign: the same on real tensors


def isnan(x: Tensor) -> Tensor:
    """A bool tensor: where x is NaN."""
    return Tensor(array_module(x.array).isnan(_tensor("isnan", x).array))


def isinf(x: Tensor) -> Tensor:
    """A bool tensor: where x is +inf or -inf."""
    return Tensor(array_module(x.array).isinf(_tensor("isinf", x).array))


def isfinite(x: Tensor) -> Tensor:
    """A bool tensor: where x is neither inf nor NaN (integer tensors: everywhere)."""
    return Tensor(array_module(x.array).isfinite(_tensor("isfinite", x).array))


def isposinf(x: Tensor) -> Tensor:
    """A bool tensor: where x is +inf."""
    return Tensor(_tensor("isposinf", x).array == float("inf"))


def isneginf(x: Tensor) -> Tensor:
    """A bool tensor: where x is -inf."""
    return Tensor(_tensor("isneginf", x).array == float("-inf"))


def nan_to_num(x: Tensor, nan: float = 0.0, posinf: float | None = None, neginf: float | None = None) -> Tensor:
    """x with NaN replaced by ``nan``, +inf by ``posinf`` and -inf by ``neginf`` (by default the largest and the
    lowest finite value of x's dtype). Integer and bool tensors have none of them: returned as a copy."""
    if _tensor("nan_to_num", x).dtype.kind != "f":
        return Tensor(x.array.copy())
    return NanToNum.apply(x, nan, posinf, neginf)


__all__ = [
    "ceil", "fix", "floor", "frac", "isfinite", "isinf", "isnan", "isneginf", "isposinf", "nan_to_num", "round",
    "sgn", "sign", "trunc",
]  # fmt: skip
METHODS: dict = {name: globals()[name] for name in __all__}
METHODS.update({name + "_": inplace(name + "_", globals()[name]) for name in __all__ if not name.startswith("is")})
