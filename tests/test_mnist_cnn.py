"""Lesson 08's image CNN (tinynet.models.mnist_cnn) and its PyTorch twin (benchmarks/torch_models.py), which
`tinynet bench`'s train_lenet workload times against each other: the same layers, names and shapes, and with
the same weights the same logits."""

import sys
from pathlib import Path

import numpy as np
import pytest

import tinynet as tn
from tinynet.models import mnist_cnn

torch = pytest.importorskip("torch", reason="compares with PyTorch, which is not installed")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
torch_models = pytest.importorskip("torch_models")


def test_the_twin_has_the_same_parameters_and_gives_the_same_logits():
    ours, twin = mnist_cnn(), torch_models.mnist_cnn()
    ours_state, twin_state = ours.state_dict(), twin.state_dict()
    assert list(ours_state) == list(twin_state)
    assert [tuple(v.shape) for v in ours_state.values()] == [tuple(v.shape) for v in twin_state.values()]
    twin.load_state_dict({k: torch.tensor(v.numpy()) for k, v in ours_state.items()})
    x = np.random.default_rng(0).standard_normal((3, 1, 28, 28)).astype(np.float32)
    with tn.no_grad():
        got = ours(tn.tensor(x)).numpy()
    expected = twin(torch.tensor(x)).detach().numpy()
    assert got.shape == (3, 10)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)
