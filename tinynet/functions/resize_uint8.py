"""Bilinear resizing of uint8 images the way PyTorch's CPU does it: in fixed point, one axis at a time.

A float image is resized by blending its four neighbours in floating point. PyTorch resizes a uint8 image as
image libraries do: the weights of each output pixel are rounded to integers with ``precision`` fraction bits,
each row is resized across (width first), rounded back to uint8, then each column. The two roundings make the
result differ from "compute in float, round at the end" in about one pixel in six, so tinynet does the same.
No gradient: integer images do not take one.
"""

from __future__ import annotations

import math

import numpy as np

from kernels.numpy_ref import array_module
from tinynet.tensor import Tensor


def _weights(size_in: int, size_out: int, align_corners: bool) -> tuple[np.ndarray, np.ndarray, int]:
    """For each output position, the first input position it reads, the integer weights of the positions from
    there on (tent filter of support 1, normalised, scaled by 2^precision), and the precision."""
    if align_corners:
        scale = (size_in - 1) / (size_out - 1) if size_out > 1 else 0.0
    else:
        scale = size_in / size_out
    starts, rows = [], []
    for i in range(size_out):
        center = scale * i + 0.5 if align_corners else scale * (i + 0.5)
        first = max(int(center - 0.5), 0)
        last = min(int(center + 1.5), size_in)
        weights = [max(0.0, 1.0 - abs(j + first - center + 0.5)) for j in range(last - first)]
        total = sum(weights)
        starts.append(first)
        rows.append([w / total if total else 0.0 for w in weights])
    # As many fraction bits as keep the largest weight below 2^15 (at most 15).
    largest = max(max(row) for row in rows)
    precision = 0
    while precision < 15 and int(0.5 + largest * (1 << (precision + 1))) < (1 << 15):
        precision += 1
    taps = max(len(row) for row in rows)
    fixed = np.zeros((size_out, taps), np.int64)
    for i, row in enumerate(rows):
        fixed[i, : len(row)] = [math.floor(w * (1 << precision) + 0.5) for w in row]
    return np.array(starts), fixed, precision


def _resize_last_axis(image, size_out: int, align_corners: bool):
    """``image`` (uint8, any leading axes) resized along its last axis, rounded back to uint8."""
    xp = array_module(image)
    size_in = image.shape[-1]
    starts, fixed, precision = _weights(size_in, size_out, align_corners)
    positions = np.minimum(starts[:, None] + np.arange(fixed.shape[1]), size_in - 1)  # padded taps weigh 0
    taps = image[..., xp.asarray(positions)].astype(xp.int64)  # (..., size_out, taps)
    total = (taps * xp.asarray(fixed)).sum(axis=-1) + (1 << (precision - 1))
    return xp.clip(total >> precision, 0, 255).astype(xp.uint8)


def bilinear_uint8(input: Tensor, size: tuple[int, int], align_corners: bool) -> Tensor:  # noqa: A002
    """input: (N, C, H, W) uint8 -> (N, C, *size) uint8, resized across then down as PyTorch's CPU does."""
    image = input.array
    if image.shape[-1] != size[1]:
        image = _resize_last_axis(image, size[1], align_corners)
    if image.shape[-2] != size[0]:
        image = _resize_last_axis(image.swapaxes(-1, -2), size[0], align_corners).swapaxes(-1, -2)
    return Tensor(image.copy())
