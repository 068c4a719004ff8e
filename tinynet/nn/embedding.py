"""Embedding: a learned table with one vector per token id."""

from tinynet.errors import ArgumentError
from tinynet.nn import functional as F
from tinynet.nn import init
from tinynet.nn.module import Module, Parameter
from tinynet.tensor import Tensor, zeros


class Embedding(Module):
    """indices (...) -> vectors (..., embedding_dim): row i of ``weight`` for index i.

    weight: (num_embeddings, embedding_dim), N(0, 1) as in PyTorch. The row ``padding_idx`` (if given)
    starts at zero and gets no gradient, so it stays zero: the vector of "no token".
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None) -> None:
        super().__init__()
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ArgumentError(
                    f"Embedding: padding_idx {padding_idx} is out of range for {num_embeddings} embeddings"
                )
            padding_idx %= num_embeddings
        self.num_embeddings, self.embedding_dim, self.padding_idx = num_embeddings, embedding_dim, padding_idx
        self.weight = Parameter(zeros(num_embeddings, embedding_dim))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.normal_(self.weight)
        if self.padding_idx is not None:
            self.weight.array[self.padding_idx] = 0

    def forward(self, indices: Tensor) -> Tensor:
        return F.embedding(indices, self.weight, self.padding_idx)

    def extra_repr(self) -> str:
        padding = "" if self.padding_idx is None else f", padding_idx={self.padding_idx}"
        return f"{self.num_embeddings}, {self.embedding_dim}{padding}"
