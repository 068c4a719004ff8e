"""The functional interface, as ``torch.nn.functional``: ``import tinynet.nn.functional as F``."""

from tinynet.amp_policy import autocast_op
from tinynet.errors import ShapeError
from tinynet.functions.activations import (
    celu,
    celu_,
    elu,
    elu_,
    gelu,
    hardtanh_,
    leaky_relu,
    leaky_relu_,
    log_softmax,
    relu,
    relu_,
    rrelu,
    rrelu_,
    selu,
    selu_,
    sigmoid,
    softmax,
    softmin,
    softplus,
    tanh,
    tanhshrink,
    threshold_,
)
from tinynet.functions.activations_piecewise import (
    hardshrink,
    hardsigmoid,
    hardswish,
    hardtanh,
    prelu,
    relu6,
    softshrink,
    threshold,
)
from tinynet.functions.activations_smooth import glu, logsigmoid, mish, silu, softsign
from tinynet.functions.adaptive_pooling import (
    adaptive_avg_pool1d,
    adaptive_avg_pool2d,
    adaptive_avg_pool3d,
    adaptive_max_pool1d,
    adaptive_max_pool1d_with_indices,
    adaptive_max_pool2d,
    adaptive_max_pool2d_with_indices,
    adaptive_max_pool3d,
    adaptive_max_pool3d_with_indices,
    max_unpool1d,
    max_unpool2d,
    max_unpool3d,
)
from tinynet.functions.attention import scaled_dot_product_attention
from tinynet.functions.conv import conv1d, conv2d, conv3d, conv_transpose1d, conv_transpose2d, conv_transpose3d
from tinynet.functions.distance import cosine_similarity, normalize, pairwise_distance
from tinynet.functions.dropout import (
    alpha_dropout,
    dropout,
    dropout1d,
    dropout2d,
    dropout3d,
    feature_alpha_dropout,
)
from tinynet.functions.embedding import embedding, one_hot
from tinynet.functions.linalg import Linear
from tinynet.functions.losses import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cosine_embedding_loss,
    cross_entropy,
    gaussian_nll_loss,
    hinge_embedding_loss,
    huber_loss,
    kl_div,
    l1_loss,
    margin_ranking_loss,
    mse_loss,
    multilabel_soft_margin_loss,
    nll_loss,
    poisson_nll_loss,
    smooth_l1_loss,
    soft_margin_loss,
    triplet_margin_loss,
)
from tinynet.functions.normalization import batch_norm, layer_norm
from tinynet.functions.padding import pad
from tinynet.functions.pooling import (
    avg_pool1d,
    avg_pool2d,
    avg_pool3d,
    lp_pool1d,
    lp_pool2d,
    lp_pool3d,
    max_pool1d,
    max_pool1d_with_indices,
    max_pool2d,
    max_pool2d_with_indices,
    max_pool3d,
    max_pool3d_with_indices,
)
from tinynet.functions.resize import interpolate, upsample, upsample_bilinear, upsample_nearest
from tinynet.nn.functional_more import bilinear, group_norm, instance_norm, pixel_shuffle, pixel_unshuffle, rms_norm
from tinynet.tensor import Tensor


@autocast_op("linear")
def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:  # noqa: A002
    """y = x W^T + b. input: (..., in), weight: (out, in), bias: (out,) -> (..., out)."""
    if input.ndim == 0 or input.shape[-1] != weight.shape[1]:
        raise ShapeError(
            f"linear: input of shape {input.shape} does not fit weight {weight.shape}: "
            f"expected input (..., {weight.shape[1]})"
        )
    return Linear.apply(input, weight, bias)


__all__ = [
    "bilinear", "group_norm", "instance_norm", "pixel_shuffle", "pixel_unshuffle", "rms_norm",
    "binary_cross_entropy", "binary_cross_entropy_with_logits", "cross_entropy", "elu", "gelu",
    "leaky_relu", "linear", "log_softmax", "mse_loss", "nll_loss", "relu", "sigmoid", "softmax",
    "softplus", "tanh",
    "batch_norm", "dropout", "embedding", "layer_norm", "scaled_dot_product_attention",
    "avg_pool1d", "avg_pool2d", "conv1d", "conv2d", "conv_transpose2d", "interpolate", "max_pool1d",
    "max_pool2d", "upsample_nearest",
    "conv3d", "conv_transpose1d", "conv_transpose3d", "pad",
    "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d", "adaptive_max_pool1d",
    "adaptive_max_pool1d_with_indices", "adaptive_max_pool2d", "adaptive_max_pool2d_with_indices",
    "adaptive_max_pool3d", "adaptive_max_pool3d_with_indices", "avg_pool3d", "max_pool1d_with_indices",
    "max_pool2d_with_indices", "max_pool3d", "max_pool3d_with_indices", "max_unpool1d", "max_unpool2d",
    "max_unpool3d", "upsample", "upsample_bilinear", "lp_pool1d", "lp_pool2d", "lp_pool3d",
    "cosine_embedding_loss", "gaussian_nll_loss", "hinge_embedding_loss", "huber_loss", "kl_div", "l1_loss",
    "margin_ranking_loss", "multilabel_soft_margin_loss", "poisson_nll_loss", "smooth_l1_loss",
    "soft_margin_loss", "triplet_margin_loss",
    "celu", "celu_", "elu_", "glu", "hardshrink", "hardsigmoid", "hardswish", "hardtanh", "hardtanh_",
    "leaky_relu_", "logsigmoid", "mish", "prelu", "relu6", "relu_", "rrelu", "rrelu_", "selu", "selu_", "silu",
    "softmin", "softshrink", "softsign", "tanhshrink", "threshold", "threshold_",
    "alpha_dropout", "cosine_similarity", "dropout1d", "dropout2d", "dropout3d", "feature_alpha_dropout",
    "normalize", "one_hot", "pairwise_distance",
]  # fmt: skip


def __getattr__(name: str):
    # Only names not found above arrive here: PyTorch's that tinynet lacks say so (tinynet.missing).
    from importlib import import_module  # (not `from tinynet import`: that would come back here)

    raise import_module("tinynet.missing").attribute_error("functional", name, "module tinynet.nn.functional")
