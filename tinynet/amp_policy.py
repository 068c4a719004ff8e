"""Autocast's per-thread state and its op table: which ops run in the low precision, which in float32.

``tn.autocast`` (tinynet/amp.py) only switches this state on and off. The casting happens here, in
``autocast_op(name)``, a decorator on the public function of each listed op (``F.linear``, ``F.conv2d``,
``tn.matmul``, ``F.cross_entropy``, ``tn.sum``...). With autocast off it costs one attribute test per call. On, it
looks the op up in the table of the device its tensors are on, as PyTorch's autocast does:

- "lower" ops (matmul, linear, conv, attention) get their floating-point inputs cast to the autocast dtype
  (float16 or bfloat16) and give an output of that dtype: they are the ones a GPU runs much faster that way;
- "float32" ops (losses, and on CUDA also softmax, norms, sums, exp, log, pow...) get float16/bfloat16 inputs
  cast up to float32, since they need its range or precision;
- every other op runs in the dtype of its inputs, as without autocast ("plain": ops tinynet builds from listed
  ones, such as ``mv`` from ``matmul``, are marked so that the inner op is not cast where PyTorch's is not).

float64 and integer tensors are never cast, and an op called with an explicit ``dtype=`` is left alone. The casts
are ordinary differentiable ``Tensor.to`` casts: gradients flow back through them, so float32 parameters get
float32 gradients. Inside a listed op autocast is suspended, so the ops it is built from run as written (PyTorch
does the same: one cast per public op, none inside).

The low-precision ops on the CPU (NumPy) are computed in float32 on inputs rounded to the low dtype, and their
output is rounded to it: the result a float16 GEMM with float32 accumulation gives (as GPU tensor cores and
PyTorch's CPU kernels do), without NumPy's slow float16 matrix products, and the only way for bfloat16, which
NumPy cannot multiply as matrices. On the GPU (CuPy) float16 ops run natively.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable

import numpy as np

from tinynet.errors import TinynetError

# PyTorch's lists (its "Autocast Op Reference" and aten's autocast_mode), limited to the ops tinynet has. The CPU
# lists are checked op by op against torch's CPU autocast in tests/test_amp.py.
_LOWER_CPU = {
    "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "prelu", "addmm",
    "baddbmm", "bmm", "mm", "matmul", "einsum", "linear", "scaled_dot_product_attention", "tensordot",
}  # fmt: skip
_FLOAT32_CPU = {
    "nll_loss", "cross_entropy", "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "binary_cross_entropy",
    "binary_cross_entropy_with_logits", "kl_div", "cosine_embedding_loss", "hinge_embedding_loss",
    "margin_ranking_loss", "triplet_margin_loss", "poisson_nll_loss", "soft_margin_loss",
    "prod", "cdist",
}  # fmt: skip
# tinynet builds these from listed ops (matmul), PyTorch does not: they run as written, with autocast suspended.
_PLAIN = {"dot", "mv", "bilinear"}
_LOWER_CUDA = _LOWER_CPU | {"mv"}
_FLOAT32_CUDA = (_FLOAT32_CPU - {"binary_cross_entropy"}) | {
    "pow", "acos", "asin", "cosh", "sinh", "tan", "erfinv", "exp", "expm1", "log", "log10", "log2", "log1p",
    "reciprocal", "rsqrt", "cosine_similarity", "cumprod", "cumsum", "dist", "group_norm", "layer_norm",
    "log_softmax", "softmax", "softmin", "softplus", "sum", "norm", "normalize", "pdist",
}  # fmt: skip
# CUDA autocast refuses these: their float16 result is not safe, and PyTorch says what to use instead.
_REFUSED_CUDA = {"binary_cross_entropy"}

POLICIES: dict[str, dict[str, str]] = {
    "cpu": {
        **dict.fromkeys(_PLAIN, "plain"), **dict.fromkeys(_LOWER_CPU, "lower"),
        **dict.fromkeys(_FLOAT32_CPU, "float32"),
    },
    "cuda": {
        **dict.fromkeys(_PLAIN, "plain"), **dict.fromkeys(_LOWER_CUDA, "lower"),
        **dict.fromkeys(_FLOAT32_CUDA, "float32"), **dict.fromkeys(_REFUSED_CUDA, "refuse"),
    },
}  # fmt: skip


class _PerThread(threading.local):
    """Each thread's autocast state, as PyTorch's (a new thread starts with autocast off): per device type,
    whether it is on and its dtype; ``active`` is True while any is on and no listed op is running."""

    def __init__(self) -> None:
        self.enabled = {"cpu": False, "cuda": False}
        self.dtype: dict[str, np.dtype | None] = {"cpu": None, "cuda": None}
        self.active = False


_thread = _PerThread()


def is_enabled(device_type: str) -> bool:
    """Whether autocast is on for ``device_type`` ("cpu" or "cuda") in this thread."""
    return _thread.enabled.get(device_type, False)


def set_state(device_type: str, enabled: bool, dtype) -> tuple[bool, np.dtype | None]:
    """Turn autocast on or off for ``device_type`` in this thread; returns the previous (enabled, dtype)."""
    previous = _thread.enabled[device_type], _thread.dtype[device_type]
    _thread.enabled[device_type], _thread.dtype[device_type] = enabled, dtype
    _thread.active = any(_thread.enabled.values())
    return previous


def current_dtype(device_type: str) -> np.dtype | None:
    """The dtype autocast uses for ``device_type`` in this thread now (None where it was never set)."""
    return _thread.dtype[device_type]


def _tensor_class():
    from tinynet.tensor import Tensor  # (imported here: tinynet.tensor loads the op families, which load this)

    return Tensor


def _first_tensor(args, Tensor):
    for value in args:
        if isinstance(value, Tensor):
            return value
        if isinstance(value, (list, tuple)):
            found = _first_tensor(value, Tensor)
            if found is not None:
                return found
    return None


def _cast_all(value, cast: Callable, Tensor):
    # Tensors anywhere in the arguments, and in lists or tuples of them (einsum's operands), get ``cast``.
    if isinstance(value, Tensor):
        return cast(value)
    if isinstance(value, (list, tuple)):
        return type(value)(_cast_all(v, cast, Tensor) for v in value)
    return value


def _is_low(dtype: np.dtype) -> bool:
    return dtype == np.float16 or dtype.name == "bfloat16"


def _eligible(t) -> bool:
    # Only float16, bfloat16 and float32 tensors are cast; float64 and integers run as they are (PyTorch's rule).
    return t.dtype == np.float32 or _is_low(t.dtype)


def _check_bfloat16_grad(name: str, low: np.dtype, args, kwargs, Tensor) -> None:
    from tinynet.autograd import is_grad_enabled

    if low.name != "bfloat16" or not is_grad_enabled():
        return
    needs_grad = []
    _cast_all((args, tuple(kwargs.values())), lambda t: needs_grad.append(t.requires_grad) or t, Tensor)
    if any(needs_grad):
        raise TinynetError(
            f"autocast(dtype=bfloat16): {name} would record bfloat16 tensors in the graph, and tinynet's bfloat16 "
            "(from ml_dtypes, not a NumPy float kind) cannot carry gradients yet; train with "
            "autocast(device_type, dtype=tn.float16), or use bfloat16 autocast for inference under tn.no_grad()"
        )


def _run_lower(name: str, function: Callable, low: np.dtype, on_gpu: bool, args, kwargs, Tensor):
    _check_bfloat16_grad(name, low, args, kwargs, Tensor)

    def to_low(t):
        return t.to(low) if _eligible(t) else t

    args, kwargs = _cast_all(args, to_low, Tensor), {k: _cast_all(v, to_low, Tensor) for k, v in kwargs.items()}
    if on_gpu and low == np.float16:
        return function(*args, **kwargs)  # a real float16 kernel (cuBLAS, CuPy)

    # NumPy: round the inputs to the low dtype (done above), compute in float32, round the output.
    def up(t):
        return t.to(np.float32) if _is_low(t.dtype) else t

    args, kwargs = _cast_all(args, up, Tensor), {k: _cast_all(v, up, Tensor) for k, v in kwargs.items()}
    out = function(*args, **kwargs)
    return _cast_all(out, lambda t: t.to(low) if t.dtype == np.float32 else t, Tensor)


def _run_float32(function: Callable, args, kwargs, Tensor):
    def up(t):
        return t.to(np.float32) if _is_low(t.dtype) else t

    args, kwargs = _cast_all(args, up, Tensor), {k: _cast_all(v, up, Tensor) for k, v in kwargs.items()}
    return function(*args, **kwargs)


def _refuse(name: str) -> TinynetError:
    return TinynetError(
        f"torch.nn.functional.{name} and torch.nn.BCELoss are unsafe to autocast: many models use a sigmoid layer "
        "right before the binary cross entropy layer, and in this case the combined layer is more stable under "
        "float16. Use torch.nn.functional.binary_cross_entropy_with_logits or torch.nn.BCEWithLogitsLoss "
        "(they combine the sigmoid and the loss), or call it with float32 inputs outside autocast "
        "(with autocast(device_type, enabled=False))"
    )


def autocast_op(name: str) -> Callable[[Callable], Callable]:
    """Decorate the public function of op ``name`` so that autocast applies its policy from ``POLICIES``."""

    def decorate(function: Callable) -> Callable:
        @functools.wraps(function)
        def autocasting(*args, **kwargs):
            if not _thread.active or kwargs.get("dtype") is not None:
                return function(*args, **kwargs)
            Tensor = _tensor_class()
            first = _first_tensor((*args, *kwargs.values()), Tensor)
            if first is None:
                return function(*args, **kwargs)
            device_type = "cuda" if first.is_cuda else "cpu"
            policy = POLICIES[device_type].get(name) if _thread.enabled[device_type] else None
            if policy is None:
                return function(*args, **kwargs)
            _thread.active = False  # the ops this one is built from run as written
            try:
                if policy == "plain":
                    return function(*args, **kwargs)
                if policy == "refuse":
                    raise _refuse(name)
                if policy == "lower":
                    return _run_lower(name, function, _thread.dtype[device_type], first.is_cuda, args, kwargs, Tensor)
                return _run_float32(function, args, kwargs, Tensor)
            finally:
                _thread.active = any(_thread.enabled.values())

        autocasting.autocast_name = name  # (tests list the decorated ops by it)
        return autocasting

    return decorate


__all__ = ["POLICIES", "autocast_op", "current_dtype", "is_enabled", "set_state"]
