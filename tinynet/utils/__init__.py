"""PyTorch's ``torch.utils``: ``tinynet.utils.data`` (datasets, samplers, DataLoader)."""

from tinynet.utils import data

__all__ = ["data"]
