"""``tn.cuda.amp``, as ``torch.cuda.amp``: importable, so that programs which import it run; mixed precision
itself (GradScaler, autocast) is not in tinynet yet, and using it says so."""

from __future__ import annotations

from tinynet.errors import TinynetError


def _missing(name: str) -> TinynetError:
    return TinynetError(
        f"torch.cuda.amp.{name}: mixed-precision training (loss scaling, autocast) is not implemented in tinynet "
        f"yet; train in float32 without {name}"
    )


class GradScaler:
    """PyTorch's loss scaler for float16 training: not in tinynet yet (constructing one raises TinynetError)."""

    def __init__(self, *args, **kwargs) -> None:
        raise _missing("GradScaler")


class autocast:  # (PyTorch's lower-case name)
    """PyTorch's automatic mixed precision region: not in tinynet yet (constructing one raises TinynetError)."""

    def __init__(self, *args, **kwargs) -> None:
        raise _missing("autocast")


__all__ = ["GradScaler", "autocast"]
