"""Pooling with all of PyTorch's options, adaptive pooling, unpooling and interpolate, against PyTorch.

Each case runs one call on PyTorch and on tinynet (tests/torch_oracle.py) and compares values, dtypes and the
gradients of every float input, on every backend.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from torch_oracle import check, torch

import tinynet as tn
import tinynet.nn.functional as TF
from tinynet import nn


def F(lib):
    return lib.nn.functional


def distinct(shape, seed=0, dtype=np.float32):
    """A shuffled ramp: no ties, so every window has one maximum (a fair gradient check for the max pools)."""
    size = int(np.prod(shape))
    return (np.random.default_rng(seed).permutation(size).reshape(shape) / max(size, 1)).astype(dtype)


MAX_POOLS = {
    "2d_kernel_sizes": (lambda lib, x: F(lib).max_pool2d(x, kernel_size=(3, 2)), (4, 2, 11, 28)),
    "2d_int_kernel": (lambda lib, x: F(lib).max_pool2d(x, 5), (2, 2, 11, 28)),
    "2d_padding": (lambda lib, x: F(lib).max_pool2d(x, kernel_size=3, padding=(1, 0)), (2, 2, 11, 28)),
    "2d_bigger_stride": (lambda lib, x: F(lib).max_pool2d(x, (2, 2), stride=(2, 3)), (2, 2, 11, 28)),
    "2d_smaller_stride": (lambda lib, x: F(lib).max_pool2d(x, (5, 5), stride=(2, 3)), (3, 2, 17, 14)),
    "2d_unit_stride": (lambda lib, x: F(lib).max_pool2d(x, (5, 5), stride=1), (3, 2, 17, 14)),
    "2d_dilation": (lambda lib, x: F(lib).max_pool2d(x, (5, 5), dilation=(2, 3)), (3, 2, 17, 14)),
    "2d_stride_dilation": (lambda lib, x: F(lib).max_pool2d(x, 2, stride=4, dilation=6), (2, 2, 11, 28)),
    "2d_ceil_mode": (lambda lib, x: F(lib).max_pool2d(x, (3, 2), stride=3, padding=1, ceil_mode=True), (1, 1, 6, 6)),
    "2d_ceil_mode_drops_last": (lambda lib, x: F(lib).max_pool2d(x, 3, 3, 1, ceil_mode=True), (1, 1, 5, 5)),
    "2d_ceil_mode_4": (lambda lib, x: F(lib).max_pool2d(x, 4, stride=3, padding=1, ceil_mode=True), (2, 1, 6, 7)),
    "2d_global": (lambda lib, x: F(lib).max_pool2d(x, (12, 13)), (1, 2, 12, 13)),
    "2d_unbatched": (lambda lib, x: F(lib).max_pool2d(x, 2, padding=1), (3, 5, 6)),
    "2d_empty_batch": (lambda lib, x: F(lib).max_pool2d(x, 2, dilation=2), (0, 3, 6, 6)),
    "2d_transposed_input": (lambda lib, x: F(lib).max_pool2d(x.transpose(2, 3), 3, 2, 1), (2, 3, 7, 9)),
    "2d_stride_empty_list": (lambda lib, x: F(lib).max_pool2d(x, 2, stride=[]), (1, 2, 6, 6)),
    "1d": (lambda lib, x: F(lib).max_pool1d(x, 3, stride=2, padding=1), (2, 3, 11)),
    "1d_dilation_ceil": (lambda lib, x: F(lib).max_pool1d(x, 2, 3, 1, dilation=2, ceil_mode=True), (2, 3, 12)),
    "1d_unbatched": (lambda lib, x: F(lib).max_pool1d(x, 2), (3, 9)),
    "3d": (lambda lib, x: F(lib).max_pool3d(x, 2), (1, 2, 4, 5, 6)),
    "3d_options": (lambda lib, x: F(lib).max_pool3d(x, (3, 2, 2), (2, 1, 2), 1, 1, True), (2, 1, 5, 4, 5)),
    "3d_unbatched_dilation": (lambda lib, x: F(lib).max_pool3d(x, 2, dilation=(1, 2, 1)), (2, 4, 5, 3)),
    "layer_2d": (lambda lib, x: lib.nn.MaxPool2d(3, 2, 1, ceil_mode=True)(x), (2, 3, 8, 8)),
    "layer_1d": (lambda lib, x: lib.nn.MaxPool1d(3, dilation=2)(x), (2, 3, 10)),
    "layer_3d": (lambda lib, x: lib.nn.MaxPool3d(2, padding=1)(x), (1, 2, 4, 3, 4)),
}


@pytest.mark.parametrize("case", MAX_POOLS.values(), ids=MAX_POOLS.keys())
def test_max_pool_options(backend_name, case):
    fn, shape = case
    check(fn, distinct(shape))


RETURN_INDICES = {
    "batch_channels": (lambda lib, x: F(lib).max_pool2d(x, kernel_size=(2, 2), return_indices=True), (2, 3, 6, 6)),
    "dilation": (lambda lib, x: F(lib).max_pool2d(x, (3, 2), dilation=(2, 3), return_indices=True), (1, 1, 10, 10)),
    "padding": (lambda lib, x: F(lib).max_pool2d(x, 3, padding=1, return_indices=True), (1, 1, 5, 5)),
    "ceil_mode": (lambda lib, x: F(lib).max_pool2d(x, 2, 2, ceil_mode=True, return_indices=True), (1, 1, 7, 7)),
    "global": (lambda lib, x: F(lib).max_pool2d(x, (12, 13), return_indices=True), (1, 1, 12, 13)),
    "unbatched": (lambda lib, x: F(lib).max_pool2d(x, 2, 1, return_indices=True), (2, 4, 5)),
    "1d": (lambda lib, x: F(lib).max_pool1d(x, 3, 2, 1, return_indices=True), (2, 3, 9)),
    "3d": (lambda lib, x: F(lib).max_pool3d(x, 2, 1, 1, return_indices=True), (1, 2, 3, 4, 3)),
    "with_indices_name": (lambda lib, x: F(lib).max_pool2d_with_indices(x, 3, 2), (1, 2, 7, 7)),
    "layer": (lambda lib, x: lib.nn.MaxPool2d(2, return_indices=True)(x), (1, 2, 4, 6)),
}


@pytest.mark.parametrize("case", RETURN_INDICES.values(), ids=RETURN_INDICES.keys())
def test_max_pool_return_indices(backend_name, case):
    fn, shape = case
    check(fn, distinct(shape))


@pytest.mark.parametrize(
    "values",
    [np.ones((1, 1, 6, 6)), np.tile([1.0, 2.0], (1, 1, 6, 3)), np.full((1, 1, 3, 3), -np.inf)],
    ids=["all_equal", "overlapping_maxima", "all_minus_inf"],
)
def test_ties_and_minus_inf_pick_pytorchs_index(backend_name, values):
    """Ties go to the first maximum; padding never wins, even against -inf."""
    check(lambda lib, x: F(lib).max_pool2d(x, 2, stride=1, padding=1, return_indices=True), values.astype(np.float32))


def test_nan_wins_its_window_as_in_pytorch(backend_name):
    x = np.array([[[[1.0, np.nan, 2.0, np.nan, 0.5, 3.0]]]], dtype=np.float32)
    check(lambda lib, x: F(lib).max_pool2d(x, (1, 3), return_indices=True), x, grad=False)


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.uint8, np.int8])
def test_max_pool_takes_integers(backend_name, dtype):
    x = np.random.default_rng(0).integers(-100, 100, (2, 3, 7, 8)).astype(dtype)
    check(lambda lib, x: F(lib).max_pool2d(x, kernel_size=2, padding=1), x)
    check(lambda lib, x: F(lib).max_pool3d(x[None], 2, return_indices=True), x)


def test_max_pool_float64(backend_name):
    check(lambda lib, x: F(lib).max_pool2d(x, 3, 2, 1, dilation=2), distinct((2, 2, 9, 9), dtype=np.float64))


AVG_POOLS = {
    "2d_kernel_sizes": (lambda lib, x: F(lib).avg_pool2d(x, kernel_size=(5, 1)), (4, 2, 111, 28)),
    "2d_padding": (lambda lib, x: F(lib).avg_pool2d(x, kernel_size=(3, 2), padding=(1, 0)), (2, 2, 11, 28)),
    "2d_regression_stride": (lambda lib, x: F(lib).avg_pool2d(x, (1, 2), padding=(0, 1), stride=(5, 1)), (1, 1, 8, 8)),
    "2d_exclude_pad": (lambda lib, x: F(lib).avg_pool2d(x, 3, padding=1, count_include_pad=False), (2, 2, 11, 28)),
    "2d_ceil_mode": (lambda lib, x: F(lib).avg_pool2d(x, (3, 2), 3, 1, ceil_mode=True), (1, 1, 6, 6)),
    "2d_ceil_mode_4": (lambda lib, x: F(lib).avg_pool2d(x, 4, stride=3, padding=1, ceil_mode=True), (1, 1, 6, 6)),
    "2d_ceil_exclude_pad": (lambda lib, x: F(lib).avg_pool2d(x, 4, 3, 1, True, False), (1, 1, 6, 6)),
    "2d_ceil_drops_last": (lambda lib, x: F(lib).avg_pool2d(x, 3, 3, 1, True, True), (1, 1, 5, 5)),
    "2d_divisor_override": (lambda lib, x: F(lib).avg_pool2d(x, 3, 2, 1, divisor_override=2), (2, 3, 7, 6)),
    "2d_global": (lambda lib, x: F(lib).avg_pool2d(x, kernel_size=(111, 28)), (2, 2, 111, 28)),
    "2d_unbatched": (lambda lib, x: F(lib).avg_pool2d(x, 2, 1), (3, 5, 4)),
    "2d_empty_batch": (lambda lib, x: F(lib).avg_pool2d(x, 2, ceil_mode=True), (0, 3, 5, 5)),
    "2d_transposed_input": (
        lambda lib, x: F(lib).avg_pool2d(x.transpose(2, 3), 3, 2, 1, count_include_pad=False),
        (2, 3, 7, 9),
    ),
    "1d": (lambda lib, x: F(lib).avg_pool1d(x, 4, 2, padding=1), (2, 3, 10)),
    "1d_ceil_exclude_pad": (
        lambda lib, x: F(lib).avg_pool1d(x, 4, 3, 1, ceil_mode=True, count_include_pad=False),
        (2, 3, 11),
    ),
    "1d_unbatched": (lambda lib, x: F(lib).avg_pool1d(x, 3), (4, 9)),
    "3d": (lambda lib, x: F(lib).avg_pool3d(x, 2), (2, 2, 4, 4, 5)),
    "3d_exclude_pad": (
        lambda lib, x: F(lib).avg_pool3d(x, (8, 8, 8), stride=5, padding=1, count_include_pad=False),
        (1, 1, 16, 16, 16),
    ),
    "3d_ceil_divisor": (lambda lib, x: F(lib).avg_pool3d(x, 3, 2, 1, True, True, 5), (1, 2, 6, 5, 4)),
    "layer_2d": (lambda lib, x: lib.nn.AvgPool2d(3, 2, 1, ceil_mode=True, count_include_pad=False)(x), (2, 3, 8, 8)),
    "layer_1d": (lambda lib, x: lib.nn.AvgPool1d(3, 2, 1, True, False)(x), (2, 3, 10)),
    "layer_3d": (lambda lib, x: lib.nn.AvgPool3d(2, divisor_override=3)(x), (1, 2, 4, 4, 4)),
}


@pytest.mark.parametrize("case", AVG_POOLS.values(), ids=AVG_POOLS.keys())
def test_avg_pool_options(backend_name, case):
    fn, shape = case
    check(fn, shape)


def test_avg_pool_float64(backend_name):
    check(lambda lib, x: F(lib).avg_pool2d(x, 3, 2, 1, True, False), (2, 2, 9, 8), dtype=np.float64)


def test_avg_pool_of_int64_rounds_toward_zero(backend_name):
    x = np.random.default_rng(0).integers(-50, 50, (2, 3, 7, 6))
    check(lambda lib, x: F(lib).avg_pool2d(x, 3, stride=1, padding=1), x)
    check(lambda lib, x: F(lib).avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False), x)
    check(lambda lib, x: F(lib).avg_pool1d(x[0], 2), x)


ADAPTIVE = {
    "avg_2d_shrink": (lambda lib, x: F(lib).adaptive_avg_pool2d(x, (3, 4)), (2, 3, 7, 9)),
    "avg_2d_grow": (lambda lib, x: F(lib).adaptive_avg_pool2d(x, (10, 13)), (2, 3, 4, 5)),
    "avg_2d_int": (lambda lib, x: F(lib).adaptive_avg_pool2d(x, 1), (2, 3, 7, 9)),
    "avg_2d_none": (lambda lib, x: F(lib).adaptive_avg_pool2d(x, (None, 3)), (2, 3, 5, 7)),
    "avg_2d_unbatched": (lambda lib, x: F(lib).adaptive_avg_pool2d(x, 3), (3, 7, 5)),
    "avg_2d_empty_batch": (lambda lib, x: F(lib).adaptive_avg_pool2d(x, 3), (0, 3, 4, 5)),
    "avg_2d_transposed": (lambda lib, x: F(lib).adaptive_avg_pool2d(x.transpose(2, 3), (4, 2)), (2, 3, 5, 7)),
    "avg_1d": (lambda lib, x: F(lib).adaptive_avg_pool1d(x, 4), (2, 3, 11)),
    "avg_1d_tuple": (lambda lib, x: F(lib).adaptive_avg_pool1d(x, (3,)), (3, 10)),
    "avg_3d": (lambda lib, x: F(lib).adaptive_avg_pool3d(x, (2, None, 3)), (1, 2, 5, 4, 7)),
    "max_2d": (lambda lib, x: F(lib).adaptive_max_pool2d(x, (3, 4)), (2, 3, 7, 9)),
    "max_2d_indices": (lambda lib, x: F(lib).adaptive_max_pool2d(x, (5, 2), return_indices=True), (2, 3, 7, 9)),
    "max_2d_grow": (lambda lib, x: F(lib).adaptive_max_pool2d(x, 6, True), (1, 2, 4, 5)),
    "max_2d_unbatched": (lambda lib, x: F(lib).adaptive_max_pool2d(x, (None, 2), True), (3, 7, 5)),
    "max_1d": (lambda lib, x: F(lib).adaptive_max_pool1d(x, 4, return_indices=True), (2, 3, 11)),
    "max_3d": (lambda lib, x: F(lib).adaptive_max_pool3d(x, (2, 3, 2), return_indices=True), (1, 2, 5, 4, 7)),
    "max_with_indices_name": (lambda lib, x: F(lib).adaptive_max_pool2d_with_indices(x, 2), (1, 2, 5, 5)),
    "layer_avg_2d": (lambda lib, x: lib.nn.AdaptiveAvgPool2d((1, 1))(x), (2, 8, 7, 7)),
    "layer_avg_1d": (lambda lib, x: lib.nn.AdaptiveAvgPool1d(5)(x), (2, 3, 12)),
    "layer_max_2d": (lambda lib, x: lib.nn.AdaptiveMaxPool2d((3, None), return_indices=True)(x), (2, 3, 7, 5)),
    "layer_max_1d": (lambda lib, x: lib.nn.AdaptiveMaxPool1d(3)(x), (2, 3, 8)),
    # Output sizes that divide the input's: windows that tile it, which the plain pools' kernels compute.
    "tiles_avg_1d": (lambda lib, x: F(lib).adaptive_avg_pool1d(x, 4), (2, 3, 12)),
    "tiles_avg_1d_global": (lambda lib, x: lib.nn.AdaptiveAvgPool1d(1)(x), (4, 5, 16)),
    "tiles_avg_2d_unbatched": (lambda lib, x: F(lib).adaptive_avg_pool2d(x, (2, 3)), (3, 8, 6)),
    "tiles_max_2d": (lambda lib, x: F(lib).adaptive_max_pool2d(x, (4, 3)), (2, 3, 8, 9)),
    "tiles_max_1d_global": (lambda lib, x: F(lib).adaptive_max_pool1d(x, 1), (2, 3, 10)),
    "tiles_max_2d_indices": (lambda lib, x: F(lib).adaptive_max_pool2d(x, 2, return_indices=True), (2, 3, 6, 4)),
}


@pytest.mark.parametrize("case", ADAPTIVE.values(), ids=ADAPTIVE.keys())
def test_adaptive_pools(backend_name, case):
    fn, shape = case
    check(fn, distinct(shape))


def test_adaptive_to_an_empty_output(backend_name):
    # PyTorch computes it, but refuses its backward.
    check(lambda lib, x: F(lib).adaptive_avg_pool2d(x, (0, 3)), (2, 3, 5, 7), grad=False)
    check(lambda lib, x: F(lib).interpolate(x, scale_factor=0.1, mode="area"), (2, 3, 5, 17), grad=False)


def test_adaptive_float64(backend_name):
    check(lambda lib, x: F(lib).adaptive_avg_pool2d(x, (3, 5)), (2, 2, 7, 8), dtype=np.float64)
    check(lambda lib, x: F(lib).adaptive_max_pool2d(x, (3, 5), True), distinct((2, 2, 7, 8), dtype=np.float64))


UNPOOLS = {
    "2d": (
        lambda lib, x: F(lib).max_unpool2d(*F(lib).max_pool2d(x, (5, 5), (6, 5), return_indices=True), (5, 5), (6, 5)),
        (2, 3, 20, 20),
    ),
    "2d_output_size": (
        lambda lib, x: F(lib).max_unpool2d(
            *F(lib).max_pool2d(x, 3, (6, 7), 1, return_indices=True), 3, (6, 7), 1, output_size=(30, 30)
        ),
        (2, 3, 30, 30),
    ),
    "2d_output_size_with_batch": (
        lambda lib, x: F(lib).max_unpool2d(
            *F(lib).max_pool2d(x, 2, return_indices=True), 2, output_size=(99, 99, 7, 6)
        ),
        (1, 3, 7, 6),
    ),
    "2d_unbatched": (lambda lib, x: F(lib).max_unpool2d(*F(lib).max_pool2d(x, 2, return_indices=True), 2), (3, 6, 4)),
    "1d": (lambda lib, x: F(lib).max_unpool1d(*F(lib).max_pool1d(x, 2, return_indices=True), 2), (2, 3, 8)),
    "3d": (lambda lib, x: F(lib).max_unpool3d(*F(lib).max_pool3d(x, 2, return_indices=True), 2), (1, 2, 4, 4, 6)),
    "layer": (lambda lib, x: lib.nn.MaxUnpool2d(2)(*lib.nn.MaxPool2d(2, return_indices=True)(x)), (2, 2, 4, 6)),
}


@pytest.mark.parametrize("case", UNPOOLS.values(), ids=UNPOOLS.keys())
def test_max_unpool(backend_name, case):
    fn, shape = case
    check(fn, distinct(shape))


LP_POOLS = {
    "1d": (lambda lib, x: F(lib).lp_pool1d(x, 2, 3), (2, 3, 10)),
    "1d_stride_ceil": (lambda lib, x: F(lib).lp_pool1d(x, 3.0, 3, 2, ceil_mode=True), (2, 3, 10)),
    "2d": (lambda lib, x: F(lib).lp_pool2d(x, 2, (2, 3)), (2, 3, 6, 7)),
    "2d_norm_1": (lambda lib, x: F(lib).lp_pool2d(x, 1, 2, 1), (2, 3, 5, 5)),
    "3d": (lambda lib, x: F(lib).lp_pool3d(x, 2, 2), (1, 2, 4, 4, 4)),
    "layer_2d": (lambda lib, x: lib.nn.LPPool2d(2, 3, stride=2)(x), (2, 3, 7, 7)),
    "layer_1d": (lambda lib, x: lib.nn.LPPool1d(1.5, 2)(x), (2, 3, 8)),
}


@pytest.mark.parametrize("case", LP_POOLS.values(), ids=LP_POOLS.keys())
def test_lp_pools(backend_name, case):
    fn, shape = case
    check(fn, shape, low=0.2, high=2.0)


RESIZES = {
    "linear_down": (lambda lib, x: F(lib).interpolate(x, size=(29,), mode="linear"), (2, 3, 52)),
    "linear_up": (lambda lib, x: F(lib).interpolate(x, size=(52,), mode="linear"), (2, 3, 29)),
    "linear_corners": (lambda lib, x: F(lib).interpolate(x, size=29, mode="linear", align_corners=True), (2, 3, 52)),
    "linear_scale": (lambda lib, x: F(lib).interpolate(x, scale_factor=1.7, mode="linear"), (2, 3, 9)),
    "nearest_1d": (lambda lib, x: F(lib).interpolate(x, size=(9,)), (2, 3, 13)),
    "nearest_1d_up": (lambda lib, x: F(lib).interpolate(x, size=13), (2, 3, 9)),
    "nearest_2d": (lambda lib, x: F(lib).interpolate(x, size=(9, 11), mode="nearest"), (2, 3, 13, 10)),
    "nearest_2d_b": (lambda lib, x: F(lib).interpolate(x, size=(11, 10)), (2, 3, 13, 9)),
    "nearest_3d": (lambda lib, x: F(lib).interpolate(x, size=(3, 6, 4)), (2, 3, 5, 2, 8)),
    "nearest_scale": (lambda lib, x: F(lib).interpolate(x, scale_factor=(1.5, 0.7)), (2, 3, 7, 10)),
    "nearest_scale_recompute": (
        lambda lib, x: F(lib).interpolate(x, scale_factor=2.3, recompute_scale_factor=True),
        (1, 2, 7, 5),
    ),
    "nearest_whole_scale": (lambda lib, x: F(lib).interpolate(x, scale_factor=3), (1, 2, 3, 4)),
    "nearest_exact_1d": (lambda lib, x: F(lib).interpolate(x, size=9, mode="nearest-exact"), (2, 3, 13)),
    "nearest_exact_2d": (lambda lib, x: F(lib).interpolate(x, size=(10, 13), mode="nearest-exact"), (2, 3, 9, 11)),
    "nearest_exact_3d": (lambda lib, x: F(lib).interpolate(x, size=(3, 6, 4), mode="nearest-exact"), (2, 3, 5, 2, 8)),
    "bilinear": (lambda lib, x: F(lib).interpolate(x, size=(9, 31), mode="bilinear"), (2, 3, 12, 20)),
    "bilinear_b": (lambda lib, x: F(lib).interpolate(x, size=(31, 20), mode="bilinear"), (2, 3, 12, 9)),
    "bilinear_corners": (
        lambda lib, x: F(lib).interpolate(x, size=(20, 12), mode="bilinear", align_corners=True),
        (2, 3, 9, 31),
    ),
    "bilinear_scale": (lambda lib, x: F(lib).interpolate(x, scale_factor=(2.5, 0.6), mode="bilinear"), (1, 2, 5, 9)),
    "bilinear_to_one": (
        lambda lib, x: F(lib).interpolate(x, size=(1, 4), mode="bilinear", align_corners=True),
        (1, 2, 5, 9),
    ),
    "bilinear_same_size": (lambda lib, x: F(lib).interpolate(x, size=(5, 9), mode="bilinear"), (1, 2, 5, 9)),
    "bilinear_transposed": (
        lambda lib, x: F(lib).interpolate(x.transpose(2, 3), scale_factor=2, mode="bilinear"),
        (1, 2, 3, 4),
    ),
    "bicubic": (lambda lib, x: F(lib).interpolate(x, size=(9, 31), mode="bicubic"), (2, 3, 12, 20)),
    "bicubic_corners": (
        lambda lib, x: F(lib).interpolate(x, size=(7, 5), mode="bicubic", align_corners=True),
        (1, 2, 4, 9),
    ),
    "trilinear": (lambda lib, x: F(lib).interpolate(x, size=(3, 6, 4), mode="trilinear"), (2, 3, 5, 2, 8)),
    "trilinear_corners": (
        lambda lib, x: F(lib).interpolate(x, (3, 6, 4), mode="trilinear", align_corners=True),
        (2, 3, 5, 2, 8),
    ),
    "area": (lambda lib, x: F(lib).interpolate(x, size=(4, 3), mode="area"), (2, 3, 9, 7)),
    "area_scale": (lambda lib, x: F(lib).interpolate(x, scale_factor=0.5, mode="area"), (2, 3, 9, 7)),
    "area_1d": (lambda lib, x: F(lib).interpolate(x, size=5, mode="area"), (2, 3, 12)),
    "empty_batch": (lambda lib, x: F(lib).interpolate(x, scale_factor=2, mode="bilinear"), (0, 3, 4, 4)),
    "upsample_nearest": (lambda lib, x: F(lib).upsample_nearest(x, scale_factor=2), (1, 2, 3, 4)),
    "upsample_bilinear": (lambda lib, x: F(lib).upsample_bilinear(x, size=(7, 5)), (1, 2, 3, 4)),
    "layer_upsample": (lambda lib, x: lib.nn.Upsample(scale_factor=2, mode="bilinear")(x), (1, 2, 3, 4)),
    "layer_upsample_size": (lambda lib, x: lib.nn.Upsample(size=(5, 7), mode="nearest")(x), (1, 2, 3, 4)),
    "layer_nearest2d": (lambda lib, x: lib.nn.UpsamplingNearest2d(scale_factor=2)(x), (1, 2, 3, 4)),
    "layer_bilinear2d": (lambda lib, x: lib.nn.UpsamplingBilinear2d(size=(6, 9))(x), (1, 2, 3, 4)),
}


@pytest.mark.parametrize("case", RESIZES.values(), ids=RESIZES.keys())
def test_interpolate(backend_name, case):
    fn, shape = case
    check(fn, shape)


@pytest.mark.parametrize("mode", ["nearest", "linear", "area"])
@pytest.mark.parametrize("length", [1, 3, 7, 13])
def test_interpolate_every_size_float64(mode, length):
    for out in range(1, 2 * length + 3):
        check(lambda lib, x, out=out: F(lib).interpolate(x, size=out, mode=mode), (1, 2, length), dtype=np.float64)


def test_nearest_takes_uint8(backend_name):
    x = np.random.default_rng(0).integers(0, 255, (1, 2, 5, 7)).astype(np.uint8)
    check(lambda lib, x: F(lib).interpolate(x, size=(8, 4)), x)


# --- gradients by finite differences --------------------------------------------------------------


@given(
    shape=st.tuples(st.integers(1, 2), st.integers(1, 2), st.integers(1, 6), st.integers(1, 6)),
    kernel=st.integers(1, 3),
    stride=st.integers(1, 3),
    dilation=st.integers(1, 2),
    ceil_mode=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_max_pool_gradcheck(shape, kernel, stride, dilation, ceil_mode, seed):
    padding = kernel // 2
    reach = dilation * (kernel - 1) + 1 - 2 * padding
    shape = (*shape[:2], *(max(n, reach) for n in shape[2:]))
    x = tn.tensor(distinct(shape, seed, np.float64), requires_grad=True)
    assert tn.gradcheck(lambda x: TF.max_pool2d(x, kernel, stride, padding, dilation, ceil_mode), [x])


@given(
    shape=st.tuples(st.integers(1, 2), st.integers(1, 5), st.integers(1, 6)),
    kernel=st.integers(1, 3),
    stride=st.integers(1, 3),
    ceil_mode=st.booleans(),
    count_include_pad=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_avg_pool_gradcheck(shape, kernel, stride, ceil_mode, count_include_pad, seed):
    shape = (1, *(max(n, kernel) for n in shape))
    x = tn.tensor(np.random.default_rng(seed).standard_normal(shape), dtype=tn.float64, requires_grad=True)
    options = (kernel // 2, ceil_mode, count_include_pad)
    assert tn.gradcheck(lambda x: TF.avg_pool3d(x, kernel, stride, *options), [x])


@given(
    size=st.tuples(st.integers(1, 7), st.integers(1, 7)),
    out=st.tuples(st.integers(1, 8), st.integers(1, 8)),
    how=st.sampled_from(["avg", "max"]),
    seed=st.integers(0, 2**16),
)
def test_adaptive_gradcheck(size, out, how, seed):
    x = tn.tensor(distinct((1, 2, *size), seed, np.float64), requires_grad=True)
    pool = TF.adaptive_avg_pool2d if how == "avg" else TF.adaptive_max_pool2d
    assert tn.gradcheck(lambda x: pool(x, out), [x])


@given(
    size=st.tuples(st.integers(1, 6), st.integers(1, 6)),
    out=st.tuples(st.integers(1, 9), st.integers(1, 9)),
    mode=st.sampled_from(["nearest", "nearest-exact", "bilinear", "bicubic", "area"]),
    align_corners=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_interpolate_gradcheck(size, out, mode, align_corners, seed):
    x = tn.tensor(np.random.default_rng(seed).standard_normal((1, 2, *size)), dtype=tn.float64, requires_grad=True)
    corners = align_corners if mode in ("bilinear", "bicubic") else None
    assert tn.gradcheck(lambda x: TF.interpolate(x, out, mode=mode, align_corners=corners), [x])


# --- layers ------------------------------------------------------------------------------------------


def test_layers_have_no_parameters_and_pytorchs_repr():
    layers = {
        "MaxPool2d": ((2,), {}),
        "MaxPool1d": ((3, 1, 1), {"ceil_mode": True}),
        "AvgPool1d": ((3, 1, 1), {}),
        "AvgPool2d": ((2,), {"divisor_override": 3}),
        "AvgPool3d": (((2, 1, 2),), {}),
        "LPPool2d": ((2, 3), {"stride": 2}),
        "AdaptiveAvgPool2d": (((None, 3),), {}),
        "AdaptiveMaxPool1d": ((3,), {"return_indices": True}),
        "MaxUnpool2d": ((2,), {}),
        "Upsample": ((), {"scale_factor": 2}),
        "UpsamplingBilinear2d": ((), {"size": (4, 5)}),
    }
    for name, (args, kwargs) in layers.items():
        ours, theirs = getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
        assert repr(ours) == repr(theirs)
        assert list(ours.parameters()) == []


# --- errors ------------------------------------------------------------------------------------------

ERRORS = {
    "padding_over_half": (
        lambda lib, x: F(lib).max_pool2d(x, 3, padding=2),
        (1, 1, 6, 6),
        ValueError,
        r"max_pool2d: padding=\(2, 2\) is more than half",
    ),
    "padding_three_values": (
        lambda lib, x: F(lib).avg_pool2d(x, 2, padding=(1, 1, 1)),
        (1, 1, 6, 6),
        ValueError,
        r"avg_pool2d: padding must be an int or a tuple of 2 ints",
    ),
    "too_small": (
        lambda lib, x: F(lib).max_pool2d(x, 7),
        (1, 3, 6, 6),
        ValueError,
        r"max_pool2d: input of shape \(1, 3, 6, 6\) is too small.*\(0, 0\)",
    ),
    "stride_zero": (
        lambda lib, x: F(lib).max_pool2d(x, 2, stride=0),
        (1, 1, 4, 4),
        ValueError,
        r"max_pool2d: stride must be at least 1",
    ),
    "divisor_zero": (
        lambda lib, x: F(lib).avg_pool2d(x, 2, divisor_override=0),
        (1, 1, 4, 4),
        ValueError,
        r"avg_pool2d: divisor_override must be a nonzero int",
    ),
    "pool_2d_input": (
        lambda lib, x: F(lib).max_pool2d(x, 2),
        (4, 4),
        ValueError,
        r"max_pool2d: expected input of shape \(N, C, H, W\), got shape \(4, 4\)",
    ),
    "pool_empty_channels": (
        lambda lib, x: F(lib).max_pool2d(x, 2),
        (2, 0, 4, 4),
        ValueError,
        r"max_pool2d: expected input with no empty axis but the batch axis",
    ),
    "pool_1d_of_1d": (
        lambda lib, x: F(lib).max_pool1d(x, 2),
        (6,),
        ValueError,
        r"max_pool1d: expected input of shape \(N, C, L\)",
    ),
    "adaptive_empty_axis": (
        lambda lib, x: F(lib).adaptive_avg_pool2d(x, 3),
        (2, 3, 0, 5),
        ValueError,
        r"adaptive_avg_pool2d: expected input with no empty axis",
    ),
    "adaptive_negative": (
        lambda lib, x: F(lib).adaptive_max_pool2d(x, -1),
        (1, 1, 4, 4),
        ValueError,
        r"adaptive_max_pool2d: output_size must be at least 0",
    ),
    "adaptive_three_sizes": (
        lambda lib, x: F(lib).adaptive_avg_pool2d(x, (3, 3, 3)),
        (1, 1, 4, 4),
        ValueError,
        r"adaptive_avg_pool2d: output_size must be an int or 2 of them",
    ),
    "unpool_bad_output_size": (
        lambda lib, x: F(lib).max_unpool2d(*F(lib).max_pool2d(x, 2, return_indices=True), 2, output_size=(9, 9)),
        (1, 1, 4, 6),
        ValueError,
        r"max_unpool2d: invalid output_size \(9, 9\): dim 0 must be between 2 and 6",
    ),
    "unpool_index_out_of_range": (
        lambda lib, x: F(lib).max_unpool2d(*F(lib).max_pool2d(x, 2, return_indices=True), 2, output_size=(3, 5)),
        (1, 1, 4, 6),
        (IndexError, RuntimeError),
        r"max_unpool2d: found an invalid max index",
    ),
    "interpolate_both": (
        lambda lib, x: F(lib).interpolate(x, size=3, scale_factor=2),
        (1, 1, 4),
        ValueError,
        r"interpolate: only one of size or scale_factor",
    ),
    "interpolate_neither": (
        lambda lib, x: F(lib).interpolate(x),
        (1, 1, 4),
        ValueError,
        r"interpolate: either size or scale_factor",
    ),
    "interpolate_size_length": (
        lambda lib, x: F(lib).interpolate(x, size=(3,)),
        (1, 1, 4, 4),
        ValueError,
        r"interpolate: input and output must have the same number of spatial dimensions",
    ),
    "interpolate_scale_length": (
        lambda lib, x: F(lib).interpolate(x, scale_factor=(2, 2, 2)),
        (1, 1, 4, 4),
        ValueError,
        r"interpolate: input and scale_factor must have the same number",
    ),
    "interpolate_align_nearest": (
        lambda lib, x: F(lib).interpolate(x, scale_factor=2, align_corners=True),
        (1, 1, 4),
        ValueError,
        r"interpolate: align_corners can only be set",
    ),
    "interpolate_empty_output": (
        lambda lib, x: F(lib).interpolate(x, scale_factor=0.1),
        (1, 1, 4, 4),
        (ValueError, RuntimeError),
        r"interpolate: input and output sizes should be greater",
    ),
    "interpolate_2d_input": (
        lambda lib, x: F(lib).interpolate(x, scale_factor=2),
        (4, 4),
        NotImplementedError,
        r"interpolate: expected input of shape \(N, C, L\)",
    ),
    "interpolate_mode_for_other_dims": (
        lambda lib, x: F(lib).interpolate(x, scale_factor=2, mode="bilinear"),
        (1, 1, 4),
        NotImplementedError,
        r"interpolate: got 3-D input, but mode='bilinear' needs 4-D input",
    ),
    "interpolate_unknown_mode": (
        lambda lib, x: F(lib).interpolate(x, scale_factor=2, mode="cubic"),
        (1, 1, 4, 4),
        NotImplementedError,
        r"interpolate: unknown mode 'cubic'",
    ),
}


@pytest.mark.parametrize("case", ERRORS.values(), ids=ERRORS.keys())
def test_errors_where_pytorch_raises(case):
    fn, shape, kinds, message = case
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    with pytest.raises(Exception):  # noqa: B017 (PyTorch's own types vary: RuntimeError, ValueError...)
        fn(torch, torch.tensor(x))
    with pytest.raises(tn.TinynetError, match=message) as caught:
        fn(tn, tn.tensor(x))
    assert isinstance(caught.value, kinds)


@pytest.mark.parametrize(
    "fn",
    [
        lambda lib, x: F(lib).max_pool2d(x > 0, 2),
        lambda lib, x: F(lib).max_pool1d(x.int(), 2),
        lambda lib, x: F(lib).avg_pool2d(x.int(), 2),
        lambda lib, x: F(lib).adaptive_avg_pool2d(x.long(), 2),
        lambda lib, x: F(lib).adaptive_max_pool1d(x[0].long(), 2),
        lambda lib, x: F(lib).interpolate(x.long(), scale_factor=2),
        lambda lib, x: F(lib).max_unpool2d(x, tn.zeros(*x.shape).int() if lib is tn else torch.zeros(x.shape).int(), 2),
    ],
    ids=[
        "max_bool",
        "max_pool1d_int",
        "avg_int32",
        "adaptive_avg_long",
        "adaptive_max_long",
        "interpolate_long",
        "unpool_int32_indices",
    ],
)
def test_dtypes_pytorch_refuses(fn):
    x = np.random.default_rng(0).standard_normal((1, 2, 4, 4)).astype(np.float32)
    with pytest.raises((RuntimeError, NotImplementedError)):
        fn(torch, torch.tensor(x))
    with pytest.raises(tn.DTypeError, match=r"(pool|interpolate)"):
        fn(tn, tn.tensor(x))


@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("size", [(10, 10), (7, 13), (100, 90), (64, 30), (2, 33), (3, 1)])
def test_bilinear_on_uint8_images_rounds_as_pytorch_does(size, align_corners):
    # PyTorch resizes uint8 in fixed point, width first then height, rounding after each: not float-then-round.
    image = (np.random.default_rng(3).uniform(-60, 120, (2, 3, 64, 64))).clip(0, 255).astype(np.uint8)
    check(lambda lib, x: F(lib).interpolate(x, size=size, mode="bilinear", align_corners=align_corners), image)
