"""Bitwise ops on integer and bool tensors (& | ^ ~ << >>) and logical ops on tensors of any dtype. None has a
gradient: their results are integers or bools.

Either operand may be a Python number, and the two broadcast; the result's dtype is PyTorch's
(``tinynet.dtypes.result_type``): an int32 tensor & 0x0F stays int32, a bool tensor & 1 is int64.
"""

from kernels.numpy_ref import array_module
from tinynet.errors import ArgumentTypeError, DTypeError
from tinynet.functions.pointwise import inplace
from tinynet.functions.pointwise_binary import promoted
from tinynet.tensor import Tensor


def _integers(op: str, x, other) -> tuple:
    """The arrays of ``x`` and ``other`` in their common integer (or bool) dtype; a DTypeError for floats."""
    a, b = promoted(op, x, other)
    if a.dtype.kind not in "biu":
        raise DTypeError(f"{op}: needs integer or bool tensors, not {a.dtype} (bitwise ops have no float form)")
    return a.array, b.array


def bitwise_and(x, other) -> Tensor:
    """x & other, bit by bit (logical and for bools)."""
    a, b = _integers("bitwise_and", x, other)
    return Tensor(a & b)


def bitwise_or(x, other) -> Tensor:
    """x | other, bit by bit (logical or for bools)."""
    a, b = _integers("bitwise_or", x, other)
    return Tensor(a | b)


def bitwise_xor(x, other) -> Tensor:
    """x ^ other, bit by bit (logical xor for bools)."""
    a, b = _integers("bitwise_xor", x, other)
    return Tensor(a ^ b)


def bitwise_not(x: Tensor) -> Tensor:
    """~x: every bit flipped (for signed integers, -x - 1; for bools, not x)."""
    if not isinstance(x, Tensor):
        raise ArgumentTypeError(f"bitwise_not: expected a Tensor, got {type(x).__name__}")
    if x.dtype.kind not in "biu":
        raise DTypeError(f"bitwise_not: needs an integer or bool tensor, not {x.dtype}")
    return Tensor(~x.array)


def _shift(op: str, x, other, left: bool) -> Tensor:
    a, b = _integers(op, x, other)
    if a.dtype.kind == "b":
        raise DTypeError(f"{op}: not defined for two bool operands (convert one with .int())")
    xp = array_module(a)
    bits = a.dtype.itemsize * 8
    # C leaves shifts by a negative count or by the width or more undefined (x86 takes the count mod the width);
    # PyTorch defines them: every bit is shifted out, leaving 0, or copies of the sign bit for a right shift.
    outside = (b < 0) | (b >= bits)
    count = xp.where(outside, 0, b).astype(a.dtype, copy=False)
    if left:
        out = xp.where(outside, 0, a << count)
    else:
        spilled = a >> (bits - 1) if a.dtype.kind == "i" else xp.zeros_like(a)
        out = xp.where(outside, spilled, a >> count)
    return Tensor(out.astype(a.dtype, copy=False))


def bitwise_left_shift(x, other) -> Tensor:
    """x << other: x's bits moved left by ``other`` places (x · 2^other, wrapping around the dtype's width)."""
    return _shift("bitwise_left_shift", x, other, left=True)


def bitwise_right_shift(x, other) -> Tensor:
    """x >> other: x's bits moved right by ``other`` places (x // 2^other for signed integers)."""
    return _shift("bitwise_right_shift", x, other, left=False)


def _truth(op: str, x, other) -> tuple:
    a, b = promoted(op, x, other)
    return a.array != 0, b.array != 0  # NaN is true: it is not zero


def logical_and(x, other) -> Tensor:
    """A bool tensor: where both x and other are nonzero (any dtypes)."""
    a, b = _truth("logical_and", x, other)
    return Tensor(a & b)


def logical_or(x, other) -> Tensor:
    """A bool tensor: where x or other (or both) is nonzero."""
    a, b = _truth("logical_or", x, other)
    return Tensor(a | b)


def logical_xor(x, other) -> Tensor:
    """A bool tensor: where exactly one of x and other is nonzero."""
    a, b = _truth("logical_xor", x, other)
    return Tensor(a ^ b)


def logical_not(x: Tensor) -> Tensor:
    """A bool tensor: where x is zero."""
    if not isinstance(x, Tensor):
        raise ArgumentTypeError(f"logical_not: expected a Tensor, got {type(x).__name__}")
    return Tensor(x.array == 0)


__all__ = [
    "bitwise_and", "bitwise_left_shift", "bitwise_not", "bitwise_or", "bitwise_right_shift", "bitwise_xor",
    "logical_and", "logical_not", "logical_or", "logical_xor",
]  # fmt: skip
METHODS: dict = {name: globals()[name] for name in __all__}
METHODS.update({name + "_": inplace(name + "_", globals()[name]) for name in __all__})
