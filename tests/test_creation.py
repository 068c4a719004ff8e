"""Tensor creation and random draws against PyTorch: the same shapes, dtypes and values (or distributions)."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinynet as tn
from tests.torch_oracle import check, torch
from tinynet import creation, sampling

FACTORIES = {
    "zeros": lambda lib: lib.zeros(2, 3),
    "zeros_list": lambda lib: lib.zeros([2, 3]),
    "zeros_size_kw": lambda lib: lib.zeros(size=(2, 3)),
    "zeros_0d": lambda lib: lib.zeros([]),
    "zeros_empty": lambda lib: lib.zeros(0, 3),
    "zeros_int": lambda lib: lib.zeros(2, dtype=lib.int32),
    "ones": lambda lib: lib.ones((4,), dtype=lib.float64),
    "ones_bool": lambda lib: lib.ones(2, 2, dtype=lib.bool),
    "empty_times_zero": lambda lib: lib.empty(2, 0) * 0,
    "empty_size": lambda lib: lib.empty(3, 2).shape[0] + lib.zeros(1),
    "full_int": lambda lib: lib.full((2, 3), 4),
    "full_float": lambda lib: lib.full((2, 3), 4.5),
    "full_bool": lambda lib: lib.full((2,), True),
    "full_dtype": lambda lib: lib.full((45, 65), 4, dtype=lib.int32),
    "full_empty": lambda lib: lib.full((0,), 1.0),
    "full_inf": lambda lib: lib.full((3,), float("inf")),
    "full_like": lambda lib: lib.full_like(lib.tensor([[1, 2, 3], [4, 5, 6]], dtype=lib.int32), 4),
    "full_like_float_into_int": lambda lib: lib.full_like(lib.tensor([1, 2]), 2.7),
    "full_like_dtype": lambda lib: lib.full_like(lib.tensor([1, 2]), 2.5, dtype=lib.float64),
    "zeros_like": lambda lib: lib.zeros_like(lib.tensor([[1.0, 2.0]]), requires_grad=False),
    "zeros_like_dtype": lambda lib: lib.zeros_like(lib.tensor([1, 2]), dtype=lib.float32),
    "ones_like": lambda lib: lib.ones_like(lib.tensor([[1, 2, 3]], dtype=lib.int32)),
    "empty_like": lambda lib: lib.empty_like(lib.tensor([1.5, 2.0])).zero_(),  # (* 0 kept a NaN in the memory)
    "eye": lambda lib: lib.eye(4),
    "eye_rect": lambda lib: lib.eye(3, 5),
    "eye_tall": lambda lib: lib.eye(5, 3, dtype=lib.int64),
    "eye_0": lambda lib: lib.eye(0),
    "tensor_floats": lambda lib: lib.tensor([1.5, 2.0]),
    "tensor_ints": lambda lib: lib.tensor([[1, 2], [3, 4]]),
    "tensor_bools": lambda lib: lib.tensor([True, False]),
    "tensor_mixed": lambda lib: lib.tensor([1, 2.5, True]),
    "tensor_int_bool": lambda lib: lib.tensor([1, True]),
    "tensor_scalar": lambda lib: lib.tensor(3.5),
    "tensor_int_scalar": lambda lib: lib.tensor(3),
    "tensor_empty": lambda lib: lib.tensor([]),
    "tensor_dtype": lambda lib: lib.tensor([1, 2], dtype=lib.float64),
    "tensor_of_tensors": lambda lib: lib.tensor([lib.tensor(1.5), lib.tensor(2.0)]),
    "tensor_of_tensor": lambda lib: lib.tensor(lib.tensor([1.0, 2.0], dtype=lib.float64)),
    "new_zeros": lambda lib: lib.tensor([1, 2], dtype=lib.int32).new_zeros(2, 3),
    "new_zeros_tuple": lambda lib: lib.tensor([1.0]).new_zeros((2, 3), dtype=lib.float64),
    "new_ones": lambda lib: lib.tensor([1.0], dtype=lib.float64).new_ones(3),
    "new_full": lambda lib: lib.tensor([1, 2]).new_full((2, 2), 7),
    "new_empty": lambda lib: lib.tensor([1.0]).new_empty((2,)).zero_(),  # shape and dtype: its numbers are garbage
    "new_tensor": lambda lib: lib.tensor([1.0], dtype=lib.float64).new_tensor([1, 2]),
}


@pytest.mark.parametrize("case", sorted(FACTORIES))
def test_factories_match_pytorch(backend_name, case):
    check(FACTORIES[case])


ARANGES = [(10,), (5, 10, 3), (10, 5, -3), (11, 5, -3), (1, 78, 2), (5.5, 175.5, 2.5), (-30.2, -0.3, 0.75),
           (-50.3, -380.2, -2.25), (0, 1, 0.1), (3.0,), (0,), (2, 2), (0, 10, 3), (1, 2.5, 0.5),
           (0.0, 1.0, 0.3)]  # fmt: skip


@pytest.mark.parametrize("args", ARANGES, ids=str)
def test_arange_matches_pytorch(backend_name, args):
    check(lambda lib: lib.arange(*args))
    check(lambda lib: lib.arange(*args, dtype=lib.float64))


def test_arange_with_dtype_keywords_and_tensors(backend_name):
    check(lambda lib: lib.arange(10, dtype=lib.int32))
    check(lambda lib: lib.arange(5, dtype=lib.float32))
    check(lambda lib: lib.arange(start=2, end=8, step=2))
    check(lambda lib: lib.arange(lib.tensor(4)))


LINSPACES = [(5, 10, 3), (5, 10, 1), (5, 10, 0), (5, 10, 30), (-5.5, 5.5, 10), (5.5, -5.5, 10), (0, 1, 7),
             (-1e3, 1e3, 101)]  # fmt: skip


@pytest.mark.parametrize("args", LINSPACES, ids=str)
@pytest.mark.parametrize("dtype", [None, "float64", "int32", "int64"])
def test_linspace_matches_pytorch(backend_name, args, dtype):
    check(lambda lib: lib.linspace(*args, dtype=None if dtype is None else getattr(lib, dtype)))


CREATION_ERRORS = [
    lambda lib: lib.zeros(-3, 2),
    lambda lib: lib.ones((2, -3)),
    lambda lib: lib.empty((2, -3, 0)),
    lambda lib: lib.full((-3,), 2),
    lambda lib: lib.eye(-3, 3),
    lambda lib: lib.rand(2, -1),
    lambda lib: lib.randn(-1),
    lambda lib: lib.randint(0, 5, (2, -3)),
    lambda lib: lib.arange(0, 10, 0),
    lambda lib: lib.arange(10, 0, 1),
    lambda lib: lib.linspace(1, 2, -1),
    lambda lib: lib.linspace(5, 10, 3, dtype=lib.bool),
    lambda lib: lib.randint(5, 5, (2,)),
    lambda lib: lib.rand(2, dtype=lib.int64),
    lambda lib: lib.zeros(2, dtype=lib.int64, requires_grad=True),
    lambda lib: lib.multinomial(lib.tensor([0.5, 0.0]), 3),
    lambda lib: lib.multinomial(lib.tensor([-0.5, 1.0]), 1),
    lambda lib: lib.normal(lib.zeros(2), -1.0),
    lambda lib: lib.zeros(2).random_(3, 1),
    lambda lib: lib.bernoulli(lib.tensor([1.5])),
]


@pytest.mark.parametrize("call", CREATION_ERRORS, ids=range(len(CREATION_ERRORS)))
def test_bad_sizes_and_arguments_raise_as_in_pytorch(call):
    with pytest.raises((RuntimeError, ValueError, TypeError)):
        call(torch)
    with pytest.raises(tn.TinynetError):
        call(tn)


@pytest.mark.skipif(tn.cuda.is_available(), reason="a GPU answers here: cuda tensors can be made")
def test_a_device_that_cannot_run_here_is_refused_with_a_clear_message():
    assert tn.zeros(2, device="cpu").shape == (2,) and tn.zeros(2, device=tn.device("cpu")).device == "cpu"
    for make in [lambda: tn.zeros(2, device="cuda"), lambda: tn.tensor([1.0], device="cuda:0"),
                 lambda: tn.arange(3, device="cuda")]:  # fmt: skip
        with pytest.raises(tn.BackendError, match="backend 'cupy' is not usable here"):
            make()
    with pytest.raises(tn.ArgumentError, match="device: expected 'cpu' or 'cuda'"):
        tn.zeros(2, device="mps")


# --- random draws: shapes and dtypes as PyTorch, numbers repeatable from the seed --------------------

RANDOM_SHAPES = {
    "rand": lambda lib: lib.rand(2, 3),
    "rand_tuple_f64": lambda lib: lib.rand((4,), dtype=lib.float64),
    "randn_size_kw": lambda lib: lib.randn(size=(3, 0)),
    "randn_0d": lambda lib: lib.randn(()),
    "randint_high": lambda lib: lib.randint(3, (3, 4)),
    "randint_low_high": lambda lib: lib.randint(-5, 5, (1, 4)),
    "randint_size_kw": lambda lib: lib.randint(3, size=[3, 4, 5]),
    "randint_keywords": lambda lib: lib.randint(low=-1, high=1, size=(2, 1)),
    "randint_high_kw": lambda lib: lib.randint(high=4, size=(2,)),
    "randint_dtype": lambda lib: lib.randint(0, 4, (3,), dtype=lib.int32),
    "randint_float": lambda lib: lib.randint(0, 4, (3,), dtype=lib.float32),
    "rand_like": lambda lib: lib.rand_like(lib.zeros(2, 3, dtype=lib.float64)),
    "randn_like": lambda lib: lib.randn_like(lib.zeros(2)),
    "randint_like": lambda lib: lib.randint_like(lib.zeros(2, 3, dtype=lib.int32), 5),
    "randint_like_low": lambda lib: lib.randint_like(lib.zeros(4), 2, 5),
    "randperm": lambda lib: lib.randperm(7),
    "randperm_0": lambda lib: lib.randperm(0),
    "normal_tensors": lambda lib: lib.normal(lib.zeros(2, 3), lib.ones(3)),
    "normal_tensor_float": lambda lib: lib.normal(lib.zeros(4, dtype=lib.float64), 2.0),
    "normal_float_tensor": lambda lib: lib.normal(1.0, lib.ones(2, 2)),
    "normal_floats": lambda lib: lib.normal(2.0, 3.0, (5,)),
    "normal_size_kw": lambda lib: lib.normal(0.0, 1.0, size=(2, 2)),
    "bernoulli": lambda lib: lib.bernoulli(lib.full((3, 4), 0.5)),
    "bernoulli_p": lambda lib: lib.bernoulli(lib.zeros(3, dtype=lib.float64), 0.3),
    "bernoulli_method": lambda lib: lib.full((3,), 0.5).bernoulli(),
    "multinomial": lambda lib: lib.multinomial(lib.tensor([0.2, 0.3, 0.5]), 2),
    "multinomial_rows_replacement": lambda lib: lib.multinomial(lib.tensor([[0.2, 0.8], [1.0, 0.0]]), 5, True),
    "multinomial_method": lambda lib: lib.tensor([[1.0, 2.0, 3.0]]).multinomial(3),
    "poisson": lambda lib: lib.poisson(lib.full((2, 2), 3.0)),
    "uniform_": lambda lib: lib.zeros(2, 3).uniform_(-1, 1),
    "normal_": lambda lib: lib.zeros(4, dtype=lib.float64).normal_(2.0, 0.5),
    "bernoulli_": lambda lib: lib.zeros(5).bernoulli_(0.4),
    "exponential_": lambda lib: lib.zeros(5).exponential_(2.0),
    "random_": lambda lib: lib.zeros(5).random_(10),
    "random_int": lambda lib: lib.zeros(5, dtype=lib.int64).random_(2, 7),
}


@pytest.mark.parametrize("case", sorted(RANDOM_SHAPES))
def test_random_draws_have_pytorchs_shapes_and_dtypes(backend_name, case):
    got, expected = RANDOM_SHAPES[case](tn), RANDOM_SHAPES[case](torch)
    assert got.shape == tuple(expected.shape)
    assert str(got.dtype) == str(expected.dtype).removeprefix("torch.")


@pytest.mark.parametrize("case", sorted(RANDOM_SHAPES))
def test_a_seed_repeats_every_draw(backend_name, case):
    tn.manual_seed(7)
    first = RANDOM_SHAPES[case](tn).numpy()
    tn.manual_seed(7)
    np.testing.assert_array_equal(RANDOM_SHAPES[case](tn).numpy(), first)


def test_draws_follow_their_distributions():
    n = 200_000
    assert abs(tn.rand(n).numpy().mean() - 0.5) < 0.01
    assert abs(tn.randn(n).numpy().std() - 1) < 0.01
    values = tn.randint(-2, 3, (n,)).numpy()
    assert set(np.unique(values)) == {-2, -1, 0, 1, 2}
    assert abs(tn.normal(3.0, 2.0, (n,)).numpy().mean() - 3) < 0.03
    assert abs(tn.normal(tn.full((n,), -1.0), tn.full((n,), 0.5)).numpy().std() - 0.5) < 0.01
    assert abs(tn.bernoulli(tn.full((n,), 0.3)).numpy().mean() - 0.3) < 0.01
    assert abs(tn.zeros(n).exponential_(4.0).numpy().mean() - 0.25) < 0.01
    assert abs(tn.poisson(tn.full((n,), 3.0)).numpy().mean() - 3) < 0.03
    uniform = tn.zeros(n).uniform_(-2, 1).numpy()
    assert uniform.min() >= -2 and uniform.max() < 1 and abs(uniform.mean() + 0.5) < 0.02
    counts = np.bincount(tn.multinomial(tn.tensor([1.0, 3.0]), n, replacement=True).numpy(), minlength=2)
    assert abs(counts[1] / n - 0.75) < 0.01
    rows = tn.multinomial(tn.tensor([[0.0, 1.0, 1.0, 0.0]] * 50), 3).numpy()
    # Without replacement: each category at most once, the weight-0 ones only after the others.
    assert all(sorted(row[:2]) == [1, 2] and row[2] in (0, 3) for row in rows)
    first = tn.multinomial(tn.tensor([1.0, 3.0]).expand(n // 10, 2), 1).numpy()
    assert abs(first.mean() - 0.75) < 0.02
    assert sorted(tn.randperm(50).numpy()) == list(range(50))


def test_in_place_initialisers_refuse_a_tensor_that_requires_grad_while_recording():
    x = tn.zeros(3, requires_grad=True)
    with pytest.raises(tn.GraphError, match="uniform_"):
        x.uniform_()
    with tn.no_grad():
        assert x.normal_() is x
    assert x._version == 1


def test_factories_make_leaves_that_require_grad():
    for x in [tn.zeros(2, requires_grad=True), tn.randn(2, requires_grad=True), tn.full((2,), 1.0, requires_grad=True),
              tn.arange(3.0, requires_grad=True), tn.linspace(0, 1, 3, requires_grad=True)]:  # fmt: skip
        assert x.requires_grad and x.is_leaf
        (x * 2).sum().backward()
        np.testing.assert_array_equal(x.grad.numpy(), np.full(x.shape, 2.0))


def test_creation_lists_its_exports_and_methods():
    assert {"empty", "full_like", "randperm", "multinomial", "normal"} <= set(creation.__all__)
    assert {"new_zeros", "uniform_", "bernoulli_"} <= set(creation.METHODS)
    assert set(sampling.__all__) <= set(creation.__all__)


@given(start=st.integers(-50, 50), length=st.integers(0, 40), step=st.sampled_from([1, 2, 3, -1, -4, 0.5, 0.25, -0.7]))
def test_arange_length_and_values_match_pytorch_for_drawn_ranges(start, length, step):
    end = start + length * step * 0.9
    expected = torch.arange(start, end, step)
    got = tn.arange(start, end, step)
    assert str(got.dtype) == str(expected.dtype).removeprefix("torch.")
    np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-6, atol=1e-5)


@given(start=st.floats(-100, 100), end=st.floats(-100, 100), steps=st.integers(0, 60))
def test_linspace_matches_pytorch_for_drawn_ranges(start, end, steps):
    np.testing.assert_allclose(tn.linspace(start, end, steps).numpy(), torch.linspace(start, end, steps).numpy(),
                               rtol=1e-6, atol=1e-5)  # fmt: skip
    np.testing.assert_array_equal(tn.linspace(start, end, steps, dtype=tn.int64).numpy(),
                                  torch.linspace(start, end, steps, dtype=torch.int64).numpy())  # fmt: skip
