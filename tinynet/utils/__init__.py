"""PyTorch's ``torch.utils``: ``tinynet.utils.data`` (datasets, samplers, DataLoader) and
``tinynet.utils.checkpoint`` (activation checkpointing)."""

from tinynet.utils import checkpoint, data

__all__ = ["checkpoint", "data"]
