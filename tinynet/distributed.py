"""``tinynet.distributed``, as ``torch.distributed``: several processes train one model, exchanging tensors through
MPI (``mpi4py``, with MPI itself from PyPI: ``pip install -e ".[distributed]"``).

Launch the same program in N processes with MPI's launcher, one rank each::

    mpiexec -n 2 python train.py                      # add --allow-run-as-root as root, --oversubscribe past the cores
    mpiexec -n 8 --hostfile hosts python train.py     # a cluster: the same program, hosts listed one a line

and in the program, as in PyTorch::

    import tinynet.distributed as dist
    dist.init_process_group("mpi")          # "gloo" and "nccl" also run, on MPI (noted once)
    dist.all_reduce(t, op=dist.ReduceOp.SUM)  # in place, on every rank

MPI is loaded by ``init_process_group``, not by ``import tinynet``. Every collective waits for the other ranks at
most ``timeout`` (``init_process_group(timeout=...)``, 30 minutes as in PyTorch): a rank that died or hangs makes
the others raise ``DistBackendError`` instead of waiting for ever, and an exception nobody catches in a rank
stops the whole job (``MPI_Abort``) rather than leaving the others blocked. CuPy (GPU) tensors go through host
memory: copied down, reduced by MPI, copied back up (no NCCL).

The launcher's rank variables are also given PyTorch's names (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``,
``LOCAL_WORLD_SIZE``, as ``torchrun`` sets them) when this module is imported under ``mpiexec``, unless already set.
"""

from __future__ import annotations

import datetime
import importlib.util
import os
import pickle
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from enum import Enum

import numpy as np

from kernels.numpy_ref import array_module
from tinynet.errors import ArgumentError, ArgumentTypeError, DTypeError, ShapeError, TinynetError
from tinynet.missing import module_getattr
from tinynet.tensor import Tensor, to_host


class DistError(TinynetError, RuntimeError):
    """PyTorch's ``torch.distributed.DistError``: a collective could not be carried out."""


class DistBackendError(DistError):
    """PyTorch's ``torch.distributed.DistBackendError``: the other ranks did not take part in a collective within
    the timeout (one died, hangs, or called other collectives), or the process group failed earlier."""


class ReduceOp(Enum):
    """How ``all_reduce`` and ``reduce_scatter`` combine the ranks' values, as ``torch.distributed.ReduceOp``.
    AVG is the SUM divided by the world size (floating-point tensors only)."""

    SUM = "SUM"
    AVG = "AVG"
    PRODUCT = "PRODUCT"
    MIN = "MIN"
    MAX = "MAX"
    BAND = "BAND"
    BOR = "BOR"
    BXOR = "BXOR"

    def __repr__(self) -> str:
        return f"<ReduceOp.{self.name}>"


reduce_op = ReduceOp  # PyTorch's deprecated spelling


class Backend(str):
    """PyTorch's ``torch.distributed.Backend``: the backend names (here every one runs on MPI)."""

    MPI = "mpi"
    GLOO = "gloo"
    NCCL = "nccl"
    UNDEFINED = "undefined"


class _World:
    """The group of every rank (``dist.group.WORLD``): the only process group tinynet has."""

    def __repr__(self) -> str:
        return "<tinynet.distributed WORLD group>"


class group:
    """PyTorch's ``dist.group``: ``dist.group.WORLD`` is the group of all ranks."""

    WORLD = _World()


GroupMember = group

# --- the launcher's environment -----------------------------------------------------------------------------------

# Where MPI launchers put each rank's place: Open MPI's mpiexec, then MPICH's (Hydra) and PMIx-based ones.
_LAUNCHER_VARIABLES = {
    "RANK": ("OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK"),
    "WORLD_SIZE": ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE"),
    "LOCAL_RANK": ("OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID"),
    "LOCAL_WORLD_SIZE": ("OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS"),
}


def _export_launcher_environment() -> None:
    """Give the launcher's rank variables PyTorch's names (only those not set already), so that a program that
    reads ``os.environ["LOCAL_RANK"]`` before ``init_process_group``, as PyTorch programs do, runs under mpiexec."""
    for name, sources in _LAUNCHER_VARIABLES.items():
        value = next((os.environ[s] for s in sources if s in os.environ), None)
        if value is not None:
            os.environ.setdefault(name, value)


_export_launcher_environment()  # reads a few variables; imports nothing (MPI starts in init_process_group)


# --- the process group --------------------------------------------------------------------------------------------


class _State:
    """The default process group: MPI's communicator (a duplicate of COMM_WORLD, so that tinynet's collectives
    never mix with the program's own mpi4py messages), this rank, the world size and the timeout."""

    def __init__(self) -> None:
        self.comm = None
        self.rank = -1
        self.size = -1
        self.timeout = 1800.0
        self.failed: str | None = None  # why the group can no longer be used (a timed-out collective)
        self.previous_excepthook: Callable | None = None


_state = _State()
_noted_backend = False

_NOT_INITIALIZED = "Default process group has not been initialized, please make sure to call init_process_group."


def _mpi():
    """mpi4py's MPI module, imported (which starts MPI) the first time it is needed."""
    try:
        from mpi4py import MPI
    except ImportError as err:
        raise TinynetError(
            'tinynet.distributed needs mpi4py and an MPI library: pip install -e ".[distributed]" '
            "(installs mpi4py and Open MPI from PyPI)"
        ) from err
    return MPI


def is_available() -> bool:
    """Whether distributed training can run here: mpi4py is installed (checked without importing it)."""
    return importlib.util.find_spec("mpi4py") is not None


def is_mpi_available() -> bool:
    """Whether the MPI backend can run: the same as ``is_available`` (it is tinynet's only one)."""
    return is_available()


def is_gloo_available() -> bool:
    """False: tinynet has no Gloo (a program that asks for "gloo" still runs, on MPI)."""
    return False


def is_nccl_available() -> bool:
    """False: tinynet has no NCCL (GPU tensors are reduced through the host)."""
    return False


def is_torchelastic_launched() -> bool:
    """False: tinynet's ranks are started by mpiexec, not torchrun."""
    return False


def is_initialized() -> bool:
    """Whether ``init_process_group`` was called (and ``destroy_process_group`` not since)."""
    return _state.comm is not None


def init_process_group(
    backend: str | None = None,
    init_method: str | None = None,
    timeout: datetime.timedelta | None = None,
    world_size: int = -1,
    rank: int = -1,
    store=None,
    group_name: str = "",
    pg_options=None,
    device_id=None,
) -> None:
    """Join the default process group: every rank started by ``mpiexec`` calls it, as ``torch.distributed``'s.

    backend: "mpi" or None; "gloo", "nccl" (and "cpu:gloo,cuda:nccl") are PyTorch programs' usual choices and run
    on MPI too, with a note once. init_method and store: the MPI launcher already connected the ranks, so they are
    not needed (accepted so that programs run unchanged). world_size, rank: if given, must be MPI's. timeout: how
    long a collective waits for the other ranks before raising DistBackendError (default 30 minutes).
    """
    global _noted_backend
    if is_initialized():
        raise ArgumentError("trying to initialize the default process group twice!")
    names = {"mpi"} if backend is None else {part.split(":")[-1].strip().lower() for part in str(backend).split(",")}
    unknown = names - {"mpi", "gloo", "nccl", "undefined"}
    if unknown:
        raise ArgumentError(f"init_process_group: unknown backend {backend!r}; tinynet runs on MPI (backend='mpi')")
    if timeout is not None and not isinstance(timeout, datetime.timedelta):
        raise ArgumentTypeError(f"init_process_group: timeout must be a datetime.timedelta, not {type(timeout)}")
    MPI = _mpi()
    comm = MPI.COMM_WORLD.Dup()
    for given, actual, what in ((world_size, comm.Get_size(), "world_size"), (rank, comm.Get_rank(), "rank")):
        if given not in (-1, None) and given != actual:
            comm.Free()
            raise ArgumentError(
                f"init_process_group: {what}={given}, but mpiexec started this process as {what} {actual}; "
                f"leave {what} out (MPI's launcher sets it)"
            )
    _state.comm, _state.rank, _state.size, _state.failed = comm, comm.Get_rank(), comm.Get_size(), None
    _state.timeout = 1800.0 if timeout is None else timeout.total_seconds()
    _export_rank_environment(comm, MPI)
    if _state.size > 1:  # a rank that dies of an exception stops the job, instead of the others waiting for it
        _state.previous_excepthook, sys.excepthook = sys.excepthook, _abort_on_uncaught
    if names - {"mpi", "undefined"} and not _noted_backend and _state.rank == 0:
        _noted_backend = True
        warnings.warn(
            f"tinynet.distributed: backend {backend!r} runs on MPI in tinynet (its only backend)", stacklevel=2
        )


def _export_rank_environment(comm, MPI) -> None:
    """RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE from the communicator, where the launcher set none."""
    node = comm.Split_type(MPI.COMM_TYPE_SHARED)  # the ranks on this machine
    values = {"RANK": comm.Get_rank(), "WORLD_SIZE": comm.Get_size(), "LOCAL_RANK": node.Get_rank(),
              "LOCAL_WORLD_SIZE": node.Get_size()}  # fmt: skip
    node.Free()
    for name, value in values.items():
        os.environ.setdefault(name, str(value))


def _abort_on_uncaught(kind, value, traceback) -> None:
    """sys.excepthook while a group of several ranks runs: print the error as Python does, then stop every rank
    (MPI_Abort), so that none waits for ever in a collective this rank will never reach."""
    (_state.previous_excepthook or sys.__excepthook__)(kind, value, traceback)
    sys.stderr.write(f"tinynet.distributed: rank {_state.rank} stopped on this error; stopping all ranks\n")
    sys.stderr.flush()
    _mpi().COMM_WORLD.Abort(1)


def destroy_process_group(group=None) -> None:
    """Leave the default process group (MPI itself stays up until the program exits, as mpi4py ends it)."""
    _group(group, "destroy_process_group")
    if _state.previous_excepthook is not None:
        sys.excepthook, _state.previous_excepthook = _state.previous_excepthook, None
    if _state.failed is None:  # a communicator with a collective still pending cannot be freed
        _state.comm.Free()
    _state.comm, _state.rank, _state.size = None, -1, -1


def _group(group, name: str):
    """The communicator of ``group`` (None or group.WORLD: the only group), after checking the group is up."""
    if _state.comm is None:
        raise ArgumentError(_NOT_INITIALIZED)
    if group is not None and not isinstance(group, _World):
        raise TinynetError(f"tinynet.distributed.{name}: only the default group (all ranks) exists in tinynet")
    if _state.failed is not None:
        raise DistBackendError(f"tinynet.distributed.{name}: the process group failed earlier: {_state.failed}")
    return _state.comm


def get_rank(group=None) -> int:
    """This process's rank in the group, 0 to world size - 1."""
    _group(group, "get_rank")
    return _state.rank


def get_world_size(group=None) -> int:
    """How many ranks the group has."""
    _group(group, "get_world_size")
    return _state.size


def get_backend(group=None) -> str:
    """The group's backend: "mpi"."""
    _group(group, "get_backend")
    return Backend.MPI


def get_process_group_ranks(group=None) -> list[int]:
    """The global ranks of the group: all of them."""
    _group(group, "get_process_group_ranks")
    return list(range(_state.size))


# --- waiting, with a timeout -----------------------------------------------------------------------------------------


def _wait(request, what: str) -> None:
    """Wait for a non-blocking MPI request, at most the group's timeout. Polls (sleeping between polls, so that a
    waiting rank leaves the core to the others) rather than blocking in MPI, which cannot time out."""
    if request.Test():
        return
    deadline = time.monotonic() + _state.timeout
    pause = 2e-6
    while not request.Test():
        if time.monotonic() > deadline:
            _state.failed = f"{what} timed out after {_state.timeout:g} s on rank {_state.rank}"
            raise DistBackendError(
                f"tinynet.distributed.{what}: rank {_state.rank} of {_state.size} waited {_state.timeout:g} s for "
                "the other ranks to take part; one of them died, hangs, or is running other collectives than this "
                "one (every rank must call the same collectives in the same order). Stopping"
            )
        time.sleep(pause)
        pause = min(pause * 2, 5e-4)


def _progress(requests: list) -> None:
    """Let MPI advance pending non-blocking collectives (it moves them on only inside its own calls)."""
    if requests:
        _mpi().Request.Testall(requests)


class Work:
    """A collective started with ``async_op=True``, as PyTorch's ``Work``: ``wait()`` finishes it (the tensors hold
    the result after it), ``is_completed()`` asks without waiting."""

    def __init__(self, request, what: str, finish: Callable[[], None]) -> None:
        self._request, self._what, self._finish, self._done = request, what, finish, False

    def is_completed(self) -> bool:
        if not self._done and self._request.Test():
            self._complete()
        return self._done

    def is_success(self) -> bool:
        return self.is_completed()

    def wait(self, timeout: datetime.timedelta | None = None) -> bool:
        if not self._done:
            _wait(self._request, self._what)
            self._complete()
        return True

    def _complete(self) -> None:
        self._done = True
        self._finish()


def _run(request, what: str, finish: Callable[[], None], async_op: bool) -> Work | None:
    work = Work(request, what, finish)
    if async_op:
        return work
    work.wait()
    return None


# --- moving tensors' values in and out of MPI buffers ------------------------------------------------------------


def _array(tensor, name: str, what: str = "tensor"):
    if not isinstance(tensor, Tensor):
        raise ArgumentTypeError(f"tinynet.distributed.{name}: {what} must be a Tensor, not {type(tensor).__name__}")
    return tensor.array


def _wire_dtype(dtype: np.dtype) -> np.dtype:
    """The dtype MPI reduces ``dtype`` in: 16-bit floats (which MPI's operations do not take) go as float32,
    booleans as bytes."""
    if (dtype.kind == "f" and dtype.itemsize == 2) or dtype.kind == "V":
        return np.dtype(np.float32)
    if dtype.kind == "b":
        return np.dtype(np.uint8)
    return dtype


def _host_copy(array, dtype: np.dtype | None = None) -> np.ndarray:
    """A contiguous NumPy array (a new one) with ``array``'s values, in ``dtype``: what MPI sends."""
    host = to_host(array)
    return np.array(host, dtype=dtype if dtype is not None else host.dtype, order="C", copy=True)


def _write_back(tensor: Tensor, values: np.ndarray) -> None:
    """Put ``values`` into ``tensor`` in place (copied up to the GPU for a CuPy tensor); marks it changed."""
    array = tensor.array
    xp = array_module(array)
    values = values.reshape(array.shape).astype(array.dtype, copy=False)
    array[...] = values if xp is np else xp.asarray(values)
    tensor.mark_changed()


def _mpi_op(op, dtype: np.dtype, name: str):
    MPI = _mpi()
    try:
        op = op if isinstance(op, ReduceOp) else ReduceOp[str(op).rsplit(".", 1)[-1].upper()]
    except KeyError:
        raise ArgumentError(f"tinynet.distributed.{name}: unknown reduce op {op!r}") from None
    if op is ReduceOp.AVG and dtype.kind not in "fc":
        raise DTypeError(f"tinynet.distributed.{name}: ReduceOp.AVG needs a floating-point tensor, not {dtype}")
    if dtype.kind == "b":  # the sum of booleans is their OR, as PyTorch's
        op = {ReduceOp.SUM: ReduceOp.BOR, ReduceOp.PRODUCT: ReduceOp.BAND, ReduceOp.MAX: ReduceOp.BOR,
              ReduceOp.MIN: ReduceOp.BAND}.get(op, op)  # fmt: skip
    table = {ReduceOp.SUM: MPI.SUM, ReduceOp.AVG: MPI.SUM, ReduceOp.PRODUCT: MPI.PROD, ReduceOp.MIN: MPI.MIN,
             ReduceOp.MAX: MPI.MAX, ReduceOp.BAND: MPI.BAND, ReduceOp.BOR: MPI.BOR,
             ReduceOp.BXOR: MPI.BXOR}  # fmt: skip
    return table[op], op is ReduceOp.AVG


# --- collectives --------------------------------------------------------------------------------------------------


def all_reduce(tensor: Tensor, op=ReduceOp.SUM, group=None, async_op: bool = False) -> Work | None:
    """Combine ``tensor`` across ranks with ``op`` (SUM, AVG, PRODUCT, MIN, MAX, BAND, BOR, BXOR), in place: every
    rank ends with the same result. ``async_op=True`` returns a Work to ``wait()`` on."""
    comm = _group(group, "all_reduce")
    array = _array(tensor, "all_reduce")
    mpi_op, average = _mpi_op(op, array.dtype, "all_reduce")
    buffer = _host_copy(array, _wire_dtype(array.dtype))
    request = comm.Iallreduce(_mpi().IN_PLACE, buffer, mpi_op)

    def finish() -> None:
        _write_back(tensor, buffer / _state.size if average else buffer)

    return _run(request, "all_reduce", finish, async_op)


def broadcast(tensor: Tensor, src: int | None = None, group=None, async_op: bool = False,
              group_src: int | None = None) -> Work | None:  # fmt: skip
    """Copy rank ``src``'s ``tensor`` into ``tensor`` on every rank, in place."""
    comm = _group(group, "broadcast")
    src = group_src if src is None else src
    _check_rank(src, "broadcast", "src")
    array = _array(tensor, "broadcast")
    buffer = _host_copy(array)
    request = comm.Ibcast(buffer.view(np.uint8), root=src)  # as bytes: every dtype goes through unchanged
    return _run(request, "broadcast", lambda: _write_back(tensor, buffer), async_op)


def all_gather(tensor_list: list[Tensor], tensor: Tensor, group=None, async_op: bool = False) -> Work | None:
    """``tensor_list[i]`` gets rank i's ``tensor`` (on every rank). Each must have ``tensor``'s shape and dtype."""
    comm = _group(group, "all_gather")
    array = _array(tensor, "all_gather")
    _check_list(tensor_list, array, "all_gather", "tensor_list")
    send = _host_copy(array)
    received = np.empty((_state.size, *array.shape), dtype=send.dtype)
    request = comm.Iallgather(send.view(np.uint8), received.view(np.uint8))

    def finish() -> None:
        for out, values in zip(tensor_list, received):
            _write_back(out, values)

    return _run(request, "all_gather", finish, async_op)


def all_gather_into_tensor(output_tensor: Tensor, input_tensor: Tensor, group=None,
                           async_op: bool = False) -> Work | None:  # fmt: skip
    """Rank i's ``input_tensor`` goes into block i of ``output_tensor`` (shape (world size * n, ...) or
    (world size, n, ...)) on every rank."""
    comm = _group(group, "all_gather_into_tensor")
    array, out = _array(input_tensor, "all_gather_into_tensor"), _array(output_tensor, "all_gather_into_tensor")
    if out.size != array.size * _state.size or out.dtype != array.dtype:
        raise ShapeError(
            f"all_gather_into_tensor: output of shape {out.shape} ({out.dtype}) cannot hold {_state.size} inputs of "
            f"shape {array.shape} ({array.dtype})"
        )
    send = _host_copy(array)
    received = np.empty(out.shape, dtype=send.dtype)
    request = comm.Iallgather(send.view(np.uint8), received.view(np.uint8))
    return _run(request, "all_gather_into_tensor", lambda: _write_back(output_tensor, received), async_op)


def reduce_scatter(output: Tensor, input_list: list[Tensor], op=ReduceOp.SUM, group=None,
                   async_op: bool = False) -> Work | None:  # fmt: skip
    """Combine ``input_list[i]`` across ranks with ``op``; rank i gets the result into ``output``."""
    comm = _group(group, "reduce_scatter")
    array = _array(output, "reduce_scatter", "output")
    _check_list(input_list, array, "reduce_scatter", "input_list")
    wire = _wire_dtype(array.dtype)
    send = np.stack([_host_copy(t.array, wire) for t in input_list])
    return _reduce_scatter(comm, send, output, op, "reduce_scatter", async_op)


def reduce_scatter_tensor(
    output: Tensor,
    input: Tensor,  # noqa: A002 (PyTorch's keyword)
    op=ReduceOp.SUM,
    group=None,
    async_op: bool = False,
) -> Work | None:
    """Combine ``input`` (world size blocks of ``output``'s size) across ranks; rank i gets block i."""
    comm = _group(group, "reduce_scatter_tensor")
    array, whole = _array(output, "reduce_scatter_tensor", "output"), _array(input, "reduce_scatter_tensor", "input")
    if whole.size != array.size * _state.size or whole.dtype != array.dtype:
        raise ShapeError(
            f"reduce_scatter_tensor: input of shape {whole.shape} ({whole.dtype}) is not {_state.size} blocks of the "
            f"output's shape {array.shape} ({array.dtype})"
        )
    send = _host_copy(whole, _wire_dtype(array.dtype)).reshape(_state.size, -1)
    return _reduce_scatter(comm, send, output, op, "reduce_scatter_tensor", async_op)


def _reduce_scatter(comm, send: np.ndarray, output: Tensor, op, name: str, async_op: bool) -> Work | None:
    mpi_op, average = _mpi_op(op, output.array.dtype, name)
    received = np.empty(send.shape[1:], dtype=send.dtype)
    request = comm.Ireduce_scatter_block(send, received, mpi_op)

    def finish() -> None:
        _write_back(output, received / _state.size if average else received)

    return _run(request, name, finish, async_op)


def barrier(group=None, async_op: bool = False, device_ids=None) -> Work | None:
    """Wait until every rank reached this call."""
    comm = _group(group, "barrier")
    return _run(comm.Ibarrier(), "barrier", lambda: None, async_op)


def monitored_barrier(group=None, timeout: datetime.timedelta | None = None, wait_all_ranks: bool = False) -> None:
    """A barrier (tinynet's barrier already raises after the group's timeout)."""
    barrier(group)


def all_gather_object(object_list: list, obj: object, group=None) -> None:
    """``object_list[i]`` gets rank i's ``obj`` (any picklable object) on every rank."""
    comm = _group(group, "all_gather_object")
    if len(object_list) != _state.size:
        raise ArgumentError(f"all_gather_object: object_list has {len(object_list)} places for {_state.size} ranks")
    payload = np.frombuffer(pickle.dumps(obj), dtype=np.uint8)
    sizes = np.empty(_state.size, dtype=np.int64)
    _wait(comm.Iallgather(np.array([payload.size], dtype=np.int64), sizes), "all_gather_object")
    received = np.empty(int(sizes.sum()), dtype=np.uint8)
    _wait(comm.Iallgatherv(payload, [received, sizes.tolist()]), "all_gather_object")
    ends = np.cumsum(sizes)
    for i in range(_state.size):
        object_list[i] = pickle.loads(received[ends[i] - sizes[i] : ends[i]].tobytes())


def broadcast_object_list(object_list: list, src: int | None = None, group=None, device=None,
                          group_src: int | None = None) -> None:  # fmt: skip
    """Every rank's ``object_list`` gets rank ``src``'s objects (in place; the lists must be as long)."""
    comm = _group(group, "broadcast_object_list")
    src = group_src if src is None else src
    _check_rank(src, "broadcast_object_list", "src")
    payload = np.frombuffer(pickle.dumps(list(object_list)), dtype=np.uint8) if _state.rank == src else None
    size = np.array([0 if payload is None else payload.size], dtype=np.int64)
    _wait(comm.Ibcast(size, root=src), "broadcast_object_list")
    buffer = payload.copy() if payload is not None else np.empty(int(size[0]), dtype=np.uint8)
    _wait(comm.Ibcast(buffer, root=src), "broadcast_object_list")
    object_list[:] = pickle.loads(buffer.tobytes())


def _check_rank(rank, name: str, what: str) -> None:
    if not isinstance(rank, (int, np.integer)) or not 0 <= rank < _state.size:
        raise ArgumentError(f"tinynet.distributed.{name}: {what}={rank!r} is not a rank of 0..{_state.size - 1}")


def _check_list(tensors: Sequence[Tensor], array, name: str, what: str) -> None:
    if not isinstance(tensors, (list, tuple)) or len(tensors) != _state.size:
        raise ArgumentError(f"tinynet.distributed.{name}: {what} must be a list of {_state.size} tensors (one a rank)")
    for k, t in enumerate(tensors):
        other = _array(t, name, f"{what}[{k}]")
        if other.shape != array.shape or other.dtype != array.dtype:
            raise ShapeError(
                f"tinynet.distributed.{name}: {what}[{k}] has shape {tuple(other.shape)} ({other.dtype}), but the "
                f"tensor has {tuple(array.shape)} ({array.dtype})"
            )


# PyTorch's names that tinynet lacks (one group of all ranks, collectives only).
_MISSING = {
    **dict.fromkeys(["new_group", "new_subgroups", "split_group", "DeviceMesh", "init_device_mesh"],
                    "tinynet has one process group: all ranks"),
    **dict.fromkeys(["send", "recv", "isend", "irecv", "batch_isend_irecv", "P2POp"],
                    "point-to-point messages are not in tinynet: use the collectives"),
    **dict.fromkeys(["reduce", "gather", "scatter", "gather_object", "scatter_object_list", "all_to_all",
                     "all_to_all_single"], "use all_reduce / all_gather / broadcast"),
    **dict.fromkeys(["TCPStore", "FileStore", "HashStore", "PrefixStore", "Store"],
                    "mpiexec connects the ranks: no store is needed"),
}  # fmt: skip

__getattr__ = module_getattr("tinynet.distributed", "torch.distributed", _MISSING)

__all__ = [
    "Backend", "DistBackendError", "DistError", "GroupMember", "ReduceOp", "Work", "all_gather",
    "all_gather_into_tensor", "all_gather_object", "all_reduce", "barrier", "broadcast", "broadcast_object_list",
    "destroy_process_group", "get_backend", "get_process_group_ranks", "get_rank", "get_world_size", "group",
    "init_process_group", "is_available", "is_gloo_available", "is_initialized", "is_mpi_available",
    "is_nccl_available", "is_torchelastic_launched", "monitored_barrier", "reduce_op", "reduce_scatter",
    "reduce_scatter_tensor",
]  # fmt: skip
