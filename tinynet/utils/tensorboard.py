"""``torch.utils.tensorboard``: importable; writing TensorBoard logs is not in tinynet (it needs the tensorboard
package's event-file writer), so making a ``SummaryWriter`` raises a TinynetError that says so."""

from __future__ import annotations

from tinynet.errors import TinynetError


class SummaryWriter:
    """PyTorch's TensorBoard logger: not in tinynet (constructing one raises TinynetError)."""

    def __init__(self, *args, **kwargs) -> None:
        raise TinynetError(
            "torch.utils.tensorboard.SummaryWriter: TensorBoard logging is not implemented in tinynet yet; print "
            "the figures instead"
        )


__all__ = ["SummaryWriter"]
