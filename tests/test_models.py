"""Whole models on real data: the layers, losses and optimizers working together."""

import numpy as np

import tinynet as tn
import tinynet.nn.functional as F
from tinynet import nn, optim


def test_a_small_cnn_overfits_64_digits():
    images, labels = tn.data.digits(images=True)
    x, y = images[:64], labels[:64]
    model = nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(16 * 4 * 4, 10)
    )
    optimizer = optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(150):
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    with tn.no_grad():
        accuracy = float((model(x).argmax(dim=1).numpy() == y.numpy()).mean())
    assert accuracy == 1.0, f"train accuracy {accuracy}, losses {losses[::15]}"
    assert losses[-1] < 0.05 * losses[0]


def test_a_model_checkpoint_restores_its_predictions(tmp_path):
    x = tn.randn(8, 5)
    model = nn.Sequential(nn.Linear(5, 7), nn.LayerNorm(7), nn.GELU(), nn.Linear(7, 3))
    tn.save(model.state_dict(), tmp_path / "model.npz")
    fresh = nn.Sequential(nn.Linear(5, 7), nn.LayerNorm(7), nn.GELU(), nn.Linear(7, 3))
    fresh.load_state_dict(tn.load(tmp_path / "model.npz"))
    with tn.no_grad():
        np.testing.assert_array_equal(fresh(x).numpy(), model(x).numpy())
