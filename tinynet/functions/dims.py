"""Reading PyTorch's ``dim`` arguments, shared by the reductions, scans and sorts (and by the shape ops).

``dim`` is None (every axis), an int (a NumPy integer or a one-element integer tensor too), or a tuple or
list of them; negative dims count from the end. A 0-d tensor takes dim 0 or -1, as in PyTorch.
"""

import operator
from collections import namedtuple

from kernels.numpy_ref import array_module
from tinynet.errors import ArgumentTypeError, DimensionError, ShapeError
from tinynet.tensor import Tensor

# What PyTorch's max(dim), sort, topk, cummax... return: a pair with .values and .indices (int64).
ValuesIndices = namedtuple("ValuesIndices", ["values", "indices"])


def _as_int(op: str, d) -> int:
    # A one-element integer tensor works as a dim in PyTorch; NumPy integers pass operator.index as they are.
    value = d.item() if isinstance(d, Tensor) and d.numel() == 1 and d.dtype.kind in "iu" else d
    try:
        return operator.index(value)
    except TypeError:
        raise ArgumentTypeError(f"{op}: dim must be an int or a tuple of ints, got {d!r}") from None


def normalize_dims(op: str, dim, ndim: int) -> tuple[int, ...] | None:
    """``dim`` as a sorted tuple of non-negative axes (None for all, and for a 0-d tensor), checked against
    ``ndim``."""
    if dim is None:
        return None
    dims = tuple(_as_int(op, d) for d in dim) if isinstance(dim, (tuple, list)) else (_as_int(op, dim),)
    limit = ndim or 1  # a 0-d tensor accepts dim 0 or -1, as in PyTorch
    for d in dims:
        if not -limit <= d < limit:
            raise DimensionError(
                f"{op}: dim {d} is out of range for a tensor with {ndim} dimensions "
                f"(expected a dim in [{-limit}, {limit - 1}])"
            )
    axes = sorted(d % limit for d in dims)
    if len(set(axes)) != len(axes):
        raise ShapeError(f"{op}: dims {dims} name the same axis twice (for a tensor with {ndim} dimensions)")
    return tuple(axes) if ndim else None


def reduction_axes(op: str, dim, ndim: int) -> tuple[int, ...] | None:
    """The axes a reduction such as sum reduces: ``dim`` normalized, where an empty tuple means every axis
    (as PyTorch's sum, mean, amax and var read ``dim=()``)."""
    axes = normalize_dims(op, dim, ndim)
    return axes or None


def single_dim(op: str, dim, ndim: int) -> int | None:
    """``dim`` as one non-negative axis (None for a 0-d tensor); ops that return indices take one dim."""
    if isinstance(dim, (tuple, list, float)) or dim is None:
        raise ArgumentTypeError(f"{op}: dim must be a single int, got {dim!r}")
    axes = normalize_dims(op, dim, ndim)
    return None if axes is None else axes[0]


def reduced_count(shape: tuple, axes: tuple | None) -> int:
    """How many elements each output element of a reduction over ``axes`` combines."""
    n = 1
    for a in range(len(shape)) if axes is None else axes:
        n *= shape[a]
    return n


def check_not_empty(op: str, shape: tuple, axes: tuple | None) -> None:
    """Refuse a max-like reduction over an empty axis: it has no element to pick (a sum would give 0)."""
    if axes is None and 0 in shape:
        raise ShapeError(
            f"{op}: the tensor of shape {shape} is empty; it has no extreme element (pass a dim to reduce "
            "only along a non-empty axis)"
        )
    for a in axes or ():
        if shape[a] == 0:
            raise DimensionError(f"{op}: dim {a} of the tensor of shape {shape} is empty; it has no element to pick")


def expand_back(grad, shape: tuple, axes: tuple | None, keepdim: bool):
    """Broadcast a reduction's output gradient back to the input's ``shape``."""
    xp = array_module(grad)
    if not keepdim:
        grad = xp.reshape(grad, [1] * len(shape)) if axes is None else xp.expand_dims(grad, axes)
    return xp.broadcast_to(grad, shape)


def keep_shape(shape: tuple, axes: tuple | None) -> tuple:
    """The shape of a reduction over ``axes`` with keepdim=True."""
    return tuple(1 if axes is None or i in axes else n for i, n in enumerate(shape))


def drop_axes(array, axes: tuple | None, keepdim: bool):
    """A reduction's result computed with keepdims=True, its reduced axes dropped unless ``keepdim``."""
    if keepdim:
        return array
    return array.reshape(()) if axes is None else array.reshape([n for i, n in enumerate(array.shape) if i not in axes])
