"""Embedding: look up one row of a table per integer index (a one-hot matmul, without the one-hot); one_hot."""

import numpy as np

from kernels.numpy_ref import array_module
from tinynet.autograd import Function, RowSum
from tinynet.errors import ArgumentError, DTypeError, ShapeError
from tinynet.tensor import Tensor


class Embedding(Function):
    """A table lookup: one row of weight per integer index.

    forward:    out = weight[indices]
    derivative: dL/dweight[i] = Σ of dL/dout over the positions that looked up i (0 for padding_idx)
    kernels:    embedding_backward when backward takes the table's gradient (autograd.RowSum: the calls of a
                loop scattered at once); the forward is indexing, inline
    """

    @staticmethod
    def forward(ctx, weight, indices, padding_idx):
        ctx.save_for_backward(indices)
        ctx.num_embeddings, ctx.padding_idx = weight.shape[0], padding_idx
        return weight[indices]

    @staticmethod
    def backward(ctx, grad):
        (indices,) = ctx.saved
        return RowSum(grad, indices, ctx.num_embeddings, ctx.padding_idx), None, None


def embedding(input: Tensor, weight: Tensor, padding_idx: int | None = None) -> Tensor:  # noqa: A002
    """weight[input]: the row of the table for each index.

    input: integer indices of any shape (...), each in [0, num_embeddings); weight: (num_embeddings, D)
    -> (..., D). Repeated indices each add their gradient to the row. The row ``padding_idx`` (if given)
    gets no gradient, as in PyTorch.
    """
    if not isinstance(input, Tensor) or input.dtype.kind not in "iu":
        dtype = input.dtype if isinstance(input, Tensor) else type(input).__name__
        raise DTypeError(f"embedding: input must hold integer indices, got dtype {dtype}; convert with .long()")
    if weight.ndim != 2:
        raise ShapeError(f"embedding: weight must be a table (num_embeddings, D), got shape {weight.shape}")
    num = weight.shape[0]
    if input.numel():
        low, high = int(input.array.min()), int(input.array.max())
        if low < 0 or high >= num:
            raise ArgumentError(
                f"embedding: index {low if low < 0 else high} is out of range for a table of {num} rows "
                f"(indices must be in [0, {num - 1}])"
            )
    if padding_idx is not None:
        if not -num <= padding_idx < num:
            raise ArgumentError(f"embedding: padding_idx {padding_idx} is out of range for {num} embeddings")
        padding_idx %= num
    return Embedding.apply(weight, input.array, padding_idx)


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """An int64 tensor (..., num_classes) with a 1 at each index of ``tensor`` (int64 (...)) and 0 elsewhere.

    ``num_classes=-1`` takes the largest index + 1. Every index must lie in [0, num_classes).
    """
    if not isinstance(tensor, Tensor) or tensor.dtype != np.int64:
        dtype = tensor.dtype if isinstance(tensor, Tensor) else type(tensor).__name__
        raise DTypeError(f"one_hot: expected a tensor of int64 class indices, got dtype {dtype}; convert with .long()")
    indices = tensor.array
    if num_classes == -1:
        if not indices.size:
            raise ArgumentError("one_hot: cannot infer the number of classes from an empty tensor; give num_classes")
        num_classes = int(indices.max()) + 1
    elif num_classes < 0:
        raise ArgumentError(f"one_hot: num_classes must be -1 (inferred) or at least 0, got {num_classes}")
    if indices.size:
        low, high = int(indices.min()), int(indices.max())
        if low < 0:
            raise ArgumentError(f"one_hot: class indices must be non-negative, got {low}")
        if high >= num_classes:
            raise ArgumentError(f"one_hot: class index {high} is out of range for num_classes={num_classes}")
    xp = array_module(indices)
    return Tensor((indices[..., None] == xp.arange(num_classes)).astype(np.int64))
