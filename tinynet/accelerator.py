"""``tn.accelerator``, as ``torch.accelerator``: the device-neutral way newer PyTorch programs ask for a GPU.
tinynet's one accelerator is CUDA (through the cupy backend); see ``tn.cuda``."""

from __future__ import annotations

from tinynet import cuda
from tinynet.device import device


def is_available() -> bool:
    """Whether a GPU can run tinynet's tensors here."""
    return cuda.is_available()


def current_accelerator(check_available: bool = False) -> device | None:
    """device(type='cuda') where a GPU can run, else None (as PyTorch answers on a machine without one)."""
    return device("cuda") if cuda.is_available() else None


def device_count() -> int:
    """How many GPUs can be seen (0 where none can run)."""
    return cuda.device_count()


def current_device_index() -> int:
    """The GPU tinynet computes on: 0 (raises BackendError where none can run)."""
    return cuda.current_device()


def synchronize(device=None) -> None:
    """Wait for the GPU's queued kernels (raises BackendError where none can run)."""
    cuda.synchronize(device)


__all__ = ["current_accelerator", "current_device_index", "device_count", "is_available", "synchronize"]
