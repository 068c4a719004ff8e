"""Collation, as ``torch.utils.data``: a list of samples becomes one batch.

``default_collate`` stacks along a new first dimension, recursing into containers, with PyTorch's types:

    Tensor samples            -> stack(samples)                    (B, ...) same dtype
    NumPy arrays / scalars    -> a Tensor of the array's dtype     (float64 stays float64)
    Python float / int / bool -> float64 / int64 / bool Tensor     (B,)
    str / bytes               -> the list of them, unchanged
    dict (Mapping)            -> the same mapping type, each key collated
    namedtuple                -> the same namedtuple, each field collated
    tuple                     -> a *list*, each position collated (PyTorch's "backwards compatibility")
    list (Sequence)           -> the same sequence type, each position collated

``default_convert`` (what a DataLoader with ``batch_size=None`` applies to each sample) only turns NumPy arrays
into Tensors, recursing the same way.
"""

from __future__ import annotations

import collections.abc
import copy
import re
from collections.abc import Callable
from typing import Any

import numpy as np

from tinynet.creation import as_tensor, tensor
from tinynet.dtypes import float64
from tinynet.errors import ArgumentError, ArgumentTypeError
from tinynet.functions import stack
from tinynet.tensor import Tensor

# NumPy dtypes that hold strings, bytes or Python objects (dtype.str such as "<U5", "|S3", "|O"): no Tensor for them.
_TEXT_OR_OBJECT = re.compile(r"[SaUO]")


def _not_collatable(what) -> ArgumentTypeError:
    return ArgumentTypeError(f"default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; "
                             f"found {what}")  # fmt: skip


def _numpy_tensor(array: np.ndarray) -> Tensor:
    # dtype given: as_tensor keeps a NumPy array's dtype, on every backend (tensor() would make float64 float32).
    return as_tensor(array, dtype=array.dtype)


def collate_tensor_fn(batch: list[Tensor], *, collate_fn_map=None) -> Tensor:
    return stack(list(batch), 0)


def collate_numpy_array_fn(batch: list[np.ndarray], *, collate_fn_map=None) -> Tensor:
    if _TEXT_OR_OBJECT.search(batch[0].dtype.str):
        raise _not_collatable(batch[0].dtype)
    return collate([_numpy_tensor(a) for a in batch], collate_fn_map=collate_fn_map)


def collate_numpy_scalar_fn(batch: list, *, collate_fn_map=None) -> Tensor:
    return _numpy_tensor(np.asarray(batch))


def collate_float_fn(batch: list[float], *, collate_fn_map=None) -> Tensor:
    return tensor(list(batch), dtype=float64)  # Python floats are doubles: float64, not the default dtype


def collate_int_fn(batch: list[int], *, collate_fn_map=None) -> Tensor:
    return tensor(list(batch))  # int64 (bools, which are ints too, give a bool Tensor)


def collate_str_fn(batch: list, *, collate_fn_map=None) -> list:
    return batch


# How each leaf type is collated: an exact type first, else the first entry it is an instance of. Programs may
# pass their own (``collate(batch, collate_fn_map={**default_collate_fn_map, MyType: fn})``).
default_collate_fn_map: dict[type | tuple[type, ...], Callable] = {
    Tensor: collate_tensor_fn,
    np.ndarray: collate_numpy_array_fn,
    (np.bool_, np.number, np.object_): collate_numpy_scalar_fn,
    float: collate_float_fn,
    int: collate_int_fn,
    str: collate_str_fn,
    bytes: collate_str_fn,
}


def collate(batch: list, *, collate_fn_map: dict | None = None) -> Any:
    """Collate ``batch`` (a list of samples of one structure), leaves by ``collate_fn_map``, containers by
    recursion (see the module's docstring for the table)."""
    first = batch[0]
    if collate_fn_map is not None:
        if type(first) in collate_fn_map:
            return collate_fn_map[type(first)](batch, collate_fn_map=collate_fn_map)
        for kind, fn in collate_fn_map.items():
            if isinstance(first, kind):
                return fn(batch, collate_fn_map=collate_fn_map)

    def each(samples) -> Any:
        # (A tuple of fields stays a tuple, as in PyTorch: strings inside tuple samples come back as a tuple.)
        return collate(samples, collate_fn_map=collate_fn_map)

    if isinstance(first, collections.abc.Mapping):
        return _rebuild_mapping(first, {key: each([sample[key] for sample in batch]) for key in first})
    if isinstance(first, tuple) and hasattr(first, "_fields"):  # a namedtuple keeps its type
        return type(first)(*(each(field) for field in zip(*batch)))
    if isinstance(first, collections.abc.Sequence):
        if any(len(sample) != len(first) for sample in batch):
            raise ArgumentError("each element in list of batch should be of equal size")
        fields = [each(field) for field in zip(*batch)]
        return fields if isinstance(first, tuple) else _rebuild_sequence(first, fields)
    raise _not_collatable(type(first))


def default_collate(batch: list) -> Any:
    """One batch from a list of samples, as PyTorch's ``default_collate`` (see the module's docstring)."""
    return collate(batch, collate_fn_map=default_collate_fn_map)


def default_convert(data: Any) -> Any:
    """``data`` with every NumPy array (and NumPy scalar) made a Tensor, containers rebuilt around them; anything
    else left as it is. (A tuple comes back a list, as in PyTorch.)"""
    if isinstance(data, Tensor):
        return data
    if isinstance(data, np.ndarray):
        return data if _TEXT_OR_OBJECT.search(data.dtype.str) else _numpy_tensor(data)
    if isinstance(data, (np.bool_, np.number)):
        return _numpy_tensor(np.asarray(data))
    if isinstance(data, collections.abc.Mapping):
        return _rebuild_mapping(data, {key: default_convert(data[key]) for key in data})
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, collections.abc.Sequence) and not isinstance(data, (str, bytes)):
        return _rebuild_sequence(data, [default_convert(d) for d in data])
    return data


def _rebuild_mapping(like: collections.abc.Mapping, values: dict) -> collections.abc.Mapping:
    # A mapping type may carry more than its items (an OrderedDict, a user's dict subclass): a copy of the
    # sample updated with the batch keeps that; a type that cannot be copied or built from a dict gives a dict.
    try:
        if isinstance(like, collections.abc.MutableMapping):
            clone = copy.copy(like)
            clone.update(values)
            return clone
        return type(like)(values)
    except TypeError:
        return values


def _rebuild_sequence(like: collections.abc.Sequence, values: list) -> collections.abc.Sequence:
    # As _rebuild_mapping: the sample's own type where it can be copied or built from a list (not a range).
    try:
        if isinstance(like, collections.abc.MutableSequence):
            clone = copy.copy(like)
            for i, value in enumerate(values):
                clone[i] = value
            return clone
        return type(like)(values)
    except TypeError:
        return values
