"""Helpers for training loops."""

from collections.abc import Iterable

import numpy as np

from kernels.numpy_ref import array_module
from tinynet.tensor import Tensor


def clip_grad_norm_(parameters: Tensor | Iterable[Tensor], max_norm: float, norm_type: float = 2.0) -> Tensor:
    """Scale all gradients together so their joint norm is at most ``max_norm``; returns the norm before.

    Keeps one bad batch from throwing the weights far away (exploding gradients in RNNs, say).
    """
    grads = [p.grad.array for p in _as_list(parameters) if p.grad is not None]
    if not grads:
        return Tensor(np.asarray(0.0, dtype=np.float32))  # no gradients: a norm of 0, on the CPU
    if norm_type == float("inf"):
        total = max(float(abs(g).max()) for g in grads)
    else:
        total = float(sum(float((abs(g) ** norm_type).sum()) for g in grads) ** (1.0 / norm_type))
    scale = max_norm / (total + 1e-6)
    if scale < 1:
        for g in grads:
            g *= scale
    return Tensor(array_module(grads[0]).asarray(total, dtype=np.float32))  # on the gradients' device


def clip_grad_value_(parameters: Tensor | Iterable[Tensor], clip_value: float) -> None:
    """Clip every gradient element into [-clip_value, clip_value], in place."""
    for p in _as_list(parameters):
        if p.grad is not None:
            p.grad.array.clip(-clip_value, clip_value, out=p.grad.array)


def _as_list(parameters: Tensor | Iterable[Tensor]) -> list[Tensor]:
    # One tensor is one parameter (iterating it would yield its rows), as in PyTorch.
    return [parameters] if isinstance(parameters, Tensor) else list(parameters)
