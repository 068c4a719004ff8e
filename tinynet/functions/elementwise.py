"""Elementwise ops and their gradients. Binary ops broadcast as NumPy does.

Python numbers pass straight through to the array library (``x * 2`` keeps x's dtype); arrays and
lists become tensors first. Gradients of broadcast inputs are summed back by ``unbroadcast``.
"""

import numpy as np

from kernels.numpy_ref import array_module
from tinynet.autograd import Function, unbroadcast
from tinynet.dtypes import get_default_dtype
from tinynet.errors import ArgumentError, DTypeError, ShapeError
from tinynet.tensor import Tensor, tensor


def operand(value):
    """A Tensor or a Python number, as binary ops take them; anything else becomes a tensor."""
    if isinstance(value, (Tensor, int, float, bool)):
        return value
    return tensor(value)


def floating(x: Tensor) -> Tensor:
    """``x`` itself if floating-point, else converted to the default float dtype: ops like sin or sigmoid
    take integer and bool tensors and compute in floating point, as in PyTorch."""
    return x if x.dtype.kind == "f" else Tensor(x.data.astype(get_default_dtype()))


def _shape_of(value) -> tuple:
    return np.shape(value.data if isinstance(value, Tensor) else value)


def _promote(op: str, a: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
    # As in PyTorch: a float tensor meeting an integer (or bool) tensor keeps its float dtype, so a
    # mask or label tensor never turns a float32 model into float64. (NumPy would give float64.)
    if a.dtype.kind == "f" and b.dtype.kind != "f":
        return a, Tensor(_exact_cast(op, b.data, a.dtype))
    if b.dtype.kind == "f" and a.dtype.kind != "f":
        return Tensor(_exact_cast(op, a.data, b.dtype)), b
    return a, b


def _exact_cast(op: str, integers, dtype):
    """``integers`` cast to the float ``dtype``, refusing values it would round (above 2^24 in float32)."""
    limit = 2 ** (np.finfo(dtype).nmant + 1)  # every integer up to this is exact in dtype
    if integers.dtype.kind in "iu" and integers.size and int(abs(integers).max()) > limit:
        raise DTypeError(
            f"{op}: an integer tensor with values up to {int(abs(integers).max())} meets a {dtype} tensor, whose "
            f"dtype cannot hold integers above {limit} exactly: they would be rounded silently. Convert one "
            "explicitly (the integers with .double(), or both to float64)"
        )
    return integers.astype(dtype)


def binary(function: type, a, b) -> Tensor:
    """Apply a broadcasting binary Function, naming the op and both shapes if they cannot broadcast."""
    a, b = operand(a), operand(b)
    if isinstance(a, Tensor) and isinstance(b, Tensor) and a.dtype != b.dtype:
        a, b = _promote(function.__name__.lower(), a, b)
    try:
        return function.apply(a, b)
    except ValueError:
        shape_a, shape_b = _shape_of(a), _shape_of(b)
        try:
            np.broadcast_shapes(shape_a, shape_b)
        except ValueError:
            raise ShapeError(
                f"{function.__name__.lower()}: shapes {shape_a} and {shape_b} cannot broadcast "
                "(aligned from the right, each pair of sizes must be equal or one of them 1)"
            ) from None
        raise


class Add(Function):
    """a + b, broadcasting.

    forward:    out = a + b
    derivative: dL/da = dL/dout, dL/db = dL/dout, each summed over the axes it was broadcast along
    kernels:    none: computed inline with the array module's calls
    """

    @staticmethod
    def forward(ctx, a, b):
        ctx.shapes = np.shape(a), np.shape(b)
        return a + b

    @staticmethod
    def backward(ctx, grad):
        need_a, need_b = ctx.needs_input_grad
        shape_a, shape_b = ctx.shapes
        return (unbroadcast(grad, shape_a) if need_a else None, unbroadcast(grad, shape_b) if need_b else None)


class Sub(Function):
    """a - b, broadcasting.

    forward:    out = a - b
    derivative: dL/da = dL/dout, dL/db = -dL/dout (summed over broadcast axes)
    kernels:    none: computed inline with the array module's calls
    """

    @staticmethod
    def forward(ctx, a, b):
        ctx.shapes = np.shape(a), np.shape(b)
        return a - b

    @staticmethod
    def backward(ctx, grad):
        need_a, need_b = ctx.needs_input_grad
        shape_a, shape_b = ctx.shapes
        return (unbroadcast(grad, shape_a) if need_a else None, unbroadcast(-grad, shape_b) if need_b else None)


class Mul(Function):
    """a * b, broadcasting.

    forward:    out = a b
    derivative: dL/da = dL/dout · b, dL/db = dL/dout · a (summed over broadcast axes)
    kernels:    none: computed inline with the array module's calls
    """

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved
        need_a, need_b = ctx.needs_input_grad
        return (
            unbroadcast(grad * b, np.shape(a)) if need_a else None,
            unbroadcast(grad * a, np.shape(b)) if need_b else None,
        )


class Div(Function):
    """a / b, broadcasting.

    forward:    out = a / b
    derivative: dL/da = dL/dout / b, dL/db = -dL/dout · a / b² (summed over broadcast axes)
    kernels:    none: computed inline with the array module's calls
    """

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a / b

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved
        need_a, need_b = ctx.needs_input_grad
        return (
            unbroadcast(grad / b, np.shape(a)) if need_a else None,
            unbroadcast(-grad * a / (b * b), np.shape(b)) if need_b else None,
        )


class Pow(Function):
    """a ** b, broadcasting.

    forward:    out = a^b
    derivative: dL/da = dL/dout · b a^(b-1), dL/db = dL/dout · a^b log a (summed over broadcast axes)
    kernels:    none: computed inline with the array module's calls
    """

    @staticmethod
    def forward(ctx, a, b):
        out = a**b
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        a, b, out = ctx.saved
        need_a, need_b = ctx.needs_input_grad
        # d(a^b)/da = b a^(b-1); d(a^b)/db = a^b log a (asked for only when b is a tensor).
        return (
            unbroadcast(grad * b * a ** (b - 1), np.shape(a)) if need_a else None,
            unbroadcast(grad * out * array_module(a).log(a), np.shape(b)) if need_b else None,
        )


class Maximum(Function):
    """The elementwise larger of a and b.

    forward:    out = max(a, b)
    derivative: dL/da = dL/dout where a > b, half of it where a = b, else 0; dL/db the rest
    kernels:    none: computed inline with the array module's calls
    """

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return array_module(a, b).maximum(a, b)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved
        # The larger input takes the gradient; a tie splits it in half, as in PyTorch.
        share_a = ((a > b) + 0.5 * (a == b)).astype(grad.dtype)
        need_a, need_b = ctx.needs_input_grad
        return (
            unbroadcast(grad * share_a, np.shape(a)) if need_a else None,
            unbroadcast(grad * (1 - share_a), np.shape(b)) if need_b else None,
        )


class Minimum(Function):
    """The elementwise smaller of a and b.

    forward:    out = min(a, b)
    derivative: dL/da = dL/dout where a < b, half of it where a = b, else 0; dL/db the rest
    kernels:    none: computed inline with the array module's calls
    """

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return array_module(a, b).minimum(a, b)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved
        share_a = ((a < b) + 0.5 * (a == b)).astype(grad.dtype)
        need_a, need_b = ctx.needs_input_grad
        return (
            unbroadcast(grad * share_a, np.shape(a)) if need_a else None,
            unbroadcast(grad * (1 - share_a), np.shape(b)) if need_b else None,
        )


class Where(Function):
    """a where a condition holds, else b.

    forward:    out = a where condition, else b
    derivative: dL/da = dL/dout where condition, else 0; dL/db = dL/dout where not (the condition gets none)
    kernels:    none: computed inline with the array module's calls
    """

    @staticmethod
    def forward(ctx, condition, a, b):
        ctx.condition = condition
        ctx.shapes = np.shape(a), np.shape(b)
        return array_module(condition).where(condition, a, b)

    @staticmethod
    def backward(ctx, grad):
        xp = array_module(grad)
        _, need_a, need_b = ctx.needs_input_grad
        shape_a, shape_b = ctx.shapes
        return (
            None,
            unbroadcast(xp.where(ctx.condition, grad, 0), shape_a) if need_a else None,
            unbroadcast(xp.where(ctx.condition, 0, grad), shape_b) if need_b else None,
        )


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


class Cast(Function):
    """x converted to another dtype.

    forward:    out = x as dtype
    derivative: dL/dx = dL/dout converted back to x's dtype
    kernels:    none: computed inline with the array module's calls
    """

    @staticmethod
    def forward(ctx, x, dtype):
        ctx.dtype = x.dtype
        return x.astype(dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        return grad.astype(ctx.dtype), None


def add(a, b) -> Tensor:
    """a + b, broadcasting."""
    return binary(Add, a, b)


def sub(a, b) -> Tensor:
    """a - b, broadcasting."""
    return binary(Sub, a, b)


def mul(a, b) -> Tensor:
    """a * b, broadcasting."""
    return binary(Mul, a, b)


def div(a, b) -> Tensor:
    """a / b, broadcasting."""
    return binary(Div, a, b)


def pow(a, b) -> Tensor:  # noqa: A001 (the operator's name)
    """a ** b, broadcasting; either side may be a tensor."""
    return binary(Pow, a, b)


def maximum(a, b) -> Tensor:
    """The elementwise larger of a and b."""
    return binary(Maximum, a, b)


def minimum(a, b) -> Tensor:
    """The elementwise smaller of a and b."""
    return binary(Minimum, a, b)


def where(condition, a, b) -> Tensor:
    """a where condition holds, else b; all three broadcast together."""
    # A condition given as an array or lists is a constant, made on the active backend as operands are.
    condition = condition.data if isinstance(condition, Tensor) else tensor(condition).data
    a, b = operand(a), operand(b)
    try:
        return Where.apply(condition, a, b)
    except ValueError:
        shapes = [_shape_of(v) for v in (condition, a, b)]
        raise ShapeError(f"where: condition, a and b have shapes {shapes} that cannot broadcast") from None


def neg(x: Tensor) -> Tensor:
    return Neg.apply(x)


def exp(x: Tensor) -> Tensor:
    return Exp.apply(x)


def log(x: Tensor) -> Tensor:
    """The natural logarithm."""
    return Log.apply(x)


def sqrt(x: Tensor) -> Tensor:
    return Sqrt.apply(x)


def abs(x: Tensor) -> Tensor:  # noqa: A001 (PyTorch's name)
    """|x|; its gradient at 0 is 0."""
    return Abs.apply(x)


def clip(x: Tensor, min=None, max=None) -> Tensor:  # noqa: A002 (PyTorch's argument names)
    """x limited to [min, max] (either bound may be None)."""
    if min is None and max is None:
        raise ArgumentError("clip: give at least one of min and max")
    return Clip.apply(x, min, max)


clamp = clip


def cast(x: Tensor, dtype) -> Tensor:
    """x converted to ``dtype``; gradients flow back between floating-point dtypes."""
    dtype = np.dtype(dtype)
    if x.requires_grad and dtype.kind != "f":
        return Tensor(x.data.astype(dtype))  # an integer view of values carries no gradient
    if dtype == x.dtype:
        return x
    return Cast.apply(x, dtype)


_COMPARISONS = {
    "lt": "less",
    "le": "less_equal",
    "gt": "greater",
    "ge": "greater_equal",
    "eq": "equal",
    "ne": "not_equal",
}


def compare(op: str, a: Tensor, b) -> Tensor:
    """A boolean tensor (no gradient) comparing a and b elementwise with ``op`` ("lt", "eq", ...)."""
    b = b.data if isinstance(b, Tensor) else b
    if not isinstance(b, (int, float, bool)) and array_module(b) is np:  # lists, host arrays: constants
        b = array_module(a.data).asarray(b)
    xp = array_module(a.data, b)
    try:
        return Tensor(getattr(xp, _COMPARISONS[op])(a.data, b))
    except ValueError:
        raise ShapeError(
            f"{_COMPARISONS[op]}: shapes {a.shape} and {_shape_of(b)} cannot broadcast "
            "(aligned from the right, each pair of sizes must be equal or one of them 1)"
        ) from None


__all__ = [
    "abs",
    "add",
    "cast",
    "clamp",
    "clip",
    "compare",
    "div",
    "exp",
    "log",
    "maximum",
    "minimum",
    "mul",
    "neg",
    "pow",
    "sqrt",
    "sub",
    "where",
]
# The functions that are also Tensor methods, by method name (x.NAME(...) is FUNCTION(x, ...)).
METHODS: dict = {
    "neg": neg,
    "exp": exp,
    "log": log,
    "sqrt": sqrt,
    "abs": abs,
    "clip": clip,
    "clamp": clamp,
    "maximum": maximum,
    "minimum": minimum,
}
