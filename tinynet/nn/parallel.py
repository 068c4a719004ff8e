"""``nn.parallel``, as ``torch.nn.parallel``: ``DistributedDataParallel`` trains one model in several processes
(ranks, started by ``mpiexec``), each on its share of every batch, averaging the gradients so that every rank
takes the same step.

How it works, as PyTorch's: at construction rank 0's parameters and buffers are copied to every rank. The
parameters are grouped into buckets (about ``bucket_cap_mb`` each, in the reverse of their order in the model,
which is about the order backward reaches them). During backward, a hook on each parameter
(``register_post_accumulate_grad_hook``) notes its gradient is ready; when a whole bucket is, its gradients are
copied into one flat buffer and a non-blocking MPI all-reduce of it starts, while backward goes on with the
layers below. When the last bucket has started, backward waits for them all, divides by the world size and
writes the averages back into each ``.grad``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np

from kernels.numpy_ref import array_module
from tinynet import autograd
from tinynet import distributed as dist
from tinynet.errors import ArgumentError, GraphError, TinynetError
from tinynet.nn.module import Module
from tinynet.tensor import Tensor, to_host

_MB = 1024 * 1024
_FIRST_BUCKET_BYTES = 1 * _MB  # the first bucket (the last layers) small, so that communication starts early


class _Bucket:
    """Parameters whose gradients travel together: one flat host buffer, one all-reduce."""

    def __init__(self, params: list, dtype: np.dtype) -> None:
        self.params = params
        self.dtype = dtype  # of the flat buffer: the parameters' (16-bit floats go as float32, see _wire_dtype)
        self.sizes = [int(p.array.size) for p in params]
        self.offsets = np.concatenate([[0], np.cumsum(self.sizes)]).astype(int)
        self.buffer = np.zeros(int(self.offsets[-1]), dtype=dtype)
        self.ready: set[int] = set()  # ids of the parameters whose gradient this backward is ready
        self.request = None  # the pending all-reduce

    def fill(self, unused: set[int]) -> None:
        """Copy the parameters' gradients into the buffer (zeros for those this rank did not use)."""
        for p, start, end in zip(self.params, self.offsets[:-1], self.offsets[1:]):
            if id(p) in unused or p.grad is None:
                self.buffer[start:end] = 0
            else:
                self.buffer[start:end] = to_host(p.grad.array).ravel()


class DistributedDataParallel(Module):
    """PyTorch's ``DistributedDataParallel``: wraps ``module`` so that backward averages its gradients across the
    ranks of ``tinynet.distributed`` (call ``dist.init_process_group`` first).

    Each rank feeds its own part of the batch (``DistributedSampler``); after ``loss.backward()`` every rank holds
    the gradients of the whole batch's mean loss, so the optimizers take identical steps. The wrapped model is
    ``.module`` (save ``ddp.module.state_dict()`` for a plain model). ``no_sync()``: backward passes whose forward ran
    inside it only accumulate locally (gradient accumulation); the first synchronised one averages the total.

    bucket_cap_mb: size of the gradient buckets (25 MB). find_unused_parameters: find, at each forward, parameters
    the output does not depend on, so that backward does not wait for them. broadcast_buffers: copy rank 0's
    buffers (batch-norm statistics) to every rank before each forward. device_ids, output_device, dim,
    gradient_as_bucket_view, static_graph: accepted for PyTorch programs; the values are the same either way.
    """

    def __init__(self, module: Module, device_ids=None, output_device=None, dim: int = 0,
                 broadcast_buffers: bool | None = None, init_sync: bool = True, process_group=None,
                 bucket_cap_mb: float | None = None, find_unused_parameters: bool = False,
                 check_reduction: bool = False, gradient_as_bucket_view: bool = False, static_graph: bool = False,
                 delay_all_reduce_named_params=None, param_to_hook_all_reduce=None, mixed_precision=None,
                 device_mesh=None) -> None:  # fmt: skip
        super().__init__()
        for name, value in (("delay_all_reduce_named_params", delay_all_reduce_named_params),
                            ("param_to_hook_all_reduce", param_to_hook_all_reduce),
                            ("mixed_precision", mixed_precision), ("device_mesh", device_mesh)):  # fmt: skip
            if value is not None:
                raise TinynetError(f"DistributedDataParallel: {name} is not implemented in tinynet yet")
        if not isinstance(module, Module):
            raise ArgumentError(f"DistributedDataParallel: module must be an nn.Module, not {type(module).__name__}")
        params = [p for p in module.parameters() if p.requires_grad]
        if not params:
            raise ArgumentError(
                "DistributedDataParallel is not needed when a module doesn't have any parameter that requires a "
                "gradient."
            )
        self._comm = dist._group(process_group, "DistributedDataParallel")  # raises unless initialised
        self.module = module
        self.dim, self.device_ids, self.output_device = dim, device_ids, output_device
        self.broadcast_buffers = True if broadcast_buffers is None else bool(broadcast_buffers)
        self.find_unused_parameters = find_unused_parameters
        self.gradient_as_bucket_view, self.static_graph = gradient_as_bucket_view, static_graph
        self.bucket_bytes_cap = int((25 if bucket_cap_mb is None else bucket_cap_mb) * _MB)
        self.require_backward_grad_sync = True  # False inside no_sync()
        self.require_forward_param_sync = True
        self._world = dist.get_world_size()
        if init_sync:
            self._check_same_shapes(params)
            self._broadcast_state()
        self._buckets = self._make_buckets(params)
        self._bucket_of = {id(p): b for b in self._buckets for p in b.params}
        self._expecting = False  # whether the coming backward is to be synchronised (decided by the forward)
        self._launched = 0  # buckets whose all-reduce has started this backward (they start in order)
        self._unused: set[int] = set()  # parameters the last forward's output does not depend on
        self._hooks = [autograd.register_post_accumulate_grad_hook(p, self._gradient_ready) for p in params]

    # --- construction ---------------------------------------------------------------------------------------------

    def _check_same_shapes(self, params: list) -> None:
        """Every rank must wrap the same model: compare the parameters' shapes (rank 0's against each)."""
        mine = [(tuple(p.shape), str(p.dtype)) for p in params]
        everyone = [None] * self._world
        dist.all_gather_object(everyone, mine)
        for rank, theirs in enumerate(everyone):
            if theirs != mine:
                raise ArgumentError(
                    f"DistributedDataParallel: rank {rank}'s model has parameters {theirs} but rank "
                    f"{dist.get_rank()}'s has {mine}: every rank must build the same model"
                )

    def _broadcast_state(self) -> None:
        """Rank 0's parameters and buffers, on every rank (so that all start from the same model)."""
        with autograd.no_grad():
            self._broadcast_together(list(self.module.parameters()) + list(self.module.buffers()))

    def _broadcast_together(self, tensors: list[Tensor]) -> None:
        """Broadcast ``tensors`` from rank 0 as one message (bytes of them all, one after the other)."""
        if not tensors or self._world == 1:
            return
        host = [np.ascontiguousarray(to_host(t.array)) for t in tensors]
        flat = np.concatenate([h.reshape(-1).view(np.uint8) for h in host])
        dist._wait(self._comm.Ibcast(flat, root=0), "DistributedDataParallel (broadcasting rank 0's state)")
        start = 0
        for t, h in zip(tensors, host):
            values = flat[start : start + h.nbytes].view(h.dtype)
            start += h.nbytes
            dist._write_back(t, values)

    def _make_buckets(self, params: list) -> list[_Bucket]:
        """Group the parameters, last first, into buckets of one dtype and at most the cap (the first smaller)."""
        buckets, current, size = [], [], 0
        cap = min(_FIRST_BUCKET_BYTES, self.bucket_bytes_cap)
        for p in reversed(params):
            dtype = dist._wire_dtype(p.array.dtype)
            if current and (size >= cap or dist._wire_dtype(current[0].array.dtype) != dtype):
                buckets.append(_Bucket(current, dist._wire_dtype(current[0].array.dtype)))
                current, size, cap = [], 0, self.bucket_bytes_cap
            current.append(p)
            size += p.array.size * dtype.itemsize
        buckets.append(_Bucket(current, dist._wire_dtype(current[0].array.dtype)))
        return buckets

    # --- forward ----------------------------------------------------------------------------------------------------

    def forward(self, *inputs, **kwargs):
        self._check_previous_finished()
        if self.require_forward_param_sync and self.broadcast_buffers:
            with autograd.no_grad():
                self._broadcast_together(list(self.module.buffers()))
        output = self.module(*inputs, **kwargs)
        self._expecting = self.require_backward_grad_sync and autograd.is_grad_enabled() and self._world > 1
        if self._expecting and self.find_unused_parameters:
            self._mark_unused(output)
        return output

    def _check_previous_finished(self) -> None:
        """Refuse, as PyTorch does, a forward while the last synchronised backward reached only some parameters:
        the ranks would disagree on which all-reduces to run."""
        started = [p for b in self._buckets for p in b.params if id(p) in b.ready]
        if self._expecting and started:
            waiting = [i for i, p in enumerate(self.module.parameters()) if id(p) in self._bucket_of
                       and id(p) not in self._bucket_of[id(p)].ready]  # fmt: skip
            raise GraphError(
                "DistributedDataParallel: Expected to have finished reduction in the prior iteration before starting "
                "a new one. This error indicates that your module has parameters that were not used in producing "
                f"loss (parameters {waiting[:10]} in module.parameters() got no gradient). Pass "
                "find_unused_parameters=True to DistributedDataParallel, or make every parameter take part in the loss"
            )
        self._reset()

    def _mark_unused(self, output) -> None:
        """Parameters the output does not depend on are ready at once (their gradient counts as zero)."""
        reached: set[int] = set()
        for t in _tensors_in(output):
            if t.requires_grad:
                reached.update(map(id, autograd.topological_order(t)))
        self._unused = {key for key in self._bucket_of if key not in reached}
        for key in self._unused:
            self._bucket_of[key].ready.add(key)
        self._launch_ready()

    # --- backward: the hooks --------------------------------------------------------------------------------------

    def _gradient_ready(self, param: Tensor) -> None:
        """A parameter's gradient is final for this backward: start every bucket that is now complete."""
        if not self._expecting:
            return
        self._bucket_of[id(param)].ready.add(id(param))
        self._launch_ready()

    def _launch_ready(self) -> None:
        # Buckets start in their fixed order, the same on every rank (MPI matches collectives by order).
        while self._launched < len(self._buckets):
            bucket = self._buckets[self._launched]
            if len(bucket.ready) < len(bucket.params):
                break
            bucket.fill(self._unused)
            bucket.request = self._comm.Iallreduce(dist._mpi().IN_PLACE, bucket.buffer, dist._mpi().SUM)
            self._launched += 1
        dist._progress([b.request for b in self._buckets[: self._launched] if b.request is not None])
        if self._launched == len(self._buckets):
            self._finish()

    def _finish(self) -> None:
        """Wait for every bucket's all-reduce and write the averages back into the gradients."""
        used = self._globally_used() if self.find_unused_parameters else None
        for bucket in self._buckets:
            dist._wait(bucket.request, "DistributedDataParallel (averaging gradients in backward)")
            bucket.buffer /= self._world
            for p, start, end in zip(bucket.params, bucket.offsets[:-1], bucket.offsets[1:]):
                if used is not None and id(p) not in used:
                    continue  # used by no rank: its .grad stays as it was, as in PyTorch
                values = bucket.buffer[start:end].reshape(p.shape).astype(p.array.dtype)
                xp = array_module(p.array)  # (NumPy, or CuPy: the average goes back up to the GPU)
                if p.grad is None:  # used by another rank only
                    p.grad = Tensor(xp.asarray(values))
                else:
                    p.grad.array[...] = values if xp is np else xp.asarray(values)
        self._reset()

    def _globally_used(self) -> set[int]:
        """The parameters some rank used in this iteration (one small all-reduce of a used/unused map)."""
        keys = list(self._bucket_of)
        local = np.array([key not in self._unused for key in keys], dtype=np.uint8)
        dist._wait(self._comm.Iallreduce(dist._mpi().IN_PLACE, local, dist._mpi().MAX), "DistributedDataParallel")
        return {key for key, flag in zip(keys, local) if flag}

    def _reset(self) -> None:
        for bucket in self._buckets:
            bucket.ready.clear()
            bucket.request = None
        self._launched, self._expecting, self._unused = 0, False, set()

    # --- the rest of PyTorch's interface ----------------------------------------------------------------------------

    @contextlib.contextmanager
    def no_sync(self) -> Iterator[None]:
        """Backward passes whose forward runs inside add into ``.grad`` on this rank only (no communication): for
        gradient accumulation. The first forward and backward outside averages the accumulated gradients."""
        previous, self.require_backward_grad_sync = self.require_backward_grad_sync, False
        try:
            yield
        finally:
            self.require_backward_grad_sync = previous

    def register_comm_hook(self, state, hook) -> None:
        raise TinynetError("DistributedDataParallel.register_comm_hook: communication hooks are not in tinynet yet")

    def join(self, *args, **kwargs):
        raise TinynetError(
            "DistributedDataParallel.join (uneven inputs) is not in tinynet yet: give every rank the "
            "same number of batches (DistributedSampler does)"
        )


def _tensors_in(output) -> Iterator[Tensor]:
    """The tensors in a forward's output: a tensor, or tuples, lists and dicts of them."""
    if isinstance(output, Tensor):
        yield output
    elif isinstance(output, (list, tuple)):
        for item in output:
            yield from _tensors_in(item)
    elif isinstance(output, dict):
        for item in output.values():
            yield from _tensors_in(item)


class DataParallel:
    """PyTorch's single-process multi-GPU wrapper: not in tinynet (one device per process here)."""

    def __init__(self, *args, **kwargs) -> None:
        raise TinynetError("nn.DataParallel: several GPUs in one process are not supported by tinynet; use the module")


__all__ = ["DataParallel", "DistributedDataParallel"]
