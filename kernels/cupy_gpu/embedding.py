"""The gradient of an embedding lookup (embedding.cu): one thread per element of the gradient.

``scatter_add`` (the backward of indexing) has no kernel here: it falls back to the reference, on CuPy.
"""

from kernels import numpy_ref
from kernels.cupy_gpu.common import THREADS, blocks, contiguous, cupy, fits, launch


def embedding_backward(grad, indices, num_embeddings):
    """Gradient of the embedding table for out = weight[indices].

    grad: (..., D), indices: (...) -> (num_embeddings, D); one thread per element of grad, adding it into
    its row atomically (repeated indices add up).
    """
    if not fits(grad):
        return numpy_ref.embedding_backward(grad, indices, num_embeddings)
    dim = grad.shape[-1]
    grad = contiguous(grad).reshape(-1, dim)
    indices = contiguous(indices).astype(cupy.int64, copy=False).reshape(-1)
    table = cupy.zeros((num_embeddings, dim), dtype=grad.dtype)
    launch(
        "embedding", "embedding_backward", grad.dtype, (blocks(grad.size),), (THREADS,),
        grad, indices, table, len(indices), dim,
    )  # fmt: skip
    return table
