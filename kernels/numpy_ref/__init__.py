"""Reference kernels: the specification every other backend must match.

Each kernel is plain, readable NumPy with its shapes in the docstring, in one module per op family
(the same families as ``tinynet/functions``). A kernel takes its array module from its inputs
(``xp = array_module(x)``), so the same code runs on CuPy arrays, on the GPU, when a backend falls
back to it. Kernels never modify their inputs, except the optimizer steps, which update parameters
and their state in place by design, and ``accumulate``, which sums into its first argument.
"""

from kernels.numpy_ref.activations import (
    gelu_backward,
    gelu_forward,
    hardsigmoid_backward,
    hardsigmoid_forward,
    hardswish_backward,
    hardswish_forward,
    hardtanh_backward,
    hardtanh_forward,
    leaky_relu_backward,
    leaky_relu_forward,
    relu_backward,
    relu_forward,
    sigmoid_backward,
    sigmoid_forward,
    silu_backward,
    silu_forward,
    tanh_backward,
    tanh_forward,
)
from kernels.numpy_ref.attention import attention_backward, attention_forward, masked_softmax_forward
from kernels.numpy_ref.common import array_module, select
from kernels.numpy_ref.conv import (
    conv2d_backward,
    conv2d_forward,
    conv_transpose2d_backward,
    conv_transpose2d_forward,
)
from kernels.numpy_ref.depthwise import depthwise_conv2d_backward, depthwise_conv2d_forward
from kernels.numpy_ref.dropout import dropout_mask
from kernels.numpy_ref.elementwise import accumulate, add, mul
from kernels.numpy_ref.embedding import embedding_backward, scatter_add
from kernels.numpy_ref.linalg import linear_backward, linear_forward, matmul
from kernels.numpy_ref.losses import bce_with_logits_backward, bce_with_logits_forward
from kernels.numpy_ref.normalization import (
    batch_norm_backward,
    batch_norm_forward,
    channel_affine_backward,
    channel_affine_forward,
    group_norm_backward,
    group_norm_forward,
    layer_norm_backward,
    layer_norm_forward,
)
from kernels.numpy_ref.optim import adam_step, rmsprop_step, sgd_step
from kernels.numpy_ref.pooling import avg_pool2d_backward, avg_pool2d_forward, max_pool2d_backward, max_pool2d_forward
from kernels.numpy_ref.recurrent import (
    gru_sequence_backward,
    gru_sequence_forward,
    lstm_sequence_backward,
    lstm_sequence_forward,
    recurrent_weight_grads,
    rnn_sequence_backward,
    rnn_sequence_forward,
)
from kernels.numpy_ref.resize import resample_backward, resample_forward
from kernels.numpy_ref.softmax import (
    cross_entropy_backward,
    cross_entropy_forward,
    log_softmax_backward,
    log_softmax_forward,
    softmax_backward,
    softmax_forward,
)

NAME = "numpy"

# The kernel table, by family (the module each comes from): every backend provides these names, or
# falls back to this package's.
FAMILIES = {
    "elementwise": ("add", "mul", "accumulate"),
    "linalg": ("matmul", "linear_forward", "linear_backward"),
    "activations": (
        "relu_forward", "relu_backward", "sigmoid_forward", "sigmoid_backward",
        "tanh_forward", "tanh_backward", "gelu_forward", "gelu_backward", "silu_forward", "silu_backward",
        "hardtanh_forward", "hardtanh_backward", "leaky_relu_forward", "leaky_relu_backward",
        "hardswish_forward", "hardswish_backward", "hardsigmoid_forward", "hardsigmoid_backward",
    ),
    "softmax": (
        "softmax_forward", "softmax_backward", "log_softmax_forward", "log_softmax_backward",
        "cross_entropy_forward", "cross_entropy_backward",
    ),
    "losses": ("bce_with_logits_forward", "bce_with_logits_backward"),
    "dropout": ("dropout_mask",),
    "embedding": ("scatter_add", "embedding_backward"),
    "normalization": (
        "layer_norm_forward", "layer_norm_backward", "batch_norm_forward", "batch_norm_backward",
        "channel_affine_forward", "channel_affine_backward", "group_norm_forward", "group_norm_backward",
    ),
    "attention": ("masked_softmax_forward", "attention_forward", "attention_backward"),
    "conv": ("conv2d_forward", "conv2d_backward", "conv_transpose2d_forward", "conv_transpose2d_backward"),
    "depthwise": ("depthwise_conv2d_forward", "depthwise_conv2d_backward"),
    "pooling": ("max_pool2d_forward", "max_pool2d_backward", "avg_pool2d_forward", "avg_pool2d_backward"),
    "resize": ("resample_forward", "resample_backward"),
    "optim": ("sgd_step", "adam_step", "rmsprop_step"),
    "recurrent": (
        "rnn_sequence_forward", "rnn_sequence_backward", "gru_sequence_forward", "gru_sequence_backward",
        "lstm_sequence_forward", "lstm_sequence_backward", "recurrent_weight_grads",
    ),
}  # fmt: skip
KERNELS = tuple(kernel for family in FAMILIES.values() for kernel in family)


def check_available() -> None:
    """The reference runs wherever NumPy does."""
