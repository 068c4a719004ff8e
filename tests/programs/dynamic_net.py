"""A network whose depth is chosen at random on every forward pass ("Learning PyTorch with Examples": dynamic nets).

Python's `random` picks the depth, so the same seed gives the same graph on any library. The only
tinynet-specific line is the import. Run: python tests/programs/dynamic_net.py
"""

import math
import random

import tinynet as torch


class DynamicNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.a = torch.nn.Parameter(torch.randn(()))
        self.b = torch.nn.Parameter(torch.randn(()))
        self.c = torch.nn.Parameter(torch.randn(()))
        self.d = torch.nn.Parameter(torch.randn(()))
        self.e = torch.nn.Parameter(torch.randn(()))

    def forward(self, x):
        """a + b x + c x^2 + d x^3, then e x^4 and maybe e x^5: the same parameter reused."""
        y = self.a + self.b * x + self.c * x**2 + self.d * x**3
        for exp in range(4, random.randint(4, 6)):
            y = y + self.e * x**exp
        return y


def make_model() -> torch.nn.Module:
    return DynamicNet()


def train(model: torch.nn.Module, steps: int = 30) -> list[float]:
    """SGD with momentum; the graph changes every step."""
    random.seed(0)
    x = torch.linspace(-math.pi, math.pi, 200)
    y = torch.sin(x)
    criterion = torch.nn.MSELoss(reduction="sum")
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-8, momentum=0.9)
    losses = []
    for _ in range(steps):
        y_pred = model(x)
        loss = criterion(y_pred, y)
        losses.append(loss.item())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return losses


def main() -> None:
    torch.manual_seed(0)
    model = make_model()
    losses = train(model, steps=500)
    print(f"loss {losses[0]:.2f} -> {losses[-1]:.2f}")


if __name__ == "__main__":
    main()
