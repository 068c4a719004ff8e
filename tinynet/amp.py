"""``tn.amp``, as ``torch.amp``: importable, so that programs which import it run. Mixed precision itself
(``autocast``, ``GradScaler``) is not in tinynet yet: using it raises a TinynetError that says so."""

from tinynet.cuda.amp import GradScaler, autocast

__all__ = ["GradScaler", "autocast"]
