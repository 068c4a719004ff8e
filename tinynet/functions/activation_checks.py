"""The dtype rules the activations share, and their ``inplace=True`` / ``x.relu_()`` forms.

PyTorch's activations split three ways on integer and bool tensors, and these checks follow it op by op:
most refuse both (elu, gelu, silu, softmax...: "not implemented for 'Long'"), a few keep integers as they
are (relu, hardtanh, threshold), and a few compute in floating point (sigmoid, tanh, softsign).
"""

from tinynet import autograd
from tinynet.errors import DTypeError
from tinynet.functions.elementwise import floating
from tinynet.tensor import Tensor


def floating_only(op: str, x: Tensor) -> None:
    """Refuse integer and bool tensors, as PyTorch does for ops it computes only in floating point."""
    if x.dtype.kind != "f":
        raise DTypeError(
            f"{op}: expected a floating-point tensor, got dtype {x.dtype}; convert it first, e.g. x.float()"
        )


def numbers_only(op: str, x: Tensor) -> None:
    """Refuse bool tensors (True/False have no order to clip or threshold); integers stay integers."""
    if x.dtype.kind == "b":
        raise DTypeError(f"{op}: bool inputs are not supported; convert them first, e.g. x.float() or x.long()")


def promoted(op: str, x: Tensor) -> Tensor:
    """Integers in the default float dtype (PyTorch computes these ops in floating point); bool refused."""
    numbers_only(op, x)
    return floating(x)


def inplace_result(op: str, x: Tensor, result: Tensor, inplace: bool) -> Tensor:
    """``result``, also written into ``x`` when ``inplace`` and autograd does not track ``x``.

    When autograd tracks ``x`` the new tensor is returned and ``x`` is left as it was: the graph stays right
    (``h = F.relu(h, inplace=True)``, the way models use it, gives PyTorch's values and gradients).
    """
    if not inplace or (x.requires_grad and autograd.is_grad_enabled()):
        return result
    return in_place(op, x, result)


def in_place(op: str, x: Tensor, result: Tensor) -> Tensor:
    """Overwrite ``x`` with ``result``, computed without ``x``'s graph, where ``x``'s dtype can hold it."""
    return x._inplace(op, _same_dtype(op, x, result))


def _same_dtype(op: str, x: Tensor, result: Tensor) -> Tensor:
    if result.dtype != x.dtype:
        raise DTypeError(f"{op}: the result has dtype {result.dtype}, which cannot be written into a {x.dtype} tensor")
    return result


def in_place_form(op: str, function):
    """The in-place form of ``function`` (``relu_`` of ``relu``): the same arguments, the result written into x."""

    def method(x: Tensor, *args, **kwargs) -> Tensor:
        return x._update(op, lambda before: _same_dtype(op, before, function(before, *args, **kwargs)))

    method.__name__ = method.__qualname__ = op
    method.__doc__ = f"In-place {function.__name__}: x is overwritten with {function.__name__}(x, ...) and returned."
    return method
