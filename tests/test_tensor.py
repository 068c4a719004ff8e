"""Tensor creation, dtypes and conversions."""

import numpy as np
import pytest

import tinynet as tn


def test_floats_default_to_float32_and_integers_stay_integers():
    assert tn.tensor([1.0, 2.0]).dtype == tn.float32
    assert tn.tensor(np.zeros(3, dtype=np.float64)).dtype == tn.float32
    assert tn.tensor([1, 2]).dtype == np.array([1, 2]).dtype
    assert tn.tensor([1.0], dtype=tn.float64).dtype == tn.float64
    assert tn.tensor([True]).dtype == tn.bool_


def test_tensor_copies_its_data():
    source = np.array([1.0, 2.0], dtype=np.float32)
    t = tn.tensor(source)
    source[0] = 100
    assert t.tolist() == [1.0, 2.0]


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda: tn.zeros(2, 3), np.zeros((2, 3))),
        (lambda: tn.zeros((2, 3)), np.zeros((2, 3))),
        (lambda: tn.ones(4), np.ones(4)),
        (lambda: tn.full((2, 2), 7.5), np.full((2, 2), 7.5)),
        (lambda: tn.eye(3), np.eye(3)),
        (lambda: tn.arange(5), np.arange(5)),
        (lambda: tn.arange(1, 2, 0.25), np.arange(1, 2, 0.25)),
        (lambda: tn.linspace(0, 1, 5), np.linspace(0, 1, 5)),
        (lambda: tn.zeros_like(tn.ones(2, 2)), np.zeros((2, 2))),
        (lambda: tn.ones_like(tn.zeros(3)), np.ones(3)),
    ],
)
def test_creation_functions_match_numpy(backend_name, make, expected):
    t = make()
    assert t.shape == expected.shape
    np.testing.assert_allclose(t.numpy(), expected)


def test_random_tensors_repeat_under_manual_seed():
    tn.manual_seed(123)
    a, b = tn.rand(3, 2), tn.randn(4)
    tn.manual_seed(123)
    assert a.tolist() == tn.rand(3, 2).tolist()
    assert b.tolist() == tn.randn(4).tolist()
    assert ((a.numpy() >= 0) & (a.numpy() < 1)).all()
    labels = tn.randint(0, 10, (100,))
    assert labels.dtype == tn.int64 and 0 <= labels.numpy().min() and labels.numpy().max() < 10


def test_randn_statistics():
    x = tn.randn(100_000).numpy()
    assert abs(x.mean()) < 0.02 and abs(x.std() - 1) < 0.02


def test_properties_and_conversions():
    t = tn.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    assert t.shape == (2, 3) and t.ndim == 2 and t.numel() == 6 and t.size(1) == 3 and len(t) == 2
    assert isinstance(t.numpy(), np.ndarray)
    assert t.tolist() == [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]
    assert t[1, 2].item() == 6.0 and isinstance(t[1, 2].item(), float)
    assert [row.tolist() for row in t] == t.tolist()
    with pytest.raises(ValueError, match="one-element"):
        t.item()


def test_requires_grad_and_detach():
    t = tn.ones(2)
    assert not t.requires_grad
    assert t.requires_grad_() is t and t.requires_grad
    d = t.detach()
    assert not d.requires_grad and d.array is t.array
    with pytest.raises(tn.DTypeError, match="floating-point"):
        tn.tensor([1, 2], requires_grad=True)


def test_repr_shows_values_and_grad_state():
    assert repr(tn.tensor([1.0, 2.0])) == "tensor([1., 2.])"
    assert "requires_grad=True" in repr(tn.tensor([1.0], requires_grad=True))
    assert "dtype=float64" in repr(tn.tensor([1.0], dtype=tn.float64))


def test_numpy_operands_on_the_left_give_tensors():
    t = tn.tensor([1.0, 2.0], requires_grad=True)
    out = np.array([10.0, 20.0]) * t
    assert isinstance(out, tn.Tensor) and out.requires_grad
    np.testing.assert_allclose(out.numpy(), [10.0, 40.0])


def test_default_dtype_can_be_float64():
    tn.set_default_dtype(tn.float64)
    try:
        assert tn.tensor([1.0]).dtype == tn.float64 and tn.zeros(2).dtype == tn.float64
    finally:
        tn.set_default_dtype(tn.float32)
    with pytest.raises(tn.DTypeError):
        tn.set_default_dtype(tn.int64)
