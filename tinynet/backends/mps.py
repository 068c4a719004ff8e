"""``tn.backends.mps``, as ``torch.backends.mps``: tinynet has no Apple-GPU (MPS) device."""


def is_available() -> bool:
    """False: tinynet runs on the CPU or, through CuPy, on NVIDIA GPUs."""
    return False


def is_built() -> bool:
    """False: no MPS support in tinynet."""
    return False
