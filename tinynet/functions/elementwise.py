"""Elementwise ops and their gradients. Binary ops broadcast as NumPy does.

Python numbers pass straight through to the array library (``x * 2`` keeps x's dtype); arrays and
lists become tensors first. Gradients of broadcast inputs are summed back by ``unbroadcast``.
"""

import numpy as np

from kernels.numpy_ref import array_module
from tinynet import backend
from tinynet.amp_policy import autocast_op
from tinynet.autograd import Function, unbroadcast
from tinynet.dtypes import get_default_dtype, result_type
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
    return x if x.dtype.kind == "f" else Tensor(x.array.astype(get_default_dtype()))


def _shape(value) -> tuple:
    """An operand's shape: a tensor's or an array's, or () for a Python number (np.shape(number) costs 0.5 us of
    NumPy's Python for the same answer)."""
    return getattr(value, "shape", ())


def _common_dtype(op: str, a, b, floating: bool):
    """The dtype a binary op computes in: PyTorch's promotion (tinynet.dtypes), and the default float dtype for
    ops that always compute in floating point (true division) when both operands are integers."""
    if isinstance(a, Tensor) and isinstance(b, Tensor) and a.dtype == b.dtype:
        dtype = a.dtype  # the common cases, decided without the general rule: one dtype, or a float tensor and a
    elif isinstance(a, Tensor) and type(b) in (int, float) and a.dtype.kind == "f":  # number (not a bool)
        dtype = a.dtype
    elif isinstance(b, Tensor) and type(a) in (int, float) and b.dtype.kind == "f":
        dtype = b.dtype
    else:
        dtype = result_type(a, b)
    return get_default_dtype() if floating and dtype.kind != "f" else dtype


def _converted(op: str, value, dtype):
    # Python numbers stay numbers: the array library computes them in the tensor's dtype (NumPy >= 2 does).
    if not isinstance(value, Tensor) or value.dtype == dtype:
        return value
    if value.dtype.kind != "f" and dtype.kind == "f":
        return Tensor(_exact_cast(op, value.array, dtype))
    return cast(value, dtype)


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


def _as_they_are(a, b, floating: bool) -> bool:
    """Whether a binary op takes a and b unconverted: two tensors of one dtype (a floating one where ``floating``),
    or a floating tensor and a Python int or float. The commonest cases, told apart before the general rule: that
    took 1.3 of the 7 us of ``b * x`` on a (200,) float32 tensor."""
    if isinstance(a, Tensor):
        kind = a.array.dtype.kind
        if isinstance(b, Tensor):
            return a.array.dtype == b.array.dtype and (kind == "f" or not floating)
        return kind == "f" and type(b) in (int, float)
    return isinstance(b, Tensor) and b.array.dtype.kind == "f" and type(a) in (int, float)


def binary(function: type, a, b, floating: bool = False) -> Tensor:
    """Apply a broadcasting binary Function to a and b converted to their common dtype (PyTorch's promotion;
    ``floating``: integers compute in the default float dtype), naming the op and both shapes if they cannot
    broadcast."""
    if not _as_they_are(a, b, floating):
        a, b = operand(a), operand(b)
        op = function.__name__.lower()
        dtype = _common_dtype(op, a, b, floating)
        a, b = _converted(op, a, dtype), _converted(op, b, dtype)
    try:
        return function.apply(a, b)
    except ValueError:
        shape_a, shape_b = _shape(a), _shape(b)
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
    kernels:    add, for operands of one shape (numba's adds large arrays on its threads)
    """

    @staticmethod
    def forward(ctx, a, b):
        ctx.shapes = shape_a, shape_b = _shape(a), _shape(b)
        # Operands that broadcast go to the array module's + itself, whose errors binary() explains.
        return backend.for_arrays(a, b).add(a, b) if shape_a == shape_b else a + b

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
        ctx.shapes = _shape(a), _shape(b)
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
    kernels:    mul, for operands of one shape (numba's multiplies large arrays on its threads)
    """

    @staticmethod
    def forward(ctx, a, b):
        need_a, need_b = ctx.needs_input_grad
        # Only what backward reads, so that changing the other operand in place (x *= 2) stays possible.
        ctx.save_for_backward(a if need_b else None, b if need_a else None)
        ctx.shapes = _shape(a), _shape(b)
        return _times(a, b)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved
        need_a, need_b = ctx.needs_input_grad
        return (
            unbroadcast(_times(grad, b), ctx.shapes[0]) if need_a else None,
            unbroadcast(_times(grad, a), ctx.shapes[1]) if need_b else None,
        )


def _times(a, b):
    """a * b: by the backend's mul kernel for operands of one shape, else by the array module's * (broadcasting, a
    number), whose errors binary() explains."""
    return backend.for_arrays(a, b).mul(a, b) if _shape(a) == _shape(b) else a * b


class Div(Function):
    """a / b, broadcasting.

    forward:    out = a / b
    derivative: dL/da = dL/dout / b, dL/db = -dL/dout · (a / b) / b (summed over broadcast axes)
    kernels:    none: computed inline with the array module's calls
    """

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a if ctx.needs_input_grad[1] else None, b)  # (a only if needed: see Mul)
        ctx.shape_a = _shape(a)
        return a / b

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved
        need_a, need_b = ctx.needs_input_grad
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):  # inf and NaN, as PyTorch, unwarned
            return (
                unbroadcast(grad / b, ctx.shape_a) if need_a else None,
                # -dL/dout · (a / b) / b, not a / b²: b² underflows to 0 for a tiny b where the quotient does not.
                unbroadcast(-grad * (a / b) / b, _shape(b)) if need_b else None,
            )


class Pow(Function):
    """a ** b, broadcasting.

    forward:    out = a^b
    derivative: dL/da = dL/dout · b a^(b-1) (0 where b = 0), dL/db = dL/dout · a^b log a (0 where a = 0 and b ≥ 0),
                summed over broadcast axes
    kernels:    none: computed inline with the array module's calls
    """

    @staticmethod
    def forward(ctx, a, b):
        with np.errstate(invalid="ignore", divide="ignore"):  # NaN for (-2)^0.5, inf for 0^-1: no warning, as PyTorch
            out = a**b
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        a, b, out = ctx.saved
        need_a, need_b = ctx.needs_input_grad
        xp = array_module(grad)
        with np.errstate(divide="ignore", invalid="ignore"):  # 0^(b-1) and log 0 are masked out below
            # d(a^b)/da = b a^(b-1), taken as 0 where b = 0 (a^0 is constant, even at a = 0, as in PyTorch).
            grad_a = xp.where(b == 0, 0, grad * b * a ** (b - 1)) if need_a else None
            # d(a^b)/db = a^b log a, taken as 0 where a = 0 and b >= 0 (the limit from the right, as in PyTorch).
            grad_b = xp.where((a == 0) & (b >= 0), 0, grad * out * xp.log(a)) if need_b else None
        return (
            unbroadcast(grad_a.astype(grad.dtype, copy=False), _shape(a)) if need_a else None,
            unbroadcast(grad_b.astype(grad.dtype, copy=False), _shape(b)) if need_b else None,
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
            unbroadcast(grad * share_a, _shape(a)) if need_a else None,
            unbroadcast(grad * (1 - share_a), _shape(b)) if need_b else None,
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
            unbroadcast(grad * share_a, _shape(a)) if need_a else None,
            unbroadcast(grad * (1 - share_a), _shape(b)) if need_b else None,
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
        ctx.shapes = _shape(a), _shape(b)
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


def add(input, other, *, alpha=1) -> Tensor:  # noqa: A002 (PyTorch's names)
    """input + alpha · other, broadcasting."""
    return binary(Add, input, other if alpha == 1 else mul(other, alpha))


def sub(input, other, *, alpha=1) -> Tensor:  # noqa: A002
    """input - alpha · other, broadcasting."""
    return binary(Sub, input, other if alpha == 1 else mul(other, alpha))


def rsub(input, other, *, alpha=1) -> Tensor:  # noqa: A002
    """other - alpha · input (PyTorch's reversed subtraction)."""
    return sub(other, input, alpha=alpha)


def mul(input, other) -> Tensor:  # noqa: A002
    """input · other, broadcasting."""
    return binary(Mul, input, other)


def div(input, other, *, rounding_mode: str | None = None) -> Tensor:  # noqa: A002
    """input / other, broadcasting: true division (integers give the default float dtype), or rounded with
    ``rounding_mode="trunc"`` (towards zero) or ``"floor"`` (down; integers stay integers), as in PyTorch."""
    from tinynet.functions import pointwise_binary, rounding  # (they build on this module)

    if rounding_mode is None:
        return binary(Div, input, other, floating=True)
    if rounding_mode == "floor":
        return pointwise_binary.floor_divide(input, other)
    if rounding_mode == "trunc":
        a, b = operand(input), operand(other)
        if _common_dtype("div", a, b, floating=False).kind == "f":
            return rounding.trunc(binary(Div, a, b))
        # Integers: floor division, moved up by one where the exact quotient was negative and not whole.
        floor = pointwise_binary.floor_divide(a, b).array
        a, b = (v.array if isinstance(v, Tensor) else v for v in (a, b))
        return Tensor(floor + ((a % b != 0) & ((a < 0) != (b < 0))).astype(floor.dtype))
    raise ArgumentError(f'div: rounding_mode must be None, "trunc" or "floor", not {rounding_mode!r}')


def true_divide(input, other) -> Tensor:  # noqa: A002
    return div(input, other)


@autocast_op("pow")
def pow(input, exponent) -> Tensor:  # noqa: A001, A002 (the operator's name)
    """input ** exponent, broadcasting; either side may be a tensor."""
    return binary(Pow, input, exponent)


def maximum(a, b) -> Tensor:
    """The elementwise larger of a and b."""
    return binary(Maximum, a, b)


def minimum(a, b) -> Tensor:
    """The elementwise smaller of a and b."""
    return binary(Minimum, a, b)


def where(condition, input=None, other=None) -> Tensor:  # noqa: A002 (PyTorch's names)
    """input where condition holds, else other; all three broadcast together, and input and other may be
    numbers. ``where(condition)`` alone is ``nonzero(condition, as_tuple=True)``, as in PyTorch."""
    from tinynet.functions import indexing  # (it builds on this module)

    if input is None and other is None:
        return indexing.where_indices(condition)
    # A condition given as an array or lists is a constant, made on the active backend as operands are.
    condition = condition.array if isinstance(condition, Tensor) else tensor(condition).array
    if condition.dtype != np.bool_:
        raise DTypeError(f"where: expected a bool condition, got a tensor of {condition.dtype} (compare it: c != 0)")
    a, b = operand(input), operand(other)
    dtype = _common_dtype("where", a, b, floating=False)
    xp = array_module(condition)
    a, b = (_converted("where", v, dtype) if isinstance(v, Tensor) else Tensor(xp.asarray(v, dtype)) for v in (a, b))
    try:
        return Where.apply(condition, a, b)
    except ValueError:
        shapes = [_shape(v) for v in (condition, a, b)]
        raise ShapeError(f"where: condition, a and b have shapes {shapes} that cannot broadcast") from None


def _where_method(input: Tensor, condition, other) -> Tensor:  # noqa: A002
    # x.where(condition, y) is where(condition, x, y).
    return where(condition, input, other)


def cast(x: Tensor, dtype) -> Tensor:
    """x converted to ``dtype``; gradients flow back between floating-point dtypes."""
    dtype = np.dtype(dtype)
    if x.requires_grad and dtype.kind != "f":
        return Tensor(x.array.astype(dtype))  # an integer view of values carries no gradient
    if dtype == x.dtype:
        return x
    return Cast.apply(x, dtype)


__all__ = [
    "add",
    "div",
    "maximum",
    "minimum",
    "mul",
    "pow",
    "rsub",
    "sub",
    "true_divide",
    "where",
    # PyTorch's other names for them
    "divide",
    "multiply",
    "subtract",
]
divide, multiply, subtract = div, mul, sub
# The functions that are also Tensor methods, by method name (x.NAME(...) is FUNCTION(x, ...)).
METHODS: dict = {
    "maximum": maximum,
    "minimum": minimum,
    "add": add,
    "sub": sub,
    "subtract": sub,
    "mul": mul,
    "multiply": mul,
    "div": div,
    "divide": div,
    "true_divide": true_divide,
    "pow": pow,
    "where": _where_method,
}
