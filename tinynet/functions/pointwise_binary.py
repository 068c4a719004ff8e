"""Elementwise math of two tensors: remainder, fmod and floor_divide (%, //), hypot, atan2, copysign, xlogy,
logaddexp, float_power, lerp, clamp_min and clamp_max; each with its gradient.

Either operand may be a Python number, and the two broadcast. They are first converted to the dtype PyTorch
computes in (``tinynet.dtypes.result_type``): an int tensor % 2.5 is float32, an int32 tensor % 3 stays int32.
"""

import numpy as np

from kernels.numpy_ref import array_module
from tinynet.autograd import Function, unbroadcast
from tinynet.dtypes import float64, get_default_dtype, result_type
from tinynet.errors import ArgumentError, ArgumentTypeError, DTypeError, ShapeError
from tinynet.functions.elementwise import cast, operand, pow, where
from tinynet.functions.pointwise import inplace, quiet
from tinynet.functions.unary import clip
from tinynet.tensor import Tensor


def _shape(value) -> tuple:
    return np.shape(value.array if isinstance(value, Tensor) else value)


def broadcast_shape(op: str, *values) -> tuple:
    """The shape ``values`` (tensors or numbers) broadcast to; a ShapeError naming ``op`` if they cannot."""
    shapes = [_shape(v) for v in values]
    try:
        return np.broadcast_shapes(*shapes)
    except ValueError:
        raise ShapeError(
            f"{op}: shapes {' and '.join(map(str, shapes))} cannot broadcast "
            "(aligned from the right, each pair of sizes must be equal or one of them 1)"
        ) from None


def promoted(op: str, a, b, floating: bool = False) -> tuple[Tensor, Tensor]:
    """``a`` and ``b`` (tensors or Python numbers, at least one a tensor) as tensors of the dtype PyTorch computes
    ``op`` in; with ``floating``, integer and bool operands give the default float dtype. Float tensors are
    converted differentiably (a float32 tensor meeting a float64 one gets its gradient back in float32)."""
    a, b = operand(a), operand(b)
    tensors = [v for v in (a, b) if isinstance(v, Tensor)]
    if not tensors:
        raise ArgumentTypeError(f"{op}: expected a Tensor, got {type(a).__name__} and {type(b).__name__}")
    broadcast_shape(op, a, b)
    dtype = result_type(a, b)
    if floating and dtype.kind != "f":
        dtype = get_default_dtype()
    xp = array_module(tensors[0].array)

    def converted(value):
        if isinstance(value, Tensor):
            return cast(value, dtype)
        return Tensor(xp.asarray(value).astype(dtype))  # (a Python int wraps into a narrow dtype, as in PyTorch)

    return converted(a), converted(b)


def _grads(ctx, grad_a, grad_b) -> tuple:
    """The gradients a binary op's backward returns: each summed back to its input's shape, None where unneeded."""
    need_a, need_b = ctx.needs_input_grad
    shape_a, shape_b = ctx.shapes
    return (
        unbroadcast(grad_a(), shape_a) if need_a else None,
        unbroadcast(grad_b(), shape_b) if need_b else None,
    )


class Remainder(Function):
    """The remainder of a / b with b's sign, as Python's % (-7 % 3 is 2).

    forward:    out = a - ⌊a / b⌋ b
    derivative: dL/da = dL/dout, dL/db = -dL/dout · ⌊a / b⌋ (summed over broadcast axes)
    kernels:    none: computed inline with the array module's calls
    """

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        ctx.shapes = a.shape, b.shape
        with quiet():  # x / 0 is NaN or inf, as in PyTorch
            return array_module(a).remainder(a, b)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved
        with quiet():
            return _grads(ctx, lambda: grad, lambda: -grad * array_module(a).floor_divide(a, b))


class Fmod(Function):
    """The remainder of a / b with a's sign, as C's fmod (-7 fmod 3 is -1).

    forward:    out = a - trunc(a / b) b
    derivative: dL/da = dL/dout, dL/db = -dL/dout · trunc(a / b) (summed over broadcast axes)
    kernels:    none: computed inline with the array module's calls
    """

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        ctx.shapes = a.shape, b.shape
        with quiet():  # x / 0 is NaN or inf, as in PyTorch
            return array_module(a).fmod(a, b)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved
        with quiet():
            return _grads(ctx, lambda: grad, lambda: -grad * array_module(a).trunc(a / b))


class FloorDivide(Function):
    """a / b rounded down, as Python's // (-7 // 2 is -4).

    forward:    out = ⌊a / b⌋
    derivative: dL/da = 0, dL/db = 0 (a step function)
    kernels:    none: computed inline with the array module's calls
    """

    @staticmethod
    def forward(ctx, a, b):
        ctx.shapes = a.shape, b.shape
        with quiet():  # x / 0 is NaN or inf, as in PyTorch
            return array_module(a).floor_divide(a, b)

    @staticmethod
    def backward(ctx, grad):
        zeros = array_module(grad).zeros_like
        return _grads(ctx, lambda: zeros(grad), lambda: zeros(grad))


class Hypot(Function):
    """The hypotenuse of a right triangle with legs a and b.

    forward:    out = √(a² + b²)
    derivative: dL/da = dL/dout · a / out, dL/db = dL/dout · b / out (summed over broadcast axes)
    kernels:    none: computed inline with the array module's calls
    """

    @staticmethod
    def forward(ctx, a, b):
        out = array_module(a).hypot(a, b)
        ctx.save_for_backward(a, b, out)
        ctx.shapes = a.shape, b.shape
        return out

    @staticmethod
    def backward(ctx, grad):
        a, b, out = ctx.saved
        with quiet():  # 0 / 0 at the origin: NaN, as in PyTorch
            return _grads(ctx, lambda: grad * a / out, lambda: grad * b / out)


class Atan2(Function):
    """The angle of the point (b, a) from the x-axis, in (-π, π]: atan(a / b) in the right quadrant.

    forward:    out = atan2(a, b)
    derivative: dL/da = dL/dout · b / (a² + b²), dL/db = -dL/dout · a / (a² + b²) (0 at the origin)
    kernels:    none: computed inline with the array module's calls
    """

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        ctx.shapes = a.shape, b.shape
        return array_module(a).arctan2(a, b)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved
        xp = array_module(a)
        squared = a * a + b * b
        # At the origin the angle jumps; PyTorch takes its gradient there as 0, not 0/0.
        inverse = xp.where(squared == 0, 0, 1 / xp.where(squared == 0, 1, squared))
        return _grads(ctx, lambda: grad * b * inverse, lambda: -grad * a * inverse)


class Copysign(Function):
    """|a| with the sign of b (-0.0 counts as negative).

    forward:    out = |a| sign(b)
    derivative: dL/da = dL/dout · out / a (0 where a = 0), dL/db = 0
    kernels:    none: computed inline with the array module's calls
    """

    @staticmethod
    def forward(ctx, a, b):
        out = array_module(a).copysign(a, b)
        ctx.save_for_backward(a, out)
        ctx.shapes = a.shape, b.shape
        return out

    @staticmethod
    def backward(ctx, grad):
        a, out = ctx.saved
        xp = array_module(a)
        flips = xp.where(a == 0, 0, out / xp.where(a == 0, 1, a))  # +1 where the sign stays, -1 where it flips
        return _grads(ctx, lambda: grad * flips, lambda: xp.zeros_like(grad))


def _xlogy(xp, a, b):
    # 0 where a = 0 even when log b is -inf or NaN from b <= 0, but NaN where b is NaN (PyTorch's convention).
    with quiet():
        return xp.where((a == 0) & ~xp.isnan(b), 0, a * xp.log(b))


class Xlogy(Function):
    """a log b, taken as 0 where a = 0 (so 0 log 0 = 0, as in entropies).

    forward:    out = a log b (0 where a = 0, unless b is NaN)
    derivative: dL/da = dL/dout · log b (0 where a = 0 and b ≤ 0), dL/db = dL/dout · a / b (summed over broadcast
                axes)
    kernels:    none: computed inline with the array module's calls
    """

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        ctx.shapes = a.shape, b.shape
        return _xlogy(array_module(a), a, b)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved
        xp = array_module(a)
        with quiet():
            # Along a = 0 the output is 0 whatever b is: where log b is undefined (b ≤ 0) PyTorch takes the slope
            # in a as 0 too; elsewhere it is log b.
            slope_a = xp.where((a == 0) & (b <= 0), 0, xp.log(b))
            return _grads(ctx, lambda: grad * slope_a, lambda: grad * a / b)


class Logaddexp(Function):
    """log(e^a + e^b), without overflow for large a or b.

    forward:    out = log(e^a + e^b)
    derivative: dL/da = dL/dout / (1 + e^(b - a)), dL/db = dL/dout / (1 + e^(a - b)) (summed over broadcast axes)
    kernels:    none: computed inline with the array module's calls
    """

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        ctx.shapes = a.shape, b.shape
        return array_module(a).logaddexp(a, b)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved
        xp = array_module(a)
        with quiet():  # e^(b - a) overflowing to inf gives the right gradient, 0
            return _grads(ctx, lambda: grad / (1 + xp.exp(b - a)), lambda: grad / (1 + xp.exp(a - b)))


class Lerp(Function):
    """Linear interpolation from start to end by weight w.

    forward:    out = start + w (end - start) (computed as end - (1 - w)(end - start) where w ≥ 0.5)
    derivative: dL/dstart = dL/dout · (1 - w), dL/dend = dL/dout · w, dL/dw = dL/dout · (end - start)
    kernels:    none: computed inline with the array module's calls
    """

    @staticmethod
    def forward(ctx, start, end, weight):
        ctx.save_for_backward(start, end, weight)
        xp = array_module(start)
        # PyTorch's two formulas, each exact at its own end (w = 0 gives start, w = 1 gives end).
        return xp.where(weight < 0.5, start + weight * (end - start), end - (end - start) * (1 - weight))

    @staticmethod
    def backward(ctx, grad):
        start, end, weight = ctx.saved
        need_start, need_end, need_weight = ctx.needs_input_grad
        return (
            unbroadcast(grad * (1 - weight), start.shape) if need_start else None,
            unbroadcast(grad * weight, end.shape) if need_end else None,
            unbroadcast(grad * (end - start), weight.shape) if need_weight else None,
        )


def _divisions(op: str, function: type, x, other) -> Tensor:
    a, b = promoted(op, x, other)
    if a.dtype.kind == "b":
        raise DTypeError(f"{op}: not defined for two bool operands (convert one with .int() or .float())")
    if a.dtype.kind in "iu" and bool((b.array == 0).any()):
        raise ArgumentError(f"{op}: integer division by zero (the divisor of dtype {b.dtype} holds a 0)")
    return function.apply(a, b)


def remainder(x, other) -> Tensor:
    """x % other with the divisor's sign, as Python's % (-7 % 3 is 2); either may be a number."""
    return _divisions("remainder", Remainder, x, other)


def fmod(x, other) -> Tensor:
    """The remainder of x / other with the dividend's sign, as C's fmod (fmod(-7, 3) is -1)."""
    return _divisions("fmod", Fmod, x, other)


def floor_divide(x, other) -> Tensor:
    """x // other: x / other rounded down, as Python's // (integers stay integers); gradient 0."""
    return _divisions("floor_divide", FloorDivide, x, other)


def _float_only(op: str, x, other) -> tuple[Tensor, Tensor]:
    a, b = promoted(op, x, other)
    if a.dtype.kind != "f":
        raise DTypeError(f"{op}: needs floating-point tensors, not {a.dtype} (convert with .float())")
    return a, b


def hypot(x, other) -> Tensor:
    """√(x² + other²), elementwise. Floating-point tensors only, as in PyTorch."""
    return Hypot.apply(*_float_only("hypot", x, other))


def logaddexp(x, other) -> Tensor:
    """log(e^x + e^other), computed without overflow. Floating-point tensors only, as in PyTorch."""
    return Logaddexp.apply(*_float_only("logaddexp", x, other))


def atan2(x, other) -> Tensor:
    """The angle of the point (other, x), in (-π, π]: atan(x / other) in the right quadrant."""
    return Atan2.apply(*promoted("atan2", x, other, floating=True))


def copysign(x, other) -> Tensor:
    """|x| with the sign of other (of -0.0 too)."""
    return Copysign.apply(*promoted("copysign", x, other, floating=True))


def xlogy(x, other) -> Tensor:
    """x · log(other), with 0 where x = 0 (0 log 0 = 0)."""
    return Xlogy.apply(*promoted("xlogy", x, other, floating=True))


def float_power(x, exponent) -> Tensor:
    """x ** exponent computed in float64, whatever the inputs' dtypes (the result is float64)."""
    x, exponent = operand(x), operand(exponent)
    if not isinstance(x, Tensor) and not isinstance(exponent, Tensor):
        raise ArgumentTypeError(f"float_power: expected a Tensor, got {type(x).__name__} and {type(exponent).__name__}")
    return pow(*(cast(v, float64) if isinstance(v, Tensor) else float(v) for v in (x, exponent)))


def lerp(x: Tensor, end, weight) -> Tensor:
    """x + weight · (end - x): linear interpolation from x to end; weight a number or a tensor (all broadcast)."""
    if not isinstance(x, Tensor) or x.dtype.kind != "f":
        got = x.dtype if isinstance(x, Tensor) else type(x).__name__
        raise DTypeError(f"lerp: start must be a floating-point tensor, got {got}")
    end = operand(end)
    if isinstance(end, Tensor) and end.dtype != x.dtype:
        raise DTypeError(f"lerp: end has dtype {end.dtype} but start has {x.dtype}; they must match")
    broadcast_shape("lerp", x, end, operand(weight))
    xp = array_module(x.array)

    def as_start(value):  # numbers and 0-d tensors of another float dtype take start's
        return cast(value, x.dtype) if isinstance(value, Tensor) else Tensor(xp.asarray(value, dtype=x.dtype))

    return Lerp.apply(x, as_start(end), as_start(operand(weight)))


def clamp_min(x: Tensor, min) -> Tensor:  # noqa: A002 (PyTorch's argument name)
    """x limited from below by ``min`` (a number or a broadcasting tensor); the gradient flows where x ≥ min."""
    return _clamp("clamp_min", x, min, lambda a, bound: a >= bound)


def clamp_max(x: Tensor, max) -> Tensor:  # noqa: A002 (PyTorch's argument name)
    """x limited from above by ``max`` (a number or a broadcasting tensor); the gradient flows where x ≤ max."""
    return _clamp("clamp_max", x, max, lambda a, bound: a <= bound)


def _clamp(op: str, x: Tensor, bound, keeps) -> Tensor:
    if not isinstance(x, Tensor):
        raise ArgumentTypeError(f"{op}: expected a Tensor, got {type(x).__name__}")
    a, b = promoted(op, x, bound)
    if a.dtype.kind == "b":
        raise DTypeError(f"{op}: not defined for bool tensors with a bool bound")
    if isinstance(bound, (int, float)):  # a number: the bound's own op, whose gradient stops outside it
        limits = (bound, None) if op == "clamp_min" else (None, bound)
        return clip(a, *limits)
    # A tensor bound: x where it is within (or NaN, which clamping keeps), else the bound, which then gets the
    # gradient; ties go to x, as in PyTorch.
    xp = array_module(a.array)
    return where(keeps(a.array, b.array) | xp.isnan(a.array), a, b)


arctan2 = atan2  # NumPy's name too


def addcmul(input: Tensor, tensor1: Tensor, tensor2: Tensor, *, value=1) -> Tensor:  # noqa: A002 (PyTorch's names)
    """input + value * tensor1 * tensor2, broadcast together (Adam's second-moment update, as PyTorch writes it)."""
    return input + value * tensor1 * tensor2


def addcdiv(input: Tensor, tensor1: Tensor, tensor2: Tensor, *, value=1) -> Tensor:  # noqa: A002
    """input + value * tensor1 / tensor2, broadcast together; integer operands are refused, as in PyTorch."""
    if not any(isinstance(t, Tensor) and t.is_floating_point() for t in (tensor1, tensor2)):
        raise DTypeError("addcdiv: integer division of tensor1 by tensor2 is not supported; use floating point")
    return input + value * tensor1 / tensor2


__all__ = [
    "addcdiv", "addcmul", "arctan2", "atan2", "clamp_max", "clamp_min", "copysign", "float_power", "floor_divide",
    "fmod", "hypot", "lerp", "logaddexp", "remainder", "xlogy",
]  # fmt: skip
METHODS: dict = {name: globals()[name] for name in __all__}
NOT_IN_PLACE = ("float_power", "logaddexp")
# PyTorch has no logaddexp_; its float_power_ needs a float64 tensor (writing into float32 would round silently).
METHODS.update({name + "_": inplace(name + "_", globals()[name]) for name in __all__ if name not in NOT_IN_PLACE})
