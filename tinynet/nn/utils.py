"""Helpers for training loops."""

from collections.abc import Iterable

import numpy as np

from kernels.numpy_ref import array_module
from tinynet.errors import ArgumentError
from tinynet.functions.moments import p_norm
from tinynet.tensor import Tensor


def get_total_norm(tensors: Tensor | Iterable[Tensor], norm_type: float = 2.0, error_if_nonfinite: bool = False,
                   foreach: bool | None = None) -> Tensor:  # fmt: skip
    """The ``norm_type``-norm of all ``tensors`` together, as if flattened into one vector: the norm of their norms,
    each in its own dtype (as PyTorch). ``error_if_nonfinite``: raise when it is NaN or infinite. ``foreach`` is
    PyTorch's choice of implementation; here there is one, a loop."""
    arrays = [t.array for t in _as_list(tensors) if t is not None]
    if not arrays:
        return Tensor(np.asarray(0.0, dtype=np.float32))  # no tensors: a norm of 0, on the CPU
    p = float(norm_type)
    xp = array_module(arrays[0])
    norms = xp.empty(len(arrays), np.result_type(*(a.dtype for a in arrays)))
    for i, a in enumerate(arrays):
        norms[i] = p_norm(a, p, None).reshape(())
    total = p_norm(norms, p, None).reshape(())
    if error_if_nonfinite and not bool(xp.isfinite(total)):
        raise ArgumentError(
            f"clip_grad_norm_: the total norm of order {p} of the gradients is {float(total)}, so they cannot be "
            "clipped; to scale them by it anyway, set error_if_nonfinite=False"
        )
    return Tensor(total)


def clip_grads_with_norm_(parameters: Tensor | Iterable[Tensor], max_norm: float, total_norm,
                          foreach: bool | None = None) -> None:  # fmt: skip
    """Scale the parameters' gradients in place by max_norm / (total_norm + 1e-6) where that is below 1 (NaN
    included: a NaN norm makes NaN gradients, as in PyTorch). ``total_norm``: get_total_norm's, or a number."""
    grads = [p.grad.array for p in _as_list(parameters) if p.grad is not None]
    if not grads:
        return
    total = np.float32(float(total_norm))  # (a tensor on the GPU: its one number comes over)
    # PyTorch's order: max_norm / t is t.reciprocal() * max_norm, then clamped at 1, all in the norm's float32
    with np.errstate(over="ignore", divide="ignore"):
        scale = np.minimum(np.float32(1) / (total + np.float32(1e-6)) * np.float32(max_norm), np.float32(1))
    if not scale == 1:
        with np.errstate(invalid="ignore"):  # an infinite gradient times 0 is NaN, silently, as in PyTorch
            for g in grads:
                g *= scale


def clip_grad_norm_(parameters: Tensor | Iterable[Tensor], max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False, foreach: bool | None = None) -> Tensor:  # fmt: skip
    """Scale all gradients together so their joint norm is at most ``max_norm``; returns the norm before
    (get_total_norm's of the gradients, then clip_grads_with_norm_).

    Keeps one bad batch from throwing the weights far away (exploding gradients in RNNs, say). One pass over each
    gradient for its norm (einsum's sum of squares: 0.1 ms for an LSTM language model's 650,000 gradients, against
    0.7 as |g| ** 2 summed), and one more only where they are scaled.
    """
    parameters = _as_list(parameters)
    grads = [p.grad for p in parameters if p.grad is not None]
    total = get_total_norm(grads, norm_type, error_if_nonfinite, foreach)
    clip_grads_with_norm_(parameters, max_norm, total, foreach)
    return total


def clip_grad_value_(parameters: Tensor | Iterable[Tensor], clip_value: float) -> None:
    """Clip every gradient element into [-clip_value, clip_value], in place."""
    for p in _as_list(parameters):
        if p.grad is not None:
            p.grad.array.clip(-clip_value, clip_value, out=p.grad.array)


def _as_list(parameters: Tensor | Iterable[Tensor]) -> list[Tensor]:
    # One tensor is one parameter (iterating it would yield its rows), as in PyTorch.
    return [parameters] if isinstance(parameters, Tensor) else list(parameters)
