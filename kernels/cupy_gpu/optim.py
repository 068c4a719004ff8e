"""Optimizer steps (optim.cu): SGD and Adam/AdamW, each one fused kernel that updates in place.

One thread per parameter element, in a grid-stride loop, reads its gradient and state once and writes
the parameter and state back: the whole update in one pass over memory.
"""

import math

import numpy as np

from kernels import numpy_ref
from kernels.cupy_gpu.common import THREADS, blocks, contiguous, fits, launch


def _updatable(*arrays) -> bool:
    """Whether a fused step can update these arrays in place: they fit the kernels, contiguous, one shape."""
    return fits(*arrays) and all(a.flags.c_contiguous and a.shape == arrays[0].shape for a in arrays)


def sgd_step(param, grad, momentum_buffer, *, lr, momentum, dampening, weight_decay, nesterov, first):
    """One SGD step, as PyTorch defines it, updating param (and momentum_buffer) in place: one kernel.

    param, grad, momentum_buffer: same shape (momentum_buffer is None when momentum == 0).
    """
    state = (param, momentum_buffer) if momentum else (param,)
    if not (_updatable(*state) and fits(param, grad) and grad.shape == param.shape):
        return numpy_ref.sgd_step(
            param, grad, momentum_buffer, lr=lr, momentum=momentum, dampening=dampening,
            weight_decay=weight_decay, nesterov=nesterov, first=first,
        )  # fmt: skip
    real = param.dtype.type
    launch(
        "optim", "sgd_step", param.dtype, (blocks(param.size),), (THREADS,),
        param, contiguous(grad), momentum_buffer if momentum else None, param.size,
        real(lr), real(momentum), real(1 - dampening), real(weight_decay), nesterov, first,
    )  # fmt: skip


def adam_step(param, grad, exp_avg, exp_avg_sq, *, step, lr, beta1, beta2, eps, weight_decay, decoupled):
    """One Adam (decoupled=False) or AdamW (decoupled=True) step, updating everything in place: one kernel.

    param, grad, exp_avg (m), exp_avg_sq (v): same shape; step: 1 on the first update.
    """
    if not (_updatable(param, exp_avg, exp_avg_sq) and fits(param, grad) and grad.shape == param.shape):
        return numpy_ref.adam_step(
            param, grad, exp_avg, exp_avg_sq, step=step, lr=lr, beta1=beta1, beta2=beta2, eps=eps,
            weight_decay=weight_decay, decoupled=decoupled,
        )  # fmt: skip
    real = param.dtype.type
    decay = 1 - lr * weight_decay if weight_decay and decoupled else 1  # AdamW shrinks the parameter
    l2 = weight_decay if weight_decay and not decoupled else 0  # Adam adds weight_decay * param to the gradient
    bias_correction1, bias_correction2 = 1 - beta1**step, 1 - beta2**step
    launch(
        "optim", "adam_step", param.dtype, (blocks(param.size),), (THREADS,),
        param, contiguous(grad), exp_avg, exp_avg_sq, param.size,
        real(decay), real(l2), real(beta1), real(1 - beta1), real(beta2), real(1 - beta2),
        real(lr / bias_correction1), np.float64(math.sqrt(bias_correction2)), np.float64(eps),
    )  # fmt: skip
