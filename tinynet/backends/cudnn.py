"""``tn.backends.cudnn``, as ``torch.backends.cudnn``: flags accepted for PyTorch programs, with no effect
(tinynet has no cuDNN). Set them as PyTorch's: ``cudnn.benchmark = True``."""

benchmark: bool = False
deterministic: bool = False
enabled: bool = True
allow_tf32: bool = True


def is_available() -> bool:
    """False: tinynet does not use cuDNN."""
    return False


def version() -> None:
    """None: no cuDNN."""
    return None
