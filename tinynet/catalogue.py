"""One small example of every differentiable op, for ``tinynet gradcheck`` (and for the tests that make sure
no op is left out of it).

Each entry is (name, fn, inputs, options): ``tn.gradcheck(fn, inputs, **options)`` checks fn's gradients with
respect to every input that requires grad, in float64, against finite differences.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from tinynet import functions as ops
from tinynet.functions import (
    activations_piecewise,
    activations_smooth,
    adaptive_pooling,
    attention,
    conv,
    distance,
    dropout,
    embedding,
    losses,
    normalization,
    padding,
    pooling,
    recurrent,
    resize,
)
from tinynet.nn.functional import linear
from tinynet.nn.functional_more import group_norm
from tinynet.tensor import Tensor, float64, tensor

Case = tuple[str, Callable[..., Tensor], list[Tensor], dict]


def cases(seed: int = 0) -> list[Case]:
    """Every built-in differentiable op on small float64 inputs drawn from ``seed``."""
    rng = np.random.default_rng(seed)

    def x(*shape, low=None):
        values = rng.standard_normal(shape) if low is None else rng.uniform(low, low + 1.5, shape)
        return tensor(values, dtype=float64, requires_grad=True)

    def constant(values):
        return tensor(values)

    labels = constant(np.array([0, 2, 1]))
    mask = constant(rng.random((3, 4)) < 0.7)
    ops_and_inputs = [
        # elementwise and broadcasting
        ("add", lambda a, b: a + b, [x(2, 3), x(3)]),
        ("sub", lambda a, b: a - b, [x(2, 1), x(1, 3)]),
        ("mul", lambda a, b: a * b, [x(2, 3), x(2, 3)]),
        ("div", lambda a, b: a / b, [x(2, 3), x(3, low=0.5)]),
        ("pow", lambda a, b: a**b, [x(2, 3, low=0.5), x(2, 3)]),
        ("neg", lambda a: -a, [x(4)]),
        ("exp", ops.exp, [x(4)]),
        ("log", ops.log, [x(4, low=0.5)]),
        ("sqrt", ops.sqrt, [x(4, low=0.5)]),
        ("abs", ops.abs, [x(4, low=0.5)]),
        ("clip", lambda a: ops.clip(a, -0.5, 0.5), [x(6)]),
        ("maximum", ops.maximum, [x(2, 3), x(2, 3)]),
        ("minimum", ops.minimum, [x(2, 3), x(3)]),
        ("where", lambda a, b: ops.where(mask, a, b), [x(3, 4), x(4)]),
        ("compare", lambda a, b: ops.where(a > b, a, b), [x(2, 3), x(2, 3)]),
        ("cast", lambda a: a.float() * 1.0, [x(3)]),  # float32 inside: checked with a coarser step
        # reductions
        ("sum", lambda a: a.sum(dim=1), [x(2, 3)]),
        ("mean", lambda a: a.mean(dim=(0, 2), keepdim=True), [x(2, 3, 2)]),
        ("max", lambda a: a.max(dim=0).values, [x(3, 4)]),
        ("var", lambda a: a.var(dim=1), [x(2, 4)]),
        # reductions, scans and sorts (family B)
        ("amax", lambda a: a.amax(dim=(0, 2)), [x(2, 3, 2)]),
        ("nansum", lambda a: a.nansum(dim=0), [x(3, 2)]),
        ("prod", lambda a: a.prod(dim=1), [x(2, 3)]),
        ("logsumexp", lambda a: a.logsumexp(1), [x(2, 4)]),
        ("std", lambda a: a.std(dim=0), [x(3, 2)]),
        ("norm", lambda a: a.norm(p=3, dim=1), [x(2, 3, low=0.5)]),
        ("median", lambda a: a.median(), [x(5)]),
        ("sort", lambda a: a.sort(dim=1, descending=True).values * tensor(np.arange(4.0), dtype=float64), [x(2, 4)]),
        ("cumsum", lambda a: a.cumsum(0), [x(3, 2)]),
        ("cumprod", lambda a: a.cumprod(1), [x(2, 4)]),
        ("logcumsumexp", lambda a: a.logcumsumexp(1), [x(2, 4)]),
        # shapes and indexing
        ("reshape", lambda a: a.reshape(3, 2) * 2, [x(2, 3)]),
        ("permute", lambda a: a.permute(2, 0, 1) * 2, [x(2, 3, 4)]),
        ("broadcast_to", lambda a: a.broadcast_to((2, 3)) * 1, [x(3)]),
        ("getitem", lambda a: a[constant(np.array([0, 2, 0])), 1:], [x(3, 3)]),
        ("setitem", lambda a, v: ops.shape.set_item(a, (1, slice(0, 2)), v), [x(3, 3), x(1, 2)]),
        (
            "setitem_by_mask",
            lambda a, v: ops.shape.set_item(a, constant(np.array([True, False, True])), v),
            [x(3, 2), x(2)],
        ),
        ("cat", lambda a, b: ops.cat([a, b], 1), [x(2, 1), x(2, 3)]),
        ("stack", lambda a, b: ops.stack([a, b], 0), [x(2, 3), x(2, 3)]),
        # shapes: PyTorch's index layout, copies, rearranging, diagonals, einsum (axes, rearrange, matrices...)
        ("getitem_int_then_list", lambda a: a[1, :, [0, 2, 0]], [x(2, 3, 4)]),
        ("clone", lambda a: ops.clone(a) * 2, [x(2, 3)]),
        ("repeat", lambda a: a.repeat(2, 1, 3), [x(2, 3)]),
        ("repeat_interleave", lambda a: a.repeat_interleave(constant(np.array([2, 0, 1])), dim=1), [x(2, 3)]),
        ("flip", lambda a: ops.flip(a, (0, 1)) * 2, [x(2, 3)]),
        ("roll", lambda a: ops.roll(a, (1, -2), (0, 1)), [x(2, 3)]),
        ("unfold", lambda a: a.unfold(1, 2, 1), [x(2, 4)]),
        ("diagonal", lambda a: ops.diagonal(a, 1, 0, 2), [x(3, 2, 4)]),
        ("diag_embed", lambda a: ops.diag_embed(a, -1), [x(2, 3)]),
        ("tril", lambda a: ops.tril(a, -1) + ops.triu(a, 1), [x(3, 4)]),
        ("einsum", lambda a, b: ops.einsum("bij,jk->bki", a, b), [x(2, 3, 4), x(4, 2)]),
        ("einsum_diagonal", lambda a, b: ops.einsum("iij,j", a, b), [x(3, 3, 2), x(2)]),
        # linear algebra
        ("matmul", lambda a, b: a @ b, [x(2, 3, 4), x(4, 2)]),
        ("linear", lambda a, w, b: linear(a, w, b), [x(3, 4), x(2, 4), x(2)]),
        # activations
        ("relu", ops.relu, [x(6)]),
        ("sigmoid", ops.sigmoid, [x(6)]),
        ("tanh", ops.tanh, [x(6)]),
        ("leaky_relu", lambda a: ops.leaky_relu(a, 0.1), [x(6)]),
        ("elu", ops.elu, [x(6)]),
        ("gelu", ops.gelu, [x(6)]),
        ("softplus", ops.softplus, [x(6)]),
        ("softmax", lambda a: ops.softmax(a, 1), [x(2, 5)]),
        ("log_softmax", lambda a: ops.log_softmax(a, 0), [x(4, 3)]),
        # losses
        ("cross_entropy", lambda a: losses.cross_entropy(a, labels), [x(3, 4)]),
        ("mse_loss", lambda a, t: losses.mse_loss(a, t), [x(3, 4), x(3, 4)]),
        ("mse_loss_sum", lambda a, t: losses.mse_loss(a, t, reduction="sum"), [x(2, 3), x(2, 3)]),
        (
            "binary_cross_entropy",
            lambda p: losses.binary_cross_entropy(p, constant(np.array([0.0, 1.0, 1.0]))),
            [tensor(rng.uniform(0.1, 0.9, 3), dtype=float64, requires_grad=True)],
        ),
        (
            "bce_with_logits",
            lambda a: losses.binary_cross_entropy_with_logits(a, constant(np.array([0.0, 1.0]))),
            [x(2)],
        ),
        # losses: class weights, ignored targets, smoothing, pos_weight (family G)
        (
            "nll_weighted_ignored",
            lambda a: losses.nll_loss(
                a, constant(np.array([0, 2, -100])), weight=tensor([0.5, 2.0, 1.0], dtype=float64)
            ),
            [x(3, 3)],
        ),
        (
            "cross_entropy_smoothed",
            lambda a: losses.cross_entropy(a, constant(np.array([[0, 1], [2, 0]])), label_smoothing=0.2),
            [x(2, 3, 2)],
        ),
        (
            "bce_with_logits_pos_weight",
            lambda a, t: losses.binary_cross_entropy_with_logits(a, t, pos_weight=constant(np.array([2.0, 0.5]))),
            [x(3, 2), x(3, 2, low=0.0)],
        ),
        # layers
        ("conv1d", lambda a, w, b: conv.conv1d(a, w, b, stride=2, padding=1), [x(2, 2, 7), x(3, 2, 3), x(3)]),
        ("conv2d", lambda a, w: conv.conv2d(a, w, padding=1, dilation=(1, 2)), [x(1, 2, 4, 5), x(2, 2, 2, 2)]),
        ("conv_transpose2d", lambda a, w: conv.conv_transpose2d(a, w, stride=2), [x(1, 2, 3, 3), x(2, 1, 2, 2)]),
        # convolution options (groups, padding="same", 1-D and 3-D) and padding
        (
            "conv2d_groups_same",
            lambda a, w: conv.conv2d(a, w, padding="same", groups=2),
            [x(1, 4, 4, 5), x(2, 2, 2, 3)],
        ),
        (
            "conv2d_depthwise",
            lambda a, w, b: conv.conv2d(a, w, b, stride=2, padding=1, groups=3),
            [x(2, 3, 5, 4), x(6, 1, 3, 3), x(6)],
        ),
        ("conv1d_depthwise", lambda a, w: conv.conv1d(a, w, padding=1, groups=2), [x(2, 2, 6), x(2, 1, 3)]),
        (
            "conv3d",
            lambda a, w, b: conv.conv3d(a, w, b, stride=(2, 1, 1), padding=1, groups=2),
            [x(1, 2, 4, 3, 3), x(2, 1, 2, 2, 2), x(2)],
        ),
        (
            "conv_transpose1d",
            lambda a, w, b: conv.conv_transpose1d(a, w, b, stride=2, output_padding=1, groups=2),
            [x(2, 2, 4), x(2, 1, 3), x(2)],
        ),
        (
            "conv_transpose3d",
            lambda a, w: conv.conv_transpose3d(a, w, stride=(2, 1, 1), padding=(1, 0, 0), dilation=(1, 1, 2)),
            [x(1, 2, 2, 2, 3), x(2, 1, 2, 2, 2)],
        ),
        ("pad_constant", lambda a: padding.pad(a, (1, -1, 2, 0), value=0.5), [x(2, 3, 4)]),
        ("pad_reflect", lambda a: padding.pad(a, (2, 1, 1, 0), mode="reflect"), [x(1, 3, 4)]),
        ("pad_circular", lambda a: padding.pad(a, (2, -1), mode="circular"), [x(2, 3)]),
        ("max_pool2d", lambda a: pooling.max_pool2d(a, 2), [x(1, 2, 4, 4)]),
        ("avg_pool2d", lambda a: pooling.avg_pool2d(a, 2, padding=1), [x(1, 1, 4, 3)]),
        # pooling options, adaptive pooling, unpooling, resizing (family F2)
        ("max_pool2d_dilated_ceil", lambda a: pooling.max_pool2d(a, 2, 2, 1, 2, True), [x(1, 2, 5, 4)]),
        ("avg_pool2d_exclude_pad", lambda a: pooling.avg_pool2d(a, 3, 2, 1, True, False), [x(1, 1, 4, 5)]),
        ("adaptive_avg_pool2d", lambda a: adaptive_pooling.adaptive_avg_pool2d(a, (2, 3)), [x(1, 2, 5, 4)]),
        (
            "max_unpool2d",
            lambda a: adaptive_pooling.max_unpool2d(a, tensor(np.array([[[[0, 3], [9, 14]]]])), 2),
            [x(1, 1, 2, 2)],
        ),
        ("upsample_nearest", lambda a: resize.upsample_nearest(a, scale_factor=2), [x(1, 1, 2, 3)]),
        ("interpolate_bicubic", lambda a: resize.interpolate(a, (3, 5), mode="bicubic"), [x(1, 1, 4, 3)]),
        ("layer_norm", lambda a, w, b: normalization.layer_norm(a, (4,), w, b), [x(3, 4), x(4), x(4)]),
        ("group_norm", lambda a, w, b: group_norm(a, 2, w, b), [x(2, 4, 3), x(4), x(4)]),
        (
            "batch_norm",
            lambda a, w, b: normalization.batch_norm(a, None, None, w, b, training=True),
            [x(4, 3), x(3), x(3)],
        ),
        (
            "batch_norm_eval",
            lambda a, w, b: normalization.batch_norm(
                a, constant(np.array([0.1, -0.2, 0.3])), constant(np.array([0.5, 1.0, 2.0])), w, b, training=False
            ),
            [x(4, 3, 2), x(3), x(3)],
        ),
        ("embedding", lambda w: embedding.embedding(constant(np.array([[1, 0], [1, 3]])), w), [x(4, 3)]),
        ("dropout_eval", lambda a: dropout.dropout(a, 0.5, training=False), [x(4)]),
        (
            "attention",
            lambda q, k, v: attention.scaled_dot_product_attention(q, k, v, mask),
            [x(3, 2), x(4, 2), x(4, 3)],
        ),
        (
            "attention_causal",
            lambda q, k, v: attention.scaled_dot_product_attention(q, k, v, is_causal=True),
            [x(2, 3, 2), x(2, 3, 2), x(2, 3, 2)],
        ),
        (
            "masked_attention_mask_grad",
            lambda q, k, v, m: attention.scaled_dot_product_attention(q, k, v, m),
            [x(3, 2), x(4, 2), x(4, 3), x(3, 4)],
        ),
        ("packed_self_attention", lambda qkv: attention.packed_self_attention(qkv, 2, is_causal=True), [x(2, 3, 12)]),
        (
            "attention_with_weights",  # the averaged weights MultiheadAttention returns, beside its output
            lambda q, k, v: attention.attention_with_weights(q, k, v, None, True)[1],
            [x(1, 2, 3, 2), x(1, 2, 4, 2), x(1, 2, 4, 3)],
        ),
        (
            "rnn_sequence",
            lambda gi, w, b, h0: recurrent.rnn_sequence(gi, w, b, h0),
            [x(3, 2, 4), x(4, 4), x(4), x(2, 4)],
        ),
        ("gru_sequence", lambda gi, w, b: recurrent.gru_sequence(gi, w, b), [x(3, 2, 6), x(6, 2), x(6)]),
        (
            "lstm_sequence",
            lambda gi, w, h0, c0: recurrent.lstm_sequence(gi, w, None, h0, c0)[0],
            [x(3, 2, 8), x(8, 2), x(2, 2), x(2, 2)],
        ),
        (
            "cell_step",  # one LSTMCell call: (h', c') stacked
            lambda a, w_ih, b_ih, w_hh, h, c: recurrent.cell_step("lstm", a, w_ih, b_ih, w_hh, None, h, c),
            [x(2, 3), x(8, 3), x(8), x(8, 2), x(2, 2), x(2, 2)],
        ),
        (
            "cell_step_rnn",  # one RNNCell call (relu), no biases
            lambda a, w_ih, w_hh, h: recurrent.cell_step("rnn", a, w_ih, None, w_hh, None, h, None, "relu"),
            [x(2, 3), x(2, 3), x(2, 2), x(2, 2)],
        ),
        (
            "cell_step_gru",  # one GRUCell call from zeros
            lambda a, w_ih, w_hh, b_hh: recurrent.cell_step("gru", a, w_ih, None, w_hh, b_hh, None),
            [x(2, 3), x(6, 3), x(6, 2), x(6)],
        ),
        # more activations, and distances (family E)
        ("silu", activations_smooth.silu, [x(6)]),
        ("mish", activations_smooth.mish, [x(6)]),
        ("gelu_tanh", lambda a: ops.gelu(a, approximate="tanh"), [x(6)]),
        ("logsigmoid", activations_smooth.logsigmoid, [x(6)]),
        ("softsign", activations_smooth.softsign, [x(6)]),
        ("glu", lambda a: activations_smooth.glu(a, 0), [x(4, 3)]),
        ("selu", ops.selu, [x(6)]),
        ("celu", lambda a: ops.celu(a, 0.7), [x(6)]),
        ("hardtanh", lambda a: activations_piecewise.hardtanh(a, -0.5, 0.8), [x(6)]),
        ("hardswish", activations_piecewise.hardswish, [x(6)]),
        ("hardsigmoid", activations_piecewise.hardsigmoid, [x(6)]),
        ("threshold", lambda a: activations_piecewise.threshold(a, 0.1, -2.0), [x(6)]),
        ("softshrink", lambda a: activations_piecewise.softshrink(a, 0.3), [x(6)]),
        ("hardshrink", lambda a: activations_piecewise.hardshrink(a, 0.3), [x(6)]),
        ("prelu", activations_piecewise.prelu, [x(2, 3, 4), x(3)]),
        ("normalize", lambda a: distance.normalize(a, p=3.0, dim=1), [x(3, 4)]),
        ("cosine_similarity", lambda a, b: distance.cosine_similarity(a, b, dim=-1), [x(2, 3), x(3)]),
        ("pairwise_distance", distance.pairwise_distance, [x(3, 4), x(3, 4)]),
        ("cdist", lambda a, b: distance.cdist(a, b, p=3.0), [x(2, 3), x(4, 3)]),
        # gathering and scattering by index, and by mask (family C2)
        ("gather", lambda a: a.gather(1, constant(np.array([[0, 2, 0], [1, 1, 3]]))), [x(2, 4)]),
        ("scatter", lambda a, s: a.scatter(1, constant(np.array([[0, 2], [3, 1]])), s), [x(2, 4), x(2, 3)]),
        (
            "scatter_add",
            lambda a, s: a.scatter_add(0, constant(np.array([[0, 2, 0], [0, 1, 2]])), s),
            [x(3, 3), x(2, 3)],
        ),
        *[
            (
                f"scatter_reduce_{reduce}",
                lambda a, s, r=reduce: a.scatter_reduce(
                    1, constant(np.array([[0, 0, 2]] * 2)), s, r, include_self=r != "mean"
                ),
                [x(2, 3), x(2, 3)],
            )
            for reduce in ("mean", "amax", "prod")
        ],
        ("masked_fill", lambda a, v: a.masked_fill(mask, v), [x(3, 4), x()]),
        ("masked_select", lambda a: a.masked_select(mask), [x(3, 4)]),
        ("masked_scatter", lambda a, s: a.masked_scatter(mask, s), [x(3, 4), x(12)]),
        # elementwise math: trigonometry, logs, rounding, remainders, two-operand math (family A)
        *[(name, getattr(ops, name), [x(2, 3)]) for name in "sin cos atan sinh cosh asinh exp2 expm1".split()],
        *[(name, getattr(ops, name), [x(2, 3)]) for name in "square erf erfc floor ceil trunc frac sign".split()],
        *[(name, getattr(ops, name), [x(2, 3, low=-0.7)]) for name in "tan asin acos atanh erfinv".split()],
        *[(name, getattr(ops, name), [x(2, 3, low=0.5)]) for name in "log2 log10 rsqrt reciprocal".split()],
        ("acosh", ops.acosh, [x(2, 3, low=1.2)]),
        ("log1p", ops.log1p, [x(2, 3, low=-0.5)]),
        ("round", lambda a: ops.round(a, decimals=1), [x(2, 3)]),
        ("nan_to_num", lambda a: ops.nan_to_num(ops.log2(a)), [x(2, 3)]),  # NaN where a < 0
        ("remainder", ops.remainder, [x(2, 3), x(3, low=0.5)]),
        ("fmod", ops.fmod, [x(2, 3), x(3, low=-2.0)]),
        ("floor_divide", ops.floor_divide, [x(2, 3), x(3, low=0.5)]),
        ("hypot", ops.hypot, [x(2, 3), x(3)]),
        ("atan2", ops.atan2, [x(2, 3), x(2, 1)]),
        ("copysign", ops.copysign, [x(2, 3), x(3)]),
        ("xlogy", ops.xlogy, [x(2, 3), x(3, low=0.5)]),
        ("logaddexp", ops.logaddexp, [x(2, 3), x(3)]),
        ("lerp", ops.lerp, [x(2, 3), x(3), x(2, 1)]),
    ]
    coarse = {"cast": dict(eps=1e-3, rtol=1e-2, atol=1e-4)}  # float32 rounds a step of 1e-6 away
    return [(name, fn, inputs, coarse.get(name, {})) for name, fn, inputs in ops_and_inputs]
