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
    "rnn_sequence_forward",
    "rnn_sequence_backward",
    "gru_sequence_forward",
    "gru_sequence_backward",
    "lstm_sequence_forward",
    "lstm_sequence_backward",
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
    if x.size == 0:  # no values: no max to take, nothing to compute
        return x.copy()
    e = xp.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def softmax_backward(grad_y, y, axis):
    """dL/dx = y * (dL/dy - sum(dL/dy * y)) along axis (the softmax Jacobian, applied)."""
    return y * (grad_y - (grad_y * y).sum(axis=axis, keepdims=True))


def log_softmax_forward(x, axis):
    """y = x - logsumexp(x) along axis, computed from the max-shifted x (stable)."""
    xp = array_module(x)
    if x.size == 0:
        return x.copy()
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
    scatter_add(table, indices.reshape(-1), grad.reshape(indices.size, dim))
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


# --- recurrent sequences --------------------------------------------------------------------
# One layer, one direction, the whole sequence in one call. gi: (T, N, gates*H) is the input's share of
# every gate at every step (x W_ih^T + b_ih, one matmul for the whole sequence, done by the caller), in
# the order the steps run: a reverse direction passes gi flipped in time. w_hh: (gates*H, H); b_hh:
# (gates*H,) or None; h0 (and c0): (N, H) or None for zeros. The forwards loop over time because each
# step needs the previous h; the backwards ("backpropagation through time") loop over time in reverse,
# carrying dL/dh back one step at a time, and form grad_w_hh with one matmul over every step at the end.


def _initial_state(state, like):
    """The initial state, or zeros (N, H) shaped like one step of ``like`` (T, N, H) when None."""
    return array_module(like).zeros_like(like[0]) if state is None else state.astype(like.dtype, copy=False)


def _previous_states(out, h0):
    """h_{t-1} for every step t: h0, then out[:-1]. out: (T, N, H) -> (T, N, H)."""
    xp = array_module(out)
    return xp.concatenate([_initial_state(h0, out)[None], out[:-1]])


def _recurrent_weight_grads(grad_gh, h_prev, b_hh):
    """grad_w_hh = sum over t, n of grad_gh^T h_prev (one matmul); grad_b_hh = sum of grad_gh (None without bias).

    grad_gh: (T, N, gates*H), dL/d(h_{t-1} W_hh^T + b_hh); h_prev: (T, N, H).
    """
    rows = grad_gh.shape[0] * grad_gh.shape[1]
    grad_w_hh = grad_gh.reshape(rows, -1).T @ h_prev.reshape(rows, -1)
    return grad_w_hh, None if b_hh is None else grad_gh.sum(axis=(0, 1))


def rnn_sequence_forward(gi, w_hh, b_hh, h0, nonlinearity):
    """An Elman RNN over a sequence: h_t = act(gi_t + h_{t-1} W_hh^T + b_hh), act "tanh" or "relu".

    gi: (T, N, H), w_hh: (H, H), b_hh: (H,) or None, h0: (N, H) or None -> out (T, N, H): h_1 .. h_T.
    Backward needs nothing more than out (act' is 1 - h^2 for tanh, h > 0 for relu).
    """
    xp = array_module(gi)
    out = xp.empty(gi.shape, dtype=xp.result_type(gi, w_hh))
    h = _initial_state(h0, out)
    for t in range(gi.shape[0]):
        pre = gi[t] + h @ w_hh.T
        if b_hh is not None:
            pre = pre + b_hh
        h = relu_forward(pre) if nonlinearity == "relu" else xp.tanh(pre)
        out[t] = h
    return out


def rnn_sequence_backward(grad_out, grad_hT, gi, w_hh, b_hh, h0, out, nonlinearity):
    """Gradients of rnn_sequence_forward.

    grad_out: (T, N, H), dL/d(out) from later layers; grad_hT: (N, H) or None, extra dL/dh_T (from h_n);
    the rest as the forward got and returned them
    -> grad_gi (T, N, H), grad_w_hh (H, H), grad_b_hh (H,) or None, grad_h0 (N, H).
    Each step: dh_t = grad_out_t + (dh carried from t+1); da_t = dh_t * act'; dh_{t-1} = da_t W_hh.
    """
    xp = array_module(grad_out)
    grad_gi = xp.empty_like(out)
    dh = xp.zeros_like(out[0]) if grad_hT is None else grad_hT
    for t in reversed(range(out.shape[0])):
        dh = dh + grad_out[t]
        h = out[t]
        grad_gi[t] = dh * (h > 0) if nonlinearity == "relu" else dh * (1 - h * h)
        dh = grad_gi[t] @ w_hh
    # The recurrent pre-activation is gi + h W^T + b: its gradient is grad_gi for W and b too.
    grad_w_hh, grad_b_hh = _recurrent_weight_grads(grad_gi, _previous_states(out, h0), b_hh)
    return grad_gi, grad_w_hh, grad_b_hh, dh


def gru_sequence_forward(gi, w_hh, b_hh, h0):
    """A GRU over a sequence, PyTorch's equations. With gh = h_{t-1} W_hh^T + b_hh split into r, z, n parts:

    r = σ(gi_r + gh_r), z = σ(gi_z + gh_z), n = tanh(gi_n + r ⊙ gh_n), h_t = (1 - z) ⊙ n + z ⊙ h_{t-1}.
    gi: (T, N, 3H), w_hh: (3H, H), b_hh: (3H,) or None, h0: (N, H) or None
    -> out (T, N, H): h_1 .. h_T; saved (T, N, 4H): r, z, n and gh_n at every step, for backward.
    """
    xp = array_module(gi)
    length, batch, size = gi.shape[0], gi.shape[1], w_hh.shape[1]
    dtype = xp.result_type(gi, w_hh)
    out = xp.empty((length, batch, size), dtype=dtype)
    saved = xp.empty((length, batch, 4 * size), dtype=dtype)
    h = _initial_state(h0, out)
    for t in range(length):
        gh = h @ w_hh.T
        if b_hh is not None:
            gh = gh + b_hh
        rz = sigmoid_forward(gi[t, :, : 2 * size] + gh[:, : 2 * size])
        r, z = rz[:, :size], rz[:, size:]
        n = xp.tanh(gi[t, :, 2 * size :] + r * gh[:, 2 * size :])
        h = n + z * (h - n)
        out[t] = h
        saved[t] = xp.concatenate([rz, n, gh[:, 2 * size :]], axis=1)
    return out, saved


def gru_sequence_backward(grad_out, grad_hT, gi, w_hh, b_hh, h0, out, saved):
    """Gradients of gru_sequence_forward, from its out and saved.

    grad_out: (T, N, H), dL/d(out); grad_hT: (N, H) or None, extra dL/dh_T; the rest as the forward got
    and returned them -> grad_gi (T, N, 3H), grad_w_hh (3H, H), grad_b_hh (3H,) or None, grad_h0 (N, H).
    Each step, with dh = dL/dh_t: dn = dh (1 - z), dz = dh (h_{t-1} - n), and through the activations
    da_n = dn (1 - n^2), da_z = dz z (1 - z), da_r = (da_n ⊙ gh_n) r (1 - r). The gate pre-activations
    are gi + gh, except n's, which is gi_n + r ⊙ gh_n: so grad_gi = (da_r, da_z, da_n) while
    grad_gh = (da_r, da_z, r ⊙ da_n). Then dL/dh_{t-1} = dh z + grad_gh W_hh.
    """
    xp = array_module(grad_out)
    size = out.shape[2]
    h_prev = _previous_states(out, h0)
    grad_gi = xp.empty((*out.shape[:2], 3 * size), dtype=saved.dtype)
    grad_gh = xp.empty_like(grad_gi)
    dh = xp.zeros_like(out[0]) if grad_hT is None else grad_hT
    for t in reversed(range(out.shape[0])):
        dh = dh + grad_out[t]
        r, z, n, gh_n = (saved[t, :, k * size : (k + 1) * size] for k in range(4))
        da_n = dh * (1 - z) * (1 - n * n)
        da_z = dh * (h_prev[t] - n) * z * (1 - z)
        da_r = da_n * gh_n * r * (1 - r)
        grad_gi[t] = xp.concatenate([da_r, da_z, da_n], axis=1)
        grad_gh[t] = xp.concatenate([da_r, da_z, r * da_n], axis=1)
        dh = dh * z + grad_gh[t] @ w_hh
    grad_w_hh, grad_b_hh = _recurrent_weight_grads(grad_gh, h_prev, b_hh)
    return grad_gi, grad_w_hh, grad_b_hh, dh


def lstm_sequence_forward(gi, w_hh, b_hh, h0, c0):
    """An LSTM over a sequence, PyTorch's equations. With a = gi_t + h_{t-1} W_hh^T + b_hh split into i, f, g, o:

    i, f, o = σ(a_i), σ(a_f), σ(a_o), g = tanh(a_g), c_t = f ⊙ c_{t-1} + i ⊙ g, h_t = o ⊙ tanh(c_t).
    gi: (T, N, 4H), w_hh: (4H, H), b_hh: (4H,) or None, h0, c0: (N, H) or None
    -> out (T, N, H): h_1 .. h_T; c_T (N, H); saved (T, N, 5H): i, f, g, o and c_t at every step.
    """
    xp = array_module(gi)
    length, batch, size = gi.shape[0], gi.shape[1], w_hh.shape[1]
    dtype = xp.result_type(gi, w_hh)
    out = xp.empty((length, batch, size), dtype=dtype)
    saved = xp.empty((length, batch, 5 * size), dtype=dtype)
    h, c = _initial_state(h0, out), _initial_state(c0, out)
    for t in range(length):
        a = gi[t] + h @ w_hh.T
        if b_hh is not None:
            a = a + b_hh
        i, f, o = (sigmoid_forward(a[:, k * size : (k + 1) * size]) for k in (0, 1, 3))
        g = xp.tanh(a[:, 2 * size : 3 * size])
        c = f * c + i * g
        h = o * xp.tanh(c)
        out[t] = h
        saved[t] = xp.concatenate([i, f, g, o, c], axis=1)
    return out, c, saved


def lstm_sequence_backward(grad_out, grad_hT, grad_cT, gi, w_hh, b_hh, h0, c0, out, saved):
    """Gradients of lstm_sequence_forward, from its out and saved.

    grad_out: (T, N, H), dL/d(out); grad_hT, grad_cT: (N, H) or None, extra dL/dh_T and dL/dc_T; the rest
    as the forward got and returned them
    -> grad_gi (T, N, 4H), grad_w_hh (4H, H), grad_b_hh (4H,) or None, grad_h0 (N, H), grad_c0 (N, H).
    Each step, with dh = dL/dh_t and dc = dL/dc_t (carried from t+1): dc += dh o (1 - tanh(c_t)^2);
    do = dh tanh(c_t), di = dc g, dg = dc i, df = dc c_{t-1}; the pre-activations' gradient da is these
    times σ' or tanh'; it is grad_gi and grad_gh alike. Then dh_{t-1} = da W_hh and dc_{t-1} = dc f.
    """
    xp = array_module(grad_out)
    size = out.shape[2]
    c_prev = _previous_states(saved[..., 4 * size :], c0)
    grad_gi = xp.empty((*out.shape[:2], 4 * size), dtype=saved.dtype)
    dh = xp.zeros_like(out[0]) if grad_hT is None else grad_hT
    dc = xp.zeros_like(out[0]) if grad_cT is None else grad_cT
    for t in reversed(range(out.shape[0])):
        dh = dh + grad_out[t]
        i, f, g, o, c = (saved[t, :, k * size : (k + 1) * size] for k in range(5))
        tanh_c = xp.tanh(c)
        dc = dc + dh * o * (1 - tanh_c * tanh_c)
        grad_gi[t] = xp.concatenate(
            [dc * g * i * (1 - i), dc * c_prev[t] * f * (1 - f), dc * i * (1 - g * g), dh * tanh_c * o * (1 - o)],
            axis=1,
        )
        dh = grad_gi[t] @ w_hh
        dc = dc * f
    grad_w_hh, grad_b_hh = _recurrent_weight_grads(grad_gi, _previous_states(out, h0), b_hh)
    return grad_gi, grad_w_hh, grad_b_hh, dh, dc


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
