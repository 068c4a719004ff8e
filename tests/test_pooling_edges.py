"""Max pooling where the maximum is not one clear value: windows of -inf, partly -inf, NaN, against PyTorch.

PyTorch starts each window's search at its first pixel inside the input and moves on to a strictly greater value
or a NaN: a window whose input pixels are all -inf sends its gradient to the first of them (never into the
padding), and a window holding NaN to its last NaN. Every backend's max-pool kernel must pick the same pixel, so
each case runs on every CPU backend, on the CUDA kernels' CPU stand-in (kernels/cuda_emulator.py) and, where a GPU
is usable, on cupy; values, indices and gradients are compared with PyTorch (tests/torch_oracle.py).
"""

import numpy as np
import pytest
from test_cupy_emulated import _libraries, emulated_backend, launched  # noqa: F401 (fixtures, for "cupy-emulated")
from torch_oracle import check

import tinynet as tn
from tinynet import backend

BACKENDS = ["numpy", "numba", "cupy", "cupy-emulated"]
# The oracle's loss sums outputs of -inf times random gradients of either sign: NaN, which NumPy warns about.
pytestmark = pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")


@pytest.fixture(params=BACKENDS)
def pool_backend(request) -> str:
    """Runs the test once per backend with that backend active; "cupy-emulated" runs the CUDA kernels on g++."""
    name = request.param
    if name == "cupy-emulated":
        name = request.getfixturevalue("emulated_backend")
    else:
        usable, reason = backend.status(name)
        if not usable:
            pytest.skip(reason)
    with tn.use_backend(name):
        yield name


def edge_values(fill: str, shape: tuple, seed: int = 0) -> np.ndarray:
    """float32 values of ``shape``: all -inf, or normal values with many -inf (whole windows of them, often),
    NaN, or both."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(np.float32)
    if fill == "all_-inf":
        return np.full(shape, -np.inf, dtype=np.float32)
    if fill in ("partly_-inf", "nan_and_-inf"):
        x[rng.random(shape) < 0.7] = -np.inf
    if fill in ("nan", "nan_and_-inf"):
        x[rng.random(shape) < 0.15] = np.nan
    return x


FILLS = ["all_-inf", "partly_-inf", "nan", "nan_and_-inf"]
SHAPES = {1: (2, 3, 9), 2: (2, 2, 7, 6), 3: (1, 2, 5, 4, 6)}
# kernel_size, stride, padding, dilation, ceil_mode; the first is the case (4 of 9 gradients reached x).
SETTINGS = {
    "k2_s2_p1": (2, 2, 1, 1, False),
    "k2_s2_p0": (2, 2, 0, 1, False),  # the numba backend's own 2x2 kernel (and an odd row no window covers)
    "k3_s2_p1": (3, 2, 1, 1, False),
    "k3_s1_p1": (3, 1, 1, 1, False),
    "k4_s3_p2": (4, 3, 2, 1, False),
    "k3_s2_p1_dilation2": (3, 2, 1, 2, False),
    "k2_s2_p1_ceil": (2, 2, 1, 1, True),
    "k3_s3_p1_ceil": (3, 3, 1, 1, True),
}


def max_pool(spatial: int, setting: tuple, return_indices: bool = False):
    kernel, stride, padding, dilation, ceil_mode = setting

    def fn(lib, x):
        pool = getattr(lib.nn.functional, f"max_pool{spatial}d")
        return pool(x, kernel, stride, padding, dilation, ceil_mode, return_indices)

    return fn


@pytest.mark.parametrize("setting", SETTINGS.values(), ids=SETTINGS.keys())
@pytest.mark.parametrize("spatial", [1, 2, 3])
@pytest.mark.parametrize("fill", FILLS)
def test_max_pool_values_and_gradients_match_pytorch(pool_backend, fill, spatial, setting):
    check(max_pool(spatial, setting), edge_values(fill, SHAPES[spatial]))


@pytest.mark.parametrize("setting", SETTINGS.values(), ids=SETTINGS.keys())
@pytest.mark.parametrize("fill", FILLS)
def test_max_pool_indices_match_pytorch(pool_backend, fill, setting):
    check(max_pool(2, setting, return_indices=True), edge_values(fill, SHAPES[2]))


def test_all_minus_inf_sends_every_window_gradient_into_the_input(pool_backend, request):
    """The issue's example: 9 windows, 9 gradients in x (4 before, the rest lost in the padding)."""
    x = tn.full((1, 1, 4, 4), -float("inf"), requires_grad=True)
    tn.nn.functional.max_pool2d(x, 2, 2, padding=1).sum().backward()
    assert np.count_nonzero(x.grad.numpy()) == 9
    if pool_backend == "cupy-emulated":  # the CUDA kernels ran, not the reference they fall back on
        assert {"max_pool2d_forward", "max_pool2d_backward"} <= set(request.getfixturevalue("launched"))
    check(lambda lib, x: lib.nn.functional.max_pool2d(x, 2, 2, padding=1), np.full((1, 1, 4, 4), -np.inf, np.float32))


@pytest.mark.parametrize("fill", FILLS)
def test_uneven_windows_match_pytorch(pool_backend, fill):
    """Kernel, stride and padding that differ between the axes; a window in the corner holds one input pixel."""
    fn = lambda lib, x: lib.nn.functional.max_pool2d(x, (3, 2), (2, 1), (1, 1))  # noqa: E731
    check(fn, edge_values(fill, (2, 3, 5, 4), seed=1))


def test_float64_windows_of_nan_and_minus_inf_match_pytorch(pool_backend):
    x = edge_values("nan_and_-inf", (2, 2, 7, 6), seed=2).astype(np.float64)
    check(lambda lib, x: lib.nn.functional.max_pool2d(x, 3, 2, 1), x, dtype=np.float64)


@pytest.mark.parametrize("fill", FILLS)
@pytest.mark.parametrize("spatial", [1, 2, 3])
def test_adaptive_max_pool_matches_pytorch(pool_backend, fill, spatial):
    """Adaptive windows have no padding, but their argmax has the same rules for -inf and NaN."""
    size = {1: 4, 2: (3, 4), 3: (2, 3, 4)}[spatial]

    def fn(lib, x):
        pool = getattr(lib.nn.functional, f"adaptive_max_pool{spatial}d")
        return pool(x, size, return_indices=True)

    check(fn, edge_values(fill, SHAPES[spatial]))


def test_max_unpool_after_a_pool_of_minus_inf_matches_pytorch(pool_backend):
    def fn(lib, x):
        F = lib.nn.functional
        out, index = F.max_pool2d(x, 2, 2, padding=1, return_indices=True)
        return F.max_unpool2d(out.clamp(min=-1.0), index, 2, 2, padding=1, output_size=x.shape[2:])

    x = edge_values("partly_-inf", (1, 2, 4, 4), seed=3)
    check(fn, x)


def test_integer_windows_of_the_lowest_value_match_pytorch(pool_backend):
    """Integers have no -inf: the lowest int64 plays its part, and the padding still never wins."""
    x = np.full((1, 2, 5, 4), np.iinfo(np.int64).min, dtype=np.int64)
    x[0, 1, 2, 1] = 7
    check(lambda lib, x: lib.nn.functional.max_pool2d(x, 3, 2, 1, return_indices=True), x)
