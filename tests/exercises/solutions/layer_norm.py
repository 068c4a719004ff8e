"""Reference solution of exercise `layer_norm` (must pass every part)."""

import numpy as np

import tinynet as tn


class LayerNorm(tn.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias, eps):
        xs, w, b = x.detach().numpy(), weight.detach().numpy(), bias.detach().numpy()
        axes = tuple(range(xs.ndim - w.ndim, xs.ndim))
        mean = xs.mean(axis=axes, keepdims=True)
        var = ((xs - mean) ** 2).mean(axis=axes, keepdims=True)
        rstd = 1 / np.sqrt(var + eps)
        xhat = (xs - mean) * rstd
        ctx.xhat, ctx.rstd, ctx.w, ctx.axes = xhat, rstd, w, axes
        return tn.from_numpy(xhat * w + b)

    @staticmethod
    def backward(ctx, grad):
        g = grad.numpy()
        xhat, rstd, w, axes = ctx.xhat, ctx.rstd, ctx.w, ctx.axes
        leading = tuple(range(g.ndim - w.ndim))
        dbias = g.sum(axis=leading)
        dweight = (g * xhat).sum(axis=leading)
        dxhat = g * w
        dx = rstd * (
            dxhat - dxhat.mean(axis=axes, keepdims=True) - xhat * (dxhat * xhat).mean(axis=axes, keepdims=True)
        )
        return tn.from_numpy(dx), tn.from_numpy(dweight), tn.from_numpy(dbias), None


def layer_norm(x, normalized_shape, weight, bias, eps=1e-5):
    return LayerNorm.apply(x, weight, bias, eps)
