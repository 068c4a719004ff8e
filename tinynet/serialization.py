"""Checkpoints: ``tn.save(obj, path)`` and ``tn.load(path)`` for state dicts and the dicts around them.

A checkpoint is one ``.npz`` file: every array (Tensors included, copied from the GPU if need be) is
an entry of its own, and everything else (numbers, strings, lists, tuples, dict keys of any type) is
described by one JSON entry, ``__meta__``, that also says where each array goes. Nothing is pickled,
so loading a file runs no code from it. ``tn.load(path)`` gives back the same types: tuples stay
tuples, integer keys stay integers, Tensors come back as Tensors on the active backend.

The file is written atomically: to a temporary file beside it, flushed to disk, then renamed over
``path``, so a crash while saving leaves the previous checkpoint whole.
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
import zipfile
from collections import OrderedDict
from collections.abc import Iterator
from typing import IO, Any

import numpy as np

from kernels.numpy_ref import array_module
from tinynet.errors import ArgumentError, ArgumentTypeError
from tinynet.nn.module import Parameter
from tinynet.tensor import Tensor, tensor, to_host

_FORMAT = "tinynet-checkpoint"
_VERSION = 1
_META = "__meta__"


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike) -> Iterator[IO[bytes]]:
    """A binary file to write ``path`` through: it replaces ``path`` only once completely on disk.

    The data goes to a temporary file in the same folder (a rename is only atomic within one file
    system), which is flushed and fsynced before ``os.replace`` puts it in place. If anything fails
    before that, the temporary file is removed and ``path`` is untouched.
    """
    path = os.fspath(path)
    tmp = os.path.join(os.path.dirname(os.path.abspath(path)), f".{os.path.basename(path)}.{uuid.uuid4().hex}.tmp")
    try:
        with open(tmp, "xb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise


def save(obj: Any, path: str | os.PathLike) -> None:
    """Write ``obj`` (a state dict, or nested dicts/lists/tuples of Tensors, arrays and plain values) to ``path``.

    ``path`` is used as given (no ``.npz`` is appended). Raises TypeError naming the first value it
    cannot store, e.g. an arbitrary Python object.
    """
    arrays: dict[str, np.ndarray] = {}
    meta = {"format": _FORMAT, "version": _VERSION, "object": _encode(obj, arrays, "obj")}
    with atomic_write(path) as f:
        np.savez(f, **{_META: np.array(json.dumps(meta))}, **arrays)


def load(path: str | os.PathLike) -> Any:
    """Read back what ``save`` wrote to ``path``; Tensors land on the active backend.

    Raises FileNotFoundError if there is no file, and ValueError naming ``path`` if it is truncated,
    corrupted or not a tinynet checkpoint.
    """
    path = os.fspath(path)
    with open(path, "rb") as f:  # a missing or unreadable file raises here, as for any open()
        is_zip = f.read(4) == b"PK\x03\x04"  # every .npz is a zip file, and every zip file starts so
    try:
        if not is_zip:
            raise ArgumentError("it is not an .npz (zip) file")
        with np.load(path, allow_pickle=False) as npz:
            meta = json.loads(str(npz[_META]))
            arrays = {name: npz[name] for name in npz.files if name != _META}
        if meta.get("format") != _FORMAT:
            raise ArgumentError(f"unknown format {meta.get('format')!r}")
        if meta.get("version") != _VERSION:
            raise ArgumentError(f"format version {meta.get('version')!r}, this tinynet reads version {_VERSION}")
        return _decode(meta["object"], arrays)
    # A damaged zip, npy header or JSON entry surfaces as any of these, depending on where the damage is.
    except (zipfile.BadZipFile, ValueError, KeyError, TypeError, EOFError, OSError) as err:
        raise ArgumentError(
            f"tn.load: {path!r} is not a readable tinynet checkpoint (truncated, corrupted, or not written by "
            f"tn.save): {type(err).__name__}: {err}"
        ) from err


# --- the JSON description --------------------------------------------------------------------
# Every container is tagged ({"tuple": [...]}, {"dict": [[key, value], ...]}), so a JSON object in the
# metadata is always a tag, never user data, and a user's key can never be mistaken for one.


def _encode(obj: Any, arrays: dict[str, np.ndarray], where: str):
    # np.float64 subclasses float: it is kept as an array below so it comes back as np.float64.
    if obj is None or (isinstance(obj, (bool, int, float, str)) and not isinstance(obj, np.generic)):
        return obj
    if isinstance(obj, Tensor):
        kind = "parameter" if isinstance(obj, Parameter) else "tensor"
        return {kind: _store(to_host(obj.data), arrays, where), "requires_grad": obj.requires_grad}
    if isinstance(obj, np.generic):
        return {"scalar": _store(np.asarray(obj), arrays, where)}
    if isinstance(obj, np.ndarray) or array_module(obj) is not np:  # a CuPy array is copied to the host
        return {"array": _store(to_host(obj), arrays, where)}
    if isinstance(obj, list):
        return [_encode(v, arrays, f"{where}[{i}]") for i, v in enumerate(obj)]
    if isinstance(obj, tuple):
        return {"tuple": [_encode(v, arrays, f"{where}[{i}]") for i, v in enumerate(obj)]}
    if isinstance(obj, dict):
        kind = "ordered_dict" if isinstance(obj, OrderedDict) else "dict"
        return {kind: [[_encode(k, arrays, f"{where} key {k!r}"), _encode(v, arrays, f"{where}[{k!r}]")]
                       for k, v in obj.items()]}  # fmt: skip
    raise ArgumentTypeError(
        f"tn.save: cannot store {where} of type {type(obj).__name__}; checkpoints hold Tensors, arrays, "
        "numbers, strings, None, and lists/tuples/dicts of them"
    )


def _store(array: np.ndarray, arrays: dict[str, np.ndarray], where: str) -> str:
    if array.dtype.hasobject:
        raise ArgumentTypeError(f"tn.save: {where} is an array of Python objects, which a checkpoint cannot hold")
    name = f"a{len(arrays)}"
    arrays[name] = array
    return name


def _decode(item, arrays: dict[str, np.ndarray]):
    if isinstance(item, list):
        return [_decode(v, arrays) for v in item]
    if not isinstance(item, dict):
        return item
    if "tensor" in item or "parameter" in item:
        array = arrays[item.get("tensor", item.get("parameter"))]
        loaded = tensor(array, dtype=array.dtype, requires_grad=item["requires_grad"])
        return Parameter(loaded, item["requires_grad"]) if "parameter" in item else loaded
    if "scalar" in item:
        return arrays[item["scalar"]][()]
    if "array" in item:
        return arrays[item["array"]]
    if "tuple" in item:
        return tuple(_decode(v, arrays) for v in item["tuple"])
    for kind, mapping in (("dict", dict), ("ordered_dict", OrderedDict)):
        if kind in item:
            return mapping((_decode(k, arrays), _decode(v, arrays)) for k, v in item[kind])
    raise ArgumentError(f"unknown entry {item!r} in the metadata")
