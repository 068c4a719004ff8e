"""The functional interface, as ``torch.nn.functional``: ``import tinynet.nn.functional as F``."""

from tinynet.errors import ShapeError
from tinynet.functions.activations import elu, gelu, leaky_relu, log_softmax, relu, sigmoid, softmax, softplus, tanh
from tinynet.functions.attention import scaled_dot_product_attention
from tinynet.functions.conv import conv1d, conv2d, conv_transpose2d
from tinynet.functions.dropout import dropout
from tinynet.functions.embedding import embedding
from tinynet.functions.linalg import Linear
from tinynet.functions.losses import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    mse_loss,
    nll_loss,
)
from tinynet.functions.normalization import batch_norm, layer_norm
from tinynet.functions.pooling import (
    avg_pool1d,
    avg_pool2d,
    interpolate,
    max_pool1d,
    max_pool2d,
    upsample_nearest,
)
from tinynet.tensor import Tensor


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:  # noqa: A002
    """y = x W^T + b. input: (..., in), weight: (out, in), bias: (out,) -> (..., out)."""
    if input.ndim == 0 or input.shape[-1] != weight.shape[1]:
        raise ShapeError(
            f"linear: input of shape {input.shape} does not fit weight {weight.shape}: "
            f"expected input (..., {weight.shape[1]})"
        )
    return Linear.apply(input, weight, bias)


__all__ = [
    "binary_cross_entropy", "binary_cross_entropy_with_logits", "cross_entropy", "elu", "gelu",
    "leaky_relu", "linear", "log_softmax", "mse_loss", "nll_loss", "relu", "sigmoid", "softmax",
    "softplus", "tanh",
    "batch_norm", "dropout", "embedding", "layer_norm", "scaled_dot_product_attention",
    "avg_pool1d", "avg_pool2d", "conv1d", "conv2d", "conv_transpose2d", "interpolate", "max_pool1d",
    "max_pool2d", "upsample_nearest",
]  # fmt: skip
