"""What the gather and scatter ops of ``indexing`` check, and the flat positions they work on.

``flat_targets`` turns an index tensor and the dim it indexes into the position, in the flattened input, that
each of its elements names; the checks raise the errors PyTorch raises, as tinynet's error types, naming the op.
"""

import math

import numpy as np

from kernels.numpy_ref import array_module
from tinynet.errors import ArgumentTypeError, DTypeError, IndexingError, ShapeError
from tinynet.tensor import Tensor

WIDE_INDEX = ("int64", "int32")  # gather, scatter, index_select, index_add take these; the rest only int64


def check_axis(op: str, dim, ndim: int) -> int:
    """``dim`` as a non-negative axis of a tensor with ``ndim`` dimensions (a 0-d tensor takes 0 or -1)."""
    if not isinstance(dim, int) or isinstance(dim, bool):
        raise ArgumentTypeError(f"{op}: dim must be an int, got {dim!r}")
    limit = max(ndim, 1)
    if not -limit <= dim < limit:
        raise IndexingError(
            f"{op}: dim {dim} is out of range for a tensor with {ndim} dimensions "
            f"(expected a dim in [{-limit}, {limit - 1}])"
        )
    return dim % limit


def index_data(op: str, index, dtypes: tuple[str, ...] = WIDE_INDEX, name: str = "index"):
    """The array of an index tensor, checked to hold integers of one of ``dtypes``."""
    if not isinstance(index, Tensor):
        raise ArgumentTypeError(f"{op}: {name} must be a Tensor of integer indices, got {type(index).__name__}")
    if index.dtype.name not in dtypes:
        raise DTypeError(
            f"{op}: {name} must have dtype {' or '.join(dtypes)}, got {index.dtype}; convert it with .long()"
        )
    return index.array


def in_bounds(op: str, index, size: int, dim: int, negative: bool = False):
    """``index`` with every entry checked to lie in [0, size) or, if ``negative``, in [-size, size), the
    negative ones then counted from the end."""
    if index.size:
        low, high, bottom = int(index.min()), int(index.max()), -size if negative else 0
        if low < bottom or high >= size:
            raise IndexingError(
                f"{op}: index {low if low < bottom else high} is out of bounds for dimension {dim} with size {size}"
            )
        if low < 0:
            index = array_module(index).where(index < 0, index + size, index)
    return index


def check_same_dtype(op: str, x: Tensor, src, name: str = "src") -> None:
    if not isinstance(src, Tensor):
        raise ArgumentTypeError(f"{op}: {name} must be a Tensor, got {type(src).__name__}")
    if src.dtype != x.dtype:
        raise DTypeError(
            f"{op}: {name} has dtype {src.dtype} but the input has {x.dtype}; they must match (convert one with .to())"
        )


def check_fits(op: str, index_shape: tuple, shape: tuple, dim: int, src_shape: tuple | None = None) -> None:
    """Check that an index of ``index_shape`` can index a tensor of ``shape`` along ``dim`` (and read ``src``):
    as many dimensions, and no larger apart from dim (no larger than src anywhere)."""
    if len(index_shape) != len(shape) or (src_shape is not None and len(src_shape) != len(shape)):
        srcs = "" if src_shape is None else f" and src {src_shape}"
        raise ShapeError(
            f"{op}: index {index_shape} must have as many dimensions as the input {shape}{srcs} "
            "(a 0-d tensor counts as one dimension of size 1)"
        )
    too_big = any(n > m for d, (n, m) in enumerate(zip(index_shape, shape)) if d != dim)
    if too_big or (src_shape is not None and any(n > m for n, m in zip(index_shape, src_shape))):
        srcs = "" if src_shape is None else f", and no larger than src {src_shape} anywhere"
        raise ShapeError(
            f"{op}: index {index_shape} must be no larger than the input {shape} apart from dimension {dim}{srcs}"
        )


def flat_targets(index, dim: int, shape: tuple):
    """The flat positions, in a C-ordered tensor of ``shape``, that the elements of ``index`` name along ``dim``
    (1-D, in index's row-major order). index: as many dimensions as shape, entries in [0, shape[dim])."""
    xp = array_module(index)
    strides = [math.prod(shape[d + 1 :]) for d in range(len(shape))]
    flat = index.astype(np.int64) * strides[dim]
    for d, n in enumerate(index.shape):
        if d != dim:
            axis = [n if k == d else 1 for k in range(index.ndim)]
            flat = flat + (xp.arange(n, dtype=np.int64) * strides[d]).reshape(axis)
    return flat.reshape(-1)


def along(index, dim: int, shape: tuple):
    """A 1-D index along ``dim`` repeated over every other axis of ``shape`` (index_select and index_add name
    whole slices; as a gather or scatter index each element names one element)."""
    xp = array_module(index)
    axis = [len(index) if d == dim else 1 for d in range(len(shape))]
    return xp.broadcast_to(index.reshape(axis), shape)


def prepare(op: str, x: Tensor, dim, index: Tensor, src: Tensor | None = None):
    """The checks every gather and scatter makes; (flat targets, the index's shape, dim). With ``src``, the
    index may be smaller than src: only src's leading corner of the index's shape is read."""
    data = index_data(op, index)
    shape = x.shape or (1,)
    dim = check_axis(op, dim, x.ndim)
    index_shape = data.shape or (1,)
    if src is not None and index.numel() == 0:  # PyTorch skips every check of an empty scatter
        return data.reshape(0).astype(np.int64), index_shape, dim
    check_fits(op, index_shape, shape, dim, None if src is None else (src.shape or (1,)))
    data = in_bounds(op, data, shape[dim], dim)
    return flat_targets(data.reshape(index_shape), dim, shape), index_shape, dim


def with_size(shape: tuple, dim: int, size: int) -> tuple:
    """``shape`` with ``size`` along ``dim``."""
    return (*shape[:dim], size, *shape[dim + 1 :])


def src_used(index_shape: tuple, src: Tensor) -> tuple:
    """The slices of src that a scatter with an index of ``index_shape`` reads (a 0-d src counts as 1-D)."""
    if not src.ndim:
        return (Ellipsis,)
    # An empty index reads nothing, whatever its shape (PyTorch checks no shapes then).
    return tuple(slice(0, n) for n in index_shape) if math.prod(index_shape) else (slice(0, 0),) * src.ndim


def check_slices(op: str, x: Tensor, dim, index: Tensor, source: Tensor | None, dtypes=WIDE_INDEX):
    """Checks for the index_ ops, which name whole slices along dim by a 1-D index; (index array, dim)."""
    data = index_data(op, index, dtypes)
    if data.ndim > 1:
        raise IndexingError(f"{op}: index must be a vector (1-D) or 0-d, got shape {index.shape}")
    dim = check_axis(op, dim, x.ndim)
    data = data.reshape(-1)
    if source is not None:
        check_same_dtype(op, x, source, "source")
        expected = with_size(x.shape or (1,), dim, data.size)
        if (source.shape if x.ndim else source.shape or (1,)) != expected:  # 0-d counts as (1,) only for 0-d
            raise ShapeError(
                f"{op}: source must have the input's shape {x.shape} with size len(index) = {data.size} along "
                f"dim {dim}, i.e. {expected}; got {source.shape}"
            )
    return data, dim
