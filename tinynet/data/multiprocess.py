"""The main process's side of a DataLoader with ``num_workers > 0``: it hands batches' indices to worker
processes round-robin, keeps ``prefetch_factor`` tasks per worker in flight, and gives the batches back in the
sampler's order (or as they come, with ``in_order=False``), re-raising a worker's error here.

Task k goes to worker ``k mod num_workers`` (skipping workers whose share of an iterable dataset is done), so
batch k comes from that worker; its result may arrive before batch k-1's, and then waits in ``pending``.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import pickle
import queue
from typing import Any

from tinynet.data.worker import RESUME, ExceptionWrapper, WorkerArgs, worker_loop
from tinynet.errors import TinynetError

# How long the main process waits for a batch before checking that the workers are alive (seconds).
LIVENESS_CHECK_INTERVAL = 1.0
# How long a worker gets to exit when told to before it is terminated (seconds).
SHUTDOWN_TIMEOUT = 5.0


class DataLoaderWorkerError(TinynetError, RuntimeError):
    """A worker process died (killed, out of memory, a crash in native code), or no batch came in ``timeout``."""


class MultiProcessIter:
    """One pass over a DataLoader with worker processes (kept across passes with ``persistent_workers``)."""

    def __init__(self, loader, base_seed: int) -> None:
        self.loader = loader
        self.workers: list = []
        self.index_queues: list = []
        self.shut = False
        context = loader.multiprocessing_context or multiprocessing.get_context()
        self.data_queue = context.Queue()
        for worker_id in range(loader.num_workers):
            index_queue = context.Queue()
            index_queue.cancel_join_thread()  # a dead worker leaves tasks unread: do not wait for them at exit
            args = WorkerArgs(loader.dataset, loader._auto_collation, loader.collate_fn, loader.drop_last, base_seed,
                              loader.worker_init_fn, worker_id, loader.num_workers)  # fmt: skip
            worker = context.Process(target=worker_loop, args=(args, index_queue, self.data_queue, os.getpid()),
                                     daemon=True)  # fmt: skip
            worker.start()
            self.workers.append(worker)
            self.index_queues.append(index_queue)
        self._start_pass(first=True)

    # --- one pass -----------------------------------------------------------------------------------------

    def _start_pass(self, first: bool = False) -> None:
        self.sampler_iter = iter(self.loader._index_sampler)
        self.active = [True] * len(self.workers)  # False: that worker's share of an iterable dataset is done
        self.next_worker = itertools.cycle(range(len(self.workers)))
        self.sent = self.received = 0  # task numbers: the next to send, the next to give back
        self.owner: dict[int, int] = {}  # task in flight -> the worker doing it
        self.pending: dict[int, Any] = {}  # results that came before their turn
        if not first:  # persistent workers: start a new pass, and drop what the last one left in flight
            for index_queue in self.index_queues:
                index_queue.put(RESUME)
            acknowledged = 0
            while acknowledged < len(self.workers):
                task_index, _ = self._get()
                acknowledged += task_index == RESUME
        for _ in range(self.loader.prefetch_factor * len(self.workers)):
            self._send_next()

    def _send_next(self) -> None:
        """Send the sampler's next entry to the next worker still active, if there are both."""
        if len(self.owner) >= self.loader.prefetch_factor * len(self.workers) or not any(self.active):
            return
        try:
            entry = next(self.sampler_iter)
        except StopIteration:
            return
        worker_id = next(w for w in self.next_worker if self.active[w])
        self.index_queues[worker_id].put((self.sent, entry))
        self.owner[self.sent] = worker_id
        self.sent += 1

    def __iter__(self) -> MultiProcessIter:
        return self

    def __next__(self) -> Any:
        while True:
            # Skip tasks that will never give a batch: those of workers whose iterable share ended.
            while self.received < self.sent and self.received not in self.pending:
                if self.received in self.owner and self.active[self.owner[self.received]]:
                    break
                self.owner.pop(self.received, None)
                self.received += 1
            if self.received >= self.sent:
                if not self.loader.persistent_workers:
                    self.shutdown()
                raise StopIteration
            if self.received in self.pending:
                data = self.pending.pop(self.received)
                self.received += 1
                return self._deliver(data)
            task_index, payload = self._get()
            if task_index == RESUME:  # a stray acknowledgement (cannot happen mid-pass; ignored)
                continue
            worker_id = self.owner.pop(task_index)
            data = pickle.loads(payload)
            if data is StopIteration:  # that worker's share of the iterable dataset is done
                self.active[worker_id] = False
                self._send_next()
                continue
            if task_index == self.received or not self.loader.in_order:
                if task_index == self.received:
                    self.received += 1
                return self._deliver(data)
            self.pending[task_index] = data

    def _deliver(self, data) -> Any:
        self._send_next()
        if isinstance(data, ExceptionWrapper):
            data.reraise()
        return data

    def _get(self) -> tuple:
        """The next message from any worker, checking meanwhile that the workers live (and ``timeout``)."""
        timeout = self.loader.timeout
        waited = 0.0
        while True:
            wait = min(LIVENESS_CHECK_INTERVAL, timeout - waited) if timeout > 0 else LIVENESS_CHECK_INTERVAL
            try:
                return self.data_queue.get(timeout=wait)
            except queue.Empty:
                waited += wait
            dead = [w for w in self.workers if not w.is_alive()]
            if dead:
                pids = ", ".join(str(w.pid) for w in dead)
                codes = ", ".join(str(w.exitcode) for w in dead)
                self.shutdown()
                raise DataLoaderWorkerError(
                    f"DataLoader worker (pid(s) {pids}) exited unexpectedly (exit codes {codes})"
                )
            if timeout > 0 and waited >= timeout:
                self.shutdown()
                raise DataLoaderWorkerError(f"DataLoader timed out after {timeout} seconds")

    # --- the workers' end --------------------------------------------------------------------------------

    def reset(self) -> None:
        """A new pass on the same (persistent) workers."""
        self._start_pass()

    def shutdown(self) -> None:
        """Tell every worker to stop, wait for it a little, and terminate any that does not."""
        if self.shut:
            return
        self.shut = True
        for index_queue in self.index_queues:
            try:
                index_queue.put(None)
            except (OSError, ValueError):
                pass
        for worker in self.workers:
            worker.join(SHUTDOWN_TIMEOUT)
            if worker.is_alive():
                worker.terminate()
                worker.join()
        for q in (*self.index_queues, self.data_queue):
            q.cancel_join_thread()
            q.close()

    def __del__(self) -> None:
        if getattr(self, "workers", None) is not None and not getattr(self, "shut", True):
            self.shutdown()
