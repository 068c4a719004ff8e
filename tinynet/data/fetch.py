"""Fetchers: what a DataLoader does with one entry of its sampler, in the main process or in a worker.

A map-style dataset gets indices (a list of them per batch, or one index with ``batch_size=None``); an
iterable dataset gets a placeholder per sample and yields its next samples. Either way ``collate_fn`` makes
the batch. A fetcher raises StopIteration when an iterable dataset has nothing left to give.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from tinynet.data.collate import default_collate
from tinynet.data.dataset import Dataset, IterableDataset, TensorDataset, fetch, take
from tinynet.data.sampler import Sampler


class MapFetcher:
    """Samples at the sampler's indices, collated."""

    def __init__(self, dataset: Dataset, auto_collation: bool, collate_fn: Callable, drop_last: bool) -> None:
        self.dataset, self.auto_collation, self.collate_fn = dataset, auto_collation, collate_fn
        # A TensorDataset batch under the default collation is its tensors indexed by the whole batch at once:
        # the same values as stacking the rows one by one, without a Python loop over the samples.
        self.slice_tensors = (
            auto_collation
            and collate_fn is default_collate
            and isinstance(dataset, TensorDataset)
            and type(dataset).__getitem__ is TensorDataset.__getitem__
            and getattr(dataset, "__getitems__", None) is None
        )

    def fetch(self, index) -> Any:
        if self.slice_tensors:
            rows = np.asarray(index, dtype=np.int64)
            return [take(t, rows) for t in self.dataset.tensors]  # a list, as default_collate makes of tuples
        if self.auto_collation:
            return self.collate_fn(fetch(self.dataset, list(index)))
        return self.collate_fn(self.dataset[index])


class IterableFetcher:
    """The dataset's next samples (``len(index)`` of them per batch), collated."""

    def __init__(self, dataset: IterableDataset, auto_collation: bool, collate_fn: Callable, drop_last: bool) -> None:
        self.samples = iter(dataset)
        self.auto_collation, self.collate_fn, self.drop_last = auto_collation, collate_fn, drop_last
        self.ended = False

    def fetch(self, index) -> Any:
        if self.ended:
            raise StopIteration
        if not self.auto_collation:
            return self.collate_fn(next(self.samples))
        batch = []
        for _ in index:
            try:
                batch.append(next(self.samples))
            except StopIteration:
                self.ended = True
                break
        if not batch or (self.drop_last and len(batch) < len(index)):
            raise StopIteration
        return self.collate_fn(batch)


def make_fetcher(dataset, auto_collation: bool, collate_fn: Callable, drop_last: bool) -> MapFetcher | IterableFetcher:
    """The fetcher for ``dataset``'s kind (iterable or map-style)."""
    kind = IterableFetcher if isinstance(dataset, IterableDataset) else MapFetcher
    return kind(dataset, auto_collation, collate_fn, drop_last)


class InfiniteConstantSampler(Sampler[None]):
    """An iterable dataset's sampler: a placeholder per sample, without end (the dataset decides when to stop)."""

    def __iter__(self):
        while True:
            yield None
