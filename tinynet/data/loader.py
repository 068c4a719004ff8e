"""DataLoader, as ``torch.utils.data.DataLoader``: a dataset as an iterable of batches, loaded in this process or
by worker processes (``num_workers``)."""

from __future__ import annotations

import multiprocessing
import multiprocessing.context
import os
import warnings
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from tinynet import random
from tinynet.data.collate import default_collate, default_convert
from tinynet.data.dataset import Dataset, IterableDataset
from tinynet.data.fetch import InfiniteConstantSampler, make_fetcher
from tinynet.data.multiprocess import MultiProcessIter
from tinynet.data.sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler
from tinynet.errors import ArgumentError, ArgumentTypeError

# Set once, at the end of __init__: changing them afterwards would not change the samplers made from them.
_FROZEN_AFTER_INIT = ("batch_size", "batch_sampler", "sampler", "drop_last", "dataset", "persistent_workers")


class DataLoader:
    """Iterate over ``dataset`` in batches, as ``torch.utils.data.DataLoader``.

    ``batch_size`` samples per batch (None: one sample at a time, not collated, only NumPy arrays converted);
    ``shuffle`` draws a new order each pass (from ``generator``, else the default generator, so
    ``tn.manual_seed`` repeats it); ``sampler`` / ``batch_sampler`` choose the indices instead;
    ``drop_last`` drops a final batch smaller than ``batch_size``; ``collate_fn`` makes a batch from a list of
    samples (default: ``default_collate``, which stacks along a new first dimension: ``(x, y)`` samples give
    ``[x: (B, ...), y: (B, ...)]``).

    ``num_workers > 0`` loads batches in that many worker processes (``multiprocessing_context``: a start
    method or context, else the platform's default), each keeping ``prefetch_factor`` (default 2) batches
    ahead; batches still come in the sampler's order (``in_order=False``: as they are ready). Each worker has
    its own copy of the dataset and its own seeds (``get_worker_info()`` in a worker says which it is);
    ``worker_init_fn(worker_id)`` runs in each as it starts; ``persistent_workers`` keeps them between passes;
    ``timeout`` (seconds, 0: none) bounds the wait for one batch. An error in a worker is raised here, naming it.

    ``pin_memory`` / ``pin_memory_device`` are accepted and change nothing: tinynet copies batches to the GPU
    from ordinary host memory.
    """

    def __init__(self, dataset: Dataset, batch_size: int | None = 1, shuffle: bool | None = None,
                 sampler: Sampler | Iterable | None = None, batch_sampler: Sampler | Iterable | None = None,
                 num_workers: int = 0, collate_fn: Callable | None = None, pin_memory: bool = False,
                 drop_last: bool = False, timeout: float = 0, worker_init_fn: Callable | None = None,
                 multiprocessing_context=None, generator: random.Generator | None = None, *,
                 prefetch_factor: int | None = None, persistent_workers: bool = False, pin_memory_device: str = "",
                 in_order: bool = True) -> None:  # fmt: skip
        if not isinstance(num_workers, int) or num_workers < 0:
            raise ArgumentError(
                "num_workers option should be non-negative; use num_workers=0 to disable multiprocessing."
            )
        if timeout < 0:
            raise ArgumentError("timeout option should be non-negative")
        if num_workers == 0 and prefetch_factor is not None:
            raise ArgumentError(
                "prefetch_factor option could only be specified in multiprocessing. Let num_workers > 0 to enable "
                "multiprocessing, otherwise set prefetch_factor to None."
            )
        if num_workers > 0 and prefetch_factor is None:
            prefetch_factor = 2
        if prefetch_factor is not None and prefetch_factor < 0:
            raise ArgumentError(f"prefetch_factor option should be non-negative, got {prefetch_factor}")
        if persistent_workers and num_workers == 0:
            raise ArgumentError("persistent_workers option needs num_workers > 0")

        if isinstance(dataset, IterableDataset):
            # A stream has no indices: its order is its own, and a sampler has nothing to pick.
            for name, value in (("shuffle", shuffle), ("sampler", sampler), ("batch_sampler", batch_sampler)):
                if value is not None and value is not False:
                    raise ArgumentError(
                        f"DataLoader with IterableDataset: expected unspecified {name} option, but got {name}={value}"
                    )
        else:
            shuffle = bool(shuffle)
        if sampler is not None and shuffle:
            raise ArgumentError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ArgumentError(
                    "batch_sampler option is mutually exclusive with batch_size, shuffle, sampler, and drop_last"
                )
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ArgumentError(
                "batch_size=None option disables auto-batching and is mutually exclusive with drop_last"
            )
        if sampler is None:
            if isinstance(dataset, IterableDataset):
                sampler = InfiniteConstantSampler()
            elif shuffle:
                sampler = RandomSampler(dataset, generator=generator)
            else:
                sampler = SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)

        self.dataset = dataset
        self.num_workers = num_workers
        self.prefetch_factor = prefetch_factor
        self.pin_memory = pin_memory
        self.pin_memory_device = pin_memory_device
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.generator = generator
        self.collate_fn = collate_fn if collate_fn is not None else (
            default_collate if batch_sampler is not None else default_convert
        )  # fmt: skip
        self.persistent_workers = persistent_workers
        self.in_order = in_order
        self._iterator: MultiProcessIter | None = None
        self._initialized = True
        _check_worker_count(num_workers)

    def __setattr__(self, name: str, value) -> None:
        if getattr(self, "_initialized", False) and name in _FROZEN_AFTER_INIT:
            raise ArgumentError(f"{name} attribute should not be set after {type(self).__name__} is initialized")
        super().__setattr__(name, value)

    @property
    def multiprocessing_context(self) -> multiprocessing.context.BaseContext | None:
        return self._multiprocessing_context

    @multiprocessing_context.setter
    def multiprocessing_context(self, context) -> None:
        if context is not None:
            if self.num_workers == 0:
                raise ArgumentError(
                    "multiprocessing_context can only be used with multi-process loading (num_workers > 0), but got "
                    f"num_workers={self.num_workers}"
                )
            if isinstance(context, str):
                methods = multiprocessing.get_all_start_methods()
                if context not in methods:
                    raise ArgumentError(
                        f"multiprocessing_context option should specify a valid start method in {methods!r}, but "
                        f"got multiprocessing_context={context!r}"
                    )
                context = multiprocessing.get_context(context)
            elif not isinstance(context, multiprocessing.context.BaseContext):
                raise ArgumentTypeError(
                    "multiprocessing_context option should be a valid context object or a string specifying the "
                    f"start method, but got multiprocessing_context={context}"
                )
        self._multiprocessing_context = context

    @property
    def _auto_collation(self) -> bool:
        return self.batch_sampler is not None

    @property
    def _index_sampler(self) -> Iterable:
        # What the fetcher is given: lists of indices per batch, or single indices without batching.
        return self.batch_sampler if self._auto_collation else self.sampler

    def __len__(self) -> int:
        """The number of batches in one pass (for an IterableDataset: from its ``__len__``, which it must have)."""
        if isinstance(self.dataset, IterableDataset):
            n = len(self.dataset)
            if self.batch_size is not None:
                n = n // self.batch_size if self.drop_last else -(-n // self.batch_size)
            return n
        return len(self._index_sampler)

    def __iter__(self) -> Iterator[Any]:
        # Every pass draws a base seed for its workers, as PyTorch's does (with or without workers), so a
        # program's later draws from the default generator are the same whatever num_workers is.
        base_seed = int(random.generator(self.generator, "DataLoader").integers(0, 2**63 - 1))
        if self.num_workers == 0:
            return SingleProcessIter(self)
        if self.persistent_workers:
            if self._iterator is None or self._iterator.shut:
                self._iterator = MultiProcessIter(self, base_seed)
            else:
                self._iterator.reset()
            return self._iterator
        return MultiProcessIter(self, base_seed)


class SingleProcessIter:
    """One pass over a DataLoader in this process."""

    def __init__(self, loader: DataLoader) -> None:
        self.sampler_iter = iter(loader._index_sampler)
        self.fetcher = make_fetcher(loader.dataset, loader._auto_collation, loader.collate_fn, loader.drop_last)

    def __iter__(self) -> SingleProcessIter:
        return self

    def __next__(self) -> Any:
        return self.fetcher.fetch(next(self.sampler_iter))  # either one's StopIteration ends the pass


def _check_worker_count(num_workers: int) -> None:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    if cpus and num_workers > cpus:
        warnings.warn(
            f"This DataLoader will create {num_workers} worker processes in total. The suggested maximum on this "
            f"system is {cpus}: too many workers may make loading slow or freeze it. Consider fewer.",
            UserWarning,
            stacklevel=3,
        )


def cycle(loader: DataLoader) -> Iterator[Any]:
    """``loader``'s batches without end, a newly shuffled pass each time one is done: for training loops
    counted in steps rather than epochs (``for step, (x, y) in zip(range(8000), cycle(loader))``)."""
    while True:
        yield from loader
