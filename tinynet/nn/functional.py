"""The functional interface, as ``torch.nn.functional``: ``import tinynet.nn.functional as F``."""

from tinynet.errors import ShapeError
from tinynet.functions.activations import elu, gelu, leaky_relu, log_softmax, relu, sigmoid, softmax, softplus, tanh
from tinynet.functions.linalg import matmul
from tinynet.functions.losses import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    mse_loss,
    nll_loss,
)
from tinynet.functions.shape import permute
from tinynet.tensor import Tensor


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:  # noqa: A002
    """y = x W^T + b. input: (..., in), weight: (out, in), bias: (out,) -> (..., out)."""
    if input.ndim == 0 or input.shape[-1] != weight.shape[1]:
        raise ShapeError(
            f"linear: input of shape {input.shape} does not fit weight {weight.shape}: "
            f"expected input (..., {weight.shape[1]})"
        )
    out = matmul(input, permute(weight, 1, 0))
    return out if bias is None else out + bias


__all__ = [
    "binary_cross_entropy", "binary_cross_entropy_with_logits", "cross_entropy", "elu", "gelu",
    "leaky_relu", "linear", "log_softmax", "mse_loss", "nll_loss", "relu", "sigmoid", "softmax",
    "softplus", "tanh",
]  # fmt: skip
