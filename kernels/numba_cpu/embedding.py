"""Scatter-add and the embedding gradient: adding rows of values into the rows of a table that an index picks."""

import math

import numpy as np

from kernels import numpy_ref
from kernels.numba_cpu.common import contiguous, flat, numba, range_kernel, run_range, same_floats, warms_up


@range_kernel()
def _add_rows_at(start, stop, table, index, values, blocks):
    # table[index[i]] += values[i] for every i in order. Threads split the table's rows into blocks, each adding the
    # values whose index falls in its block: no two threads add into one element (nor into one cache line), and
    # each element adds its values in the reference's order. Indexed in full, not by row views (see
    # softmax._softmax_rows). Split by columns instead, (64, 35) tokens of 64 values took 1.5x as long on 2 threads
    # as on one (both threads wrote every row: the cache lines went back and forth).
    rows, columns = table.shape
    for b in range(start, stop):
        first, last = b * rows // blocks, (b + 1) * rows // blocks
        for i in range(index.size):
            row = index[i]
            if first <= row < last:
                for j in range(columns):
                    table[row, j] += values[i, j]


def _row_blocks(rows: int) -> int:
    return min(rows, numba.get_num_threads())


# Work units (see common.SPLIT_WORK) per value added: an add that vectorizes, so threads pay from ~400,000 values on
# (the AMD EPYC, 2026-12-07, 1 against 2 threads: 143,360 values 41 / 60 us, 2.1 M 341 / 292, 16.8 M 1.9 / 1.6 ms).
def _work(values) -> int:
    return values.size // 8


def _rows_index(index, rows: int) -> bool:
    """Whether ``index`` is an integer array whose entries all pick one of ``rows`` rows (no negatives)."""
    return (
        isinstance(index, np.ndarray)
        and index.dtype.kind in "iu"
        and (index.size == 0 or (index.min() >= 0 and index.max() < rows))
    )


def scatter_add(target, index, values):
    """target[index] += values, in place, where repeated indices each add (unlike ``+=``).

    target: any shape; index: anything that indexes it; values: the shape of target[index] (or broadcast
    to it). Compiled for the common case, an integer array picking rows of a C-contiguous target (any
    shape of index, entries in [0, len(target))), alone or as a tuple of one (``x[idx]``'s index as subscript.plan
    gives it: makemore's ``C[X]`` went to np.add.at, 50 us of its 710 us step); every other index (slices, longer
    tuples, booleans, negative entries) and dtype goes to the reference's np.add.at.
    """
    if type(index) is tuple and len(index) == 1:
        index = index[0]
    if not (
        same_floats(target, values)
        and target.ndim >= 1
        and target.flags.c_contiguous
        and target.flags.writeable
        and _rows_index(index, target.shape[0])
    ):
        return numpy_ref.scatter_add(target, index, values)
    row_size = math.prod(target.shape[1:])
    values = contiguous(np.broadcast_to(values, index.shape + target.shape[1:]))
    blocks = _row_blocks(target.shape[0])
    run_range(
        _add_rows_at, _work(values), blocks, target.reshape(target.shape[0], row_size), flat(index, np.intp),
        values.reshape(index.size, row_size), blocks,
    )  # fmt: skip


def embedding_backward(grad, indices, num_embeddings):
    """Gradient of the embedding table for out = weight[indices].

    grad: (..., D), indices: (...) integers in [0, num_embeddings) -> (num_embeddings, D), row i summing
    the gradients of every position that looked up i. Threads split the table's rows (see `_add_rows_at`).
    """
    usable = same_floats(grad) and grad.ndim >= 1 and _rows_index(indices, num_embeddings)
    if not (usable and indices.shape == grad.shape[:-1]):
        return numpy_ref.embedding_backward(grad, indices, num_embeddings)
    dim = grad.shape[-1]
    table = np.zeros((num_embeddings, dim), grad.dtype)
    values = contiguous(grad).reshape(indices.size, dim)
    blocks = _row_blocks(num_embeddings)
    run_range(_add_rows_at, _work(values), blocks, table, flat(indices, np.intp), values, blocks)
    return table


@warms_up
def warm_up(dtype: np.dtype) -> None:
    """Compile this family's kernel for dtype (see common.warms_up)."""
    x = np.linspace(-3, 3, 12).astype(dtype).reshape(3, 4)
    labels = np.array([0, 3, 1])
    embedding_backward(x, labels, 4)
    scatter_add(np.zeros((4, 4), dtype), labels, x)
