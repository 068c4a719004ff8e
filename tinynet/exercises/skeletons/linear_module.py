"""Exercise `linear_module` (lesson 07_mlp_digits): nn.Linear, from its parameters to its gradients.

Linear(in_features, out_features, bias=True) maps x (..., in_features) -> y (..., out_features):
    y = x @ weight.T + bias          weight (out_features, in_features), bias (out_features,)
for any number of leading axes (a single sample (in,), a batch (N, in), a sequence batch (B, T, in), ...).

1. LinearFunction, a tn.autograd.Function (forward and backward take and return Tensors). Derive the backward
   from grad = dL/dy, (..., out):
       dL/dx      = grad @ weight                                         (..., in)
       dL/dweight = grad^T @ x, summed over every leading position:       (out, in)
                    flatten the leading axes first: grad to (-1, out), x to (-1, in)
       dL/dbias   = grad summed over every leading axis                   (out,)
                    (the bias was broadcast to every position, so its gradient adds up over them)
   bias may be None (Linear(..., bias=False)): then the output has no bias and its gradient is None.
2. Linear, an nn.Module: weight and bias are nn.Parameter (so that model.parameters() lists them and an optimizer
   trains them), initialised as PyTorch does: every value uniform in [-k, k], k = 1 / sqrt(in_features)
   (tn.empty(...).uniform_(-k, k), or tn.rand, or nn.init.uniform_), in the default dtype (float32).

Write the TODOs, then: tinynet exercises check linear_module
"""

import math

import tinynet as tn
from tinynet import nn


class LinearFunction(tn.autograd.Function):
    @staticmethod
    def forward(ctx, x: tn.Tensor, weight: tn.Tensor, bias: tn.Tensor | None) -> tn.Tensor:
        """x (..., in), weight (out, in), bias (out,) or None -> x @ weight.T + bias, (..., out)."""
        # TODO: save what backward needs; return the output.
        raise NotImplementedError("LinearFunction.forward: x @ weight.T + bias (no bias when it is None)")

    @staticmethod
    def backward(ctx, grad: tn.Tensor):
        """grad (..., out) -> (dL/dx (..., in), dL/dweight (out, in), dL/dbias (out,) or None)."""
        # TODO: the three gradients of the docstring above, each of its input's shape.
        raise NotImplementedError("LinearFunction.backward: return dL/dx, dL/dweight, dL/dbias")


class Linear(nn.Module):
    def __init__(self, in_features: int, out_features: int, bias: bool = True) -> None:
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        # TODO: self.weight (out_features, in_features) and self.bias (out_features,) as nn.Parameter, uniform in
        # [-k, k] with k = 1 / sqrt(in_features); self.bias = None when bias is False.
        raise NotImplementedError("Linear.__init__: self.weight and self.bias as nn.Parameter, U(-k, k)")

    # Given: the module calls the Function on its parameters.
    def forward(self, x: tn.Tensor) -> tn.Tensor:
        return LinearFunction.apply(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"
