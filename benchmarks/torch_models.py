"""The reference models of ``tinynet/models.py``, written in PyTorch: the peers the benchmarks time.

Same layers, shapes and names as tinynet's, so one training step drives either (see frameworks.py).
Importing this module imports torch.
"""

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


class MNIST1DGRU(nn.Module):
    """A bidirectional GRU (hidden 6) reading one value per step, then a linear head. x: (N, 40) -> (N, 10)."""

    def __init__(self, hidden: int = 6, length: int = 40, classes: int = 10) -> None:
        super().__init__()
        self.rnn = nn.GRU(1, hidden, batch_first=True, bidirectional=True)
        self.linear = nn.Linear(2 * hidden * length, classes)

    def forward(self, x: Tensor) -> Tensor:
        out, _ = self.rnn(x.reshape(x.shape[0], x.shape[1], 1))
        return self.linear(out.flatten(1))
