"""Matrix multiplication and its gradient."""

import numpy as np

from kernels.numpy_ref import array_module
from tinynet import backend
from tinynet.amp_policy import autocast_op
from tinynet.autograd import Function, unbroadcast
from tinynet.errors import DTypeError, ShapeError
from tinynet.functions.elementwise import add, mul, operand
from tinynet.tensor import Tensor


def _as_matrices(a, b):
    # As in NumPy: a vector on the left acts as a row (1, k), on the right as a column (k, 1).
    return (a[None, :] if a.ndim == 1 else a), (b[:, None] if b.ndim == 1 else b)


class Matmul(Function):
    """The matrix product, with broadcast batches.

    forward:    out = a b
    derivative: dL/da = dL/dout bᵀ, dL/db = aᵀ dL/dout (summed over broadcast batches)
    kernels:    matmul
    """

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        a2, b2 = _as_matrices(a, b)
        out = backend.for_arrays(a2, b2).matmul(a2, b2)
        if a.ndim == 1:
            out = out[..., 0, :]
        if b.ndim == 1:
            out = out[..., 0]
        return out

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved
        a2, b2 = _as_matrices(a, b)
        xp, matmul = array_module(grad), backend.for_arrays(grad).matmul
        # Put back the axes the forward dropped for vector operands (b's first: it was dropped last).
        if b.ndim == 1:
            grad = xp.expand_dims(grad, -1)
        if a.ndim == 1:
            grad = xp.expand_dims(grad, -2)
        need_a, need_b = ctx.needs_input_grad
        # out = a b  =>  dL/da = dL/dout b^T and dL/db = a^T dL/dout (summed over broadcast batches).
        grad_a = unbroadcast(matmul(grad, xp.swapaxes(b2, -1, -2)), a2.shape).reshape(a.shape) if need_a else None
        grad_b = unbroadcast(matmul(xp.swapaxes(a2, -1, -2), grad), b2.shape).reshape(b.shape) if need_b else None
        return grad_a, grad_b


@autocast_op("matmul")
def matmul(a: Tensor, b: Tensor) -> Tensor:
    """The matrix product a @ b. a: (..., n, k), b: (..., k, m) -> (..., n, m); batches broadcast.

    A 1-D operand is a vector, as in NumPy: (k,) @ (k, m) -> (m,), (n, k) @ (k,) -> (n,).
    """
    a, b = operand(a), operand(b)
    if not (isinstance(a, Tensor) and isinstance(b, Tensor)) or a.ndim == 0 or b.ndim == 0:
        raise ShapeError(
            f"matmul: both operands must have at least one dimension, got shapes {np.shape(a)} and {np.shape(b)}"
        )
    inner_a, inner_b = a.shape[-1], b.shape[0] if b.ndim == 1 else b.shape[-2]
    if inner_a != inner_b:
        raise ShapeError(
            f"matmul: shapes {a.shape} @ {b.shape}: the inner sizes {inner_a} and {inner_b} must match "
            "(a's last dimension against b's second-to-last)"
        )
    if a.dtype != b.dtype:
        raise DTypeError(f"matmul: both operands must have the same dtype, got {a.dtype} and {b.dtype} (as in PyTorch)")
    try:
        np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    except ValueError:
        raise ShapeError(f"matmul: shapes {a.shape} @ {b.shape}: the batch dimensions cannot broadcast") from None
    return Matmul.apply(a, b)


class Linear(Function):
    """y = x W^T + b as one op (one graph node instead of transpose, matmul and add).

    forward:    y = x Wᵀ + b
    derivative: dL/dx = dL/dy W, dL/dW = dL/dyᵀ x, dL/db = Σ dL/dy over the rows
    kernels:    linear_forward, linear_backward
    """

    @staticmethod
    def forward(ctx, x, weight, bias):
        rows = x.reshape(-1, x.shape[-1])  # every leading axis is a batch axis: one GEMM
        ctx.save_for_backward(rows, weight)
        ctx.x_shape = x.shape
        out = backend.for_arrays(rows, weight, bias).linear_forward(rows, weight, bias)
        # (a reshape even to the same shape is a view, which apply then checks against every input: 0.7 us)
        return out if x.ndim == 2 else out.reshape(*x.shape[:-1], weight.shape[0])

    @staticmethod
    def backward(ctx, grad):
        rows, weight = ctx.saved
        need_x, need_w, need_b = ctx.needs_input_grad
        grad_rows = grad.reshape(-1, weight.shape[0])
        linear_backward = backend.for_arrays(grad).linear_backward
        grad_x, grad_w, grad_b = linear_backward(grad_rows, rows, weight, need_x, need_w, need_b)
        return (grad_x.reshape(ctx.x_shape) if need_x else None), grad_w, grad_b


def _check_dims(op: str, **tensors: Tensor) -> None:
    # The fixed-rank products (mm: matrices, bmm: batches of matrices, mv, dot) refuse other shapes, as in PyTorch.
    expected = {"mm": 2, "bmm": 3, "mv": {"input": 2, "vec": 1}, "dot": 1}[op]
    for name, t in tensors.items():
        want = expected[name] if isinstance(expected, dict) else expected
        if t.ndim != want:
            raise ShapeError(f"{op}: {name} must be {want}-D, got shape {t.shape}")


@autocast_op("mm")
def mm(input: Tensor, mat2: Tensor) -> Tensor:  # noqa: A002 (PyTorch's names)
    """The product of two matrices. input: (n, k), mat2: (k, m) -> (n, m)."""
    _check_dims("mm", input=input, mat2=mat2)
    return matmul(input, mat2)


@autocast_op("bmm")
def bmm(input: Tensor, mat2: Tensor) -> Tensor:  # noqa: A002
    """Batched matrix products, without broadcasting. input: (b, n, k), mat2: (b, k, m) -> (b, n, m)."""
    _check_dims("bmm", input=input, mat2=mat2)
    if input.shape[0] != mat2.shape[0]:
        raise ShapeError(f"bmm: batch sizes differ: {input.shape} and {mat2.shape}")
    return matmul(input, mat2)


@autocast_op("mv")
def mv(input: Tensor, vec: Tensor) -> Tensor:  # noqa: A002
    """Matrix times vector. input: (n, k), vec: (k,) -> (n,)."""
    _check_dims("mv", input=input, vec=vec)
    return matmul(input, vec)


@autocast_op("dot")
def dot(input: Tensor, tensor: Tensor) -> Tensor:  # noqa: A002
    """The inner product of two vectors. (k,), (k,) -> ()."""
    _check_dims("dot", input=input, tensor=tensor)
    return matmul(input, tensor)


@autocast_op("addmm")
def addmm(input: Tensor, mat1: Tensor, mat2: Tensor, *, beta=1, alpha=1) -> Tensor:  # noqa: A002
    """beta · input + alpha · (mat1 @ mat2); input broadcasts to (n, m)."""
    product = mm(mat1, mat2)
    return add(input if beta == 1 else mul(input, beta), product if alpha == 1 else mul(product, alpha))


@autocast_op("baddbmm")
def baddbmm(input: Tensor, batch1: Tensor, batch2: Tensor, *, beta=1, alpha=1) -> Tensor:  # noqa: A002
    """beta · input + alpha · (batch1 @ batch2), batch by batch; input broadcasts to (b, n, m)."""
    product = bmm(batch1, batch2)
    return add(input if beta == 1 else mul(input, beta), product if alpha == 1 else mul(product, alpha))


__all__ = ["addmm", "baddbmm", "bmm", "dot", "matmul", "mm", "mv"]
# The functions that are also Tensor methods, by method name (x.NAME(...) is FUNCTION(x, ...)).
METHODS: dict = {"matmul": matmul, "mm": mm, "bmm": bmm, "mv": mv, "dot": dot, "addmm": addmm, "baddbmm": baddbmm}
