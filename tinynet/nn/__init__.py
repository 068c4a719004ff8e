"""Layers and models, as ``torch.nn``: Module, Parameter, the layers, activations and losses."""

from tinynet.nn import functional, init, utils
from tinynet.nn.activation import ELU, GELU, LeakyReLU, LogSoftmax, ReLU, Sigmoid, Softmax, Softplus, Tanh
from tinynet.nn.layers import Flatten, Identity, Linear, ModuleList, Sequential
from tinynet.nn.loss import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, MSELoss, NLLLoss
from tinynet.nn.module import Module, Parameter

__all__ = [
    "BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss", "ELU", "Flatten", "GELU", "Identity",
    "LeakyReLU", "Linear", "LogSoftmax", "MSELoss", "Module", "ModuleList", "NLLLoss", "Parameter",
    "ReLU", "Sequential", "Sigmoid", "Softmax", "Softplus", "Tanh", "functional", "init", "utils",
]  # fmt: skip
