"""tinynet: a from-scratch neural-network engine to learn how deep-learning frameworks work.

    import tinynet as tn
    x = tn.tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    x.grad  # tensor([2., 4.])

Read in this order: ``tensor`` (the Tensor), ``autograd`` (the graph and backward), ``functions``
(every op with its gradient), ``nn`` and ``optim`` (models and training), ``backend`` (which kernels
compute the heavy ops: ``kernels/numpy_ref/`` is their specification).
"""

from tinynet.tensor import (  # noqa: I001 (tensor first: the modules below build on it)
    Tensor,
    arange,
    bool_,
    eye,
    float16,
    float32,
    float64,
    full,
    get_default_dtype,
    int32,
    int64,
    linspace,
    ones,
    ones_like,
    rand,
    randint,
    randn,
    set_default_dtype,
    tensor,
    zeros,
    zeros_like,
)
from tinynet import nn, optim
from tinynet.autograd import Function, enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from tinynet.backend import get_backend, set_backend, use_backend, warmup
from tinynet.debug import detect_anomaly, trace
from tinynet.errors import (
    AnomalyError,
    ArgumentError,
    ArgumentTypeError,
    BackendError,
    DTypeError,
    GradcheckError,
    GraphError,
    IndexingError,
    KernelError,
    ShapeError,
    TinynetError,
)
from tinynet.functions import (
    abs,
    amax,
    amin,
    argmax,
    argmin,
    cat,
    clamp,
    clip,
    exp,
    flatten,
    log,
    matmul,
    max,
    maximum,
    mean,
    min,
    minimum,
    permute,
    relu,
    reshape,
    sigmoid,
    softmax,
    sqrt,
    squeeze,
    stack,
    std,
    sum,
    tanh,
    transpose,
    unsqueeze,
    var,
    where,
)
from tinynet.gradcheck import gradcheck
from tinynet.random import get_rng_state, manual_seed, set_rng_state
from tinynet.serialization import load, save
from tinynet import data, graph, metrics

__version__ = "0.1.0"
