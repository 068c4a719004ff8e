"""``tinynet.distributed``, as ``torch.distributed``: importable, so that programs which import it run.
Data-parallel training on MPI is not in tinynet yet: starting it (``init_process_group``) or any collective raises
a TinynetError that says so; the queries answer truthfully (not available, not initialized)."""

from __future__ import annotations

from tinynet.errors import TinynetError


def _not_yet(name: str) -> TinynetError:
    return TinynetError(
        f"tinynet.distributed.{name}: distributed (data-parallel) training is not implemented in tinynet yet; "
        "run in one process"
    )


def is_available() -> bool:
    """Whether distributed training can run here: not yet, in tinynet."""
    return False


def is_initialized() -> bool:
    """Whether a process group was started: never, until distributed training lands."""
    return False


def _collective(name: str):
    def not_yet(*args, **kwargs):
        raise _not_yet(name)

    not_yet.__name__ = not_yet.__qualname__ = name
    not_yet.__doc__ = f"PyTorch's ``torch.distributed.{name}``: not in tinynet yet (raises TinynetError)."
    return not_yet


init_process_group = _collective("init_process_group")
destroy_process_group = _collective("destroy_process_group")
get_rank = _collective("get_rank")
get_world_size = _collective("get_world_size")
barrier = _collective("barrier")
all_reduce = _collective("all_reduce")
broadcast = _collective("broadcast")
all_gather = _collective("all_gather")
reduce_scatter = _collective("reduce_scatter")

__all__ = [
    "all_gather", "all_reduce", "barrier", "broadcast", "destroy_process_group", "get_rank", "get_world_size",
    "init_process_group", "is_available", "is_initialized", "reduce_scatter",
]  # fmt: skip
