"""Elementwise comparisons: the operators < <= > >= == != (``compare``), their function and method forms
(``eq``, ``x.gt(y)``, ...) and the closeness tests. Their results are bool tensors, with no gradient."""

import numpy as np

from kernels.numpy_ref import array_module
from tinynet.autograd import Function
from tinynet.errors import ShapeError
from tinynet.functions.elementwise import _shape, operand
from tinynet.tensor import Tensor

_COMPARISONS = {
    "lt": "less",
    "le": "less_equal",
    "gt": "greater",
    "ge": "greater_equal",
    "eq": "equal",
    "ne": "not_equal",
}


class Compare(Function):
    """An elementwise comparison: a bool tensor, which has no gradient (a recorded op all the same, so that a
    traced program - an ONNX export - sees it).

    forward:    out = a < b (or <=, >, >=, ==, !=: ``op``)
    derivative: none: the output is marked non-differentiable
    kernels:    none: computed inline with the array module's calls
    """

    @staticmethod
    def forward(ctx, a, b, op):
        ctx.output_differentiable = False
        return getattr(array_module(a, b), _COMPARISONS[op])(a, b)

    @staticmethod
    def backward(ctx, grad):
        return None, None, None


def compare(op: str, a: Tensor, b) -> Tensor:
    """A boolean tensor (no gradient) comparing a and b elementwise with ``op`` ("lt", "eq", ...)."""
    if not isinstance(b, (int, float, bool, Tensor)) and array_module(b) is np:  # lists, host arrays: constants
        b = Tensor(array_module(a.array).asarray(b))
    try:
        return Compare.apply(a, b, op)
    except ValueError:
        raise ShapeError(
            f"{_COMPARISONS[op]}: shapes {a.shape} and {_shape(b)} cannot broadcast "
            "(aligned from the right, each pair of sizes must be equal or one of them 1)"
        ) from None


_REFLECTED = {"lt": "gt", "le": "ge", "gt": "lt", "ge": "le", "eq": "eq", "ne": "ne"}


def _comparison(op: str):
    def compare_function(input, other) -> Tensor:  # noqa: A002 (PyTorch's names)
        if not isinstance(input, Tensor) and isinstance(other, Tensor):  # tn.gt(2, x) is x < 2
            return compare(_REFLECTED[op], other, input)
        return compare(op, operand(input) if not isinstance(input, Tensor) else input, other)

    compare_function.__name__ = compare_function.__qualname__ = op
    compare_function.__doc__ = f"input {op} other, elementwise: a bool tensor (no gradient), as ``torch.{op}``."
    return compare_function


eq, ne, lt, le, gt, ge = (_comparison(op) for op in ("eq", "ne", "lt", "le", "gt", "ge"))
greater, greater_equal, less, less_equal, not_equal = gt, ge, lt, le, ne


def isclose(input: Tensor, other, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> Tensor:  # noqa: A002
    """|input - other| <= atol + rtol |other|, elementwise (a bool tensor), as ``torch.isclose``."""
    other = operand(other)
    b = other.array if isinstance(other, Tensor) else other
    return Tensor(array_module(input.array).isclose(input.array, b, rtol=rtol, atol=atol, equal_nan=equal_nan))


def allclose(input: Tensor, other, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> bool:  # noqa: A002
    """Whether every element is close (see ``isclose``): a Python bool."""
    return bool(isclose(input, other, rtol, atol, equal_nan).array.all())


def equal(input: Tensor, other: Tensor) -> bool:  # noqa: A002
    """Whether both have the same shape and the same values: a Python bool."""
    return input.shape == other.shape and bool((input.array == other.array).all())


__all__ = [
    "eq",
    "ne",
    "lt",
    "le",
    "gt",
    "ge",
    "isclose",
    "allclose",
    "equal",
    "greater",
    "greater_equal",
    "less",
    "less_equal",
    "not_equal",
]
METHODS: dict = {
    "eq": eq,
    "ne": ne,
    "lt": lt,
    "le": le,
    "gt": gt,
    "ge": ge,
    "isclose": isclose,
    "allclose": allclose,
    "equal": equal,
    "greater": greater,
    "greater_equal": greater_equal,
    "less": less,
    "less_equal": less_equal,
    "not_equal": not_equal,
}
