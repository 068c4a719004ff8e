"""Datasets, as ``torch.utils.data``: a map-style dataset has ``ds[i]`` (and usually ``len(ds)``), an iterable one
is a stream (``iter(ds)``). TensorDataset, Subset, ConcatDataset, ChainDataset and StackDataset build datasets
out of others; ``random_split`` cuts one into random non-overlapping Subsets."""

from __future__ import annotations

import bisect
import itertools
import math
import warnings
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Generic, TypeVar

import numpy as np

from kernels.numpy_ref import array_module
from tinynet import random
from tinynet.errors import ArgumentError, ArgumentTypeError, IndexingError, ShapeError
from tinynet.sampling import randperm
from tinynet.tensor import Tensor

T_co = TypeVar("T_co", covariant=True)


class Dataset(Generic[T_co]):
    """Base class of map-style datasets: write ``__getitem__`` (sample i) and, for most samplers, ``__len__``.

    Like PyTorch's, it defines no ``__len__`` of its own (``len()`` of a dataset without one is a TypeError).
    A dataset may also define ``__getitems__(indices)``, a list of samples fetched in one go for a batch.
    ``a + b`` is ``ConcatDataset([a, b])``.
    """

    def __getitem__(self, index) -> T_co:
        raise NotImplementedError(
            f"Subclasses of Dataset should implement __getitem__ ({type(self).__name__} does not)"
        )

    def __add__(self, other: Dataset[T_co]) -> ConcatDataset[T_co]:
        return ConcatDataset([self, other])


class IterableDataset(Dataset[T_co]):
    """Base class of datasets that are streams: write ``__iter__``. A DataLoader with workers runs one copy
    per worker, each of which must yield its own share (split the stream with ``get_worker_info()``), or every
    sample comes ``num_workers`` times. ``a + b`` is ``ChainDataset([a, b])``."""

    def __iter__(self) -> Iterator[T_co]:
        raise NotImplementedError(f"Subclasses of IterableDataset should implement __iter__ ({type(self).__name__})")

    def __add__(self, other: Dataset[T_co]) -> ChainDataset:
        return ChainDataset([self, other])


class TensorDataset(Dataset[tuple[Tensor, ...]]):
    """Samples are rows of the given tensors: ``ds[i] == (t0[i], t1[i], ...)``.

    ``tensors``: each ``(N, ...)`` with the same N (e.g. features ``(N, D)`` and labels ``(N,)``).
    """

    def __init__(self, *tensors: Tensor) -> None:
        if not tensors:
            raise ArgumentError("TensorDataset: expected at least one tensor")
        if not all(isinstance(t, Tensor) and t.ndim > 0 for t in tensors):
            raise ArgumentTypeError(
                "TensorDataset: expected tensors with at least one dimension, got "
                + ", ".join(f"{type(t).__name__}{getattr(t, 'shape', '')}" for t in tensors)
            )
        if len({t.shape[0] for t in tensors}) > 1:
            raise ShapeError(
                f"TensorDataset: every tensor needs the same first dimension (the number of samples), got shapes "
                f"{[t.shape for t in tensors]}"
            )
        self.tensors = tensors

    def __len__(self) -> int:
        return self.tensors[0].shape[0]

    def __getitem__(self, index) -> tuple[Tensor, ...]:
        return tuple(t[index] for t in self.tensors)


class StackDataset(Dataset):
    """Datasets of the same length side by side: ``StackDataset(a, b)[i] == (a[i], b[i])``, and
    ``StackDataset(image=a, text=b)[i] == {"image": a[i], "text": b[i]}``."""

    def __init__(self, *args: Dataset, **kwargs: Dataset) -> None:
        if args and kwargs:
            raise ArgumentError(
                "StackDataset: give datasets either as arguments (tuples) or keywords (dicts), not both"
            )
        if not args and not kwargs:
            raise ArgumentError("StackDataset: at least one dataset should be passed")
        self.datasets: tuple | dict = args or kwargs
        lengths = [len(d) for d in (args or kwargs.values())]
        if len(set(lengths)) > 1:
            raise ArgumentError(f"StackDataset: size mismatch between datasets, lengths {lengths}")
        self._length = lengths[0]

    def __getitem__(self, index):
        if isinstance(self.datasets, dict):
            return {key: dataset[index] for key, dataset in self.datasets.items()}
        return tuple(dataset[index] for dataset in self.datasets)

    def __getitems__(self, indices: list) -> list:
        # Each part fetched in one go where it can (its own __getitems__), then regrouped sample by sample.
        parts = self.datasets.values() if isinstance(self.datasets, dict) else self.datasets
        columns = [fetch(dataset, indices) for dataset in parts]
        if isinstance(self.datasets, dict):
            return [dict(zip(self.datasets, row)) for row in zip(*columns)]
        return [tuple(row) for row in zip(*columns)]

    def __len__(self) -> int:
        return self._length


class ConcatDataset(Dataset[T_co]):
    """Map-style datasets one after the other: index ``len(a) + j`` of ``ConcatDataset([a, b])`` is ``b[j]``."""

    datasets: list[Dataset[T_co]]
    cumulative_sizes: list[int]

    def __init__(self, datasets: Iterable[Dataset]) -> None:
        self.datasets = list(datasets)
        if not self.datasets:
            raise ArgumentError("ConcatDataset: datasets should not be an empty iterable")
        for dataset in self.datasets:
            if isinstance(dataset, IterableDataset):
                raise ArgumentTypeError("ConcatDataset does not support IterableDataset (ChainDataset chains those)")
        self.cumulative_sizes = list(itertools.accumulate(len(d) for d in self.datasets))

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, idx: int) -> T_co:
        if idx < 0:
            if -idx > len(self):
                raise ArgumentError("absolute value of index should not exceed dataset length")
            idx += len(self)
        part = bisect.bisect_right(self.cumulative_sizes, idx)
        if part == len(self.datasets):
            raise IndexingError(f"ConcatDataset: index {idx} is out of range for a dataset of length {len(self)}")
        return self.datasets[part][idx - (self.cumulative_sizes[part - 1] if part else 0)]


class ChainDataset(IterableDataset):
    """Iterable datasets one after the other (a stream of streams), chained as they are iterated."""

    def __init__(self, datasets: Iterable[Dataset]) -> None:
        self.datasets = datasets

    def __iter__(self) -> Iterator:
        for dataset in self.datasets:
            if not isinstance(dataset, IterableDataset):
                raise ArgumentTypeError("ChainDataset only supports IterableDataset")
            yield from dataset

    def __len__(self) -> int:
        total = 0
        for dataset in self.datasets:
            if not isinstance(dataset, IterableDataset):
                raise ArgumentTypeError("ChainDataset only supports IterableDataset")
            total += len(dataset)
        return total


class Subset(Dataset[T_co]):
    """The samples of ``dataset`` at ``indices``, in that order: ``Subset(ds, [4, 1])[0] is ds[4]``."""

    def __init__(self, dataset: Dataset[T_co], indices: Sequence[int]) -> None:
        self.dataset = dataset
        self.indices = indices

    def __getitem__(self, idx):
        if isinstance(idx, list):
            return self.dataset[[self.indices[i] for i in idx]]
        return self.dataset[self.indices[idx]]

    def __getitems__(self, indices: list[int]) -> list[T_co]:
        return fetch(self.dataset, [self.indices[i] for i in indices])

    def __len__(self) -> int:
        return len(self.indices)


def fetch(dataset: Dataset, indices: list) -> list:
    """The samples at ``indices``: one ``__getitems__`` call where the dataset has it, else ``ds[i]`` for each."""
    getitems = getattr(dataset, "__getitems__", None)
    if callable(getitems):
        samples = getitems(indices)
        if len(samples) != len(indices):
            raise ArgumentError(f"{type(dataset).__name__}.__getitems__ gave {len(samples)} samples for {len(indices)}")
        return samples
    return [dataset[i] for i in indices]


def random_split(dataset: Dataset[T_co], lengths: Sequence[int | float],
                 generator: random.Generator | None = random.default_generator) -> list[Subset[T_co]]:  # fmt: skip
    """Split ``dataset`` into random non-overlapping Subsets of the given lengths.

    ``lengths``: sample counts that add up to ``len(dataset)``, or fractions that add up to 1 (each part gets
    ``floor(frac * len)`` samples, and the samples left over go one each to the parts in turn from the first).
    ``generator``: where the permutation is drawn from (``tn.Generator().manual_seed(42)`` repeats the split).
    """
    n = len(dataset)
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        counts = []
        for i, fraction in enumerate(lengths):
            if not 0 <= fraction <= 1:
                raise ArgumentError(f"random_split: fraction at index {i} is not between 0 and 1")
            counts.append(math.floor(n * fraction))
        for i in range(n - sum(counts)):  # the remainder, round-robin
            counts[i % len(counts)] += 1
        for i, count in enumerate(counts):
            if count == 0:
                warnings.warn(
                    f"Length of split at index {i} is 0. This might result in an empty dataset.", stacklevel=2
                )
        lengths = counts
    if sum(lengths) != n:
        raise ArgumentError(
            f"random_split: sum of input lengths ({sum(lengths)}) does not equal the length of the input dataset ({n})"
        )
    indices = randperm(sum(lengths), generator=generator).tolist()
    ends = list(itertools.accumulate(lengths))
    return [Subset(dataset, indices[end - length : end]) for end, length in zip(ends, lengths)]


def take(data, index: np.ndarray) -> Any:
    """Rows ``index`` of a Tensor (on its own device) or of an array-like, keeping its type."""
    if isinstance(data, Tensor):
        return data[Tensor(array_module(data.array).asarray(index))]
    if isinstance(data, (list, tuple)):
        return [data[i] for i in index]
    return data[index]
