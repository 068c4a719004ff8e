"""Optimizer steps, in place: SGD (with momentum, Nesterov), Adam/AdamW and RMSprop."""

import numpy as np

from kernels.numpy_ref.common import array_module


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


def rmsprop_step(param, grad, square_avg, grad_avg, momentum_buffer, *, lr, alpha, eps, weight_decay, momentum):
    """One RMSprop step, as PyTorch defines it, updating param and the state in place.

    param, grad, square_avg (v): same shape; grad_avg: the running mean of g where ``centered`` (else None);
    momentum_buffer: where momentum > 0 (else None). d = g + weight_decay * param;
    v <- alpha v + (1 - alpha) d^2; centered: gbar <- gbar + (1 - alpha)(d - gbar) and avg = sqrt(v - gbar^2),
    else avg = sqrt(v); avg += eps; with a buffer b <- momentum b + d / avg and param -= lr b, else
    param -= lr d / avg.
    """
    xp = array_module(param)
    d = grad + weight_decay * param if weight_decay else grad
    square_avg *= alpha
    square_avg += (1 - alpha) * d * d
    if grad_avg is not None:
        grad_avg += (1 - alpha) * (d - grad_avg)  # a lerp towards d, as PyTorch writes it
        avg = xp.sqrt(square_avg - grad_avg * grad_avg)
    else:
        avg = xp.sqrt(square_avg)
    avg += eps
    if momentum_buffer is not None:
        momentum_buffer *= momentum
        momentum_buffer += d / avg
        param -= lr * momentum_buffer
    else:
        param -= lr * d / avg
