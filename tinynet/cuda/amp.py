"""``tn.cuda.amp`` and ``tn.amp``, as PyTorch's: importable, so that programs which import them run.

Mixed precision itself (float16 regions, loss scaling) is not in tinynet yet. What programs do when it is off
works as in PyTorch: ``GradScaler(enabled=False)`` (or one for CUDA where no GPU answers, which PyTorch turns
off with a warning) passes everything through, and ``autocast(enabled=False)`` changes nothing. Turning either on
raises a TinynetError that says mixed precision is not implemented yet.
"""

from __future__ import annotations

import warnings

from tinynet.errors import TinynetError


def _missing(name: str) -> TinynetError:
    return TinynetError(
        f"torch.cuda.amp.{name}: mixed-precision training (loss scaling, autocast) is not implemented in tinynet "
        f"yet; train in float32 (pass enabled=False)"
    )


class GradScaler:
    """PyTorch's loss scaler for float16 training. Off (``enabled=False``, or for CUDA without a GPU) it passes
    through: ``scale(loss)`` is ``loss``, ``step(optimizer)`` is ``optimizer.step()``; on, it is not in tinynet yet."""

    def __init__(self, device: str = "cuda", init_scale: float = 2.0**16, growth_factor: float = 2.0,
                 backoff_factor: float = 0.5, growth_interval: int = 2000, enabled: bool = True) -> None:  # fmt: skip
        from tinynet import cuda

        if enabled and str(device).startswith("cuda") and not cuda.is_available():
            warnings.warn("GradScaler is enabled, but CUDA is not available: disabling it", UserWarning, stacklevel=2)
            enabled = False
        if enabled:
            raise _missing("GradScaler")
        self._enabled = False

    def is_enabled(self) -> bool:
        return self._enabled

    def scale(self, outputs):
        return outputs

    def unscale_(self, optimizer) -> None:
        return None

    def step(self, optimizer, *args, **kwargs):
        return optimizer.step(*args, **kwargs)

    def update(self, new_scale=None) -> None:
        return None

    def get_scale(self) -> float:
        return 1.0

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state_dict: dict) -> None:
        return None


class autocast:  # (PyTorch's lower-case name)
    """PyTorch's automatic mixed-precision region: off (``enabled=False``) it changes nothing; on, it is not in
    tinynet yet."""

    def __init__(self, device_type: str = "cuda", dtype=None, enabled: bool = True, cache_enabled=None) -> None:
        if enabled:
            raise _missing("autocast")

    def __enter__(self) -> autocast:
        return self

    def __exit__(self, *exc) -> None:
        return None

    def __call__(self, function):
        return function


__all__ = ["GradScaler", "autocast"]
