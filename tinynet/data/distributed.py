"""``DistributedSampler``, as ``torch.utils.data.DistributedSampler``: each rank of a data-parallel run reads its
own share of the data set, the shares together covering it once per epoch."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sized

from tinynet import random
from tinynet.data.sampler import Sampler
from tinynet.errors import ArgumentError, TinynetError
from tinynet.sampling import randperm


class DistributedSampler(Sampler[int]):
    """The indices of rank ``rank``'s share of ``dataset``: every ``num_replicas``-th index from ``rank``, of the
    whole order (a permutation seeded by ``seed + epoch`` when ``shuffle``, the same on every rank).

    Every rank gets ``len(self)`` indices: without ``drop_last`` the order is padded with its own beginning up to
    a multiple of ``num_replicas`` (a few samples count twice); with it, the tail that does not divide is dropped.
    Call ``set_epoch(epoch)`` at the start of each epoch, or every epoch has the same order. ``num_replicas`` and
    ``rank`` default to ``tinynet.distributed``'s world size and rank.
    """

    def __init__(self, dataset: Sized, num_replicas: int | None = None, rank: int | None = None,
                 shuffle: bool = True, seed: int = 0, drop_last: bool = False) -> None:  # fmt: skip
        if num_replicas is None or rank is None:
            from tinynet import distributed as dist

            if not dist.is_available():
                raise TinynetError('Requires distributed package to be available (pip install -e ".[distributed]")')
            num_replicas = dist.get_world_size() if num_replicas is None else num_replicas
            rank = dist.get_rank() if rank is None else rank
        if rank >= num_replicas or rank < 0:
            raise ArgumentError(f"Invalid rank {rank}, rank should be in the interval [0, {num_replicas - 1}]")
        self.dataset = dataset
        self.num_replicas, self.rank = num_replicas, rank
        self.epoch = 0
        self.drop_last, self.shuffle, self.seed = drop_last, shuffle, seed
        n = len(dataset)
        if drop_last and n % num_replicas != 0:
            # Drop the tail so that every rank gets the same number of samples.
            self.num_samples = math.ceil((n - num_replicas) / num_replicas)
        else:
            self.num_samples = math.ceil(n / num_replicas)
        self.total_size = self.num_samples * num_replicas

    def __iter__(self) -> Iterator[int]:
        n = len(self.dataset)
        if self.shuffle:
            # Seeded by seed + epoch alone: every rank draws the same permutation and takes its own part of it.
            generator = random.Generator().manual_seed(self.seed + self.epoch)
            indices = randperm(n, generator=generator).tolist()
        else:
            indices = list(range(n))
        if not self.drop_last:
            padding = self.total_size - len(indices)
            if padding <= len(indices):
                indices += indices[:padding]
            else:
                indices += (indices * math.ceil(padding / len(indices)))[:padding]
        else:
            indices = indices[: self.total_size]
        return iter(indices[self.rank : self.total_size : self.num_replicas])

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """Which epoch comes next: with ``shuffle``, each epoch's order is drawn from ``seed + epoch``."""
        self.epoch = epoch
