"""Samplers, as ``torch.utils.data``: which dataset indices a DataLoader fetches, in which order, and how they
are grouped into batches. A sampler is any iterable of indices (a BatchSampler: of lists of indices)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence, Sized
from typing import Generic, TypeVar

from tinynet import random
from tinynet.dtypes import float64
from tinynet.errors import ArgumentError, ArgumentTypeError, ShapeError
from tinynet.sampling import multinomial, randint, randperm
from tinynet.tensor import Tensor, tensor

T_co = TypeVar("T_co", covariant=True)


class Sampler(Generic[T_co]):
    """Base class of samplers: write ``__iter__`` (the indices, or lists of them) and, if it has one, ``__len__``."""

    def __init__(self, data_source: Sized | None = None) -> None:
        pass  # (PyTorch's takes data_source and ignores it: kept so subclasses may call super().__init__(ds))

    def __iter__(self) -> Iterator[T_co]:
        raise NotImplementedError(f"Subclasses of Sampler should implement __iter__ ({type(self).__name__})")


def epoch_generator() -> random.Generator:
    """A generator for one pass, seeded by a draw from the default generator (as PyTorch's RandomSampler does
    without a ``generator``): ``tn.manual_seed`` repeats every pass, and each pass has a new order."""
    seed = int(random.generator().integers(0, 2**63 - 1))
    return random.Generator().manual_seed(seed)


class SequentialSampler(Sampler[int]):
    """0, 1, ..., len(data_source) - 1."""

    def __init__(self, data_source: Sized) -> None:
        self.data_source = data_source

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)


class RandomSampler(Sampler[int]):
    """Indices in random order: a new permutation each pass, or with ``replacement`` independent draws.

    ``num_samples``: how many indices a pass gives (default ``len(data_source)``; without replacement, more
    than that chains whole permutations). ``generator``: a ``tn.Generator`` to draw from; without one each pass
    draws its seed from the default generator.
    """

    def __init__(self, data_source: Sized, replacement: bool = False, num_samples: int | None = None,
                 generator: random.Generator | None = None) -> None:  # fmt: skip
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator
        if not isinstance(replacement, bool):
            raise ArgumentTypeError(f"replacement should be a boolean value, but got replacement={replacement}")
        if not isinstance(self.num_samples, int) or isinstance(self.num_samples, bool) or self.num_samples <= 0:
            raise ArgumentError(
                f"num_samples should be a positive integer value, but got num_samples={self.num_samples}"
            )

    @property
    def num_samples(self) -> int:
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self) -> Iterator[int]:
        n = len(self.data_source)
        generator = self.generator if self.generator is not None else epoch_generator()
        if self.replacement:
            # Drawn 32 at a time, so a pass that stops early has not drawn all its numbers.
            for _ in range(self.num_samples // 32):
                yield from randint(n, (32,), generator=generator).tolist()
            yield from randint(n, (self.num_samples % 32,), generator=generator).tolist()
        else:
            for _ in range(self.num_samples // n):
                yield from randperm(n, generator=generator).tolist()
            yield from randperm(n, generator=generator).tolist()[: self.num_samples % n]

    def __len__(self) -> int:
        return self.num_samples


class SubsetRandomSampler(Sampler[int]):
    """The given ``indices`` in a random order, a new one each pass (e.g. a validation part of a dataset)."""

    def __init__(self, indices: Sequence[int], generator: random.Generator | None = None) -> None:
        self.indices = indices
        self.generator = generator

    def __iter__(self) -> Iterator[int]:
        for i in randperm(len(self.indices), generator=self.generator).tolist():
            yield self.indices[i]

    def __len__(self) -> int:
        return len(self.indices)


class WeightedRandomSampler(Sampler[int]):
    """``num_samples`` indices in 0..len(weights)-1, each drawn with probability proportional to its weight
    (``weights`` need not sum to 1); ``replacement=False`` draws each index at most once."""

    def __init__(self, weights: Sequence[float], num_samples: int, replacement: bool = True,
                 generator: random.Generator | None = None) -> None:  # fmt: skip
        if not isinstance(num_samples, int) or isinstance(num_samples, bool) or num_samples <= 0:
            raise ArgumentError(f"num_samples should be a positive integer value, but got num_samples={num_samples}")
        if not isinstance(replacement, bool):
            raise ArgumentError(f"replacement should be a boolean value, but got replacement={replacement}")
        weights = tensor(weights.array if isinstance(weights, Tensor) else weights, dtype=float64)
        if weights.ndim != 1:
            raise ShapeError(f"weights should be a 1d sequence but given weights have shape {tuple(weights.shape)}")
        self.weights = weights
        self.num_samples = num_samples
        self.replacement = replacement
        self.generator = generator

    def __iter__(self) -> Iterator[int]:
        draws = multinomial(self.weights, self.num_samples, self.replacement, generator=self.generator)
        return iter(draws.tolist())

    def __len__(self) -> int:
        return self.num_samples


class BatchSampler(Sampler[list[int]]):
    """Groups another sampler's indices into lists of ``batch_size``; ``drop_last`` drops a shorter last one.

    ``list(BatchSampler(SequentialSampler(range(10)), batch_size=3, drop_last=False))`` is
    ``[[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]``.
    """

    def __init__(self, sampler: Sampler[int] | Iterable[int], batch_size: int, drop_last: bool) -> None:
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size <= 0:
            raise ArgumentError(f"batch_size should be a positive integer value, but got batch_size={batch_size}")
        if not isinstance(drop_last, bool):
            raise ArgumentError(f"drop_last should be a boolean value, but got drop_last={drop_last}")
        self.sampler = sampler
        self.batch_size = batch_size
        self.drop_last = drop_last

    def __iter__(self) -> Iterator[list[int]]:
        batch = []
        for index in self.sampler:
            batch.append(index)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self) -> int:
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else (n + self.batch_size - 1) // self.batch_size
