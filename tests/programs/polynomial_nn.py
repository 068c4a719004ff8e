"""Fit y = sin(x) with nn.Linear on the features (x, x^2, x^3) ("Learning PyTorch with Examples": nn and optim).

Written as a PyTorch user writes it; the only tinynet-specific line is the import.
Run: python tests/programs/polynomial_nn.py
"""

import math

import tinynet as torch


def make_model() -> torch.nn.Module:
    return torch.nn.Sequential(torch.nn.Linear(3, 1), torch.nn.Flatten(0, 1))


def train(model: torch.nn.Module, steps: int = 30) -> list[float]:
    """RMSprop on a summed squared error; returns the loss at each step."""
    x = torch.linspace(-math.pi, math.pi, 200)
    y = torch.sin(x)
    p = torch.tensor([1, 2, 3])
    xx = x.unsqueeze(-1).pow(p)  # (200, 3): x, x^2, x^3

    loss_fn = torch.nn.MSELoss(reduction="sum")
    optimizer = torch.optim.RMSprop(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(steps):
        y_pred = model(xx)
        loss = loss_fn(y_pred, y)
        losses.append(loss.item())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return losses


def main() -> None:
    torch.manual_seed(0)
    model = make_model()
    losses = train(model, steps=2000)
    print(f"loss {losses[0]:.2f} -> {losses[-1]:.2f}")
    linear_layer = model[0]
    b, (w1, w2, w3) = linear_layer.bias.item(), linear_layer.weight[0].tolist()
    print(f"Result: y = {b} + {w1} x + {w2} x^2 + {w3} x^3")


if __name__ == "__main__":
    main()
