"""Convolutions: conv1d, conv2d, conv_transpose2d. The kernels (im2col + matmul) come from the backend table.

Only 2-D kernels exist: conv1d runs them on a unit-height image (N, C, 1, L), so a backend that speeds up
conv2d speeds up conv1d too. The bias is added here, not in the kernels.
"""

from kernels import windows
from tinynet import backend
from tinynet.autograd import Function
from tinynet.errors import ArgumentError, ShapeError
from tinynet.functions.windows import check_ndim, ntuple, output_size
from tinynet.tensor import Tensor


def _input_weight_bias_grads(ctx, grad, backward_kernel):
    """(grad_x, grad_w, grad_bias) of a convolution, each None where it is not needed."""
    x, weight = ctx.saved
    need_x, need_w, need_b = ctx.needs_input_grad[:3]
    grad_x = grad_w = None
    if need_x or need_w:
        grad_x, grad_w = backward_kernel(grad, x, weight, *ctx.geometry)
    # The batch axis first: whole contiguous planes add up (7x faster than one sum over axes (0, 2, 3)).
    grad_b = grad.sum(axis=0).sum(axis=(1, 2)) if need_b else None
    return (grad_x if need_x else None), (grad_w if need_w else None), grad_b


class Conv2d(Function):
    """2-D convolution (cross-correlation) plus a bias per output channel.

    forward:    out[n, o] = Σ_c,i,j w[o, c, i, j] x_pad[n, c, oh·s + i·d, ow·s + j·d] + b[o]; as matrices, out[n] = W
                cols[n] (im2col)
    derivative: dL/dx = col2im(Wᵀ dL/dout), dL/dW = Σ_n dL/dout[n] cols[n]ᵀ, dL/db = Σ dL/dout over (n, oh, ow)
    kernels:    conv2d_forward, conv2d_backward
    """

    @staticmethod
    def forward(ctx, x, weight, bias, stride, padding, dilation):
        ctx.save_for_backward(x, weight)
        ctx.geometry = (stride, padding, dilation)
        out = backend.active().conv2d_forward(x, weight, stride, padding, dilation)
        return out if bias is None else out + bias.reshape(-1, 1, 1)

    @staticmethod
    def backward(ctx, grad):
        return (*_input_weight_bias_grads(ctx, grad, backend.active().conv2d_backward), None, None, None)


class Conv1d(Function):
    """conv2d's kernels on sequences seen as images of height 1: (N, C, L) -> (N, C, 1, L), views both ways.

    One op in the graph rather than conv2d between reshapes, which saves a learner's trace three lines and a
    small model's training step the overhead of six ops per layer.

    forward:    conv2d's on (N, C, 1, L): out[n, o, l] = Σ_c,k w[o, c, k] x_pad[n, c, l·s + k·d] + b[o]
    derivative: conv2d's, with the unit height dropped again
    kernels:    conv2d_forward, conv2d_backward
    """

    @staticmethod
    def forward(ctx, x, weight, bias, stride, padding, dilation):
        ctx.save_for_backward(x[:, :, None, :], weight[:, :, None, :])
        ctx.geometry = ((1, *stride), (0, *padding), (1, *dilation))
        return Conv2d.forward(ctx, *ctx.saved, bias, *ctx.geometry)[:, :, 0, :]

    @staticmethod
    def backward(ctx, grad):
        grad_x, grad_w, grad_b = _input_weight_bias_grads(ctx, grad[:, :, None, :], backend.active().conv2d_backward)
        grad_x = None if grad_x is None else grad_x[:, :, 0, :]
        grad_w = None if grad_w is None else grad_w[:, :, 0, :]
        return grad_x, grad_w, grad_b, None, None, None


class ConvTranspose2d(Function):
    """2-D transposed convolution plus a bias: conv2d's input gradient, used as a layer.

    forward:    out[n] = col2im(Wᵀ x[n]) + b: each input pixel spreads w[c_in] over an output window
    derivative: dL/dx[n] = W im2col(dL/dout[n]) (a conv2d of dL/dout), dL/dW = Σ_n x[n] im2col(dL/dout[n])ᵀ, dL/db = Σ
                dL/dout over (n, h, w)
    kernels:    conv_transpose2d_forward, conv_transpose2d_backward
    """

    @staticmethod
    def forward(ctx, x, weight, bias, stride, padding, output_padding, dilation):
        ctx.save_for_backward(x, weight)
        ctx.geometry = (stride, padding, output_padding, dilation)
        out = backend.active().conv_transpose2d_forward(x, weight, stride, padding, output_padding, dilation)
        return out if bias is None else out + bias.reshape(-1, 1, 1)

    @staticmethod
    def backward(ctx, grad):
        return (
            *_input_weight_bias_grads(ctx, grad, backend.active().conv_transpose2d_backward),
            None,
            None,
            None,
            None,
        )


def _check_conv(op: str, x: Tensor, weight: Tensor, bias: Tensor | None, spatial: int, stride, padding, dilation):
    """Validate a convolution's arguments; returns stride, padding, dilation as tuples of ``spatial`` ints."""
    axes = "L" if spatial == 1 else "H, W"
    kernel_axes = "K" if spatial == 1 else "KH, KW"
    check_ndim(op, "input", x, f"(N, C, {axes})")
    check_ndim(op, "weight", weight, f"(out_channels, in_channels, {kernel_axes})")
    if x.shape[1] != weight.shape[1]:
        raise ShapeError(
            f"{op}: input of shape {x.shape} has {x.shape[1]} channels but weight of shape {weight.shape} "
            f"expects {weight.shape[1]} (weight is (out_channels, in_channels, {kernel_axes}))"
        )
    _check_weight_not_empty(op, weight, out_channels_axis=0)
    _check_bias(op, bias, weight.shape[0])
    stride = ntuple(op, "stride", stride, spatial, 1)
    padding = ntuple(op, "padding", padding, spatial, 0)
    dilation = ntuple(op, "dilation", dilation, spatial, 1)
    output_size(op, x.shape, weight.shape[2:], stride, padding, dilation)
    return stride, padding, dilation


def _check_weight_not_empty(op: str, weight: Tensor, out_channels_axis: int) -> None:
    """PyTorch refuses a weight with no output channels or a kernel of size 0: there is nothing to slide."""
    if weight.shape[out_channels_axis] == 0 or 0 in weight.shape[2:]:
        raise ShapeError(
            f"{op}: weight of shape {weight.shape} is empty; expected at least 1 output channel (axis "
            f"{out_channels_axis}) and a kernel of at least 1 along every spatial axis"
        )


def _check_bias(op: str, bias: Tensor | None, out_channels: int) -> None:
    if bias is not None and bias.shape != (out_channels,):
        raise ShapeError(f"{op}: bias must have shape ({out_channels},), one per output channel, got {bias.shape}")


def conv2d(
    input: Tensor,  # noqa: A002 (PyTorch's name)
    weight: Tensor,
    bias: Tensor | None = None,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
    dilation: int | tuple[int, int] = 1,
) -> Tensor:
    """2-D convolution (cross-correlation, as in every DL framework), zero padding.

    input: (N, C, H, W), weight: (O, C, KH, KW), bias: (O,) or None -> (N, O, OH, OW) with
    OH = (H + 2 padding - dilation (KH - 1) - 1) // stride + 1, likewise OW. stride, padding, dilation:
    an int for both axes or an (h, w) pair.
    """
    stride, padding, dilation = _check_conv("conv2d", input, weight, bias, 2, stride, padding, dilation)
    return Conv2d.apply(input, weight, bias, stride, padding, dilation)


def conv1d(
    input: Tensor,  # noqa: A002
    weight: Tensor,
    bias: Tensor | None = None,
    stride: int = 1,
    padding: int = 0,
    dilation: int = 1,
) -> Tensor:
    """1-D convolution, zero padding. input: (N, C, L), weight: (O, C, K), bias: (O,) or None -> (N, O, OL).

    OL = (L + 2 padding - dilation (K - 1) - 1) // stride + 1.
    """
    stride, padding, dilation = _check_conv("conv1d", input, weight, bias, 1, stride, padding, dilation)
    # A sequence is an image of height 1: the kernel runs the 2-D op with a (1, K) kernel.
    return Conv1d.apply(input, weight, bias, stride, padding, dilation)


def conv_transpose2d(
    input: Tensor,  # noqa: A002
    weight: Tensor,
    bias: Tensor | None = None,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
    output_padding: int | tuple[int, int] = 0,
    dilation: int | tuple[int, int] = 1,
) -> Tensor:
    """2-D transposed convolution (the gradient of conv2d with respect to its input, used as a layer).

    input: (N, C_in, H, W), weight: (C_in, C_out, KH, KW), bias: (C_out,) or None -> (N, C_out, OH, OW) with
    OH = (H - 1) stride - 2 padding + dilation (KH - 1) + output_padding + 1, likewise OW. With stride s it
    upsamples by s: conv2d with the same arguments maps the output's shape back to the input's.
    output_padding (smaller than stride or dilation) picks among the output sizes that conv2d maps to H.
    """
    op = "conv_transpose2d"
    check_ndim(op, "input", input, "(N, C_in, H, W)")
    check_ndim(op, "weight", weight, "(in_channels, out_channels, KH, KW)")
    if input.shape[1] != weight.shape[0]:
        raise ShapeError(
            f"{op}: input of shape {input.shape} has {input.shape[1]} channels but weight of shape {weight.shape} "
            f"expects {weight.shape[0]} (a transposed convolution's weight is (in_channels, out_channels, KH, KW))"
        )
    _check_weight_not_empty(op, weight, out_channels_axis=1)
    _check_bias(op, bias, weight.shape[1])
    stride = ntuple(op, "stride", stride, 2, 1)
    padding = ntuple(op, "padding", padding, 2, 0)
    output_padding = ntuple(op, "output_padding", output_padding, 2, 0)
    dilation = ntuple(op, "dilation", dilation, 2, 1)
    if any(o >= max(s, d) for o, s, d in zip(output_padding, stride, dilation)):
        raise ArgumentError(
            f"{op}: output_padding={output_padding} must be smaller than stride={stride} or dilation={dilation} "
            "along each axis"
        )
    sizes = windows.transposed_output_size(input.shape[2:], weight.shape[2:], stride, padding, output_padding, dilation)
    if min(sizes) < 1:
        raise ShapeError(
            f"{op}: input of shape {input.shape} with weight {weight.shape}, stride={stride}, padding={padding}, "
            f"output_padding={output_padding}, dilation={dilation} would give an output of size {sizes} "
            "((size - 1) * stride - 2 * padding + dilation * (kernel_size - 1) + output_padding + 1); expected at "
            "least 1 along every axis: use less padding"
        )
    return ConvTranspose2d.apply(input, weight, bias, stride, padding, output_padding, dilation)
