"""Max and average pooling over 2-D windows, forward and backward."""

from kernels.numpy_ref.common import array_module, crop, pad, tap_slices
from kernels.windows import output_size


def max_pool2d_forward(x, kernel_size, stride, padding):
    """The largest value of each window, and where it was.

    x: (N, C, H, W) floating; kernel_size, stride, padding: (h, w) int pairs (the border counts as -inf)
    -> out: (N, C, OH, OW), argmax: (N, C, OH, OW) int64, the offset i * KW + j inside the window (row-major) of
    the input pixel its gradient goes to. As PyTorch, which starts each window's search at its first pixel inside
    the input and moves on to a strictly greater value or a NaN: the first input pixel holding the maximum (never
    the padding, even where every input pixel of the window is -inf), and in a window holding NaN (whose maximum
    is then NaN) its last NaN.
    """
    xp = array_module(x)
    out_size = output_size(x.shape[2:], kernel_size, stride, padding)
    padded = pad(x, padding, -xp.inf)
    inside = pad(xp.ones((1, 1, *x.shape[2:]), dtype=bool), padding, False)  # which padded pixels are input
    taps = list(tap_slices(kernel_size, stride, (1, 1), out_size))
    out = padded[taps[0]].copy()
    for tap in taps[1:]:
        xp.maximum(out, padded[tap], out=out)  # NaN wins, as in PyTorch
    # Offsets are visited last to first, so where several input pixels hold the maximum the first one is kept.
    argmax = xp.zeros(out.shape, dtype=xp.int64)
    for k in reversed(range(len(taps))):
        argmax = xp.where(inside[taps[k]] & (padded[taps[k]] == out), k, argmax)
    if xp.isnan(out).any():  # NaN equals nothing: those windows take their last NaN (first to last, the last kept)
        for k, tap in enumerate(taps):
            argmax = xp.where(xp.isnan(padded[tap]), k, argmax)
    return out, argmax


def max_pool2d_backward(grad, argmax, x_shape, kernel_size, stride, padding):
    """Gradient of max_pool2d_forward: each window's gradient goes to its maximum, the rest get 0.

    grad, argmax: (N, C, OH, OW); x_shape = (N, C, H, W); the rest as the forward got them -> (N, C, H, W).
    Overlapping windows that share a maximum add their gradients there.
    """
    n, c, h, w = x_shape
    ph, pw = padding
    padded = array_module(grad).zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=grad.dtype)
    for k, taps in enumerate(tap_slices(kernel_size, stride, (1, 1), grad.shape[2:])):
        padded[taps] += grad * (argmax == k)
    return crop(padded, padding)


def avg_pool2d_forward(x, kernel_size, stride, padding):
    """The mean of each window, counting the zero border (count_include_pad=True, PyTorch's default).

    x: (N, C, H, W); kernel_size, stride, padding: (h, w) int pairs -> (N, C, OH, OW).
    """
    out_size = output_size(x.shape[2:], kernel_size, stride, padding)
    padded = pad(x, padding)
    out = array_module(x).zeros((*x.shape[:2], *out_size), dtype=x.dtype)
    for taps in tap_slices(kernel_size, stride, (1, 1), out_size):
        out += padded[taps]
    out /= kernel_size[0] * kernel_size[1]
    return out


def avg_pool2d_backward(grad, x_shape, kernel_size, stride, padding):
    """Gradient of avg_pool2d_forward: each window shares its gradient equally among its KH * KW pixels.

    grad: (N, C, OH, OW); x_shape = (N, C, H, W); the rest as the forward got them -> (N, C, H, W).
    """
    n, c, h, w = x_shape
    ph, pw = padding
    share = grad / (kernel_size[0] * kernel_size[1])
    padded = array_module(grad).zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=grad.dtype)
    for taps in tap_slices(kernel_size, stride, (1, 1), grad.shape[2:]):
        padded[taps] += share
    return crop(padded, padding)
