"""kernels.windows: the one output-size formula of every window op, and the transposed convolution's."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from kernels.numpy_ref.conv import conv2d_forward, conv_transpose2d_forward
from kernels.windows import output_size, transposed_output_size

geometry = st.tuples(st.integers(1, 12), st.integers(1, 4), st.integers(1, 3), st.integers(0, 2), st.integers(1, 3))


@given(geometry)
def test_output_size_counts_the_window_positions(case):
    size, kernel, stride, padding, dilation = case
    span = dilation * (kernel - 1) + 1  # the window's extent on the padded input
    positions = [start for start in range(0, size + 2 * padding - span + 1) if start % stride == 0]
    (counted,) = output_size((size,), (kernel,), (stride,), (padding,), (dilation,))
    assert counted == len(positions) if positions else counted < 1  # below 1: the input is too small


@given(geometry, st.integers(0, 2))
def test_a_transposed_convolution_inverts_the_output_size(case, extra):
    size, kernel, stride, padding, dilation = case
    output_padding = extra % stride  # below the stride: one of the sizes a strided conv maps to the same one
    out = transposed_output_size((size,), (kernel,), (stride,), (padding,), (output_padding,), (dilation,))
    if out[0] >= 1:
        assert output_size(out, (kernel,), (stride,), (padding,), (dilation,)) == (size,)


def test_the_kernels_produce_the_sizes_it_gives():
    x, w = np.ones((1, 1, 9, 7)), np.ones((1, 1, 3, 2))
    assert conv2d_forward(x, w, (2, 1), (1, 0), (2, 3)).shape[2:] == output_size((9, 7), (3, 2), (2, 1), (1, 0), (2, 3))
    wt = np.ones((1, 1, 3, 2))
    shape = conv_transpose2d_forward(x, wt, (2, 3), (1, 0), (1, 2), (1, 1)).shape[2:]
    assert shape == transposed_output_size((9, 7), (3, 2), (2, 3), (1, 0), (1, 2), (1, 1))
