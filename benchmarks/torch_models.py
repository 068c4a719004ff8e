"""The reference models of ``tinynet/models.py``, written in PyTorch: the peers the benchmarks time.

Same layers, shapes and names as tinynet's, so one training step drives either (see frameworks.py).
Importing this module imports torch.
"""

import torch
from torch import Tensor, nn


class MNIST1DCNN(nn.Module):
    """Three strided conv1d layers (1->25 k5, 25->25 k3, 25->25 k3; stride 2, padding 1) and a linear head.

    x: (N, 40) -> logits (N, 10).
    """

    def __init__(self, channels: int = 25, length: int = 40, classes: int = 10) -> None:
        super().__init__()
        self.conv1 = nn.Conv1d(1, channels, 5, stride=2, padding=1)
        self.conv2 = nn.Conv1d(channels, channels, 3, stride=2, padding=1)
        self.conv3 = nn.Conv1d(channels, channels, 3, stride=2, padding=1)
        for kernel in (5, 3, 3):
            length = (length + 2 - kernel) // 2 + 1
        self.linear = nn.Linear(channels * length, classes)

    def forward(self, x: Tensor) -> Tensor:
        h = x.reshape(x.shape[0], 1, x.shape[-1])
        h = self.conv1(h).relu()
        h = self.conv2(h).relu()
        h = self.conv3(h).relu()
        return self.linear(h.flatten(1))


def mnist1d_mlp(length: int = 40, hidden: int = 100, classes: int = 10) -> nn.Sequential:
    """x: (N, 40) -> 100 -> 100 -> logits (N, 10), ReLU between."""
    return nn.Sequential(
        nn.Linear(length, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, classes)
    )


def mnist_cnn(classes: int = 10) -> nn.Sequential:
    """Lesson 08's image CNN: x: (N, 1, 28, 28) -> Conv32-Pool-Conv64-Pool-Dense64 -> logits (N, classes)."""
    return nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 5 * 5, 64), nn.ReLU(), nn.Linear(64, classes),
    )  # fmt: skip


class MNIST1DGRU(nn.Module):
    """A bidirectional GRU (hidden 6) reading one value per step, then a linear head. x: (N, 40) -> (N, 10)."""

    def __init__(self, hidden: int = 6, length: int = 40, classes: int = 10) -> None:
        super().__init__()
        self.rnn = nn.GRU(1, hidden, batch_first=True, bidirectional=True)
        self.linear = nn.Linear(2 * hidden * length, classes)

    def forward(self, x: Tensor) -> Tensor:
        out, _ = self.rnn(x.reshape(x.shape[0], x.shape[1], 1))
        return self.linear(out.flatten(1))


class PositionalEncoding(nn.Module):
    """tinynet's nn.PositionalEncoding (PyTorch has none): adds the sinusoidal code, kept as the buffer ``pe``
    (max_len, d_model). x: (N, T, d_model) -> the same shape."""

    def __init__(self, d_model: int, max_len: int = 5000) -> None:
        super().__init__()
        position = torch.arange(max_len, dtype=torch.float64)[:, None]
        angle = position / 10000 ** (torch.arange(0, d_model, 2, dtype=torch.float64) / d_model)
        pe = torch.zeros(max_len, d_model, dtype=torch.float64)
        pe[:, 0::2] = torch.sin(angle)
        pe[:, 1::2] = torch.cos(angle[:, : d_model // 2])
        self.register_buffer("pe", pe)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.pe[: x.shape[-2]].to(x.dtype)


class CharTransformer(nn.Module):
    """tinynet.models.CharTransformer: token ids (N, T) -> next-token scores (N, T, vocab_size), each from
    tokens 0..t only. Embedding, sinusoidal positions, ``layers`` pre-norm TransformerEncoderLayers (feed-forward
    4 * d_model, ReLU, no dropout, batch first) under a causal mask, a final LayerNorm and a linear readout."""

    def __init__(self, vocab_size: int, d_model: int, heads: int, layers: int, context: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, d_model)
        self.position = PositionalEncoding(d_model, max_len=context)
        self.blocks = nn.ModuleList(
            nn.TransformerEncoderLayer(d_model, heads, 4 * d_model, dropout=0.0, batch_first=True, norm_first=True)
            for _ in range(layers)
        )
        self.norm = nn.LayerNorm(d_model)
        self.readout = nn.Linear(d_model, vocab_size)

    def forward(self, x: Tensor) -> Tensor:
        h = self.position(self.embed(x))
        # As tinynet's causal_mask: bool, True above the diagonal (may NOT attend), made anew every call.
        size = x.shape[1]
        mask = torch.triu(torch.ones(size, size, dtype=torch.bool, device=x.device), diagonal=1)
        for block in self.blocks:
            h = block(h, src_mask=mask)
        return self.readout(self.norm(h))


class LSTMLanguageModel(nn.Module):
    """tinynet.models.LSTMLanguageModel: token ids (N, T) -> next-token scores (N, T, vocab_size), through an
    embedding, one batch-first LSTM layer and a linear head at every position."""

    def __init__(self, vocab_size: int = 1000, embed: int = 64, hidden: int = 128) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed)
        self.lstm = nn.LSTM(embed, hidden, batch_first=True)
        self.head = nn.Linear(hidden, vocab_size)

    def forward(self, tokens: Tensor) -> Tensor:
        output, _ = self.lstm(self.embed(tokens))  # (N, T, hidden)
        return self.head(output)
