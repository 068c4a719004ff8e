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

Where an op's math is: every Function's docstring gives it in three lines, ``forward:`` (the formula),
``derivative:`` (what backward computes) and ``kernels:`` (the named kernels it calls, or "none");
``tinynet ops`` prints them all as one table, with the backends that override each kernel.

Which ops call a named kernel, and which compute inline: one rule for every family. An op calls a kernel
from the backend table (``backend.active().relu_forward(x)``) when it is where the course's models spend
their time and a backend can do better than a few array-library calls: matrix products; convolution and
pooling windows; the row-wise softmax, cross-entropy and normalization; the activations those models use
in every layer (ReLU, sigmoid, tanh, GELU); attention; recurrences over time; scatter-adds; optimizer
steps. Only there does writing the op three times (the reference in ``kernels/numpy_ref/``, Numba, CUDA)
pay. Every other op is one or a few calls of the array module (``xp.where``, ``a * b``, ``x.sum()``,
``x[index]``) that NumPy and CuPy already run as compiled loops: it computes inline, in its own forward and
backward (LeakyReLU, ELU and Softplus among them: rarer activations, each a couple of ``xp`` calls).
Moving an op from inline to a kernel moves its math into the reference kernel, and its ``kernels:`` line
says so.
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
