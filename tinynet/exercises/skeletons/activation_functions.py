"""Exercise `activation_functions` (lesson 03_activations_and_losses): sigmoid, tanh and ReLU as autograd Functions.

Each is a `tn.autograd.Function`, written as in PyTorch: `forward(ctx, x)` gets a Tensor x (any shape) and returns
the output Tensor, of x's shape; `backward(ctx, grad)` gets grad = dL/d(output), of the output's shape, and returns
dL/dx = grad * d(output)/dx, elementwise (the chain rule: multiply by grad, do not replace it).
Keep what backward needs with `ctx.save_for_backward(...)` and read it back with `ctx.saved_tensors`.
Tensor methods (x.exp(), x.tanh(), x.clamp(min=0), (x > 0), ...) work inside, and so does NumPy on x.numpy()
(turn the result back into a Tensor with tn.tensor(...)).

Derive the derivatives first, in terms of the output where that is simpler:
    sigmoid(x) = 1 / (1 + exp(-x))                 d sigmoid/dx = ?   (in terms of s = sigmoid(x))
    tanh(x) = (exp(x) - exp(-x)) / (exp(x) + exp(-x))   d tanh/dx = ?   (in terms of t = tanh(x))
    relu(x) = max(x, 0)                            d relu/dx = ?   (take 0 at x = 0, as PyTorch does)
The forward must stay finite for any input (x = -1000 or 1000 too): mind exp overflowing.

Write the TODOs, then: tinynet exercises check activation_functions
"""

import tinynet as tn


class Sigmoid(tn.autograd.Function):
    @staticmethod
    def forward(ctx, x: tn.Tensor) -> tn.Tensor:
        # TODO: s = sigmoid(x); save what backward needs; return s.
        raise NotImplementedError("Sigmoid.forward: compute s = 1 / (1 + exp(-x)) and save it for backward")

    @staticmethod
    def backward(ctx, grad: tn.Tensor) -> tn.Tensor:
        # TODO: dL/dx from grad and what forward saved.
        raise NotImplementedError("Sigmoid.backward: return grad times d sigmoid/dx")


class Tanh(tn.autograd.Function):
    @staticmethod
    def forward(ctx, x: tn.Tensor) -> tn.Tensor:
        # TODO: t = tanh(x) (finite for large |x|); save what backward needs; return t.
        raise NotImplementedError("Tanh.forward: compute t = tanh(x) and save it for backward")

    @staticmethod
    def backward(ctx, grad: tn.Tensor) -> tn.Tensor:
        # TODO: dL/dx from grad and what forward saved.
        raise NotImplementedError("Tanh.backward: return grad times d tanh/dx")


class ReLU(tn.autograd.Function):
    @staticmethod
    def forward(ctx, x: tn.Tensor) -> tn.Tensor:
        # TODO: max(x, 0); save what backward needs; return it.
        raise NotImplementedError("ReLU.forward: compute max(x, 0) and save what backward needs")

    @staticmethod
    def backward(ctx, grad: tn.Tensor) -> tn.Tensor:
        # TODO: dL/dx: grad where x > 0, 0 elsewhere.
        raise NotImplementedError("ReLU.backward: return grad where x > 0 and 0 elsewhere")


# Given: the functions a model calls (Function.apply records the op for backward).
def sigmoid(x: tn.Tensor) -> tn.Tensor:
    return Sigmoid.apply(x)


def tanh(x: tn.Tensor) -> tn.Tensor:
    return Tanh.apply(x)


def relu(x: tn.Tensor) -> tn.Tensor:
    return ReLU.apply(x)
