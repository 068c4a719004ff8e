"""Datasets, as ``torch.utils.data``: anything with ``len(ds)`` and ``ds[i]`` is one."""

from __future__ import annotations

from typing import Any

import numpy as np

from kernels.numpy_ref import array_module
from tinynet.errors import ArgumentError, ArgumentTypeError, ShapeError
from tinynet.tensor import Tensor


class Dataset:
    """Base class of datasets: write ``__len__`` (the number of samples) and ``__getitem__`` (sample i)."""

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must define __len__()")

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__()")


class TensorDataset(Dataset):
    """Samples are rows of the given tensors: ``ds[i] == (t0[i], t1[i], ...)``.

    ``tensors``: each ``(N, ...)`` with the same N (e.g. features ``(N, D)`` and labels ``(N,)``).
    """

    def __init__(self, *tensors: Tensor) -> None:
        if not tensors:
            raise ArgumentError("TensorDataset: expected at least one tensor")
        if not all(isinstance(t, Tensor) and t.ndim > 0 for t in tensors):
            raise ArgumentTypeError(
                "TensorDataset: expected tensors with at least one dimension, got "
                + ", ".join(f"{type(t).__name__}{getattr(t, 'shape', '')}" for t in tensors)
            )
        if len({t.shape[0] for t in tensors}) > 1:
            raise ShapeError(
                f"TensorDataset: every tensor needs the same first dimension (the number of samples), got shapes "
                f"{[t.shape for t in tensors]}"
            )
        self.tensors = tensors

    def __len__(self) -> int:
        return self.tensors[0].shape[0]

    def __getitem__(self, index) -> tuple[Tensor, ...]:
        return tuple(t[index] for t in self.tensors)


def take(data, index: np.ndarray):
    """Rows ``index`` of a Tensor (on its own device) or of an array-like, keeping its type."""
    if isinstance(data, Tensor):
        return data[Tensor(array_module(data.data).asarray(index))]
    if isinstance(data, (list, tuple)):
        return [data[i] for i in index]
    return data[index]
