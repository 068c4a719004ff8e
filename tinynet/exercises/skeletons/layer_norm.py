"""Exercise `layer_norm` (lesson 13_transformer): layer norm forward, and its backward written by hand.

Layer norm normalizes each row of x over its last dims - those of weight's shape, normalized_shape, D values
in all - then scales and shifts them (weight and bias have normalized_shape's shape):

    mean = the mean of the row's D values          var = the mean of (x - mean)^2 over them (biased: / D)
    xhat = (x - mean) / sqrt(var + eps)             out = xhat * weight + bias

Shapes: x (*, *normalized_shape), e.g. (B, T, C) with normalized_shape (C,); out like x; weight, bias
normalized_shape.

Backward, given grad = dL/dout (x's shape). dL/dbias and dL/dweight have normalized_shape's shape: what
happens to the leading (batch) axes? For dL/dx, let dxhat = grad * weight. Mean and var depend on every x of
the row, so dL/dx is not just dxhat / sqrt(var + eps): derive it. The result has the form

    dL/dx = (dxhat - <a mean over the row> - xhat * <another mean over the row>) / sqrt(var + eps)

NumPy inside is fine: x.detach().numpy() to get an array, tn.from_numpy(array) to make a Tensor (it keeps the
dtype: tn.tensor would make float64 float32). Write the TODOs, then: tinynet exercises check layer_norm
"""

import numpy as np

import tinynet as tn


class LayerNorm(tn.autograd.Function):
    @staticmethod
    def forward(ctx, x: tn.Tensor, weight: tn.Tensor, bias: tn.Tensor, eps: float) -> tn.Tensor:
        """x (*, *normalized_shape), weight and bias (*normalized_shape) -> out, x's shape."""
        # TODO: the axes to normalize over (the last weight.ndim ones), mean, the biased var, xhat, out; save what
        # backward needs on ctx.
        raise NotImplementedError("LayerNorm.forward: mean, biased variance, xhat, then weight and bias")

    @staticmethod
    def backward(ctx, grad: tn.Tensor) -> tuple:
        """grad (x's shape) -> (dL/dx, dL/dweight, dL/dbias, None): each of its input's shape (None for eps)."""
        # TODO: dL/dbias, dL/dweight (think about the leading axes), then dL/dx as you derived it.
        raise NotImplementedError("LayerNorm.backward: dL/dbias, dL/dweight and your formula for dL/dx")


# Given: PyTorch's signature (F.layer_norm), with weight and bias required here (normalized_shape is their shape).
def layer_norm(
    x: tn.Tensor, normalized_shape: tuple, weight: tn.Tensor, bias: tn.Tensor, eps: float = 1e-5
) -> tn.Tensor:
    return LayerNorm.apply(x, weight, bias, eps)
