"""tn.save / tn.load for what real programs save, checked against torch.save / torch.load on the same program:
state dicts, optimizer state dicts, nanoGPT-style checkpoints, every dtype, file objects, map_location; whole
objects refused; damaged and hostile files refused without running anything; training resumed exactly."""

from __future__ import annotations

import io
import json
import math
import pathlib
import pickle
import zipfile
from collections import OrderedDict, defaultdict, namedtuple

import numpy as np
import pytest

import tinynet as tn
from tests.torch_oracle import torch
from tinynet import backend, nn

# --- comparing what comes back ------------------------------------------------------------------


def describe(lib, value, values: bool = True):
    """What a loaded value is, in words both libraries share: types, dtypes, shapes, requires_grad and (with
    ``values``: the two libraries initialise weights differently) the tensors' values."""
    if isinstance(value, lib.Tensor):
        kind = "parameter" if isinstance(value, lib.nn.Parameter) else "tensor"
        dtype = str(value.dtype).replace("torch.", "")
        numbers = (value.detach().cpu().numpy() if lib is torch else value.numpy()).tolist() if values else None
        return (kind, dtype, tuple(value.shape), numbers, value.requires_grad)
    if isinstance(value, (dict, list, tuple)):
        items = value.items() if isinstance(value, dict) else enumerate(value)
        return (type(value).__name__, [(describe(lib, k, values), describe(lib, v, values)) for k, v in items])
    if isinstance(value, float) and math.isnan(value):
        return ("float", "nan")
    return (type(value).__name__, value)


def round_trip(lib, obj, **load_args):
    buffer = io.BytesIO()
    lib.save(obj, buffer)
    buffer.seek(0)
    return lib.load(buffer, **load_args)


def check_round_trip(build, values: bool = False, **load_args):
    """``build(lib)`` makes the object; both libraries save and load it, and must give back the same kind of
    thing (the same values too with ``values``); tinynet must give back exactly what it saved."""
    expected = describe(torch, round_trip(torch, build(torch), weights_only=True), values)
    original = build(tn)
    loaded = round_trip(tn, original, **load_args)
    assert describe(tn, loaded, values) == expected
    assert describe(tn, loaded) == describe(tn, original)
    return loaded


# --- the kinds of thing programs save -----------------------------------------------------------


DTYPES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64"]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(), (0,), (3,), (2, 3, 2)], ids=["0d", "empty", "1d", "3d"])
def test_tensors_of_every_dtype_and_shape(dtype, shape):
    values = np.random.default_rng(0).normal(0, 50, shape)

    def build(lib):
        return lib.tensor(values.astype(dtype), dtype=getattr(lib, dtype))

    loaded = check_round_trip(build, values=True)
    assert loaded.dtype == getattr(tn, dtype) and loaded.shape == shape


def test_a_model_state_dict_with_buffers():
    def build(lib):
        lib.manual_seed(0)
        model = lib.nn.Sequential(lib.nn.Linear(3, 4), lib.nn.BatchNorm1d(4), lib.nn.Linear(4, 2))
        model(lib.randn(5, 3))  # running stats and num_batches_tracked (a 0-d int64) move
        return model.state_dict()

    loaded = check_round_trip(build)
    assert type(loaded) is OrderedDict and loaded["1.num_batches_tracked"].shape == ()


def test_an_optimizer_state_dict_keeps_its_int_keys_and_tuples():
    def build(lib):
        model = lib.nn.Linear(2, 2)
        optimizer = lib.optim.Adam(model.parameters(), lr=0.01, betas=(0.8, 0.9))
        model(lib.ones(1, 2)).sum().backward()
        optimizer.step()
        state = optimizer.state_dict()
        # tinynet's moments may be arrays, PyTorch's are tensors: compare the structure around them.
        return {"state": {k: {"has": sorted(v)} for k, v in state["state"].items()}, "groups": state["param_groups"]}

    loaded = check_round_trip(build)
    assert list(loaded["state"]) == [0, 1] and loaded["groups"][0]["betas"] == (0.8, 0.9)


def test_a_nanogpt_checkpoint():
    def build(lib):
        lib.manual_seed(0)
        model = lib.nn.Linear(4, 3)
        model_args = dict(n_layer=2, n_head=2, n_embd=4, block_size=8, bias=False, vocab_size=None, dropout=0.0)
        config = {"out_dir": "out", "eval_interval": 2000, "always_save_checkpoint": True, "wandb_log": False,
                  "init_from": "scratch", "learning_rate": 6e-4, "decay_lr": True, "dtype": "bfloat16",
                  "betas": (0.9, 0.95), "backend": "nccl", "weight_decay": 1e-1, "grad_clip": 1.0}  # fmt: skip
        return {"model": model.state_dict(), "model_args": model_args, "iter_num": 5000,
                "best_val_loss": lib.tensor(1.23), "config": config}  # fmt: skip

    loaded = check_round_trip(build)
    assert loaded["iter_num"] == 5000 and type(loaded["config"]["betas"]) is tuple


def test_plain_values_nesting_and_keys():
    def build(lib):
        return {
            "numbers": [0, -7, 2**70, 1.5, -0.0, float("inf"), float("nan"), True, False, None],
            "text": ["", "héllo ✓", 'quote" and \\ and \n'],
            "nested": ((1, [2, (3, {})]), [], ()),
            1: "int key",
            2.5: "float key",
            (1, "a"): "tuple key",
            False: "bool key",
            None: "None key",
            "tensors": [lib.zeros(2), {"deep": (lib.ones(1, dtype=lib.int64),)}],
        }

    check_round_trip(build, values=True)


def test_requires_grad_and_parameters_come_back():
    def build(lib):
        leaf = lib.ones(2, requires_grad=True)
        return {"leaf": leaf, "computed": leaf * 2, "param": lib.nn.Parameter(lib.zeros(3)),
                "frozen": lib.nn.Parameter(lib.zeros(1), requires_grad=False)}  # fmt: skip

    loaded = check_round_trip(build)
    assert loaded["computed"].is_leaf and loaded["computed"].requires_grad


def test_sharing_is_kept_as_pickle_keeps_it():
    weight = tn.randn(3, 2)
    loaded = round_trip(tn, {"a": weight, "b": weight, "view": weight.detach(), "arr": [np.ones(2)] * 2})
    assert loaded["a"] is loaded["b"]  # the same object saved twice is one object, as torch.load gives
    assert loaded["view"] is not loaded["a"] and np.shares_memory(loaded["view"].array, loaded["a"].array)
    assert loaded["arr"][0] is loaded["arr"][1]
    # A tied weight appears under two names in a state dict and is stored once.
    model = nn.Sequential(nn.Embedding(50, 40), nn.Linear(40, 50, bias=False))
    model[1].weight = model[0].weight
    sizes = {}
    for tied in (True, False):
        if not tied:
            model[1].weight = nn.Parameter(tn.randn(50, 40))
        buffer = io.BytesIO()
        tn.save(model.state_dict(), buffer)
        sizes[tied] = len(buffer.getvalue())
    assert sizes[True] < 0.6 * sizes[False]


def test_numpy_values_devices_and_dtypes():
    obj = {"step": np.int64(3), "lr": np.float32(0.5), "moments": np.arange(6, dtype=np.float32).reshape(2, 3).T,
           "device": tn.device("cpu"), "dtype": tn.float16, "cuda": tn.device("cuda", 0)}  # fmt: skip
    loaded = round_trip(tn, obj)
    assert type(loaded["step"]) is np.int64 and loaded["step"] == 3 and type(loaded["lr"]) is np.float32
    np.testing.assert_array_equal(loaded["moments"], obj["moments"])
    assert loaded["device"] == tn.device("cpu") and loaded["cuda"] == tn.device("cuda:0")
    assert loaded["dtype"] == tn.float16


# --- where it is saved to -------------------------------------------------------------------------


def test_paths_and_file_objects(tmp_path):
    obj = {"w": tn.randn(2, 3), "step": 3}
    targets = [str(tmp_path / "a.pt"), tmp_path / "b.pth", tmp_path / "c"]
    for target in targets:
        tn.save(obj, target)
        assert describe(tn, tn.load(target)) == describe(tn, obj)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.pt", "b.pth", "c"]  # names as given, no temp files

    with open(tmp_path / "d.pt", "wb") as f:
        tn.save(obj, f)
        assert not f.closed  # the caller's file stays open, as with torch.save
    with open(tmp_path / "d.pt", "rb") as f:
        assert describe(tn, tn.load(f)) == describe(tn, obj)


def test_file_objects_read_from_their_position_and_unseekable_streams():
    buffer = io.BytesIO()
    buffer.write(b"header written by the program first")
    tn.save([1, tn.ones(2)], buffer)
    buffer.seek(len(b"header written by the program first"))
    assert describe(tn, tn.load(buffer)) == describe(tn, [1, tn.ones(2)])

    class Stream(io.RawIOBase):  # a pipe or socket: readable, not seekable
        def __init__(self, data: bytes) -> None:
            self.inner = io.BytesIO(data)

        def readable(self) -> bool:
            return True

        def readinto(self, b) -> int:
            return self.inner.readinto(b)

    saved = io.BytesIO()
    tn.save({"x": tn.arange(3)}, saved)
    assert tn.load(Stream(saved.getvalue()))["x"].tolist() == [0, 1, 2]


def test_map_location_and_weights_only_are_accepted():
    obj = {"w": tn.randn(2)}
    for map_location in (None, "cpu", tn.device("cpu"), {"cpu": "cpu"}, lambda storage, loc: storage):
        for weights_only in (None, True, False):
            loaded = round_trip(tn, obj, map_location=map_location, weights_only=weights_only)
            assert loaded["w"].device == tn.device("cpu") and loaded["w"].tolist() == obj["w"].tolist()
    seen = []
    round_trip(tn, obj, map_location=lambda storage, loc: seen.append(loc))  # None: stays where it was saved
    assert seen == ["cpu"]
    with pytest.raises(TypeError, match="map_location returned int"):
        round_trip(tn, obj, map_location=lambda storage, loc: 3)
    with pytest.raises(ValueError, match="device"):
        round_trip(tn, obj, map_location="tpu")


@pytest.mark.skipif(backend.status("cupy")[0], reason="checks the error where no GPU is")
def test_cuda_without_a_gpu_fails_clearly_and_map_location_cpu_loads_it():
    with pytest.raises(tn.TinynetError, match="map_location='cpu'") as err:
        round_trip(tn, {"w": tn.ones(2)}, map_location="cuda")
    assert isinstance(err.value, RuntimeError)
    # A checkpoint written on a GPU machine: its tensors say so, and go back there unless told otherwise.
    data = rewrite_meta(saved_bytes({"w": tn.ones(2)}), lambda m: m["object"]["dict"][0][1].update(location="cuda:0"))
    with pytest.raises(tn.TinynetError, match=r"cuda:0.*map_location='cpu'"):
        tn.load(io.BytesIO(data))
    for map_location in ("cpu", {"cuda:0": "cpu"}, lambda storage, loc: storage):
        assert tn.load(io.BytesIO(data), map_location=map_location)["w"].tolist() == [1, 1]


# --- what is refused when saving -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "type_name", "hint"),
    [
        (lambda: nn.Linear(2, 2), "Linear", "state_dict()"),
        (lambda: tn.optim.SGD(nn.Linear(2, 2).parameters(), lr=0.1), "SGD", "state_dict()"),
        (lambda: object(), "object", "checkpoints hold"),
        (lambda: lambda: 1, "function", "checkpoints hold"),
        (lambda: {1, 2}, "set", "checkpoints hold"),
        (lambda: namedtuple("Point", "x y")(1, 2), "Point", "tuple(...)"),
        (lambda: defaultdict(list), "defaultdict", "dict(...)"),
    ],
    ids=["module", "optimizer", "object", "function", "set", "namedtuple", "defaultdict"],
)
def test_whole_objects_are_refused_naming_their_type(tmp_path, make, type_name, hint):
    for obj, where in ((make(), "obj"), ({"model": make()}, "obj['model']")):
        with pytest.raises(tn.TinynetError, match=rf"{where} of type {type_name}\b.*{hint}".replace("[", r"\[")):
            tn.save(obj, tmp_path / "ckpt.pt")
        buffer = io.BytesIO()
        with pytest.raises(TypeError):
            tn.save(obj, buffer)
        assert buffer.getvalue() == b""  # nothing written
    assert list(tmp_path.iterdir()) == []


def test_a_list_containing_itself_is_refused():
    loop = [1]
    loop.append(loop)
    with pytest.raises(tn.TinynetError, match=r"obj\[1\] contains itself"):
        tn.save(loop, io.BytesIO())


# --- damaged and hostile files ---------------------------------------------------------------------


def saved_bytes(obj) -> bytes:
    buffer = io.BytesIO()
    tn.save(obj, buffer)
    return buffer.getvalue()


def archive(entries: dict[str, bytes], compress: int = zipfile.ZIP_STORED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compress) as z:
        for name, data in entries.items():
            z.writestr(name, data)
    return buffer.getvalue()


def npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, allow_pickle=True)
    return buffer.getvalue()


def meta_npy(meta) -> bytes:
    return npy(np.array(meta if isinstance(meta, str) else json.dumps(meta)))


def checkpoint(described, arrays: dict[str, bytes]) -> bytes:
    """A hand-made checkpoint: the object's JSON description and raw .npy entries."""
    meta = {"format": "tinynet-checkpoint", "version": 1, "object": described}
    return archive({"__meta__.npy": meta_npy(meta), **{f"{k}.npy": v for k, v in arrays.items()}})


def rewrite_meta(data: bytes, edit) -> bytes:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        entries = {name: z.read(name) for name in z.namelist()}
    meta = json.loads(str(np.load(io.BytesIO(entries["__meta__.npy"]))))
    edit(meta)
    entries["__meta__.npy"] = meta_npy(meta)
    return archive(entries)


class Trap:
    """Unpickling this touches a file: if the file appears, something unpickled what it was given."""

    marker: pathlib.Path

    def __reduce__(self):
        return (pathlib.Path.touch, (self.marker,))


def npy_header(descr: str, shape: tuple) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": descr, "fortran_order": False, "shape": shape})
    return buffer.getvalue()


def hostile_files(marker: pathlib.Path) -> dict[str, bytes]:
    Trap.marker = marker
    good = saved_bytes({"w": tn.randn(40, 40), "step": 1})
    tensor = {"tensor": "a0", "requires_grad": False}
    torch_file = io.BytesIO()
    torch.save({"w": torch.ones(2)}, torch_file)
    return {
        "truncated": good[: len(good) // 2],
        "no-directory": good[:-30],
        "empty": b"",
        "text": b"not a checkpoint at all",
        "pickle": pickle.dumps({"w": Trap()}),
        "torch.save": torch_file.getvalue(),
        "torch-trap": archive({"archive/data.pkl": pickle.dumps(Trap())}),
        "plain-npz": archive({"a.npy": npy(np.zeros(2))}),
        "bad-json": archive({"__meta__.npy": meta_npy("{not json")}),
        "json-not-object": archive({"__meta__.npy": meta_npy([1, 2])}),
        "deep-json": archive({"__meta__.npy": meta_npy("[" * 100_000 + "]" * 100_000)}),
        "meta-not-text": archive({"__meta__.npy": npy(np.zeros(3))}),
        "wrong-format": archive({"__meta__.npy": meta_npy({"format": "other", "version": 1, "object": 1})}),
        "future-version": archive({"__meta__.npy": meta_npy({"format": "tinynet-checkpoint", "version": 9})}),
        "unknown-tag": checkpoint({"set": [1, 2]}, {}),
        "bad-dict": checkpoint({"dict": [[1, 2, 3]]}, {}),
        "object-dtype": checkpoint({"array": "a0"}, {"a0": npy(np.array([Trap()], dtype=object))}),
        "datetime-dtype": checkpoint({"array": "a0"}, {"a0": npy(np.array(["2020-01-01"], dtype="M8[D]"))}),
        "structured-dtype": checkpoint(tensor, {"a0": npy(np.zeros(2, dtype=[("a", "<f4"), ("b", "<i4")]))}),
        "complex-tensor": checkpoint(tensor, {"a0": npy(np.zeros(2, dtype=np.complex64))}),
        "unknown-descr": checkpoint(tensor, {"a0": npy_header("<q9", (2,)) + bytes(16)}),
        "dtype-entry": checkpoint({"dtype": "|O"}, {}),
        "outside-archive": checkpoint({"tensor": "../../../etc/passwd", "requires_grad": False}, {}),
        "absolute-name": checkpoint({"array": "/etc/passwd"}, {}),
        "meta-as-array": checkpoint({"array": "__meta__"}, {}),
        "name-not-string": checkpoint({"array": 0}, {"a0": npy(np.zeros(2))}),
        "huge-shape": checkpoint(tensor, {"a0": npy_header("<f4", (10**12,))}),
        "short-data": checkpoint(tensor, {"a0": npy(np.zeros(8, np.float32))[:-4]}),
        "extra-data": checkpoint(tensor, {"a0": npy(np.zeros(8, np.float32)) + b"junk"}),
        "int-requires-grad": checkpoint({"tensor": "a0", "requires_grad": True}, {"a0": npy(np.zeros(2, np.int64))}),
        "requires-grad-not-bool": checkpoint({"tensor": "a0", "requires_grad": "yes"}, {"a0": npy(np.zeros(2))}),
        "unknown-location": checkpoint({**tensor, "location": "tpu:3"}, {"a0": npy(np.zeros(2))}),
        "compressed": archive(
            {"__meta__.npy": meta_npy({"format": "tinynet-checkpoint", "version": 1, "object": 1})},
            compress=zipfile.ZIP_DEFLATED,
        ),
    }


@pytest.mark.parametrize("kind", list(hostile_files(pathlib.Path("unused"))))
def test_damaged_and_hostile_files_are_refused_clearly(tmp_path, kind):
    marker = tmp_path / "unpickled"
    data = hostile_files(marker)[kind]
    (tmp_path / "ckpt.pt").write_bytes(data)
    with pytest.raises(tn.TinynetError, match=r"'.*ckpt\.pt' is not a readable tinynet checkpoint") as err:
        tn.load(tmp_path / "ckpt.pt")
    assert isinstance(err.value, (ValueError, RuntimeError))  # what PyTorch programs catch
    with pytest.raises(tn.TinynetError, match="BytesIO given is not a readable tinynet checkpoint"):
        tn.load(io.BytesIO(data), weights_only=False)  # weights_only=False unpickles nothing either
    assert not marker.exists()


def test_the_refusals_say_what_is_wrong(tmp_path):
    files = hostile_files(tmp_path / "unpickled")
    for kind, reason in [
        ("torch.save", "written by PyTorch's torch.save"),
        ("pickle", "tinynet never unpickles"),
        ("object-dtype", "dtype object"),
        ("unknown-descr", "descr"),
        ("outside-archive", "'../../../etc/passwd' that is not in the archive"),
        ("huge-shape", "claims 1000000000000 values"),
        ("deep-json", "nested deeper"),  # measured before parsing (issue 14), no longer a RecursionError
        ("future-version", "format version 9"),
        ("extra-data", "more bytes than its header says"),
    ]:
        with pytest.raises(tn.TinynetError, match=reason):
            tn.load(io.BytesIO(files[kind]))


def test_a_flipped_byte_anywhere_is_caught():
    good = saved_bytes({"w": tn.randn(40, 40), "step": 1})
    for at in range(0, len(good), max(1, len(good) // 97)):
        damaged = good[:at] + bytes([good[at] ^ 0x55]) + good[at + 1 :]
        try:
            loaded = tn.load(io.BytesIO(damaged))
        except tn.TinynetError as err:
            assert "not a readable tinynet checkpoint" in str(err)
        else:  # a byte zip does not read (a timestamp, say): the values must then be intact
            assert loaded["step"] == 1 and loaded["w"].tolist() == tn.load(io.BytesIO(good))["w"].tolist()


def test_a_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        tn.load(tmp_path / "missing.pt")


# --- resuming training -----------------------------------------------------------------------------


class TinyGPT(nn.Module):
    """A character model in nanoGPT's shape: tied embedding and head, LayerNorm, dropout."""

    def __init__(self, vocab: int = 11, width: int = 8) -> None:
        super().__init__()
        self.wte = nn.Embedding(vocab, width)
        self.ln = nn.LayerNorm(width)
        self.drop = nn.Dropout(0.2)
        self.hidden = nn.Linear(width, width)
        self.head = nn.Linear(width, vocab, bias=False)
        self.head.weight = self.wte.weight

    def forward(self, idx):
        return self.head(self.ln(self.hidden(self.drop(self.wte(idx))).tanh()))


def train_steps(model, optimizer, scheduler, data, steps):
    losses = []
    for _ in range(steps):
        x, y = data[:, :-1], data[:, 1:]
        logits = model(x)
        loss = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        losses.append(loss.item())
    return losses


def make_run():
    model = TinyGPT()
    optimizer = tn.optim.AdamW(model.parameters(), lr=0.03, betas=(0.9, 0.95), weight_decay=0.1)
    scheduler = tn.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
    return model, optimizer, scheduler


@pytest.mark.parametrize("to_file", [False, True], ids=["bytesio", "path"])
def test_a_checkpoint_resumes_training_exactly(tmp_path, to_file):
    data = tn.randint(0, 11, (4, 9))
    model, optimizer, scheduler = make_run()
    train_steps(model, optimizer, scheduler, data, 3)
    checkpoint = {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                  "scheduler": scheduler.state_dict(), "iter_num": 3, "rng": tn.get_rng_state(),
                  "best_val_loss": tn.tensor(2.5)}  # fmt: skip
    target = tmp_path / "ckpt.pt" if to_file else io.BytesIO()
    tn.save(checkpoint, target)
    expected = train_steps(model, optimizer, scheduler, data, 4)  # never stopping

    tn.manual_seed(99)  # a fresh process: other initial weights, another random state
    fresh, fresh_optimizer, fresh_scheduler = make_run()
    if not to_file:
        target.seek(0)
    loaded = tn.load(target, map_location="cpu")
    fresh.load_state_dict(loaded["model"])
    fresh_optimizer.load_state_dict(loaded["optimizer"])
    fresh_scheduler.load_state_dict(loaded["scheduler"])
    tn.set_rng_state(loaded["rng"])
    assert loaded["iter_num"] == 3 and loaded["best_val_loss"].item() == 2.5
    assert fresh.head.weight is fresh.wte.weight  # loading kept the tie
    assert train_steps(fresh, fresh_optimizer, fresh_scheduler, data, 4) == expected
