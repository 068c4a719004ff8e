"""tinynet.utils.data (PyTorch's torch.utils.data) and tinynet.Generator, against PyTorch where the results are
deterministic (batching, collation, samplers' grouping, splits' sizes), by their properties where they are random
(permutations, seeded repeats), and with real worker processes (their pids, the batches' order, their seeds)."""

from __future__ import annotations

import collections
import os
import pickle
import time
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinynet as tn
import tinynet.utils.data as tn_data
from tests.torch_oracle import torch
from tinynet.data.worker import numpy_seed

torch_data = torch.utils.data
LIBS = {"torch": (torch, torch_data), "tinynet": (tn, tn_data)}


def plain(value):
    """A batch as plain Python/NumPy, with each tensor's dtype and each container's type, to compare the libraries."""
    if isinstance(value, (torch.Tensor, tn.Tensor)):
        array = value.numpy() if isinstance(value, tn.Tensor) else value.detach().numpy()
        return ("tensor", str(array.dtype), array.shape, array.tolist())
    if isinstance(value, dict):
        return (type(value).__name__, {k: plain(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, [plain(v) for v in value])
    return (type(value).__name__, value)


def both(fn):
    """``fn(lib, data)`` on PyTorch and on tinynet, as plain values: (torch's, tinynet's)."""
    return tuple(plain(fn(*LIBS[name])) for name in ("torch", "tinynet"))


# --- names ------------------------------------------------------------------------------------------------


def test_every_torch_utils_data_name_is_there_or_says_it_is_missing():
    for name in (n for n in torch_data.__all__ if not n.startswith("_")):
        if name in tn_data.__all__:
            assert getattr(tn_data, name) is getattr(tn.data, name)
        else:
            with pytest.raises(NotImplementedError, match=f"torch.utils.data.{name}"):
                getattr(tn_data, name)
    assert tn.utils.data is tn_data
    with pytest.raises(AttributeError):
        tn_data.no_such_name  # noqa: B018


# --- DataLoader batching, against PyTorch ------------------------------------------------------------------


@given(n=st.integers(1, 30), batch_size=st.integers(1, 9), drop_last=st.booleans())
def test_tensor_dataset_batches_and_len_are_pytorchs(n, batch_size, drop_last):
    x = np.arange(n * 2, dtype=np.float32).reshape(n, 2)

    def batches(lib, data):
        loader = data.DataLoader(data.TensorDataset(lib.tensor(x), lib.arange(n)), batch_size, drop_last=drop_last)
        return [len(loader), list(loader)]

    expected, got = both(batches)
    assert got == expected


Point = collections.namedtuple("Point", ["x", "y"])


class Samples:
    """Samples of every kind default_collate knows, built with either library's tensors."""

    def __init__(self, lib) -> None:
        self.lib = lib

    def __len__(self) -> int:
        return 7

    def __getitem__(self, i: int):
        return {
            "tensor": self.lib.full((2,), float(i)),
            "int": i,
            "float": i / 2,
            "bool": i % 2 == 0,
            "np64": np.full(3, i, dtype=np.float64),
            "np32": np.arange(i, i + 2, dtype=np.int32),
            "np_scalar": np.float32(i),
            "np_int": np.int16(i),
            "str": f"s{i}",
            "tuple": (i, float(i)),
            "list": [i, [i, i + 1]],
            "named": Point(i, np.array([i], dtype=np.uint8)),
        }


@pytest.mark.parametrize("batch_size", [1, 3, None])
def test_collation_of_every_sample_kind_is_pytorchs(batch_size):
    def batches(lib, data):
        dataset = type("Kinds", (Samples, data.Dataset), {})(lib)
        return list(data.DataLoader(dataset, batch_size=batch_size))

    expected, got = both(batches)
    assert got == expected


def test_default_collate_and_convert_directly():
    samples = [(np.array([1.5]), 2, "a"), (np.array([2.5]), 3, "b")]
    expected, got = both(lambda lib, data: data.default_collate(samples))
    assert got == expected
    for sample in (samples[0], {"a": np.zeros(2, dtype=np.int8), "b": [np.float64(1.0), "x"]}, 3, "text"):
        expected, got = both(lambda lib, data: data.default_convert(sample))  # noqa: B023
        assert got == expected


def test_collate_refuses_what_it_cannot_batch_as_pytorch_does():
    for batch in ([object(), object()], [np.array(["a"]), np.array(["b"])]):
        with pytest.raises(TypeError, match="default_collate: batch must contain"):
            torch_data.default_collate(batch)
        with pytest.raises(TypeError, match="default_collate: batch must contain"):
            tn_data.default_collate(batch)
    with pytest.raises(RuntimeError, match="equal size"):
        tn_data.default_collate([[1, 2], [1]])
    with pytest.raises(RuntimeError):
        tn_data.default_collate([tn.zeros(2), tn.zeros(3)])


def test_iterable_dataset_in_one_process_is_pytorchs():
    def batches(lib, data, batch_size, drop_last):
        stream = type("Stream", (data.IterableDataset,), {"__iter__": lambda self: iter(range(10)),
                                                          "__len__": lambda self: 10})  # fmt: skip
        loader = data.DataLoader(stream(), batch_size=batch_size, drop_last=drop_last)
        return [len(loader), list(loader)]

    for batch_size, drop_last in ((3, False), (3, True), (None, False), (5, True)):
        expected, got = both(lambda lib, data: batches(lib, data, batch_size, drop_last))  # noqa: B023
        assert got == expected


def test_samplers_given_to_the_loader_are_used():
    def batches(lib, data):
        ds = data.TensorDataset(lib.arange(10) * 10)
        by_sampler = data.DataLoader(ds, batch_size=3, sampler=[9, 0, 4, 4, 2])
        by_batches = data.DataLoader(ds, batch_sampler=[[1, 2], [7], [0, 3, 5]])
        return [list(by_sampler), list(by_batches), len(by_sampler), len(by_batches)]

    expected, got = both(batches)
    assert got == expected


BAD_LOADER_ARGUMENTS = [
    {"num_workers": -1},
    {"timeout": -1},
    {"prefetch_factor": 2},
    {"persistent_workers": True},
    {"shuffle": True, "sampler": [0, 1]},
    {"batch_sampler": [[0]], "batch_size": 2},
    {"batch_sampler": [[0]], "drop_last": True},
    {"batch_size": None, "drop_last": True},
    {"batch_size": 0},
    {"multiprocessing_context": "fork"},
]


@pytest.mark.parametrize("kwargs", BAD_LOADER_ARGUMENTS, ids=lambda kw: ",".join(kw))
def test_loader_refuses_what_pytorch_refuses(kwargs):
    with pytest.raises(ValueError) as theirs:
        torch_data.DataLoader(torch_data.TensorDataset(torch.zeros(4)), **kwargs)
    with pytest.raises(ValueError) as ours:
        tn_data.DataLoader(tn_data.TensorDataset(tn.zeros(4)), **kwargs)
    first_word = str(theirs.value).split()[0]
    assert first_word in str(ours.value)


def test_loader_on_an_iterable_dataset_refuses_shuffle_and_samplers():
    stream = type("Stream", (tn_data.IterableDataset,), {"__iter__": lambda self: iter(range(3))})()
    for kwargs in ({"shuffle": True}, {"sampler": [0]}, {"batch_sampler": [[0]]}):
        with pytest.raises(ValueError, match="expected unspecified"):
            tn_data.DataLoader(stream, **kwargs)


def test_loader_settings_are_frozen_after_init_as_in_pytorch():
    loader = tn_data.DataLoader(tn_data.TensorDataset(tn.zeros(4)), batch_size=2)
    for name in ("batch_size", "sampler", "drop_last", "dataset"):
        with pytest.raises(ValueError, match=f"{name} attribute should not be set"):
            setattr(loader, name, None)
    loader.num_workers = 0  # the others may change


# --- samplers ---------------------------------------------------------------------------------------------


@given(n=st.integers(0, 25), batch_size=st.integers(1, 8), drop_last=st.booleans())
def test_batch_and_sequential_samplers_are_pytorchs(n, batch_size, drop_last):
    def batches(lib, data):
        sampler = data.BatchSampler(data.SequentialSampler(range(n)), batch_size, drop_last)
        return [len(sampler), list(sampler)]

    expected, got = both(batches)
    assert got == expected


@pytest.mark.parametrize(
    ("make", "error"),
    [
        (lambda data: data.BatchSampler(range(3), 0, False), ValueError),
        (lambda data: data.BatchSampler(range(3), True, False), ValueError),
        (lambda data: data.BatchSampler(range(3), 2, 1), ValueError),
        (lambda data: data.RandomSampler(range(3), replacement=1), TypeError),
        (lambda data: data.RandomSampler(range(3), num_samples=0), ValueError),
        (lambda data: data.RandomSampler([]), ValueError),
        (lambda data: data.WeightedRandomSampler([1.0, 2.0], 0), ValueError),
        (lambda data: data.WeightedRandomSampler([[1.0, 2.0]], 2), ValueError),
    ],
)
def test_samplers_refuse_what_pytorch_refuses(make, error):
    with pytest.raises(error):
        make(torch_data)
    with pytest.raises(error):
        make(tn_data)


def test_random_sampler_permutes_each_pass_and_repeats_with_a_seed():
    sampler = tn_data.RandomSampler(range(20))
    tn.manual_seed(1)
    first, second = list(sampler), list(sampler)
    tn.manual_seed(1)
    assert list(sampler) == first
    assert sorted(first) == list(range(20)) and first != second and first != list(range(20))

    seeded = tn_data.RandomSampler(range(20), generator=tn.Generator().manual_seed(5))
    assert list(seeded) == list(tn_data.RandomSampler(range(20), generator=tn.Generator().manual_seed(5)))

    chained = list(tn_data.RandomSampler(range(6), num_samples=15))  # two permutations and part of a third
    assert len(chained) == 15 and sorted(chained[:6]) == sorted(chained[6:12]) == list(range(6))
    assert len(set(chained[12:])) == 3

    drawn = list(tn_data.RandomSampler(range(4), replacement=True, num_samples=70))
    assert len(drawn) == 70 and set(drawn) == {0, 1, 2, 3}


def test_subset_random_and_weighted_samplers():
    indices = [3, 8, 11, 20]
    order = list(tn_data.SubsetRandomSampler(indices))
    assert sorted(order) == indices and len(tn_data.SubsetRandomSampler(indices)) == 4

    g = tn.Generator().manual_seed(0)
    draws = list(tn_data.WeightedRandomSampler([0.0, 1.0, 3.0], 4000, generator=g))
    counts = np.bincount(draws, minlength=3)
    assert counts[0] == 0 and 2.6 < counts[2] / counts[1] < 3.4
    unique = list(tn_data.WeightedRandomSampler(tn.tensor([1.0, 1.0, 5.0, 0.5]), 4, replacement=False))
    assert sorted(unique) == [0, 1, 2, 3]


def test_shuffling_with_a_generator_ignores_the_default_generator():
    ds = tn_data.TensorDataset(tn.arange(30))

    def epoch(seed_default: int) -> list[int]:
        tn.manual_seed(seed_default)
        loader = tn_data.DataLoader(ds, batch_size=7, shuffle=True, generator=tn.Generator().manual_seed(3))
        return [v for (b,) in loader for v in b.tolist()]

    assert epoch(0) == epoch(1)
    assert sorted(epoch(0)) == list(range(30))


# --- datasets -----------------------------------------------------------------------------------------------


def test_subset_concat_stack_and_chain_index_as_pytorch():
    def items(lib, data):
        a, b = data.TensorDataset(lib.arange(5)), data.TensorDataset(lib.arange(10, 13))
        concat = a + b
        sub = data.Subset(concat, [7, 0, 6, -1])
        stacked = data.StackDataset(a, data.TensorDataset(lib.arange(5) * 2))
        named = data.StackDataset(x=a, y=a)
        stream = type("S", (data.IterableDataset,), {"__iter__": lambda self: iter([1, 2]),
                                                     "__len__": lambda self: 2})  # fmt: skip
        chain = stream() + stream()
        return [len(concat), concat.cumulative_sizes, [concat[i] for i in (0, 4, 5, 7, -1, -8)], len(sub),
                [sub[i] for i in range(4)], data.Subset(a, [4, 0, 2])[[0, 2]], stacked[3], named[2], len(stacked),
                list(chain), len(chain), list(data.DataLoader(sub, batch_size=3)),
                list(data.DataLoader(stacked, batch_size=2))]  # fmt: skip

    expected, got = both(items)
    assert got == expected


def test_concat_dataset_refuses_as_pytorch():
    ds = tn_data.ConcatDataset([tn_data.TensorDataset(tn.arange(3))])
    with pytest.raises(ValueError, match="exceed"):
        ds[-4]
    with pytest.raises(IndexError):
        ds[3]
    with pytest.raises(ValueError, match="empty"):
        tn_data.ConcatDataset([])


@given(n=st.integers(0, 40), parts=st.lists(st.integers(0, 10), min_size=1, max_size=4), fractions=st.booleans())
def test_random_split_sizes_are_pytorchs_and_parts_partition_the_data(n, parts, fractions):
    if fractions:
        total = sum(parts) or 1
        lengths = [p / total for p in parts[:-1]]
        lengths.append(1 - sum(lengths))
    else:
        lengths = parts

    def split(lib, data):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # an empty part warns, in both
            return data.random_split(range(n), lengths)

    try:
        theirs = split(torch, torch_data)
    except ValueError:
        with pytest.raises(ValueError):
            split(tn, tn_data)
        return
    ours = split(tn, tn_data)
    assert [len(p) for p in ours] == [len(p) for p in theirs]
    everything = [i for part in ours for i in part]
    assert sorted(everything) == list(range(n))


def test_random_split_repeats_with_a_generator_and_warns_of_an_empty_part():
    def split(seed):
        return [list(p) for p in tn_data.random_split(range(10), [3, 7], generator=tn.Generator().manual_seed(seed))]

    assert split(4) == split(4) and split(4) != split(5)
    with pytest.warns(UserWarning, match="index 1 is 0"):
        tn_data.random_split(range(2), [1.0, 0.0])


# --- Generator -------------------------------------------------------------------------------------------


def test_generator_seeds_as_pytorchs():
    g = tn.Generator()
    assert g.manual_seed(7) is g and g.initial_seed() == 7 and g.device == "cpu"
    for seed in (-1, -(2**63), 2**64 - 1, 12345):
        assert tn.Generator().manual_seed(seed).initial_seed() == torch.Generator().manual_seed(seed).initial_seed()
    with pytest.raises(ValueError):
        tn.Generator().manual_seed(2**64)
    with pytest.raises(TypeError):
        tn.Generator().manual_seed(1.5)
    assert tn.manual_seed(3) is tn.default_generator and tn.initial_seed() == 3
    fresh = tn.Generator().seed()
    assert fresh != tn.Generator().seed() and 0 <= fresh < 2**64


def test_generator_state_round_trips():
    g = tn.Generator().manual_seed(11)
    tn.rand(3, generator=g)
    state = g.get_state()
    assert state.dtype == tn.uint8 and state.ndim == 1
    first = tn.randn(5, generator=g).tolist()
    assert g.set_state(state) is g
    assert tn.randn(5, generator=g).tolist() == first
    with pytest.raises(TypeError):
        g.set_state([1, 2])
    with pytest.raises(RuntimeError):
        g.set_state(tn.zeros(3, dtype=tn.uint8))
    clone = pickle.loads(pickle.dumps(g))  # (a DataLoader's generator travels to spawned workers this way)
    assert tn.randn(2, generator=clone).tolist() == tn.randn(2, generator=g).tolist()


def test_default_generator_state_and_fork_rng():
    tn.manual_seed(2)
    state = tn.get_rng_state()
    a = tn.rand(4).tolist()
    tn.set_rng_state(state)
    assert tn.rand(4).tolist() == a
    tn.set_rng_state(state)
    with tn.random.fork_rng():
        tn.rand(100)
    assert tn.rand(4).tolist() == a


RANDOM_FACTORIES = {
    "rand": lambda g: tn.rand(2, 3, generator=g),
    "randn": lambda g: tn.randn(4, generator=g),
    "randint": lambda g: tn.randint(0, 10, (5,), generator=g),
    "randperm": lambda g: tn.randperm(8, generator=g),
    "normal": lambda g: tn.normal(0.0, 1.0, (3,), generator=g),
    "bernoulli": lambda g: tn.bernoulli(tn.full((6,), 0.5), generator=g),
    "multinomial": lambda g: tn.multinomial(tn.ones(5), 3, generator=g),
    "poisson": lambda g: tn.poisson(tn.full((4,), 3.0), generator=g),
    "rand_like": lambda g: tn.rand_like(tn.zeros(3), generator=g),
    "randn_like": lambda g: tn.randn_like(tn.zeros(3), generator=g),
    "randint_like": lambda g: tn.randint_like(tn.zeros(3), 5, generator=g),
    "uniform_": lambda g: tn.zeros(3).uniform_(-1, 1, generator=g),
    "normal_": lambda g: tn.zeros(3).normal_(generator=g),
    "random_": lambda g: tn.zeros(3).random_(0, 100, generator=g),
    "exponential_": lambda g: tn.zeros(3).exponential_(generator=g),
    "bernoulli_": lambda g: tn.zeros(3).bernoulli_(0.5, generator=g),
}


@pytest.mark.parametrize("draw", RANDOM_FACTORIES.values(), ids=RANDOM_FACTORIES.keys())
def test_random_factories_draw_from_the_given_generator(draw):
    tn.manual_seed(0)
    first = draw(tn.Generator().manual_seed(9)).tolist()
    after_default = tn.rand(3).tolist()
    tn.manual_seed(123)  # the default generator's state changes nothing for a given generator
    assert draw(tn.Generator().manual_seed(9)).tolist() == first
    tn.manual_seed(0)
    draw(tn.Generator().manual_seed(1))  # ... and drawing from one leaves the default generator alone
    assert tn.rand(3).tolist() == after_default
    with pytest.raises(TypeError, match="Generator"):
        draw(np.random.default_rng(0))


# --- worker processes ---------------------------------------------------------------------------------------


class Slow(tn_data.Dataset):
    """Sample i after an uneven delay (later samples are often ready first), with who made it and its draws."""

    def __init__(self, n: int = 24) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> dict:
        time.sleep(0.02 if i % 8 < 2 else 0.0)
        info = tn_data.get_worker_info()
        return {"i": i, "pid": os.getpid(), "worker": info.id, "seed": info.seed, "tn": float(tn.rand(1).item()),
                "np": float(np.random.random())}  # fmt: skip


def test_workers_are_processes_and_keep_the_samplers_order():
    tn.manual_seed(0)
    batches = list(tn_data.DataLoader(Slow(), batch_size=4, num_workers=2))
    assert [b["i"].tolist() for b in batches] == [list(range(k, k + 4)) for k in range(0, 24, 4)]
    pids = {pid for b in batches for pid in b["pid"].tolist()}
    assert len(pids) == 2 and os.getpid() not in pids
    assert [b["worker"].tolist() for b in batches] == [[k % 2] * 4 for k in range(6)]  # round-robin
    assert tn_data.get_worker_info() is None


def test_workers_are_seeded_apart_and_repeat_with_manual_seed():
    def run(seed):
        tn.manual_seed(seed)
        return list(tn_data.DataLoader(Slow(8), batch_size=2, num_workers=2, shuffle=True))

    first, again, other = run(4), run(4), run(5)
    seeds = {b["worker"][0].item(): b["seed"][0].item() for b in first}
    assert seeds[1] == seeds[0] + 1  # base_seed + worker_id
    draws = [v for b in first for v in b["tn"].tolist()]
    assert len(set(draws)) == len(draws)  # no two workers repeat each other's numbers
    for key in ("i", "tn", "np", "seed"):
        assert [b[key].tolist() for b in first] == [b[key].tolist() for b in again]
    assert [b["tn"].tolist() for b in first] != [b["tn"].tolist() for b in other]


def test_workers_numpy_seed_is_pytorchs():
    generate_state = pytest.importorskip("torch.utils.data._utils.worker")._generate_state
    for base_seed, worker_id in ((0, 0), (2**62 + 17, 3), (123456789012, 1)):
        assert numpy_seed(base_seed, worker_id) == generate_state(base_seed, worker_id)


def test_workers_give_what_one_process_gives():
    def batches(**kwargs):
        tn.manual_seed(8)
        loader = tn_data.DataLoader(Samples(tn), batch_size=3, shuffle=True, **kwargs)
        return [plain(b) for b in loader]

    assert batches(num_workers=2) == batches()
    unordered = batches(num_workers=2, in_order=False)
    assert sorted(map(repr, unordered)) == sorted(map(repr, batches()))


class Shards:
    """An iterable dataset that splits range(n) between the workers by get_worker_info."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __iter__(self):
        info = self.worker_info()
        first, step = (0, 1) if info is None else (info.id, info.num_workers)
        return iter(range(first, self.n, step))


class TnShards(Shards, tn_data.IterableDataset):
    worker_info = staticmethod(tn_data.get_worker_info)


class TorchShards(Shards, torch_data.IterableDataset):
    worker_info = staticmethod(torch_data.get_worker_info)


@pytest.mark.parametrize(("n", "batch_size", "drop_last"), [(11, 2, False), (11, 2, True), (5, None, False)])
def test_iterable_dataset_shards_across_workers_as_in_pytorch(n, batch_size, drop_last):
    kwargs = {"batch_size": batch_size, "drop_last": drop_last, "num_workers": 2}
    expected = plain(list(torch_data.DataLoader(TorchShards(n), **kwargs)))
    assert plain(list(tn_data.DataLoader(TnShards(n), **kwargs))) == expected


class Failing(tn_data.Dataset):
    def __len__(self) -> int:
        return 8

    def __getitem__(self, i: int) -> int:
        if i == 5:
            raise KeyError(f"no sample {i}")
        return i


def test_a_workers_error_is_raised_here_naming_the_worker():
    loader = tn_data.DataLoader(Failing(), batch_size=2, num_workers=2)
    it = iter(loader)
    assert next(it).tolist() == [0, 1] and next(it).tolist() == [2, 3]
    with pytest.raises(KeyError, match=r"(?s)Caught KeyError in DataLoader worker process 0.*no sample 5"):
        next(it)
    assert next(it).tolist() == [6, 7]  # the other batches still come

    def init(worker_id):
        raise ValueError(f"init of {worker_id}")

    with pytest.raises(ValueError, match=r"(?s)worker process 0.*init of 0"):
        list(tn_data.DataLoader(range(4), num_workers=2, worker_init_fn=init))


class Dies(tn_data.Dataset):
    def __len__(self) -> int:
        return 4

    def __getitem__(self, i: int):
        if i == 2:
            os._exit(3)
        if i == 3:
            time.sleep(3)
        return i


def test_a_dead_worker_or_a_timeout_is_an_error_not_a_hang(monkeypatch):
    monkeypatch.setattr(tn.data.multiprocess, "SHUTDOWN_TIMEOUT", 0.5)  # the sleeping worker is then terminated
    with pytest.raises(RuntimeError, match="exited unexpectedly"):
        list(tn_data.DataLoader(Dies(), num_workers=2))
    with pytest.raises(RuntimeError, match=r"timed out after 0\.5 seconds"):
        list(tn_data.DataLoader(tn_data.Subset(Dies(), [3]), num_workers=1, timeout=0.5))


def test_unpicklable_batches_are_reported():
    loader = tn_data.DataLoader(range(2), num_workers=1, collate_fn=lambda batch: lambda: batch)
    with pytest.raises((pickle.PicklingError, AttributeError), match=r"worker process 0 \(sending its batch"):
        list(loader)


def test_persistent_workers_serve_every_pass():
    loader = tn_data.DataLoader(Slow(12), batch_size=3, num_workers=2, persistent_workers=True, shuffle=True)
    passes = [[b for b in loader] for _ in range(3)]
    for batches in passes:
        assert sorted(i for b in batches for i in b["i"].tolist()) == list(range(12))
    pids = [{p for b in batches for p in b["pid"].tolist()} for batches in passes]
    assert pids[0] == pids[1] == pids[2] and len(pids[0]) == 2
    it = iter(loader)
    next(it)  # a pass left unfinished: the next one still gives every batch, once
    assert sorted(i for b in loader for i in b["i"].tolist()) == list(range(12))
    loader._iterator.shutdown()


def test_loader_len_with_workers_and_the_worker_count_warning():
    loader = tn_data.DataLoader(range(10), batch_size=4, num_workers=1)
    assert len(loader) == 3 and len(list(loader)) == 3
    with pytest.warns(UserWarning, match="worker processes"):
        tn_data.DataLoader(range(3), num_workers=(os.cpu_count() or 1) + 64)
