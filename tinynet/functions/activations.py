"""Activation functions and softmax. The common ones run as fused kernels from the backend table.

The rarer ones compute inline in ``activations_smooth`` (SiLU, Mish, GELU's tanh form...) and
``activations_piecewise`` (Hardtanh, Hardswish, the shrinks, PReLU...); this module exports them all.
"""

import warnings

from kernels.numpy_ref import array_module, select
from tinynet import backend
from tinynet.amp_policy import autocast_op
from tinynet.autograd import Function
from tinynet.errors import ArgumentError
from tinynet.functions.activation_checks import (
    floating_only,
    in_place_form,
    inplace_result,
    numbers_only,
    promoted,
)
from tinynet.functions.activations_piecewise import hardshrink, hardtanh, prelu, threshold
from tinynet.functions.activations_smooth import gelu_tanh
from tinynet.functions.elementwise import cast, floating, mul, sub
from tinynet.functions.reduce import normalize_dims
from tinynet.functions.unary import neg
from tinynet.random import generator
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
        return backend.for_arrays(x).relu_forward(x)

    @staticmethod
    def backward(ctx, grad):
        return backend.for_arrays(grad).relu_backward(grad, *ctx.saved)


class Sigmoid(Function):
    """The logistic sigmoid, elementwise.

    forward:    y = σ(x) = 1 / (1 + e^-x)
    derivative: dL/dx = dL/dy · y (1 - y), from the saved output y
    kernels:    sigmoid_forward, sigmoid_backward
    """

    @staticmethod
    def forward(ctx, x):
        y = backend.for_arrays(x).sigmoid_forward(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad):
        return backend.for_arrays(grad).sigmoid_backward(grad, *ctx.saved)


class Tanh(Function):
    """The hyperbolic tangent, elementwise.

    forward:    y = tanh(x) = (e^x - e^-x) / (e^x + e^-x)
    derivative: dL/dx = dL/dy · (1 - y²), from the saved output y
    kernels:    tanh_forward, tanh_backward
    """

    @staticmethod
    def forward(ctx, x):
        y = backend.for_arrays(x).tanh_forward(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad):
        return backend.for_arrays(grad).tanh_backward(grad, *ctx.saved)


class GELU(Function):
    """The Gaussian error linear unit (exact, PyTorch's default), elementwise.

    forward:    y = x Φ(x), Φ(x) = (1 + erf(x / √2)) / 2 the standard normal CDF
    derivative: dL/dx = dL/dy · (Φ(x) + x φ(x)), φ(x) = e^(-x²/2) / √(2π) its density
    kernels:    gelu_forward, gelu_backward
    """

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return backend.for_arrays(x).gelu_forward(x)

    @staticmethod
    def backward(ctx, grad):
        return backend.for_arrays(grad).gelu_backward(grad, *ctx.saved)


class LeakyReLU(Function):
    """ReLU with a small slope below 0, elementwise.

    forward:    y = x where x > 0, else negative_slope · x
    derivative: dL/dx = dL/dy where x > 0, else negative_slope · dL/dy
    kernels:    leaky_relu_forward, leaky_relu_backward
    """

    @staticmethod
    def forward(ctx, x, negative_slope):
        ctx.save_for_backward(x)
        ctx.negative_slope = negative_slope
        return backend.for_arrays(x).leaky_relu_forward(x, negative_slope)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved
        return backend.for_arrays(grad).leaky_relu_backward(grad, x, ctx.negative_slope), None


class ELU(Function):
    """The exponential linear unit, elementwise; SELU and CELU are ELU with other constants.

    forward:    y = scale · x where x > 0, else scale · α (e^(input_scale · x) - 1)
    derivative: dL/dx = scale · dL/dy where x > 0, else dL/dy · input_scale (y + scale · α)
    kernels:    none: computed inline with the array module's calls
    """

    @staticmethod
    def forward(ctx, x, alpha, scale, input_scale):
        xp = array_module(x)
        # expm1 only of the non-positive part, so large positive x never overflows the unused branch.
        y = scale * select(x > 0, x, alpha * xp.expm1(input_scale * xp.minimum(x, 0)))
        ctx.save_for_backward(x, y)
        ctx.constants = alpha, scale, input_scale
        return y

    @staticmethod
    def backward(ctx, grad):
        x, y = ctx.saved
        alpha, scale, input_scale = ctx.constants
        # For x <= 0, d/dx scale α (e^(s x) - 1) = s scale α e^(s x) = s (y + scale α), s = input_scale.
        grad_x = select(x > 0, scale * grad, grad * (input_scale * (y + scale * alpha)))
        return grad_x, None, None, None


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
        return select(bx > threshold, x, smooth).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        (bx,) = ctx.saved
        slope = select(bx > ctx.threshold, 1, backend.for_arrays(bx).sigmoid_forward(bx))
        return (grad * slope).astype(grad.dtype, copy=False), None, None


class Softmax(Function):
    """Softmax along an axis: each slice becomes a probability distribution.

    forward:    y_i = e^(x_i) / Σ_j e^(x_j)
    derivative: dL/dx = y ⊙ (dL/dy - Σ_j dL/dy_j y_j)
    kernels:    softmax_forward, softmax_backward
    """

    @staticmethod
    def forward(ctx, x, axis):
        y = backend.for_arrays(x).softmax_forward(x, axis)
        ctx.save_for_backward(y)
        ctx.axis = axis
        return y

    @staticmethod
    def backward(ctx, grad):
        return backend.for_arrays(grad).softmax_backward(grad, *ctx.saved, ctx.axis), None


class LogSoftmax(Function):
    """The log of softmax along an axis, computed directly.

    forward:    y_i = x_i - log Σ_j e^(x_j)
    derivative: dL/dx = dL/dy - softmax(x) Σ_j dL/dy_j, with softmax(x) = e^y
    kernels:    log_softmax_forward, log_softmax_backward
    """

    @staticmethod
    def forward(ctx, x, axis):
        y = backend.for_arrays(x).log_softmax_forward(x, axis)
        ctx.save_for_backward(y)
        ctx.axis = axis
        return y

    @staticmethod
    def backward(ctx, grad):
        return backend.for_arrays(grad).log_softmax_backward(grad, *ctx.saved, ctx.axis), None


# SELU's constants (Klambauer et al., 2017), as PyTorch writes them.
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def relu(input: Tensor, inplace: bool = False) -> Tensor:  # noqa: A002 (PyTorch's names)
    """max(x, 0); integer tensors stay integers, as in PyTorch."""
    numbers_only("relu", input)
    return inplace_result("relu", input, ReLU.apply(input), inplace)


def sigmoid(input: Tensor) -> Tensor:  # noqa: A002
    """1 / (1 + e^-x), stable for any x; integers and bools are computed in the default float dtype."""
    return Sigmoid.apply(floating(input))


def tanh(input: Tensor) -> Tensor:  # noqa: A002
    """tanh(x); integers and bools are computed in the default float dtype, as in PyTorch."""
    return Tanh.apply(floating(input))


def gelu(input: Tensor, approximate: str = "none") -> Tensor:  # noqa: A002
    """x * Phi(x), Phi the standard normal CDF: exact (``approximate="none"``, PyTorch's default) or with
    Phi approximated by tanh (``approximate="tanh"``)."""
    floating_only("gelu", input)
    if approximate == "none":
        return GELU.apply(input)
    if approximate == "tanh":
        return gelu_tanh(input)
    raise ArgumentError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:  # noqa: A002
    """x for x > 0, else negative_slope * x."""
    floating_only("leaky_relu", input)
    return inplace_result("leaky_relu", input, LeakyReLU.apply(input, negative_slope), inplace)


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:  # noqa: A002
    """x for x > 0, else alpha * (e^x - 1)."""
    floating_only("elu", input)
    return inplace_result("elu", input, ELU.apply(input, alpha, 1.0, 1.0), inplace)


def selu(input: Tensor, inplace: bool = False) -> Tensor:  # noqa: A002
    """scale * elu(x, alpha) with SELU's fixed constants, which keep activations near mean 0, variance 1."""
    floating_only("selu", input)
    return inplace_result("selu", input, ELU.apply(input, SELU_ALPHA, SELU_SCALE, 1.0), inplace)


def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:  # noqa: A002
    """x for x > 0, else alpha * (e^(x / alpha) - 1): an ELU whose slope at 0 is 1 for every alpha."""
    floating_only("celu", input)
    if alpha == 0:
        raise ArgumentError("celu: alpha cannot be 0 (the formula divides x by alpha)")
    return inplace_result("celu", input, ELU.apply(input, alpha, 1.0, 1 / alpha), inplace)


def rrelu(input: Tensor, lower: float = 1 / 8, upper: float = 1 / 3, training: bool = False,  # noqa: A002
          inplace: bool = False) -> Tensor:  # fmt: skip
    """x for x > 0, else a * x: a drawn uniformly from [lower, upper) for each value while training (from
    tinynet's generator, so ``tn.manual_seed`` repeats it), the fixed (lower + upper) / 2 otherwise."""
    floating_only("rrelu", input)
    if lower > upper:
        raise ArgumentError(f"rrelu: lower ({lower}) must not exceed upper ({upper})")
    if not training:
        return inplace_result("rrelu", input, LeakyReLU.apply(input, (lower + upper) / 2), inplace)
    xp = array_module(input.array)
    slopes = xp.asarray(generator().uniform(lower, upper, input.shape))
    noise = select(input.array > 0, 1, slopes).astype(input.dtype)
    return inplace_result("rrelu", input, mul(input, Tensor(noise)), inplace)


@autocast_op("softplus")
def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:  # noqa: A002
    """log(1 + e^(beta x)) / beta, a smooth ReLU; linear where beta * x > threshold."""
    floating_only("softplus", input)
    return Softplus.apply(input, beta, threshold)


def tanhshrink(input: Tensor) -> Tensor:  # noqa: A002
    """x - tanh(x); integers are computed in the default float dtype, as in PyTorch."""
    x = promoted("tanhshrink", input)
    return sub(x, tanh(x))


def _softmax_input(op: str, x: Tensor, dim, stacklevel, dtype) -> tuple[Tensor, int | None]:
    """x cast to ``dtype`` (if given, before the op, as in PyTorch), checked, and the axis to normalize."""
    if not isinstance(stacklevel, int):  # torch.softmax(x, dim, dtype): its third argument is the dtype
        dtype = stacklevel
    if dtype is not None:
        x = cast(x, dtype)
    floating_only(op, x)
    if dim is None:
        # PyTorch's old implicit choice (deprecated there, with this warning): axis 0 for 0-, 1- and 3-d
        # tensors (a vector, or unbatched (C, H, W)), else axis 1 (the channels of a batch).
        dim = 0 if x.ndim in (0, 1, 3) else 1
        warnings.warn(
            f"Implicit dimension choice for {op} has been deprecated. Change the call to include dim=X as an argument.",
            stacklevel=3,
        )
    axes = normalize_dims(op, dim, x.ndim)
    return x, None if axes is None else axes[0]


@autocast_op("softmax")
def softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype=None) -> Tensor:  # noqa: A002
    """e^x / sum(e^x) along ``dim``: each slice becomes a probability distribution. ``dtype``: cast to it first."""
    x, axis = _softmax_input("softmax", input, dim, _stacklevel, dtype)
    if axis is None:  # one value is a distribution of one: the kernels see it as a 1-d slice
        return Softmax.apply(x.reshape(1), 0).reshape(())
    return Softmax.apply(x, axis)


@autocast_op("log_softmax")
def log_softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype=None) -> Tensor:  # noqa: A002
    """log(softmax(x)) along ``dim``, computed directly (stable, unlike log of softmax)."""
    x, axis = _softmax_input("log_softmax", input, dim, _stacklevel, dtype)
    if axis is None:
        return LogSoftmax.apply(x.reshape(1), 0).reshape(())
    return LogSoftmax.apply(x, axis)


@autocast_op("softmin")
def softmin(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype=None) -> Tensor:  # noqa: A002
    """softmax(-x) along ``dim``: the smallest values get the most weight."""
    x, axis = _softmax_input("softmin", input, dim, _stacklevel, dtype)
    return softmax(neg(x), 0 if axis is None else axis)


def _softmax_method(x: Tensor, dim: int, dtype=None) -> Tensor:
    return softmax(x, dim, dtype=dtype)


def _log_softmax_method(x: Tensor, dim: int, dtype=None) -> Tensor:
    return log_softmax(x, dim, dtype=dtype)


# In-place forms, where PyTorch has them (torch.relu_, F.elu_, x.sigmoid_()...).
relu_ = in_place_form("relu_", relu)
sigmoid_ = in_place_form("sigmoid_", sigmoid)
tanh_ = in_place_form("tanh_", tanh)
selu_ = in_place_form("selu_", selu)
celu_ = in_place_form("celu_", celu)
threshold_ = in_place_form("threshold_", threshold)
rrelu_ = in_place_form("rrelu_", rrelu)
elu_ = in_place_form("elu_", elu)
leaky_relu_ = in_place_form("leaky_relu_", leaky_relu)
hardtanh_ = in_place_form("hardtanh_", hardtanh)

# At tinynet.* (as torch.*): PyTorch's names there. elu, gelu, leaky_relu and softplus are tinynet's own extras.
__all__ = [
    "celu", "celu_", "elu", "gelu", "hardshrink", "leaky_relu", "log_softmax", "prelu", "relu", "relu_",
    "rrelu", "rrelu_", "selu", "selu_", "sigmoid", "sigmoid_", "softmax", "softplus", "tanh", "tanh_",
    "threshold", "threshold_",
]  # fmt: skip
# The functions that are also Tensor methods, by method name (x.NAME(...) is FUNCTION(x, ...)).
METHODS: dict = {
    "sigmoid": sigmoid, "relu": relu, "tanh": tanh, "softmax": _softmax_method, "log_softmax": _log_softmax_method,
    "hardshrink": hardshrink, "prelu": prelu, "relu_": relu_, "sigmoid_": sigmoid_, "tanh_": tanh_,
}  # fmt: skip
