"""Splitting data for evaluation: ``train_test_split`` and ``KFold``, as in scikit-learn."""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

from tinynet import random
from tinynet.data.dataset import take
from tinynet.errors import ArgumentError, ShapeError
from tinynet.tensor import Tensor, to_host


def _rng(seed: int | None) -> np.random.Generator:
    # Without a seed, tinynet's own generator, so tn.manual_seed repeats the split.
    return random.generator() if seed is None else np.random.default_rng(seed)


def train_test_split(*arrays, test_size: float | int = 0.25, shuffle: bool = True, stratify=None,
                     seed: int | None = None) -> list:  # fmt: skip
    """Split Tensors/arrays/lists with the same first dimension N into train and test parts.

    Returns ``[a_train, a_test, b_train, b_test, ...]``, each the type it came in as. ``test_size``:
    a fraction of N (rounded up) or a count. ``stratify``: labels ``(N,)`` whose class proportions both
    parts keep. Without ``shuffle`` the test part is the last samples (of each class, if stratified).
    """
    if not arrays:
        raise ArgumentError("train_test_split: expected at least one array")
    n = len(arrays[0])
    if any(len(a) != n for a in arrays):
        raise ShapeError(f"train_test_split: every input needs the same first dimension, got {list(map(len, arrays))}")
    n_test = math.ceil(test_size * n) if isinstance(test_size, float) else test_size
    if not 0 < n_test < n:
        raise ArgumentError(
            f"train_test_split: test_size={test_size} of {n} samples leaves an empty train or test part"
        )

    rng = _rng(seed)
    labels = np.zeros(n, dtype=np.int64) if stratify is None else _labels(stratify, n)
    classes, counts = np.unique(labels, return_counts=True)
    is_test = np.zeros(n, dtype=bool)
    for cls, k in zip(classes, _allocate(counts, n_test)):
        members = np.flatnonzero(labels == cls)
        is_test[(rng.permutation(members) if shuffle else members)[len(members) - k :]] = True
    # Both parts in one fresh random order, drawn apart from who went where, so neither starts class by class.
    order = rng.permutation(n) if shuffle else np.arange(n)
    train, test = order[~is_test[order]], order[is_test[order]]
    return [part for a in arrays for part in (take(a, train), take(a, test))]


def _labels(stratify, n: int) -> np.ndarray:
    labels = to_host(stratify.array) if isinstance(stratify, Tensor) else np.asarray(stratify)
    if labels.shape != (n,):
        raise ShapeError(f"train_test_split: stratify must be labels of shape ({n},), got {labels.shape}")
    return labels


def _allocate(counts: np.ndarray, total: int) -> np.ndarray:
    """Integers proportional to ``counts`` that sum to ``total``: the floors, plus one for the largest remainders."""
    exact = counts * total / counts.sum()
    share = np.floor(exact).astype(np.int64)
    share[np.argsort(-(exact - share), kind="stable")[: total - share.sum()]] += 1
    return share


class KFold:
    """K-fold cross-validation: each sample is in the test fold exactly once over the ``n_splits`` splits.

    Folds are consecutive runs of samples (of the shuffled order with ``shuffle``), the first
    ``N % n_splits`` one sample larger, as in scikit-learn.
    """

    def __init__(self, n_splits: int = 5, shuffle: bool = False, seed: int | None = None) -> None:
        if not isinstance(n_splits, int) or n_splits < 2:
            raise ArgumentError(f"KFold: n_splits must be an integer >= 2, got {n_splits!r}")
        if seed is not None and not shuffle:
            raise ArgumentError("KFold: a seed only matters with shuffle=True")
        self.n_splits = n_splits
        self.shuffle = shuffle
        self.seed = seed

    def get_n_splits(self) -> int:
        return self.n_splits

    def split(self, n_or_data) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield ``(train_idx, test_idx)`` index arrays; ``n_or_data``: a sample count, or data with ``len()``."""
        n = n_or_data if isinstance(n_or_data, int) else len(n_or_data)
        if n < self.n_splits:
            raise ArgumentError(f"KFold: cannot make {self.n_splits} folds of {n} samples")
        order = _rng(self.seed).permutation(n) if self.shuffle else np.arange(n)
        sizes = np.full(self.n_splits, n // self.n_splits)
        sizes[: n % self.n_splits] += 1
        start = 0
        for size in sizes:
            test = order[start : start + size]
            yield np.sort(np.concatenate([order[:start], order[start + size :]])), test
            start += size
