"""The convolution ops (Functions) behind conv1d/2d/3d and conv_transpose1d/2d/3d (in ``conv``, which checks the
arguments). The kernels (im2col + matmul) come from the backend table.

Only 2-D kernels exist, so every op is made of them: a 1-D op runs them on a unit-height image (N, C, 1, L),
a 3-D op runs them once per kernel depth tap on the depth slices it touches (a backend that speeds up conv2d
speeds up all six). Groups split the channels and call the kernels once per group; conv1d and conv2d with one input
channel per group (depthwise) have kernels of their own. conv2d's kernels add the bias
and sum its gradient for one group (the numba kernels while the rows are in their cache); the other ops add it here.
"""

import math

from kernels.numpy_ref import array_module
from kernels.windows import output_size
from tinynet import backend
from tinynet.autograd import Function


def _grouped(kernel, groups: int, x, weight, *geometry):
    """``kernel`` (forward, no groups) on each group's channels: x split along dim 1, weight along dim 0, the
    outputs joined along dim 1. Holds for convolutions and transposed ones alike."""
    if groups == 1:
        return kernel(x, weight, *geometry)
    return _per_group(kernel, groups, x, weight, *geometry)


def _per_group(kernel, groups: int, x, weight, *geometry):
    """_grouped's split, for groups > 1."""
    xp = array_module(x)
    pairs = zip(xp.split(x, groups, axis=1), xp.split(weight, groups, axis=0))
    return xp.concatenate([kernel(*map(xp.ascontiguousarray, pair), *geometry) for pair in pairs], axis=1)


def _grouped_backward(kernel, groups: int, grad, x, weight, *geometry, **options):
    """(grad_x, grad_w) from a backward ``kernel``, one call per group as in ``_grouped``. options go to the
    kernel (conv2d_backward's input_grad=False: grad_x is None)."""
    if groups == 1:
        return kernel(grad, x, weight, *geometry, **options)
    xp = array_module(x)
    triples = zip(xp.split(grad, groups, axis=1), xp.split(x, groups, axis=1), xp.split(weight, groups, axis=0))
    parts = [kernel(*map(xp.ascontiguousarray, triple), *geometry, **options) for triple in triples]
    grad_x = None if parts[0][0] is None else xp.concatenate([p[0] for p in parts], axis=1)
    return grad_x, xp.concatenate([p[1] for p in parts], axis=0)


def _with_bias(out, bias):
    """out + bias per channel (axis 1). out is the kernels' fresh result, owned here: added in place when that
    keeps its dtype, which spares a new array as large as the output (1.3x faster, measured on (64, 32, 26, 26)).
    The bias is spread over a whole sample's row first (each channel's value repeated over its pixels): adding a
    (O,) bias along axis 1 made NumPy loop over rows of the pixels alone, 5 numbers for the MNIST-1D CNN's
    last layer (7.0 us a call, against 3.9 with the spread row; timeit, warm)."""
    if bias is None:
        return out
    row = array_module(out).repeat(bias, math.prod(out.shape[2:]))
    rows = (out.shape[0], row.size)  # (not -1: an empty batch has no size to divide)
    if out.dtype != bias.dtype or not out.flags.c_contiguous:  # PyTorch's dtype rules were checked: the sum's
        return (out.reshape(rows) + row).reshape(out.shape)  # dtype is out's or wider
    out.reshape(rows)[...] += row
    return out


def _grads(ctx, grad, input_weight_grads):
    """(grad_x, grad_w, grad_bias) of a convolution, each None where it is not needed. input_weight_grads(grad,
    x, weight, need_x, need_b) -> (grad_x, grad_w, grad_b); it may skip grad_x (None) when need_x is False, and
    give grad_b (conv2d_backward's, with bias_grad=True) or None: then it is summed here."""
    x, weight = ctx.saved
    need_x, need_w, need_b = ctx.needs_input_grad[:3]
    grad_x = grad_w = grad_b = None
    if need_x or need_w:
        grad_x, grad_w, grad_b = input_weight_grads(grad, x, weight, need_x, need_b)
    if need_b and grad_b is None:  # the batch axis first: whole contiguous planes add up (7x faster than one sum)
        grad_b = grad.sum(axis=0).reshape(grad.shape[1], -1).sum(axis=1)
    return (grad_x if need_x else None), (grad_w if need_w else None), (grad_b if need_b else None)


def _depthwise(groups: int, weight) -> bool:
    """Whether a grouped convolution is depthwise: one input channel per group (its own kernels, see
    kernels/numpy_ref/depthwise.py)."""
    return groups > 1 and weight.shape[1] == 1


def _forward_with_bias(kernel, groups: int, x, weight, bias, *geometry):
    """conv2d_forward's output plus the bias: added by the kernel for one group (the numba kernels add it while the
    output is in their cache; NumPy's add after them cost 4 us of the MNIST-1D CNN's 25 us layers), else here."""
    if groups == 1:
        return kernel(x, weight, *geometry, bias=bias)
    if _depthwise(groups, weight):
        return _with_bias(backend.for_arrays(x, weight).depthwise_conv2d_forward(x, weight, *geometry), bias)
    return _with_bias(_per_group(kernel, groups, x, weight, *geometry), bias)


def _backward_with_bias(kernel, groups: int, grad, x, weight, *geometry, need_x: bool, need_b: bool):
    """(grad_x, grad_w, grad_b) by conv2d_backward: grad_b from the kernel for one group, else None (see _grads)."""
    if groups == 1:
        grads = kernel(grad, x, weight, *geometry, input_grad=need_x, bias_grad=need_b)
        return grads if need_b else (*grads, None)
    if _depthwise(groups, weight):
        depthwise = backend.for_arrays(grad, x, weight).depthwise_conv2d_backward
        return (*depthwise(grad, x, weight, *geometry, input_grad=need_x), None)
    return (*_grouped_backward(kernel, groups, grad, x, weight, *geometry, input_grad=need_x), None)


def _unit_height(*arrays):
    """(N, C, L) -> (N, C, 1, L) views: a sequence is an image of height 1."""
    return tuple(a[:, :, None, :] for a in arrays)


class Conv2d(Function):
    """2-D convolution (cross-correlation) plus a bias per output channel, channels split into groups.

    forward:    out[n, o] = Σ_c,i,j w[o, c, i, j] x_pad[n, g·C/G + c, oh·s + i·d, ow·s + j·d] + b[o] (g: o's
                group); as matrices, per group, out[n] = W cols[n] (im2col)
    derivative: dL/dx = col2im(Wᵀ dL/dout), dL/dW = Σ_n dL/dout[n] cols[n]ᵀ (per group), dL/db = Σ dL/dout over
                (n, oh, ow)
    kernels:    conv2d_forward, conv2d_backward; depthwise_conv2d_forward, depthwise_conv2d_backward (one input
                channel per group)
    """

    @staticmethod
    def forward(ctx, x, weight, bias, stride, padding, dilation, groups=1):
        ctx.save_for_backward(x, weight)
        ctx.geometry, ctx.groups = (stride, padding, dilation), groups
        kernel = backend.for_arrays(x, weight, bias).conv2d_forward
        return _forward_with_bias(kernel, groups, x, weight, bias, *ctx.geometry)

    @staticmethod
    def backward(ctx, grad):
        def input_weight_grads(grad, x, weight, need_x, need_b):
            kernel = backend.for_arrays(grad, x, weight).conv2d_backward
            options = dict(need_x=need_x, need_b=need_b)
            return _backward_with_bias(kernel, ctx.groups, grad, x, weight, *ctx.geometry, **options)

        return (*_grads(ctx, grad, input_weight_grads), None, None, None, None)


class Conv1d(Function):
    """conv2d's kernels on sequences seen as images of height 1: (N, C, L) -> (N, C, 1, L), views both ways.

    One op in the graph rather than conv2d between reshapes, which saves a learner's trace three lines and a
    small model's training step the overhead of six ops per layer.

    forward:    conv2d's on (N, C, 1, L): out[n, o, l] = Σ_c,k w[o, c, k] x_pad[n, c, l·s + k·d] + b[o] (per group)
    derivative: conv2d's, with the unit height dropped again
    kernels:    conv2d_forward, conv2d_backward; depthwise_conv2d_forward, depthwise_conv2d_backward (one input
                channel per group)
    """

    @staticmethod
    def forward(ctx, x, weight, bias, stride, padding, dilation, groups=1):
        ctx.save_for_backward(*_unit_height(x, weight))
        ctx.geometry, ctx.groups = ((1, *stride), (0, *padding), (1, *dilation)), groups
        kernel = backend.for_arrays(x, weight, bias).conv2d_forward
        return _forward_with_bias(kernel, groups, *ctx.saved, bias, *ctx.geometry)[:, :, 0, :]

    @staticmethod
    def backward(ctx, grad):
        def input_weight_grads(grad, x, weight, need_x, need_b):
            kernel = backend.for_arrays(grad, x, weight).conv2d_backward
            options = dict(need_x=need_x, need_b=need_b)
            grad_x, grad_w, grad_b = _backward_with_bias(
                kernel, ctx.groups, grad[:, :, None, :], x, weight, *ctx.geometry, **options
            )
            return (grad_x[:, :, 0, :] if need_x else None), grad_w[:, :, 0, :], grad_b

        return (*_grads(ctx, grad, input_weight_grads), None, None, None, None)


def _depth_slices(start: int, step: int, count: int) -> tuple:
    """The index of ``count`` depth slices, ``step`` apart from ``start``, of a (N, C, D, H, W) array."""
    return (slice(None), slice(None), slice(start, start + step * (count - 1) + 1, step))


def _as_images(volume):
    """(N, C, D, H, W) -> (N * D, C, H, W): each depth slice an image of the batch."""
    xp = array_module(volume)
    n, c, d, h, w = volume.shape
    return xp.ascontiguousarray(xp.moveaxis(volume, 2, 1)).reshape(n * d, c, h, w)


def _as_volume(images, n: int, depth: int):
    """(N * D, C, H, W) -> (N, C, D, H, W), the inverse of ``_as_images``."""
    return array_module(images).moveaxis(images.reshape(n, depth, *images.shape[1:]), 1, 2)


def _pad_depth(x, before: int, after: int):
    if not (before or after):
        return x
    xp = array_module(x)
    padded = xp.zeros((*x.shape[:2], x.shape[2] + before + after, *x.shape[3:]), dtype=x.dtype)
    padded[:, :, before : before + x.shape[2]] = x
    return padded


class Conv3d(Function):
    """3-D convolution plus a bias: a sum of 2-D convolutions, one per kernel depth tap kd, each over the depth
    slices that tap reads (as a batch of images).

    forward:    out[n, :, od] = Σ_kd conv2d(x_pad[n, :, od·s + kd·d], w[:, :, kd]) + b (per group)
    derivative: each tap's conv2d gradients: dL/dW[:, :, kd], and dL/dx added back onto the slices it read
    kernels:    conv2d_forward, conv2d_backward
    """

    @staticmethod
    def forward(ctx, x, weight, bias, stride, padding, dilation, groups=1):
        ctx.save_for_backward(x, weight)
        ctx.geometry, ctx.groups = (stride, padding, dilation), groups
        (sd, *sizes), (pd, *pads), (dd, *dils) = stride, padding, dilation
        depth = output_size(x.shape[2:3], weight.shape[2:3], (sd,), (pd,), (dd,))[0]
        padded = _pad_depth(x, pd, pd)
        out = 0
        for kd in range(weight.shape[2]):
            images = _as_images(padded[_depth_slices(kd * dd, sd, depth)])
            tap = array_module(x).ascontiguousarray(weight[:, :, kd])
            kernel = backend.for_arrays(x, weight, bias).conv2d_forward
            out = out + _grouped(kernel, groups, images, tap, sizes, pads, dils)
        return _with_bias(_as_volume(out, x.shape[0], depth), bias)

    @staticmethod
    def backward(ctx, grad):
        def input_weight_grads(grad, x, weight, _need_x, _need_b):  # both gradients, always; the bias's in _grads
            xp = array_module(x)
            (sd, *sizes), (pd, *pads), (dd, *dils) = ctx.geometry
            padded = _pad_depth(x, pd, pd)
            grad_padded, grad_w = xp.zeros_like(padded), xp.empty_like(weight)
            grad_images = _as_images(grad)
            for kd in range(weight.shape[2]):
                where = _depth_slices(kd * dd, sd, grad.shape[2])
                tap = xp.ascontiguousarray(weight[:, :, kd])
                kernel = backend.for_arrays(grad, x, weight).conv2d_backward
                gx, gw = _grouped_backward(
                    kernel, ctx.groups, grad_images, _as_images(padded[where]), tap, sizes, pads, dils
                )
                grad_padded[where] += _as_volume(gx, x.shape[0], grad.shape[2])
                grad_w[:, :, kd] = gw
            return grad_padded[:, :, pd : pd + x.shape[2]], grad_w, None

        return (*_grads(ctx, grad, input_weight_grads), None, None, None, None)


class ConvTranspose2d(Function):
    """2-D transposed convolution plus a bias: conv2d's input gradient, used as a layer (per group of channels).

    forward:    out[n] = col2im(Wᵀ x[n]) + b: each input pixel spreads w[c_in] over an output window
    derivative: dL/dx[n] = W im2col(dL/dout[n]) (a conv2d of dL/dout), dL/dW = Σ_n x[n] im2col(dL/dout[n])ᵀ, dL/db = Σ
                dL/dout over (n, h, w)
    kernels:    conv_transpose2d_forward, conv_transpose2d_backward
    """

    @staticmethod
    def forward(ctx, x, weight, bias, stride, padding, output_padding, dilation, groups=1):
        ctx.save_for_backward(x, weight)
        ctx.geometry, ctx.groups = (stride, padding, output_padding, dilation), groups
        out = _grouped(backend.for_arrays(x, weight, bias).conv_transpose2d_forward, groups, x, weight, *ctx.geometry)
        return _with_bias(out, bias)

    @staticmethod
    def backward(ctx, grad):
        def input_weight_grads(grad, x, weight, _need_x, _need_b):  # both gradients, always; the bias's in _grads
            kernel = backend.for_arrays(grad, x, weight).conv_transpose2d_backward
            return (*_grouped_backward(kernel, ctx.groups, grad, x, weight, *ctx.geometry), None)

        return (*_grads(ctx, grad, input_weight_grads), None, None, None, None, None)


class ConvTranspose1d(Function):
    """conv_transpose2d's kernels on sequences seen as images of height 1, as Conv1d does with conv2d's.

    forward:    conv_transpose2d's on (N, C, 1, L): each input step spreads w[c_in] over an output window, + b
    derivative: conv_transpose2d's, with the unit height dropped again
    kernels:    conv_transpose2d_forward, conv_transpose2d_backward
    """

    @staticmethod
    def forward(ctx, x, weight, bias, stride, padding, output_padding, dilation, groups=1):
        ctx.save_for_backward(*_unit_height(x, weight))
        ctx.geometry = ((1, *stride), (0, *padding), (0, *output_padding), (1, *dilation))
        ctx.groups = groups
        out = _grouped(backend.for_arrays(x, weight, bias).conv_transpose2d_forward, groups, *ctx.saved, *ctx.geometry)
        return _with_bias(out[:, :, 0, :], bias)

    @staticmethod
    def backward(ctx, grad):
        def input_weight_grads(grad, x, weight, _need_x, _need_b):  # both gradients, always; the bias's in _grads
            kernel = backend.for_arrays(grad, x, weight).conv_transpose2d_backward
            grad_x, grad_w = _grouped_backward(kernel, ctx.groups, grad[:, :, None, :], x, weight, *ctx.geometry)
            return grad_x[:, :, 0, :], grad_w[:, :, 0, :], None

        return (*_grads(ctx, grad, input_weight_grads), None, None, None, None, None)


class ConvTranspose3d(Function):
    """3-D transposed convolution plus a bias: per kernel depth tap kd, a 2-D transposed convolution of every
    input depth slice, added at depth d·s + kd·dilation of the output (before cropping the padding).

    forward:    out_full[n, :, d·s + kd·dil] += conv_transpose2d(x[n, :, d], w[:, :, kd]); out = out_full cropped
                by the padding, + b
    derivative: each tap's conv_transpose2d gradients on the depth slices of dL/dout it wrote to
    kernels:    conv_transpose2d_forward, conv_transpose2d_backward
    """

    @staticmethod
    def forward(ctx, x, weight, bias, stride, padding, output_padding, dilation, groups=1):
        ctx.save_for_backward(x, weight)
        ctx.geometry, ctx.groups = (stride, padding, output_padding, dilation), groups
        (sd, *sizes), (pd, *pads), (od, *out_pads), (dd, *dils) = ctx.geometry
        images, n, depth = _as_images(x), x.shape[0], x.shape[2]
        full = None
        for kd in range(weight.shape[2]):
            tap = array_module(x).ascontiguousarray(weight[:, :, kd])
            kernel = backend.for_arrays(x, weight, bias).conv_transpose2d_forward
            spread = _as_volume(_grouped(kernel, groups, images, tap, sizes, pads, out_pads, dils), n, depth)
            if full is None:  # the output's depth before cropping: (D - 1) s + dil (KD - 1) + 1 + output_padding
                length = (depth - 1) * sd + dd * (weight.shape[2] - 1) + 1 + od
                full = array_module(x).zeros((n, spread.shape[1], length, *spread.shape[3:]), dtype=spread.dtype)
            full[_depth_slices(kd * dd, sd, depth)] += spread
        return _with_bias(full[:, :, pd : full.shape[2] - pd], bias)

    @staticmethod
    def backward(ctx, grad):
        def input_weight_grads(grad, x, weight, _need_x, _need_b):  # both gradients, always; the bias's in _grads
            xp = array_module(x)
            (sd, *sizes), (pd, *pads), (_, *out_pads), (dd, *dils) = ctx.geometry
            images, depth = _as_images(x), x.shape[2]
            grad_full = _pad_depth(grad, pd, pd)
            grad_x, grad_w = 0, xp.empty_like(weight)
            for kd in range(weight.shape[2]):
                grad_images = _as_images(grad_full[_depth_slices(kd * dd, sd, depth)])
                tap = xp.ascontiguousarray(weight[:, :, kd])
                kernel = backend.for_arrays(grad, x, weight).conv_transpose2d_backward
                gx, gw = _grouped_backward(kernel, ctx.groups, grad_images, images, tap, sizes, pads, out_pads, dils)
                grad_x, grad_w[:, :, kd] = grad_x + gx, gw
            return _as_volume(grad_x, x.shape[0], depth), grad_w, None

        return (*_grads(ctx, grad, input_weight_grads), None, None, None, None, None)
