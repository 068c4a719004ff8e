"""One small example of every differentiable op, for ``tinynet gradcheck`` (and for the tests that make sure
no op is left out of it).

Each entry is (name, fn, inputs, options): ``tn.gradcheck(fn, inputs, **options)`` checks fn's gradients with
respect to every input that requires grad, in float64, against finite differences.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from tinynet import functions as ops
from tinynet.functions import attention, conv, dropout, embedding, losses, normalization, pooling, recurrent
from tinynet.nn.functional import linear
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
        ("cast", lambda a: a.float() * 1.0, [x(3)]),  # float32 inside: checked with a coarser step
        # reductions
        ("sum", lambda a: a.sum(dim=1), [x(2, 3)]),
        ("mean", lambda a: a.mean(dim=(0, 2), keepdim=True), [x(2, 3, 2)]),
        ("max", lambda a: a.max(dim=0).values, [x(3, 4)]),
        ("var", lambda a: a.var(dim=1), [x(2, 4)]),
        # shapes and indexing
        ("reshape", lambda a: a.reshape(3, 2) * 2, [x(2, 3)]),
        ("permute", lambda a: a.permute(2, 0, 1) * 2, [x(2, 3, 4)]),
        ("broadcast_to", lambda a: a.broadcast_to((2, 3)) * 1, [x(3)]),
        ("getitem", lambda a: a[constant(np.array([0, 2, 0])), 1:], [x(3, 3)]),
        ("cat", lambda a, b: ops.cat([a, b], 1), [x(2, 1), x(2, 3)]),
        ("stack", lambda a, b: ops.stack([a, b], 0), [x(2, 3), x(2, 3)]),
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
        # layers
        ("conv1d", lambda a, w, b: conv.conv1d(a, w, b, stride=2, padding=1), [x(2, 2, 7), x(3, 2, 3), x(3)]),
        ("conv2d", lambda a, w: conv.conv2d(a, w, padding=1, dilation=(1, 2)), [x(1, 2, 4, 5), x(2, 2, 2, 2)]),
        ("conv_transpose2d", lambda a, w: conv.conv_transpose2d(a, w, stride=2), [x(1, 2, 3, 3), x(2, 1, 2, 2)]),
        ("max_pool2d", lambda a: pooling.max_pool2d(a, 2), [x(1, 2, 4, 4)]),
        ("avg_pool2d", lambda a: pooling.avg_pool2d(a, 2, padding=1), [x(1, 1, 4, 3)]),
        ("upsample_nearest", lambda a: pooling.upsample_nearest(a, scale_factor=2), [x(1, 1, 2, 3)]),
        ("layer_norm", lambda a, w, b: normalization.layer_norm(a, (4,), w, b), [x(3, 4), x(4), x(4)]),
        (
            "batch_norm",
            lambda a, w, b: normalization.batch_norm(a, None, None, w, b, training=True),
            [x(4, 3), x(3), x(3)],
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
    ]
    coarse = {"cast": dict(eps=1e-3, rtol=1e-2, atol=1e-4)}  # float32 rounds a step of 1e-6 away
    return [(name, fn, inputs, coarse.get(name, {})) for name, fn, inputs in ops_and_inputs]
