"""2-D convolution and transposed convolution as im2col + matrix products."""

from kernels.numpy_ref.common import array_module, crop, pad, tap_slices
from kernels.numpy_ref.linalg import matmul
from kernels.windows import output_size, transposed_output_size


def _im2col(x, kernel, stride, padding, dilation, out_size):
    """Copy every window of x into a column: x (N, C, H, W) -> cols (N, C * KH * KW, OH * OW).

    cols[n, (c, i, j), (oh, ow)] = padded x[n, c, oh*sh + i*dh, ow*sw + j*dw], so a convolution becomes one
    matrix product per sample: out[n] = w.reshape(O, C * KH * KW) @ cols[n].
    """
    n, c = x.shape[:2]
    padded = pad(x, padding)
    cols = array_module(x).empty((n, c, kernel[0] * kernel[1], *out_size), dtype=x.dtype)
    for k, taps in enumerate(tap_slices(kernel, stride, dilation, out_size)):
        cols[:, :, k] = padded[taps]
    return cols.reshape(n, c * kernel[0] * kernel[1], out_size[0] * out_size[1])


def _col2im(cols, x_shape, kernel, stride, padding, dilation, out_size):
    """The adjoint of _im2col: add each column entry back onto the pixel it was copied from.

    cols: (N, C * KH * KW, OH * OW) -> (N, C, H, W) with x_shape = (N, C, H, W). A pixel that several
    windows share receives the sum of their entries.
    """
    n, c, h, w = x_shape
    ph, pw = padding
    cols = cols.reshape(n, c, kernel[0] * kernel[1], *out_size)
    padded = array_module(cols).zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=cols.dtype)
    for k, taps in enumerate(tap_slices(kernel, stride, dilation, out_size)):
        padded[taps] += cols[:, :, k]
    return crop(padded, padding)


def conv2d_forward(x, w, stride, padding, dilation, bias=None):
    """2-D cross-correlation (what deep learning calls convolution), plus a bias per output channel.

    x: (N, C, H, W), w: (O, C, KH, KW); stride, padding (zeros), dilation: (h, w) int pairs; bias: (O,) or None
    -> (N, O, OH, OW), OH = (H + 2ph - dh(KH-1) - 1) // sh + 1 (likewise OW), where
    out[n, o, oh, ow] = sum over c, i, j of w[o, c, i, j] * x_pad[n, c, oh*sh + i*dh, ow*sw + j*dw] + bias[o].
    """
    n, o = x.shape[0], w.shape[0]
    kernel = w.shape[2:]
    out_size = output_size(x.shape[2:], kernel, stride, padding, dilation)
    cols = _im2col(x, kernel, stride, padding, dilation, out_size)
    out = matmul(w.reshape(o, -1), cols).reshape(n, o, *out_size)
    return out if bias is None else out + bias.reshape(o, 1, 1)


def conv2d_backward(grad, x, w, stride, padding, dilation, input_grad=True, bias_grad=False):
    """Gradients of conv2d_forward. grad: (N, O, OH, OW); x, w and the rest as the forward got them.

    -> grad_x: (N, C, H, W) = col2im(w^T @ grad), grad_w: (O, C, KH, KW) = sum over n of grad[n] @ cols[n]^T,
    and with bias_grad=True a third, grad_bias: (O,) = grad summed over (N, OH, OW).
    input_grad=False: grad_x is None, not computed (a first layer's input needs no gradient).
    """
    n, o, oh, ow = grad.shape
    kernel, out_size = w.shape[2:], (oh, ow)
    grad = grad.reshape(n, o, oh * ow)
    cols = _im2col(x, kernel, stride, padding, dilation, out_size)
    grad_w = matmul(grad, cols.swapaxes(1, 2)).sum(axis=0).reshape(w.shape)
    grad_x = None
    if input_grad:
        grad_cols = matmul(w.reshape(o, -1).T, grad)
        grad_x = _col2im(grad_cols, x.shape, kernel, stride, padding, dilation, out_size)
    # The batch axis first: whole contiguous planes add up (7x faster than one sum over both axes, on NumPy).
    return (grad_x, grad_w, grad.sum(axis=0).sum(axis=1)) if bias_grad else (grad_x, grad_w)


def conv_transpose2d_forward(x, w, stride, padding, output_padding, dilation):
    """2-D transposed convolution, without bias: the input gradient of conv2d, used as a layer.

    x: (N, C_in, H, W), w: (C_in, C_out, KH, KW) (PyTorch's layout); stride, padding, output_padding,
    dilation: (h, w) int pairs -> (N, C_out, OH, OW) with OH = (H-1)*sh - 2ph + dh(KH-1) + oph + 1
    (likewise OW). Each input pixel spreads w[c_in] over a window of the output (windows overlap where the
    stride is smaller than the kernel); padding then crops ph rows and pw columns from every side.
    """
    n, c_in, h, wd = x.shape
    c_out, kh, kw = w.shape[1:]
    out_size = transposed_output_size((h, wd), (kh, kw), stride, padding, output_padding, dilation)
    cols = matmul(w.reshape(c_in, -1).T, x.reshape(n, c_in, h * wd))
    return _col2im(cols, (n, c_out, *out_size), (kh, kw), stride, padding, dilation, (h, wd))


def conv_transpose2d_backward(grad, x, w, stride, padding, output_padding, dilation):
    """Gradients of conv_transpose2d_forward. grad: (N, C_out, OH, OW); the rest as the forward got them.

    -> grad_x: (N, C_in, H, W), grad_w: (C_in, C_out, KH, KW). The forward scattered each input pixel over a
    window; going back gathers those same windows of grad (an im2col, which is why grad_x is conv2d of grad).
    """
    n, c_in, h, wd = x.shape
    cols = _im2col(grad, w.shape[2:], stride, padding, dilation, (h, wd))
    x = x.reshape(n, c_in, h * wd)
    grad_x = matmul(w.reshape(c_in, -1), cols).reshape(n, c_in, h, wd)
    grad_w = matmul(x, cols.swapaxes(1, 2)).sum(axis=0).reshape(w.shape)
    return grad_x, grad_w
