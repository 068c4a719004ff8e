"""Data for training: PyTorch's ``torch.utils.data`` (also importable as ``tinynet.utils.data``) plus small data
sets, splits and loaders.

    x, y = tn.data.moons()
    train = tn.data.DataLoader(tn.data.TensorDataset(x, y), batch_size=32, shuffle=True)

Every loader returns Tensors ``(x, y)`` built locally: nothing here downloads.
"""

from tinynet.data.collate import collate, default_collate, default_collate_fn_map, default_convert
from tinynet.data.dataset import (
    ChainDataset,
    ConcatDataset,
    Dataset,
    IterableDataset,
    StackDataset,
    Subset,
    TensorDataset,
    random_split,
)
from tinynet.data.datasets import circles, digits, make_classification, moons, xor
from tinynet.data.distributed import DistributedSampler
from tinynet.data.loader import DataLoader, cycle
from tinynet.data.mnist import cache_dir, mnist1d, mnist_5k
from tinynet.data.multiprocess import DataLoaderWorkerError
from tinynet.data.sampler import (
    BatchSampler,
    RandomSampler,
    Sampler,
    SequentialSampler,
    SubsetRandomSampler,
    WeightedRandomSampler,
)
from tinynet.data.split import KFold, train_test_split
from tinynet.data.worker import WorkerInfo, get_worker_info

# PyTorch's torch.utils.data names (tinynet.utils.data re-exports exactly these).
TORCH_NAMES = [
    "BatchSampler", "ChainDataset", "ConcatDataset", "DataLoader", "Dataset", "DistributedSampler", "IterableDataset",
    "RandomSampler", "Sampler", "SequentialSampler", "StackDataset", "Subset", "SubsetRandomSampler", "TensorDataset",
    "WeightedRandomSampler", "default_collate", "default_convert", "get_worker_info", "random_split",
]  # fmt: skip
__all__ = [
    *TORCH_NAMES, "DataLoaderWorkerError", "KFold", "WorkerInfo", "cache_dir", "circles", "collate", "cycle",
    "default_collate_fn_map", "digits", "make_classification", "mnist1d", "mnist_5k", "moons", "train_test_split",
    "xor",
]  # fmt: skip
