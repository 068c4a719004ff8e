"""``tn.amp``, as ``torch.amp``: mixed precision. ``autocast`` runs matmul, linear, conv and attention in float16
(or bfloat16) and keeps losses (and, on CUDA, softmax, norms, reductions) in float32; ``GradScaler`` scales the
loss so that small float16 gradients do not underflow to zero, and skips the steps whose gradients overflowed.

The typical loop, as in PyTorch::

    scaler = tn.amp.GradScaler("cuda")            # or "cpu"
    for x, y in loader:
        optimizer.zero_grad()
        with tn.autocast(device_type="cuda", dtype=tn.float16):
            loss = F.cross_entropy(model(x), y)   # linear/conv in float16, the loss in float32
        scaler.scale(loss).backward()             # gradients of loss * scale
        scaler.unscale_(optimizer)                # optional: true gradients, to clip them
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        scaler.step(optimizer)                    # skipped if a gradient is inf or NaN
        scaler.update()                           # scale halves after an overflow, doubles after 2000 good steps

Which op runs in which dtype: tinynet/amp_policy.py. The scaler: tinynet/grad_scaler.py.
"""

from __future__ import annotations

import functools
import warnings

import numpy as np

from tinynet import amp_policy
from tinynet.dtypes import float16
from tinynet.grad_scaler import GradScaler
from tinynet.missing import module_getattr

_DEVICE_TYPES = ("cpu", "cuda")


def _bfloat16() -> np.dtype:
    from tinynet.dtypes import bfloat16

    return bfloat16()


def _check_device_type(device_type) -> str:
    if not isinstance(device_type, str):
        raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
    if device_type not in _DEVICE_TYPES:
        raise RuntimeError(
            f"User specified an unsupported autocast device_type '{device_type}': tinynet's autocast knows "
            f"{', '.join(_DEVICE_TYPES)}"
        )
    return device_type


def get_autocast_dtype(device_type: str) -> np.dtype:
    """The dtype autocast uses for ``device_type`` when none is given: bfloat16 on the CPU, float16 on CUDA, as in
    PyTorch (or the one of the autocast region this thread is in)."""
    dtype = amp_policy.current_dtype(_check_device_type(device_type))
    if dtype is not None:
        return dtype
    return _bfloat16() if device_type == "cpu" else float16


def is_autocast_available(device_type: str) -> bool:
    """Whether autocast can run on ``device_type`` here ("cpu" always; "cuda" where a GPU can run)."""
    if device_type == "cuda":
        from tinynet import cuda

        return cuda.is_available()
    return device_type == "cpu"


def is_autocast_enabled(device_type: str = "cuda") -> bool:
    """Whether this thread is in an enabled autocast region for ``device_type``, as ``torch.is_autocast_enabled``."""
    return amp_policy.is_enabled(_check_device_type(device_type))


class autocast:  # (PyTorch's lower-case name)
    """A region (``with`` block or decorated function) where the listed ops run in ``dtype``, as ``torch.autocast``.

    device_type: "cuda" or "cpu": only ops on tensors of that device are cast. dtype: float16 or bfloat16 (None:
    float16 on CUDA, bfloat16 on the CPU). enabled=False: a region where that device's autocast is off (inside an
    enabled one too). cache_enabled is accepted; tinynet keeps no cast cache (each cast is recomputed).
    Where CUDA is not available, ``autocast("cuda")`` warns and does nothing, as PyTorch's does. Only forward ops
    are cast: run ``backward()`` after the region (its ops use the dtypes of the forward ones anyway).
    """

    def __init__(self, device_type: str, dtype=None, enabled: bool = True, cache_enabled: bool | None = None) -> None:
        self.device = _check_device_type(device_type)
        self.fast_dtype = get_autocast_dtype(self.device) if dtype is None else np.dtype(dtype)
        self._cache_enabled = True if cache_enabled is None else bool(cache_enabled)
        if enabled and self.device == "cuda" and not is_autocast_available("cuda"):
            warnings.warn("User provided device_type of 'cuda', but CUDA is not available. Disabling", stacklevel=2)
            enabled = False
        low = self.fast_dtype == float16 or self.fast_dtype.name == "bfloat16"
        if enabled and self.device == "cpu" and not low:
            warnings.warn(
                "In CPU autocast, but the target dtype is not supported. Disabling autocast.\n"
                "CPU Autocast only supports dtype of torch.bfloat16, torch.float16 currently.",
                stacklevel=2,
            )
            enabled = False
        if enabled and self.device == "cuda":
            if self.fast_dtype.name == "bfloat16":
                raise RuntimeError(
                    "Current CUDA Device does not support bfloat16. Please switch dtype to float16. (tinynet's CUDA "
                    "tensors are CuPy arrays, which have no bfloat16)"
                )
            if not low:
                warnings.warn(
                    "In CUDA autocast, but the target dtype is not supported. Disabling autocast.\n"
                    "CUDA Autocast only supports dtype of torch.float16, torch.bfloat16 currently.",
                    stacklevel=2,
                )
                enabled = False
        self._enabled = bool(enabled)
        self._previous: list = []

    def __enter__(self) -> None:
        self._previous.append(amp_policy.set_state(self.device, self._enabled, self.fast_dtype))

    def __exit__(self, *exc) -> bool:
        amp_policy.set_state(self.device, *self._previous.pop())
        return False

    def __call__(self, function):
        @functools.wraps(function)
        def in_autocast(*args, **kwargs):
            with self:
                return function(*args, **kwargs)

        return in_autocast


# PyTorch's decorators for custom autograd Functions under autocast: not here yet (tinynet's Function.forward
# receives arrays, so casting its inputs needs the engine's help).
__getattr__ = module_getattr("tinynet.amp", "torch.amp", {"custom_fwd", "custom_bwd"})

__all__ = [
    "GradScaler", "autocast", "get_autocast_dtype", "is_autocast_available",
    "is_autocast_enabled",
]  # fmt: skip
