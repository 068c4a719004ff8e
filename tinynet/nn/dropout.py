"""Dropout as a module: active in training mode, the identity after ``model.eval()``."""

from tinynet.errors import ArgumentError
from tinynet.nn import functional as F
from tinynet.nn.module import Module
from tinynet.tensor import Tensor


class Dropout(Module):
    """Zero each value with probability p in training, scaling the rest by 1 / (1 - p). x: any shape."""

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        if not 0 <= p <= 1:
            raise ArgumentError(f"Dropout: p is the probability of zeroing a value and must be in [0, 1], got {p}")
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        return F.dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"
