"""Layers and models, as ``torch.nn``: Module, Parameter, the layers, activations and losses."""

from tinynet.nn import functional, init, utils
from tinynet.nn.activation import ELU, GELU, LeakyReLU, LogSoftmax, ReLU, Sigmoid, Softmax, Softplus, Tanh
from tinynet.nn.attention import MultiheadAttention, PositionalEncoding
from tinynet.nn.conv import Conv1d, Conv2d, ConvTranspose2d
from tinynet.nn.dropout import Dropout
from tinynet.nn.embedding import Embedding
from tinynet.nn.layers import Flatten, Identity, Linear, ModuleList, Sequential
from tinynet.nn.loss import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, MSELoss, NLLLoss
from tinynet.nn.module import Module, Parameter
from tinynet.nn.normalization import BatchNorm1d, BatchNorm2d, LayerNorm
from tinynet.nn.pooling import AvgPool1d, AvgPool2d, MaxPool1d, MaxPool2d, Upsample
from tinynet.nn.recurrent import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell
from tinynet.nn.transformer import TransformerDecoderLayer, TransformerEncoderLayer

__all__ = [
    "BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss", "ELU", "Flatten", "GELU", "Identity",
    "LeakyReLU", "Linear", "LogSoftmax", "MSELoss", "Module", "ModuleList", "NLLLoss", "Parameter",
    "ReLU", "Sequential", "Sigmoid", "Softmax", "Softplus", "Tanh", "functional", "init", "utils",
    "BatchNorm1d", "BatchNorm2d", "Dropout", "Embedding", "LayerNorm", "MultiheadAttention",
    "PositionalEncoding", "TransformerDecoderLayer", "TransformerEncoderLayer",
    "AvgPool1d", "AvgPool2d", "Conv1d", "Conv2d", "ConvTranspose2d", "MaxPool1d", "MaxPool2d", "Upsample",
    "GRU", "GRUCell", "LSTM", "LSTMCell", "RNN", "RNNCell",
]  # fmt: skip
