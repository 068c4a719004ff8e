"""DataLoader worker processes: the loop each worker runs, what it knows about itself (``get_worker_info``),
and how its errors travel back to the main process.

A worker receives ``(task_index, sampler_entry)`` on its own queue, fetches and collates that batch, and puts
``(task_index, pickled_batch)`` on the queue it shares with the other workers; the main process puts the
batches back in task order. Each worker is seeded as PyTorch seeds its workers: with ``seed = base_seed +
worker_id``, Python's ``random`` and tinynet's default generator get ``seed``, NumPy's global generator a state
derived from (base_seed, worker_id) by NumPy's SeedSequence, so no two workers draw the same numbers.
"""

from __future__ import annotations

import os
import pickle
import queue
import random as py_random
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from tinynet import random
from tinynet.data.fetch import make_fetcher

# How often an idle worker checks that the main process is still there (seconds).
STATUS_CHECK_INTERVAL = 5.0
RESUME = "resume"  # the task that starts a new epoch on persistent workers (answered with the same word)


class WorkerInfo:
    """What a worker knows about itself: ``id`` (0..num_workers-1), ``num_workers``, ``seed`` (its generators'
    seed) and ``dataset`` (this worker's own copy). Read-only once made."""

    id: int
    num_workers: int
    seed: int
    dataset: Any

    def __init__(self, **fields) -> None:
        for name, value in fields.items():
            object.__setattr__(self, name, value)
        object.__setattr__(self, "_fields", tuple(fields))

    def __setattr__(self, name: str, value) -> None:
        raise AttributeError(f"cannot assign attributes to {type(self).__name__} objects")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={getattr(self, k)!r}' for k in self._fields)})"


_worker_info: WorkerInfo | None = None


def get_worker_info() -> WorkerInfo | None:
    """In a DataLoader worker process, its WorkerInfo; in the main process, None.

    An IterableDataset uses it to give each worker a different share of the stream:
    ``info = get_worker_info(); yield from samples[info.id :: info.num_workers]``.
    """
    return _worker_info


class ExceptionWrapper:
    """An exception raised in a worker, carried to the main process with its traceback as text."""

    def __init__(self, where: str) -> None:
        exc_info = sys.exc_info()
        kind = self.exc_type = exc_info[0]
        trace = "".join(traceback.format_exception(*exc_info)[1:])  # [1:]: without its own "Traceback" line
        self.message = f"Caught {kind.__name__} {where}.\nOriginal Traceback (most recent call last):\n{trace}"

    def reraise(self):
        """Raise the worker's exception type in this process, its message naming the worker and its traceback."""
        message = self.message
        if self.exc_type is KeyError:  # KeyError shows its argument's repr: keep the traceback's lines readable
            message = _Verbatim(message)
        try:
            error = self.exc_type(message)
        except Exception:  # an exception type that cannot be built from one message
            raise RuntimeError(self.message) from None
        raise error


class _Verbatim(str):
    """A string whose repr is itself (what KeyError prints)."""

    def __repr__(self) -> str:
        return str(self)


def numpy_seed(base_seed: int, worker_id: int) -> list[int]:
    """The state PyTorch gives NumPy's global generator in worker ``worker_id``: NumPy's SeedSequence over
    (worker_id, the low and high 32 bits of base_seed, 0), four 32-bit words."""
    entropy = [worker_id, base_seed & 0xFFFF_FFFF, base_seed >> 32, 0]
    return np.random.SeedSequence(entropy).generate_state(4).tolist()


@dataclass
class WorkerArgs:
    """Everything a worker needs, sent to it when it starts (pickled, under the spawn start method)."""

    dataset: Any
    auto_collation: bool
    collate_fn: Callable
    drop_last: bool
    base_seed: int
    worker_init_fn: Callable | None
    worker_id: int
    num_workers: int


def worker_loop(args: WorkerArgs, index_queue, data_queue, parent_pid: int) -> None:
    """Fetch batches for the tasks on ``index_queue`` until it says None (or the main process is gone)."""
    global _worker_info
    seed = args.base_seed + args.worker_id
    py_random.seed(seed)
    random.manual_seed(seed)
    np.random.seed(numpy_seed(args.base_seed, args.worker_id))
    _worker_info = WorkerInfo(id=args.worker_id, num_workers=args.num_workers, seed=seed, dataset=args.dataset)
    where = f"in DataLoader worker process {args.worker_id}"

    def start():
        # A fresh fetcher: a new pass over an iterable dataset (each persistent-worker epoch makes one).
        return make_fetcher(args.dataset, args.auto_collation, args.collate_fn, args.drop_last)

    fetcher, init_error = None, None
    try:
        if args.worker_init_fn is not None:
            args.worker_init_fn(args.worker_id)
        fetcher = start()
    except Exception:
        init_error = ExceptionWrapper(where)  # given back as the answer to the first task
    ended = False
    while True:
        try:
            task = index_queue.get(timeout=STATUS_CHECK_INTERVAL)
        except queue.Empty:
            if os.getppid() != parent_pid:  # the main process died: nobody will send None
                break
            continue
        if task is None:
            break
        if task == RESUME:
            ended = False
            if init_error is None:
                try:
                    fetcher = start()
                except Exception:
                    init_error = ExceptionWrapper(where)
            data_queue.put((RESUME, None))
            continue
        if ended:  # this worker's share of an iterable dataset is done; the main process stops sending soon
            continue
        task_index, entry = task
        if init_error is not None:
            data, init_error = init_error, None
        else:
            try:
                data = fetcher.fetch(entry)
            except StopIteration:
                data, ended = StopIteration, True  # (only iterable datasets stop; the main process marks us done)
            except Exception:
                data = ExceptionWrapper(where)
        data_queue.put((task_index, _pickled(data, where)))
    # The main process reads nothing more: do not wait at exit for the queue to flush to it.
    data_queue.cancel_join_thread()


def _pickled(data, where: str) -> bytes:
    # Pickled here rather than by the queue's feeder thread, where a batch that cannot be pickled would be
    # printed and dropped, leaving the main process waiting for it forever.
    try:
        return pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:
        return pickle.dumps(ExceptionWrapper(where + " (sending its batch to the main process)"))
