"""Hostile checkpoint files (issue 14, class 8): every malformed file ``tn.load`` is given raises its documented
error (an ArgumentError naming the file and what is wrong) without first using memory or stack the file does not
pay for; ``max_bytes=`` bounds what a load may read; and a save killed midway leaves no temporary behind for long.

The files are built here, byte by byte where ``zipfile`` would refuse to write them (lying sizes, duplicates)."""

from __future__ import annotations

import io
import json
import os
import signal
import struct
import subprocess
import sys
import textwrap
import tracemalloc
import uuid
import zipfile
import zlib

import numpy as np
import pytest

import tinynet as tn
from tinynet import serialization

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOT_READABLE = "is not a readable tinynet checkpoint"

# --- building files ------------------------------------------------------------------------------


def local_header(name: str, data: bytes, method: int, compress_size: int, file_size: int) -> bytes:
    """A zip local file header (signature, version, flags, method, time, date, crc, sizes, name and extra lengths)."""
    crc = zlib.crc32(data if method == 0 else zlib.decompress(data, -15))
    compress_size, file_size = (min(size, 0xFFFFFFFF) for size in (compress_size, file_size))
    return struct.pack("<4s5H3L2H", b"PK\x03\x04", 45, 0, method, 0, 0x21, crc, compress_size, file_size,
                       len(name), 0) + name.encode()  # fmt: skip


def central_header(name: str, data: bytes, method: int, compress_size: int, file_size: int, offset: int) -> bytes:
    """A zip central directory entry; sizes past 4 GiB go in a ZIP64 extra field, as the format says."""
    crc = zlib.crc32(data if method == 0 else zlib.decompress(data, -15))
    extra = b""
    if max(compress_size, file_size) >= 0xFFFFFFFF:
        extra = struct.pack("<HHQQ", 1, 16, file_size, compress_size)
        compress_size = file_size = 0xFFFFFFFF
    return struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 45, 45, 0, method, 0, 0x21, crc, compress_size, file_size,
                       len(name), len(extra), 0, 0, 0, 0, offset) + name.encode() + extra  # fmt: skip


def end_of_directory(count: int, directory_size: int, directory_offset: int) -> bytes:
    return struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, count, count, directory_size, directory_offset, 0)


def raw_zip(entries: list[tuple]) -> bytes:
    """A zip file written by hand: each entry is ``(name, data)`` or ``(name, data, method, compress_size,
    file_size)``, where ``data`` is what is stored (already deflated for method 8) and the two sizes are what the
    headers claim, true or not (zipfile would refuse to write a lie, or a name twice)."""
    out, central = bytearray(), bytearray()
    for entry in entries:
        name, data = entry[0], entry[1]
        method, compress_size, file_size = entry[2:] if len(entry) > 2 else (0, len(data), len(data))
        central += central_header(name, data, method, compress_size, file_size, len(out))
        out += local_header(name, data, method, compress_size, file_size) + data
    return bytes(out + central + end_of_directory(len(entries), len(central), len(out)))


def npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, allow_pickle=True)
    return buffer.getvalue()


def npy_header(descr, shape) -> bytes:
    """A .npy header alone, claiming ``shape`` (written without NumPy's checks, so any shape can be claimed)."""
    text = repr({"descr": descr, "fortran_order": False, "shape": shape}).encode()
    text += b" " * (-(len(text) + 11) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text


def meta_entry(meta) -> bytes:
    return npy(np.array(meta if isinstance(meta, str) else json.dumps(meta)))


def described(obj) -> dict:
    return {"format": "tinynet-checkpoint", "version": 1, "object": obj}


def checkpoint(obj, arrays: dict[str, bytes] | None = None) -> bytes:
    """A hand-made checkpoint: the JSON description of the object, and its array entries as raw bytes."""
    entries = [("__meta__.npy", meta_entry(described(obj)))]
    return raw_zip(entries + [(f"{name}.npy", data) for name, data in (arrays or {}).items()])


TENSOR = {"tensor": "a0", "requires_grad": False, "location": "cpu", "object": 0}


def refused(data: bytes, reason: str, **load_args) -> tn.TinynetError:
    """Loads ``data`` as a path would be, and checks it is refused with the documented error, saying ``reason``."""
    with pytest.raises(tn.TinynetError) as err:
        tn.load(io.BytesIO(data), **load_args)
    assert type(err.value) is tn.errors.ArgumentError, f"{type(err.value).__name__}: {err.value}"
    assert isinstance(err.value, (ValueError, RuntimeError))  # what PyTorch programs catch
    assert reason.lower() in str(err.value).lower(), str(err.value)
    return err.value


# --- the metadata's form ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "[" * 100_000 + "]" * 100_000,
        json.dumps(described(0))[:-2] + "[" * 20_000 + "1" + "]" * 20_000 + "}",
        '{"a": ' * 10_000 + "1" + "}" * 10_000,
        json.dumps(described({"tuple": [0]})).replace("[0]", "[" * 10_000 + "]" * 10_000),
    ],
    ids=["lists", "object-deep", "json-objects", "tuple-deep"],
)
def test_deeply_nested_metadata_is_refused_before_parsing(text):
    data = raw_zip([("__meta__.npy", meta_entry(text))])
    refused(data, "nested deeper")


def test_the_nesting_limit_holds_both_ways():
    """What save writes, load reads: the deepest nesting save accepts loads; one deeper is refused when saving."""
    limit = serialization.MAX_NESTING
    deep: list = [1]
    for _ in range(limit - 1):
        deep = [deep]
    assert tn.load(io.BytesIO(saved(deep))) == deep
    for wrap in (lambda x: [x], lambda x: (x,), lambda x: {"k": x}):
        with pytest.raises(tn.TinynetError, match="nested deeper"):
            tn.save(wrap(deep), io.BytesIO())
    # a dict is 3 levels of JSON ({"dict": [[key, value]]}): the deepest dicts save writes load too
    nested: object = tn.ones(1)
    for _ in range(limit):
        nested = {"k": nested}
    loaded = tn.load(io.BytesIO(saved(nested)))
    for _ in range(limit):
        loaded = loaded["k"]
    assert loaded.tolist() == [1.0]
    with pytest.raises(tn.TinynetError, match="nested deeper"):
        tn.save({"k": nested}, io.BytesIO())


def saved(obj) -> bytes:
    buffer = io.BytesIO()
    tn.save(obj, buffer)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("meta", "reason"),
    [
        ([1, 2], "metadata is of type list"),
        (3, "metadata is of type int"),
        (2.5, "metadata is of type float"),
        ("text", "metadata is of type str"),
        (None, "metadata is of type NoneType"),
        (True, "metadata is of type bool"),
        ({"version": 1, "object": 1}, "format"),
        ({"format": 1, "version": 1, "object": 1}, "format"),
        ({"format": "tinynet-checkpoint", "version": "1", "object": 1}, "version '1'"),
        ({"format": "tinynet-checkpoint", "version": True, "object": 1}, "version True"),
        ({"format": "tinynet-checkpoint", "version": 1}, "no 'object'"),
        ({**described(1), "extra": 2}, "'extra'"),
    ],
    ids="list int float str null bool no-format format-int version-str version-bool no-object extra-field".split(),
)
def test_metadata_of_the_wrong_form(meta, reason):
    refused(raw_zip([("__meta__.npy", meta_entry(json.dumps(meta)))]), reason)


ZEROS = {"a0": npy(np.zeros(2, np.float32))}


@pytest.mark.parametrize(
    ("obj", "arrays", "reason"),
    [
        ({"tensor": 5}, {}, "tensor's entry name is 5"),
        ({"tensor": None}, {}, "tensor's entry name is None"),
        ({**TENSOR, "object": "x"}, ZEROS, "tensor number is 'x'"),
        ({**TENSOR, "object": True}, ZEROS, "tensor number is True"),
        ({**TENSOR, "object": -1}, ZEROS, "tensor number is -1"),
        ({**TENSOR, "requires_grad": 1}, ZEROS, "requires_grad is 1"),
        ({**TENSOR, "location": 5}, ZEROS, "location is 5"),
        ({**TENSOR, "location": "tpu:3"}, ZEROS, "location is 'tpu:3'"),
        ({**TENSOR, "colour": "red"}, ZEROS, "'colour'"),
        ({"tensor": "a0", "parameter": "a0"}, ZEROS, "both"),
        ({"dict": 5}, {}, "dict is 5"),
        ({"dict": [[1, 2, 3]]}, {}, "[key, value] pairs"),
        ({"dict": [[[1], 2]]}, {}, "a list, which cannot be a dict key"),
        ({"dict": [[{"tuple": [[1]]}, 2]]}, {}, "cannot be a dict key"),
        ({"ordered_dict": {"a": 1}}, {}, "ordered_dict is {'a': 1}"),
        ({"tuple": "ab"}, {}, "tuple is 'ab'"),
        ({"tuple": [1], "array": "a0"}, ZEROS, "both"),
        ({"scalar": ["a0"]}, ZEROS, "entry name is ['a0']"),
        ({"scalar": "a0"}, ZEROS, "scalar"),
        ({"array": "a0", "extra": 1}, ZEROS, "'extra'"),
        ({"device": 3}, {}, "device is 3"),
        ({"device": "tpu"}, {}, "device is 'tpu'"),
        ({"dtype": 3}, {}, "dtype is 3"),
        ({"dtype": "nonsense"}, {}, "dtype 'nonsense'"),
        ({"dtype": "O"}, {}, "dtype 'O'"),
        ({"dtype": "i4,i4"}, {}, "dtype 'i4,i4'"),
        ({}, {}, "unknown entry {}"),
        ({"set": [1]}, {}, "unknown entry"),
    ],
)
def test_metadata_fields_of_the_wrong_type(obj, arrays, reason):
    refused(checkpoint(obj, arrays), reason)


def test_a_tensor_number_reused_for_another_array_is_refused():
    two = {"a0": npy(np.zeros(2, np.float32)), "a1": npy(np.ones(3, np.float32))}
    refused(checkpoint([TENSOR, {**TENSOR, "tensor": "a1"}], two), "tensor 0 is described twice")


# --- sizes: what a file claims, and the limit -------------------------------------------------------


def peak_memory(fn) -> int:
    """The most memory (Python objects and NumPy arrays both) allocated while ``fn`` ran."""
    tracemalloc.start()
    try:
        fn()
    except tn.TinynetError:
        pass
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


TIB = 2**40


def test_a_tiny_file_declaring_8_tib_is_refused_without_allocating():
    header = npy_header("<f8", (TIB,))  # 8 TiB of float64
    for entry in [
        ("a0.npy", header),  # the zip entry is honest, the .npy header claims 8 TiB
        ("a0.npy", header, 0, 8 * TIB, 8 * TIB),  # the zip sizes claim 8 TiB as well
        ("a0.npy", header, 0, len(header), 8 * TIB),  # only the inflated size lies
    ]:
        data = raw_zip([("__meta__.npy", meta_entry(described(TENSOR))), entry])
        assert len(data) < 1024
        refused(data, "a0.npy")
        assert peak_memory(lambda: tn.load(io.BytesIO(data))) < 1_000_000  # noqa: B023


def test_a_stored_entry_claiming_more_than_the_file_holds_is_refused_before_allocating():
    # 61 kB on disk whose headers claim 61 MB: nothing near 61 MB may be allocated to find that out.
    body = bytes(61_000)
    header = npy_header("<f4", (61_000_000 // 4,))
    data = raw_zip([("__meta__.npy", meta_entry(described(TENSOR))),
                    ("a0.npy", header + body, 0, len(header) + 61_000_000, len(header) + 61_000_000)])  # fmt: skip
    refused(data, "more than the file holds")
    assert peak_memory(lambda: tn.load(io.BytesIO(data))) < 2_000_000


@pytest.mark.parametrize("declared", ["honest", "lying"])
def test_a_zip_bomb_is_refused_before_inflating(declared):
    inflated = npy(np.zeros(64_000_000 // 4, np.float32))  # 64 MB that deflates to about 60 kB
    deflater = zlib.compressobj(9, zlib.DEFLATED, -15)
    bomb = deflater.compress(inflated) + deflater.flush()
    assert len(bomb) < 100_000
    size = len(inflated) if declared == "honest" else 128  # a lying header says it inflates to 128 bytes
    data = raw_zip([("__meta__.npy", meta_entry(described(TENSOR))), ("a0.npy", bomb, 8, len(bomb), size)])
    for max_bytes in (serialization.DEFAULT_MAX_BYTES, 1000):
        refused(data, "compressed", max_bytes=max_bytes)
        assert peak_memory(lambda: tn.load(io.BytesIO(data), max_bytes=max_bytes)) < 2_000_000  # noqa: B023


def test_overlapping_entries_cannot_multiply_the_file():
    """A zip bomb without compression: each stored entry's data holds the next entry whole (its local header
    too), so ten entries in a 1 MB file add up to 10 MB. Refused before reading any of them."""
    names = [f"a{i}.npy" for i in range(10)]
    stored = [npy(np.zeros(1_000_000, np.uint8))]
    for name in reversed(names[1:]):
        quoted = local_header(name, stored[0], 0, len(stored[0]), len(stored[0])) + stored[0]
        stored.insert(0, npy_header("|u1", (len(quoted),)) + quoted)
    data = bytearray(local_header(names[0], stored[0], 0, len(stored[0]), len(stored[0])) + stored[0])
    offsets = [data.index(name.encode()) - 30 for name in names]
    objects = [{**TENSOR, "tensor": name[:-4], "object": i} for i, name in enumerate(names)]
    meta = meta_entry(described(objects))
    directory = b"".join(
        central_header(name, block, 0, len(block), len(block), at) for name, block, at in zip(names, stored, offsets)
    )
    directory += central_header("__meta__.npy", meta, 0, len(meta), len(meta), len(data))
    data += local_header("__meta__.npy", meta, 0, len(meta), len(meta)) + meta
    data = bytes(data + directory + end_of_directory(11, len(directory), len(data)))
    assert sum(len(block) for block in stored) > 9 * len(data)
    refused(data, "overlap")
    assert peak_memory(lambda: tn.load(io.BytesIO(data))) < 2_000_000


def test_max_bytes_refuses_a_larger_checkpoint_and_says_how_to_load_it(tmp_path):
    path = tmp_path / "big.pt"
    tn.save({"w": tn.zeros(1000, 250)}, path)  # a million bytes of float32
    with pytest.raises(tn.TinynetError) as err:
        tn.load(path, max_bytes=500_000)
    message = str(err.value)
    assert isinstance(err.value, tn.errors.ArgumentError)
    with zipfile.ZipFile(path) as archive:
        total = sum(info.file_size for info in archive.infolist())
    assert "big.pt" in message and "max_bytes=500000" in message and f"{total:,} bytes" in message, message
    assert "pass a larger max_bytes" in message and NOT_READABLE not in message  # the file is fine
    assert tn.load(path, max_bytes=1_100_000)["w"].shape == (1000, 250)
    assert tn.load(path, max_bytes=None)["w"].shape == (1000, 250)
    assert tn.load(path)["w"].shape == (1000, 250)
    assert serialization.DEFAULT_MAX_BYTES == 16 * 2**30
    for bad, kind in ((-1, ValueError), (1.5, TypeError), (True, TypeError), ("1", TypeError)):
        with pytest.raises(kind, match="max_bytes"):
            tn.load(path, max_bytes=bad)


def test_a_stream_that_cannot_seek_is_read_no_further_than_the_limit():
    class Endless(io.RawIOBase):  # a pipe that never ends: reading it all would never finish
        def __init__(self) -> None:
            self.given = 0

        def readable(self) -> bool:
            return True

        def readinto(self, b) -> int:
            b[:] = bytes(len(b))
            self.given += len(b)
            return len(b)

    stream = Endless()
    with pytest.raises(tn.TinynetError, match="max_bytes=1000000"):
        tn.load(stream, max_bytes=1_000_000)
    assert stream.given <= 1_000_000 + 2**20 + 1  # the limit, room for the zip's headers, one more


# --- entries: duplicates, missing, shapes, dtypes -----------------------------------------------------


def test_duplicate_entry_names_are_refused():
    meta = ("__meta__.npy", meta_entry(described(TENSOR)))
    ones, zeros = ("a0.npy", npy(np.ones(2, np.float32))), ("a0.npy", npy(np.zeros(2, np.float32)))
    refused(raw_zip([meta, ones, zeros]), "'a0.npy' twice")
    refused(raw_zip([meta, meta, ones]), "'__meta__.npy' twice")


def test_missing_entries_are_refused():
    refused(checkpoint([TENSOR, {**TENSOR, "tensor": "a1", "object": 1}], ZEROS), "'a1' that is not in the archive")
    refused(raw_zip([("a0.npy", ZEROS["a0"])]), "no __meta__ entry")


@pytest.mark.parametrize(
    ("shape", "reason"),
    [
        ((-1,), "shape (-1,)"),
        ((3, -2), "shape (3, -2)"),
        ((True,), "shape (True,)"),
        ((1,) * 65, "65 dimensions"),
        ((1,) * 1000, "1000 dimensions"),
        ((2**62, 2**62), "claims"),
        ((2.5,), "shape"),
        (("a",), "shape"),
    ],
    ids=["negative", "negative-2", "bool", "ndim-65", "ndim-1000", "overflow", "float", "str"],
)
def test_absurd_shapes_are_refused(shape, reason):
    refused(checkpoint(TENSOR, {"a0": npy_header("<f4", shape) + bytes(8)}), reason)


@pytest.mark.parametrize(
    ("descr", "reason"),
    [
        ("|O", "dtype object"),
        ("|V8", "dtype |V8"),
        ("<M8[D]", "dtype datetime64[D]"),
        ("<m8[s]", "dtype timedelta64[s]"),
        ("|S0", "dtype |S0"),
        ("<U0", "dtype <U0"),
        ("<q9", "descr"),
        ([("a", "<f4")], "dtype [('a', '<f4')]"),
        (("<f4", (2,)), "dtype"),
    ],
    ids=["object", "void", "datetime", "timedelta", "bytes0", "str0", "unknown", "structured", "subarray"],
)
def test_dtypes_a_checkpoint_does_not_hold_are_refused(descr, reason):
    data = checkpoint({"array": "a0"}, {"a0": npy_header(descr, (2,)) + bytes(64)})
    refused(data, reason)


class Trap:
    """Unpickling this makes a folder: if the folder appears, something unpickled what it was given."""

    path = ""

    def __reduce__(self):
        return (os.mkdir, (self.path,))


def test_object_arrays_never_unpickle(tmp_path):
    marker = tmp_path / "ran"
    Trap.path = str(marker)
    data = checkpoint({"array": "a0"}, {"a0": npy(np.array([Trap()], dtype=object))})
    refused(data, "dtype object")
    refused(data, "dtype object", weights_only=False)
    assert not marker.exists()


def test_big_endian_arrays_are_not_hostile():
    data = checkpoint({"array": "a0"}, {"a0": npy(np.arange(3, dtype=">i4"))})
    assert tn.load(io.BytesIO(data)).tolist() == [0, 1, 2]


# --- truncated and garbage bytes ---------------------------------------------------------------------


def test_every_truncation_of_a_checkpoint_is_refused():
    good = saved({"w": tn.arange(6, dtype=tn.float32), "step": 3})
    for end in range(len(good)):
        refused(good[:end], NOT_READABLE)


@pytest.mark.parametrize("seed", range(5))
def test_garbage_is_refused(seed):
    rng = np.random.default_rng(seed)
    garbage = rng.integers(0, 256, 2000, dtype=np.uint8).tobytes()
    refused(garbage, NOT_READABLE)
    refused(b"PK\x03\x04" + garbage, NOT_READABLE)
    good = bytearray(saved({"w": tn.arange(6, dtype=tn.float32)}))
    at = rng.integers(0, len(good), 40)
    good[at[0] : at[0] + 40] = garbage[:40]  # a run of garbage somewhere inside: refused or read intact
    try:
        loaded = tn.load(io.BytesIO(bytes(good)))
    except tn.TinynetError as err:
        assert isinstance(err, tn.errors.ArgumentError) and NOT_READABLE in str(err)
    else:
        assert loaded["w"].tolist() == [0, 1, 2, 3, 4, 5]


# --- stale temporaries ---------------------------------------------------------------------------------

CHILD = textwrap.dedent(
    """
    import os, sys
    import tinynet as tn

    real_fsync = os.fsync

    def paused(fd):  # stops the save after writing, before the rename, until the parent says go
        print("writing", flush=True)
        sys.stdin.readline()
        real_fsync(fd)

    os.fsync = paused
    tn.save({"by": "child", "w": tn.ones(1000)}, sys.argv[1])
    print("saved", flush=True)
    """
)


def start_saving(path) -> subprocess.Popen:
    """A child process saving to ``path`` and paused in the middle (its temporary file written, not renamed)."""
    env = {**os.environ, "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(path)], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT)  # fmt: skip
    assert child.stdout.readline() == "writing\n"
    return child


def temporaries(folder) -> list[str]:
    return sorted(name for name in os.listdir(folder) if name.endswith(".tmp"))


def test_a_save_killed_midway_leaves_a_temporary_that_the_next_save_removes(tmp_path):
    path = tmp_path / "ckpt.pt"
    tn.save({"by": "first"}, path)
    left = []
    for _ in range(3):  # killed again and again: each leaves its temporary, and the next save removes it
        child = start_saving(path)
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(timeout=30) == -signal.SIGKILL
        child.stdin.close()
        child.stdout.close()
        [stale] = temporaries(tmp_path)  # what a SIGKILL leaves behind; the one before is gone
        assert stale not in left
        left.append(stale)
    assert tn.load(path)["by"] == "first"  # the previous checkpoint is whole
    tn.save({"by": "parent"}, path)
    assert temporaries(tmp_path) == []
    assert tn.load(path)["by"] == "parent"


def test_a_live_save_to_the_same_path_keeps_its_temporary(tmp_path):
    path = tmp_path / "ckpt.pt"
    child = start_saving(path)
    try:
        [theirs] = temporaries(tmp_path)
        tn.save({"by": "parent"}, path)  # another process is mid-save to this path right now
        assert temporaries(tmp_path) == [theirs]
        assert tn.load(path)["by"] == "parent"
        child.stdin.write("go\n")
        child.stdin.flush()
        assert child.stdout.readline() == "saved\n"
        assert child.wait(timeout=30) == 0
    finally:
        child.kill()
        child.wait()
        child.stdin.close()
        child.stdout.close()
    assert temporaries(tmp_path) == []
    assert tn.load(path)["by"] == "child"


def test_only_this_paths_abandoned_temporaries_are_removed(tmp_path):
    hex32 = uuid.uuid4().hex
    stale = f".ckpt.pt.{hex32}.tmp"
    others = [
        f".ckpt.pt.{hex32.upper()}.tmp",
        f".ckpt.pt.{hex32[:-1]}.tmp",
        ".ckpt.pt.notmine.tmp",
        f".other.pt.{hex32}.tmp",
        f".ckpt.pt.{hex32}.tmp.bak",
        f"ckpt.pt.{hex32}.tmp",
        f".xckpt.pt.{hex32}.tmp",
        "notes.txt",
    ]
    for name in [stale, *others]:
        (tmp_path / name).write_bytes(b"x")
    os.mkdir(tmp_path / f".ckpt.pt.{uuid.uuid4().hex}.tmp")  # a folder by that name: not a temporary
    outside = tmp_path / "precious"
    outside.write_bytes(b"keep")
    link = f".ckpt.pt.{uuid.uuid4().hex}.tmp"
    os.symlink(outside, tmp_path / link)  # a link by that name is not followed nor removed
    tn.save({"a": 1}, tmp_path / "ckpt.pt")
    left = set(os.listdir(tmp_path))
    assert stale not in left
    assert set(others) | {link, "precious", "ckpt.pt"} <= left and len(left) == len(others) + 4
    assert outside.read_bytes() == b"keep"
    # a file object is written as it is: no folder to tidy
    tn.save({"a": 1}, io.BytesIO())


def test_saves_racing_to_one_path_from_threads_all_succeed(tmp_path):
    """Each save tidies the folder while others write: none may take another's temporary for abandoned."""
    import threading

    path, errors = tmp_path / "ckpt.pt", []

    def saver(number: int) -> None:
        try:
            for step in range(15):
                tn.save({"by": number, "step": step, "w": tn.ones(200)}, path)
        except Exception as err:  # collected: a thread's exception would not fail the test
            errors.append(err)

    threads = [threading.Thread(target=saver, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert temporaries(tmp_path) == []
    assert tn.load(path)["step"] == 14
