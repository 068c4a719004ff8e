"""Pointwise losses, forward and backward: binary cross-entropy on logits, in one fused pass each.

Same-shaped float32 or float64 arrays (a pos_weight broadcast to them) go to the kernels; anything else to the
reference. The reference takes ~10 NumPy passes and libm's scalar log1p: 1.67 ms for (128, 784) float32 logits
(a VAE's reconstruction loss), against PyTorch's whole training step of 7.2 ms around it.
"""

import numpy as np

from kernels import numpy_ref
from kernels.numba_cpu.common import (
    EXP,
    FUSED,
    exp,
    flat,
    log1p_unit,
    range_kernel,
    run_range,
    same_floats,
    sigmoid,
    warms_up,
)


def _operands(x, target, pos_weight, *more):
    """(x, target, pos_weight, *more) flat and C-contiguous for the kernels, pos_weight broadcast to x's shape or,
    for none, empty (one compiled kernel for both: a branch the loop's LLVM takes out of it; a None typed apart took
    another 0.45 s of the warm-up for each dtype); or None where the reference must take them: other dtypes, or a
    target of another shape."""
    arrays = (x, target, *more) if pos_weight is None else (x, target, pos_weight, *more)
    if not same_floats(*arrays) or any(a.shape != x.shape for a in (target, *more)):
        return None
    if pos_weight is None:
        pos_weight = np.empty(0, x.dtype)
    else:
        pos_weight = flat(np.broadcast_to(pos_weight, x.shape))  # (a copy: numba compiles for writable arrays)
    return flat(x), flat(target), pos_weight, *(flat(a) for a in more)


@range_kernel(fastmath=FUSED)
def _bce_with_logits_forward(start, stop, x, target, pos_weight, loss):
    zero, one = x.dtype.type(0), x.dtype.type(1)
    for i in range(start, stop):
        softplus_of_negative = max(-x[i], zero) + log1p_unit(exp(-abs(x[i])))  # log(1 + e^-x), no overflow
        scale = one + (pos_weight[i] - one) * target[i] if pos_weight.size else one
        loss[i] = (one - target[i]) * x[i] + scale * softplus_of_negative


def bce_with_logits_forward(x, target, pos_weight=None):
    """loss = (1 - t) x + (1 + (w - 1) t) log(1 + e^-x) elementwise. x, target: one shape; pos_weight: None or
    broadcasting to x -> loss: x's shape and dtype."""
    operands = _operands(x, target, pos_weight)
    if operands is None:
        return numpy_ref.bce_with_logits_forward(x, target, pos_weight)
    loss = np.empty(x.shape, x.dtype)
    run_range(_bce_with_logits_forward, 2 * EXP * x.size, x.size, *operands, loss.reshape(-1))
    return loss


@range_kernel(fastmath=FUSED)
def _bce_with_logits_backward(start, stop, x, target, pos_weight, grad_loss, grad_x):
    one = x.dtype.type(1)
    for i in range(start, stop):
        w = pos_weight[i] if pos_weight.size else one
        grad_x[i] = grad_loss[i] * ((one + (w - one) * target[i]) * sigmoid(x[i]) - w * target[i])


def bce_with_logits_backward(grad_loss, x, target, pos_weight=None):
    """dL/dx = dL/dloss * ((1 + (w - 1) t) sigmoid(x) - w t). grad_loss, x, target: one shape; pos_weight as the
    forward's -> dL/dx: x's shape and dtype."""
    operands = _operands(x, target, pos_weight, grad_loss)
    if operands is None:
        return numpy_ref.bce_with_logits_backward(grad_loss, x, target, pos_weight)
    grad_x = np.empty(x.shape, x.dtype)
    run_range(_bce_with_logits_backward, EXP * x.size, x.size, *operands, grad_x.reshape(-1))
    return grad_x


@warms_up
def warm_up(dtype: np.dtype) -> None:
    """Compile both kernels for ``dtype``, and run them without a pos_weight and with one."""
    x = np.linspace(-3, 3, 8).astype(dtype).reshape(2, 4)
    for pos_weight in (None, x[0]):
        bce_with_logits_backward(x, x, x, pos_weight)
        bce_with_logits_forward(x, x, pos_weight)
