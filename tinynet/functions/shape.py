"""Ops that move values around without changing them: reshape, permute, broadcast, index, cat, stack.

Their relatives live next door: ``axes`` (movedim, t, unflatten, clone...), ``rearrange`` (repeat, flip, roll,
meshgrid...), ``pieces`` (split, chunk, hstack...), ``matrices`` (diag, tril...) and ``contraction`` (einsum, outer).

Their gradients move the output gradient back to where each value came from.
"""

import math

import numpy as np

from kernels.numpy_ref import array_module
from tinynet import backend
from tinynet.autograd import Function, unbroadcast
from tinynet.dtypes import result_type
from tinynet.errors import ArgumentError, ArgumentTypeError, DimensionError, ShapeError
from tinynet.functions import subscript
from tinynet.functions.aliases import numpy_names
from tinynet.functions.dims import normalize_dims
from tinynet.functions.elementwise import cast
from tinynet.tensor import Tensor


class Reshape(Function):
    """The same values in another shape.

    forward:    out = x with a new shape
    derivative: dL/dx = dL/dout reshaped to x's shape
    kernels:    none: computed inline with the array module's calls
    """

    @staticmethod
    def forward(ctx, x, shape):
        ctx.shape = x.shape
        return x.reshape(shape)

    @staticmethod
    def backward(ctx, grad):
        return grad.reshape(ctx.shape), None


class Permute(Function):
    """The axes reordered.

    forward:    out = x with axes permuted by dims
    derivative: dL/dx = dL/dout permuted by the inverse of dims
    kernels:    none: computed inline with the array module's calls
    """

    @staticmethod
    def forward(ctx, x, dims):
        ctx.dims = dims
        return x.transpose(dims)

    @staticmethod
    def backward(ctx, grad):
        inverse = [0] * len(ctx.dims)
        for i, d in enumerate(ctx.dims):
            inverse[d] = i
        return grad.transpose(inverse), None


class BroadcastTo(Function):
    """x repeated along new and size-1 axes.

    forward:    out = x broadcast to shape
    derivative: dL/dx = dL/dout summed over the broadcast axes
    kernels:    none: computed inline with the array module's calls
    """

    @staticmethod
    def forward(ctx, x, shape):
        ctx.shape = x.shape
        return array_module(x).broadcast_to(x, shape)

    @staticmethod
    def backward(ctx, grad):
        return unbroadcast(grad, ctx.shape), None


class GetItem(Function):
    """Indexing: slices, integers, masks and integer arrays (a NumPy index: see ``getitem`` for PyTorch's).

    forward:    out = x[index]
    derivative: dL/dx = zeros with dL/dout added in at index (a repeated index adds each time)
    kernels:    scatter_add in backward, for integer-array indices; the rest is inline
    """

    @staticmethod
    def forward(ctx, x, index):
        ctx.shape, ctx.index = x.shape, index
        return x[index]

    @staticmethod
    def backward(ctx, grad):
        full = array_module(grad).zeros(ctx.shape, dtype=grad.dtype)
        if _gathers(ctx.index):  # an index may repeat: each copy adds its gradient
            backend.for_arrays(full).scatter_add(full, ctx.index, grad)
        else:
            full[ctx.index] = grad
        return full, None


class SetItem(Function):
    """x with ``x[index] = value`` (PyTorch's layout for index, see ``subscript``), as a new array: what an in-place
    assignment records when autograd is watching (``Tensor.__setitem__``, ``copy_``).

    forward:    out = x, then out[index] = value (broadcast)
    derivative: dL/dx = dL/dout with zeros at index; dL/dvalue = dL/dout[index], summed to value's shape
    kernels:    none: computed inline with the array module's calls
    """

    @staticmethod
    def forward(ctx, x, value, index):
        out = x.copy()
        subscript.assign(out, index, value)
        ctx.index, ctx.value_shape = index, np.shape(value)
        return out

    @staticmethod
    def backward(ctx, grad):
        grad_x = grad.copy()
        subscript.assign(grad_x, ctx.index, 0)
        if not ctx.needs_input_grad[1]:
            return grad_x, None
        basic, advanced = subscript.plan(ctx.index, grad.shape, xp=array_module(grad))
        picked = grad if basic is None else grad[basic]
        picked = picked if advanced is None else picked[advanced]
        extra = len(ctx.value_shape) - picked.ndim  # value may carry leading 1s the target lacks
        picked = picked.reshape((1,) * extra + picked.shape) if extra > 0 else picked
        return grad_x, unbroadcast(picked, ctx.value_shape)


class Cat(Function):
    """Tensors joined along an existing axis.

    forward:    out = [x_1, x_2, ...] along dim
    derivative: dL/dx_k = the slice of dL/dout where x_k went
    kernels:    none: computed inline with the array module's calls
    """

    @staticmethod
    def forward(ctx, *arrays, dim):
        xp = array_module(*arrays)
        joined = [a for a in arrays if not _skipped(a, arrays)]
        ctx.dim = dim
        ctx.sizes = [None if _skipped(a, arrays) else a.shape[dim] for a in arrays]
        return xp.concatenate(joined, axis=dim)

    @staticmethod
    def backward(ctx, grad):
        grads, start = [], 0
        for size in ctx.sizes:
            if size is None:  # a skipped empty tensor
                grads.append(array_module(grad).zeros((0,), dtype=grad.dtype))
                continue
            index = [slice(None)] * grad.ndim
            index[ctx.dim] = slice(start, start + size)
            grads.append(grad[tuple(index)])
            start += size
        return tuple(grads)


class Stack(Function):
    """Tensors stacked along a new axis.

    forward:    out[..., k, ...] = x_k along dim
    derivative: dL/dx_k = dL/dout[..., k, ...]
    kernels:    none: computed inline with the array module's calls
    """

    @staticmethod
    def forward(ctx, *arrays, dim):
        ctx.dim = dim
        return array_module(*arrays).stack(arrays, axis=dim)

    @staticmethod
    def backward(ctx, grad):
        return tuple(array_module(grad).moveaxis(grad, ctx.dim, 0))


def _skipped(array, arrays) -> bool:
    """PyTorch's cat skips 1-d empty tensors among tensors of more dimensions (an old way to start a list)."""
    return array.shape == (0,) and any(a.ndim != 1 for a in arrays)


def _gathers(index) -> bool:
    """Whether ``index`` holds an integer array (which may pick one element several times)."""
    parts = index if isinstance(index, tuple) else (index,)
    return any(hasattr(p, "dtype") and p.dtype.kind in "iu" and p.ndim > 0 for p in parts)


def size_args(op: str, args) -> tuple[int, ...]:
    """Sizes as PyTorch takes them: ``f(2, 3)`` or ``f((2, 3))`` (``args`` is the tuple of arguments)."""
    shape = tuple(args[0]) if len(args) == 1 and isinstance(args[0], (tuple, list)) else tuple(args)
    if not all(isinstance(n, (int, np.integer)) for n in shape):
        raise ArgumentTypeError(f"{op}: sizes must be integers, got {shape}")
    return tuple(int(n) for n in shape)


def axis(op: str, dim, ndim: int) -> int:
    """``dim`` as one axis in [0, ndim); a 0-d tensor takes 0 or -1 (and gets 0), as in PyTorch."""
    if dim is None or isinstance(dim, (tuple, list, bool)):
        raise ArgumentTypeError(f"{op}: dim must be one int, got {dim!r}")
    axes = normalize_dims(op, dim, ndim)
    return 0 if axes is None else axes[0]


def reshape(x: Tensor, *shape) -> Tensor:
    """The same values in a new shape (one size may be -1: inferred). ``reshape(x, 2, 3)`` or ``(2, 3)``."""
    shape = size_args("reshape", shape)
    try:
        return Reshape.apply(x, shape)
    except ValueError:
        raise ShapeError(
            f"reshape: cannot reshape a tensor of shape {x.shape} ({x.numel()} elements) into {shape}"
        ) from None


def view(x: Tensor, *shape) -> Tensor:
    """``x.view(2, 3)``: reshape. ``x.view(tn.int32)``: the same bytes read as another dtype (no gradient)."""
    if len(shape) == 1 and (
        isinstance(shape[0], np.dtype) or (isinstance(shape[0], type) and issubclass(shape[0], np.generic))
    ):
        return Tensor(x.array.view(shape[0]))
    return reshape(x, *shape)


def permute(x: Tensor, *dims) -> Tensor:
    """The axes reordered: output axis i is input axis dims[i]."""
    dims = size_args("permute", dims)
    in_range = all(-x.ndim <= d < x.ndim for d in dims)
    if not in_range or sorted(d % x.ndim for d in dims) != list(range(x.ndim)):
        raise ShapeError(f"permute: {dims} is not an ordering of the {x.ndim} axes of a tensor of shape {x.shape}")
    return Permute.apply(x, tuple(d % x.ndim for d in dims))


def transpose(x: Tensor, dim0: int, dim1: int) -> Tensor:
    """Axes dim0 and dim1 swapped."""
    if x.ndim == 0:  # dims 0 and -1 are allowed, and change nothing
        normalize_dims("transpose", (dim0,), 0), normalize_dims("transpose", (dim1,), 0)
        return Permute.apply(x, ())
    dims = list(range(x.ndim))
    a, b = (normalize_dims("transpose", d, x.ndim)[0] for d in (dim0, dim1))
    dims[a], dims[b] = dims[b], dims[a]
    return Permute.apply(x, tuple(dims))


def flatten(x: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Axes start_dim..end_dim merged into one."""
    if x.ndim == 0:
        return reshape(x, 1)
    start, end = (normalize_dims("flatten", d, x.ndim)[0] for d in (start_dim, end_dim))
    if start > end:
        raise ShapeError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim} for shape {x.shape}")
    return reshape(x, *x.shape[:start], math.prod(x.shape[start : end + 1]), *x.shape[end + 1 :])


@numpy_names
def squeeze(x: Tensor, dim=None) -> Tensor:
    """Axes of size 1 removed (only those in ``dim``, an int or a tuple, when given; others are kept)."""
    axes = range(x.ndim) if dim is None else normalize_dims("squeeze", dim, x.ndim) or ()
    shape = [n for i, n in enumerate(x.shape) if not (i in axes and n == 1)]
    return reshape(x, *shape)


@numpy_names
def unsqueeze(x: Tensor, dim: int) -> Tensor:
    """A new axis of size 1 inserted at ``dim`` (counted in the output, so -1 appends)."""
    if not -x.ndim - 1 <= dim <= x.ndim:
        raise DimensionError(f"unsqueeze: dim {dim} is out of range for a tensor with {x.ndim} dimensions")
    dim = dim % (x.ndim + 1)
    return reshape(x, *x.shape[:dim], 1, *x.shape[dim:])


def broadcast_to(x: Tensor, shape) -> Tensor:
    """x repeated along new leading axes and axes of size 1 to fill ``shape``."""
    shape = tuple(shape)
    try:
        return BroadcastTo.apply(x, shape)
    except ValueError:
        raise ShapeError(f"broadcast_to: a tensor of shape {x.shape} cannot broadcast to {shape}") from None


def expand(x: Tensor, *sizes) -> Tensor:
    """PyTorch's broadcast_to, where -1 keeps a size: ``x.expand(4, -1)``."""
    sizes = size_args("expand", sizes)
    lead = len(sizes) - x.ndim
    shape = tuple(x.shape[i - lead] if n == -1 and i >= lead else n for i, n in enumerate(sizes))
    return broadcast_to(x, shape)


def getitem(x: Tensor, index) -> Tensor:
    """x[index], with PyTorch's rules (see ``subscript``): ints, slices, None, ..., bool masks and integer
    tensors or lists, in any combination."""
    basic, advanced = subscript.plan(index, x.shape, xp=array_module(x.array))  # out of range: IndexingError
    out = x if basic is None else GetItem.apply(x, basic)
    if advanced is not None:
        out = GetItem.apply(out, advanced)
    return GetItem.apply(x, ...) if out is x else out


def set_item(x: Tensor, index, value) -> Tensor:
    """A new tensor: ``x`` with ``x[index] = value`` (differentiable in x and value)."""
    return SetItem.apply(x, value, index=index)


@numpy_names
def cat(tensors, dim: int = 0) -> Tensor:
    """Tensors joined along an existing axis ``dim``; every other size must match. Mixed dtypes are promoted;
    1-d empty tensors are skipped, as in PyTorch."""
    tensors = _tensor_list("cat", tensors)
    joined = [t for t in tensors if not _skipped(t, tensors)]
    first = joined[0]
    if first.ndim == 0:
        raise ShapeError("cat: zero-dimensional tensors cannot be concatenated; use stack")
    axis = normalize_dims("cat", dim, first.ndim)[0]
    for t in joined:
        if t.ndim != first.ndim or t.shape[:axis] + t.shape[axis + 1 :] != first.shape[:axis] + first.shape[axis + 1 :]:
            raise ShapeError(
                f"cat: along dim {dim} all other sizes must match, got shapes {[t.shape for t in tensors]}"
            )
    return Cat.apply(*_promoted(tensors), dim=axis)


@numpy_names
def stack(tensors, dim: int = 0) -> Tensor:
    """Tensors of one shape joined along a new axis ``dim``. Mixed dtypes are promoted."""
    tensors = _tensor_list("stack", tensors)
    shapes = {t.shape for t in tensors}
    if len(shapes) > 1:
        raise ShapeError(f"stack: all tensors must have the same shape, got {[t.shape for t in tensors]}")
    if not -tensors[0].ndim - 1 <= dim <= tensors[0].ndim:
        raise DimensionError(f"stack: dim {dim} is out of range for tensors with {tensors[0].ndim} dimensions")
    return Stack.apply(*_promoted(tensors), dim=dim % (tensors[0].ndim + 1))


def _promoted(tensors: list[Tensor]) -> list[Tensor]:
    if all(t.dtype == tensors[0].dtype for t in tensors):
        return tensors
    dtype = result_type(*tensors)
    return [cast(t, dtype) for t in tensors]


def _tensor_list(op: str, tensors) -> list[Tensor]:
    tensors = list(tensors)
    if not tensors:
        raise ArgumentError(f"{op}: expected a non-empty sequence of tensors")
    if not all(isinstance(t, Tensor) for t in tensors):
        raise ArgumentTypeError(f"{op}: expected tensors, got {[type(t).__name__ for t in tensors]}")
    return tensors


__all__ = [
    "broadcast_to",
    "cat",
    "expand",
    "flatten",
    "permute",
    "reshape",
    "squeeze",
    "stack",
    "transpose",
    "unsqueeze",
    "view",
]
# The functions that are also Tensor methods, by method name (x.NAME(...) is FUNCTION(x, ...)).
METHODS: dict = {
    "reshape": reshape,
    "view": view,
    "permute": permute,
    "transpose": transpose,
    "flatten": flatten,
    "squeeze": squeeze,
    "unsqueeze": unsqueeze,
    "broadcast_to": broadcast_to,
    "expand": expand,
}
