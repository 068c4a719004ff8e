"""PyTorch's ``torch.utils.data``: datasets, samplers, collation and the DataLoader (built in ``tinynet.data``),
for programs written for PyTorch: ``from tinynet.utils.data import DataLoader, TensorDataset``."""

from tinynet.data import (
    BatchSampler,
    ChainDataset,
    ConcatDataset,
    DataLoader,
    Dataset,
    IterableDataset,
    RandomSampler,
    Sampler,
    SequentialSampler,
    StackDataset,
    Subset,
    SubsetRandomSampler,
    TensorDataset,
    WeightedRandomSampler,
    default_collate,
    default_convert,
    get_worker_info,
    random_split,
)
from tinynet.errors import NotImplementedOpError

__all__ = [
    "BatchSampler", "ChainDataset", "ConcatDataset", "DataLoader", "Dataset", "IterableDataset", "RandomSampler",
    "Sampler", "SequentialSampler", "StackDataset", "Subset", "SubsetRandomSampler", "TensorDataset",
    "WeightedRandomSampler", "default_collate", "default_convert", "get_worker_info", "random_split",
]  # fmt: skip

# PyTorch's names here that tinynet does not have: DistributedSampler needs torch.distributed (several processes
# training one model), and the DataPipes are PyTorch's deprecated successor API to datasets.
_DATAPIPES = "DataPipes (deprecated in PyTorch) are not part of tinynet"
_MISSING = {
    "DistributedSampler": "it needs torch.distributed, which tinynet does not have",
    **dict.fromkeys(
        ["DFIterDataPipe", "DataChunk", "IterDataPipe", "MapDataPipe", "argument_validation", "functional_datapipe",
         "guaranteed_datapipes_determinism", "non_deterministic", "runtime_validation", "runtime_validation_disabled"],
        _DATAPIPES,
    ),
}  # fmt: skip


def __getattr__(name: str):
    if name in _MISSING:
        raise NotImplementedOpError(
            f"tinynet.utils.data.{name}: PyTorch's torch.utils.data.{name} is not implemented in tinynet "
            f"({_MISSING[name]})"
        )
    raise AttributeError(f"module tinynet.utils.data has no attribute {name!r}")
