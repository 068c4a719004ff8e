"""Reference kernels: the specification every other backend must match.

Each kernel is plain, readable NumPy with its shapes in the docstring. A kernel takes its array
module from its inputs (``xp = array_module(x)``), so the same code runs on CuPy arrays, on the GPU,
when a backend falls back to it. Kernels never modify their inputs, except the optimizer steps,
which update parameters and their state in place by design.
"""

import sys

import numpy as np

NAME = "numpy"

# The kernel table: every backend provides these names, or falls back to this module's.
KERNELS = (
    "matmul",
    "relu_forward",
    "relu_backward",
    "sigmoid_forward",
    "sigmoid_backward",
    "tanh_forward",
    "tanh_backward",
    "gelu_forward",
    "gelu_backward",
    "softmax_forward",
    "softmax_backward",
    "log_softmax_forward",
    "log_softmax_backward",
    "cross_entropy_forward",
    "cross_entropy_backward",
    "scatter_add",
    "layer_norm_forward",
    "layer_norm_backward",
    "embedding_backward",
    "masked_softmax_forward",
    "attention_forward",
    "attention_backward",
    "conv2d_forward",
    "conv2d_backward",
    "conv_transpose2d_forward",
    "conv_transpose2d_backward",
    "max_pool2d_forward",
    "max_pool2d_backward",
    "avg_pool2d_forward",
    "avg_pool2d_backward",
    "sgd_step",
    "adam_step",
)


def check_available() -> None:
    """The reference runs wherever NumPy does."""


def array_module(*arrays):
    """The array library of the inputs: cupy when any input is a cupy array, else numpy."""
    for a in arrays:
        if type(a).__module__.startswith("cupy"):
            return sys.modules["cupy"]
    return np


# --- linear algebra -------------------------------------------------------------------------


def matmul(a, b):
    """Batched matrix product.

    a: (..., n, k), b: (..., k, m) -> (..., n, m); the batch dimensions broadcast.
    """
    return array_module(a, b).matmul(a, b)


# --- activations ----------------------------------------------------------------------------


def relu_forward(x):
    """y = max(x, 0). x: any shape -> y: same shape."""
    return array_module(x).maximum(x, 0)


def relu_backward(grad_y, x):
    """dL/dx = dL/dy where x > 0, else 0. grad_y, x: same shape."""
    return grad_y * (x > 0)


def sigmoid_forward(x):
    """y = 1 / (1 + exp(-x)), computed without overflow for large |x|. x: any shape."""
    xp = array_module(x)
    e = xp.exp(-xp.abs(x))  # in (0, 1], never overflows
    return xp.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)


def sigmoid_backward(grad_y, y):
    """dL/dx = dL/dy * y * (1 - y), from the forward's output y. grad_y, y: same shape."""
    return grad_y * y * (1 - y)


def tanh_forward(x):
    """y = tanh(x). x: any shape."""
    return array_module(x).tanh(x)


def tanh_backward(grad_y, y):
    """dL/dx = dL/dy * (1 - y^2), from the forward's output y. grad_y, y: same shape."""
    return grad_y * (1 - y * y)


def _erf(x):
    # NumPy has no erf; SciPy's (or CuPy's twin of it) is exact to the last bit.
    if array_module(x) is np:
        from scipy.special import erf
    else:
        from cupyx.scipy.special import erf
    return erf(x)


def gelu_forward(x):
    """y = x * Phi(x), Phi the standard normal CDF = (1 + erf(x / sqrt 2)) / 2. x: any shape."""
    return (0.5 * x * (1 + _erf(x / np.sqrt(2)))).astype(x.dtype, copy=False)


def gelu_backward(grad_y, x):
    """dL/dx = dL/dy * (Phi(x) + x * phi(x)), phi the standard normal density. grad_y, x: same shape."""
    xp = array_module(x)
    cdf = 0.5 * (1 + _erf(x / np.sqrt(2)))
    pdf = xp.exp(-0.5 * x * x) / np.sqrt(2 * np.pi)
    return (grad_y * (cdf + x * pdf)).astype(x.dtype, copy=False)


# --- softmax family -------------------------------------------------------------------------


def softmax_forward(x, axis):
    """y = exp(x) / sum(exp(x)) along axis; the max is subtracted first so exp never overflows."""
    xp = array_module(x)
    e = xp.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def softmax_backward(grad_y, y, axis):
    """dL/dx = y * (dL/dy - sum(dL/dy * y)) along axis (the softmax Jacobian, applied)."""
    return y * (grad_y - (grad_y * y).sum(axis=axis, keepdims=True))


def log_softmax_forward(x, axis):
    """y = x - logsumexp(x) along axis, computed from the max-shifted x (stable)."""
    xp = array_module(x)
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - xp.log(xp.exp(shifted).sum(axis=axis, keepdims=True))


def log_softmax_backward(grad_y, y, axis):
    """dL/dx = dL/dy - softmax(x) * sum(dL/dy) along axis, with softmax(x) = exp(y)."""
    xp = array_module(y)
    return grad_y - xp.exp(y) * grad_y.sum(axis=axis, keepdims=True)


def cross_entropy_forward(logits, labels):
    """Per-sample cross-entropy of integer labels, and the probabilities backward needs.

    logits: (N, C) float, labels: (N,) integers in [0, C)
    -> loss: (N,) with loss[i] = -log softmax(logits[i])[labels[i]], probs: (N, C).
    """
    xp = array_module(logits)
    log_probs = log_softmax_forward(logits, axis=1)
    loss = -log_probs[xp.arange(len(labels)), labels]
    return loss, xp.exp(log_probs)


def cross_entropy_backward(grad_loss, probs, labels):
    """dL/dlogits = (probs - onehot(labels)) * dL/dloss.

    grad_loss: (N,), probs: (N, C), labels: (N,) -> (N, C).
    """
    xp = array_module(probs)
    grad = probs.copy()
    grad[xp.arange(len(labels)), labels] -= 1
    return grad * grad_loss[:, None]


# --- indexing -------------------------------------------------------------------------------


def scatter_add(target, index, values):
    """target[index] += values, in place, where repeated indices each add (unlike ``+=``).

    target: any shape; index: anything that indexes it (integer arrays, slices);
    values: the shape of target[index].
    """
    if array_module(target) is np:
        np.add.at(target, index, values)
    else:
        import cupyx

        cupyx.scatter_add(target, index, values)


# --- normalization, embedding, attention ----------------------------------------------------


def layer_norm_forward(x, weight, bias, eps):
    """Normalize each row over the last axis to mean 0 and variance 1, then scale and shift.

    x: (..., D); weight, bias: (D,) or None; eps: added to the variance.
    -> y: (..., D) = (x - mean) * rstd * weight + bias, mean: (..., 1), rstd: (..., 1) = 1 / sqrt(var + eps),
    with the biased variance (divided by D), as PyTorch. Several trailing axes: merge them into one first.
    """
    xp = array_module(x)
    mean = x.mean(axis=-1, keepdims=True)
    centered = x - mean
    rstd = 1 / xp.sqrt((centered * centered).mean(axis=-1, keepdims=True) + eps)
    y = centered * rstd
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y, mean, rstd


def layer_norm_backward(grad, x, weight, mean, rstd):
    """Gradients of layer_norm_forward, from the mean and rstd it returned.

    grad, x: (..., D); weight: (D,) or None; mean, rstd: (..., 1)
    -> grad_x: (..., D), grad_weight: (D,), grad_bias: (D,) (both summed over every leading axis).
    With xhat = (x - mean) * rstd and g = grad * weight, the chain rule through mean and variance gives
    grad_x = rstd * (g - mean(g) - xhat * mean(g * xhat)), means over the last axis.
    """
    xhat = (x - mean) * rstd
    lead = tuple(range(x.ndim - 1))
    grad_weight = (grad * xhat).sum(axis=lead)
    grad_bias = grad.sum(axis=lead)
    g = grad if weight is None else grad * weight
    grad_x = rstd * (g - g.mean(axis=-1, keepdims=True) - xhat * (g * xhat).mean(axis=-1, keepdims=True))
    return grad_x, grad_weight, grad_bias


def embedding_backward(grad, indices, num_embeddings):
    """Gradient of the embedding table for out = weight[indices].

    grad: (..., D), indices: (...) integers in [0, num_embeddings) -> (num_embeddings, D), where row i
    sums the gradients of every position that looked up i (a repeated index adds up, never overwrites).
    """
    xp = array_module(grad)
    dim = grad.shape[-1]
    table = xp.zeros((num_embeddings, dim), dtype=grad.dtype)
    scatter_add(table, indices.reshape(-1), grad.reshape(-1, dim))
    return table


def masked_softmax_forward(x, mask):
    """Softmax over the last axis, over the entries ``mask`` allows; a row with none allowed gives zeros.

    x: (..., K) (entries of -inf count as masked too); mask: bool broadcastable to x (True = take part),
    or None -> y: x's broadcast shape with mask, rows summing to 1, or to 0 where every entry is masked.
    Its gradient is softmax_backward's: masked entries have y = 0, so no gradient reaches them.
    """
    xp = array_module(x)
    if mask is not None:
        x = xp.where(mask, x, x.dtype.type(-np.inf))  # a -inf of x's dtype, so float32 stays float32
    row_max = x.max(axis=-1, keepdims=True)
    # A fully masked row has max -inf, and -inf - -inf is NaN: shift it by 0 instead (its exps are all 0).
    row_max = xp.where(xp.isfinite(row_max), row_max, 0)
    e = xp.exp(x - row_max)
    total = e.sum(axis=-1, keepdims=True)
    return e / xp.where(total > 0, total, 1)


def attention_forward(q, k, v, mask, scale):
    """Scaled dot-product attention: out = softmax(q k^T * scale, masked) v.

    q: (..., Tq, d), k: (..., Tk, d), v: (..., Tk, dv) (same leading axes); mask: None, bool broadcastable
    to (..., Tq, Tk) with True = the query may attend to that key (PyTorch's bool attn_mask), or float,
    added to the scores (-inf = may not); scale: a number, usually 1 / sqrt(d).
    -> out: (..., Tq, dv), saved: the attention weights (..., Tq, Tk) that backward needs.
    A query allowed no key at all gets weights 0 and out 0, never NaN.
    """
    xp = array_module(q)
    scores = xp.matmul(q, xp.swapaxes(k, -1, -2)) * scale
    if mask is not None and mask.dtype != bool:
        scores, mask = scores + mask, None
    probs = masked_softmax_forward(scores, mask).astype(q.dtype, copy=False)
    return xp.matmul(probs, v), probs


def attention_backward(grad_out, q, k, v, saved, mask, scale):
    """Gradients of attention_forward, from the weights it saved.

    grad_out: (..., Tq, dv); q, k, v, mask, scale: as the forward got them; saved: its weights P (..., Tq, Tk)
    -> dq: (..., Tq, d), dk: (..., Tk, d), dv: (..., Tk, dv).
    With S = q k^T * scale and P = softmax(S): dv = P^T dout, dP = dout v^T, dS = P * (dP - rowsum(dP * P)),
    dq = dS k * scale, dk = dS^T q * scale. Masked entries have P = 0, so dS is 0 there without looking
    at ``mask`` (a kernel that saves the log-sum-exp instead of P needs it to recompute P).
    """
    xp = array_module(q)
    probs = saved
    dv = xp.matmul(xp.swapaxes(probs, -1, -2), grad_out)
    dprobs = xp.matmul(grad_out, xp.swapaxes(v, -1, -2))
    dscores = softmax_backward(dprobs, probs, -1) * scale
    dq = xp.matmul(dscores, k)
    dk = xp.matmul(xp.swapaxes(dscores, -1, -2), q)
    return dq, dk, dv


# --- convolution and pooling ----------------------------------------------------------------
# Shared geometry: stride, padding, dilation are (h, w) pairs. Along each axis a window of K taps,
# d apart, slides s at a time over the input padded by p on both sides; it fits (H + 2p - d(K-1) - 1) // s + 1
# times. These kernels loop over the K_h * K_w kernel offsets only: each offset reads one strided slice
# of the padded input (every output pixel's tap at that offset) in a single array operation.


def _tap_slices(kernel, stride, dilation, out_size):
    """For each kernel offset (i, j), row-major, the index of the padded-input pixels it touches.

    Offset (i, j) of the window at output pixel (oh, ow) reads padded pixel (oh*sh + i*dh, ow*sw + j*dw),
    so over all output pixels it reads one strided slice of the last two axes.
    """
    (kh, kw), (sh, sw), (dh, dw), (oh, ow) = kernel, stride, dilation, out_size
    for i in range(kh):
        for j in range(kw):
            yield (..., slice(i * dh, i * dh + sh * (oh - 1) + 1, sh), slice(j * dw, j * dw + sw * (ow - 1) + 1, sw))


def _pad(x, padding, value=0.0):
    """x: (N, C, H, W) -> (N, C, H + 2ph, W + 2pw), the border filled with ``value``."""
    ph, pw = padding
    if not (ph or pw):
        return x
    n, c, h, w = x.shape
    padded = array_module(x).full((n, c, h + 2 * ph, w + 2 * pw), value, dtype=x.dtype)
    padded[:, :, ph : ph + h, pw : pw + w] = x
    return padded


def _crop(padded, padding):
    """The inverse of _pad: drop ph rows and pw columns from each side."""
    ph, pw = padding
    h, w = padded.shape[-2:]
    return padded[..., ph : h - ph, pw : w - pw]


def _out_size(size, kernel, stride, padding, dilation):
    """How many window positions fit along each axis: (H + 2p - d(K-1) - 1) // s + 1 for each of (h, w)."""
    geometry = zip(size, kernel, stride, padding, dilation)
    return tuple((n + 2 * p - d * (k - 1) - 1) // s + 1 for n, k, s, p, d in geometry)


def _im2col(x, kernel, stride, padding, dilation, out_size):
    """Copy every window of x into a column: x (N, C, H, W) -> cols (N, C * KH * KW, OH * OW).

    cols[n, (c, i, j), (oh, ow)] = padded x[n, c, oh*sh + i*dh, ow*sw + j*dw], so a convolution becomes one
    matrix product per sample: out[n] = w.reshape(O, C * KH * KW) @ cols[n].
    """
    n, c = x.shape[:2]
    padded = _pad(x, padding)
    cols = array_module(x).empty((n, c, kernel[0] * kernel[1], *out_size), dtype=x.dtype)
    for k, taps in enumerate(_tap_slices(kernel, stride, dilation, out_size)):
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
    for k, taps in enumerate(_tap_slices(kernel, stride, dilation, out_size)):
        padded[taps] += cols[:, :, k]
    return _crop(padded, padding)


def conv2d_forward(x, w, stride, padding, dilation):
    """2-D cross-correlation (what deep learning calls convolution), without bias.

    x: (N, C, H, W), w: (O, C, KH, KW); stride, padding (zeros), dilation: (h, w) int pairs
    -> (N, O, OH, OW), OH = (H + 2ph - dh(KH-1) - 1) // sh + 1 (likewise OW), where
    out[n, o, oh, ow] = sum over c, i, j of w[o, c, i, j] * x_pad[n, c, oh*sh + i*dh, ow*sw + j*dw].
    """
    n, o = x.shape[0], w.shape[0]
    kernel = w.shape[2:]
    out_size = _out_size(x.shape[2:], kernel, stride, padding, dilation)
    cols = _im2col(x, kernel, stride, padding, dilation, out_size)
    return matmul(w.reshape(o, -1), cols).reshape(n, o, *out_size)


def conv2d_backward(grad, x, w, stride, padding, dilation):
    """Gradients of conv2d_forward. grad: (N, O, OH, OW); x, w and the rest as the forward got them.

    -> grad_x: (N, C, H, W) = col2im(w^T @ grad), grad_w: (O, C, KH, KW) = sum over n of grad[n] @ cols[n]^T.
    """
    n, o, oh, ow = grad.shape
    kernel, out_size = w.shape[2:], (oh, ow)
    grad = grad.reshape(n, o, oh * ow)
    cols = _im2col(x, kernel, stride, padding, dilation, out_size)
    grad_w = matmul(grad, cols.swapaxes(1, 2)).sum(axis=0).reshape(w.shape)
    grad_cols = matmul(w.reshape(o, -1).T, grad)
    grad_x = _col2im(grad_cols, x.shape, kernel, stride, padding, dilation, out_size)
    return grad_x, grad_w


def conv_transpose2d_forward(x, w, stride, padding, output_padding, dilation):
    """2-D transposed convolution, without bias: the input gradient of conv2d, used as a layer.

    x: (N, C_in, H, W), w: (C_in, C_out, KH, KW) (PyTorch's layout); stride, padding, output_padding,
    dilation: (h, w) int pairs -> (N, C_out, OH, OW) with OH = (H-1)*sh - 2ph + dh(KH-1) + oph + 1
    (likewise OW). Each input pixel spreads w[c_in] over a window of the output (windows overlap where the
    stride is smaller than the kernel); padding then crops ph rows and pw columns from every side.
    """
    n, c_in, h, wd = x.shape
    c_out, kh, kw = w.shape[1:]
    out_h = (h - 1) * stride[0] - 2 * padding[0] + dilation[0] * (kh - 1) + output_padding[0] + 1
    out_w = (wd - 1) * stride[1] - 2 * padding[1] + dilation[1] * (kw - 1) + output_padding[1] + 1
    cols = matmul(w.reshape(c_in, -1).T, x.reshape(n, c_in, h * wd))
    return _col2im(cols, (n, c_out, out_h, out_w), (kh, kw), stride, padding, dilation, (h, wd))


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


def max_pool2d_forward(x, kernel_size, stride, padding):
    """The largest value of each window, and where it was.

    x: (N, C, H, W) floating; kernel_size, stride, padding: (h, w) int pairs (the border counts as -inf)
    -> out: (N, C, OH, OW), argmax: (N, C, OH, OW) int64, the offset i * KW + j inside the window of its
    first maximum (row-major). A NaN in a window makes its maximum NaN, as in PyTorch.
    """
    xp = array_module(x)
    out_size = _out_size(x.shape[2:], kernel_size, stride, padding, (1, 1))
    padded = _pad(x, padding, -xp.inf)
    taps = list(_tap_slices(kernel_size, stride, (1, 1), out_size))
    out = padded[taps[0]].copy()
    for tap in taps[1:]:
        xp.maximum(out, padded[tap], out=out)
    # Offsets are visited last to first, so where several hold the maximum the first one is kept.
    argmax = xp.zeros(out.shape, dtype=xp.int64)
    for k in reversed(range(len(taps))):
        argmax = xp.where(padded[taps[k]] == out, k, argmax)
    return out, argmax


def max_pool2d_backward(grad, argmax, x_shape, kernel_size, stride, padding):
    """Gradient of max_pool2d_forward: each window's gradient goes to its maximum, the rest get 0.

    grad, argmax: (N, C, OH, OW); x_shape = (N, C, H, W); the rest as the forward got them -> (N, C, H, W).
    Overlapping windows that share a maximum add their gradients there.
    """
    n, c, h, w = x_shape
    ph, pw = padding
    padded = array_module(grad).zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=grad.dtype)
    for k, taps in enumerate(_tap_slices(kernel_size, stride, (1, 1), grad.shape[2:])):
        padded[taps] += grad * (argmax == k)
    return _crop(padded, padding)


def avg_pool2d_forward(x, kernel_size, stride, padding):
    """The mean of each window, counting the zero border (count_include_pad=True, PyTorch's default).

    x: (N, C, H, W); kernel_size, stride, padding: (h, w) int pairs -> (N, C, OH, OW).
    """
    out_size = _out_size(x.shape[2:], kernel_size, stride, padding, (1, 1))
    padded = _pad(x, padding)
    out = array_module(x).zeros((*x.shape[:2], *out_size), dtype=x.dtype)
    for taps in _tap_slices(kernel_size, stride, (1, 1), out_size):
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
    for taps in _tap_slices(kernel_size, stride, (1, 1), grad.shape[2:]):
        padded[taps] += share
    return _crop(padded, padding)


# --- optimizer steps (in place) -------------------------------------------------------------


def sgd_step(param, grad, momentum_buffer, *, lr, momentum, dampening, weight_decay, nesterov, first):
    """One SGD step, as PyTorch defines it, updating param (and momentum_buffer) in place.

    param, grad, momentum_buffer: same shape (momentum_buffer is None when momentum == 0);
    first: True on the buffer's first step, when it starts as the gradient itself.
    """
    d = grad + weight_decay * param if weight_decay else grad
    if momentum:
        if first:
            momentum_buffer[...] = d
        else:
            momentum_buffer *= momentum
            momentum_buffer += (1 - dampening) * d
        d = d + momentum * momentum_buffer if nesterov else momentum_buffer
    param -= lr * d


def adam_step(param, grad, exp_avg, exp_avg_sq, *, step, lr, beta1, beta2, eps, weight_decay, decoupled):
    """One Adam (decoupled=False) or AdamW (decoupled=True) step, updating everything in place.

    param, grad, exp_avg (m), exp_avg_sq (v): same shape; step: 1 on the first update.
    Adam adds weight_decay * param to the gradient (L2); AdamW shrinks param directly.
    """
    if weight_decay and decoupled:
        param *= 1 - lr * weight_decay
    elif weight_decay:
        grad = grad + weight_decay * param
    exp_avg *= beta1
    exp_avg += (1 - beta1) * grad
    exp_avg_sq *= beta2
    exp_avg_sq += (1 - beta2) * grad * grad
    xp = array_module(param)
    bias_correction1 = 1 - beta1**step
    bias_correction2 = 1 - beta2**step
    denom = xp.sqrt(exp_avg_sq) / np.sqrt(bias_correction2) + eps
    param -= (lr / bias_correction1) * exp_avg / denom
