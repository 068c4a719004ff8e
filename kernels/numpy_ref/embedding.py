"""Adding rows at indices: the backward of indexing (``scatter_add``) and of an embedding lookup."""

import numpy as np

from kernels.numpy_ref.common import array_module


def scatter_add(target, index, values):
    """target[index] += values, in place, where repeated indices each add (unlike ``+=``).

    target: any shape; index: anything that indexes it (integer arrays, slices);
    values: the shape of target[index].
    """
    if array_module(target) is np:
        np.add.at(target, index, values)
    else:
        import cupyx

        cupyx.scatter_add(target, index, values)


def embedding_backward(grad, indices, num_embeddings):
    """Gradient of the embedding table for out = weight[indices].

    grad: (..., D), indices: (...) integers in [0, num_embeddings) -> (num_embeddings, D), where row i
    sums the gradients of every position that looked up i (a repeated index adds up, never overwrites).
    """
    xp = array_module(grad)
    dim = grad.shape[-1]
    table = xp.zeros((num_embeddings, dim), dtype=grad.dtype)
    scatter_add(table, indices.reshape(-1), grad.reshape(indices.size, dim))
    return table
