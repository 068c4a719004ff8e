"""Piecewise activations: Hardtanh (and ReLU6, by kernels), and computed inline Hardswish, Hardsigmoid,
Threshold, the two shrinks and PReLU. ``tinynet.functions.activations`` exports them with the rest.

Where a piece meets the next, the gradient is PyTorch's choice at that point (e.g. hardtanh passes no
gradient at x = min_val or max_val), so values there agree too.
"""

from kernels.numpy_ref import select
from tinynet import backend
from tinynet.amp_policy import autocast_op
from tinynet.autograd import Function, unbroadcast
from tinynet.errors import ArgumentError, DTypeError, ShapeError
from tinynet.functions.activation_checks import floating_only, inplace_result, numbers_only
from tinynet.tensor import Tensor


class Hardtanh(Function):
    """x clipped to [min_val, max_val], elementwise (ReLU6 is min_val 0, max_val 6).

    forward:    y = min(max(x, min_val), max_val)
    derivative: dL/dx = dL/dy where min_val < x < max_val, else 0
    kernels:    hardtanh_forward, hardtanh_backward
    """

    @staticmethod
    def forward(ctx, x, min_val, max_val):
        ctx.save_for_backward(x)
        ctx.bounds = min_val, max_val
        return backend.for_arrays(x).hardtanh_forward(x, min_val, max_val)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved
        return backend.for_arrays(grad, x).hardtanh_backward(grad, x, *ctx.bounds), None, None


class Hardswish(Function):
    """x · relu6(x + 3) / 6, elementwise: a piecewise-quadratic SiLU.

    forward:    y = 0 for x ≤ -3, x (x + 3) / 6 for -3 < x < 3, x for x ≥ 3
    derivative: dL/dx = 0 for x ≤ -3, dL/dy (x / 3 + 1/2) for -3 < x < 3, dL/dy for x ≥ 3
    kernels:    hardswish_forward, hardswish_backward
    """

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return backend.for_arrays(x).hardswish_forward(x)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved
        return backend.for_arrays(grad).hardswish_backward(grad, x)


class Hardsigmoid(Function):
    """relu6(x + 3) / 6, elementwise: a piecewise-linear sigmoid.

    forward:    y = min(max(x + 3, 0), 6) / 6
    derivative: dL/dx = dL/dy / 6 where -3 < x < 3, else 0
    kernels:    hardsigmoid_forward, hardsigmoid_backward
    """

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return backend.for_arrays(x).hardsigmoid_forward(x)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved
        return backend.for_arrays(grad).hardsigmoid_backward(grad, x)


class Threshold(Function):
    """x where x > threshold, else a fixed value, elementwise.

    forward:    y = x where x > threshold, else value
    derivative: dL/dx = dL/dy where x > threshold, else 0
    kernels:    none: computed inline with the array module's calls
    """

    @staticmethod
    def forward(ctx, x, threshold, value):
        ctx.save_for_backward(x)
        ctx.threshold = threshold
        return select(x > threshold, x, value).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved
        return select(x > ctx.threshold, grad, 0).astype(grad.dtype, copy=False), None, None


class Softshrink(Function):
    """Shrink toward 0 by lambd, zeroing [-lambd, lambd], elementwise.

    forward:    y = x - lambd for x > lambd, x + lambd for x < -lambd, else 0
    derivative: dL/dx = dL/dy where |x| > lambd, else 0
    kernels:    none: computed inline with the array module's calls
    """

    @staticmethod
    def forward(ctx, x, lambd):
        ctx.save_for_backward(x)
        ctx.lambd = lambd
        return select(x > lambd, x - lambd, select(x < -lambd, x + lambd, 0)).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved
        return _outside(x, ctx.lambd, grad), None


class Hardshrink(Function):
    """Zero [-lambd, lambd], keep the rest, elementwise.

    forward:    y = x where |x| > lambd, else 0
    derivative: dL/dx = dL/dy where |x| > lambd, else 0
    kernels:    none: computed inline with the array module's calls
    """

    @staticmethod
    def forward(ctx, x, lambd):
        ctx.save_for_backward(x)
        ctx.lambd = lambd
        return _outside(x, lambd, x)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved
        return _outside(x, ctx.lambd, grad), None


def _outside(x, lambd, values):
    # values where x lies outside [-lambd, lambd], else 0 (the endpoints count as inside, as in PyTorch).
    return select((x < -lambd) | (x > lambd), values, 0).astype(values.dtype, copy=False)


class PReLU(Function):
    """ReLU with a learned slope below 0: one slope shared, or one per channel (axis 1).

    forward:    y = x where x > 0, else w_c · x (w broadcast along the channel axis)
    derivative: dL/dx = dL/dy where x > 0, else w_c · dL/dy; dL/dw_c = Σ dL/dy · x over x ≤ 0 in channel c
    kernels:    none: computed inline with the array module's calls
    """

    @staticmethod
    def forward(ctx, x, weight):
        slope = _channel_slope(weight, x.ndim)
        ctx.save_for_backward(x, slope)
        ctx.weight_shape = weight.shape
        return select(x > 0, x, slope * x)

    @staticmethod
    def backward(ctx, grad):
        x, slope = ctx.saved
        need_x, need_weight = ctx.needs_input_grad
        grad_x = select(x > 0, grad, slope * grad) if need_x else None
        grad_weight = None
        if need_weight:
            grad_weight = unbroadcast(select(x > 0, 0, grad * x), slope.shape).reshape(ctx.weight_shape)
        return grad_x, grad_weight


def _channel_slope(weight, ndim: int):
    # One slope for every value, or weight (C,) as (1, C, 1, ...) against an input (N, C, ...).
    if weight.size == 1 or ndim < 2:
        return weight.reshape(())
    return weight.reshape((1, weight.size) + (1,) * (ndim - 2))


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> Tensor:  # noqa: A002
    """x clipped to [min_val, max_val]; integer tensors stay integers, as in PyTorch."""
    numbers_only("hardtanh", input)
    if min_val > max_val:
        raise ArgumentError(f"hardtanh: min_val ({min_val}) cannot be greater than max_val ({max_val})")
    if input.dtype.kind == "u" and min(min_val, max_val) < 0:
        raise DTypeError(
            f"hardtanh: cannot clip an unsigned {input.dtype} tensor to negative limits ({min_val}, {max_val}), "
            "as PyTorch cannot; pass limits >= 0 or convert the input"
        )
    return inplace_result("hardtanh", input, Hardtanh.apply(input, min_val, max_val), inplace)


def relu6(input: Tensor, inplace: bool = False) -> Tensor:  # noqa: A002
    """min(max(x, 0), 6): hardtanh between 0 and 6."""
    numbers_only("relu6", input)
    return inplace_result("relu6", input, Hardtanh.apply(input, 0, 6), inplace)


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:  # noqa: A002
    """x * relu6(x + 3) / 6."""
    floating_only("hardswish", input)
    return inplace_result("hardswish", input, Hardswish.apply(input), inplace)


def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:  # noqa: A002
    """relu6(x + 3) / 6."""
    floating_only("hardsigmoid", input)
    return inplace_result("hardsigmoid", input, Hardsigmoid.apply(input), inplace)


def threshold(input: Tensor, threshold: float, value: float, inplace: bool = False) -> Tensor:  # noqa: A002
    """x where x > threshold, else value; integer tensors stay integers, as in PyTorch."""
    numbers_only("threshold", input)
    return inplace_result("threshold", input, Threshold.apply(input, threshold, value), inplace)


def softshrink(input: Tensor, lambd: float = 0.5) -> Tensor:  # noqa: A002
    """x - lambd above lambd, x + lambd below -lambd, 0 between."""
    floating_only("softshrink", input)
    if not lambd >= 0:
        raise ArgumentError(f"softshrink: lambd must be at least 0, got {lambd}")
    return Softshrink.apply(input, lambd)


def hardshrink(input: Tensor, lambd: float = 0.5) -> Tensor:  # noqa: A002
    """x where |x| > lambd, else 0."""
    floating_only("hardshrink", input)
    return Hardshrink.apply(input, lambd)


@autocast_op("prelu")
def prelu(input: Tensor, weight: Tensor) -> Tensor:  # noqa: A002
    """x where x > 0, else weight * x. input: (N, C, ...) or any shape when weight has one value;
    weight: (C,) (one slope per channel, axis 1) or (1,) or 0-d."""
    floating_only("prelu", input)
    if weight.dtype != input.dtype:
        raise DTypeError(f"prelu: input ({input.dtype}) and weight ({weight.dtype}) must have the same dtype")
    if weight.ndim > 1:
        raise ShapeError(f"prelu: weight must be 0-d or 1-d (one slope per channel), got shape {weight.shape}")
    if weight.numel() != 1:
        channels = input.shape[1] if input.ndim > 1 else 1
        if input.ndim == 0 or weight.numel() != channels:
            raise ShapeError(
                f"prelu: weight has {weight.numel()} slopes but input of shape {input.shape} has {channels} "
                "channels (axis 1); expected one slope per channel, or a single slope"
            )
    return PReLU.apply(input, weight)
