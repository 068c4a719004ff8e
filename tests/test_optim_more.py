"""tinynet.optim against PyTorch itself: every optimizer and option run step by step on the same parameters and
gradients (float64, to 1e-10), state_dict layouts and round trips, parameter groups, and each learning-rate
schedule compared lr by lr with torch.optim.lr_scheduler's."""

import math
import warnings

import numpy as np
import pytest

import tinynet as tn
from tinynet import nn, optim
from tinynet.errors import TinynetError
from tinynet.optim import lr_scheduler

torch = pytest.importorskip("torch", reason="these tests compare with PyTorch, which is not installed")

SHAPES = [(3, 4), (5,)]
STEPS = 7


def initial_values(seed: int = 100) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.normal(0, 1, shape) for shape in SHAPES]


def gradients(seed: int, steps: int = STEPS) -> list[list[np.ndarray]]:
    """A different, fixed gradient per step and parameter (so running averages are exercised)."""
    rng = np.random.default_rng(seed)
    return [[rng.normal(0, 1, shape) for shape in SHAPES] for _ in range(steps)]


def torch_params(values):
    return [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in values]


def tn_params(values):
    return [tn.tensor(v, dtype=tn.float64, requires_grad=True) for v in values]


def run_steps(lib, params, optimizer, grads):
    """Set each step's gradients, step; returns the parameters (as NumPy) after each step."""
    history = []
    for step_grads in grads:
        for p, g in zip(params, step_grads):
            p.grad = lib.tensor(g, dtype=lib.float64)
        optimizer.step()
        history.append([p.detach().numpy().copy() if lib is torch else p.numpy().copy() for p in params])
    return history


def assert_same_history(got, expected):
    assert len(got) == len(expected)
    for step, (ours, theirs) in enumerate(zip(got, expected), start=1):
        for k, (a, b) in enumerate(zip(ours, theirs)):
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12, err_msg=f"parameter {k} after step {step}")


CASES = {
    "sgd_default_lr": ("SGD", dict()),
    "sgd_plain": ("SGD", dict(lr=0.1)),
    "sgd_momentum_dampening": ("SGD", dict(lr=0.05, momentum=0.8, dampening=0.3)),
    "sgd_nesterov_decay": ("SGD", dict(lr=0.02, momentum=0.7, nesterov=True, weight_decay=0.05)),
    "sgd_maximize": ("SGD", dict(lr=0.1, maximize=True)),
    "sgd_maximize_momentum_decay": ("SGD", dict(lr=0.1, momentum=0.9, weight_decay=0.1, maximize=True)),
    "adam_defaults": ("Adam", dict()),
    "adam_decay": ("Adam", dict(lr=0.01, betas=(0.5, 0.9), weight_decay=0.1)),
    "adam_amsgrad": ("Adam", dict(lr=0.05, amsgrad=True)),
    "adam_amsgrad_decay_maximize": ("Adam", dict(lr=0.05, amsgrad=True, weight_decay=0.1, maximize=True)),
    "adam_maximize": ("Adam", dict(lr=0.02, maximize=True)),
    "adam_decoupled": ("Adam", dict(lr=0.02, weight_decay=0.1, decoupled_weight_decay=True)),
    "adamw_defaults": ("AdamW", dict()),
    "adamw_amsgrad": ("AdamW", dict(lr=0.05, amsgrad=True, weight_decay=0.2)),
    "adamw_maximize": ("AdamW", dict(lr=0.05, maximize=True, eps=1e-3)),
    "rmsprop_defaults": ("RMSprop", dict()),
    "rmsprop_alpha_eps": ("RMSprop", dict(lr=0.03, alpha=0.9, eps=1e-4)),
    "rmsprop_momentum": ("RMSprop", dict(lr=0.01, momentum=0.9)),
    "rmsprop_centered": ("RMSprop", dict(lr=0.01, centered=True)),
    "rmsprop_everything": (
        "RMSprop",
        dict(lr=0.01, alpha=0.95, momentum=0.5, centered=True, weight_decay=0.1, maximize=True),
    ),
    "adagrad_defaults": ("Adagrad", dict()),
    "adagrad_lr_decay": ("Adagrad", dict(lr=0.1, lr_decay=0.05)),
    "adagrad_accumulator_decay": ("Adagrad", dict(lr=0.1, initial_accumulator_value=0.5, weight_decay=0.1)),
    "adagrad_eps_maximize": ("Adagrad", dict(lr=0.1, eps=1e-3, maximize=True)),
    "adadelta_defaults": ("Adadelta", dict()),
    "adadelta_rho_eps": ("Adadelta", dict(lr=0.5, rho=0.8, eps=1e-4)),
    "adadelta_decay_maximize": ("Adadelta", dict(weight_decay=0.1, maximize=True)),
}


@pytest.mark.parametrize(("name", "settings"), CASES.values(), ids=CASES.keys())
def test_optimizers_follow_pytorch_step_by_step(backend_name, name, settings):
    grads = gradients(sum(map(ord, name)))
    theirs = torch_params(initial_values())
    ours = tn_params(initial_values())
    expected = run_steps(torch, theirs, getattr(torch.optim, name)(theirs, **settings), grads)
    got = run_steps(tn, ours, getattr(optim, name)(ours, **settings), grads)
    assert_same_history(got, expected)


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta"])
def test_float32_parameters_stay_float32_and_close_to_pytorch(name):
    theirs = [torch.tensor(v, dtype=torch.float32, requires_grad=True) for v in initial_values()]
    ours = [tn.tensor(v, dtype=tn.float32, requires_grad=True) for v in initial_values()]
    extra = dict(amsgrad=True) if name in ("Adam", "AdamW") else dict(centered=True) if name == "RMSprop" else {}
    opts = getattr(torch.optim, name)(theirs, **extra), getattr(optim, name)(ours, **extra)
    for step_grads in gradients(5, steps=3):
        for params, opt, lib in [(theirs, opts[0], torch), (ours, opts[1], tn)]:
            for p, g in zip(params, step_grads):
                p.grad = lib.tensor(g.astype(np.float32))
            opt.step()
    for a, b in zip(ours, theirs):
        assert a.dtype == tn.float32
        np.testing.assert_allclose(a.numpy(), b.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_parameter_groups_with_their_own_settings_and_an_added_group(backend_name):
    grads = gradients(11)
    results = []
    for lib, make in [(torch, torch_params), (tn, tn_params)]:
        first, second = make(initial_values(1)), make(initial_values(2))
        opt = lib.optim.RMSprop([{"params": first}, {"params": second[:1], "lr": 0.1, "momentum": 0.5}], lr=0.01)
        history = run_steps(lib, first + second[:1], opt, [g + g[:1] for g in grads[:3]])
        opt.add_param_group({"params": second[1], "centered": True})  # a single tensor is a group of one
        history += run_steps(lib, first + second, opt, [g + g for g in grads[3:]])
        results.append(history)
        assert [g["momentum"] for g in opt.param_groups] == [0, 0.5, 0]
    assert_same_history(results[1], results[0])


def test_parameters_without_a_gradient_keep_no_state():
    used, unused = tn.randn(3, requires_grad=True), tn.randn(2, requires_grad=True)
    for make in [lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9), optim.Adam, optim.RMSprop, optim.Adadelta]:
        opt = make([used, unused])
        used.grad = tn.ones(3)
        opt.step()
        assert used in opt.state and unused not in opt.state  # state is keyed by the parameter, as in PyTorch
    plain = optim.SGD([used], lr=0.1)
    plain.step()
    assert plain.state_dict()["state"] == {}  # plain SGD keeps nothing


def test_step_runs_the_closure_with_gradients_and_returns_its_loss():
    w = tn.tensor([1.0, -2.0], dtype=tn.float64, requires_grad=True)
    opt = optim.SGD([w], lr=0.1)

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    with tn.no_grad():  # the closure runs with gradients on, whatever the caller's mode
        loss = opt.step(closure)
    assert loss.item() == pytest.approx(5.0)
    np.testing.assert_allclose(w.numpy(), [0.8, -1.6])


def test_zero_grad_without_set_to_none_zeroes_the_same_gradient_tensor():
    p = tn.randn(3, requires_grad=True)
    (p * 3).sum().backward()
    grad = p.grad
    optim.Adam([p]).zero_grad(set_to_none=False)
    assert p.grad is grad
    np.testing.assert_array_equal(grad.numpy(), np.zeros(3))
    optim.Adam([p]).zero_grad()
    assert p.grad is None


# --- state_dict ---------------------------------------------------------------------------

STATE_CASES = {
    "sgd_nesterov": ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    "adam_amsgrad": ("Adam", dict(lr=0.01, amsgrad=True, weight_decay=0.1)),
    "adamw": ("AdamW", dict(lr=0.01)),
    "rmsprop_centered_momentum": ("RMSprop", dict(lr=0.01, centered=True, momentum=0.5)),
    "adagrad": ("Adagrad", dict(lr=0.1, lr_decay=0.01, initial_accumulator_value=0.1)),
    "adadelta": ("Adadelta", dict(rho=0.8)),
}


def _state_as_numpy(state: dict) -> dict:
    return {k: (v.detach().numpy() if isinstance(v, torch.Tensor) else v) for k, v in state.items()}


@pytest.mark.parametrize(("name", "settings"), STATE_CASES.values(), ids=STATE_CASES.keys())
def test_state_dict_has_pytorchs_layout_and_values(name, settings):
    theirs, ours = torch_params(initial_values()), tn_params(initial_values())
    torch_opt, tn_opt = getattr(torch.optim, name)(theirs, **settings), getattr(optim, name)(ours, **settings)
    grads = gradients(7, steps=3)
    run_steps(torch, theirs, torch_opt, grads)
    run_steps(tn, ours, tn_opt, grads)
    expected, got = torch_opt.state_dict(), tn_opt.state_dict()
    assert got["param_groups"] == expected["param_groups"]  # every setting, and params as indices [0, 1]
    assert got["state"].keys() == expected["state"].keys()
    for index, saved in expected["state"].items():
        assert got["state"][index].keys() == saved.keys()
        for key, value in _state_as_numpy(saved).items():
            np.testing.assert_allclose(np.asarray(got["state"][index][key]), value, rtol=1e-10, err_msg=key)


@pytest.mark.parametrize(("name", "settings"), STATE_CASES.values(), ids=STATE_CASES.keys())
def test_a_loaded_state_dict_continues_the_same_trajectory(tmp_path, name, settings):
    grads = gradients(8, steps=8)
    theirs = torch_params(initial_values())
    expected = run_steps(torch, theirs, getattr(torch.optim, name)(theirs, **settings), grads)

    ours = tn_params(initial_values())
    first = getattr(optim, name)(ours, **settings)
    run_steps(tn, ours, first, grads[:4])
    tn.save({"optimizer": first.state_dict(), "params": ours}, tmp_path / "checkpoint.tn")
    checkpoint = tn.load(tmp_path / "checkpoint.tn")
    restored = [tn.tensor(p.numpy(), dtype=tn.float64, requires_grad=True) for p in checkpoint["params"]]
    second = getattr(optim, name)(restored, lr=123.0)  # the saved settings replace these
    second.load_state_dict(checkpoint["optimizer"])
    default_lr = getattr(optim, name)([tn.zeros(1, requires_grad=True)]).defaults["lr"]
    assert second.param_groups[0]["lr"] == settings.get("lr", default_lr)
    assert_same_history(run_steps(tn, restored, second, grads[4:]), expected[4:])


def test_state_dict_is_a_snapshot_and_load_casts_to_the_parameters_dtype():
    p = tn.randn(3, requires_grad=True)
    opt = optim.RMSprop([p], momentum=0.9)
    p.grad = tn.ones(3)
    opt.step()
    saved = opt.state_dict()
    snapshot = saved["state"][0]["square_avg"].copy()
    opt.step()
    np.testing.assert_array_equal(saved["state"][0]["square_avg"], snapshot)

    q = tn.zeros(3, dtype=tn.float64, requires_grad=True)
    other = optim.RMSprop([q], momentum=0.9)
    other.load_state_dict(saved)
    assert other.state[q]["square_avg"].dtype == np.float64 and other.state[q]["step"] == 1
    other.state[q]["square_avg"][0] = 7.0  # loading copied: the saved dict is untouched
    np.testing.assert_array_equal(saved["state"][0]["square_avg"], snapshot)


def test_load_state_dict_refuses_different_groups():
    p = tn.zeros(3, requires_grad=True)
    saved = optim.Adagrad([p]).state_dict()
    assert saved["state"][0]["step"] == 0  # Adagrad's accumulators exist before the first step, as in PyTorch
    with pytest.raises(ValueError, match="groups"):
        optim.Adagrad([p, tn.zeros(2, requires_grad=True)]).load_state_dict(saved)
    with pytest.raises(ValueError, match="groups"):
        optim.Adagrad([{"params": [p]}, {"params": [tn.zeros(2, requires_grad=True)]}]).load_state_dict(saved)


def test_named_parameters_name_the_state_dict_entries():
    model = nn.Linear(2, 3)
    opt = optim.SGD(model.named_parameters(), lr=0.1)
    params = opt.param_groups[0]["params"]
    assert len(params) == 2 and params[0] is model.weight and params[1] is model.bias
    torch_model = torch.nn.Linear(2, 3)
    expected = torch.optim.SGD(torch_model.named_parameters(), lr=0.1).state_dict()
    assert opt.state_dict()["param_groups"] == expected["param_groups"]


# --- errors -------------------------------------------------------------------------------


def test_bad_parameter_containers_and_settings_are_pytorchs_errors():
    p = tn.zeros(3, requires_grad=True)
    with pytest.raises(TypeError, match="iterable"):
        optim.SGD(p, lr=0.1)
    with pytest.raises(TypeError, match="set"):
        optim.SGD([{"params": {p}}], lr=0.1)
    for make in [
        lambda: optim.RMSprop([p], lr=-1.0),
        lambda: optim.RMSprop([p], alpha=-0.1),
        lambda: optim.Adagrad([p], lr_decay=-0.1),
        lambda: optim.Adagrad([p], initial_accumulator_value=-1),
        lambda: optim.Adadelta([p], rho=1.5),
        lambda: optim.AdamW([p], betas=(0.9, 1.0)),
        lambda: optim.SGD([p], lr=0.1, dampening=0.5, momentum=0.9, nesterov=True),
    ]:
        with pytest.raises(ValueError):
            make()
    with pytest.raises(TinynetError, match="differentiable"):
        optim.Adam([p], differentiable=True)


def test_optimizer_repr_lists_each_groups_settings():
    text = repr(optim.Adagrad([tn.zeros(2, requires_grad=True)], lr=0.5))
    assert text.startswith("Adagrad (\nParameter Group 0\n") and "    lr: 0.5\n" in text and text.endswith(")")


# --- learning-rate schedules --------------------------------------------------------------


def _optimizers(kind: str, lrs=(0.1, 0.02)):
    """The same optimizer in both libraries, with one group per lr (and a grad-less parameter each)."""
    made = []
    for lib in (torch, tn):
        groups = [{"params": [lib.zeros(2, requires_grad=True)], "lr": lr} for lr in lrs]
        made.append(lib.optim.SGD(groups, lr=lrs[0], momentum=0.9) if kind == "sgd" else lib.optim.Adam(groups))
    return made


def _group_settings(opt) -> list[float]:
    """Each group's lr, then its momentum or betas (which OneCycleLR cycles), flat."""
    flat = []
    for g in opt.param_groups:
        flat += [g["lr"], *(g["betas"] if "betas" in g else [g["momentum"]])]
    return flat


def compare_schedules(make, kind: str = "sgd", epochs: int = 30, metrics=None, lrs=(0.1, 0.02)):
    """Build ``make(lib, optimizer)`` on both sides and compare lr (and momentum) after construction and after
    every step; ``metrics``: the values fed to ``step`` (ReduceLROnPlateau)."""
    torch_opt, tn_opt = _optimizers(kind, lrs)
    schedulers = make(torch, torch_opt), make(tn, tn_opt)
    for epoch in range(epochs + 1):
        expected, got = schedulers[0].get_last_lr(), schedulers[1].get_last_lr()
        assert got == pytest.approx(expected, rel=1e-12, abs=1e-15), f"epoch {epoch}"
        assert _group_settings(tn_opt) == pytest.approx(_group_settings(torch_opt), rel=1e-12), f"epoch {epoch}"
        if epoch == epochs:
            break
        for opt, sched in ((torch_opt, schedulers[0]), (tn_opt, schedulers[1])):
            opt.step()
            sched.step() if metrics is None else sched.step(metrics[epoch])
    return schedulers


class Warmup:
    """A callable object: LambdaLR saves its attributes in state_dict (unlike a plain function)."""

    def __init__(self, steps):
        self.steps = steps

    def __call__(self, epoch):
        return min(1.0, (epoch + 1) / self.steps)


SCHEDULES = {
    "lambda": lambda lib, o: lib.optim.lr_scheduler.LambdaLR(o, lambda e: 0.95**e),
    "lambda_per_group": lambda lib, o: lib.optim.lr_scheduler.LambdaLR(o, [lambda e: 1 / (e + 1), Warmup(5)]),
    "step": lambda lib, o: lib.optim.lr_scheduler.StepLR(o, step_size=4, gamma=0.5),
    "multistep": lambda lib, o: lib.optim.lr_scheduler.MultiStepLR(o, milestones=[3, 8, 8, 20], gamma=0.3),
    "exponential": lambda lib, o: lib.optim.lr_scheduler.ExponentialLR(o, gamma=0.9),
    "linear_default": lambda lib, o: lib.optim.lr_scheduler.LinearLR(o),
    "linear_decay": lambda lib, o: lib.optim.lr_scheduler.LinearLR(o, 1.0, 0.1, total_iters=12),
    "cosine_past_t_max": lambda lib, o: lib.optim.lr_scheduler.CosineAnnealingLR(o, T_max=7, eta_min=0.001),
    "onecycle_cos": lambda lib, o: lib.optim.lr_scheduler.OneCycleLR(o, max_lr=[1.0, 0.2], total_steps=30),
    "onecycle_linear_three_phase": lambda lib, o: lib.optim.lr_scheduler.OneCycleLR(
        o, max_lr=0.5, epochs=3, steps_per_epoch=10, anneal_strategy="linear", three_phase=True, pct_start=0.25
    ),
    "onecycle_no_momentum": lambda lib, o: lib.optim.lr_scheduler.OneCycleLR(
        o, max_lr=0.5, total_steps=31, cycle_momentum=False, div_factor=10.0, final_div_factor=100.0
    ),
    "sequential_warmup_cosine": lambda lib, o: lib.optim.lr_scheduler.SequentialLR(
        o,
        [lib.optim.lr_scheduler.LinearLR(o, 0.1, total_iters=5), lib.optim.lr_scheduler.CosineAnnealingLR(o, 20)],
        milestones=[5],
    ),
    "sequential_three": lambda lib, o: lib.optim.lr_scheduler.SequentialLR(
        o,
        [
            lib.optim.lr_scheduler.ExponentialLR(o, 0.8),
            lib.optim.lr_scheduler.StepLR(o, 3, 0.5),
            lib.optim.lr_scheduler.LinearLR(o, 0.5, 1.0, 4),
        ],
        milestones=[6, 15],
    ),
}


@pytest.mark.parametrize("make", SCHEDULES.values(), ids=SCHEDULES.keys())
@pytest.mark.parametrize("kind", ["sgd", "adam"])
def test_schedules_follow_pytorch_lr_by_lr(make, kind):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyTorch's own warnings (e.g. SequentialLR's inner steps)
        compare_schedules(make, kind)


def test_two_schedules_on_one_optimizer_chain_as_in_pytorch():
    def make(lib, o):
        return [lib.optim.lr_scheduler.StepLR(o, 3, 0.5), lib.optim.lr_scheduler.ExponentialLR(o, 0.9)]

    torch_opt, tn_opt = _optimizers("sgd")
    pairs = make(torch, torch_opt), make(tn, tn_opt)
    for _ in range(12):
        for opt, scheds in ((torch_opt, pairs[0]), (tn_opt, pairs[1])):
            opt.step()
            for s in scheds:
                s.step()
        assert _group_settings(tn_opt) == pytest.approx(_group_settings(torch_opt), rel=1e-12)


PLATEAU = {
    "min_rel": (dict(patience=2), [1.0, 0.9, 0.95, 0.92, 0.91, 0.9, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 0.49, 0.5]),
    "max_abs_cooldown": (
        dict(mode="max", threshold_mode="abs", threshold=0.05, patience=1, cooldown=2, factor=0.5),
        [0.1, 0.2, 0.22, 0.23, 0.24, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3],
    ),
    "min_lr_per_group": (dict(patience=0, min_lr=[0.05, 0.0], factor=0.5), [1.0] * 12),
    "eps_skips_tiny_changes": (dict(patience=0, factor=0.5, eps=0.01), [1.0] * 12),
}


@pytest.mark.parametrize(("settings", "metrics"), PLATEAU.values(), ids=PLATEAU.keys())
def test_reduce_lr_on_plateau_follows_pytorch(settings, metrics):
    compare_schedules(lambda lib, o: lib.optim.lr_scheduler.ReduceLROnPlateau(o, **settings), metrics=metrics,
                      epochs=len(metrics))  # fmt: skip


def test_reduce_lr_on_plateau_takes_a_loss_tensor_and_saves_its_state():
    opt = optim.SGD([tn.zeros(1, requires_grad=True)], lr=1.0)
    sched = lr_scheduler.ReduceLROnPlateau(opt, patience=0)
    sched.step(tn.tensor(2.0))
    sched.step(tn.tensor(3.0))
    assert sched.get_last_lr() == pytest.approx([0.1])
    fresh = lr_scheduler.ReduceLROnPlateau(optim.SGD([tn.zeros(1, requires_grad=True)], lr=1.0), patience=0)
    fresh.load_state_dict(sched.state_dict())
    assert fresh.best == 2.0 and fresh.last_epoch == 2 and fresh.get_last_lr() == pytest.approx([0.1])


def _resumed_schedule(lib, make, kind: str = "sgd", stop: int = 9, total: int = 20) -> tuple[list, dict]:
    """Run ``stop`` steps, save optimizer and schedule, rebuild both from the saved dicts (as a training
    script resuming from a checkpoint does), run on to ``total``: the lrs seen, and the schedule's state_dict."""
    index = 0 if lib is torch else 1
    first_opt = _optimizers(kind)[index]
    first = make(lib, first_opt)
    lrs = []
    for _ in range(stop):
        first_opt.step()
        first.step()
        lrs.append(list(first.get_last_lr()))
    saved_opt, saved_sched = first_opt.state_dict(), first.state_dict()
    second_opt = _optimizers(kind, lrs=(5.0, 5.0))[index]
    second_opt.load_state_dict(saved_opt)  # restores lr, initial_lr (and OneCycleLR's max_lr, ...)
    second = make(lib, second_opt)
    second.load_state_dict(saved_sched)
    for _ in range(total - stop):
        second_opt.step()
        second.step()
        lrs.append(list(second.get_last_lr()))
    return lrs, saved_sched


@pytest.mark.parametrize("name", ["lambda_per_group", "multistep", "linear_decay", "onecycle_cos", "sequential_three"])
def test_scheduler_state_dict_resumes_as_in_pytorch(name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected, torch_state = _resumed_schedule(torch, SCHEDULES[name])
        got, state = _resumed_schedule(tn, SCHEDULES[name])
    assert state["last_epoch"] == 9
    assert state.keys() == torch_state.keys() - {"_get_lr_called_within_step"}
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    if name != "sequential_three":  # (rebuilding a SequentialLR resets the lr, in PyTorch too)
        optimizer = _optimizers("sgd")[1]
        uninterrupted = SCHEDULES[name](tn, optimizer)
        straight = []
        for _ in range(20):
            optimizer.step()
            uninterrupted.step()
            straight.append(list(uninterrupted.get_last_lr()))
        np.testing.assert_allclose(got, straight, rtol=1e-12)


def test_step_with_an_epoch_warns_and_uses_the_closed_form():
    results = []
    for lib in (torch, tn):
        opt = lib.optim.SGD([lib.zeros(1, requires_grad=True)], lr=1.0)
        sched = lib.optim.lr_scheduler.MultiStepLR(opt, milestones=[2, 5], gamma=0.1)
        opt.step()
        with pytest.warns(UserWarning, match="deprecated"):
            sched.step(6)
        results.append(sched.get_last_lr())
    assert results[1] == pytest.approx(results[0]) == [0.01]


def test_stepping_the_schedule_before_the_optimizer_warns():
    opt = optim.SGD([tn.zeros(1, requires_grad=True)], lr=1.0)
    sched = lr_scheduler.ExponentialLR(opt, 0.5)
    with pytest.warns(UserWarning, match="before `optimizer.step\\(\\)`"):
        sched.step()


def test_schedule_errors_are_pytorchs():
    opt = optim.SGD([tn.zeros(1, requires_grad=True)], lr=1.0)
    with pytest.raises(KeyError, match="initial_lr"):
        lr_scheduler.StepLR(opt, 3, last_epoch=4)  # resuming needs the optimizer's saved initial_lr
    with pytest.raises(ValueError, match="total_steps"):
        lr_scheduler.OneCycleLR(opt, max_lr=1.0)
    sched = lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(3):
            sched.step()
        with pytest.raises(ValueError, match="total steps"):
            sched.step()
    with pytest.raises(ValueError, match="momentum"):
        lr_scheduler.OneCycleLR(optim.Adagrad([tn.zeros(1, requires_grad=True)]), max_lr=1.0, total_steps=5)
    with pytest.raises(ValueError, match="milestone"):
        lr_scheduler.SequentialLR(opt, [lr_scheduler.ExponentialLR(opt, 0.5)], milestones=[3])
    with pytest.raises(ValueError, match="ReduceLROnPlateau"):
        lr_scheduler.SequentialLR(opt, [lr_scheduler.ReduceLROnPlateau(opt)] * 2, milestones=[3])
    with pytest.raises(ValueError, match="start_factor"):
        lr_scheduler.LinearLR(opt, start_factor=0.0)
    with pytest.raises(ValueError, match="factor"):
        lr_scheduler.ReduceLROnPlateau(opt, factor=1.5)
    with pytest.raises(TypeError, match="Optimizer"):
        lr_scheduler.ExponentialLR(object(), 0.5)


def test_a_schedule_drives_training_as_in_pytorch():
    # A warm-up + cosine schedule over Adam on a tiny regression, in both libraries, from the same start.
    rng = np.random.default_rng(3)
    x, w0 = rng.normal(size=(16, 3)), rng.normal(size=(3,))
    y = x @ np.array([1.0, -2.0, 0.5])
    finals = []
    for lib in (torch, tn):
        w = lib.tensor(w0, dtype=lib.float64, requires_grad=True)
        opt = lib.optim.Adam([w], lr=0.1)
        sched = lib.optim.lr_scheduler.SequentialLR(
            opt,
            [lib.optim.lr_scheduler.LinearLR(opt, 0.2, total_iters=3),
             lib.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=12)],
            milestones=[3],
        )  # fmt: skip
        xs, ys = lib.tensor(x, dtype=lib.float64), lib.tensor(y, dtype=lib.float64)
        for _ in range(15):
            opt.zero_grad()
            loss = ((xs @ w - ys) ** 2).mean()
            loss.backward()
            opt.step()
            sched.step()
        finals.append(w.detach().numpy() if lib is torch else w.numpy())
    np.testing.assert_allclose(finals[1], finals[0], rtol=1e-10)
    assert math.isclose(float(np.abs(finals[1]).sum()), float(np.abs(finals[0]).sum()), rel_tol=1e-10)
