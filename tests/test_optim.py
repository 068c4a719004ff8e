"""tinynet.optim: SGD, Adam and AdamW against PyTorch's update rules written here in NumPy, optimizer
bookkeeping (groups, state dicts, errors), learning-rate schedules, and training XOR end to end."""

import itertools
import math

import numpy as np
import pytest

import tinynet as tn
from tinynet import nn, optim
from tinynet.optim import lr_scheduler

STEPS = 6
SHAPE = (3, 4)


def fixed_gradients(seed=0, steps=STEPS):
    """A different, fixed gradient for each step (so momentum and Adam's averages are exercised)."""
    rng = np.random.default_rng(seed)
    return [rng.normal(0, 1, SHAPE) for _ in range(steps)]


def initial_param():
    return np.random.default_rng(100).normal(0, 1, SHAPE)


def run_tinynet(make_optimizer, grads, p0=None):
    p = tn.tensor(initial_param() if p0 is None else p0, dtype=tn.float64, requires_grad=True)
    opt = make_optimizer([p])
    history = []
    for g in grads:
        p.grad = tn.tensor(g, dtype=tn.float64)
        opt.step()
        np.testing.assert_array_equal(p.grad.numpy(), g)  # step never changes the gradient
        history.append(p.numpy().copy())
    return history


# --- references: torch.optim's documented algorithms, in NumPy ----------------------------


def sgd_reference(p, grads, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
    p, buf, history = p.copy(), None, []
    for t, g in enumerate(grads):
        g = g + weight_decay * p if weight_decay else g.copy()
        if momentum:
            buf = g.copy() if t == 0 else momentum * buf + (1 - dampening) * g
            g = g + momentum * buf if nesterov else buf
        p = p - lr * g
        history.append(p.copy())
    return history


def adam_reference(p, grads, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, decoupled=False):
    beta1, beta2 = betas
    p, m, v, history = p.copy(), np.zeros_like(p), np.zeros_like(p), []
    for t, g in enumerate(grads, start=1):
        if decoupled:
            p = p * (1 - lr * weight_decay)
        elif weight_decay:
            g = g + weight_decay * p
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        m_hat = m / (1 - beta1**t)
        v_hat = v / (1 - beta2**t)
        p = p - lr * m_hat / (np.sqrt(v_hat) + eps)
        history.append(p.copy())
    return history


def assert_same_trajectory(got, expected):
    assert len(got) == len(expected)
    for step, (a, b) in enumerate(zip(got, expected), start=1):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12, err_msg=f"after step {step}")


SGD_CASES = {
    "plain": dict(lr=0.1),
    "momentum": dict(lr=0.1, momentum=0.9),
    "dampening": dict(lr=0.05, momentum=0.8, dampening=0.3),
    "nesterov": dict(lr=0.1, momentum=0.9, nesterov=True),
    "weight_decay": dict(lr=0.1, weight_decay=0.01),
    "momentum_weight_decay": dict(lr=0.1, momentum=0.5, weight_decay=0.1),
    "nesterov_weight_decay": dict(lr=0.02, momentum=0.7, nesterov=True, weight_decay=0.05),
}
ADAM_CASES = {
    "defaults": dict(),
    "lr": dict(lr=0.05),
    "betas": dict(lr=0.01, betas=(0.5, 0.9)),
    "eps": dict(lr=0.01, eps=0.1),
    "weight_decay": dict(lr=0.01, weight_decay=0.1),
}


@pytest.mark.parametrize("settings", SGD_CASES.values(), ids=SGD_CASES.keys())
def test_sgd_matches_the_pytorch_update_rule(backend_name, settings):
    grads = fixed_gradients()
    got = run_tinynet(lambda ps: optim.SGD(ps, **settings), grads)
    assert_same_trajectory(got, sgd_reference(initial_param(), grads, **settings))


def test_plain_sgd_step_by_hand(backend_name):
    p = tn.tensor([1.0, -2.0], requires_grad=True)
    opt = optim.SGD([p], lr=0.5)
    (p * p).sum().backward()  # gradient 2p
    opt.step()
    np.testing.assert_allclose(p.numpy(), [1.0 - 0.5 * 2.0, -2.0 - 0.5 * -4.0])


@pytest.mark.parametrize("settings", ADAM_CASES.values(), ids=ADAM_CASES.keys())
def test_adam_matches_the_pytorch_update_rule(backend_name, settings):
    grads = fixed_gradients(1)
    got = run_tinynet(lambda ps: optim.Adam(ps, **settings), grads)
    assert_same_trajectory(got, adam_reference(initial_param(), grads, **settings))


@pytest.mark.parametrize("settings", [dict(), dict(lr=0.01, weight_decay=0.1), dict(lr=0.05, weight_decay=0.0)])
def test_adamw_matches_the_pytorch_update_rule(backend_name, settings):
    grads = fixed_gradients(2)
    got = run_tinynet(lambda ps: optim.AdamW(ps, **settings), grads)
    full = {"weight_decay": 1e-2, **settings}  # AdamW's default weight decay is 0.01, as in PyTorch
    assert_same_trajectory(got, adam_reference(initial_param(), grads, decoupled=True, **full))


def test_adam_and_adamw_differ_only_when_decaying(backend_name):
    grads = fixed_gradients(3)
    adam = run_tinynet(lambda ps: optim.Adam(ps, lr=0.01, weight_decay=0.1), grads)
    adamw = run_tinynet(lambda ps: optim.AdamW(ps, lr=0.01, weight_decay=0.1), grads)
    assert not np.allclose(adam[-1], adamw[-1])
    same = run_tinynet(lambda ps: optim.AdamW(ps, lr=0.01, weight_decay=0.0), grads)
    assert_same_trajectory(same, run_tinynet(lambda ps: optim.Adam(ps, lr=0.01), grads))


def test_adam_first_step_moves_each_element_by_lr(backend_name):
    # With bias correction, m_hat / sqrt(v_hat) = g / |g| on step 1: every element moves by lr, whatever g's scale.
    p = tn.tensor([1.0, 1.0, 1.0], dtype=tn.float64, requires_grad=True)
    p.grad = tn.tensor([1e-2, -5.0, 300.0], dtype=tn.float64)
    optim.Adam([p], lr=0.1).step()
    np.testing.assert_allclose(p.numpy(), [0.9, 1.1, 0.9], rtol=1e-5)


@pytest.mark.parametrize("decoupled", [False, True])
def test_adam_updates_large_parameters_one_call_each_with_the_same_numbers(backend_name, monkeypatch, decoupled):
    """Parameters of more than adam.JOIN_UP_TO numbers on average are updated one call each, small ones laid end to
    end (one call for the group): the same numbers either way."""
    from tinynet.optim import adam as adam_module

    rng = np.random.default_rng(5)
    shapes = [(2 * adam_module.JOIN_UP_TO + 7,), (3, adam_module.JOIN_UP_TO // 2), (5,)]  # on average above it
    values = [rng.standard_normal(shape).astype(np.float32) for shape in shapes]
    grads = [[rng.standard_normal(shape).astype(np.float32) for shape in shapes] for _ in range(3)]
    results = {}
    for limit in (adam_module.JOIN_UP_TO, 10**12):
        monkeypatch.setattr(adam_module, "JOIN_UP_TO", limit)
        params = [tn.tensor(v.copy(), requires_grad=True) for v in values]
        optimizer = optim.Adam(params, lr=0.01, weight_decay=0.1, decoupled_weight_decay=decoupled)
        for step_grads in grads:
            for p, g in zip(params, step_grads):
                p.grad = tn.tensor(g)
            optimizer.step()
        results[limit] = ([p.numpy() for p in params], bool(optimizer._joined))
    (each, joined_each), (together, joined_together) = results.values()
    assert not joined_each and joined_together
    for a, b in zip(each, together):
        np.testing.assert_array_equal(a, b)


def test_adam_does_not_join_parameters_whose_gradients_have_another_dtype(backend_name, monkeypatch):
    """A float64 gradient on a float32 parameter: the group is updated one call each (laying the gradients end to end
    would cast them), with the numbers of a run that never joins."""
    from tinynet.optim import adam as adam_module

    rng = np.random.default_rng(6)
    values = [rng.standard_normal(shape).astype(np.float32) for shape in ((4, 3), (3,))]
    grads = [rng.standard_normal(v.shape) for v in values]  # float64
    runs = []
    for limit in (adam_module.JOIN_UP_TO, 0):
        monkeypatch.setattr(adam_module, "JOIN_UP_TO", limit)
        params = [tn.tensor(v.copy(), requires_grad=True) for v in values]
        optimizer = optim.Adam(params, lr=0.01)
        for p, g in zip(params, grads):
            p.grad = tn.tensor(g, dtype=tn.float64)
        optimizer.step()
        runs.append(([p.numpy() for p in params], bool(optimizer._joined)))
    assert not runs[0][1]
    for a, b in zip(runs[0][0], runs[1][0]):
        np.testing.assert_array_equal(a, b)


def test_float32_parameters_stay_float32(backend_name):
    for make in [lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9), lambda ps: optim.Adam(ps), optim.AdamW]:
        p = tn.randn(3, requires_grad=True)
        opt = make([p])
        for _ in range(2):
            p.grad = tn.ones(3)
            opt.step()
        assert p.dtype == tn.float32 and isinstance(p, tn.Tensor) and p.requires_grad


# --- bookkeeping --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make", [lambda ps: optim.SGD(ps, lr=0.1), optim.Adam, optim.AdamW], ids=["sgd", "adam", "adamw"]
)
def test_an_empty_parameter_list_is_a_value_error(make):
    with pytest.raises(ValueError, match="empty"):
        make([])
    with pytest.raises(ValueError, match="empty"):
        make(nn.Sequential(nn.ReLU()).parameters())  # a model without parameters: a generator of nothing


@pytest.mark.parametrize("bad", [np.zeros(3), 1.0, [1.0, 2.0], "weight"])
def test_a_non_tensor_parameter_is_a_type_error(bad):
    with pytest.raises(TypeError, match=type(bad).__name__):
        optim.SGD([tn.zeros(3, requires_grad=True), bad], lr=0.1)
    with pytest.raises(TypeError):
        optim.Adam([bad])


def test_invalid_settings_are_value_errors():
    p = [tn.zeros(3, requires_grad=True)]
    with pytest.raises(ValueError, match="nesterov"):
        optim.SGD(p, lr=0.1, nesterov=True)  # no momentum
    with pytest.raises(ValueError, match="nesterov"):
        optim.SGD(p, lr=0.1, momentum=0.9, dampening=0.1, nesterov=True)
    for make in [
        lambda: optim.SGD(p, lr=-0.1),
        lambda: optim.SGD(p, lr=0.1, momentum=-0.5),
        lambda: optim.SGD(p, lr=0.1, weight_decay=-1e-4),
        lambda: optim.Adam(p, lr=-1e-3),
        lambda: optim.AdamW(p, lr=-1e-3),
        lambda: optim.Adam(p, betas=(1.0, 0.999)),
        lambda: optim.Adam(p, betas=(0.9, -0.1)),
        lambda: optim.Adam(p, eps=-1e-8),
    ]:
        with pytest.raises(ValueError, match=r"-0\.1|-0\.5|-0\.0001|-0\.001|betas|eps|lr"):
            make()


def test_a_non_leaf_tensor_cannot_be_optimized():
    x = tn.zeros(3, requires_grad=True)
    with pytest.raises(ValueError, match="leaf"):
        optim.SGD([x * 2], lr=0.1)


def test_frozen_parameters_may_be_given_to_an_optimizer_and_stay_put():
    # PyTorch only refuses non-leaf tensors: freezing a layer (requires_grad_(False)) and passing
    # model.parameters() is the usual fine-tuning recipe; the frozen ones get no grad and are skipped.
    model = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1))
    model[0].weight.requires_grad_(False)
    frozen = model[0].weight.numpy().copy()
    opt = optim.SGD(model.parameters(), lr=0.1)
    model(tn.randn(4, 2)).sum().backward()
    opt.step()
    np.testing.assert_array_equal(model[0].weight.numpy(), frozen)


@pytest.mark.parametrize(
    "make", [lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9), optim.Adam, optim.AdamW], ids=["sgd", "adam", "adamw"]
)
def test_parameters_without_a_gradient_are_skipped(backend_name, make):
    used, unused = tn.randn(3, requires_grad=True), tn.randn(2, requires_grad=True)
    used_before, before = used.numpy().copy(), unused.numpy().copy()
    opt = make([used, unused])
    used.grad = tn.ones(3)
    opt.step()
    np.testing.assert_array_equal(unused.numpy(), before)  # not even weight decay touches it
    assert unused.grad is None
    assert id(unused) not in opt.state
    assert (used.numpy() < used_before).all()  # while the other one took its step


def test_zero_grad_clears_or_zeroes_gradients():
    a, b = tn.randn(3, requires_grad=True), tn.randn(2, 2, requires_grad=True)
    opt = optim.SGD([a, b], lr=0.1)
    (a.sum() + (b * b).sum()).backward()
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(a.grad.numpy(), np.zeros(3))
    np.testing.assert_array_equal(b.grad.numpy(), np.zeros((2, 2)))
    (a.sum() + (b * b).sum()).backward()
    np.testing.assert_allclose(b.grad.numpy(), 2 * b.numpy())  # zeroed, so nothing stale accumulates
    opt.zero_grad()
    assert a.grad is None and b.grad is None


def test_param_groups_have_their_own_settings(backend_name):
    base, head = tn.zeros(3, requires_grad=True), tn.zeros(2, requires_grad=True)
    opt = optim.SGD([{"params": [base]}, {"params": [head], "lr": 0.01, "momentum": 0.9}], lr=0.1)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.01]
    assert [g["momentum"] for g in opt.param_groups] == [0.0, 0.9]  # defaults fill what a group leaves out
    for _ in range(2):
        base.grad, head.grad = tn.ones(3), tn.ones(2)
        opt.step()
    np.testing.assert_allclose(base.numpy(), [-0.2] * 3, rtol=1e-6)
    np.testing.assert_allclose(head.numpy(), [-(0.01 + 0.01 * 1.9)] * 2, rtol=1e-6)  # buf 1, then 0.9 + 1
    opt.param_groups[0]["lr"] = 1.0  # changing a group's lr takes effect at the next step
    base.grad = tn.ones(3)
    opt.step()
    np.testing.assert_allclose(base.numpy(), [-1.2] * 3, rtol=1e-6)


def test_a_parameter_in_two_groups_is_an_error():
    p = tn.zeros(3, requires_grad=True)
    with pytest.raises(ValueError, match="more than one group"):
        optim.SGD([{"params": [p]}, {"params": [p], "lr": 0.5}], lr=0.1)


@pytest.mark.parametrize(
    "make",
    [lambda ps: optim.Adam(ps, lr=0.01, weight_decay=0.1), lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9)],
    ids=["adam", "sgd_momentum"],
)
def test_state_dict_lets_a_second_optimizer_continue_identically(backend_name, make):
    grads = fixed_gradients(4, steps=8)
    p1 = tn.tensor(initial_param(), dtype=tn.float64, requires_grad=True)
    opt1 = make([p1])
    for g in grads[:4]:
        p1.grad = tn.tensor(g, dtype=tn.float64)
        opt1.step()
    saved = opt1.state_dict()

    p2 = tn.tensor(p1.numpy(), dtype=tn.float64, requires_grad=True)  # e.g. restored from a model checkpoint
    opt2 = make([p2])
    opt2.load_state_dict(saved)
    for g in grads[4:]:
        for p, opt in [(p1, opt1), (p2, opt2)]:
            p.grad = tn.tensor(g, dtype=tn.float64)
            opt.step()
        np.testing.assert_array_equal(p2.numpy(), p1.numpy())
    # And both followed the uninterrupted reference, so the state really carried over (Adam's step count too).
    settings = {"lr": 0.01, "weight_decay": 0.1} if isinstance(opt1, optim.Adam) else {"lr": 0.1, "momentum": 0.9}
    reference = (adam_reference if isinstance(opt1, optim.Adam) else sgd_reference)(initial_param(), grads, **settings)
    np.testing.assert_allclose(p2.numpy(), reference[-1], rtol=1e-10, atol=1e-12)


def test_adam_state_dict_is_a_copy_and_restores_settings():
    p = tn.randn(3, requires_grad=True)
    opt = optim.Adam([p], lr=0.01)
    p.grad = tn.ones(3)
    opt.step()
    saved = opt.state_dict()
    assert saved["param_groups"][0]["lr"] == 0.01 and saved["param_groups"][0]["params"] == [0]
    (state,) = saved["state"].values()
    assert state["step"] == 1
    exp_avg = state["exp_avg"].copy()
    opt.step()  # the saved state must not follow the live one
    np.testing.assert_array_equal(state["exp_avg"], exp_avg)

    q = tn.tensor(p.numpy(), requires_grad=True)
    other = optim.Adam([q], lr=0.5)
    other.load_state_dict(saved)
    assert other.param_groups[0]["lr"] == 0.01
    with pytest.raises(ValueError, match="groups"):
        optim.Adam([q, tn.zeros(2, requires_grad=True)]).load_state_dict(saved)


# --- learning-rate schedules --------------------------------------------------------------


def _optimizer(lrs):
    return optim.SGD([{"params": [tn.zeros(1, requires_grad=True)], "lr": lr} for lr in lrs], lr=lrs[0])


def test_step_lr_follows_its_closed_form():
    opt = _optimizer([0.1, 0.03])
    sched = lr_scheduler.StepLR(opt, step_size=3, gamma=0.5)
    for epoch in range(12):
        expected = [base * 0.5 ** (epoch // 3) for base in (0.1, 0.03)]
        assert sched.get_last_lr() == pytest.approx(expected)
        assert [g["lr"] for g in opt.param_groups] == pytest.approx(expected)
        opt.step()
        sched.step()


def test_step_lr_default_gamma_and_invalid_step_size():
    opt = _optimizer([1.0])
    sched = lr_scheduler.StepLR(opt, step_size=2)
    lrs = []
    for _ in range(6):
        lrs.append(sched.get_last_lr()[0])
        sched.step()
    assert lrs == pytest.approx([1.0, 1.0, 0.1, 0.1, 0.01, 0.01])
    with pytest.raises(ValueError, match="step_size"):
        lr_scheduler.StepLR(_optimizer([1.0]), step_size=0)


@pytest.mark.parametrize("eta_min", [0.0, 0.01])
def test_cosine_annealing_follows_its_closed_form(eta_min):
    t_max, bases = 10, (0.1, 0.5)
    opt = _optimizer(list(bases))
    sched = lr_scheduler.CosineAnnealingLR(opt, T_max=t_max, eta_min=eta_min)
    for epoch in range(t_max + 1):
        expected = [eta_min + (b - eta_min) * (1 + math.cos(math.pi * epoch / t_max)) / 2 for b in bases]
        assert sched.get_last_lr() == pytest.approx(expected, abs=1e-12)
        opt.step()
        sched.step()
    # Half way it is the midpoint, at T_max it is eta_min.
    sched2 = lr_scheduler.CosineAnnealingLR(_optimizer([1.0]), T_max=4, eta_min=eta_min)
    seen = []
    for _ in range(5):
        seen.append(sched2.get_last_lr()[0])
        sched2.step()
    assert seen[2] == pytest.approx((1.0 + eta_min) / 2) and seen[4] == pytest.approx(eta_min)
    assert all(a > b for a, b in itertools.pairwise(seen))


def test_scheduler_lr_is_what_the_optimizer_uses(backend_name):
    p = tn.zeros(1, dtype=tn.float64, requires_grad=True)
    opt = optim.SGD([p], lr=1.0)
    sched = lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    for _ in range(3):
        p.grad = tn.ones(1, dtype=tn.float64)
        opt.step()
        sched.step()
    np.testing.assert_allclose(p.numpy(), [-(1.0 + 0.5 + 0.25)])


# --- acceptance: XOR ----------------------------------------------------------------------


def test_a_2_2_1_network_learns_xor_with_sgd(backend_name):
    tn.manual_seed(0)
    X = tn.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    Y = tn.tensor([[0.0], [1.0], [1.0], [0.0]])
    model = nn.Sequential(nn.Linear(2, 2), nn.Sigmoid(), nn.Linear(2, 1), nn.Sigmoid())
    opt = optim.SGD(model.parameters(), lr=1.0, momentum=0.9)
    criterion = nn.MSELoss()
    first = criterion(model(X), Y).item()
    for _ in range(1000):
        opt.zero_grad()
        loss = criterion(model(X), Y)
        loss.backward()
        opt.step()
    with tn.no_grad():
        predictions = model(X)
    final = nn.functional.mse_loss(predictions, Y).item()
    assert first > 0.2  # it started out wrong ...
    assert final < 0.01, f"XOR did not converge: MSE {final:.4f}"  # ... and learned
    assert np.round(predictions.numpy()).ravel().tolist() == [0, 1, 1, 0]
