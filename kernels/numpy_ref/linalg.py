"""Matrix products: the one kernel every layer ends in."""

from kernels.numpy_ref.common import array_module


def matmul(a, b):
    """Batched matrix product.

    a: (..., n, k), b: (..., k, m) -> (..., n, m); the batch dimensions broadcast.
    """
    return array_module(a, b).matmul(a, b)


def linear_forward(x, weight, bias):
    """A linear layer: x weight^T + bias.

    x: (n, in), weight: (out, in), bias: (out,) or None -> (n, out).
    """
    out = x @ weight.T
    return out if bias is None else out + bias


def linear_backward(grad, x, weight, need_x: bool, need_weight: bool, need_bias: bool):
    """The gradients of linear_forward, each only where asked for (else None).

    grad: (n, out), x: (n, in), weight: (out, in) -> dL/dx = grad weight: (n, in),
    dL/dweight = grad^T x: (out, in), dL/dbias = grad summed over the rows: (out,).
    """
    return (
        grad @ weight if need_x else None,
        grad.T @ x if need_weight else None,
        grad.sum(axis=0) if need_bias else None,
    )
