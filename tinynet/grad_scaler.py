"""``tn.amp.GradScaler``, as ``torch.amp.GradScaler``: dynamic loss scaling for float16 training.

float16's smallest positive number is about 6e-8 (and below 6e-5 it loses precision): many gradients of a float16
forward are smaller and flush to zero. The scaler multiplies the loss by a large factor S (2**16 to start) before
``backward``, so every gradient is S times larger and stays representable, then divides the gradients by S again
(``unscale_``) before the optimizer uses them. S adapts: a step whose gradients hold an inf or NaN (S was too large,
float16 overflowed) is skipped and S is halved; after ``growth_interval`` steps in a row without one, S doubles.
"""

from __future__ import annotations

import enum
import warnings
from collections.abc import Iterable

import numpy as np

from kernels.numpy_ref import array_module
from tinynet.dtypes import float16
from tinynet.tensor import Tensor


class _Stage(enum.Enum):
    READY = 0  # nothing done with this optimizer since the last update()
    UNSCALED = 1  # unscale_() ran: its gradients are the true ones
    STEPPED = 2  # step() ran (or was skipped)


def _fresh_state() -> dict:
    return {"stage": _Stage.READY, "found_inf": None}


class GradScaler:
    """Scales the loss, unscales the gradients, skips steps that overflowed and adapts the scale.

    device: "cuda" or "cpu" (with "cuda" where no GPU can run, it warns and turns itself off, as PyTorch's does).
    init_scale: the first scale S. growth_factor, backoff_factor: S is multiplied by these after
    ``growth_interval`` overflow-free steps in a row, and after a step that overflowed. enabled=False: every method
    passes through (``scale(loss)`` is ``loss``, ``step(opt)`` is ``opt.step()``), so one loop serves both.
    """

    def __init__(
        self,
        device: str = "cuda",
        init_scale: float = 2.0**16,
        growth_factor: float = 2.0,
        backoff_factor: float = 0.5,
        growth_interval: int = 2000,
        enabled: bool = True,
    ) -> None:
        self._device = str(device)
        if enabled and self._device.startswith("cuda"):
            from tinynet import cuda

            if not cuda.is_available():
                warnings.warn(
                    "torch.cuda.amp.GradScaler is enabled, but CUDA is not available.  Disabling.", stacklevel=2
                )
                enabled = False
        self._enabled = bool(enabled)
        if self._enabled:
            if growth_factor <= 1.0:
                raise ValueError("The growth factor must be > 1.0.")
            if backoff_factor >= 1.0:
                raise ValueError("The backoff factor must be < 1.0.")
        self._init_scale = float(init_scale)
        self._growth_factor = float(growth_factor)
        self._backoff_factor = float(backoff_factor)
        self._growth_interval = int(growth_interval)
        self._init_growth_tracker = 0
        # Made by the first scale(), as PyTorch's: S is a float32 (so get_scale() gives float32 values).
        self._scale: np.float32 | None = None
        self._growth_tracker: int | None = None
        self._per_optimizer_states: dict[int, dict] = {}

    # The loss and the gradients.

    def scale(self, outputs):
        """``outputs`` (a loss, or a list or tuple of them) multiplied by the scale S; call ``backward`` on that."""
        if not self._enabled:
            return outputs
        if self._scale is None:
            self._scale, self._growth_tracker = np.float32(self._init_scale), self._init_growth_tracker
        return self._apply_scale(outputs)

    def _apply_scale(self, value):
        if isinstance(value, Tensor):
            return value * float(self._scale)  # (a number keeps a float16 loss float16, as PyTorch's 0-d scale)
        if isinstance(value, (list, tuple)):
            return type(value)(self._apply_scale(v) for v in value)
        if isinstance(value, Iterable):
            return map(self._apply_scale, value)
        raise ValueError("outputs must be a Tensor or an iterable of Tensors")

    def unscale_(self, optimizer) -> None:
        """Divide ``optimizer``'s gradients by S in place (to clip or inspect the true gradients before ``step``)
        and record whether any is inf or NaN. At most once per optimizer between two ``update()`` calls."""
        if not self._enabled:
            return
        self._check_scale_growth_tracker("unscale_")
        state = self._per_optimizer_states.setdefault(id(optimizer), _fresh_state())
        if state["stage"] is _Stage.UNSCALED:
            raise RuntimeError("unscale_() has already been called on this optimizer since the last update().")
        if state["stage"] is _Stage.STEPPED:
            raise RuntimeError("unscale_() is being called after step().")
        inv_scale = np.float32(1.0 / np.float64(self._scale))  # (PyTorch: the float64 reciprocal, as float32)
        found_inf = False
        for group in optimizer.param_groups:
            for parameter in group["params"]:
                if parameter.grad is None:
                    continue
                grad = parameter.grad.array
                if grad.dtype == float16:
                    # Their unscaled values are what float16 cannot hold; keep float32 master parameters.
                    raise ValueError("Attempting to unscale FP16 gradients.")
                found_inf |= not bool(array_module(grad).isfinite(grad).all())
                grad *= inv_scale.astype(grad.dtype)
        state["found_inf"], state["stage"] = found_inf, _Stage.UNSCALED

    def step(self, optimizer, *args, **kwargs):
        """``optimizer.step(*args, **kwargs)`` on the unscaled gradients (``unscale_`` first if it was not called),
        unless one of them is inf or NaN: then the step is skipped. Returns what ``optimizer.step`` returned, or
        None when skipped."""
        if not self._enabled:
            return optimizer.step(*args, **kwargs)
        if "closure" in kwargs:
            raise RuntimeError("Closure use is not currently supported if GradScaler is enabled.")
        self._check_scale_growth_tracker("step")
        state = self._per_optimizer_states.setdefault(id(optimizer), _fresh_state())
        if state["stage"] is _Stage.STEPPED:
            raise RuntimeError("step() has already been called since the last update().")
        if state["stage"] is _Stage.READY:
            self.unscale_(optimizer)
        assert state["found_inf"] is not None, "No inf checks were recorded for this optimizer."
        result = None if state["found_inf"] else optimizer.step(*args, **kwargs)
        state["stage"] = _Stage.STEPPED
        return result

    def update(self, new_scale: float | Tensor | None = None) -> None:
        """Adapt S for the next iteration: times ``backoff_factor`` if any optimizer's step found an inf or NaN
        (and the count of good steps restarts), times ``growth_factor`` after ``growth_interval`` good steps in a
        row. ``new_scale`` sets S instead. Call once per iteration, after every ``step``."""
        if not self._enabled:
            return
        self._check_scale_growth_tracker("update")
        if new_scale is not None:
            if isinstance(new_scale, Tensor):
                reason = (
                    "new_scale should be a float or a 1-element torch.cuda.FloatTensor or torch.FloatTensor with "
                    "requires_grad=False."
                )
                assert new_scale.numel() == 1, reason
                assert not new_scale.requires_grad, reason
                self._scale = np.float32(new_scale.item())
            else:
                self._scale = np.float32(new_scale)
        else:
            found = [s["found_inf"] for s in self._per_optimizer_states.values() if s["found_inf"] is not None]
            assert len(found) > 0, "No inf checks were recorded prior to update."
            if any(found):
                self._scale = np.float32(np.float64(self._scale) * self._backoff_factor)
                self._growth_tracker = 0
            elif self._growth_tracker + 1 == self._growth_interval:
                grown = np.float32(np.float64(self._scale) * self._growth_factor)
                if np.isfinite(grown):  # (S stays where it is rather than become inf)
                    self._scale = grown
                self._growth_tracker = 0
            else:
                self._growth_tracker += 1
        self._per_optimizer_states = {}

    def _check_scale_growth_tracker(self, funcname: str) -> None:
        fix = "This may indicate your script did not use scaler.scale(loss or outputs) earlier in the iteration."
        assert self._scale is not None, f"Attempted {funcname} but _scale is None.  " + fix

    # What the scale is, and its settings.

    def get_scale(self) -> float:
        """S as a Python float (1.0 when disabled; ``init_scale`` before the first ``scale()``)."""
        if not self._enabled:
            return 1.0
        return self._init_scale if self._scale is None else float(self._scale)

    def get_growth_factor(self) -> float:
        return self._growth_factor

    def set_growth_factor(self, new_factor: float) -> None:
        self._growth_factor = float(new_factor)

    def get_backoff_factor(self) -> float:
        return self._backoff_factor

    def set_backoff_factor(self, new_factor: float) -> None:
        self._backoff_factor = float(new_factor)

    def get_growth_interval(self) -> int:
        return self._growth_interval

    def set_growth_interval(self, new_interval: int) -> None:
        self._growth_interval = int(new_interval)

    def _get_growth_tracker(self) -> int:
        if not self._enabled:
            return 0
        return self._init_growth_tracker if self._growth_tracker is None else self._growth_tracker

    def is_enabled(self) -> bool:
        return self._enabled

    def state_dict(self) -> dict:
        """The scale and its settings ({} when disabled), to save with a checkpoint as PyTorch's."""
        if not self._enabled:
            return {}
        return {
            "scale": self.get_scale(),
            "growth_factor": self._growth_factor,
            "backoff_factor": self._backoff_factor,
            "growth_interval": self._growth_interval,
            "_growth_tracker": self._get_growth_tracker(),
        }

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore what ``state_dict`` saved (nothing to do when disabled)."""
        if not self._enabled:
            return
        if len(state_dict) == 0:
            raise RuntimeError(
                "The source state dict is empty, possibly because it was saved from a disabled instance of GradScaler."
            )
        self._init_scale = float(state_dict["scale"])
        if self._scale is not None:
            self._scale = np.float32(state_dict["scale"])
        self._growth_factor = float(state_dict["growth_factor"])
        self._backoff_factor = float(state_dict["backoff_factor"])
        self._growth_interval = int(state_dict["growth_interval"])
        self._init_growth_tracker = int(state_dict["_growth_tracker"])
        if self._growth_tracker is not None:
            self._growth_tracker = self._init_growth_tracker


__all__ = ["GradScaler"]
