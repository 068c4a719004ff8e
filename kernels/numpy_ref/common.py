"""What several reference families share: the array module of the inputs, and window slicing."""

import sys

import numpy as np


def array_module(*arrays):
    """The array library of the inputs: cupy when any input is a cupy array, else numpy."""
    for a in arrays:
        if type(a).__module__.startswith("cupy"):
            return sys.modules["cupy"]
    return np


def select(condition, if_true, if_false):
    """xp.where(condition, if_true, if_false) for floating values, without a branch per value.

    Why: NumPy's where branches on each value of the condition, and on an activation's random signs half of those
    branches are mispredicted: 3.6 ns a value on (32, 64, 16, 16) float32 (2026-12-06), 12x a multiply. Here the
    condition becomes a mask of all-one or all-zero bits, and the values are picked by bit operations:
    if_false ^ ((if_true ^ if_false) & mask), the same numbers where would give. Integer and bool values go to
    xp.where.
    """
    xp = array_module(condition, if_true, if_false)
    dtype = xp.result_type(if_true, if_false)
    if dtype.kind != "f":
        return xp.where(condition, if_true, if_false)
    bits = xp.dtype(f"uint{8 * dtype.itemsize}")
    mask = xp.negative(xp.asarray(condition).astype(bits))  # 0 - 1 wraps to all ones
    chosen, other = (xp.asarray(values, dtype).view(bits) for values in (if_true, if_false))
    if other.ndim == 0 and int(other) == 0:  # if_false is +0.0: the mask alone picks
        return (chosen & mask).view(dtype)
    return (other ^ ((chosen ^ other) & mask)).view(dtype)


def special_functions(xp):
    """The special functions (erf and its kin) of array module ``xp``: SciPy's for NumPy, CuPy's twin for CuPy
    (imported when first asked for, here in kernels/ where array libraries are imported)."""
    if xp is np:
        import scipy.special as functions
    else:
        import cupyx.scipy.special as functions
    return functions


# --- windows of convolution and pooling -----------------------------------------------------
# Stride, padding, dilation are (h, w) pairs. Along each axis a window of K taps, d apart, slides s at a
# time over the input padded by p on both sides (how many fit: kernels.windows.output_size). The conv and
# pooling kernels loop over the K_h * K_w kernel offsets only: each offset reads one strided slice
# of the padded input (every output pixel's tap at that offset) in a single array operation.


def tap_slices(kernel, stride, dilation, out_size):
    """For each kernel offset (i, j), row-major, the index of the padded-input pixels it touches.

    Offset (i, j) of the window at output pixel (oh, ow) reads padded pixel (oh*sh + i*dh, ow*sw + j*dw),
    so over all output pixels it reads one strided slice of the last two axes.
    """
    (kh, kw), (sh, sw), (dh, dw), (oh, ow) = kernel, stride, dilation, out_size
    for i in range(kh):
        for j in range(kw):
            yield (..., slice(i * dh, i * dh + sh * (oh - 1) + 1, sh), slice(j * dw, j * dw + sw * (ow - 1) + 1, sw))


def pad(x, padding, value=0.0):
    """x: (N, C, H, W) -> (N, C, H + 2ph, W + 2pw), the border filled with ``value``."""
    ph, pw = padding
    if not (ph or pw):
        return x
    n, c, h, w = x.shape
    padded = array_module(x).full((n, c, h + 2 * ph, w + 2 * pw), value, dtype=x.dtype)
    padded[:, :, ph : ph + h, pw : pw + w] = x
    return padded


def crop(padded, padding):
    """The inverse of pad: drop ph rows and pw columns from each side."""
    ph, pw = padding
    h, w = padded.shape[-2:]
    return padded[..., ph : h - ph, pw : w - pw]
