"""Dropout: during training, zero each value with probability p and scale the survivors by 1 / (1 - p).

The scaling ("inverted dropout") keeps every value's expected value unchanged, so evaluation needs
no correction: there dropout is simply the identity. dropout1d/2d/3d zero whole channels (every value of
one channel of one sample together), for convolutional features whose neighbours are correlated.
alpha_dropout is SELU's: dropped values become SELU's negative saturation value and an affine correction
keeps the mean and variance of the values unchanged. Masks come from the dropout_mask kernel, keyed by a draw of
tinynet's generator (``tn.manual_seed`` repeats them): value i is kept by a hash of i and the key, on every backend.
"""

import math
import warnings

import numpy as np

from tinynet import backend
from tinynet.errors import ArgumentError, ShapeError
from tinynet.functions.activation_checks import inplace_result
from tinynet.functions.elementwise import add, mul
from tinynet.random import generator
from tinynet.tensor import Tensor

# -SELU_SCALE * SELU_ALPHA: where SELU saturates for very negative inputs, the value a dropped unit takes.
_ALPHA_PRIME = 1.7580993408473766


def _check_p(op: str, p: float) -> None:
    if not 0 <= p <= 1:
        raise ArgumentError(f"{op}: p is the probability of zeroing a value and must be in [0, 1], got {p}")


def _mask(x: Tensor, shape: tuple, p: float):
    """A mask of ``shape`` (broadcastable to x) in x's dtype on x's backend: 1 / (1 - p) with probability 1 - p,
    else 0 (0 everywhere at p = 1). Its key: two 32-bit numbers from tinynet's generator."""
    key = generator().integers(0, 2**32, size=2, dtype=np.uint32)
    return backend.for_arrays(x.array).dropout_mask(x.array, shape, key, p)


def _dropped(op: str, x: Tensor, p: float, training: bool, inplace: bool, mask_shape: tuple) -> Tensor:
    _check_p(op, p)
    if not training or p == 0:
        return x
    return inplace_result(op, x, mul(x, Tensor(_mask(x, mask_shape, p))), inplace)


def _alpha_dropped(op: str, x: Tensor, p: float, training: bool, inplace: bool, mask_shape: tuple) -> Tensor:
    _check_p(op, p)
    if not training or p == 0:
        return x
    if p == 1:
        return inplace_result(op, x, mul(x, 0.0), inplace)
    # kept: a x + a α' p; dropped: a α' (p - 1). a and b keep a unit-normal input's mean 0 and variance 1.
    keep = (_mask(x, mask_shape, p) != 0).astype(x.dtype)
    a = 1 / math.sqrt((_ALPHA_PRIME**2 * p + 1) * (1 - p))
    shift = ((keep - 1) * (_ALPHA_PRIME * a) + _ALPHA_PRIME * a * p).astype(x.dtype, copy=False)
    return inplace_result(op, x, add(mul(x, Tensor((keep * a).astype(x.dtype, copy=False))), Tensor(shift)), inplace)


def _channel_mask_shape(x: Tensor, batched: bool) -> tuple:
    # One mask value per channel: (N, C, 1, ...) for a batch, (C, 1, ...) for one sample.
    kept = 2 if batched else 1
    return x.shape[:kept] + (1,) * (x.ndim - kept)


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:  # noqa: A002
    """x * mask / (1 - p), mask 0 with probability p, drawn from tinynet's generator. x: any shape.

    Returns x itself when not training or p = 0; all zeros when p = 1. ``tn.manual_seed`` repeats the mask.
    """
    return _dropped("dropout", input, p, training, inplace, input.shape)


def dropout1d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:  # noqa: A002
    """Zero whole channels: input (N, C, L) or (C, L); each (sample, channel) is kept or zeroed as one."""
    if input.ndim not in (2, 3):
        raise ShapeError(f"dropout1d: expected a 2-d (C, L) or 3-d (N, C, L) input, got shape {input.shape}")
    return _dropped("dropout1d", input, p, training, inplace, _channel_mask_shape(input, input.ndim == 3))


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:  # noqa: A002
    """Zero whole channels: input (N, C, H, W) or (C, H, W); each (sample, channel) is kept or zeroed as one.

    A 3-d input is read as (N, C, L), as PyTorch does (with its warning).
    """
    if input.ndim < 2:
        raise ShapeError(f"dropout2d: expected a 4-d (N, C, H, W) input, got shape {input.shape}")
    if input.ndim == 3:
        warnings.warn(
            "dropout2d: Received a 3D input to dropout2d and assuming that channel-wise 1D dropout behavior is "
            "desired - input is interpreted as shape (N, C, L). Use dropout1d for 1D channel-wise dropout.",
            stacklevel=2,
        )
    elif input.ndim != 4:
        warnings.warn(f"dropout2d: Received a {input.ndim}-D input, expected a 3-D or 4-D one", stacklevel=2)
    return _dropped("dropout2d", input, p, training, inplace, _channel_mask_shape(input, True))


def dropout3d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:  # noqa: A002
    """Zero whole channels: input (N, C, D, H, W) or (C, D, H, W); each (sample, channel) is kept or zeroed as one."""
    if input.ndim < 2:
        raise ShapeError(f"dropout3d: expected a 5-d (N, C, D, H, W) input, got shape {input.shape}")
    if input.ndim not in (4, 5):
        warnings.warn(f"dropout3d: Received a {input.ndim}-D input, expected a 4-D or 5-D one", stacklevel=2)
    return _dropped("dropout3d", input, p, training, inplace, _channel_mask_shape(input, input.ndim != 4))


def alpha_dropout(input: Tensor, p: float = 0.5, training: bool = False, inplace: bool = False) -> Tensor:  # noqa: A002
    """SELU's dropout, per value: dropped values take SELU's saturation value, then an affine map restores the
    mean and variance. x: any shape. Note PyTorch's default ``training=False`` (the identity)."""
    return _alpha_dropped("alpha_dropout", input, p, training, inplace, input.shape)


def feature_alpha_dropout(input: Tensor, p: float = 0.5, training: bool = False,  # noqa: A002
                          inplace: bool = False) -> Tensor:  # fmt: skip
    """alpha_dropout of whole channels: input (N, C, ...); each (sample, channel) is kept or dropped as one."""
    if input.ndim < 2:
        raise ShapeError(f"feature_alpha_dropout: expected an input (N, C, ...), got shape {input.shape}")
    return _alpha_dropped("feature_alpha_dropout", input, p, training, inplace, _channel_mask_shape(input, True))
