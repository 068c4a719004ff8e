"""Mixed precision against PyTorch's CPU autocast and GradScaler: which dtype each op gives under autocast, that
gradients flow back through the casts, the scaler's scale sequence and skipped steps under injected infs, its
state_dict, the float16 underflow the scaler exists for, and lesson 08's CNN trained under autocast + scaler."""

from __future__ import annotations

import threading
import warnings

import numpy as np
import pytest

import tinynet as tn
import tinynet.nn.functional as F
from tinynet import nn, optim

torch = pytest.importorskip("torch", reason="these tests compare with PyTorch, which is not installed")


def _name(dtype) -> str:
    return str(dtype).removeprefix("torch.")


def _low(lib, name: str):
    return getattr(lib, name)


# op name -> fn(lib, F, tensors) with the tensors made from the arrays below (same values in both libraries).
def _arrays() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    normal = lambda *shape: rng.standard_normal(shape).astype(np.float32)  # noqa: E731
    return {
        "a": normal(4, 4), "b": normal(4, 4), "v": normal(4), "b3": normal(2, 4, 4), "x4": normal(2, 3, 8, 8),
        "w4": normal(5, 3, 3, 3), "x3": normal(2, 3, 8), "w3": normal(5, 3, 3), "x5": normal(1, 2, 4, 4, 4),
        "w5": normal(3, 2, 2, 2, 2), "p": rng.uniform(0.1, 0.9, (4, 4)).astype(np.float32),
        "slope": np.array([0.25], np.float32), "gamma": normal(6),
    }  # fmt: skip


TARGETS = np.array([0, 3, 1, 2])
OPS = {
    # autocast to the low dtype
    "matmul": lambda lib, F, t: lib.matmul(t["a"], t["b"]),
    "@": lambda lib, F, t: t["a"] @ t["b"],
    "mm": lambda lib, F, t: lib.mm(t["a"], t["b"]),
    "bmm": lambda lib, F, t: lib.bmm(t["b3"], t["b3"]),
    "addmm": lambda lib, F, t: lib.addmm(t["v"], t["a"], t["b"]),
    "baddbmm": lambda lib, F, t: lib.baddbmm(t["b3"], t["b3"], t["b3"]),
    "einsum": lambda lib, F, t: lib.einsum("ij,jk->ik", t["a"], t["b"]),
    "tensordot": lambda lib, F, t: lib.tensordot(t["a"], t["b"], 1),
    "linear": lambda lib, F, t: F.linear(t["a"], t["b"], t["v"]),
    "conv1d": lambda lib, F, t: F.conv1d(t["x3"], t["w3"]),
    "conv2d": lambda lib, F, t: F.conv2d(t["x4"], t["w4"], padding=1),
    "conv3d": lambda lib, F, t: F.conv3d(t["x5"], t["w5"]),
    "conv_transpose2d": lambda lib, F, t: F.conv_transpose2d(t["x4"], t["w4"].transpose(0, 1)),
    "prelu": lambda lib, F, t: F.prelu(t["a"], t["slope"]),
    "scaled_dot_product_attention": lambda lib, F, t: F.scaled_dot_product_attention(t["b3"], t["b3"], t["b3"]),
    "nn.Linear": lambda lib, F, t: _module(lib, lambda nn: nn.Linear(4, 3))(t["a"]),
    "nn.MultiheadAttention": lambda lib, F, t: _module(lib, lambda nn: nn.MultiheadAttention(4, 2))(
        t["a"][None], t["a"][None], t["a"][None]
    )[0],
    # autocast to float32 (on the CPU: losses, prod, cdist)
    "cross_entropy": lambda lib, F, t: F.cross_entropy(t["a"], lib.tensor(TARGETS)),
    "nll_loss": lambda lib, F, t: F.nll_loss(t["a"], lib.tensor(TARGETS)),
    "mse_loss": lambda lib, F, t: F.mse_loss(t["a"], t["b"]),
    "l1_loss": lambda lib, F, t: F.l1_loss(t["a"], t["b"]),
    "smooth_l1_loss": lambda lib, F, t: F.smooth_l1_loss(t["a"], t["b"]),
    "huber_loss": lambda lib, F, t: F.huber_loss(t["a"], t["b"]),
    "binary_cross_entropy": lambda lib, F, t: F.binary_cross_entropy(t["p"], t["p"]),
    "binary_cross_entropy_with_logits": lambda lib, F, t: F.binary_cross_entropy_with_logits(t["a"], t["p"]),
    "kl_div": lambda lib, F, t: F.kl_div(t["a"], t["p"], reduction="batchmean"),
    "soft_margin_loss": lambda lib, F, t: F.soft_margin_loss(t["a"], t["b"]),
    "poisson_nll_loss": lambda lib, F, t: F.poisson_nll_loss(t["a"], t["p"]),
    "gaussian_nll_loss": lambda lib, F, t: F.gaussian_nll_loss(t["a"], t["b"], t["p"]),
    "hinge_embedding_loss": lambda lib, F, t: F.hinge_embedding_loss(t["a"], t["b"]),
    "cosine_embedding_loss": lambda lib, F, t: F.cosine_embedding_loss(t["a"], t["b"], lib.tensor([1, -1, 1, -1])),
    "triplet_margin_loss": lambda lib, F, t: F.triplet_margin_loss(t["a"], t["b"], t["p"]),
    "prod": lambda lib, F, t: lib.prod(t["a"]),
    "cdist": lambda lib, F, t: lib.cdist(t["a"], t["b"]),
    # not listed on the CPU: they run in their inputs' dtype
    "softmax": lambda lib, F, t: F.softmax(t["a"], dim=1),
    "log_softmax": lambda lib, F, t: F.log_softmax(t["a"], dim=1),
    "layer_norm": lambda lib, F, t: F.layer_norm(t["a"], (4,)),
    "group_norm": lambda lib, F, t: F.group_norm(t["x4"], 3),
    "sum": lambda lib, F, t: lib.sum(t["a"]),
    "cumsum": lambda lib, F, t: lib.cumsum(t["a"], 0),
    "exp": lambda lib, F, t: lib.exp(t["a"]),
    "log": lambda lib, F, t: lib.log(t["p"]),
    "pow": lambda lib, F, t: t["a"] ** 2,
    "norm": lambda lib, F, t: lib.norm(t["a"]),
    "softplus": lambda lib, F, t: F.softplus(t["a"]),
    "cosine_similarity": lambda lib, F, t: F.cosine_similarity(t["a"], t["b"]),
    "mv": lambda lib, F, t: lib.mv(t["a"], t["v"]),
    "dot": lambda lib, F, t: lib.dot(t["v"], t["v"]),
    "bilinear": lambda lib, F, t: F.bilinear(t["a"], t["b"], t["b3"][:, :, :4]),
    "multilabel_soft_margin_loss": lambda lib, F, t: F.multilabel_soft_margin_loss(t["a"], t["p"]),
    "relu": lambda lib, F, t: F.relu(t["a"]),
    "add": lambda lib, F, t: t["a"] + t["b"],
    "max_pool2d": lambda lib, F, t: F.max_pool2d(t["x4"], 2),
    "cat": lambda lib, F, t: lib.cat([t["a"], t["b"]]),
    "float64 linear": lambda lib, F, t: F.linear(t["a"].double(), t["b"].double()),
    "explicit dtype": lambda lib, F, t: lib.sum(t["a"], dtype=lib.float64),
}


def _module(lib, make):
    lib.manual_seed(0)
    return make(lib.nn)


def _close(op: str, got, expected) -> None:
    # Values to the low dtype's precision (the modules' random initial weights differ between the libraries).
    if not op.startswith("nn."):
        expected = expected.detach().float().numpy()
        atol = 0.05 * max(1.0, float(np.abs(expected).max()))
        np.testing.assert_allclose(got.numpy().astype(np.float32), expected, atol=atol, err_msg=op)


def _run(lib, op: str, autocast_dtype: str, input_dtype: str | None):
    functional = torch.nn.functional if lib is torch else F
    tensors = {k: lib.tensor(v) for k, v in _arrays().items()}
    if input_dtype is not None:
        tensors = {k: t.to(_low(lib, input_dtype)) for k, t in tensors.items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (torch's kl_div and gaussian_nll_loss notes)
        with lib.autocast("cpu", dtype=_low(lib, autocast_dtype)):
            return OPS[op](lib, functional, tensors)


@pytest.mark.parametrize("op", OPS)
def test_each_op_gives_pytorchs_dtype_under_cpu_float16_autocast(op):
    for input_dtype in (None, "float16"):  # float32 inputs (cast down or not) and float16 ones (cast up or not)
        if op in ("float64 linear", "explicit dtype") and input_dtype:
            continue
        expected = _run(torch, op, "float16", input_dtype)
        got = _run(tn, op, "float16", input_dtype)
        assert str(got.dtype) == _name(expected.dtype), f"{op} on {input_dtype or 'float32'} inputs"
        _close(op, got, expected)


@pytest.mark.parametrize("op", [op for op in OPS if op not in ("nn.MultiheadAttention",)])
def test_each_op_gives_pytorchs_dtype_under_cpu_bfloat16_autocast(op):
    # PyTorch's CPU default. tinynet's bfloat16 tensors cannot carry gradients yet: inference only (no_grad).
    expected = _run(torch, op, "bfloat16", None)
    with tn.no_grad():
        got = _run(tn, op, "bfloat16", None)
    assert str(got.dtype) == _name(expected.dtype), op
    _close(op, got, expected)


def test_bfloat16_autocast_with_gradients_says_it_is_not_there_yet():
    layer = nn.Linear(4, 3)
    with tn.autocast("cpu"), pytest.raises(tn.TinynetError, match=r"bfloat16 .* cannot carry gradients"):
        layer(tn.ones(2, 4))
    assert tn.amp.get_autocast_dtype("cpu") == tn.bfloat16 and tn.amp.get_autocast_dtype("cuda") == tn.float16


def test_gradients_flow_through_the_casts_to_float32_parameters_as_in_pytorch():
    rng = np.random.default_rng(1)
    x, w, b = rng.standard_normal((8, 6)), rng.standard_normal((5, 6)), rng.standard_normal(5)
    target = np.array([0, 1, 2, 3, 4, 0, 1, 2])
    results = {}
    for lib in (torch, tn):
        params = [lib.tensor(v.astype(np.float32), requires_grad=True) for v in (w, b)]
        with lib.autocast("cpu", dtype=lib.float16):
            hidden = (torch.nn.functional if lib is torch else F).linear(lib.tensor(x.astype(np.float32)), *params)
            loss = (torch.nn.functional if lib is torch else F).cross_entropy(hidden, lib.tensor(target))
        loss.backward()
        results[lib] = (hidden.dtype, loss.dtype, [p.grad for p in params])
    assert str(results[tn][0]) == "float16" and str(results[tn][1]) == "float32"
    for got, expected in zip(results[tn][2], results[torch][2]):
        assert str(got.dtype) == "float32"
        np.testing.assert_allclose(got.numpy(), expected.numpy(), atol=2e-3, rtol=1e-2)


def test_autocast_is_a_region_a_decorator_per_thread_and_can_be_switched_off_inside():
    x, w = tn.randn(3, 4), tn.randn(2, 4)

    @tn.autocast("cpu", dtype=tn.float16)
    def forward():
        seen = [F.linear(x, w).dtype]
        with tn.autocast("cpu", enabled=False):
            seen.append(F.linear(x, w).dtype)
        seen.append(tn.amp.is_autocast_enabled("cpu"))
        other = []
        thread = threading.Thread(target=lambda: other.append(F.linear(x, w).dtype))  # a new thread starts off
        thread.start()
        thread.join()
        return seen + other

    assert forward() == [tn.float16, tn.float32, True, tn.float32]
    assert F.linear(x, w).dtype == tn.float32 and not tn.amp.is_autocast_enabled("cpu")
    with pytest.raises(ValueError, match="device_type"):
        tn.autocast(0)
    for lib in (torch, tn):  # float64 is not an autocast dtype on the CPU: both warn and switch off
        with pytest.warns(UserWarning, match="CPU Autocast only supports"):
            lib.autocast("cpu", dtype=lib.float64)
        with pytest.warns(FutureWarning, match="torch.cuda.amp.autocast"):
            lib.cuda.amp.autocast(enabled=False)


# --- GradScaler against torch's CPU GradScaler ---------------------------------------------------------------


def _scaler_run(lib, steps: int, inf_at: set[int], **settings):
    """A linear model trained with SGD and a scaler; after backward at the steps in ``inf_at`` a gradient is made
    inf. Returns the scale after each update, whether each step changed the weights, and the final weights."""
    lib.manual_seed(0)
    weights = np.random.default_rng(3).standard_normal((2, 3)).astype(np.float32)
    model = lib.nn.Linear(3, 2)
    with lib.no_grad():
        model.weight.copy_(lib.tensor(weights))
        model.bias.zero_()
    optimizer = lib.optim.SGD(model.parameters(), lr=0.1)
    scaler = lib.amp.GradScaler("cpu", **settings)
    x = lib.tensor(np.linspace(-1, 1, 12, dtype=np.float32).reshape(4, 3))
    scales, stepped = [], []
    for step in range(steps):
        optimizer.zero_grad()
        loss = (model(x) ** 2).mean()
        scaler.scale(loss).backward()
        if step in inf_at:
            with lib.no_grad():
                model.weight.grad[0, 0] = float("inf") if step % 2 else float("nan")
        before = model.weight.detach().clone()
        scaler.step(optimizer)
        scaler.update()
        stepped.append(not bool((model.weight.detach() == before).all()))
        scales.append(scaler.get_scale())
    return scales, stepped, model.weight.detach().numpy(), scaler


def test_scale_sequence_and_skipped_steps_match_pytorch_under_injected_infs():
    settings = {"init_scale": 2.0**10, "growth_factor": 4.0, "backoff_factor": 0.25, "growth_interval": 3}
    inf_at = {2, 3, 9, 15}
    ours = _scaler_run(tn, 18, inf_at, **settings)
    theirs = _scaler_run(torch, 18, inf_at, **settings)
    assert ours[0] == theirs[0]
    assert ours[1] == theirs[1] == [step not in inf_at for step in range(18)]
    np.testing.assert_allclose(ours[2], theirs[2], rtol=1e-5, atol=1e-6)
    assert ours[3].state_dict() == theirs[3].state_dict()


def test_state_dict_round_trip_and_settings_as_in_pytorch():
    _, _, _, scaler = _scaler_run(tn, 5, {1}, init_scale=256.0, growth_interval=2)
    state = scaler.state_dict()
    assert set(state) == set(torch.amp.GradScaler("cpu").state_dict())
    fresh = tn.amp.GradScaler("cpu")
    fresh.load_state_dict(state)
    assert fresh.state_dict() == state and fresh.get_scale() == scaler.get_scale()
    restored = tn.amp.GradScaler("cpu")
    restored.load_state_dict(dict(state))
    x = tn.ones(1, requires_grad=True)
    assert restored.scale(x).item() == scaler.get_scale()  # the first scale() starts from the saved scale
    with pytest.raises(RuntimeError, match="source state dict is empty"):
        tn.amp.GradScaler("cpu").load_state_dict({})
    off = tn.amp.GradScaler("cpu", enabled=False)
    assert off.state_dict() == {} and off.get_scale() == 1.0 and not off.is_enabled()


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")  # (float16 loss * 2**16: inf, as meant)
def test_scaler_misuse_raises_as_pytorchs():
    for lib in (torch, tn):
        model = lib.nn.Linear(2, 1)
        optimizer = lib.optim.SGD(model.parameters(), lr=0.1)
        scaler = lib.amp.GradScaler("cpu")
        with pytest.raises(AssertionError, match=r"did not use scaler\.scale"):
            scaler.step(optimizer)
        scaler.scale(model(lib.ones(1, 2)).sum()).backward()
        scaler.unscale_(optimizer)
        with pytest.raises(RuntimeError, match="already been called on this optimizer"):
            scaler.unscale_(optimizer)
        scaler.step(optimizer)
        with pytest.raises(RuntimeError, match="step\\(\\) has already been called"):
            scaler.step(optimizer)
        scaler.update()
        half = lib.nn.Linear(2, 1).half()
        half_optimizer = lib.optim.SGD(half.parameters(), lr=0.1)
        scaler.scale(half(lib.ones(1, 2, dtype=lib.float16)).sum()).backward()
        with pytest.raises(ValueError, match="Attempting to unscale FP16 gradients"):
            scaler.unscale_(half_optimizer)


def test_unscale_gives_the_true_gradients_to_clip():
    for lib in (torch, tn):
        model = lib.nn.Linear(3, 1)
        optimizer = lib.optim.SGD(model.parameters(), lr=0.1)
        scaler = lib.amp.GradScaler("cpu", init_scale=1024.0)
        loss = model(lib.ones(2, 3)).sum()
        scaler.scale(loss).backward()
        scaled = model.weight.grad.clone()
        scaler.unscale_(optimizer)
        np.testing.assert_allclose(model.weight.grad.numpy() * 1024, scaled.numpy(), rtol=1e-6)


# --- the underflow the scaler exists for ---------------------------------------------------------------------


def _small_loss_grads(scaled: bool) -> tuple[np.ndarray, np.ndarray]:
    """dL/dW of a linear layer under float16 autocast, with a small loss (1e-4 of a mean over 4096 outputs, as a
    late-training loss term): each output's gradient, 1e-4 / 4096 ~ 2.4e-8, is under half float16's smallest
    subnormal (6e-8), so it rounds to 0. Returns (the float16 run's weight gradient, the float32 run's)."""
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((64, 32)).astype(np.float32), rng.standard_normal((64, 32)).astype(np.float32) * 0.1
    grads = []
    for autocast in (True, False):
        weight = tn.tensor(w, requires_grad=True)
        optimizer = optim.SGD([weight], lr=0.0)
        scaler = tn.amp.GradScaler("cpu", enabled=scaled and autocast)
        with tn.autocast("cpu", dtype=tn.float16, enabled=autocast):
            loss = F.linear(tn.tensor(x), weight).float().mean() * 1e-4
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)
        grads.append(weight.grad.numpy())
    return grads[0], grads[1]


def test_float16_gradients_underflow_to_zero_without_the_scaler_and_survive_with_it():
    unscaled, reference = _small_loss_grads(scaled=False)
    assert np.count_nonzero(reference) == reference.size  # in float32 every gradient is there
    assert np.count_nonzero(unscaled) == 0  # the float16 run lost them all
    scaled, _ = _small_loss_grads(scaled=True)
    assert np.count_nonzero(scaled) == scaled.size
    np.testing.assert_allclose(scaled, reference, rtol=2e-2, atol=1e-9)


# --- lesson 08's CNN under autocast + GradScaler -------------------------------------------------------------


def _lesson08_cnn() -> nn.Sequential:
    # lessons/08_cnn_images.py's model.
    return nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 5 * 5, 64), nn.ReLU(), nn.Linear(64, 10),
    )  # fmt: skip


def _train_cnn(mixed: bool, train_size: int, epochs: int) -> tuple[float, list[float]]:
    """Lesson 08's CNN, Adam at 1e-3, batches of 32 in a fixed order; returns (test accuracy in %, scales)."""
    x, y = tn.data.mnist_5k("train")
    x_test, y_test = tn.data.mnist_5k("test")
    tn.manual_seed(0)
    model = _lesson08_cnn()
    optimizer = optim.Adam(model.parameters(), lr=1e-3)
    scaler = tn.amp.GradScaler("cpu", enabled=mixed)
    order, scales = np.random.default_rng(0), []
    for _ in range(epochs):
        permutation = order.permutation(train_size)
        for start in range(0, train_size, 32):
            batch = tn.tensor(permutation[start : start + 32])
            optimizer.zero_grad()
            with tn.autocast("cpu", dtype=tn.float16, enabled=mixed):
                logits = model(x[batch])
                loss = F.cross_entropy(logits, y[batch])
            assert logits.dtype == (tn.float16 if mixed else tn.float32) and loss.dtype == tn.float32
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            scales.append(scaler.get_scale())
    assert all(p.dtype == tn.float32 and p.grad.dtype == tn.float32 for p in model.parameters())
    with tn.no_grad(), tn.autocast("cpu", dtype=tn.float16, enabled=mixed):
        predicted = model(x_test).argmax(1).numpy()
    return 100 * float((predicted == y_test.numpy()).mean()), scales


def _check_training(train_size: int, epochs: int) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # NumPy's note when an overflowing step casts to inf
        full, _ = _train_cnn(False, train_size, epochs)
        mixed, scales = _train_cnn(True, train_size, epochs)
    assert full > 80, f"the float32 run should learn (test accuracy {full:.1f}%)"
    assert abs(mixed - full) <= 0.5, f"float16 + scaler {mixed:.1f}% vs float32 {full:.1f}%"
    assert scales[0] <= 2.0**16 and min(scales) >= 1.0  # the scale moved (backed off) but stayed sane


def test_lesson08_cnn_under_autocast_and_scaler_reaches_the_float32_accuracy():
    _check_training(train_size=1024, epochs=2)  # ~10 s on two cores


@pytest.mark.slow
def test_lesson08_cnn_full_run_under_autocast_and_scaler():
    _check_training(train_size=4000, epochs=4)


def test_every_op_in_the_autocast_tables_that_tinynet_has_applies_them():
    # The tables name ops; the decorator on each public function applies them. A listed op without it would
    # silently run in the wrong dtype (the CUDA lists cannot be run here: this checks they are wired).
    from tinynet.amp_policy import POLICIES

    for device_type, table in POLICIES.items():
        for name in table:
            function = getattr(F, name, None) or getattr(tn, name, None)
            if function is None:  # (PyTorch's lists name a few ops tinynet lacks: pdist)
                continue
            assert getattr(function, "autocast_name", None) == name, f"{device_type}: {name} is not decorated"
