"""tinynet: a from-scratch neural-network engine to learn how deep-learning frameworks work.

    import tinynet as tn
    x = tn.tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    x.grad  # tensor([2., 4.])

Read in this order: ``tensor`` (the Tensor), ``autograd`` (the graph and backward), ``functions``
(every op with its gradient), ``nn`` and ``optim`` (models and training), ``backend`` (which kernels
compute the heavy ops: ``kernels/numpy_ref/`` is their specification).
"""

from tinynet.tensor import Tensor  # noqa: I001 (tensor first: the modules below build on it)
from tinynet.dtypes import bool_, float16, float32, float64, get_default_dtype, int32, int64, set_default_dtype
from tinynet.creation import *  # noqa: F403 (tensor, zeros, arange, randn, ..., as torch.*)
from tinynet import nn, optim
from tinynet.autograd import Function, enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
from tinynet.backend import get_backend, get_default_device, set_backend, set_default_device, use_backend, warmup
from tinynet.debug import detect_anomaly, trace
from tinynet.device import device
from tinynet.errors import (
    AnomalyError,
    ArgumentError,
    ArgumentTypeError,
    BackendError,
    DimensionError,
    DTypeError,
    GradcheckError,
    GraphError,
    IndexingError,
    KernelError,
    NotImplementedOpError,
    ShapeError,
    TinynetError,
)
from tinynet.functions import *  # noqa: F403 (every op family's functions: tn.sin, tn.cumsum, tn.gather...)
from tinynet import dtypes
from tinynet.dtypes import finfo, iinfo, int8, int16, promote_types, result_type, uint8
from tinynet.backward_check import check_backward
from tinynet.gradcheck import gradcheck
from tinynet.random import Generator, default_generator, get_rng_state, initial_seed, manual_seed, seed, set_rng_state
from tinynet.serialization import load, save
from tinynet.threads import get_num_threads, set_num_threads
from tinynet import amp, data, distributed, graph, linalg, metrics
from tinynet import memory  # the ledger of what backward will need, and a step's peak memory
from tinynet.memory import memory_report
from tinynet.amp import autocast, get_autocast_dtype, is_autocast_available, is_autocast_enabled
from tinynet.compile import compile
from tinynet import utils  # torch.utils: tinynet.utils.data
from tinynet import accelerator, backends, cuda  # devices: tn.cuda.is_available(), tn.backends.cudnn...

# PyTorch's other names for the dtypes (last, since they shadow Python's float, int and bool in this module).
half, float, double = float16, float32, float64  # noqa: A001
short, int, long = int16, int32, int64  # noqa: A001
bool = bool_  # noqa: A001

__version__ = "0.1.0"


def __getattr__(name: str):
    # Only names not found above arrive here: bfloat16 (loaded when asked for), and PyTorch's names that tinynet
    # lacks, which say so (tinynet.missing).
    if name == "bfloat16":
        return dtypes.bfloat16()
    from importlib import import_module  # (not `from tinynet import`: that would come back here)

    if name == "onnx":  # imported when first used, so that `import tinynet` never loads the onnx package
        return import_module("tinynet.onnx")
    raise import_module("tinynet.missing").attribute_error("torch", name, "module tinynet")
