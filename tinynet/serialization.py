"""Checkpoints: ``tn.save(obj, f)`` and ``tn.load(f)``, as ``torch.save`` / ``torch.load``, for what programs save.

What can be saved: Tensors (any dtype, 0-d too, Parameters stay Parameters), NumPy arrays and scalars, numbers,
strings, None, ``tn.device`` and dtypes, and lists, tuples, dicts and OrderedDicts nesting them - a state dict, an
optimizer's state dict (integer keys), a training script's config and counters. ``f`` is a path (str or
``pathlib.Path``) or a binary file object (an open file, ``io.BytesIO``).

The format is an ``.npz`` file (a zip of ``.npy`` entries, readable by ``np.load``): every array is an entry of its
own, named ``a0``, ``a1``..., and one JSON entry, ``__meta__``, describes the nesting and names the array that goes
at each place. Nothing is pickled, so loading a file runs no code from it - PyTorch's ``weights_only=True``, always.
Loading reads the zip itself and checks everything it reads (entry names, ``.npy`` headers, dtypes, sizes), so a
damaged or hostile file is refused with an ArgumentError that names it, never half-read, and before it can make
the load use memory or stack it does not pay for: every entry must be stored uncompressed, in a part of the file of
its own, holding what its headers claim (so no zip bomb, compressed or overlapping, gets read), the metadata must
have the form ``save`` writes and nest no deeper than it does, and all the entries together must fit in
``max_bytes`` (16 GiB unless ``tn.load`` is told otherwise).

``tn.load`` gives back the same types: tuples stay tuples, integer keys stay integers, the same Tensor saved twice
(a tied weight) comes back as one Tensor. Tensors return to the device they were saved from, unless
``map_location`` says otherwise (``"cpu"`` brings a GPU checkpoint to a machine without one).

A path is written atomically: to a temporary file beside it (``.<name>.<random hex>.tmp``), flushed to disk, then
renamed over it, so a crash while saving leaves the previous checkpoint whole. A crash can leave the temporary
file; the next save to the same path removes it (see ``atomic_write``).
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import re
import struct
import zipfile
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import IO, Any

import numpy as np

from kernels.numpy_ref import array_module
from tinynet.atomic_file import atomic_write
from tinynet.device import device
from tinynet.errors import ArgumentError, ArgumentTypeError, BackendError, TinynetError
from tinynet.nn.module import Parameter
from tinynet.tensor import Tensor, to_host

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

_FORMAT = "tinynet-checkpoint"
_VERSION = 1
_META = "__meta__"
_ZIP_MAGIC = b"PK\x03\x04"  # every .npz is a zip file, and every zip file starts so
# The dtypes a Tensor can hold, and the kinds of NumPy array a checkpoint stores besides (complex, strings).
_TENSOR_DTYPES = frozenset(np.dtype(n) for n in ("bool", "uint8", "int8", "int16", "int32", "int64", "float16",
                                                  "float32", "float64"))  # fmt: skip
_ARRAY_KINDS = "biufcSU"

# The most bytes of entries ``tn.load`` reads unless told otherwise. A fixed number rather than a share of this
# machine's memory, so that a checkpoint loads on every machine alike or is refused alike; it only matters for
# files that really are that large (a file cannot claim more than it holds), and it is far above what a model
# trained with tinynet saves, and below what would have a typical machine swap or be killed for memory.
DEFAULT_MAX_BYTES = 16 * 2**30
# The deepest nesting of containers (lists, tuples, dicts) a checkpoint holds: save refuses deeper, load too, so
# neither needs more stack than Python has. In JSON a dict is 3 levels ({"dict": [[key, value]]}), and the
# metadata around the object and a tensor's description one more each.
MAX_NESTING = 100
_MAX_JSON_DEPTH = 3 * MAX_NESTING + 2
_MAX_DIMS = 64  # NumPy's most dimensions
_STREAM_SLACK = 2**20  # room for the zip's own headers when a stream that cannot seek is read into memory
_LOCAL_HEADER = struct.Struct("<4s22xHH")  # a zip entry's local header: signature, ..., name and extra lengths

FileLike = str | os.PathLike | IO[bytes]
MapLocation = str | device | dict | Callable[[Tensor, str], Any] | None


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
            if len(open_containers) >= MAX_NESTING:
                raise ArgumentError(
                    f"tn.save: {where} is nested deeper than {MAX_NESTING} containers, which a checkpoint cannot hold"
                )
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


class _TooLargeError(Exception):
    """A file larger than ``max_bytes`` allows: not a damaged one, so it gets its own message."""


def load(
    f: FileLike,
    map_location: MapLocation = None,
    pickle_module: Any = None,
    *,
    weights_only: bool | None = None,
    mmap: bool | None = None,
    max_bytes: int | None = DEFAULT_MAX_BYTES,
    **pickle_load_args: Any,
) -> Any:
    """Read back what ``save`` wrote to ``f`` (a path or a binary file object, read from its position).

    ``map_location`` puts the tensors somewhere else than where they were saved: ``"cpu"``, ``"cuda"`` or a
    ``tn.device`` moves every tensor there; a dict maps saved locations to new ones (``{"cuda:0": "cpu"}``); a
    callable ``fn(tensor, location)`` returns the tensor to use, or None to leave it where it was saved.
    ``weights_only`` is accepted and always holds: nothing executable is ever loaded.

    ``max_bytes`` (tinynet's own; 16 GiB, ``DEFAULT_MAX_BYTES``) is the most bytes the file's entries may hold
    together: a larger file is refused before anything is read. Pass a larger number, or None for no limit, to load
    a larger checkpoint you trust. A stream that cannot seek is read into memory first, and refused once longer
    than ``max_bytes`` and 1 MiB (for the zip's own headers).

    Raises FileNotFoundError for a path with no file; ArgumentError naming ``f`` for a file that is truncated,
    corrupted, hostile, not a tinynet checkpoint (a PyTorch pickle included) or larger than ``max_bytes``;
    BackendError when a tensor must go to a GPU this machine has not got (the message says to pass
    ``map_location="cpu"``); MemoryError when this machine cannot hold a checkpoint's arrays.
    """
    if pickle_module is not None or pickle_load_args:
        raise ArgumentTypeError("tn.load: tinynet never unpickles, so it takes no pickle_module or pickle arguments")
    if mmap:
        raise ArgumentError("tn.load: mmap=True is not supported: tinynet reads checkpoints into memory")
    if max_bytes is not None and type(max_bytes) is not int:
        raise ArgumentTypeError(f"tn.load: max_bytes must be an int or None, not {type(max_bytes).__name__}")
    if max_bytes is not None and max_bytes < 0:
        raise ArgumentError(f"tn.load: max_bytes must be 0 or more, not {max_bytes}")
    place = _placement(map_location)
    label = repr(os.fspath(f)) if isinstance(f, (str, os.PathLike)) else f"the {type(f).__name__} given"
    try:
        with _opened(f, max_bytes) as source:
            try:
                return _read(source, place, max_bytes)
            except _PlacementError as wrapped:
                raise wrapped.error from None
            except _DAMAGE as err:
                reason = str(err) if isinstance(err, TinynetError) else f"{type(err).__name__}: {err}"
                raise ArgumentError(
                    f"tn.load: {label} is not a readable tinynet checkpoint (truncated, corrupted, or not written by "
                    f"tn.save): {reason}"
                ) from err
    except _TooLargeError as err:
        raise ArgumentError(
            f"tn.load: {label} {err}, more than max_bytes={max_bytes} ({_in_units(max_bytes)}) allows; if you trust "
            f"the file, pass a larger max_bytes= to tn.load (max_bytes=None for no limit)"
        ) from None


# What a damaged zip, npy header or JSON entry surfaces as, depending on where the damage is. The checks in _read
# name most damage themselves; these are the last line. (MemoryError is not here: a hostile file cannot claim more
# memory than it holds, so one is a real file this machine cannot hold, not a damaged one.)
_DAMAGE = (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, KeyError, TypeError, IndexError, EOFError, OSError,
           RecursionError, OverflowError, NotImplementedError, struct.error, zlib.error)  # fmt: skip


def _in_units(count: int) -> str:
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if count >= size:
            return f"{count / size:.4g} {unit}"
    return f"{count} bytes"


@contextlib.contextmanager
def _opened(f: FileLike, max_bytes: int | None) -> Iterator[IO[bytes]]:
    """``f`` as a seekable binary file: a path opened (a missing one raises FileNotFoundError, as for any open),
    a seekable file object as it is, another one read into memory (no further than ``max_bytes`` allows)."""
    if isinstance(f, (str, os.PathLike)):
        with open(f, "rb") as opened:
            yield opened
    elif hasattr(f, "read"):
        seekable = getattr(f, "seekable", None)
        yield f if seekable is not None and seekable() else io.BytesIO(_read_stream(f, max_bytes))
    else:
        raise ArgumentTypeError(f"tn.load: f must be a path or a binary file object, not {type(f).__name__}")


def _read_stream(f: IO[bytes], max_bytes: int | None) -> bytes:
    if max_bytes is None:
        return f.read()
    limit = max_bytes + _STREAM_SLACK
    chunks, total = [], 0
    while chunk := f.read(min(2**20, limit + 1 - total)):
        chunks.append(chunk)
        total += len(chunk)
        if total > limit:
            raise _TooLargeError(f"is a stream longer than {limit:,} bytes (max_bytes and 1 MiB for the zip's headers)")
    return b"".join(chunks)


def _read(source: IO[bytes], place: Callable[[Tensor, str], Tensor], max_bytes: int | None) -> Any:
    start = source.tell()
    head = source.read(4)
    source.seek(start)
    if head != _ZIP_MAGIC:
        if head[:1] == b"\x80":
            raise ArgumentError("it is a pickle (PyTorch's legacy format?), and tinynet never unpickles")
        raise ArgumentError("it is not an .npz (zip) file")
    end = source.seek(0, os.SEEK_END)
    source.seek(start)
    with zipfile.ZipFile(source) as archive:
        entries = _entries(archive, source, end, max_bytes)
        text = str(_read_npy(archive, entries[f"{_META}.npy"], kinds="U", shape=()))
        obj = _checked_meta(_parse_json(text))
        return _Decoder(archive, entries, place).decode(obj)


def _entries(archive: zipfile.ZipFile, source: IO[bytes], end: int, max_bytes: int | None) -> dict:
    """The archive's entries by name, once checked against what the file is.

    The sizes in a zip's headers are the file's word, and a hostile file lies: so before anything is read, every
    entry must be stored uncompressed (tn.save compresses nothing: nothing ever inflates), claim the same size
    stored as read, and lie in a part of the file no other entry uses. What a load reads then adds up to no more
    than the file's length, whatever its headers say - no zip bomb, compressed or overlapping.
    """
    entries: dict[str, zipfile.ZipInfo] = {}
    for info in archive.infolist():
        if info.filename in entries:  # which of the two to read? Readers disagree; a file tn.save wrote has none
            raise ArgumentError(f"it has the entry {info.filename!r} twice")
        entries[info.filename] = info
    if f"{_META}.npy" not in entries:
        if any(name.endswith("data.pkl") for name in entries):
            raise ArgumentError(
                "it was written by PyTorch's torch.save, whose format is pickle, which tinynet never reads; "
                "in PyTorch, np.savez the tensors' .numpy() values and read that file with np.load"
            )
        raise ArgumentError(f"it has no {_META} entry")
    used_until, previous = 0, None
    for info in sorted(entries.values(), key=lambda info: info.header_offset):
        name = info.filename
        if info.compress_type != zipfile.ZIP_STORED:
            raise ArgumentError(f"entry {name!r} is compressed; tn.save writes only stored entries")
        if info.compress_size != info.file_size:
            raise ArgumentError(
                f"entry {name!r} is stored, yet claims {info.file_size:,} bytes in {info.compress_size:,}"
            )
        source.seek(info.header_offset)
        header = source.read(_LOCAL_HEADER.size)
        if len(header) < _LOCAL_HEADER.size or header[:4] != b"PK\x03\x04":
            raise ArgumentError(f"entry {name!r} is not where the zip's directory says")
        if info.header_offset < used_until:
            raise ArgumentError(f"entries {previous!r} and {name!r} overlap in the file (a zip bomb?)")
        name_length, extra_length = _LOCAL_HEADER.unpack(header)[1:]
        used_until = info.header_offset + _LOCAL_HEADER.size + name_length + extra_length + info.compress_size
        if used_until > end:
            raise ArgumentError(f"entry {name!r} claims {info.file_size:,} bytes, more than the file holds ({end:,})")
        previous = name
    total = sum(info.file_size for info in entries.values())
    if max_bytes is not None and total > max_bytes:
        raise _TooLargeError(f"holds {total:,} bytes of entries")
    return entries


def _read_npy(archive: zipfile.ZipFile, info: zipfile.ZipInfo, kinds: str, shape: tuple | None = None) -> np.ndarray:
    """The array in one ``.npy`` entry, read with its header checked first: a dtype of the expected kinds, a
    shape of whole sizes, and no more bytes claimed than the entry holds (``_entries`` checked that the entry
    holds no more than the file), so a hostile header cannot make us allocate what the file lacks."""
    name = info.filename
    with archive.open(info) as member:
        try:
            version = np.lib.format.read_magic(member)
            if version not in ((1, 0), (2, 0), (3, 0)):
                raise ArgumentError(f"entry {name!r} has .npy format version {version}")
            read_header = (
                np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            )
            stored_shape, fortran_order, dtype = read_header(member)
        except (ValueError, TypeError) as err:
            if isinstance(err, TinynetError):
                raise
            raise ArgumentError(f"entry {name!r} has a .npy header that does not read: {err}") from err
        if dtype.kind not in kinds or dtype.fields is not None or dtype.subdtype is not None or dtype.itemsize == 0:
            raise ArgumentError(f"entry {name!r} has dtype {dtype}, which a checkpoint does not hold")
        if len(stored_shape) > _MAX_DIMS:
            raise ArgumentError(f"entry {name!r} claims {len(stored_shape)} dimensions, more than {_MAX_DIMS}")
        if not all(type(size) is int and size >= 0 for size in stored_shape):
            raise ArgumentError(f"entry {name!r} has shape {stored_shape}, whose sizes are not all whole numbers")
        if shape is not None and stored_shape != shape:
            raise ArgumentError(f"entry {name!r} has shape {stored_shape}, expected {shape}")
        count = math.prod(stored_shape)
        if count * dtype.itemsize > info.file_size:
            raise ArgumentError(f"entry {name!r} claims {count} values of {dtype}, more than it holds")
        flat = np.empty(count, dtype=dtype)
        raw = flat.view(np.uint8)
        filled = 0
        while filled < raw.size:
            got = member.readinto(memoryview(raw)[filled:])
            if not got:
                raise ArgumentError(f"entry {name!r} ends after {filled} of {raw.size} bytes")
            filled += got
        if member.read(1):  # reading to the end also has zipfile check the entry's CRC
            raise ArgumentError(f"entry {name!r} holds more bytes than its header says")
    array = flat.reshape(stored_shape, order="F" if fortran_order else "C")
    # A file from a machine of the other byte order still loads, in this machine's order.
    return array if dtype.isnative else array.astype(dtype.newbyteorder("="))


# A JSON string, escapes and all: what is inside one is text, not structure.
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)


def _parse_json(text: str) -> Any:
    """The metadata's JSON, measured before it is parsed: the parser recurses once per level, so a deeper
    nesting than ``save`` writes is refused, not handed to it."""
    structure = np.frombuffer(_JSON_STRING.sub("", text).encode("utf-8", "surrogatepass"), np.uint8)
    steps = np.isin(structure, (ord("["), ord("{"))).astype(np.int64) - np.isin(structure, (ord("]"), ord("}")))
    if steps.size and np.cumsum(steps).max() > _MAX_JSON_DEPTH:
        raise ArgumentError(f"its metadata is nested deeper than the {_MAX_JSON_DEPTH} levels tn.save writes")
    try:
        return json.loads(text)
    except ValueError as err:
        raise ArgumentError(f"its metadata is not JSON ({err})") from err


def _checked_meta(meta: Any) -> Any:
    """The saved object's description, from metadata of the form ``save`` writes."""
    if type(meta) is not dict:
        raise ArgumentError(f"its metadata is of type {type(meta).__name__}, not a JSON object")
    if meta.get("format") != _FORMAT:
        raise ArgumentError(f"unknown format {_brief(meta.get('format'))}")
    version = meta.get("version")
    if type(version) is not int or version != _VERSION:
        raise ArgumentError(f"format version {_brief(version)}, this tinynet reads version {_VERSION}")
    if "object" not in meta:
        raise ArgumentError("its metadata has no 'object'")
    if len(meta) > 3:
        raise ArgumentError(f"its metadata has unknown fields {sorted(set(meta) - {'format', 'version', 'object'})}")
    return meta["object"]


def _brief(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 100 else f"{text[:97]}..."


# Each tag of an object in the metadata (see _Encoder.encode), and the fields that go with it.
_TAGS = {
    "tensor": {"tensor", "requires_grad", "location", "object"},
    "parameter": {"parameter", "requires_grad", "location", "object"},
    "scalar": {"scalar"},
    "array": {"array"},
    "tuple": {"tuple"},
    "device": {"device"},
    "dtype": {"dtype"},
    "dict": {"dict"},
    "ordered_dict": {"ordered_dict"},
}


class _Decoder:
    """Rebuilds the saved object from the JSON description, reading each array entry once and checking each
    part's form: any JSON at all may come from a hostile file."""

    def __init__(self, archive: zipfile.ZipFile, entries: dict, place: Callable[[Tensor, str], Tensor]) -> None:
        self.archive, self.entries, self.place = archive, entries, place
        self.arrays: dict[str, np.ndarray] = {}  # entry name -> its array: entries shared when saved stay shared
        self.tensors: dict[int, tuple[dict, Tensor]] = {}  # a Tensor's number in the file -> its description, itself

    def decode(self, item: Any, depth: int = 0) -> Any:
        """The value ``item`` describes; ``depth``: how many containers are around it."""
        if item is None or type(item) in (bool, int, float, str):
            return item
        if type(item) is list:
            self.enter(depth)
            return [self.decode(v, depth + 1) for v in item]
        tags = [tag for tag in _TAGS if type(item) is dict and tag in item]
        if not tags:
            raise ArgumentError(f"unknown entry {_brief(item)} in the metadata")
        if len(tags) > 1:
            raise ArgumentError(f"an entry in the metadata is both {' and '.join(map(repr, tags))}")
        tag = tags[0]
        if set(item) - _TAGS[tag]:
            raise ArgumentError(f"a {tag} in the metadata has unknown fields {sorted(set(item) - _TAGS[tag])}")
        value = item[tag]
        if tag in ("tensor", "parameter"):
            return self.numbered_tensor(item, tag)
        if tag == "scalar":
            array = self.array(value, tag)
            if array.ndim != 0:
                raise ArgumentError(f"the metadata's scalar {value!r} has shape {array.shape}, not ()")
            return array[()]
        if tag == "array":
            return self.array(value, tag)
        if tag == "device":
            return _device(value, tag)
        if tag == "dtype":
            return _dtype(value)
        self.enter(depth)
        if tag == "tuple":
            return tuple(self.decode(v, depth + 1) for v in _expect(value, list, tag))
        pairs = _expect(value, list, tag)
        if not all(type(pair) is list and len(pair) == 2 for pair in pairs):
            raise ArgumentError(f"a {tag} in the metadata is not a list of [key, value] pairs")
        result = {} if tag == "dict" else OrderedDict()
        for k, v in pairs:
            key = self.decode(k, depth + 1)
            try:
                hash(key)
            except TypeError:
                raise ArgumentError(
                    f"a dict key in the metadata is a {type(key).__name__}, which cannot be a dict key"
                ) from None
            result[key] = self.decode(v, depth + 1)
        return result

    @staticmethod
    def enter(depth: int) -> None:
        if depth >= MAX_NESTING:  # the JSON was measured; this bounds the decoder's own recursion the same way
            raise ArgumentError(f"its metadata is nested deeper than the {MAX_NESTING} containers tn.save writes")

    def numbered_tensor(self, item: dict, tag: str) -> Tensor:
        """The Tensor ``item`` describes; one saved twice (numbered alike) comes back as one object."""
        if "object" not in item:  # written before objects were numbered
            return self.tensor(item, tag)
        number = item["object"]
        if type(number) is not int or number < 0:
            raise ArgumentError(f"the metadata's tensor number is {_brief(number)}, not a whole number")
        if number not in self.tensors:
            self.tensors[number] = (item, self.tensor(item, tag))
        elif self.tensors[number][0] != item:
            raise ArgumentError(f"tensor {number} is described twice in the metadata, differently")
        return self.tensors[number][1]

    def array(self, name: Any, what: str) -> np.ndarray:
        # Names are looked up among the archive's entries, never used as paths: "../x" is just not found.
        name = _expect(name, str, f"{what}'s entry name")
        if name not in self.arrays:
            info = self.entries.get(f"{name}.npy")
            if name == _META or info is None:
                raise ArgumentError(f"the metadata names an array {_brief(name)} that is not in the archive")
            self.arrays[name] = _read_npy(self.archive, info, _ARRAY_KINDS)
        return self.arrays[name]

    def tensor(self, item: dict, tag: str) -> Tensor:
        name = item[tag]
        array = self.array(name, tag)
        if array.dtype not in _TENSOR_DTYPES:
            raise ArgumentError(f"array {name!r} has dtype {array.dtype}, which a tinynet Tensor cannot hold")
        requires_grad = _expect(item.get("requires_grad", False), bool, "requires_grad")
        location = str(_device(item.get("location", "cpu"), "location"))
        try:
            placed = self.place(Tensor(array), location).array
        except Exception as err:  # the caller's map_location, or the device: not the file's fault
            raise _PlacementError(err) from err
        return Parameter(placed, requires_grad) if tag == "parameter" else Tensor(placed, requires_grad=requires_grad)


def _expect(value: Any, kind: type, what: str) -> Any:
    if type(value) is not kind:  # exact: JSON gives exact types, and True is no tensor number
        raise ArgumentError(f"the metadata's {what} is {_brief(value)}, not a {kind.__name__}")
    return value


def _device(value: Any, what: str) -> device:
    text = _expect(value, str, what)
    try:
        return device(text)
    except (TinynetError, ValueError, TypeError) as err:
        raise ArgumentError(f"the metadata's {what} is {_brief(text)}, which is not a device ({err})") from err


def _dtype(value: Any) -> np.dtype:
    text = _expect(value, str, "dtype")
    try:
        dtype = np.dtype(text)
    except (TypeError, ValueError, OverflowError):
        dtype = None
    if dtype is None or dtype.kind not in _ARRAY_KINDS or dtype.fields is not None or dtype.subdtype is not None:
        raise ArgumentError(f"unknown dtype {_brief(text)} in the metadata")
    return dtype


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
