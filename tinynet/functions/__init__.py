"""Every differentiable op, grouped by family; each is a Function with forward and backward together.

- ``elementwise``: + - * / ** neg exp log sqrt abs clip maximum minimum where, casts, comparisons
- ``reduce``: sum mean max min amax amin var std, argmax argmin
- ``shape``: reshape permute transpose flatten squeeze unsqueeze broadcast_to expand [], cat stack
- ``linalg``: matmul
- ``activations``: relu sigmoid tanh gelu leaky_relu elu softplus softmax log_softmax
  (with ``activations_smooth``: silu mish logsigmoid softsign glu, and ``activations_piecewise``: hardtanh
  relu6 hardswish hardsigmoid threshold softshrink hardshrink prelu)
- ``distance``: normalize cosine_similarity pairwise_distance cdist
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

# Each family module lists its public functions in __all__ and the Tensor methods it adds in METHODS.
from tinynet.functions import (
    activations,
    adaptive_pooling,
    axes,
    bitwise,
    comparison,
    contraction,
    conv,
    distance,
    elementwise,
    exponential,
    indexing,
    linalg,
    losses,
    matrices,
    pieces,
    pointwise,
    pointwise_binary,
    pooling,
    rearrange,
    reduce,
    rounding,
    scan,
    shape,
    subscript,
    unary,  # x[index] = value
)
from tinynet.functions.activations import *  # noqa: F403
from tinynet.functions.adaptive_pooling import *  # noqa: F403
from tinynet.functions.axes import *  # noqa: F403
from tinynet.functions.bitwise import *  # noqa: F403
from tinynet.functions.comparison import *  # noqa: F403
from tinynet.functions.comparison import compare  # the Tensor's comparison operators call it
from tinynet.functions.contraction import *  # noqa: F403
from tinynet.functions.conv import *  # noqa: F403
from tinynet.functions.distance import *  # noqa: F403
from tinynet.functions.elementwise import *  # noqa: F403
from tinynet.functions.elementwise import cast  # the Tensor's conversions call it
from tinynet.functions.exponential import *  # noqa: F403
from tinynet.functions.indexing import *  # noqa: F403
from tinynet.functions.linalg import *  # noqa: F403
from tinynet.functions.losses import *  # noqa: F403
from tinynet.functions.matrices import *  # noqa: F403
from tinynet.functions.pieces import *  # noqa: F403
from tinynet.functions.pointwise import *  # noqa: F403
from tinynet.functions.pointwise_binary import *  # noqa: F403
from tinynet.functions.pooling import *  # noqa: F403
from tinynet.functions.rearrange import *  # noqa: F403
from tinynet.functions.reduce import *  # noqa: F403
from tinynet.functions.rounding import *  # noqa: F403
from tinynet.functions.scan import *  # noqa: F403
from tinynet.functions.shape import *  # noqa: F403
from tinynet.functions.shape import getitem  # x[index]
from tinynet.functions.unary import *  # noqa: F403

FAMILIES = (
    elementwise,
    unary,
    comparison,
    pointwise,
    exponential,
    pointwise_binary,
    rounding,
    bitwise,
    reduce,
    scan,
    shape,
    axes,
    rearrange,
    pieces,
    matrices,
    contraction,
    indexing,
    linalg,
    activations,
    distance,
    losses,
    conv,
    pooling,
    adaptive_pooling,
)
__all__ = [name for family in FAMILIES for name in family.__all__]
# Tensor methods that call a function of these families: x.sin() is tn.sin(x) (tensor.py attaches them).
METHODS = {name: method for family in FAMILIES for name, method in family.METHODS.items()}
