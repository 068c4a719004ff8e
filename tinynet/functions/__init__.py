"""Every differentiable op, grouped by family; each is a Function with forward and backward together.

Arithmetic and elementwise math
- ``elementwise``: + - * / ** maximum minimum where, casts, PyTorch's type promotion for two operands
- ``unary``: neg exp log sqrt abs clip; ``pointwise``: sin cos tan and the hyperbolic and inverse functions;
  ``exponential``: log2 log10 log1p exp2 expm1 rsqrt erf ...; ``rounding``: floor ceil round trunc sign
  isnan nan_to_num ...; ``pointwise_binary``: remainder floor_divide atan2 hypot lerp xlogy ...;
  ``bitwise``: & | ^ ~ << >> and the logical ops; ``comparison``: < <= == ... isclose
Reductions, scans, order
- ``reduce``: sum mean prod max min amax amin any all logsumexp argmax ...; ``moments``: var std norm;
  ``scan``: cumsum cumprod cummax cummin logcumsumexp; ``sorting``: sort argsort topk kthvalue median
  mode unique (``dims``: how every one of them reads ``dim``)
Shapes and indexing
- ``shape``: reshape view permute transpose flatten squeeze unsqueeze expand cat stack, x[index]
  (``subscript``: PyTorch's index layout); ``axes``: movedim t unflatten clone ...; ``rearrange``: repeat
  tile flip roll unfold meshgrid ...; ``pieces``: split chunk unbind narrow *stack; ``matrices``: diag
  diagonal tril triu; ``contraction``: einsum outer
- ``indexing``: gather scatter scatter_add index_select index_add ... (``scatter_reduce``, ``masking``:
  masked_fill masked_select nonzero, ``index_checks``)
- ``linalg``: matmul mm bmm mv dot addmm baddbmm
Layers (reached through ``tinynet.nn.functional``, as in PyTorch)
- ``activations``: relu sigmoid tanh gelu leaky_relu elu softplus softmax log_softmax
  (with ``activations_smooth``: silu mish logsigmoid softsign glu, and ``activations_piecewise``: hardtanh
  relu6 hardswish hardsigmoid threshold softshrink hardshrink prelu; ``activation_checks``)
- ``distance``: normalize cosine_similarity pairwise_distance cdist
- ``losses``: cross_entropy nll_loss (``losses_pointwise``: mse l1 smooth_l1 huber kl_div bce ...,
  ``losses_embedding``: margin ranking, triplet, cosine embedding ...)
- ``conv`` (``conv_ops``), ``padding``, ``pooling`` (``pool_windows``), ``adaptive_pooling``, ``resize``
  (with ``windows``, their shared geometry): conv1d/2d/3d and their transposes, pad, max/avg/lp pools,
  adaptive pools, unpooling, interpolate
- ``normalization``, ``dropout``, ``embedding``, ``attention``: layer_norm batch_norm, dropout,
  embedding one_hot, scaled_dot_product_attention
- ``recurrent``: rnn_sequence gru_sequence lstm_sequence (one layer and direction of nn.RNN/GRU/LSTM
  over a whole sequence as one op)

Where an op's math is: every Function's docstring gives it in three lines, ``forward:`` (the formula),
``derivative:`` (what backward computes) and ``kernels:`` (the named kernels it calls, or "none");
``tinynet ops`` prints them all as one table, with the backends that override each kernel.

Which ops call a named kernel, and which compute inline: one rule for every family. An op calls a kernel
from its inputs' backend table (``backend.for_arrays(x).relu_forward(x)``) when it is where the course's models spend
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
