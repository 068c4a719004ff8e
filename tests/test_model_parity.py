"""Whole-model parity: training on any backend gives the reference's losses, step for step."""

import numpy as np
import pytest
from conftest import ALL_BACKENDS

import tinynet as tn
import tinynet.nn.functional as F
from tinynet import backend, nn, optim
from tinynet.models import MNIST1DCNN

OTHER_BACKENDS = [p for p in ALL_BACKENDS if p.values[0] != "numpy"]


class TinyEncoder(nn.Module):
    """Embedding + sinusoidal positions + one transformer encoder layer + a mean-pooled classifier."""

    def __init__(self, vocab: int = 12, d_model: int = 16, classes: int = 3) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, d_model)
        self.position = nn.PositionalEncoding(d_model)
        self.encoder = nn.TransformerEncoderLayer(d_model, 4, 32, dropout=0.0, batch_first=True)
        self.head = nn.Linear(d_model, classes)

    def forward(self, tokens):
        return self.head(self.encoder(self.position(self.embed(tokens))).mean(dim=1))


def train_losses(model, x, y, steps: int = 50) -> list[float]:
    """The loss at each of ``steps`` Adam steps (lr 1e-2) of cross-entropy training on (x, y)."""
    optimizer = optim.Adam(model.parameters(), lr=1e-2)
    inputs, labels = tn.tensor(x), tn.tensor(y)
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = F.cross_entropy(model(inputs), labels)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def _losses(backend_name: str, make_model, x, y, steps: int = 50) -> list[float]:
    with tn.use_backend(backend_name):
        tn.manual_seed(0)  # the same initial weights on every backend
        return train_losses(make_model(), x, y, steps)


@pytest.mark.parametrize("other", OTHER_BACKENDS)
def test_mnist1d_cnn_trains_identically(other):
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((100, 40)).astype(np.float32), rng.integers(0, 10, 100)
    reference = _losses("numpy", MNIST1DCNN, x, y)
    assert reference[-1] < 0.5 * reference[0]  # it really trains, so the comparison means something
    # The last losses are near 1e-4 (it memorises 100 samples): there a relative 1e-4 is float32's rounding of
    # the log-probabilities it sums, so near zero the comparison is absolute.
    np.testing.assert_allclose(_losses(other, MNIST1DCNN, x, y), reference, rtol=1e-4, atol=1e-7)
    assert backend.get_backend() == "numpy"


@pytest.mark.parametrize("other", OTHER_BACKENDS)
def test_transformer_encoder_trains_identically(other):
    rng = np.random.default_rng(1)
    x = rng.integers(0, 12, (32, 10))
    y = (x == 3).sum(axis=1) % 3  # count a token: needs attention over the whole sequence
    reference = _losses("numpy", TinyEncoder, x, y)
    assert reference[-1] < 0.8 * reference[0]
    np.testing.assert_allclose(_losses(other, TinyEncoder, x, y), reference, rtol=1e-4)
