"""Reference solution of exercise `conv2d_im2col` (must pass every part)."""

import numpy as np

import tinynet as tn


def output_size(size, kernel, stride, padding):
    return (size + 2 * padding - kernel) // stride + 1


def im2col(x, kh, kw, stride, padding):
    n, c, h, w = x.shape
    oh, ow = output_size(h, kh, stride, padding), output_size(w, kw, stride, padding)
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    cols = np.zeros((n, c * kh * kw, oh * ow), dtype=x.dtype)
    for i in range(oh):
        for j in range(ow):
            window = xp[:, :, i * stride : i * stride + kh, j * stride : j * stride + kw]
            cols[:, :, i * ow + j] = window.reshape(n, -1)
    return cols


def col2im(cols, x_shape, kh, kw, stride, padding):
    n, c, h, w = x_shape
    oh, ow = output_size(h, kh, stride, padding), output_size(w, kw, stride, padding)
    xp = np.zeros((n, c, h + 2 * padding, w + 2 * padding), dtype=cols.dtype)
    for i in range(oh):
        for j in range(ow):
            window = cols[:, :, i * ow + j].reshape(n, c, kh, kw)
            xp[:, :, i * stride : i * stride + kh, j * stride : j * stride + kw] += window
    return xp[:, :, padding : padding + h, padding : padding + w]


class Conv2d(tn.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias, stride, padding):
        x_np, w_np, b_np = x.detach().numpy(), weight.detach().numpy(), bias.detach().numpy()
        n, _, h, w = x_np.shape
        c_out, _, kh, kw = w_np.shape
        oh, ow = output_size(h, kh, stride, padding), output_size(w, kw, stride, padding)
        cols = im2col(x_np, kh, kw, stride, padding)
        w2 = w_np.reshape(c_out, -1)
        out = w2 @ cols + b_np[:, None]
        ctx.cols, ctx.w2, ctx.shapes = cols, w2, (x_np.shape, w_np.shape)
        ctx.stride, ctx.padding = stride, padding
        return tn.from_numpy(out.reshape(n, c_out, oh, ow))

    @staticmethod
    def backward(ctx, grad):
        x_shape, w_shape = ctx.shapes
        g = grad.numpy().reshape(grad.shape[0], grad.shape[1], -1)
        db = g.sum(axis=(0, 2))
        dw = (g @ ctx.cols.transpose(0, 2, 1)).sum(axis=0).reshape(w_shape)
        dcols = ctx.w2.T @ g
        dx = col2im(dcols, x_shape, w_shape[2], w_shape[3], ctx.stride, ctx.padding)
        return tn.from_numpy(dx), tn.from_numpy(dw), tn.from_numpy(db), None, None


def conv2d(x, weight, bias, stride=1, padding=0):
    return Conv2d.apply(x, weight, bias, stride, padding)
