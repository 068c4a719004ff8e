"""ONNX mappings of the layers' ops: linear, matmul, convolutions, pooling, normalization, embedding, attention."""

from __future__ import annotations

import numpy as np

from tinynet.onnx.graph import Builder, mapping
from tinynet.onnx.ops_pointwise import _reduce
from tinynet.onnx.ops_shape import reshape_target

# --- products ---------------------------------------------------------------------------------------------


@mapping("Linear")
def _linear(b: Builder, args, out, op: str = ""):
    # y = x Wᵀ + b: one Gemm for a batch of rows, else MatMul with Wᵀ (and Add) for any leading axes.
    x, weight, bias = args
    bias_value = None if bias is None else b.value(bias)
    if x.ndim == 2:
        return b.node("Gemm", [b.value(x), b.value(weight), bias_value], transB=1)
    product = b.node("MatMul", [b.value(x), b.node("Transpose", [b.value(weight)], perm=[1, 0])])
    return product if bias is None else b.node("Add", [product, bias_value])


@mapping("Matmul")
def _matmul(b: Builder, args, out, op: str = ""):
    # ONNX's MatMul is NumPy's matmul, as the op's forward: vectors and broadcast batches included.
    return b.node("MatMul", [b.value(args[0]), b.value(args[1])])


# --- convolutions and pooling -----------------------------------------------------------------------------


def _window(stride, padding, dilation=None) -> dict:
    """ONNX's window attributes from the op's per-axis tuples (padding symmetric: before = after)."""
    attributes = {"strides": [int(s) for s in stride], "pads": [int(p) for p in padding] * 2}
    if dilation is not None:
        attributes["dilations"] = [int(d) for d in dilation]
    return attributes


@mapping("Conv1d", "Conv2d", "Conv3d")
def _conv(b: Builder, args, out, op: str = ""):
    x, weight, bias, stride, padding, dilation, *groups = args
    inputs = [b.value(x), b.value(weight), None if bias is None else b.value(bias)]
    kernel = [int(k) for k in weight.shape[2:]]
    groups = int(groups[0]) if groups else 1
    return b.node("Conv", inputs, kernel_shape=kernel, group=groups, **_window(stride, padding, dilation))


@mapping("ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d")
def _conv_transpose(b: Builder, args, out, op: str = ""):
    # ONNX's output size is PyTorch's: (in - 1) stride - 2 padding + dilation (k - 1) + output_padding + 1.
    x, weight, bias, stride, padding, output_padding, dilation, *groups = args
    inputs = [b.value(x), b.value(weight), None if bias is None else b.value(bias)]
    kernel = [int(k) for k in weight.shape[2:]]
    groups = int(groups[0]) if groups else 1
    return b.node(
        "ConvTranspose", inputs, kernel_shape=kernel, group=groups,
        output_padding=[int(p) for p in output_padding], **_window(stride, padding, dilation),
    )  # fmt: skip


@mapping("MaxPool2d")
def _max_pool(b: Builder, args, out, op: str = ""):
    # (1-D pools run as 2-D ones on a (N, C, 1, L) image, between an unsqueeze and a squeeze.)
    x, kernel, stride, padding = args
    return b.node("MaxPool", [b.value(x)], kernel_shape=[int(k) for k in kernel], **_window(stride, padding))


@mapping("AvgPool2d")
def _avg_pool(b: Builder, args, out, op: str = ""):
    # This op is the pool whose zero padding counts in every window's mean (count_include_pad=True).
    x, kernel, stride, padding = args
    window = _window(stride, padding)
    return b.node("AveragePool", [b.value(x)], kernel_shape=[int(k) for k in kernel], count_include_pad=1, **window)


# --- normalization ----------------------------------------------------------------------------------------


@mapping("LayerNorm")
def _layer_norm(b: Builder, args, out, op: str = ""):
    x, weight, bias, n, eps = args
    # LayerNormalization needs a scale: ones where the model has none.
    features = tuple(x.shape[x.ndim - n :])
    scale = b.value(weight) if weight is not None else b.constant(np.ones(features, dtype=out.dtype), "ones")
    shift = None if bias is None else b.value(bias)
    return b.node("LayerNormalization", [b.value(x), scale, shift], axis=-int(n), epsilon=float(eps))


@mapping("BatchNorm")
def _batch_norm(b: Builder, args, out, op: str = ""):
    # Batch norm with the batch's own statistics (training, or track_running_stats=False): each channel's mean and
    # biased variance over every other axis, then its scale and shift. (Evaluation is ChannelAffine, below; the
    # running statistics' update is training's, not the graph's.)
    x, weight, bias, _running_mean, _running_var, _momentum, eps = args
    axes = [0, *range(2, x.ndim)]
    value = b.value(x)
    centred = b.node("Sub", [value, _reduce(b, "ReduceMean", x, axes, True)])
    variance = _reduce_value(b, "ReduceMean", b.node("Mul", [centred, centred]), axes)
    std = b.node("Sqrt", [b.node("Add", [variance, b.scalar(eps, out.dtype)])])
    return _scale_and_shift(b, b.node("Div", [centred, std]), x.ndim, weight, bias)


@mapping("GroupNorm")
def _group_norm(b: Builder, args, out, op: str = ""):
    # Each sample's groups as rows, (N, groups, rest): their mean and biased variance, back to x's shape, then each
    # channel's scale and shift (instance norm is this with a group per channel).
    x, weight, bias, groups, eps = args
    rows = b.node("Reshape", [b.value(x), b.ints([0, int(groups), -1], "groups")])
    centred = b.node("Sub", [rows, _reduce_value(b, "ReduceMean", rows, [2])])
    variance = _reduce_value(b, "ReduceMean", b.node("Mul", [centred, centred]), [2])
    std = b.node("Sqrt", [b.node("Add", [variance, b.scalar(eps, out.dtype)])])
    back = reshape_target((x.shape[0], int(groups), x.numel() // max(x.shape[0] * int(groups), 1)), tuple(x.shape))
    normalized = b.node("Reshape", [b.node("Div", [centred, std]), b.ints(back, "shape")])
    return _scale_and_shift(b, normalized, x.ndim, weight, bias)


@mapping("ChannelAffine")
def _channel_affine(b: Builder, args, out, op: str = ""):
    # x * scale + shift per channel (batch norm in evaluation, group and instance norm's weight and bias).
    x, scale, shift = args
    return _scale_and_shift(b, b.value(x), x.ndim, scale, shift)


def _scale_and_shift(b: Builder, value: str, ndim: int, scale, shift) -> str:
    """value * scale + shift with (C,) vectors (either may be None) over (N, C, ...): reshaped to (1, C, 1, ...)."""
    for vector, op_type in ((scale, "Mul"), (shift, "Add")):
        if vector is not None:
            per_channel = b.ints([1, vector.shape[0], *(1,) * (ndim - 2)], "per_channel")
            value = b.node(op_type, [value, b.node("Reshape", [b.value(vector), per_channel])])
    return value


def _reduce_value(b: Builder, op_type: str, value: str, axes: list) -> str:
    if b.opset >= 18:
        return b.node(op_type, [value, b.ints(axes, "axes")], keepdims=1)
    return b.node(op_type, [value], axes=axes, keepdims=1)


# --- lookup and attention ---------------------------------------------------------------------------------


@mapping("Embedding")
def _embedding(b: Builder, args, out, op: str = ""):
    weight, indices, _padding_idx = args  # (padding_idx only changes the gradient)
    return b.node("Gather", [b.value(weight), b.value(indices)], axis=0)


def _masked_probabilities(b: Builder, scores: str, mask, dtype) -> str:
    """Softmax over the last axis among the keys the bool mask allows; 0 where it allows none (as the op does;
    a plain softmax of all -inf would give NaN there)."""
    if mask is None:
        return b.node("Softmax", [scores], axis=-1)
    allowed = b.value(mask, np.bool_)
    masked = b.node("Where", [allowed, scores, b.scalar(-np.inf, dtype)])
    return b.node("Where", [allowed, b.node("Softmax", [masked], axis=-1), b.scalar(0, dtype)])


@mapping("MaskedSoftmax")
def _masked_softmax(b: Builder, args, out, op: str = ""):
    scores, mask = args
    return _masked_probabilities(b, b.value(scores), mask, out.dtype)


@mapping("Attention")
def _attention(b: Builder, args, out, op: str = ""):
    # softmax(q kᵀ · scale (+ mask)) v as MatMul, Softmax and MatMul.
    q, k, v, mask, scale = args
    dtype, rank = out.dtype, k.ndim
    perm = [*range(rank - 2), rank - 1, rank - 2]
    scores = b.node("MatMul", [b.value(q), b.node("Transpose", [b.value(k)], perm=perm)])
    scores = b.node("Mul", [scores, b.scalar(scale, dtype)])
    if mask is not None and np.dtype(mask.dtype) != np.bool_:
        scores = b.node("Add", [scores, b.value(mask, dtype)])
        probs = b.node("Softmax", [scores], axis=-1)
        # A row the float mask closes entirely (all -inf) gives weights 0, as the op does, not NaN.
        probs = b.node("Where", [b.node("IsNaN", [probs]), b.scalar(0, dtype), probs])
    else:
        probs = _masked_probabilities(b, scores, mask, dtype)
    return b.node("MatMul", [probs, b.value(v)])
