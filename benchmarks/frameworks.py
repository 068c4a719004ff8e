"""tinynet and PyTorch behind one face, so that each workload is written once and runs on both.

tinynet copies PyTorch's public names (``F.conv2d``, ``nn.Linear``, ``optim.Adam``, ``.backward()``),
so a step written against a ``Framework`` is the same code on either side: only where tensors live
and which model classes build the networks differ. PyTorch is imported only when asked for.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Framework:
    """A framework's namespaces: ``lib`` (tinynet or torch), ``F``, ``nn``, ``optim``, plus tensor/model makers."""

    name: str
    lib: Any
    F: Any
    nn: Any
    optim: Any
    models: Any  # a module with MNIST1DCNN, mnist1d_mlp, MNIST1DGRU
    device: str | None = None  # torch only: "cpu" or "cuda"

    def tensor(self, array: np.ndarray, requires_grad: bool = False):
        """A copy of ``array`` on this framework (and, for tinynet, on the active backend)."""
        if self.device is None:
            return self.lib.tensor(array, requires_grad=requires_grad)
        return self.lib.tensor(array, device=self.device, requires_grad=requires_grad)

    def model(self, factory: str | Callable[[Any], Any]):
        """A fresh model, weights drawn after seeding 0: ``models.<factory>()``, or ``factory(nn)``."""
        self.lib.manual_seed(0)
        model = getattr(self.models, factory)() if isinstance(factory, str) else factory(self.nn)
        return model if self.device is None else model.to(self.device)


def tinynet() -> Framework:
    import tinynet as tn
    import tinynet.nn.functional as F
    from tinynet import models

    return Framework("tinynet", tn, F, tn.nn, tn.optim, models)


def torch(device: str = "cpu") -> Framework:
    """PyTorch on ``device``; raises ImportError when torch is not installed."""
    torch_lib = importlib.import_module("torch")
    import torch.nn.functional as F

    # A sibling module of this file (benchmarks/ is on sys.path when run.py runs).
    models = importlib.import_module("torch_models")
    return Framework("torch", torch_lib, F, torch_lib.nn, torch_lib.optim, models, device)
