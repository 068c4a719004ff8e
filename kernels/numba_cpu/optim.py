"""Optimizer steps (SGD, Adam and AdamW, RMSprop), updating parameters and their state in place in one fused pass."""

import math

import numpy as np

from kernels import numpy_ref
from kernels.numba_cpu.common import ADAM, EXP, contiguous, range_kernel, run_range, same_floats, warms_up


def _updatable(*arrays) -> bool:
    """In-place steps need writable C-contiguous arrays of one shape and float dtype: flat views that write
    through. (grad is only read, but a read-only one would cost a compile: see `common.contiguous`.)"""
    if not same_floats(*arrays):
        return False
    shape = arrays[0].shape
    for a in arrays:  # a plain loop: a small model's step calls this once, and a generator cost 1 us of it
        if a.shape != shape or not a.flags.c_contiguous or not a.flags.writeable:
            return False
    return True


@range_kernel()
def _sgd_step(start, stop, param, grad, buffer, lr, momentum, one_minus_dampening, weight_decay, nesterov, first):
    for i in range(start, stop):
        d = grad[i] + weight_decay * param[i] if weight_decay else grad[i]
        if momentum:
            buffer[i] = d if first else buffer[i] * momentum + one_minus_dampening * d
            d = d + momentum * buffer[i] if nesterov else buffer[i]
        param[i] -= lr * d


def sgd_step(param, grad, momentum_buffer, *, lr, momentum, dampening, weight_decay, nesterov, first):
    """One SGD step, as PyTorch defines it, updating param (and momentum_buffer) in place.

    param, grad, momentum_buffer: same shape (momentum_buffer is None when momentum == 0); first: True on
    the buffer's first step, when it starts as the gradient itself. One fused pass over the flattened
    arrays, threads splitting it; the hyperparameters are cast to param's dtype, as NumPy does.
    """
    buffers = () if momentum_buffer is None else (momentum_buffer,)
    grad = contiguous(grad)  # only read: a strided gradient (a conv weight's, say) is copied, not refused
    if not _updatable(param, grad, *buffers) or (momentum and momentum_buffer is None):
        return numpy_ref.sgd_step(
            param, grad, momentum_buffer, lr=lr, momentum=momentum, dampening=dampening,
            weight_decay=weight_decay, nesterov=nesterov, first=first,
        )  # fmt: skip
    real = param.dtype.type
    buffer = np.empty(0, param.dtype) if momentum_buffer is None else momentum_buffer.reshape(-1)
    run_range(
        _sgd_step, EXP * param.size, param.size, param.reshape(-1), grad.reshape(-1), buffer, real(lr), real(momentum),
        real(1 - dampening), real(weight_decay), bool(nesterov), bool(first),
    )  # fmt: skip


@range_kernel()
def _adam_step(start, stop, param, grad, exp_avg, exp_avg_sq, coefficients):
    # The nine numbers in one array of the parameters' dtype: nine scalars of their own took 1.5 us to make and
    # pass, most of the call for a small model (the XOR MLP's whole step is ~100 us).
    shrink, l2, beta1, one_minus_beta1, beta2, one_minus_beta2 = coefficients[:6]
    step_size, sqrt_bias_correction2, eps = coefficients[6], coefficients[7], coefficients[8]
    for i in range(start, stop):
        param[i] *= shrink  # AdamW's decoupled decay (1 exactly otherwise)
        g = grad[i] + l2 * param[i] if l2 else grad[i]  # Adam's L2 decay
        exp_avg[i] = exp_avg[i] * beta1 + one_minus_beta1 * g
        exp_avg_sq[i] = exp_avg_sq[i] * beta2 + one_minus_beta2 * g * g
        denom = math.sqrt(exp_avg_sq[i]) / sqrt_bias_correction2 + eps
        param[i] -= step_size * exp_avg[i] / denom


def adam_step(param, grad, exp_avg, exp_avg_sq, *, step, lr, beta1, beta2, eps, weight_decay, decoupled):
    """One Adam (decoupled=False) or AdamW (decoupled=True) step, updating everything in place.

    param, grad, exp_avg (m), exp_avg_sq (v): same shape; step: 1 on the first update. One fused pass over
    the flattened arrays (read p, g, m, v; write p, m, v), threads splitting it; float32 stays float32.
    """
    grad = contiguous(grad)  # only read: a strided gradient (a conv weight's, say) is copied, not refused
    if not _updatable(param, grad, exp_avg, exp_avg_sq):
        return numpy_ref.adam_step(
            param, grad, exp_avg, exp_avg_sq, step=step, lr=lr, beta1=beta1, beta2=beta2, eps=eps,
            weight_decay=weight_decay, decoupled=decoupled,
        )  # fmt: skip
    shrink = 1 - lr * weight_decay if weight_decay and decoupled else 1
    l2 = 0 if decoupled else weight_decay
    bias_correction1, bias_correction2 = 1 - beta1**step, 1 - beta2**step
    coefficients = np.array(
        [shrink, l2, beta1, 1 - beta1, beta2, 1 - beta2, lr / bias_correction1, math.sqrt(bias_correction2), eps],
        param.dtype,
    )  # each rounded to the dtype, as the scalars were
    run_range(
        _adam_step, ADAM * param.size, param.size, param.reshape(-1), grad.reshape(-1), exp_avg.reshape(-1),
        exp_avg_sq.reshape(-1), coefficients,
    )  # fmt: skip


@range_kernel()
def _rmsprop_step(start, stop, param, grad, square_avg, grad_avg, buffer, coefficients):
    # The reference's operations in its order, each rounded to the dtype: the same numbers.
    lr, alpha, one_minus_alpha, eps, weight_decay, momentum = coefficients[:6]
    for i in range(start, stop):
        d = grad[i] + weight_decay * param[i] if weight_decay else grad[i]
        square_avg[i] = square_avg[i] * alpha + one_minus_alpha * d * d
        if grad_avg.size:
            grad_avg[i] += one_minus_alpha * (d - grad_avg[i])
            avg = math.sqrt(square_avg[i] - grad_avg[i] * grad_avg[i]) + eps
        else:
            avg = math.sqrt(square_avg[i]) + eps
        if buffer.size:
            buffer[i] = buffer[i] * momentum + d / avg
            param[i] -= lr * buffer[i]
        else:
            param[i] -= lr * d / avg


def rmsprop_step(param, grad, square_avg, grad_avg, momentum_buffer, *, lr, alpha, eps, weight_decay, momentum):
    """One RMSprop step, as numpy_ref.rmsprop_step: one fused pass over the flattened arrays (read p, g and the
    state, write p and the state), threads splitting it. The reference's NumPy took 2.6 ms of a 9.4 ms MLP step
    (784-512-256-10, 540,000 parameters) against PyTorch's whole step of 3.5."""
    grad = contiguous(grad)  # only read: a strided gradient (a conv weight's, say) is copied, not refused
    buffers = tuple(b for b in (grad_avg, momentum_buffer) if b is not None)
    if not _updatable(param, grad, square_avg, *buffers) or (momentum and momentum_buffer is None):
        return numpy_ref.rmsprop_step(
            param, grad, square_avg, grad_avg, momentum_buffer, lr=lr, alpha=alpha, eps=eps,
            weight_decay=weight_decay, momentum=momentum,
        )  # fmt: skip
    nothing = np.empty(0, param.dtype)
    grad_avg = nothing if grad_avg is None else grad_avg.reshape(-1)
    buffer = nothing if momentum_buffer is None else momentum_buffer.reshape(-1)
    coefficients = np.array([lr, alpha, 1 - alpha, eps, weight_decay, momentum], param.dtype)
    run_range(
        _rmsprop_step, ADAM * param.size, param.size, param.reshape(-1), grad.reshape(-1), square_avg.reshape(-1),
        grad_avg, buffer, coefficients,
    )  # fmt: skip


@warms_up
def warm_up(dtype: np.dtype) -> None:
    """Compile the optimizer steps for dtype (see common.warms_up)."""
    x = np.linspace(-3, 3, 12).astype(dtype).reshape(3, 4)
    sgd_step(x.copy(), x, x.copy(), lr=0.1, momentum=0.9, dampening=0.0, weight_decay=0.1, nesterov=False, first=False)
    adam_step(x.copy(), x, x.copy(), x * x, step=1, lr=0.1, beta1=0.9, beta2=0.99, eps=1e-8, weight_decay=0.0,
              decoupled=False)  # fmt: skip
    rmsprop_step(x.copy(), x, x * x, x * 0.1, x.copy(), lr=0.1, alpha=0.99, eps=1e-8, weight_decay=0.1, momentum=0.9)
