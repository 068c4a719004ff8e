"""Pointwise losses (losses.cu): binary cross-entropy on logits, forward and backward, one thread per element.

x, target (and grad_loss) of one shape; pos_weight broadcast to it on the device, or a null pointer when None.
"""

from kernels import numpy_ref
from kernels.cupy_gpu.common import THREADS, blocks, contiguous, cupy, fits, launch


def _operands(x, target, pos_weight, *more):
    """The arrays contiguous, pos_weight broadcast to x's shape (or None); None where the reference must take
    them: other dtypes, empty arrays, or shapes that differ."""
    arrays = (x, target, *more) if pos_weight is None else (x, target, pos_weight, *more)
    if not fits(*arrays) or any(a.shape != x.shape for a in (target, *more)):
        return None
    if pos_weight is not None:
        pos_weight = cupy.broadcast_to(pos_weight, x.shape)
    return tuple(None if a is None else contiguous(a) for a in (x, target, pos_weight, *more))


def bce_with_logits_forward(x, target, pos_weight=None):
    operands = _operands(x, target, pos_weight)
    if operands is None:
        return numpy_ref.bce_with_logits_forward(x, target, pos_weight)
    loss = cupy.empty_like(operands[0])
    launch("losses", "bce_with_logits_forward", x.dtype, (blocks(x.size),), (THREADS,), *operands, loss, x.size)
    return loss


def bce_with_logits_backward(grad_loss, x, target, pos_weight=None):
    operands = _operands(x, target, pos_weight, grad_loss)
    if operands is None:
        return numpy_ref.bce_with_logits_backward(grad_loss, x, target, pos_weight)
    x, target, pos_weight, grad_loss = operands
    grad_x = cupy.empty_like(x)
    launch("losses", "bce_with_logits_backward", x.dtype, (blocks(x.size),), (THREADS,),
           grad_loss, x, target, pos_weight, grad_x, x.size)  # fmt: skip
    return grad_x


bce_with_logits_forward.__doc__ = numpy_ref.bce_with_logits_forward.__doc__
bce_with_logits_backward.__doc__ = numpy_ref.bce_with_logits_backward.__doc__
