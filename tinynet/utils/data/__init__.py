"""PyTorch's ``torch.utils.data``: datasets, samplers, collation and the DataLoader (built in ``tinynet.data``),
for programs written for PyTorch: ``from tinynet.utils.data import DataLoader, TensorDataset``."""

from tinynet.data import (
    BatchSampler,
    ChainDataset,
    ConcatDataset,
    DataLoader,
    Dataset,
    DistributedSampler,
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
from tinynet.missing import module_getattr

__all__ = [
    "BatchSampler", "ChainDataset", "ConcatDataset", "DataLoader", "Dataset", "DistributedSampler", "IterableDataset",
    "RandomSampler", "Sampler", "SequentialSampler", "StackDataset", "Subset", "SubsetRandomSampler", "TensorDataset",
    "WeightedRandomSampler", "default_collate", "default_convert", "get_worker_info", "random_split",
]  # fmt: skip

# PyTorch's names here that tinynet does not have: the DataPipes, PyTorch's deprecated successor API to datasets.
_DATAPIPES = "DataPipes (deprecated in PyTorch) are not part of tinynet"
_MISSING = {
    **dict.fromkeys(
        ["DFIterDataPipe", "DataChunk", "IterDataPipe", "MapDataPipe", "argument_validation", "functional_datapipe",
         "guaranteed_datapipes_determinism", "non_deterministic", "runtime_validation", "runtime_validation_disabled"],
        _DATAPIPES,
    ),
}  # fmt: skip


__getattr__ = module_getattr("tinynet.utils.data", "torch.utils.data", _MISSING)
