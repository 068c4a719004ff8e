"""Fit y = sin(x) with a cubic, computing the gradients by hand ("Learning PyTorch with Examples": tensors).

Written as a PyTorch user writes it; the only tinynet-specific line is the import.
Run: python tests/programs/polynomial_manual.py
"""

import math

import tinynet as torch

dtype = torch.float


def make_model() -> dict:
    """The four coefficients a + b x + c x^2 + d x^3, random scalars."""
    return {name: torch.randn((), dtype=dtype) for name in "abcd"}


def train(model: dict, steps: int = 30) -> list[float]:
    """Gradient descent with the gradients written out by hand; returns the loss at each step."""
    x = torch.linspace(-math.pi, math.pi, 200, dtype=dtype)
    y = torch.sin(x)
    a, b, c, d = model["a"], model["b"], model["c"], model["d"]
    learning_rate = 1e-5
    losses = []
    for _ in range(steps):
        y_pred = a + b * x + c * x**2 + d * x**3
        loss = (y_pred - y).pow(2).sum().item()
        losses.append(loss)

        # d(loss)/d(y_pred), then the chain rule for each coefficient
        grad_y_pred = 2.0 * (y_pred - y)
        grad_a = grad_y_pred.sum()
        grad_b = (grad_y_pred * x).sum()
        grad_c = (grad_y_pred * x**2).sum()
        grad_d = (grad_y_pred * x**3).sum()

        a -= learning_rate * grad_a
        b -= learning_rate * grad_b
        c -= learning_rate * grad_c
        d -= learning_rate * grad_d
    return losses


def main() -> None:
    torch.manual_seed(0)
    model = make_model()
    losses = train(model, steps=2000)
    print(f"loss {losses[0]:.2f} -> {losses[-1]:.2f}")
    a, b, c, d = (model[k].item() for k in "abcd")
    print(f"Result: y = {a} + {b} x + {c} x^2 + {d} x^3")


if __name__ == "__main__":
    main()
