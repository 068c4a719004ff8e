"""Activation checkpointing (tinynet.utils.checkpoint, as torch.utils.checkpoint): the gradients of the plain run,
the same dropout masks in the recomputation, PyTorch's rules for outputs, keyword arguments, inputs without
grad, and the memory it saves (a deep MLP and an 8-layer transformer keep at most half the bytes for backward)."""

import warnings

import numpy as np
import pytest
from torch_oracle import check, torch

import tinynet as tn
from tinynet import nn
from tinynet.utils.checkpoint import CheckpointError, checkpoint


def _block(lib, x, w1, b1, w2):
    F = lib.nn.functional
    return F.linear(F.gelu(F.linear(x, w1, b1)), w2) + x


@pytest.mark.parametrize("reentrant", [False, True])
def test_checkpointed_block_matches_pytorch(reentrant):
    check(
        lambda lib, x, w1, b1, w2: lib.utils.checkpoint.checkpoint(
            lambda *a: _block(lib, *a), x, w1, b1, w2, use_reentrant=reentrant
        ).tanh(),
        (4, 6), (12, 6), (12,), (6, 12),
    )  # fmt: skip


def test_tuple_outputs_kwargs_and_values_that_are_not_tensors_as_pytorch():
    def fn(lib, x, w):
        def inner(x, w, *, scale, shift=0.0):
            h = x @ w
            return h * scale + shift, h.argmax(1), "label", (h.exp(), [x.sum()])

        return lib.utils.checkpoint.checkpoint(inner, x, w, use_reentrant=False, scale=2.0, shift=1.5)

    check(fn, (3, 4), (4, 5))


def test_checkpoint_sequential_matches_pytorch():
    check(
        lambda lib, x: lib.utils.checkpoint.checkpoint_sequential(
            [lib.sin, lib.tanh, lib.exp, lib.cos, lib.sigmoid], 2, x, use_reentrant=False
        ),
        (3, 4),
    )


def test_autograd_grad_through_a_checkpoint_as_pytorch():
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((4, 3)).astype(np.float32), rng.standard_normal((3, 3)).astype(np.float32)
    found = []
    for lib in (torch, tn):
        tx, tw = lib.tensor(x, requires_grad=True), lib.tensor(w, requires_grad=True)
        y = lib.utils.checkpoint.checkpoint(lambda a, w: (a @ w).tanh() * a, tx, tw, use_reentrant=False)
        found.append([g.detach().numpy() for g in lib.autograd.grad(y.sum(), [tx, tw])])
        assert tx.grad is None and tw.grad is None  # grad() returns them and changes no .grad
    for got, expected in zip(found[1], found[0]):
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


class _MLP(nn.Module):
    """A residual MLP of ``depth`` blocks (Linear h->4h, GELU, Linear 4h->h); ``checkpointed``: each block run
    under checkpoint()."""

    def __init__(self, width: int, depth: int, checkpointed: bool = False) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width)) for _ in range(depth)
        )
        self.head = nn.Linear(width, 1)
        self.checkpointed = checkpointed

    def forward(self, x):
        for block in self.blocks:
            x = x + (checkpoint(block, x, use_reentrant=False) if self.checkpointed else block(x))
        return self.head(x)


def _grads(model) -> list[np.ndarray]:
    return [p.grad.numpy().copy() for p in model.parameters()]


def test_parameters_get_the_plain_runs_gradients_when_no_input_requires_grad():
    tn.manual_seed(0)
    model, x = _MLP(8, 3), tn.randn(5, 8)  # x does not require grad: only the parameters inside do
    model(x).square().mean().backward()
    plain = _grads(model)
    model.zero_grad()
    model.checkpointed = True
    out = model(x)
    assert out.requires_grad  # (use_reentrant=False: as in the plain run)
    out.square().mean().backward()
    for got, expected in zip(_grads(model), plain):
        np.testing.assert_array_equal(got, expected)  # the same ops on the same values: the same bits


def test_reentrant_without_an_input_that_requires_grad_warns_and_records_nothing_as_pytorch():
    x = np.ones((2, 3), np.float32)
    for lib in (torch, tn):
        layer = lib.nn.Linear(3, 3)
        with pytest.warns(UserWarning, match="None of the inputs have requires_grad=True"):
            y = lib.utils.checkpoint.checkpoint(layer, lib.tensor(x), use_reentrant=True)
        assert not y.requires_grad


def test_transformer_layer_with_dropout_draws_the_same_masks_in_the_recomputation():
    x = tn.randn(2, 5, 16, requires_grad=True)

    def run(checkpointed: bool, **kwargs):
        tn.manual_seed(0)
        layer = nn.TransformerEncoderLayer(16, 4, dim_feedforward=32, dropout=0.3, batch_first=True)
        tn.manual_seed(1)
        out = checkpoint(layer, x, use_reentrant=False, **kwargs) if checkpointed else layer(x)
        x.grad = None
        (out * tn.linspace(-1, 1, 16)).sum().backward()
        after = tn.rand(3)  # what the generator draws next
        return [x.grad.numpy(), *_grads(layer)], after.numpy()

    plain, plain_after = run(False)
    checkpointed, checkpointed_after = run(True)
    for got, expected in zip(checkpointed, plain):
        np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(checkpointed_after, plain_after)  # the recomputation's draws did not leak out
    unpreserved, _ = run(True, preserve_rng_state=False)  # other masks in the recomputation: other gradients
    assert not all(np.array_equal(a, b) for a, b in zip(unpreserved, plain))


def test_an_input_changed_in_place_before_backward_is_refused():
    w = tn.randn(3, 3, requires_grad=True)
    x = tn.randn(2, 3) + 0  # (not a leaf: may be changed in place)
    y = checkpoint(lambda a: (a @ w).sin(), x, use_reentrant=False)
    x.mul_(2)
    with pytest.raises(RuntimeError, match="changed in place"):
        y.sum().backward()


def test_backward_twice_with_retain_graph_recomputes_each_time():
    w = tn.randn(3, 3, requires_grad=True)
    x = tn.randn(2, 3, requires_grad=True)
    y = checkpoint(lambda a: (a @ w).sin() * a, x, use_reentrant=False).sum()
    y.backward(retain_graph=True)
    once = w.grad.numpy().copy(), x.grad.numpy().copy()
    y.backward()
    np.testing.assert_allclose(w.grad.numpy(), 2 * once[0], rtol=1e-6)
    np.testing.assert_allclose(x.grad.numpy(), 2 * once[1], rtol=1e-6)


def test_nested_checkpoints_give_the_plain_gradients():
    tn.manual_seed(0)
    inner, outer = nn.Linear(4, 4), nn.Linear(4, 4)
    x = tn.randn(3, 4, requires_grad=True)

    def both(a, nest):
        return outer(checkpoint(inner, a, use_reentrant=False) if nest else inner(a)).tanh()

    both(x, False).sum().backward()
    plain = [x.grad.numpy().copy(), *_grads(inner), *_grads(outer)]
    x.grad = None
    for p in (*inner.parameters(), *outer.parameters()):
        p.grad = None
    checkpoint(both, x, True, use_reentrant=False).sum().backward()
    for got, expected in zip([x.grad.numpy(), *_grads(inner), *_grads(outer)], plain):
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-7)


def test_a_recomputation_of_another_shape_raises_checkpoint_error():
    calls = []

    def grows(a):
        calls.append(1)
        return a[: len(calls) + 1] * 2

    y = checkpoint(grows, tn.randn(4, requires_grad=True), use_reentrant=False)
    with pytest.raises(CheckpointError, match="different metadata") as caught:
        y.sum().backward()
    assert isinstance(caught.value, RuntimeError)  # (PyTorch's CheckpointError is a RuntimeError)


def test_under_no_grad_it_is_the_plain_call():
    layer, x = nn.Linear(3, 2), tn.randn(4, 3, requires_grad=True)
    with tn.no_grad():
        y = checkpoint(layer, x, use_reentrant=False)
    assert not y.requires_grad and y._node is None
    np.testing.assert_array_equal(y.numpy(), layer(x).detach().numpy())


@pytest.mark.parametrize(
    "call",
    [
        lambda lib, f, x: lib.utils.checkpoint.checkpoint(f, x, use_reentrant=True, scale=2),
        lambda lib, f, x: lib.utils.checkpoint.checkpoint(f, x, use_reentrant=False, determinism_check="all"),
        lambda lib, f, x: lib.utils.checkpoint.checkpoint(f, x, use_reentrant=True, context_fn=lambda: (None, None)),
        lambda lib, f, x: lib.utils.checkpoint.checkpoint_sequential([f], 1, x, use_reentrant=False, scale=2),
    ],
)
def test_argument_errors_as_pytorch(call):
    for lib in (torch, tn):
        x = lib.ones(2, requires_grad=True)
        with pytest.raises(ValueError):
            call(lib, lambda a, scale=1: a * scale, x)


def test_use_reentrant_left_out_warns_as_pytorch():
    for lib in (torch, tn):
        x = lib.ones(2, requires_grad=True)
        with pytest.warns(UserWarning, match="use_reentrant parameter should be passed explicitly"):
            y = lib.utils.checkpoint.checkpoint(lambda a: a.exp(), x)
        assert y.requires_grad


def test_context_fn_runs_around_the_forward_and_the_recomputation():
    entered = []

    class Note:
        def __init__(self, name):
            self.name = name

        def __enter__(self):
            entered.append(self.name)

        def __exit__(self, *exc):
            return None

    x = tn.randn(3, requires_grad=True)
    y = checkpoint(lambda a: a.sin(), x, use_reentrant=False, context_fn=lambda: (Note("forward"), Note("again")))
    assert entered == ["forward"]
    y.sum().backward()
    assert entered == ["forward", "again"]
    np.testing.assert_allclose(x.grad.numpy(), np.cos(x.numpy()), rtol=1e-6)


# --- the memory it saves ------------------------------------------------------------------------------------------


def _saved_bytes(model, x) -> int:
    return tn.memory_report(model(x).square().mean()).total_bytes


def test_checkpointing_each_block_of_a_deep_mlp_keeps_at_most_half_the_saved_bytes():
    tn.manual_seed(0)
    model, x = _MLP(64, 12), tn.randn(32, 64)
    plain = _saved_bytes(model, x)
    model.checkpointed = True
    checkpointed = _saved_bytes(model, x)
    assert 0 < checkpointed <= plain / 2, (checkpointed, plain)


class _Encoder(nn.Module):
    def __init__(self, layers: int, checkpointed: bool = False) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            nn.TransformerEncoderLayer(32, 4, dim_feedforward=64, dropout=0.1, batch_first=True) for _ in range(layers)
        )
        self.checkpointed = checkpointed

    def forward(self, x):
        for layer in self.layers:
            x = checkpoint(layer, x, use_reentrant=False) if self.checkpointed else layer(x)
        return x


def test_checkpointing_each_layer_of_an_8_layer_transformer_keeps_at_most_half_the_saved_bytes():
    tn.manual_seed(0)
    model, x = _Encoder(8), tn.randn(4, 16, 32)
    plain = _saved_bytes(model, x)
    model.checkpointed = True
    checkpointed = _saved_bytes(model, x)
    assert 0 < checkpointed <= plain / 2, (checkpointed, plain)


def test_checkpointed_transformer_trains_as_the_plain_one():
    def losses(checkpointed: bool) -> list[float]:
        tn.manual_seed(0)
        model = _Encoder(2, checkpointed)
        optimizer = tn.optim.SGD(model.parameters(), lr=0.1)
        x, found = tn.randn(2, 6, 32), []
        for _ in range(3):
            optimizer.zero_grad()
            loss = model(x).square().mean()
            loss.backward()
            optimizer.step()
            found.append(loss.item())
        return found

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # (use_reentrant passed: no warning)
        assert losses(True) == losses(False)


def test_the_recomputation_runs_in_the_forwards_autocast_dtypes():
    def run(checkpointed: bool):
        tn.manual_seed(0)
        layer = nn.Sequential(nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 4))
        x = tn.randn(3, 8, requires_grad=True)
        with tn.autocast("cpu", dtype=tn.float16):
            out = checkpoint(layer, x, use_reentrant=False) if checkpointed else layer(x)
        out.float().sum().backward()  # (outside the region, as the autocast docs say)
        return out, [x.grad.numpy(), *_grads(layer)]

    (plain, plain_grads), (checkpointed, grads) = run(False), run(True)
    assert checkpointed.dtype == plain.dtype == tn.float16
    for got, expected in zip(grads, plain_grads):
        np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("reentrant", [False, True])
def test_which_outputs_require_grad_as_pytorch(reentrant):
    found = []
    for lib in (torch, tn):
        layer = lib.nn.Linear(3, 2)
        for x_grad in (False, True):
            x = lib.ones(4, 3, requires_grad=x_grad)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # (reentrant, no input requiring grad: PyTorch warns)
                outs = lib.utils.checkpoint.checkpoint(
                    lambda a, f, ones: (f(a), a * 2, a.argmax(1), ones(2)), x, layer, lib.ones, use_reentrant=reentrant
                )
            found.append([t.requires_grad for t in outs])
    assert found[2:] == found[:2]


def test_a_tensor_passed_as_keyword_and_an_output_left_unused_get_the_plain_gradients():
    x, w = tn.randn(4, 3, requires_grad=True), tn.randn(3, 3, requires_grad=True)

    def fn(a, *, weight):
        h = a @ weight
        return h.tanh(), h.exp()

    for checkpointed in (False, True):
        x.grad = w.grad = None
        first, _ = checkpoint(fn, x, use_reentrant=False, weight=w) if checkpointed else fn(x, weight=w)
        first.sum().backward()
        if not checkpointed:
            plain = x.grad.numpy().copy(), w.grad.numpy().copy()
    np.testing.assert_array_equal(x.grad.numpy(), plain[0])
    np.testing.assert_array_equal(w.grad.numpy(), plain[1])
