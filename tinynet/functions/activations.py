"""Activation functions and softmax. The common ones run as fused kernels from the backend table."""

from kernels.numpy_ref import array_module
from tinynet import backend
from tinynet.autograd import Function
from tinynet.errors import DTypeError
from tinynet.functions.reduce import normalize_dims
from tinynet.tensor import Tensor


class ReLU(Function):
    """The rectified linear unit, elementwise.

    forward:    y = max(x, 0)
    derivative: dL/dx = dL/dy where x > 0, else 0
    kernels:    relu_forward, relu_backward
    """

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return backend.active().relu_forward(x)

    @staticmethod
    def backward(ctx, grad):
        return backend.active().relu_backward(grad, *ctx.saved)


class Sigmoid(Function):
    """The logistic sigmoid, elementwise.

    forward:    y = σ(x) = 1 / (1 + e^-x)
    derivative: dL/dx = dL/dy · y (1 - y), from the saved output y
    kernels:    sigmoid_forward, sigmoid_backward
    """

    @staticmethod
    def forward(ctx, x):
        y = backend.active().sigmoid_forward(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad):
        return backend.active().sigmoid_backward(grad, *ctx.saved)


class Tanh(Function):
    """The hyperbolic tangent, elementwise.

    forward:    y = tanh(x) = (e^x - e^-x) / (e^x + e^-x)
    derivative: dL/dx = dL/dy · (1 - y²), from the saved output y
    kernels:    tanh_forward, tanh_backward
    """

    @staticmethod
    def forward(ctx, x):
        y = backend.active().tanh_forward(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad):
        return backend.active().tanh_backward(grad, *ctx.saved)


class GELU(Function):
    """The Gaussian error linear unit (exact, PyTorch's default), elementwise.

    forward:    y = x Φ(x), Φ(x) = (1 + erf(x / √2)) / 2 the standard normal CDF
    derivative: dL/dx = dL/dy · (Φ(x) + x φ(x)), φ(x) = e^(-x²/2) / √(2π) its density
    kernels:    gelu_forward, gelu_backward
    """

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return backend.active().gelu_forward(x)

    @staticmethod
    def backward(ctx, grad):
        return backend.active().gelu_backward(grad, *ctx.saved)


class LeakyReLU(Function):
    """ReLU with a small slope below 0, elementwise.

    forward:    y = x where x > 0, else negative_slope · x
    derivative: dL/dx = dL/dy where x > 0, else negative_slope · dL/dy
    kernels:    none: computed inline with the array module's calls
    """

    @staticmethod
    def forward(ctx, x, negative_slope):
        ctx.save_for_backward(x)
        ctx.negative_slope = negative_slope
        return array_module(x).where(x > 0, x, negative_slope * x)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved
        return array_module(x).where(x > 0, grad, ctx.negative_slope * grad), None


class ELU(Function):
    """The exponential linear unit, elementwise.

    forward:    y = x where x > 0, else α (e^x - 1)
    derivative: dL/dx = dL/dy where x > 0, else dL/dy · (y + α) (= α e^x)
    kernels:    none: computed inline with the array module's calls
    """

    @staticmethod
    def forward(ctx, x, alpha):
        xp = array_module(x)
        # expm1 only of the non-positive part, so large positive x never overflows the unused branch.
        y = xp.where(x > 0, x, alpha * xp.expm1(xp.minimum(x, 0)))
        ctx.save_for_backward(x, y)
        ctx.alpha = alpha
        return y

    @staticmethod
    def backward(ctx, grad):
        x, y = ctx.saved
        # For x <= 0, d/dx alpha (e^x - 1) = alpha e^x = y + alpha.
        return array_module(x).where(x > 0, grad, grad * (y + ctx.alpha)), None


class Softplus(Function):
    """A smooth ReLU, elementwise.

    forward:    y = log(1 + e^(βx)) / β, and y = x where βx > threshold
    derivative: dL/dx = dL/dy · σ(βx), and dL/dy where βx > threshold
    kernels:    sigmoid_forward in backward; the forward is inline
    """

    @staticmethod
    def forward(ctx, x, beta, threshold):
        xp = array_module(x)
        bx = beta * x
        ctx.save_for_backward(bx)
        ctx.threshold = threshold
        # log(1 + e^bx) = max(bx, 0) + log1p(e^-|bx|): never overflows. Linear above the threshold.
        smooth = (xp.maximum(bx, 0) + xp.log1p(xp.exp(-xp.abs(bx)))) / beta
        return xp.where(bx > threshold, x, smooth).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        (bx,) = ctx.saved
        slope = array_module(bx).where(bx > ctx.threshold, 1, backend.active().sigmoid_forward(bx))
        return (grad * slope).astype(grad.dtype, copy=False), None, None


class Softmax(Function):
    """Softmax along an axis: each slice becomes a probability distribution.

    forward:    y_i = e^(x_i) / Σ_j e^(x_j)
    derivative: dL/dx = y ⊙ (dL/dy - Σ_j dL/dy_j y_j)
    kernels:    softmax_forward, softmax_backward
    """

    @staticmethod
    def forward(ctx, x, axis):
        y = backend.active().softmax_forward(x, axis)
        ctx.save_for_backward(y)
        ctx.axis = axis
        return y

    @staticmethod
    def backward(ctx, grad):
        return backend.active().softmax_backward(grad, *ctx.saved, ctx.axis), None


class LogSoftmax(Function):
    """The log of softmax along an axis, computed directly.

    forward:    y_i = x_i - log Σ_j e^(x_j)
    derivative: dL/dx = dL/dy - softmax(x) Σ_j dL/dy_j, with softmax(x) = e^y
    kernels:    log_softmax_forward, log_softmax_backward
    """

    @staticmethod
    def forward(ctx, x, axis):
        y = backend.active().log_softmax_forward(x, axis)
        ctx.save_for_backward(y)
        ctx.axis = axis
        return y

    @staticmethod
    def backward(ctx, grad):
        return backend.active().log_softmax_backward(grad, *ctx.saved, ctx.axis), None


def _check_not_bool(op: str, x: Tensor) -> None:
    """The kernels compute on numbers; a bool tensor (True/False) has no e^x or max-shift to take."""
    if x.dtype == bool:
        raise DTypeError(f"{op}: expected a tensor of numbers, got dtype bool; convert it first, e.g. x.float()")


def relu(x: Tensor) -> Tensor:
    """max(x, 0)."""
    return ReLU.apply(x)


def sigmoid(x: Tensor) -> Tensor:
    """1 / (1 + e^-x), stable for any x."""
    _check_not_bool("sigmoid", x)
    return Sigmoid.apply(x)


def tanh(x: Tensor) -> Tensor:
    return Tanh.apply(x)


def gelu(x: Tensor) -> Tensor:
    """x * Phi(x), Phi the standard normal CDF (the exact GELU, PyTorch's default)."""
    return GELU.apply(x)


def leaky_relu(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    """x for x > 0, else negative_slope * x."""
    return LeakyReLU.apply(x, negative_slope)


def elu(x: Tensor, alpha: float = 1.0) -> Tensor:
    """x for x > 0, else alpha * (e^x - 1)."""
    return ELU.apply(x, alpha)


def softplus(x: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + e^(beta x)) / beta, a smooth ReLU; linear where beta * x > threshold."""
    return Softplus.apply(x, beta, threshold)


def softmax(x: Tensor, dim: int) -> Tensor:
    """e^x / sum(e^x) along ``dim``: each slice becomes a probability distribution."""
    _check_not_bool("softmax", x)
    if x.ndim == 0:  # one value is a distribution of one: the kernels see it as a 1-d slice
        return softmax(x.reshape(1), 0).reshape(())
    return Softmax.apply(x, normalize_dims("softmax", dim, x.ndim)[0])


def log_softmax(x: Tensor, dim: int) -> Tensor:
    """log(softmax(x)) along ``dim``, computed directly (stable, unlike log of softmax)."""
    _check_not_bool("log_softmax", x)
    if x.ndim == 0:
        return log_softmax(x.reshape(1), 0).reshape(())
    return LogSoftmax.apply(x, normalize_dims("log_softmax", dim, x.ndim)[0])


__all__ = ["elu", "gelu", "leaky_relu", "log_softmax", "relu", "sigmoid", "softmax", "softplus", "tanh"]  # fmt: skip
# The functions that are also Tensor methods, by method name (x.NAME(...) is FUNCTION(x, ...)).
METHODS: dict = {"sigmoid": sigmoid, "relu": relu, "tanh": tanh, "softmax": softmax, "log_softmax": log_softmax}
