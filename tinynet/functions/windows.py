"""Arguments of sliding-window ops (convolution, pooling): ints or tuples, and the output size they give.

Along one axis a window of ``kernel`` taps, ``dilation`` apart, slides ``stride`` at a time over the
input padded by ``padding`` on both sides. It fits (size + 2 padding - dilation (kernel - 1) - 1) // stride + 1
times: that is the output size, computed by ``kernels.windows`` for the ops and every backend alike.
"""

import numpy as np

from kernels import windows
from tinynet.errors import ArgumentError, ShapeError


def ntuple(op: str, name: str, value, n: int, minimum: int) -> tuple[int, ...]:
    """``value`` as n ints, each at least ``minimum``: an int stands for n copies of itself."""
    if type(value) is tuple and len(value) == n and all(type(v) is int and v >= minimum for v in value):
        return value  # what layers pass on every call: already n plain ints (the checks below took 4 us)
    if _is_int(value):
        values = (int(value),) * n
    elif isinstance(value, (tuple, list)) and len(value) == n and all(_is_int(v) for v in value):
        values = tuple(int(v) for v in value)
    else:
        expected = "an int" if n == 1 else f"an int or a tuple of {n} ints"
        raise ArgumentError(f"{op}: {name} must be {expected}, got {value!r}")
    if min(values) < minimum:
        raise ArgumentError(f"{op}: {name} must be at least {minimum}, got {value!r}")
    return values


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def output_size(op: str, input_shape: tuple, kernel: tuple, stride: tuple, padding: tuple, dilation: tuple) -> tuple:
    """The output's spatial size for an input (N, C, *spatial); raises ShapeError when any is below 1."""
    sizes = windows.output_size(input_shape[2:], kernel, stride, padding, dilation)
    if min(sizes) < 1:
        smallest = tuple(d * (k - 1) + 1 - 2 * p for k, p, d in zip(kernel, padding, dilation))
        raise ShapeError(
            f"{op}: input of shape {input_shape} is too small for kernel_size={kernel} with padding={padding}, "
            f"dilation={dilation}, stride={stride}: the output size (size + 2*padding - dilation*(kernel_size - 1)"
            f" - 1) // stride + 1 would be {sizes}; expected at least 1 along every axis, so spatial size at least "
            f"{smallest} (or more padding)"
        )
    return sizes


def check_ndim(op: str, name: str, t, layout: str) -> None:
    """Raise ShapeError unless ``t`` has as many dimensions as ``layout`` names, e.g. "(N, C, H, W)"."""
    if t.ndim != layout.count(",") + 1:
        hint = " (for a single sample, add a batch axis: x.unsqueeze(0))" if name == "input" else ""
        raise ShapeError(f"{op}: expected {name} of shape {layout}, got shape {t.shape}{hint}")
