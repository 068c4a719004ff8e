"""2-D convolution and transposed convolution (conv.cu): im2col / col2im kernels around cuBLAS GEMMs.

im2col copies every window of the input into a column (one thread per element of the columns), so a
convolution is one batched matrix product on cuBLAS; col2im adds columns back onto the pixels they came
from (one thread per pixel, summing its windows' entries: no atomics).
"""

from kernels import numpy_ref
from kernels.cupy_gpu.common import THREADS, blocks, contiguous, cupy, fits, launch
from kernels.windows import output_size, transposed_output_size


def _window_kernel(name: str, source, target, image_shape, kernel, stride, padding, dilation, out_size) -> None:
    """Run ``name`` (im2col or col2im) of conv.cu from ``source`` into ``target``: a thread per element of target.

    The element count and the geometry arguments follow the arrays: C, H, W, KH, KW, OH, OW, sh, sw, ph, pw, dh, dw.
    """
    geometry = (*image_shape[1:], *kernel, *out_size, *stride, *padding, *dilation)
    launch(
        "conv", name, target.dtype, (blocks(target.size),), (THREADS,),
        contiguous(source), target, target.size, *geometry,
    )  # fmt: skip


def _im2col(x, kernel, stride, padding, dilation, out_size):
    """x (N, C, H, W) -> cols (N, C * KH * KW, OH * OW), as in numpy_ref/conv.py; one thread per element of cols."""
    n, c = x.shape[:2]
    cols = cupy.empty((n, c * kernel[0] * kernel[1], out_size[0] * out_size[1]), dtype=x.dtype)
    _window_kernel("im2col", x, cols, x.shape, kernel, stride, padding, dilation, out_size)
    return cols


def _col2im(cols, x_shape, kernel, stride, padding, dilation, out_size):
    """cols (N, C * KH * KW, OH * OW) -> (N, C, H, W), as in numpy_ref/conv.py; one thread per pixel."""
    image = cupy.empty(x_shape, dtype=cols.dtype)
    _window_kernel("col2im", cols, image, x_shape, kernel, stride, padding, dilation, out_size)
    return image


def conv2d_forward(x, w, stride, padding, dilation, bias=None):
    """2-D cross-correlation plus a bias per output channel (or None). x: (N, C, H, W), w: (O, C, KH, KW), bias:
    (O,) -> (N, O, OH, OW).

    out[n] = w.reshape(O, C * KH * KW) @ im2col(x)[n]: one im2col kernel, one batched GEMM, the bias added in place.
    """
    out_size = output_size(x.shape[2:], w.shape[2:], stride, padding, dilation)
    if not fits(x, w) or min(out_size) <= 0:
        return numpy_ref.conv2d_forward(x, w, stride, padding, dilation, bias)
    n, o = x.shape[0], w.shape[0]
    cols = _im2col(x, w.shape[2:], stride, padding, dilation, out_size)
    out = cupy.matmul(w.reshape(o, -1), cols).reshape(n, o, *out_size)
    if bias is not None:
        out += bias.reshape(o, 1, 1)
    return out


def conv2d_backward(grad, x, w, stride, padding, dilation, input_grad=True, bias_grad=False):
    """Gradients of conv2d_forward. grad: (N, O, OH, OW) -> grad_x: (N, C, H, W), grad_w: (O, C, KH, KW), and with
    bias_grad=True grad_bias: (O,).

    grad_w = sum over n of grad[n] @ cols[n]^T; grad_x = col2im(w^T @ grad), or None with input_grad=False;
    grad_bias = grad summed over (N, OH, OW).
    """
    if not fits(grad, x, w):
        return numpy_ref.conv2d_backward(grad, x, w, stride, padding, dilation, input_grad, bias_grad)
    n, o, oh, ow = grad.shape
    kernel = w.shape[2:]
    grad = grad.reshape(n, o, oh * ow)
    cols = _im2col(x, kernel, stride, padding, dilation, (oh, ow))
    grad_w = cupy.matmul(grad, cols.swapaxes(1, 2)).sum(axis=0).reshape(w.shape)
    grad_x = None
    if input_grad:
        grad_cols = cupy.matmul(w.reshape(o, -1).T, grad)
        grad_x = _col2im(grad_cols, x.shape, kernel, stride, padding, dilation, (oh, ow))
    # The batch axis first: whole contiguous planes add up (7x faster than one sum over both axes, on NumPy).
    return (grad_x, grad_w, grad.sum(axis=0).sum(axis=1)) if bias_grad else (grad_x, grad_w)


def conv_transpose2d_forward(x, w, stride, padding, output_padding, dilation):
    """2-D transposed convolution without bias. x: (N, C_in, H, W), w: (C_in, C_out, KH, KW) -> (N, C_out, OH, OW).

    The input gradient of conv2d: one GEMM (w^T @ x) spreads each pixel over a window, col2im adds them up.
    """
    if not fits(x, w):
        return numpy_ref.conv_transpose2d_forward(x, w, stride, padding, output_padding, dilation)
    n, c_in, h, wd = x.shape
    c_out, kh, kw = w.shape[1:]
    out_size = transposed_output_size((h, wd), (kh, kw), stride, padding, output_padding, dilation)
    cols = cupy.matmul(w.reshape(c_in, -1).T, x.reshape(n, c_in, h * wd))
    return _col2im(cols, (n, c_out, *out_size), (kh, kw), stride, padding, dilation, (h, wd))


def conv_transpose2d_backward(grad, x, w, stride, padding, output_padding, dilation):
    """Gradients of conv_transpose2d_forward -> grad_x: (N, C_in, H, W), grad_w: (C_in, C_out, KH, KW).

    Going back gathers the windows the forward scattered to: an im2col of grad, then two GEMMs.
    """
    if not fits(grad, x, w):
        return numpy_ref.conv_transpose2d_backward(grad, x, w, stride, padding, output_padding, dilation)
    n, c_in, h, wd = x.shape
    cols = _im2col(grad, w.shape[2:], stride, padding, dilation, (h, wd))
    grad_x = cupy.matmul(w.reshape(c_in, -1), cols).reshape(n, c_in, h, wd)
    grad_w = cupy.matmul(x.reshape(n, c_in, h * wd), cols.swapaxes(1, 2)).sum(axis=0).reshape(w.shape)
    return grad_x, grad_w
