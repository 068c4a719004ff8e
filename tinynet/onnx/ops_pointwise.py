"""ONNX mappings of the elementwise ops, activations, softmax and reductions.

Each mapping gets the Builder, the op's arguments as ``Function.apply`` got them (Tensors, raw arrays, Python
values) and the output Tensor (for its dtype and shape), and returns the ONNX value holding the output.
"""

from __future__ import annotations

import math

import numpy as np

from tinynet.dtypes import result_type
from tinynet.onnx.graph import Builder, mapping, refuse

# --- arithmetic -------------------------------------------------------------------------------------------

_BINARY = {"Add": "Add", "Sub": "Sub", "Mul": "Mul", "Div": "Div", "Maximum": "Max", "Minimum": "Min"}


def _operand(b: Builder, arg, dtype) -> str:
    """A binary op's operand: traced as it is; a constant (a Python number too) in the op's dtype, as the
    forward computed it (binary ops promote both operands to the output's dtype first)."""
    return b.value(arg) if b.is_traced(arg) else b.value(arg, dtype)


@mapping(*_BINARY)
def _binary(b: Builder, args, out, op: str = ""):
    x, y = args
    op_type = _BINARY[op]
    return b.node(op_type, [_operand(b, x, out.dtype), _operand(b, y, out.dtype)])


_COMPARE = {"lt": "Less", "le": "LessOrEqual", "gt": "Greater", "ge": "GreaterOrEqual", "eq": "Equal"}


@mapping("Compare")
def _compare(b: Builder, args, out, op: str = ""):
    x, y, relation = args
    dtype = result_type(x, y)  # what the comparison computed in: PyTorch's promotion
    values = [_operand(b, x, dtype), _operand(b, y, dtype)]
    if relation == "ne":
        return b.node("Not", [b.node("Equal", values)])
    return b.node(_COMPARE[relation], values)


@mapping("Pow")
def _pow(b: Builder, args, out, op: str = ""):
    x, y = args
    return b.node("Pow", [_operand(b, x, out.dtype), _operand(b, y, out.dtype)])


_UNARY = {
    "Neg": "Neg", "Exp": "Exp", "Log": "Log", "Sqrt": "Sqrt", "Abs": "Abs", "ReLU": "Relu", "Sigmoid": "Sigmoid",
    "Tanh": "Tanh", "Reciprocal": "Reciprocal", "Erf": "Erf", "Softsign": "Softsign", "Sin": "Sin", "Cos": "Cos",
    "Clone": "Identity",
}  # fmt: skip


@mapping(*_UNARY)
def _unary(b: Builder, args, out, op: str = ""):
    return b.node(_UNARY[op], [b.value(args[0])])


@mapping("Rsqrt")
def _rsqrt(b: Builder, args, out, op: str = ""):
    return b.node("Reciprocal", [b.node("Sqrt", [b.value(args[0])])])


@mapping("Square")
def _square(b: Builder, args, out, op: str = ""):
    x = b.value(args[0])
    return b.node("Mul", [x, x])


@mapping("Clip")
def _clip(b: Builder, args, out, op: str = ""):
    x, low, high = args
    bounds = [None if v is None else _operand(b, v, out.dtype) for v in (low, high)]
    return b.node("Clip", [b.value(x), *bounds])


@mapping("Cast")
def _cast(b: Builder, args, out, op: str = ""):
    to = b.helper.np_dtype_to_tensor_dtype(np.dtype(out.dtype))
    return b.node("Cast", [b.value(args[0])], to=to)


@mapping("Where")
def _where(b: Builder, args, out, op: str = ""):
    condition, x, y = args
    return b.node("Where", [b.value(condition, np.bool_), _operand(b, x, out.dtype), _operand(b, y, out.dtype)])


@mapping("MaskedFill")
def _masked_fill(b: Builder, args, out, op: str = ""):
    x, mask, value = args
    return b.node("Where", [b.value(mask, np.bool_), _operand(b, value, out.dtype), b.value(x)])


# --- activations ------------------------------------------------------------------------------------------


def _scaled(b: Builder, x: str, factor: float, dtype) -> str:
    return b.node("Mul", [x, b.scalar(factor, dtype)])


@mapping("GELU")
def _gelu(b: Builder, args, out, op: str = ""):
    # x Φ(x) = x (1 + erf(x / √2)) / 2, in ops every opset has (Gelu itself came in opset 20).
    x, dtype = b.value(args[0]), out.dtype
    phi = b.node("Add", [b.node("Erf", [_scaled(b, x, 1 / math.sqrt(2), dtype)]), b.scalar(1, dtype)])
    return b.node("Mul", [_scaled(b, x, 0.5, dtype), phi])


@mapping("GELUTanh")
def _gelu_tanh(b: Builder, args, out, op: str = ""):
    # x (1 + tanh(√(2/π) (x + 0.044715 x³))) / 2
    x, dtype = b.value(args[0]), out.dtype
    cube = b.node("Mul", [b.node("Mul", [x, x]), x])
    inner = _scaled(b, b.node("Add", [x, _scaled(b, cube, 0.044715, dtype)]), math.sqrt(2 / math.pi), dtype)
    return b.node("Mul", [_scaled(b, x, 0.5, dtype), b.node("Add", [b.node("Tanh", [inner]), b.scalar(1, dtype)])])


@mapping("LeakyReLU")
def _leaky_relu(b: Builder, args, out, op: str = ""):
    x, slope = args
    return b.node("LeakyRelu", [b.value(x)], alpha=float(slope))


@mapping("ELU")
def _elu(b: Builder, args, out, op: str = ""):
    # ELU.apply(x, alpha, scale, input_scale) serves elu, selu and celu.
    x, alpha, scale, input_scale = args
    if scale == 1 and input_scale == 1:
        return b.node("Elu", [b.value(x)], alpha=float(alpha))
    if input_scale == 1:
        return b.node("Selu", [b.value(x)], alpha=float(alpha), gamma=float(scale))
    if scale == 1 and math.isclose(input_scale, 1 / alpha):
        return b.node("Celu", [b.value(x)], alpha=float(alpha))
    raise refuse(op, f"with scale={scale}, input_scale={input_scale} has no ONNX mapping yet")


@mapping("Softplus")
def _softplus(b: Builder, args, out, op: str = ""):
    # log(1 + e^(βx)) / β, and x itself where βx > threshold (as the forward computes it).
    x, beta, threshold = args
    x, dtype = b.value(x), out.dtype
    bx = _scaled(b, x, beta, dtype)
    smooth = _scaled(b, b.node("Softplus", [bx]), 1 / beta, dtype)
    return b.node("Where", [b.node("Greater", [bx, b.scalar(threshold, dtype)]), x, smooth])


@mapping("SiLU")
def _silu(b: Builder, args, out, op: str = ""):
    x = b.value(args[0])
    return b.node("Mul", [x, b.node("Sigmoid", [x])])


@mapping("Mish")
def _mish(b: Builder, args, out, op: str = ""):
    x = b.value(args[0])
    return b.node("Mul", [x, b.node("Tanh", [b.node("Softplus", [x])])])


@mapping("LogSigmoid")
def _log_sigmoid(b: Builder, args, out, op: str = ""):
    # log σ(x) = -softplus(-x)
    return b.node("Neg", [b.node("Softplus", [b.node("Neg", [b.value(args[0])])])])


@mapping("Softmax", "LogSoftmax")
def _softmax(b: Builder, args, out, op: str = ""):
    x, axis = args
    return b.node(op, [b.value(x)], axis=int(axis))


# --- reductions -------------------------------------------------------------------------------------------


def _reduce(b: Builder, op_type: str, x, axes, keepdim: bool) -> str:
    """ReduceSum takes its axes as an input since opset 13, the others since opset 18 (an attribute before)."""
    x = b.value(x)
    if axes is not None and len(axes) == 0:  # NumPy's sum over no axis: the values themselves
        return b.node("Identity", [x])
    keep = int(bool(keepdim))
    if axes is None:
        return b.node(op_type, [x], keepdims=keep)
    if op_type == "ReduceSum" or b.opset >= 18:
        return b.node(op_type, [x, b.ints(axes, "axes")], keepdims=keep)
    return b.node(op_type, [x], axes=[int(a) for a in axes], keepdims=keep)


@mapping("Sum")
def _sum(b: Builder, args, out, op: str = ""):
    x, axes, keepdim = args
    return _reduce(b, "ReduceSum", x, axes, keepdim)


@mapping("Mean")
def _mean(b: Builder, args, out, op: str = ""):
    x, axes, keepdim = args
    return _reduce(b, "ReduceMean", x, axes, keepdim)


@mapping("Extremum")
def _extremum(b: Builder, args, out, op: str = ""):
    x, axes, keepdim, largest = args
    return _reduce(b, "ReduceMax" if largest else "ReduceMin", x, axes, keepdim)


@mapping("LogSumExp")
def _logsumexp(b: Builder, args, out, op: str = ""):
    x, axes, keepdim = args
    return _reduce(b, "ReduceLogSumExp", x, axes, keepdim)
