"""Smooth activations: SiLU (by kernels), and computed inline Mish, GELU's tanh form, LogSigmoid, Softsign, GLU.

Each inline one is a few calls of the array module (see ``tinynet.functions``: only the activations models use
in every layer run as kernels), and the backend's sigmoid kernel where they take σ.
``tinynet.functions.activations`` exports them with the rest.
"""

import math

from kernels.numpy_ref import array_module
from tinynet import backend
from tinynet.autograd import Function
from tinynet.errors import ShapeError
from tinynet.functions.activation_checks import floating_only, inplace_result, promoted
from tinynet.functions.reduce import normalize_dims
from tinynet.tensor import Tensor


def logistic(x):
    """σ(x) = 1 / (1 + e^-x) of an array: the backend's sigmoid kernel (one pass in numba's; a SiLU over (32, 32,
    32, 32) spent 2.2 ms in six NumPy passes)."""
    return backend.for_arrays(x).sigmoid_forward(x)


def _softplus(x):
    # log(1 + e^x) = max(x, 0) + log1p(e^-|x|): no overflow for large x.
    xp = array_module(x)
    return xp.maximum(x, 0) + xp.log1p(xp.exp(-xp.abs(x)))


class SiLU(Function):
    """The sigmoid-weighted linear unit (swish), elementwise.

    forward:    y = x σ(x)
    derivative: dL/dx = dL/dy · σ(x) (1 + x (1 - σ(x))), σ(x) computed again from x
    kernels:    silu_forward, silu_backward
    """

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return backend.for_arrays(x).silu_forward(x)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved
        return backend.for_arrays(grad).silu_backward(grad, x)


class Mish(Function):
    """Mish, elementwise.

    forward:    y = x tanh(softplus(x)), softplus(x) = log(1 + e^x)
    derivative: dL/dx = dL/dy · (t + x σ(x) (1 - t²)), t = tanh(softplus(x))
    kernels:    sigmoid_forward (σ); the rest inline, with the array module's calls
    """

    @staticmethod
    def forward(ctx, x):
        t = array_module(x).tanh(_softplus(x))
        ctx.save_for_backward(x, t)
        return x * t

    @staticmethod
    def backward(ctx, grad):
        x, t = ctx.saved
        return grad * (t + x * logistic(x) * (1 - t * t))


_TANH_SCALE = math.sqrt(2 / math.pi)
_CUBIC = 0.044715


class GELUTanh(Function):
    """GELU with the tanh approximation of Φ (``approximate="tanh"``), elementwise.

    forward:    y = x (1 + t) / 2, t = tanh(√(2/π) (x + 0.044715 x³))
    derivative: dL/dx = dL/dy · ((1 + t) / 2 + x (1 - t²) √(2/π) (1 + 3 · 0.044715 x²) / 2)
    kernels:    none: computed inline with the array module's calls
    """

    @staticmethod
    def forward(ctx, x):
        t = array_module(x).tanh(_TANH_SCALE * (x + _CUBIC * x * x * x))
        ctx.save_for_backward(x, t)
        return 0.5 * x * (1 + t)

    @staticmethod
    def backward(ctx, grad):
        x, t = ctx.saved
        slope = 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * _TANH_SCALE * (1 + 3 * _CUBIC * x * x)
        return grad * slope


class LogSigmoid(Function):
    """log σ(x), elementwise, stable for any x.

    forward:    y = log σ(x) = min(x, 0) - log(1 + e^-|x|)
    derivative: dL/dx = dL/dy · σ(-x)
    kernels:    sigmoid_forward (σ); the rest inline, with the array module's calls
    """

    @staticmethod
    def forward(ctx, x):
        xp = array_module(x)
        ctx.save_for_backward(x)
        return xp.minimum(x, 0) - xp.log1p(xp.exp(-xp.abs(x)))

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved
        return grad * logistic(-x)


class Softsign(Function):
    """x / (1 + |x|), elementwise.

    forward:    y = x / (1 + |x|)
    derivative: dL/dx = dL/dy / (1 + |x|)²
    kernels:    none: computed inline with the array module's calls
    """

    @staticmethod
    def forward(ctx, x):
        denominator = 1 + array_module(x).abs(x)
        ctx.save_for_backward(denominator)
        return x / denominator

    @staticmethod
    def backward(ctx, grad):
        (denominator,) = ctx.saved
        return grad / (denominator * denominator)


class GLU(Function):
    """The gated linear unit: the first half of an axis, gated by the sigmoid of the second half.

    forward:    y = a σ(b), (a, b) the two halves of x along the axis
    derivative: dL/da = dL/dy · σ(b), dL/db = dL/dy · a σ(b) (1 - σ(b)), joined back along the axis
    kernels:    sigmoid_forward (σ); the rest inline, with the array module's calls
    """

    @staticmethod
    def forward(ctx, x, axis):
        xp = array_module(x)
        a, b = xp.split(x, 2, axis=axis)
        gate = logistic(b)
        ctx.save_for_backward(a, gate)
        ctx.axis = axis
        return a * gate

    @staticmethod
    def backward(ctx, grad):
        a, gate = ctx.saved
        grad_a, grad_b = grad * gate, grad * a * gate * (1 - gate)
        return array_module(grad).concatenate([grad_a, grad_b], axis=ctx.axis), None


def silu(input: Tensor, inplace: bool = False) -> Tensor:  # noqa: A002 (PyTorch's names)
    """x * sigmoid(x) (also called swish)."""
    floating_only("silu", input)
    return inplace_result("silu", input, SiLU.apply(input), inplace)


def mish(input: Tensor, inplace: bool = False) -> Tensor:  # noqa: A002
    """x * tanh(softplus(x))."""
    floating_only("mish", input)
    return inplace_result("mish", input, Mish.apply(input), inplace)


def gelu_tanh(x: Tensor) -> Tensor:
    """GELU with Φ approximated by tanh: ``F.gelu(x, approximate="tanh")``."""
    return GELUTanh.apply(x)


def logsigmoid(input: Tensor) -> Tensor:  # noqa: A002
    """log(sigmoid(x)), stable for large |x|."""
    floating_only("logsigmoid", input)
    return LogSigmoid.apply(input)


def softsign(input: Tensor) -> Tensor:  # noqa: A002
    """x / (1 + |x|); integers are computed in the default float dtype, as in PyTorch."""
    return Softsign.apply(promoted("softsign", input))


def glu(input: Tensor, dim: int = -1) -> Tensor:  # noqa: A002
    """a * sigmoid(b), a and b the two halves of ``input`` along ``dim``. input: (..., 2H, ...) -> (..., H, ...)."""
    floating_only("glu", input)
    if input.ndim == 0:
        raise ShapeError("glu: a 0-d tensor has no dimension to halve; expected at least 1 dimension")
    (axis,) = normalize_dims("glu", dim, input.ndim)
    if input.shape[axis] % 2:
        raise ShapeError(f"glu: dimension {dim} of shape {input.shape} has odd size {input.shape[axis]}; it must halve")
    return GLU.apply(input, axis)
