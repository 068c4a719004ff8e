"""Data for training, as ``torch.utils.data`` plus small data sets: Dataset, DataLoader, splits, loaders.

    x, y = tn.data.moons()
    train = tn.data.DataLoader(tn.data.TensorDataset(x, y), batch_size=32, shuffle=True)

Every loader returns Tensors ``(x, y)`` built locally: nothing here downloads.
"""

from tinynet.data.dataset import Dataset, TensorDataset
from tinynet.data.datasets import circles, digits, make_classification, moons, xor
from tinynet.data.loader import DataLoader, cycle
from tinynet.data.mnist import cache_dir, mnist1d, mnist_5k
from tinynet.data.split import KFold, train_test_split

__all__ = [
    "DataLoader", "Dataset", "KFold", "TensorDataset", "cache_dir", "circles", "cycle", "digits", "make_classification",
    "mnist1d", "mnist_5k", "moons", "train_test_split", "xor",
]  # fmt: skip
