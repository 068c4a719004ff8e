"""``nn.parallel``, as ``torch.nn.parallel``: importable; the data-parallel wrappers are not in tinynet yet and
constructing one raises a TinynetError that says so (they wrap nothing silently)."""

from __future__ import annotations

from tinynet.errors import TinynetError


class DistributedDataParallel:
    """PyTorch's multi-process data parallelism: not in tinynet yet (constructing one raises TinynetError)."""

    def __init__(self, *args, **kwargs) -> None:
        raise TinynetError(
            "nn.parallel.DistributedDataParallel: distributed training is not implemented in tinynet yet; "
            "train the module itself in one process"
        )


class DataParallel:
    """PyTorch's single-process multi-GPU wrapper: not in tinynet (one device per process here)."""

    def __init__(self, *args, **kwargs) -> None:
        raise TinynetError("nn.DataParallel: several GPUs in one process are not supported by tinynet; use the module")


__all__ = ["DataParallel", "DistributedDataParallel"]
