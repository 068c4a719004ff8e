"""kernels.numpy_ref.select: xp.where without a branch per value, for the activations computed inline. It must give
where's numbers bit for bit (NaN, infinities and the sign of zero included), where's dtype and its broadcast shape."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kernels.numpy_ref import select

SPECIALS = [np.nan, np.inf, -np.inf, -0.0, 0.0, 1e-40, -3.5]


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@given(seed=st.integers(0, 2**16), shape=st.sampled_from([(), (7,), (3, 5), (2, 3, 4)]))
def test_select_gives_wheres_bits(dtype, seed, shape):
    rng = np.random.default_rng(seed)
    x = rng.choice(np.array(SPECIALS + list(rng.standard_normal(9)), dtype), shape)
    g = rng.choice(np.array(SPECIALS + list(rng.standard_normal(9)), dtype), shape)
    cases = [
        ((x > 0) & (x < 6), g, 0),  # a gradient where the mask allows, +0.0 elsewhere
        (x > 0, x, dtype(0.01) * x),  # two arrays
        (x > 0, 1, 0.01),  # two Python numbers: the condition's shape
        (x >= 0, g[..., :1] if shape else g, -2.5),  # an array that broadcasts, a number
        (x > 0, dtype(2.5), g),
    ]
    for condition, if_true, if_false in cases:
        got, expected = select(condition, if_true, if_false), np.where(condition, if_true, if_false)
        assert got.dtype == expected.dtype and got.shape == expected.shape
        assert np.array_equal(got.reshape(-1).view(np.uint8), expected.reshape(-1).view(np.uint8))


def test_select_hands_integer_and_bool_values_to_where():
    condition = np.array([True, False, True])
    assert select(condition, np.array([1, 2, 3]), 0).tolist() == [1, 0, 3]
    assert select(condition, True, np.array([False, True, False])).tolist() == [True, True, True]
