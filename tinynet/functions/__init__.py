"""Every differentiable op, grouped by family; each is a Function with forward and backward together.

- ``elementwise``: + - * / ** neg exp log sqrt abs clip maximum minimum where, casts, comparisons
- ``reduce``: sum mean max min amax amin var std, argmax argmin
- ``shape``: reshape permute transpose flatten squeeze unsqueeze broadcast_to expand [], cat stack
- ``linalg``: matmul
- ``activations``: relu sigmoid tanh gelu leaky_relu elu softplus softmax log_softmax
- ``losses``: mse_loss cross_entropy nll_loss binary_cross_entropy(_with_logits)
- ``conv``, ``pooling`` (with ``windows``, their shared geometry): conv1d conv2d conv_transpose2d,
  max/avg_pool1d/2d, interpolate
- ``normalization``, ``dropout``, ``embedding``, ``attention``: layer_norm batch_norm, dropout,
  embedding, scaled_dot_product_attention
- ``recurrent``: rnn_sequence gru_sequence lstm_sequence (one layer and direction of nn.RNN/GRU/LSTM
  over a whole sequence as one op)

The layer families are reached through ``tinynet.nn.functional``, as in PyTorch.
"""

from tinynet.functions.activations import elu, gelu, leaky_relu, log_softmax, relu, sigmoid, softmax, softplus, tanh
from tinynet.functions.elementwise import (
    abs,
    add,
    cast,
    clamp,
    clip,
    compare,
    div,
    exp,
    log,
    maximum,
    minimum,
    mul,
    neg,
    pow,
    sqrt,
    sub,
    where,
)
from tinynet.functions.linalg import matmul
from tinynet.functions.losses import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    mse_loss,
    nll_loss,
)
from tinynet.functions.reduce import amax, amin, argmax, argmin, max, mean, min, std, sum, var
from tinynet.functions.shape import (
    broadcast_to,
    cat,
    expand,
    flatten,
    getitem,
    permute,
    reshape,
    squeeze,
    stack,
    transpose,
    unsqueeze,
    view,
)

__all__ = [
    "abs", "add", "amax", "amin", "argmax", "argmin", "binary_cross_entropy",
    "binary_cross_entropy_with_logits", "broadcast_to", "cast", "cat", "clamp", "clip", "compare",
    "cross_entropy", "div", "elu", "exp", "expand", "flatten", "gelu", "getitem", "leaky_relu", "log",
    "log_softmax", "matmul", "max", "maximum", "mean", "min", "minimum", "mse_loss", "mul", "neg",
    "nll_loss", "permute", "pow", "relu", "reshape", "sigmoid", "softmax", "softplus", "sqrt",
    "squeeze", "stack", "std", "sub", "sum", "tanh", "transpose", "unsqueeze", "var", "view", "where",
]  # fmt: skip
