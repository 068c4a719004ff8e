"""A convolutional digit classifier in the style of pytorch/examples' MNIST (Adadelta, StepLR, save state_dict).

The 12x12 images are synthetic (made here with NumPy: no download). The only tinynet-specific lines are
the imports. Run: python tests/programs/mnist_cnn.py
"""

import os
import tempfile

import numpy as np

import tinynet as torch
import tinynet.nn as nn
import tinynet.nn.functional as F
import tinynet.optim as optim
from tinynet.optim.lr_scheduler import StepLR
from tinynet.utils.data import DataLoader, TensorDataset


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, 3, 1)
        self.conv2 = nn.Conv2d(4, 8, 3, 1)
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(8 * 4 * 4, 32)
        self.fc2 = nn.Linear(32, 10)

    def forward(self, x):
        x = self.conv1(x)  # (N, 4, 10, 10)
        x = F.relu(x)
        x = self.conv2(x)  # (N, 8, 8, 8)
        x = F.relu(x)
        x = F.max_pool2d(x, 2)  # (N, 8, 4, 4)
        x = self.dropout1(x)
        x = torch.flatten(x, 1)
        x = self.fc1(x)
        x = F.relu(x)
        x = self.dropout2(x)
        x = self.fc2(x)
        return F.log_softmax(x, dim=1)


def make_digits(n: int, seed: int) -> TensorDataset:
    """n images (N, 1, 12, 12) of 10 classes: class k lights pixel block k of a 2x5 grid, plus noise."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 10, n)
    x = rng.normal(0.0, 0.5, (n, 1, 12, 12)).astype(np.float32)
    for i, label in enumerate(y):
        row, col = divmod(int(label), 5)
        x[i, 0, 6 * row : 6 * row + 4, 2 * col + 1 : 2 * col + 3] += 2.0
    return TensorDataset(torch.from_numpy(x), torch.from_numpy(y))


def train_epoch(model, device, train_loader, optimizer, losses):
    model.train()
    for data, target in train_loader:
        data, target = data.to(device), target.to(device)
        optimizer.zero_grad()
        output = model(data)
        loss = F.nll_loss(output, target)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())


def test(model, device, test_loader):
    model.eval()
    test_loss = 0
    correct = 0
    with torch.no_grad():
        for data, target in test_loader:
            data, target = data.to(device), target.to(device)
            output = model(data)
            test_loss += F.nll_loss(output, target, reduction="sum").item()
            pred = output.argmax(dim=1, keepdim=True)
            correct += pred.eq(target.view_as(pred)).sum().item()
    test_loss /= len(test_loader.dataset)
    print(f"Test set: Average loss: {test_loss:.4f}, Accuracy: {correct}/{len(test_loader.dataset)}")
    return test_loss


def make_model() -> nn.Module:
    return Net()


def train(model: nn.Module, steps: int = 6) -> list[float]:
    """Two epochs of `steps // 2` batches with the learning rate decayed between them; saves the weights."""
    device = torch.device("cpu")
    model = model.to(device)
    train_loader = DataLoader(make_digits(16 * (steps // 2), seed=0), batch_size=16)
    test_loader = DataLoader(make_digits(32, seed=1), batch_size=32)
    optimizer = optim.Adadelta(model.parameters(), lr=1.0)
    scheduler = StepLR(optimizer, step_size=1, gamma=0.7)
    losses = []
    for _epoch in range(2):
        train_epoch(model, device, train_loader, optimizer, losses)
        test(model, device, test_loader)
        scheduler.step()
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "mnist_cnn.pt")
        torch.save(model.state_dict(), path)
        reloaded = Net()
        reloaded.load_state_dict(torch.load(path))
        assert torch.equal(reloaded.fc2.weight, model.fc2.weight)
    return losses


def main() -> None:
    torch.manual_seed(1)
    losses = train(make_model(), steps=20)
    print(f"loss {losses[0]:.4f} -> {losses[-1]:.4f}")


if __name__ == "__main__":
    main()
