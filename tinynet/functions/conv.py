"""Convolutions, as PyTorch's: conv1d, conv2d, conv3d, conv_transpose1d, conv_transpose2d, conv_transpose3d.

Each checks its arguments (saying what was expected) and turns PyTorch's conveniences into what the ops in
``conv_ops`` take: an int or a tuple for stride/padding/dilation, ``padding="same"`` or ``"valid"``, ``groups``,
and an unbatched input (C, *spatial), which runs as a batch of one.
"""

from __future__ import annotations

from kernels import windows
from tinynet.amp_policy import autocast_op
from tinynet.autograd import Function
from tinynet.dtypes import float64
from tinynet.errors import ArgumentError, DTypeError, ShapeError
from tinynet.functions.conv_ops import Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d, ConvTranspose3d
from tinynet.functions.padding import pad
from tinynet.functions.windows import check_ndim, ntuple, output_size
from tinynet.tensor import Tensor

_AXES = {1: ("L", "K"), 2: ("H, W", "KH, KW"), 3: ("D, H, W", "KD, KH, KW")}
IntOrTuple = int | tuple[int, ...]


def _unbatched(op: str, spatial: int, input: Tensor) -> bool:  # noqa: A002
    """Whether ``input`` is one sample (C, *spatial); raises ShapeError for any other than that or a batch."""
    axes = _AXES[spatial][0]
    if input.ndim not in (spatial + 1, spatial + 2):
        raise ShapeError(
            f"{op}: expected input of shape (N, C, {axes}) or unbatched (C, {axes}), got shape {input.shape}"
        )
    return input.ndim == spatial + 1


# The integer dtypes PyTorch's CPU convolutions compute in (its transposed ones: int64 alone).
_INTEGERS = {"conv": ("int64", "int32", "int16", "int8", "uint8"), "transposed": ("int64",)}


def _check_common(op: str, spatial: int, input: Tensor, weight: Tensor, bias, groups, layout: str) -> int:  # noqa: A002
    """The checks convolutions and transposed ones share; returns groups as an int."""
    check_ndim(op, "weight", weight, f"({layout}, {_AXES[spatial][1]})")
    dtype = input.dtype
    if not (input.is_floating_point() and weight.dtype == dtype and (bias is None or bias.dtype == dtype)):
        _check_dtypes(op, input, weight, bias, _INTEGERS["transposed" if layout.startswith("in_channels") else "conv"])
    groups = ntuple(op, "groups", groups, 1, 1)[0]
    if weight.shape[0] % groups:
        raise ShapeError(
            f"{op}: groups={groups} must divide the weight's dim 0 ({weight.shape[0]}), weight of shape {weight.shape}"
        )
    return groups


def _check_dtypes(op: str, input: Tensor, weight: Tensor, bias, integers: tuple[str, ...]) -> None:  # noqa: A002
    """Floating point or one of ``integers``, and one dtype for all: what the layers' usual floats skip (3 us)."""
    for name, t in (("input", input), ("weight", weight), ("bias", bias)):
        if t is not None and not (t.is_floating_point() or t.dtype.name in integers):
            raise DTypeError(
                f"{op}: {name} of dtype {t.dtype} is not supported: it takes floating point or {', '.join(integers)}, "
                "as PyTorch's does; convert it with .float()"
            )
        if t is not None and t.dtype != input.dtype:
            raise DTypeError(f"{op}: {name} has dtype {t.dtype} but input has {input.dtype}; they must be the same")


def _check_weight_not_empty(op: str, weight: Tensor, out_channels_axis: int) -> None:
    """PyTorch refuses a weight with no output channels or a kernel of size 0: there is nothing to slide."""
    if weight.shape[out_channels_axis] == 0 or 0 in weight.shape[2:]:
        raise ShapeError(
            f"{op}: weight of shape {weight.shape} is empty; expected at least 1 output channel (axis "
            f"{out_channels_axis}) and a kernel of at least 1 along every spatial axis"
        )


def _check_bias(op: str, bias: Tensor | None, out_channels: int) -> None:
    if bias is not None and bias.shape != (out_channels,):
        raise ShapeError(f"{op}: bias must have shape ({out_channels},), one per output channel, got {bias.shape}")


def same_padding(kernel: tuple, dilation: tuple) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(padding before, padding after) per axis that keeps the size at stride 1: dilation (kernel - 1) in all,
    the odd one after (on the right, the bottom), as PyTorch splits it."""
    totals = [d * (k - 1) for k, d in zip(kernel, dilation)]
    return tuple(t // 2 for t in totals), tuple(t - t // 2 for t in totals)


# The arguments a convolution has checked, by shapes, dtypes and options (see _checked_key), with what they came to.
# A layer calls with the same ones every step, and checking them again took 5.5 us a call: a quarter of the MNIST-1D
# CNN's smaller layers.
_CHECKED: dict[tuple, tuple] = {}


def _checked_key(op: str, input: Tensor, weight: Tensor, bias, stride, padding, dilation, groups) -> tuple | None:  # noqa: A002
    """What the checks of ``_convolve`` depend on, or None for arguments other than plain ones (tensors; ints or
    tuples of ints, as layers and most programs pass), which are checked on every call."""
    if not (isinstance(input, Tensor) and isinstance(weight, Tensor) and (bias is None or isinstance(bias, Tensor))):
        return None
    if not (_plain(stride) and _plain(padding) and _plain(dilation) and type(groups) is int):
        return None
    biased = None if bias is None else (bias.shape, bias.dtype)
    return (op, input.shape, input.dtype, weight.shape, weight.dtype, biased, stride, padding, dilation, groups)


def _plain(option) -> bool:
    """An int, or a tuple of ints (not bools, which equal ints as keys of _CHECKED)."""
    return type(option) is int or (type(option) is tuple and all(type(v) is int for v in option))


def _convolve(
    op: str, spatial: int, function: type[Function], input: Tensor, weight: Tensor, bias, stride, padding, dilation,  # noqa: A002
    groups,
) -> Tensor:  # fmt: skip
    """Check a convolution's arguments, then run ``function`` (its op) on a batch."""
    key = _checked_key(op, input, weight, bias, stride, padding, dilation, groups)
    checked = _CHECKED.get(key) if key is not None else None
    if checked is not None:
        return _apply(function, input, weight, bias, *checked)
    if _unbatched(op, spatial, input):
        return _convolve(op, spatial, function, input[None], weight, bias, stride, padding, dilation, groups)[0]
    groups = _check_common(op, spatial, input, weight, bias, groups, "out_channels, in_channels")
    if input.shape[1] != weight.shape[1] * groups:
        raise ShapeError(
            f"{op}: input of shape {input.shape} has {input.shape[1]} channels but weight of shape {weight.shape} "
            f"expects {weight.shape[1] * groups} (weight is (out_channels, in_channels / groups, "
            f"{_AXES[spatial][1]}), groups={groups})"
        )
    _check_weight_not_empty(op, weight, out_channels_axis=0)
    _check_bias(op, bias, weight.shape[0])
    stride = ntuple(op, "stride", stride, spatial, 1)
    dilation = ntuple(op, "dilation", dilation, spatial, 1)
    x = input
    if isinstance(padding, str):
        x, padding = _string_padding(op, x, weight, padding, stride, dilation)
    else:
        padding = ntuple(op, "padding", padding, spatial, 0)
    output_size(op, x.shape, weight.shape[2:], stride, padding, dilation)
    if key is not None and len(_CHECKED) < 4096:  # (a bound: a program of ever new shapes keeps checking them)
        _CHECKED[key] = (stride, padding, dilation, groups)
    return _apply(function, x, weight, bias, stride, padding, dilation, groups)


def _apply(function: type[Function], x: Tensor, weight: Tensor, bias, *options) -> Tensor:
    """``function`` on the inputs; integer ones (which need no gradient) computed exactly in float64 and given back
    in their dtype, as PyTorch's integer convolutions are, since the kernels compute in floating point."""
    if x.is_floating_point():
        return function.apply(x, weight, bias, *options)
    floats = [None if t is None else t.to(float64) for t in (x, weight, bias)]
    return function.apply(*floats, *options).round().to(x.dtype)


def _string_padding(op: str, x: Tensor, weight: Tensor, padding: str, stride, dilation):
    """``padding="valid"`` (none) or ``"same"`` (output size = input size) as (input, symmetric padding): an odd
    total pads the input by one more after, on each axis that needs it, as PyTorch does."""
    if padding == "valid":
        return x, (0,) * len(stride)
    if padding != "same":
        raise ArgumentError(f"{op}: padding must be an int, a tuple, 'same' or 'valid', got {padding!r}")
    if any(s != 1 for s in stride):
        raise ArgumentError(f"{op}: padding='same' is not supported for strided convolutions (stride={stride})")
    before, after = same_padding(weight.shape[2:], dilation)
    extra = [a - b for b, a in zip(before, after)]
    if any(extra):
        x = pad(x, [p for e in reversed(extra) for p in (0, e)])
    return x, before


@autocast_op("conv1d")
def conv1d(
    input: Tensor,  # noqa: A002 (PyTorch's name)
    weight: Tensor,
    bias: Tensor | None = None,
    stride: IntOrTuple = 1,
    padding: IntOrTuple | str = 0,
    dilation: IntOrTuple = 1,
    groups: int = 1,
) -> Tensor:
    """1-D convolution, zero padding. input: (N, C, L) or (C, L), weight: (O, C / groups, K), bias: (O,) or None
    -> (N, O, OL) with OL = (L + 2 padding - dilation (K - 1) - 1) // stride + 1.

    padding: an int, or "valid" (0) or "same" (OL = L; stride 1 only). groups: the channels split into that many
    groups, each convolved with its own O / groups filters (groups = C: depthwise).
    """
    return _convolve("conv1d", 1, Conv1d, input, weight, bias, stride, padding, dilation, groups)


@autocast_op("conv2d")
def conv2d(
    input: Tensor,  # noqa: A002
    weight: Tensor,
    bias: Tensor | None = None,
    stride: IntOrTuple = 1,
    padding: IntOrTuple | str = 0,
    dilation: IntOrTuple = 1,
    groups: int = 1,
) -> Tensor:
    """2-D convolution (cross-correlation, as in every DL framework), zero padding.

    input: (N, C, H, W) or (C, H, W), weight: (O, C / groups, KH, KW), bias: (O,) or None -> (N, O, OH, OW) with
    OH = (H + 2 padding - dilation (KH - 1) - 1) // stride + 1, likewise OW. stride, padding, dilation: an int for
    both axes or an (h, w) pair; padding also "valid" or "same" (stride 1). groups as in conv1d.
    """
    return _convolve("conv2d", 2, Conv2d, input, weight, bias, stride, padding, dilation, groups)


@autocast_op("conv3d")
def conv3d(
    input: Tensor,  # noqa: A002
    weight: Tensor,
    bias: Tensor | None = None,
    stride: IntOrTuple = 1,
    padding: IntOrTuple | str = 0,
    dilation: IntOrTuple = 1,
    groups: int = 1,
) -> Tensor:
    """3-D convolution. input: (N, C, D, H, W) or (C, D, H, W), weight: (O, C / groups, KD, KH, KW), bias: (O,)
    or None -> (N, O, OD, OH, OW), each size as in conv2d. Arguments as in conv2d, with triples."""
    return _convolve("conv3d", 3, Conv3d, input, weight, bias, stride, padding, dilation, groups)


def _convolve_transposed(
    op: str, spatial: int, function: type[Function], input: Tensor, weight: Tensor, bias, stride, padding,  # noqa: A002
    output_padding, groups, dilation,
) -> Tensor:  # fmt: skip
    """Check a transposed convolution's arguments, then run ``function`` (its op) on a batch."""
    if _unbatched(op, spatial, input):
        args = (stride, padding, output_padding, groups, dilation)
        return _convolve_transposed(op, spatial, function, input[None], weight, bias, *args)[0]
    groups = _check_common(op, spatial, input, weight, bias, groups, "in_channels, out_channels / groups")
    if input.shape[1] != weight.shape[0]:
        raise ShapeError(
            f"{op}: input of shape {input.shape} has {input.shape[1]} channels but weight of shape {weight.shape} "
            f"expects {weight.shape[0]} (a transposed convolution's weight is (in_channels, out_channels / groups, "
            f"{_AXES[spatial][1]}))"
        )
    _check_weight_not_empty(op, weight, out_channels_axis=1)
    _check_bias(op, bias, weight.shape[1] * groups)
    stride = ntuple(op, "stride", stride, spatial, 1)
    padding = ntuple(op, "padding", padding, spatial, 0)
    output_padding = ntuple(op, "output_padding", output_padding, spatial, 0)
    dilation = ntuple(op, "dilation", dilation, spatial, 1)
    if any(o >= max(s, d) for o, s, d in zip(output_padding, stride, dilation)):
        raise ArgumentError(
            f"{op}: output_padding={output_padding} must be smaller than stride={stride} or dilation={dilation} "
            "along each axis"
        )
    sizes = windows.transposed_output_size(input.shape[2:], weight.shape[2:], stride, padding, output_padding, dilation)
    if min(sizes) < 1:
        raise ShapeError(
            f"{op}: input of shape {input.shape} with weight {weight.shape}, stride={stride}, padding={padding}, "
            f"output_padding={output_padding}, dilation={dilation} would give an output of size {sizes} "
            "((size - 1) * stride - 2 * padding + dilation * (kernel_size - 1) + output_padding + 1); expected at "
            "least 1 along every axis: use less padding"
        )
    return _apply(function, input, weight, bias, stride, padding, output_padding, dilation, groups)


@autocast_op("conv_transpose1d")
def conv_transpose1d(
    input: Tensor,  # noqa: A002
    weight: Tensor,
    bias: Tensor | None = None,
    stride: IntOrTuple = 1,
    padding: IntOrTuple = 0,
    output_padding: IntOrTuple = 0,
    groups: int = 1,
    dilation: IntOrTuple = 1,
) -> Tensor:
    """1-D transposed convolution. input: (N, C_in, L) or (C_in, L), weight: (C_in, C_out / groups, K), bias:
    (C_out,) or None -> (N, C_out, OL), OL = (L - 1) stride - 2 padding + dilation (K - 1) + output_padding + 1."""
    args = (stride, padding, output_padding, groups, dilation)
    return _convolve_transposed("conv_transpose1d", 1, ConvTranspose1d, input, weight, bias, *args)


@autocast_op("conv_transpose2d")
def conv_transpose2d(
    input: Tensor,  # noqa: A002
    weight: Tensor,
    bias: Tensor | None = None,
    stride: IntOrTuple = 1,
    padding: IntOrTuple = 0,
    output_padding: IntOrTuple = 0,
    groups: int = 1,
    dilation: IntOrTuple = 1,
) -> Tensor:
    """2-D transposed convolution (the gradient of conv2d with respect to its input, used as a layer).

    input: (N, C_in, H, W) or (C_in, H, W), weight: (C_in, C_out / groups, KH, KW), bias: (C_out,) or None ->
    (N, C_out, OH, OW) with OH = (H - 1) stride - 2 padding + dilation (KH - 1) + output_padding + 1, likewise OW.
    With stride s it upsamples by s: conv2d with the same arguments maps the output's shape back to the input's.
    output_padding (smaller than stride or dilation) picks among the output sizes that conv2d maps to H.
    """
    args = (stride, padding, output_padding, groups, dilation)
    return _convolve_transposed("conv_transpose2d", 2, ConvTranspose2d, input, weight, bias, *args)


@autocast_op("conv_transpose3d")
def conv_transpose3d(
    input: Tensor,  # noqa: A002
    weight: Tensor,
    bias: Tensor | None = None,
    stride: IntOrTuple = 1,
    padding: IntOrTuple = 0,
    output_padding: IntOrTuple = 0,
    groups: int = 1,
    dilation: IntOrTuple = 1,
) -> Tensor:
    """3-D transposed convolution. input: (N, C_in, D, H, W) or unbatched, weight: (C_in, C_out / groups, KD, KH,
    KW), bias: (C_out,) or None -> (N, C_out, OD, OH, OW), each size as in conv_transpose2d."""
    args = (stride, padding, output_padding, groups, dilation)
    return _convolve_transposed("conv_transpose3d", 3, ConvTranspose3d, input, weight, bias, *args)


__all__ = ["conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d"]
METHODS: dict = {}
