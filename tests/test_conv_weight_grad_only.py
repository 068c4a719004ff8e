"""conv2d_backward(..., input_grad=False): the weight gradient alone, for a layer whose input needs no gradient
(a network's first convolution). Every backend against the reference's full backward, and through autograd
against PyTorch: the skipped input gradient must change nothing else."""

import numpy as np
import pytest
from device import to_device, to_host
from torch_oracle import check

from kernels import numpy_ref
from tinynet import backend

CASES = [  # x's shape, w's shape, (stride, padding, dilation)
    ((5, 3, 9, 8), (4, 3, 3, 2), ((1, 1), (0, 0), (1, 1))),
    ((5, 3, 9, 8), (4, 3, 3, 2), ((2, 1), (1, 2), (1, 2))),
    ((3, 8, 12, 12), (4, 8, 3, 3), ((1, 1), (1, 1), (1, 1))),  # numba, float32 by tiles: windows read in place
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("x_shape, w_shape, geometry", CASES)
def test_weight_gradient_alone_matches_the_full_backward(backend_name, dtype, x_shape, w_shape, geometry):
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal(x_shape).astype(dtype), rng.standard_normal(w_shape).astype(dtype)
    grad = rng.standard_normal(numpy_ref.conv2d_forward(x, w, *geometry).shape).astype(dtype)
    _, expected = numpy_ref.conv2d_backward(grad, x, w, *geometry)
    tolerance = dict(rtol=1e-4, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-12)
    grad_x, grad_w = backend.active().conv2d_backward(*to_device((grad, x, w)), *geometry, input_grad=False)
    assert grad_x is None
    got = to_host(grad_w)
    assert got.dtype == expected.dtype
    np.testing.assert_allclose(got, expected, **tolerance)
    grad_x, grad_w, grad_b = backend.active().conv2d_backward(
        *to_device((grad, x, w)), *geometry, input_grad=False, bias_grad=True
    )
    assert grad_x is None
    np.testing.assert_allclose(to_host(grad_w), expected, **tolerance)
    np.testing.assert_allclose(to_host(grad_b), grad.sum(axis=(0, 2, 3)), **tolerance)


@pytest.mark.parametrize("groups", [1, 2])
def test_a_first_layer_gets_pytorchs_weight_and_bias_gradients(backend_name, groups):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 4, 7, 6)).astype(np.float32)  # needs no gradient: the skipped path
    w = rng.standard_normal((6, 4 // groups, 3, 3)).astype(np.float32)
    b = rng.standard_normal(6).astype(np.float32)

    def first_layer(lib, w, b):
        return lib.nn.functional.conv2d(lib.tensor(x), w, b, padding=1, groups=groups)

    check(first_layer, w, b)


def test_a_first_conv1d_layer_gets_pytorchs_gradients(backend_name):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, 2, 11)).astype(np.float32)
    w = rng.standard_normal((5, 2, 3)).astype(np.float32)

    def first_layer(lib, w):
        return lib.nn.functional.conv1d(lib.tensor(x), w, stride=2, padding=1)

    check(first_layer, w)
