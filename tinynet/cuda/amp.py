"""``tn.cuda.amp``, as ``torch.cuda.amp``: the older spelling of ``tn.amp`` for CUDA, which PyTorch deprecates but
still runs (with a FutureWarning). ``autocast(...)`` is ``tn.autocast("cuda", ...)``, ``GradScaler(...)`` is
``tn.amp.GradScaler("cuda", ...)``: where no GPU can run, both warn and turn themselves off, as PyTorch's do.
"""

from __future__ import annotations

import warnings

from tinynet import amp
from tinynet.dtypes import float16


class autocast(amp.autocast):  # (PyTorch's lower-case name)
    """``tn.autocast("cuda", dtype, enabled, cache_enabled)``, under its deprecated name."""

    def __init__(self, enabled: bool = True, dtype=float16, cache_enabled: bool = True) -> None:
        warnings.warn(
            "`torch.cuda.amp.autocast(args...)` is deprecated. Please use `torch.amp.autocast('cuda', args...)` "
            "instead.",
            FutureWarning,
            stacklevel=2,
        )
        super().__init__("cuda", dtype=dtype, enabled=enabled, cache_enabled=cache_enabled)


class GradScaler(amp.GradScaler):
    """``tn.amp.GradScaler("cuda", ...)``, under its deprecated name."""

    def __init__(
        self,
        init_scale: float = 2.0**16,
        growth_factor: float = 2.0,
        backoff_factor: float = 0.5,
        growth_interval: int = 2000,
        enabled: bool = True,
    ) -> None:
        warnings.warn(
            "`torch.cuda.amp.GradScaler(args...)` is deprecated. Please use `torch.amp.GradScaler('cuda', args...)` "
            "instead.",
            FutureWarning,
            stacklevel=2,
        )
        super().__init__("cuda", init_scale, growth_factor, backoff_factor, growth_interval, enabled)


__all__ = ["GradScaler", "autocast"]
