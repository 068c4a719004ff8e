"""Checkpoints: ``tn.save(obj, f)`` and ``tn.load(f)``, as ``torch.save`` / ``torch.load``, for what programs save.

What can be saved: Tensors (any dtype, 0-d too, Parameters stay Parameters), NumPy arrays and scalars, numbers,
strings, None, ``tn.device`` and dtypes, and lists, tuples, dicts and OrderedDicts nesting them - a state dict, an
optimizer's state dict (integer keys), a training script's config and counters. ``f`` is a path (str or
``pathlib.Path``) or a binary file object (an open file, ``io.BytesIO``).

The format is an ``.npz`` file (a zip of ``.npy`` entries, readable by ``np.load``): every array is an entry of its
own, named ``a0``, ``a1``..., and one JSON entry, ``__meta__``, describes the nesting and names the array that goes
at each place. Nothing is pickled, so loading a file runs no code from it - PyTorch's ``weights_only=True``, always.
Loading reads the zip itself and checks everything it reads (entry names, ``.npy`` headers, dtypes, sizes), so a
damaged or hostile file is refused with an ArgumentError that names it, never half-read.

``tn.load`` gives back the same types: tuples stay tuples, integer keys stay integers, the same Tensor saved twice
(a tied weight) comes back as one Tensor. Tensors return to the device they were saved from, unless
``map_location`` says otherwise (``"cpu"`` brings a GPU checkpoint to a machine without one).

A path is written atomically: to a temporary file beside it, flushed to disk, then renamed over it, so a crash
while saving leaves the previous checkpoint whole.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import uuid
import zipfile
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import IO, Any

import numpy as np

from kernels.numpy_ref import array_module
from tinynet.device import device
from tinynet.errors import ArgumentError, ArgumentTypeError, BackendError, TinynetError
from tinynet.nn.module import Parameter
from tinynet.tensor import Tensor, to_host

_FORMAT = "tinynet-checkpoint"
_VERSION = 1
_META = "__meta__"
_ZIP_MAGIC = b"PK\x03\x04"  # every .npz is a zip file, and every zip file starts so
# The dtypes a Tensor can hold, and the kinds of NumPy array a checkpoint stores besides (complex, strings).
_TENSOR_DTYPES = frozenset(np.dtype(n) for n in ("bool", "uint8", "int8", "int16", "int32", "int64", "float16",
                                                  "float32", "float64"))  # fmt: skip
_ARRAY_KINDS = "biufcSU"

FileLike = str | os.PathLike | IO[bytes]
MapLocation = str | device | dict | Callable[[Tensor, str], Any] | None


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


# --- saving ----------------------------------------------------------------------------------


def save(
    obj: Any,
    f: FileLike,
    pickle_module: Any = None,
    pickle_protocol: int = 2,
    _use_new_zipfile_serialization: bool = True,
    _disable_byteorder_record: bool = False,
) -> None:
    """Write ``obj`` to ``f``, a path (used as given: no ``.npz`` is appended) or a binary file object.

    ``obj`` nests Tensors, arrays and plain values in lists/tuples/dicts (see the module docstring). A whole
    ``nn.Module``, an optimizer or any other object is refused with an ArgumentTypeError naming its type and
    where it was: save its ``state_dict()`` instead. Nothing is written then. ``pickle_protocol`` and the
    underscored flags are accepted for PyTorch's signature and mean nothing here (no pickle is written);
    a ``pickle_module`` is refused.
    """
    if pickle_module is not None:
        raise ArgumentTypeError("tn.save: tinynet never pickles, so it takes no pickle_module")
    arrays: dict[str, np.ndarray] = {}
    meta = {"format": _FORMAT, "version": _VERSION, "object": _Encoder(arrays).encode(obj, "obj", ())}
    entries = {_META: np.array(json.dumps(meta, allow_nan=True)), **arrays}
    if hasattr(f, "write"):
        np.savez(f, **entries)  # into the caller's file object, left open, as torch.save leaves it
        return
    if not isinstance(f, (str, os.PathLike)):
        raise ArgumentTypeError(f"tn.save: f must be a path or a binary file object, not {type(f).__name__}")
    with atomic_write(f) as out:
        np.savez(out, **entries)


# Every container is tagged ({"tuple": [...]}, {"dict": [[key, value], ...]}), so a JSON object in the
# metadata is always a tag, never user data, and a user's key can never be mistaken for one.


class _Encoder:
    """Turns ``obj`` into the JSON description, putting its arrays in ``arrays``.

    As pickle does for ``torch.save``, sharing is kept: an array stored once however many Tensors hold it (a tied
    weight appears in a state dict under two names, as two Tensors on one array), and the same Tensor object
    saved twice is marked so that it loads as one object.
    """

    def __init__(self, arrays: dict[str, np.ndarray]) -> None:
        self.arrays = arrays
        self.names: dict[int, str] = {}  # id of an array (or NumPy scalar) already stored -> its entry's name
        self.tensors: dict[int, int] = {}  # id of a Tensor already described -> its number in the file
        self.keep_alive: list = []  # what the ids above belong to, so that no id is reused while saving

    def encode(self, obj: Any, where: str, open_containers: tuple[int, ...]):
        # Exact types only: a subclass (an enum, np.float64) would come back as its base type.
        if obj is None or type(obj) in (bool, int, float, str):
            return obj
        if isinstance(obj, Tensor):
            kind = "parameter" if isinstance(obj, Parameter) else "tensor"
            number = self.tensors.setdefault(id(obj), len(self.tensors))
            self.keep_alive.append(obj)
            name = self.store(obj.array, where)
            return {kind: name, "requires_grad": obj.requires_grad, "location": str(obj.device), "object": number}
        if isinstance(obj, np.generic):
            return {"scalar": self.store(obj, where)}
        if isinstance(obj, np.ndarray) or _is_gpu_array(obj):  # a CuPy array is copied to the host
            return {"array": self.store(obj, where)}
        if isinstance(obj, device):
            return {"device": str(obj)}
        if isinstance(obj, np.dtype):
            return {"dtype": self.check_dtype(obj, where).str}
        if type(obj) in (list, tuple, dict, OrderedDict):
            if id(obj) in open_containers:
                raise ArgumentTypeError(f"tn.save: {where} contains itself, which a checkpoint cannot hold")
            inside = (*open_containers, id(obj))
            if isinstance(obj, list):
                return [self.encode(v, f"{where}[{i}]", inside) for i, v in enumerate(obj)]
            if isinstance(obj, tuple):
                return {"tuple": [self.encode(v, f"{where}[{i}]", inside) for i, v in enumerate(obj)]}
            kind = "ordered_dict" if isinstance(obj, OrderedDict) else "dict"
            return {kind: [[self.encode(k, f"{where} key {k!r}", inside), self.encode(v, f"{where}[{k!r}]", inside)]
                           for k, v in obj.items()]}  # fmt: skip
        raise ArgumentTypeError(_refusal(obj, where))

    def store(self, array, where: str) -> str:
        """The name of the entry holding ``array``: a new one, or the one it was stored under before."""
        if id(array) in self.names:
            return self.names[id(array)]
        host = to_host(np.asarray(array) if isinstance(array, np.generic) else array)
        self.check_dtype(host.dtype, where)
        name = f"a{len(self.arrays)}"
        self.arrays[name] = host
        self.names[id(array)] = name
        self.keep_alive.append(array)
        return name

    @staticmethod
    def check_dtype(dtype: np.dtype, where: str) -> np.dtype:
        if dtype.kind not in _ARRAY_KINDS or dtype.fields is not None:
            what = "an array of Python objects" if dtype.hasobject else f"an array of {dtype} values"
            raise ArgumentTypeError(f"tn.save: {where} is {what}, which a checkpoint cannot hold")
        return dtype


def _is_gpu_array(obj: Any) -> bool:
    return hasattr(obj, "__cuda_array_interface__") and array_module(obj) is not np


def _refusal(obj: Any, where: str) -> str:
    name = type(obj).__name__
    if hasattr(obj, "state_dict") and callable(obj.state_dict):
        # A whole Module or Optimizer: PyTorch pickles it, code and all; tinynet keeps only the values.
        return (
            f"tn.save: cannot store {where} of type {name}: tinynet saves values, not whole objects (that would "
            f"need pickle, which runs code when loading). Save its state_dict() instead, e.g. "
            f"tn.save(model.state_dict(), path), and load it into a newly built {name} with "
            f"load_state_dict(tn.load(path))"
        )
    if isinstance(obj, (list, tuple, dict)):
        plain = "dict(...) or OrderedDict(...)" if isinstance(obj, dict) else f"{type(obj).__mro__[1].__name__}(...)"
        return f"tn.save: cannot store {where} of type {name} (a subclass of a container); save it as {plain}"
    return (
        f"tn.save: cannot store {where} of type {name}; checkpoints hold Tensors, arrays, numbers, strings, None, "
        "devices, dtypes, and lists/tuples/dicts of them (for an object with a state_dict(), save that)"
    )


# --- loading ---------------------------------------------------------------------------------


class _PlacementError(Exception):
    """Carries an error from placing tensors (map_location, a missing GPU) past the handler that blames the file."""

    def __init__(self, error: BaseException) -> None:
        self.error = error


def load(
    f: FileLike,
    map_location: MapLocation = None,
    pickle_module: Any = None,
    *,
    weights_only: bool | None = None,
    mmap: bool | None = None,
    **pickle_load_args: Any,
) -> Any:
    """Read back what ``save`` wrote to ``f`` (a path or a binary file object, read from its position).

    ``map_location`` puts the tensors somewhere else than where they were saved: ``"cpu"``, ``"cuda"`` or a
    ``tn.device`` moves every tensor there; a dict maps saved locations to new ones (``{"cuda:0": "cpu"}``); a
    callable ``fn(tensor, location)`` returns the tensor to use, or None to leave it where it was saved.
    ``weights_only`` is accepted and always holds: nothing executable is ever loaded.

    Raises FileNotFoundError for a path with no file; ArgumentError naming ``f`` for a file that is truncated,
    corrupted, hostile or not a tinynet checkpoint (a PyTorch pickle included); BackendError when a tensor
    must go to a GPU this machine has not got (the message says to pass ``map_location="cpu"``).
    """
    if pickle_module is not None or pickle_load_args:
        raise ArgumentTypeError("tn.load: tinynet never unpickles, so it takes no pickle_module or pickle arguments")
    if mmap:
        raise ArgumentError("tn.load: mmap=True is not supported: tinynet reads checkpoints into memory")
    place = _placement(map_location)
    label = repr(os.fspath(f)) if isinstance(f, (str, os.PathLike)) else f"the {type(f).__name__} given"
    with _opened(f) as source:
        try:
            return _read(source, place)
        except _PlacementError as wrapped:
            raise wrapped.error from None
        # A damaged zip, npy header or JSON entry surfaces as any of these, depending on where the damage is.
        except (zipfile.BadZipFile, ValueError, KeyError, TypeError, IndexError, EOFError, OSError, MemoryError,
                RecursionError, OverflowError, zlib.error) as err:  # fmt: skip
            reason = str(err) if isinstance(err, TinynetError) else f"{type(err).__name__}: {err}"
            raise ArgumentError(
                f"tn.load: {label} is not a readable tinynet checkpoint (truncated, corrupted, or not written by "
                f"tn.save): {reason}"
            ) from err


@contextlib.contextmanager
def _opened(f: FileLike) -> Iterator[IO[bytes]]:
    """``f`` as a seekable binary file: a path opened (a missing one raises FileNotFoundError, as for any open),
    a seekable file object as it is, another one read into memory."""
    if isinstance(f, (str, os.PathLike)):
        with open(f, "rb") as opened:
            yield opened
    elif hasattr(f, "read"):
        seekable = getattr(f, "seekable", None)
        yield f if seekable is not None and seekable() else io.BytesIO(f.read())
    else:
        raise ArgumentTypeError(f"tn.load: f must be a path or a binary file object, not {type(f).__name__}")


def _read(source: IO[bytes], place: Callable[[Tensor, str], Tensor]) -> Any:
    start = source.tell()
    head = source.read(4)
    source.seek(start)
    if head != _ZIP_MAGIC:
        if head[:1] == b"\x80":
            raise ArgumentError("it is a pickle (PyTorch's legacy format?), and tinynet never unpickles")
        raise ArgumentError("it is not an .npz (zip) file")
    with zipfile.ZipFile(source) as archive:
        entries = {info.filename: info for info in archive.infolist()}
        if f"{_META}.npy" not in entries:
            if any(name.endswith("data.pkl") for name in entries):
                raise ArgumentError(
                    "it was written by PyTorch's torch.save, whose format is pickle, which tinynet never reads; "
                    "in PyTorch, np.savez the tensors' .numpy() values and read that file with np.load"
                )
            raise ArgumentError(f"it has no {_META} entry")
        meta = json.loads(str(_read_npy(archive, entries[f"{_META}.npy"], kinds="U", shape=())))
        if not isinstance(meta, dict) or meta.get("format") != _FORMAT:
            raise ArgumentError(f"unknown format {meta.get('format') if isinstance(meta, dict) else meta!r}")
        if meta.get("version") != _VERSION:
            raise ArgumentError(f"format version {meta.get('version')!r}, this tinynet reads version {_VERSION}")
        return _Decoder(archive, entries, place).decode(meta.get("object"))


def _read_npy(archive: zipfile.ZipFile, info: zipfile.ZipInfo, kinds: str, shape: tuple | None = None) -> np.ndarray:
    """The array in one ``.npy`` entry, read with its header checked first: a dtype of the expected kinds, and no
    more bytes claimed than the entry holds (a hostile header cannot make us allocate what the file lacks)."""
    if info.compress_type != zipfile.ZIP_STORED:
        raise ArgumentError(f"entry {info.filename!r} is compressed; tn.save writes only stored entries")
    with archive.open(info) as member:
        version = np.lib.format.read_magic(member)
        if version not in ((1, 0), (2, 0), (3, 0)):
            raise ArgumentError(f"entry {info.filename!r} has .npy format version {version}")
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        stored_shape, fortran_order, dtype = read_header(member)
        if dtype.kind not in kinds or dtype.fields is not None or dtype.subdtype is not None or dtype.itemsize == 0:
            raise ArgumentError(f"entry {info.filename!r} has dtype {dtype}, which a checkpoint does not hold")
        if shape is not None and stored_shape != shape:
            raise ArgumentError(f"entry {info.filename!r} has shape {stored_shape}, expected {shape}")
        count = math.prod(stored_shape)
        if count * dtype.itemsize > info.file_size:
            raise ArgumentError(f"entry {info.filename!r} claims {count} values of {dtype}, more than it holds")
        flat = np.empty(count, dtype=dtype)
        raw = flat.view(np.uint8)
        filled = 0
        while filled < raw.size:
            got = member.readinto(memoryview(raw)[filled:])
            if not got:
                raise ArgumentError(f"entry {info.filename!r} ends after {filled} of {raw.size} bytes")
            filled += got
        if member.read(1):  # reading to the end also has zipfile check the entry's CRC
            raise ArgumentError(f"entry {info.filename!r} holds more bytes than its header says")
    array = flat.reshape(stored_shape, order="F" if fortran_order else "C")
    # A file from a machine of the other byte order still loads, in this machine's order.
    return array if dtype.isnative else array.astype(dtype.newbyteorder("="))


class _Decoder:
    """Rebuilds the saved object from the JSON description, reading each array entry once."""

    def __init__(self, archive: zipfile.ZipFile, entries: dict, place: Callable[[Tensor, str], Tensor]) -> None:
        self.archive, self.entries, self.place = archive, entries, place
        self.arrays: dict[str, np.ndarray] = {}  # entry name -> its array: entries shared when saved stay shared
        self.tensors: dict[int, Tensor] = {}  # a Tensor's number in the file -> the Tensor rebuilt

    def decode(self, item):
        if isinstance(item, list):
            return [self.decode(v) for v in item]
        if item is None or isinstance(item, (bool, int, float, str)):
            return item
        if not isinstance(item, dict):
            raise ArgumentError(f"unknown entry {item!r} in the metadata")
        if "tensor" in item or "parameter" in item:
            number = item.get("object")
            if number is None:  # written before objects were numbered
                return self.tensor(item)
            if _expect(number, int, "tensor number") not in self.tensors:
                self.tensors[number] = self.tensor(item)
            return self.tensors[number]
        if "scalar" in item:
            return self.array(item["scalar"], _ARRAY_KINDS)[()]
        if "array" in item:
            return self.array(item["array"], _ARRAY_KINDS)
        if "tuple" in item:
            return tuple(self.decode(v) for v in _expect(item["tuple"], list, "tuple"))
        if "device" in item:
            return device(_expect(item["device"], str, "device"))
        if "dtype" in item:
            dtype = np.dtype(_expect(item["dtype"], str, "dtype"))
            if dtype.kind not in _ARRAY_KINDS or dtype.fields is not None:
                raise ArgumentError(f"unknown dtype {item['dtype']!r} in the metadata")
            return dtype
        for kind, mapping in (("dict", dict), ("ordered_dict", OrderedDict)):
            if kind in item:
                pairs = _expect(item[kind], list, kind)
                if not all(isinstance(pair, list) and len(pair) == 2 for pair in pairs):
                    raise ArgumentError(f"a {kind} in the metadata is not a list of [key, value] pairs")
                return mapping((self.decode(k), self.decode(v)) for k, v in pairs)
        raise ArgumentError(f"unknown entry {item!r} in the metadata")

    def array(self, name, kinds: str) -> np.ndarray:
        # Names are looked up among the archive's entries, never used as paths: "../x" is just not found.
        name = _expect(name, str, "array name")
        if name not in self.arrays:
            info = self.entries.get(f"{name}.npy")
            if name == _META or info is None:
                raise ArgumentError(f"the metadata names an array {name!r} that is not in the archive")
            self.arrays[name] = _read_npy(self.archive, info, _ARRAY_KINDS)
        if self.arrays[name].dtype.kind not in kinds:
            raise ArgumentError(f"array {name!r} has dtype {self.arrays[name].dtype}, not one that goes there")
        return self.arrays[name]

    def tensor(self, item: dict) -> Tensor:
        name = item.get("tensor", item.get("parameter"))
        array = self.array(name, _ARRAY_KINDS)
        if array.dtype not in _TENSOR_DTYPES:
            raise ArgumentError(f"array {name!r} has dtype {array.dtype}, which a tinynet Tensor cannot hold")
        requires_grad = _expect(item.get("requires_grad", False), bool, "requires_grad")
        location = str(device(_expect(item.get("location", "cpu"), str, "location")))
        try:
            placed = self.place(Tensor(array), location).array
        except Exception as err:  # the caller's map_location, or the device: not the file's fault
            raise _PlacementError(err) from err
        return Parameter(placed, requires_grad) if "parameter" in item else Tensor(placed, requires_grad=requires_grad)


def _expect(value, kind: type, what: str):
    if not isinstance(value, kind):
        raise ArgumentError(f"the metadata's {what} is {value!r}, not a {kind.__name__}")
    return value


def _placement(map_location: MapLocation) -> Callable[[Tensor, str], Tensor]:
    """A function putting a freshly read CPU tensor, saved at ``location``, where ``map_location`` says."""
    if map_location is None:
        return _move
    if isinstance(map_location, (str, device)):
        target = str(device(map_location))  # an unknown device name raises here, before reading
        return lambda t, location: _move(t, target)
    if isinstance(map_location, dict):
        mapping = {str(k): str(device(v)) for k, v in map_location.items()}
        return lambda t, location: _move(t, mapping.get(location, location))
    if callable(map_location):

        def place(t: Tensor, location: str) -> Tensor:
            moved = map_location(t, location)
            if moved is None:
                return _move(t, location)
            if not isinstance(moved, Tensor):
                raise ArgumentTypeError(f"tn.load: map_location returned {type(moved).__name__}, not a Tensor or None")
            return moved

        return place
    raise ArgumentTypeError(
        f"tn.load: map_location must be None, a device name, a tn.device, a dict or a callable, "
        f"not {type(map_location).__name__}"
    )


def _move(t: Tensor, location: str) -> Tensor:
    if device(location).type == "cpu":
        return t
    try:
        return t.to(location)
    except TinynetError as err:
        raise BackendError(
            f"tn.load: the checkpoint has a tensor for {location}, which cannot run here ({err}); on a machine "
            f"without a GPU, load it with map_location='cpu'"
        ) from err
