"""Reference models (and the GAN training loop) that lessons, benchmarks and parity tests share.

The MNIST-1D models follow the MNIST-1D paper's code (Greydanus, 2020), so our accuracies can be
compared with its table: a linear model, an MLP, a CNN and a bidirectional GRU, each on x: (N, 40).
"""

from collections.abc import Callable, Iterable

import numpy as np

import tinynet.nn.functional as F
from tinynet import autograd, nn, optim
from tinynet.creation import ones, zeros
from tinynet.data import DataLoader, TensorDataset, cycle
from tinynet.functions import cat
from tinynet.metrics import accuracy
from tinynet.random import manual_seed
from tinynet.sampling import randn
from tinynet.tensor import Tensor, tensor


class MNIST1DCNN(nn.Module):
    """Three strided conv1d layers (1->25 k5, 25->25 k3, 25->25 k3; stride 2, padding 1) and a linear head.

    x: (N, 40) -> logits (N, 10). Lengths 40 -> 19 -> 10 -> 5, so the head sees 25 * 5 = 125 features.
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
    """The paper's MLP: x: (N, 40) -> 100 -> 100 -> logits (N, 10), ReLU between."""
    return nn.Sequential(
        nn.Linear(length, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, classes)
    )


def mnist_cnn(classes: int = 10) -> nn.Sequential:
    """Lesson 08's classic small image CNN: x: (N, 1, 28, 28) -> logits (N, classes).

    Conv2d(1, 32, 3), ReLU, MaxPool2d(2) -> (N, 32, 13, 13); Conv2d(32, 64, 3), ReLU, MaxPool2d(2) -> (N, 64, 5, 5);
    Flatten, Linear(1600, 64), ReLU, Linear(64, classes). A Sequential, so that the lesson can index its layers.
    """
    return nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 5 * 5, 64), nn.ReLU(), nn.Linear(64, classes),
    )  # fmt: skip


def mnist1d_linear(length: int = 40, classes: int = 10) -> nn.Linear:
    """Logistic regression: x: (N, 40) -> logits (N, 10)."""
    return nn.Linear(length, classes)


class MNIST1DGRU(nn.Module):
    """The paper's bidirectional GRU (hidden 6) reading the signal one value per step, then a linear head.

    x: (N, 40) -> logits (N, 10); the head sees every step's output: 40 * 2 * 6 = 480 features.
    """

    def __init__(self, hidden: int = 6, length: int = 40, classes: int = 10) -> None:
        super().__init__()
        self.rnn = nn.GRU(1, hidden, batch_first=True, bidirectional=True)
        self.linear = nn.Linear(2 * hidden * length, classes)

    def forward(self, x: Tensor) -> Tensor:
        out, _ = self.rnn(x.reshape(x.shape[0], x.shape[1], 1))
        return self.linear(out.flatten(1))


def train_gan(
    generator: nn.Module, discriminator: nn.Module, sample_real: Callable[[int], Tensor], latent_size: int,
    steps: int, batch_size: int, checkpoints=(), on_checkpoint: Callable[[int], None] = lambda step: None,
    each: Callable[[Iterable], Iterable] = iter,
) -> dict[str, list[float]]:  # fmt: skip
    """Alternate a discriminator step and a generator step ``steps`` times (lessons 16 and 17); the per-step
    losses, {"discriminator": [...], "generator": [...]}.

    sample_real(n) -> a Tensor (n, features) of real samples. on_checkpoint(step) runs before the first step
    (step 0) and after every step listed in ``checkpoints``; ``each`` wraps the steps (a progress bar).
    """
    d_optimizer = optim.Adam(discriminator.parameters(), lr=2e-3, betas=(0.5, 0.999))
    g_optimizer = optim.Adam(generator.parameters(), lr=2e-3, betas=(0.5, 0.999))
    real_then_fake = cat([ones(batch_size, 1), zeros(batch_size, 1)])  # (2B, 1): D's targets
    called_real = ones(batch_size, 1)  # (B, 1): what G wants D to say about its fakes
    losses: dict[str, list[float]] = {"discriminator": [], "generator": []}
    on_checkpoint(0)
    for step in each(range(1, steps + 1)):
        fake = generator(randn(batch_size, latent_size))  # (B, features)

        d_optimizer.zero_grad()
        both = cat([sample_real(batch_size), fake.detach()])  # (2B, features): one forward pass for both
        d_loss = F.binary_cross_entropy_with_logits(discriminator(both), real_then_fake)
        d_loss.backward()
        d_optimizer.step()

        g_optimizer.zero_grad()
        g_loss = F.binary_cross_entropy_with_logits(discriminator(fake), called_real)
        g_loss.backward()
        g_optimizer.step()

        losses["discriminator"].append(d_loss.item())
        losses["generator"].append(g_loss.item())
        if step in checkpoints:
            on_checkpoint(step)
    return losses


def train_classifier(
    model: nn.Module, x_fit: Tensor, y_fit: Tensor, x_check: Tensor, y_check: Tensor, steps: int,
    batch_size: int = 100, eval_every: int | None = None, each: Callable[[Iterable], Iterable] = iter,
) -> list[float]:  # fmt: skip
    """The MNIST-1D paper's recipe (lessons 09 and 11): Adam (lr 1e-2) on shuffled mini-batches for ``steps``
    steps, every model seeing the same batches in the same order (seed 1); the held-out accuracy on (x_check,
    y_check) every ``eval_every`` steps (default: ten times along). ``each`` wraps the steps (a progress bar)."""
    manual_seed(1)
    loader = DataLoader(TensorDataset(x_fit, y_fit), batch_size=batch_size, shuffle=True)
    optimizer = optim.Adam(model.parameters(), lr=1e-2)
    eval_every = eval_every or max(1, steps // 10)
    curve = []
    # cycle: the loader's batches without end, reshuffled after each pass (the recipe counts steps, not epochs)
    for step, (xb, yb) in zip(each(range(1, steps + 1)), cycle(loader)):
        optimizer.zero_grad()
        F.cross_entropy(model(xb), yb).backward()
        optimizer.step()
        if step % eval_every == 0:
            with autograd.no_grad():
                curve.append(accuracy(model(x_check), y_check))
    return curve


class CharTransformer(nn.Module):
    """The reference decoder-only language model (lesson 14): token ids (N, T) -> next-token scores
    (N, T, vocab_size), each from tokens 0..t only.

    Embedding, sinusoidal positions (up to ``context`` tokens), ``layers`` pre-norm nn.TransformerEncoderLayer
    (``heads`` heads, feed-forward 4 * d_model, no dropout, batch first) under a causal mask, a final LayerNorm and
    a linear readout. Its attribute names (embed, position, blocks, norm, readout) are the protocol that
    ``tinynet.generation.generate`` runs with a key/value cache.
    """

    def __init__(self, vocab_size: int, d_model: int, heads: int, layers: int, context: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, d_model)
        self.position = nn.PositionalEncoding(d_model, max_len=context)
        self.blocks = nn.ModuleList(
            nn.TransformerEncoderLayer(d_model, heads, 4 * d_model, dropout=0.0, batch_first=True, norm_first=True)
            for _ in range(layers)
        )
        self.norm = nn.LayerNorm(d_model)
        self.readout = nn.Linear(d_model, vocab_size)

    def forward(self, x: Tensor) -> Tensor:
        h = self.position(self.embed(x))
        mask = causal_mask(x.shape[1])
        for block in self.blocks:
            h = block(h, src_mask=mask)
        return self.readout(self.norm(h))


def causal_mask(size: int) -> Tensor:
    """(size, size) bool, True above the diagonal: position t may not attend to positions after t (lesson 12)."""
    return tensor(np.triu(np.ones((size, size), dtype=bool), k=1))


class LSTMLanguageModel(nn.Module):
    """A word-level language model: token ids (N, T) -> next-token scores (N, T, vocab_size).

    An embedding (vocab_size -> embed), one batch-first LSTM layer (embed -> hidden) and a linear head
    (hidden -> vocab_size) applied at every position: PyTorch's word_language_model example with one layer
    and no dropout. The benchmark ``train_lstm_lm`` trains it with cross-entropy over all positions.
    """

    def __init__(self, vocab_size: int = 1000, embed: int = 64, hidden: int = 128) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed)
        self.lstm = nn.LSTM(embed, hidden, batch_first=True)
        self.head = nn.Linear(hidden, vocab_size)

    def forward(self, tokens: Tensor) -> Tensor:
        output, _ = self.lstm(self.embed(tokens))  # (N, T, hidden)
        return self.head(output)
