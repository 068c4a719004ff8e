"""Depthwise 2-D convolution (groups = channels): each input channel convolved with its own filters, tap by tap.

A grouped convolution as im2col and products would run one product per channel, each of a single channel's
window (the products of a 3x3 depthwise layer are 9 terms long); by taps, every channel moves at once.
"""

from kernels.numpy_ref.common import array_module, crop, pad, tap_slices
from kernels.windows import output_size


def depthwise_conv2d_forward(x, w, stride, padding, dilation):
    """x: (N, C, H, W), w: (C*M, 1, KH, KW) (M filters per channel); stride, padding (zeros), dilation: (h, w) int
    pairs -> (N, C*M, OH, OW), out[n, c*M + m, oh, ow] = Σ_i,j w[c*M + m, 0, i, j] x_pad[n, c, oh*sh + i*dh,
    ow*sw + j*dw]: conv2d with groups = C."""
    xp, (n, c), (o, _, kh, kw) = array_module(x, w), x.shape[:2], w.shape
    out_size = output_size(x.shape[2:], (kh, kw), stride, padding, dilation)
    padded, taps = pad(x, padding)[:, :, None], w.reshape(c, o // c, kh * kw)
    out = xp.zeros((n, c, o // c, *out_size), dtype=xp.result_type(x, w))
    for k, window in enumerate(tap_slices((kh, kw), stride, dilation, out_size)):
        out += taps[:, :, k, None, None] * padded[window]
    return out.reshape(n, o, *out_size)


def depthwise_conv2d_backward(grad, x, w, stride, padding, dilation, input_grad=True):
    """Gradients of depthwise_conv2d_forward. grad: (N, C*M, OH, OW); the rest as the forward got them
    -> grad_x: (N, C, H, W), or None with input_grad=False; grad_w: (C*M, 1, KH, KW).
    Each tap (i, j): grad_w[c*M + m, 0, i, j] = Σ_n,oh,ow grad x_pad at the tap's pixels, and the tap adds
    Σ_m w[c*M + m, 0, i, j] grad back onto those pixels of grad_x."""
    xp, (n, c), (o, _, kh, kw) = array_module(grad, x, w), x.shape[:2], w.shape
    dtype, out_size = xp.result_type(grad, x, w), grad.shape[2:]
    per_channel, padded, taps = grad.reshape(n, c, o // c, *out_size), pad(x, padding), w.reshape(c, o // c, kh * kw)
    grad_w = xp.empty((c, o // c, kh * kw), dtype=dtype)
    grad_padded = xp.zeros(padded.shape, dtype=dtype) if input_grad else None
    for k, window in enumerate(tap_slices((kh, kw), stride, dilation, out_size)):
        grad_w[:, :, k] = (per_channel * padded[window][:, :, None]).sum(axis=(0, 3, 4))
        if input_grad:
            grad_padded[window] += (per_channel * taps[:, :, k, None, None]).sum(axis=2)
    return (crop(grad_padded, padding) if input_grad else None), grad_w.reshape(w.shape)
