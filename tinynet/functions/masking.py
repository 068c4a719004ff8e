"""Ops steered by a boolean mask or by where a tensor is nonzero: masked_fill masked_select masked_scatter,
nonzero argwhere and the one-argument ``where``. (``tinynet.functions.indexing`` exports them, with the ops
steered by integer indices.)

A mask broadcasts with the tensor it steers, as in PyTorch; the out-of-place ops return the broadcast shape.
"""

from numbers import Number

import numpy as np

from kernels.numpy_ref import array_module
from tinynet.autograd import Function, unbroadcast
from tinynet.errors import ArgumentTypeError, DTypeError, ShapeError
from tinynet.tensor import Tensor


class MaskedFill(Function):
    """One value written wherever a mask is true.

    forward:    out = value where mask, else x (x and mask broadcast together; value cast to x's dtype)
    derivative: dL/dx = dL/dout where mask is false (summed back over broadcast axes);
                dL/dvalue = Σ dL/dout where mask is true
    kernels:    none: computed inline with the array module's calls
    """

    @staticmethod
    def forward(ctx, x, mask, value):
        xp = array_module(x)
        ctx.shape, ctx.mask = x.shape, mask
        ctx.value_dtype = getattr(value, "dtype", None)
        return xp.where(mask, xp.asarray(value).astype(x.dtype), x)

    @staticmethod
    def backward(ctx, grad):
        need_x, _, need_value = ctx.needs_input_grad
        xp = array_module(grad)
        grad_x = unbroadcast(xp.where(ctx.mask, 0, grad), ctx.shape) if need_x else None
        grad_value = xp.where(ctx.mask, grad, 0).sum().astype(ctx.value_dtype) if need_value else None
        return grad_x, None, grad_value


class MaskedSelect(Function):
    """The elements where a mask is true, as one flat vector.

    forward:    out = x[mask] (x and mask broadcast together first), in row-major order
    derivative: dL/dx = zeros with dL/dout put back where mask is true (summed back over broadcast axes)
    kernels:    none: computed inline with the array module's calls
    """

    @staticmethod
    def forward(ctx, x, mask):
        xp = array_module(x)
        shape = np.broadcast_shapes(x.shape, mask.shape)
        ctx.shape, ctx.mask = x.shape, xp.broadcast_to(mask, shape)
        return xp.broadcast_to(x, shape)[ctx.mask]

    @staticmethod
    def backward(ctx, grad):
        full = array_module(grad).zeros(ctx.mask.shape, dtype=grad.dtype)
        full[ctx.mask] = grad
        return unbroadcast(full, ctx.shape), None


class MaskedScatter(Function):
    """The first elements of source, in order, written where a mask is true.

    forward:    out = x, then out[mask] = source.flatten()[:count(mask)] (x and mask broadcast together)
    derivative: dL/dx = dL/dout where mask is false (summed back over broadcast axes);
                dL/dsource = dL/dout[mask] for the elements used, 0 for the rest
    kernels:    none: computed inline with the array module's calls
    """

    @staticmethod
    def forward(ctx, x, mask, source):
        xp = array_module(x)
        shape = np.broadcast_shapes(x.shape, mask.shape)
        mask = xp.broadcast_to(mask, shape)
        out = xp.broadcast_to(x, shape).copy()
        ctx.count = int(mask.sum())
        out[mask] = source.reshape(-1)[: ctx.count]
        ctx.shape, ctx.mask, ctx.source_shape = x.shape, mask, source.shape
        return out

    @staticmethod
    def backward(ctx, grad):
        need_x, _, need_source = ctx.needs_input_grad
        xp = array_module(grad)
        grad_x = unbroadcast(xp.where(ctx.mask, 0, grad), ctx.shape) if need_x else None
        grad_source = None
        if need_source:
            grad_source = xp.zeros(int(np.prod(ctx.source_shape)), dtype=grad.dtype)
            grad_source[: ctx.count] = grad[ctx.mask]
            grad_source = grad_source.reshape(ctx.source_shape)
        return grad_x, None, grad_source


def _mask(op: str, x: Tensor, mask) -> tuple[int, ...]:
    """Check that ``mask`` is a boolean tensor broadcasting with x; the broadcast shape."""
    if not isinstance(mask, Tensor):
        raise ArgumentTypeError(f"{op}: mask must be a boolean Tensor, got {type(mask).__name__}")
    if mask.dtype.kind != "b":
        raise DTypeError(f"{op}: mask must have dtype bool, got {mask.dtype}; make one with a comparison or .bool()")
    try:
        return np.broadcast_shapes(x.shape, mask.shape)
    except ValueError:
        raise ShapeError(
            f"{op}: the mask of shape {mask.shape} and the input of shape {x.shape} cannot broadcast "
            "(aligned from the right, each pair of sizes must be equal or one of them 1)"
        ) from None


def fill_where(op: str, x: Tensor, mask, value) -> Tensor:
    """x with ``value`` (a number, or a 0-d tensor whose gradient is kept) where the boolean array mask is true."""
    if isinstance(value, Tensor):
        if value.ndim:
            raise ShapeError(f"{op}: value must be a number or a 0-d tensor, got a tensor of shape {value.shape}")
        return MaskedFill.apply(x, mask, value)
    if not isinstance(value, Number):  # Python's and NumPy's
        raise ArgumentTypeError(f"{op}: value must be a number or a 0-d tensor, got {type(value).__name__}")
    return MaskedFill.apply(x, mask, value)


def masked_fill(input: Tensor, mask: Tensor, value) -> Tensor:  # noqa: A002 (PyTorch's names)
    """``value`` where ``mask`` is true, ``input`` elsewhere: input (...), mask bool broadcasting with it ->
    the broadcast shape, in input's dtype. ``value``: a number or a 0-d tensor (which gets a gradient)."""
    _mask("masked_fill", input, mask)
    return fill_where("masked_fill", input, mask.array, value)


def masked_select(input: Tensor, mask: Tensor) -> Tensor:  # noqa: A002
    """The elements of ``input`` where ``mask`` (bool, broadcasting with input) is true: a 1-D tensor."""
    _mask("masked_select", input, mask)
    return MaskedSelect.apply(input, mask.array)


def masked_scatter(input: Tensor, mask: Tensor, source: Tensor) -> Tensor:  # noqa: A002
    """``input`` with the elements where ``mask`` is true replaced, in row-major order, by the first elements of
    ``source`` (of input's dtype, at least as many elements as the mask has true values)."""
    shape = _mask("masked_scatter", input, mask)
    if not isinstance(source, Tensor):
        raise ArgumentTypeError(f"masked_scatter: source must be a Tensor, got {type(source).__name__}")
    if source.dtype != input.dtype:
        raise DTypeError(f"masked_scatter: source has dtype {source.dtype} but the input has {input.dtype}")
    count = int(array_module(mask.array).broadcast_to(mask.array, shape).sum())
    if source.numel() < count:
        raise ShapeError(
            f"masked_scatter: the mask has {count} true values but source (shape {source.shape}) only "
            f"{source.numel()} elements"
        )
    return MaskedScatter.apply(input, mask.array, source)


def masked_fill_(self: Tensor, mask: Tensor, value) -> Tensor:
    """In place: masked_fill without changing self's shape (the mask must broadcast to it)."""
    return _into(self, "masked_fill_", mask, lambda x: masked_fill(x, mask, value))


def masked_scatter_(self: Tensor, mask: Tensor, source: Tensor) -> Tensor:
    """In place: masked_scatter without changing self's shape (the mask must broadcast to it)."""
    return _into(self, "masked_scatter_", mask, lambda x: masked_scatter(x, mask, source))


def _into(self: Tensor, op: str, mask: Tensor, compute) -> Tensor:
    # compute(self) written into self, as Tensor._update does (and records, when autograd watches).
    try:
        grows = np.broadcast_shapes(tuple(mask.shape), self.shape) != self.shape
    except ValueError:
        grows = False  # the op itself says what does not fit
    if grows:
        raise ShapeError(f"{op}: a mask of shape {mask.shape} does not broadcast to the shape {self.shape}")
    return self._update(op, compute)


def nonzero(input: Tensor, *, as_tuple: bool = False):  # noqa: A002
    """The indices of the nonzero elements: an int64 tensor (count, ndim), one row per element in row-major
    order, or with ``as_tuple`` one 1-D tensor per dimension (a 0-d input counts as 1-D there)."""
    if not isinstance(input, Tensor):
        raise ArgumentTypeError(f"nonzero: input must be a Tensor, got {type(input).__name__}")
    xp = array_module(input.array)
    data = input.array
    if as_tuple:
        return tuple(Tensor(i.astype(np.int64)) for i in xp.nonzero(data.reshape(data.shape or (1,))))
    if data.ndim == 0:  # one row of no coordinates if the value is nonzero
        return Tensor(xp.zeros((int(data != 0), 0), dtype=np.int64))
    return Tensor(xp.stack(xp.nonzero(data), axis=1).astype(np.int64))


def argwhere(input: Tensor) -> Tensor:  # noqa: A002
    """The indices of the nonzero elements, (count, ndim) int64: ``nonzero(input)``."""
    return nonzero(input)


def where_indices(condition: Tensor) -> tuple[Tensor, ...]:
    """``torch.where(condition)`` with one argument: ``nonzero(condition, as_tuple=True)``."""
    return nonzero(condition, as_tuple=True)


__all__ = ["argwhere", "masked_fill", "masked_scatter", "masked_select", "nonzero", "where_indices"]
METHODS: dict = {
    "masked_fill": masked_fill,
    "masked_fill_": masked_fill_,
    "masked_select": masked_select,
    "masked_scatter": masked_scatter,
    "masked_scatter_": masked_scatter_,
    "nonzero": nonzero,
    "argwhere": argwhere,
}
