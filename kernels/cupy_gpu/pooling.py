"""Max and average pooling over 2-D windows (pooling.cu), forward and backward.

A thread per output (forward) or per input pixel (backward): a backward thread gathers the gradients of
the windows that cover its pixel, so no two threads write the same pixel and nothing is added atomically.
"""

from kernels import numpy_ref
from kernels.cupy_gpu.common import THREADS, blocks, contiguous, cupy, fits, launch
from kernels.windows import output_size


def _pool_kernel(name: str, arrays: tuple, x_shape, kernel_size, stride, padding, out_size) -> None:
    """Run ``name`` of pooling.cu on ``arrays`` (inputs, then outputs): a thread per element of the last one.

    The element count and the geometry arguments follow the arrays: H, W, KH, KW, OH, OW, sh, sw, ph, pw.
    """
    total = arrays[-1].size
    geometry = (*x_shape[2:], *kernel_size, *out_size, *stride, *padding)
    launch("pooling", name, arrays[0].dtype, (blocks(total),), (THREADS,), *arrays, total, *geometry)


def max_pool2d_forward(x, kernel_size, stride, padding):
    """The largest value of each window, and where it was (tap i * KW + j: its first maximum inside the image,
    or its last NaN, as numpy_ref.max_pool2d_forward).

    x: (N, C, H, W) -> out: (N, C, OH, OW), argmax: (N, C, OH, OW) int64.
    """
    if not fits(x):
        return numpy_ref.max_pool2d_forward(x, kernel_size, stride, padding)
    out_size = output_size(x.shape[2:], kernel_size, stride, padding)
    out = cupy.empty((*x.shape[:2], *out_size), dtype=x.dtype)
    argmax = cupy.empty(out.shape, dtype=cupy.int64)
    _pool_kernel("max_pool2d_forward", (contiguous(x), out, argmax), x.shape, kernel_size, stride, padding, out_size)
    return out, argmax


def max_pool2d_backward(grad, argmax, x_shape, kernel_size, stride, padding):
    """Each window's gradient to its maximum. grad, argmax: (N, C, OH, OW) -> (N, C, H, W)."""
    if not fits(grad):
        return numpy_ref.max_pool2d_backward(grad, argmax, x_shape, kernel_size, stride, padding)
    grad_x = cupy.empty(x_shape, dtype=grad.dtype)
    arrays = (contiguous(grad), contiguous(argmax).astype(cupy.int64, copy=False), grad_x)
    _pool_kernel("max_pool2d_backward", arrays, x_shape, kernel_size, stride, padding, grad.shape[2:])
    return grad_x


def avg_pool2d_forward(x, kernel_size, stride, padding):
    """The mean of each window, the zero border included. x: (N, C, H, W) -> (N, C, OH, OW)."""
    if not fits(x):
        return numpy_ref.avg_pool2d_forward(x, kernel_size, stride, padding)
    out_size = output_size(x.shape[2:], kernel_size, stride, padding)
    out = cupy.empty((*x.shape[:2], *out_size), dtype=x.dtype)
    _pool_kernel("avg_pool2d_forward", (contiguous(x), out), x.shape, kernel_size, stride, padding, out_size)
    return out


def avg_pool2d_backward(grad, x_shape, kernel_size, stride, padding):
    """Each window's gradient shared equally by its KH * KW pixels. grad: (N, C, OH, OW) -> (N, C, H, W)."""
    if not fits(grad):
        return numpy_ref.avg_pool2d_backward(grad, x_shape, kernel_size, stride, padding)
    grad_x = cupy.empty(x_shape, dtype=grad.dtype)
    arrays = (contiguous(grad), grad_x)
    _pool_kernel("avg_pool2d_backward", arrays, x_shape, kernel_size, stride, padding, grad.shape[2:])
    return grad_x
