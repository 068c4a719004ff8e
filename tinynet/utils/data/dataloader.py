"""``torch.utils.data.dataloader``'s names, for programs that import them from there."""

from tinynet.data import DataLoader, default_collate, default_convert, get_worker_info

__all__ = ["DataLoader", "default_collate", "default_convert", "get_worker_info"]
