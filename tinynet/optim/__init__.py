"""Optimizers, as ``torch.optim``: SGD, Adam, AdamW, and learning-rate schedules."""

from tinynet.optim import lr_scheduler
from tinynet.optim.adam import Adam, AdamW
from tinynet.optim.optimizer import Optimizer
from tinynet.optim.sgd import SGD

__all__ = ["SGD", "Adam", "AdamW", "Optimizer", "lr_scheduler"]
