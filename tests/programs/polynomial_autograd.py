"""Fit y = sin(x) with P3(c + d x), a custom autograd.Function ("Learning PyTorch with Examples": autograd).

Written as a PyTorch user writes it; the only tinynet-specific line is the import.
Run: python tests/programs/polynomial_autograd.py
"""

import math

import tinynet as torch

dtype = torch.float


class LegendrePolynomial3(torch.autograd.Function):
    """P3(x) = (5 x^3 - 3 x) / 2, with its gradient written by hand."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return 0.5 * (5 * x**3 - 3 * x)

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return grad_output * 1.5 * (5 * x**2 - 1)


def make_model() -> dict:
    """y = a + b * P3(c + d x): the coefficients start near the answer so plain SGD converges."""
    return {
        "a": torch.full((), 0.0, dtype=dtype, requires_grad=True),
        "b": torch.full((), -1.0, dtype=dtype, requires_grad=True),
        "c": torch.full((), 0.0, dtype=dtype, requires_grad=True),
        "d": torch.full((), 0.3, dtype=dtype, requires_grad=True),
    }


def train(model: dict, steps: int = 30) -> list[float]:
    """SGD with autograd computing the gradients; the update runs under no_grad, in place."""
    x = torch.linspace(-math.pi, math.pi, 200, dtype=dtype)
    y = torch.sin(x)
    a, b, c, d = model["a"], model["b"], model["c"], model["d"]
    learning_rate = 5e-6
    losses = []
    for _ in range(steps):
        P3 = LegendrePolynomial3.apply
        y_pred = a + b * P3(c + d * x)
        loss = (y_pred - y).pow(2).sum()
        losses.append(loss.item())
        loss.backward()

        with torch.no_grad():
            a -= learning_rate * a.grad
            b -= learning_rate * b.grad
            c -= learning_rate * c.grad
            d -= learning_rate * d.grad
            a.grad = None
            b.grad = None
            c.grad = None
            d.grad = None
    return losses


def main() -> None:
    model = make_model()
    losses = train(model, steps=2000)
    print(f"loss {losses[0]:.2f} -> {losses[-1]:.2f}")
    a, b, c, d = (model[k].item() for k in "abcd")
    print(f"Result: y = {a} + {b} * P3({c} + {d} x)")


if __name__ == "__main__":
    main()
