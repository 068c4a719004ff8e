"""Numba-JIT CPU kernels: NumPy arrays in and out, so numba and numpy tensors mix freely.

Every kernel here has the name, signature and results of its reference in ``numpy_ref`` (within
float32 rounding); whatever is missing falls back to the reference (``tinynet info`` lists both). One module
per op family, named as the reference's; what the families share (threads, warm-up, argument helpers, a
vectorizable exp) is in ``common``.

Practicalities:
- Compilation happens on a kernel's first call for each dtype and is cached on disk (``cache=True``),
  in this folder's ``__pycache__`` or, when that folder is read-only, in Numba's user-wide cache (or
  NUMBA_CACHE_DIR). A program compiles only what it calls: a float32 model never compiles the float64
  kernels. ``tinynet warmup`` (or ``tinynet.warmup()``, ``tinynet info --warmup``) compiles everything up
  front and says how long it took; the command spreads the families over processes, one per core.
- Threads: each threaded kernel is a range of work (``ranges.range_kernel``), split over NUMBA_NUM_THREADS threads
  by one parallel driver; small inputs run the same compiled code on the caller alone.
- Debugging: with NUMBA_DISABLE_JIT=1 every kernel runs as plain Python (slowly), so a debugger can
  step into it line by line; the results are the same.
"""

import os

import numpy as np

from kernels.numba_cpu import dot, placement, winograd
from kernels.numba_cpu.activations import (
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
from kernels.numba_cpu.attention import attention_backward, attention_forward, masked_softmax_forward
from kernels.numba_cpu.common import WARMUPS, numba
from kernels.numba_cpu.conv import (
    conv2d_backward,
    conv2d_forward,
    conv_transpose2d_backward,
    conv_transpose2d_forward,
)
from kernels.numba_cpu.depthwise import depthwise_conv2d_backward, depthwise_conv2d_forward
from kernels.numba_cpu.dropout import dropout_mask
from kernels.numba_cpu.elementwise import accumulate, add, mul
from kernels.numba_cpu.embedding import embedding_backward, scatter_add
from kernels.numba_cpu.linalg import linear_backward, linear_forward, matmul
from kernels.numba_cpu.losses import bce_with_logits_backward, bce_with_logits_forward
from kernels.numba_cpu.normalization import (
    batch_norm_backward,
    batch_norm_forward,
    channel_affine_backward,
    channel_affine_forward,
    group_norm_backward,
    group_norm_forward,
    layer_norm_backward,
    layer_norm_forward,
)
from kernels.numba_cpu.optim import adam_step, rmsprop_step, sgd_step
from kernels.numba_cpu.pooling import avg_pool2d_backward, avg_pool2d_forward, max_pool2d_backward, max_pool2d_forward
from kernels.numba_cpu.recurrent import (
    gru_sequence_backward,
    gru_sequence_forward,
    lstm_sequence_backward,
    lstm_sequence_forward,
    recurrent_weight_grads,
    rnn_sequence_backward,
    rnn_sequence_forward,
)
from kernels.numba_cpu.resize import resample_backward, resample_forward
from kernels.numba_cpu.softmax import (
    cross_entropy_backward,
    cross_entropy_forward,
    log_softmax_backward,
    log_softmax_forward,
    softmax_backward,
    softmax_forward,
)

NAME = "numba"


def check_available() -> None:
    """Numba imported (in ``common``), so this backend runs here."""


def set_num_threads(count: int) -> int:
    """Run the threaded kernels on ``count`` threads, at most the NUMBA_NUM_THREADS that numba started (numba
    refuses more), in the calling Python thread (numba's count is per thread); returns the count taken."""
    taken = min(count, numba.config.NUMBA_NUM_THREADS)
    numba.set_num_threads(taken)
    return taken


def array_module():
    """Tensors on this backend hold NumPy arrays."""
    return np


def describe() -> dict[str, str]:
    """What `tinynet info` shows about this backend: threads, where they run, how long they wait idle, the
    threading layer, who takes the long products (dot.products), and which convolutions run by Winograd's tiles."""
    try:
        layer = numba.threading_layer()
    except ValueError:  # only known once a parallel kernel has run
        layer = "chosen at the first parallel kernel"
    policy = os.environ.get("OMP_WAIT_POLICY")
    idle = (
        f"OMP_WAIT_POLICY={policy}"
        if policy
        else f"spin {os.environ.get('GOMP_SPINCOUNT', 'default')} times, then sleep"
    )
    return {
        "threads": str(numba.get_num_threads()), "thread placement": placement.describe(), "idle threads": idle,
        "threading layer": layer, "numba": numba.__version__, "products": dot.products(),
        "winograd": winograd.describe(),
    }  # fmt: skip


def families() -> list[str]:
    """The kernel families ``warmup`` can compile one by one: "activations", "conv", ... (their modules' names)."""
    return [function.__module__.rsplit(".", 1)[-1] for function in WARMUPS]


def warmup(dtypes=("float32", "float64"), only: list[str] | None = None) -> None:
    """Compile (or load from the disk cache) every kernel of the families ``only`` (default: all, see
    ``families``) for each of ``dtypes``, threaded and serial.

    A program compiles only the kernels it calls, for the dtypes it calls them with (float32 by default); this
    compiles them all up front, so that no timing includes a compile. ``tinynet warmup`` runs it for several
    families at once in separate processes (compiling is single-threaded), each writing its kernels to the disk
    cache; the command's own process compiles only what they did not.
    """
    unknown = set(only or ()) - set(families())
    if unknown:
        raise ValueError(f"no kernel family {', '.join(sorted(unknown))}; choose from {', '.join(families())}")
    for dtype in dtypes:
        for function in WARMUPS:
            if only is None or function.__module__.rsplit(".", 1)[-1] in only:
                function(np.dtype(dtype))
