"""Small data sets that need no download: each returns tinynet Tensors ``(x, y)``.

x is float32; y holds int64 class labels (ready for CrossEntropyLoss) unless a loader says otherwise.
The toy sets come from scikit-learn's generators, so a ``seed`` gives the same points everywhere.
"""

from __future__ import annotations

import importlib
from types import ModuleType

import numpy as np

from tinynet.tensor import Tensor, float32, int64, tensor


def require(module: str, package: str) -> ModuleType:
    """Import ``module``, or raise an ImportError saying which package to install."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise ImportError(f"this data set needs the {package!r} package: pip install {package}") from err


def as_tensors(x: np.ndarray, y: np.ndarray, y_dtype=int64) -> tuple[Tensor, Tensor]:
    """(x as float32, y as ``y_dtype``) Tensors on the active backend."""
    return tensor(x, dtype=float32), tensor(y, dtype=y_dtype)


def xor() -> tuple[Tensor, Tensor]:
    """The four XOR points: x ``(4, 2)`` in {0, 1}, y ``(4, 1)`` float32 (x0 xor x1), a target for MSELoss."""
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
    return as_tensors(x, (x[:, :1] != x[:, 1:]), y_dtype=float32)


def moons(n_samples: int = 200, noise: float = 0.1, seed: int = 0) -> tuple[Tensor, Tensor]:
    """Two interleaving half circles: x ``(n_samples, 2)``, y ``(n_samples,)`` in {0, 1}."""
    datasets = require("sklearn.datasets", "scikit-learn")
    return as_tensors(*datasets.make_moons(n_samples, noise=noise, random_state=seed))


def circles(n_samples: int = 200, noise: float = 0.05, factor: float = 0.5, seed: int = 0) -> tuple[Tensor, Tensor]:
    """A small circle (y = 1, radius ``factor``) inside a large one (y = 0).

    x ``(n_samples, 2)``, y ``(n_samples,)`` in {0, 1}.
    """
    datasets = require("sklearn.datasets", "scikit-learn")
    return as_tensors(*datasets.make_circles(n_samples, noise=noise, factor=factor, random_state=seed))


def make_classification(n_samples: int = 1000, n_features: int = 20, seed: int = 0, **kwargs) -> tuple[Tensor, Tensor]:
    """scikit-learn's ``make_classification`` (Gaussian clusters per class; ``kwargs`` such as ``n_classes``
    go to it): x ``(n_samples, n_features)``, y ``(n_samples,)``."""
    datasets = require("sklearn.datasets", "scikit-learn")
    return as_tensors(*datasets.make_classification(n_samples, n_features, random_state=seed, **kwargs))


def digits(images: bool = False) -> tuple[Tensor, Tensor]:
    """scikit-learn's 1,797 handwritten digits, 8x8 pixels scaled to [0, 1].

    x ``(1797, 64)``, or ``(1797, 1, 8, 8)`` with ``images=True`` (for Conv2d); y ``(1797,)`` in 0..9.
    """
    data = require("sklearn.datasets", "scikit-learn").load_digits()
    x = data.data / 16.0  # pixel values are 0..16
    return as_tensors(x.reshape(-1, 1, 8, 8) if images else x, data.target)
