"""DataLoader: a dataset in (optionally shuffled) mini-batches of tinynet Tensors."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np

from tinynet import random
from tinynet.data.dataset import Dataset, TensorDataset, take
from tinynet.errors import ArgumentError
from tinynet.functions import stack
from tinynet.tensor import Tensor, tensor


class DataLoader:
    """Iterate over ``dataset`` in batches of ``batch_size`` samples, as ``torch.utils.data.DataLoader``.

    ``shuffle`` draws a new order every epoch from tinynet's generator (so ``tn.manual_seed`` repeats
    it); ``drop_last`` skips a final batch smaller than ``batch_size``. Samples are stacked along a
    new first dimension: a dataset of ``(x, y)`` pairs gives batches ``(x: (B, ...), y: (B, ...))``.
    A TensorDataset is sliced with one index array per batch instead of sample by sample.
    """

    def __init__(self, dataset: Dataset, batch_size: int = 1, shuffle: bool = False, drop_last: bool = False) -> None:
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ArgumentError(f"DataLoader: batch_size must be a positive integer, got {batch_size!r}")
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last

    def __len__(self) -> int:
        """The number of batches in one epoch."""
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __iter__(self) -> Iterator[Any]:
        n = len(self.dataset)
        order = random.generator().permutation(n) if self.shuffle else np.arange(n)
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            index = order[start : start + self.batch_size]
            if isinstance(self.dataset, TensorDataset):
                yield tuple(take(t, index) for t in self.dataset.tensors)
            else:
                yield collate([self.dataset[int(i)] for i in index])


def cycle(loader: DataLoader) -> Iterator[Any]:
    """``loader``'s batches without end, a newly shuffled pass each time one is done: for training loops
    counted in steps rather than epochs (``for step, (x, y) in zip(range(8000), cycle(loader))``)."""
    while True:
        yield from loader


def collate(samples: list) -> Any:
    """One batch from a list of samples: Tensors, arrays and numbers are stacked along a new dim 0;
    tuples/lists and dicts are collated field by field."""
    first = samples[0]
    if isinstance(first, Tensor):
        return stack(samples)
    if isinstance(first, (tuple, list)):
        return type(first)(collate(list(field)) for field in zip(*samples))
    if isinstance(first, dict):
        return {key: collate([s[key] for s in samples]) for key in first}
    array = np.stack([np.asarray(s) for s in samples])
    # Keep the samples' dtype: float64 NumPy samples stay float64 rather than becoming the default dtype.
    return tensor(array, dtype=array.dtype)
