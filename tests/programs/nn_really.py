"""A small CNN on MNIST-like digits, built up as in "What is torch.nn really?" (TensorDataset, DataLoader, fit).

The images are synthetic (made here with NumPy: no download). The only tinynet-specific lines are the
imports. Run: python tests/programs/nn_really.py
"""

import numpy as np

import tinynet as torch
import tinynet.nn.functional as F
from tinynet import nn, optim
from tinynet.utils.data import DataLoader, TensorDataset

bs = 16  # batch size
lr = 0.1


def make_digits(n: int, seed: int) -> tuple:
    """n flattened 28x28 images of 10 classes: class k is a stripe pattern at angle k * 18 degrees, plus noise."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 10, n)
    i, j = np.meshgrid(np.arange(28), np.arange(28), indexing="ij")
    angle = y[:, None, None] * np.pi / 10
    x = np.cos(1.5 * (i * np.cos(angle) + j * np.sin(angle))) + rng.normal(0.0, 0.3, (n, 28, 28))
    return torch.from_numpy(x.reshape(n, 784).astype(np.float32)), torch.from_numpy(y)


class Lambda(nn.Module):
    def __init__(self, func):
        super().__init__()
        self.func = func

    def forward(self, x):
        return self.func(x)


def preprocess(x, y):
    return x.view(-1, 1, 28, 28), y


class WrappedDataLoader:
    """Applies `func` to every batch of `dl`."""

    def __init__(self, dl, func):
        self.dl = dl
        self.func = func

    def __len__(self):
        return len(self.dl)

    def __iter__(self):
        for b in self.dl:
            yield self.func(*b)


def get_data(train_ds, valid_ds, bs):
    # No shuffling: the batches are the same on every run (the tutorial shuffles the training set).
    return DataLoader(train_ds, batch_size=bs), DataLoader(valid_ds, batch_size=bs * 2)


def make_model() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 8, kernel_size=3, stride=2, padding=1),
        nn.ReLU(),
        nn.Conv2d(8, 8, kernel_size=3, stride=2, padding=1),
        nn.ReLU(),
        nn.Conv2d(8, 10, kernel_size=3, stride=2, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        Lambda(lambda x: x.view(x.size(0), -1)),
    )


def loss_batch(model, loss_func, xb, yb, opt=None):
    loss = loss_func(model(xb), yb)
    if opt is not None:
        loss.backward()
        opt.step()
        opt.zero_grad()
    return loss.item(), len(xb)


def fit(epochs, model, loss_func, opt, train_dl, valid_dl) -> list[float]:
    """Trains; returns the validation loss after each epoch."""
    losses = []
    for epoch in range(epochs):
        model.train()
        for xb, yb in train_dl:
            loss_batch(model, loss_func, xb, yb, opt)

        model.eval()
        with torch.no_grad():
            batch_losses, nums = zip(*[loss_batch(model, loss_func, xb, yb) for xb, yb in valid_dl])
        val_loss = np.sum(np.multiply(batch_losses, nums)) / np.sum(nums)
        print(epoch, val_loss)
        losses.append(float(val_loss))
    return losses


def train(model: nn.Module, steps: int = 5) -> list[float]:
    """`steps` epochs over 64 training images; returns the validation loss after each."""
    x_train, y_train = make_digits(64, seed=0)
    x_valid, y_valid = make_digits(64, seed=1)
    train_ds = TensorDataset(x_train, y_train)
    valid_ds = TensorDataset(x_valid, y_valid)
    train_dl, valid_dl = get_data(train_ds, valid_ds, bs)
    train_dl = WrappedDataLoader(train_dl, preprocess)
    valid_dl = WrappedDataLoader(valid_dl, preprocess)
    opt = optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    return fit(steps, model, F.cross_entropy, opt, train_dl, valid_dl)


def main() -> None:
    torch.manual_seed(0)
    losses = train(make_model(), steps=20)
    print(f"loss {losses[0]:.4f} -> {losses[-1]:.4f}")


if __name__ == "__main__":
    main()
