"""Issue 14, class 6: bad optimizer and scheduler settings are refused when they are built, as PyTorch refuses
them (and with its exception type: a TinynetError that is also ValueError or TypeError), and settings PyTorch
takes are taken. The one rule of tinynet's own: NaN is refused everywhere (PyTorch's SGD and its schedules let a
NaN through, to NaN weights or learning rates at the first step); each such case checks that PyTorch takes it.
"""

import math

import pytest
import torch

import tinynet
from tinynet.errors import NotImplementedOpError, TinynetError

nan, inf = math.nan, math.inf


def _sgd(lib, w):
    return lib.optim.SGD([w], lr=0.1, momentum=0.9)


def _outcome(lib, make):
    """The exception ``make(lib, w)`` raises, or None."""
    w = lib.zeros(2, requires_grad=True)
    try:
        make(lib, w)
    except Exception as err:  # any exception is the outcome
        return err
    return None


def _optimizer(name, **settings):
    return lambda lib, w: getattr(lib.optim, name)([w], **settings)


def _scheduler(name, *args, **settings):
    return lambda lib, w: getattr(lib.optim.lr_scheduler, name)(_sgd(lib, w), *args, **settings)


OPTIMIZER_CASES = {
    "SGD lr -1": _optimizer("SGD", lr=-1), "SGD lr inf": _optimizer("SGD", lr=inf), "SGD lr 0": _optimizer("SGD", lr=0),
    "SGD momentum -1": _optimizer("SGD", lr=0.1, momentum=-1), "SGD momentum inf": _optimizer("SGD", momentum=inf),
    "SGD dampening -1": _optimizer("SGD", dampening=-1), "SGD dampening 2": _optimizer("SGD", dampening=2),
    "SGD weight_decay -1": _optimizer("SGD", weight_decay=-1),
    "SGD weight_decay inf": _optimizer("SGD", weight_decay=inf),
    "SGD nesterov, no momentum": _optimizer("SGD", lr=0.1, nesterov=True),
    "SGD nesterov, dampening": _optimizer("SGD", lr=0.1, momentum=0.9, dampening=0.1, nesterov=True),
    "SGD lr str": _optimizer("SGD", lr="0.1"), "SGD lr None": _optimizer("SGD", lr=None),
    "Adam lr nan": _optimizer("Adam", lr=nan), "Adam lr inf": _optimizer("Adam", lr=inf),
    "Adam eps nan": _optimizer("Adam", eps=nan), "Adam eps -1": _optimizer("Adam", eps=-1),
    "Adam eps inf": _optimizer("Adam", eps=inf), "Adam weight_decay nan": _optimizer("Adam", weight_decay=nan),
    "Adam beta1 1": _optimizer("Adam", betas=(1.0, 0.9)), "Adam beta2 1": _optimizer("Adam", betas=(0.9, 1.0)),
    "Adam beta1 -0.1": _optimizer("Adam", betas=(-0.1, 0.9)), "Adam beta2 nan": _optimizer("Adam", betas=(0.9, nan)),
    "Adam beta1 inf": _optimizer("Adam", betas=(inf, 0.9)), "Adam one beta": _optimizer("Adam", betas=(0.9,)),
    "AdamW weight_decay -1": _optimizer("AdamW", weight_decay=-1), "AdamW beta1 1": _optimizer("AdamW", betas=(1, 0.9)),
    "RMSprop alpha -1": _optimizer("RMSprop", alpha=-1), "RMSprop alpha nan": _optimizer("RMSprop", alpha=nan),
    "RMSprop alpha 1.5": _optimizer("RMSprop", alpha=1.5), "RMSprop alpha inf": _optimizer("RMSprop", alpha=inf),
    "RMSprop momentum -1": _optimizer("RMSprop", momentum=-1), "RMSprop eps nan": _optimizer("RMSprop", eps=nan),
    "Adagrad lr_decay -1": _optimizer("Adagrad", lr_decay=-1),
    "Adagrad lr_decay nan": _optimizer("Adagrad", lr_decay=nan),
    "Adagrad lr_decay inf": _optimizer("Adagrad", lr_decay=inf),
    "Adagrad initial -1": _optimizer("Adagrad", initial_accumulator_value=-1),
    "Adagrad initial nan": _optimizer("Adagrad", initial_accumulator_value=nan),
    "Adagrad eps -1": _optimizer("Adagrad", eps=-1),
    "Adadelta rho -0.1": _optimizer("Adadelta", rho=-0.1), "Adadelta rho 1": _optimizer("Adadelta", rho=1.0),
    "Adadelta rho 1.5": _optimizer("Adadelta", rho=1.5), "Adadelta rho nan": _optimizer("Adadelta", rho=nan),
    "Adadelta rho inf": _optimizer("Adadelta", rho=inf), "Adadelta lr -1": _optimizer("Adadelta", lr=-1),
}  # fmt: skip

SCHEDULER_CASES = {
    "StepLR gamma 2": _scheduler("StepLR", 2, gamma=2.0), "StepLR gamma -1": _scheduler("StepLR", 2, gamma=-1.0),
    "StepLR step_size 1.5": _scheduler("StepLR", 1.5),
    "MultiStepLR unsorted": _scheduler("MultiStepLR", [3, 1]), "MultiStepLR int": _scheduler("MultiStepLR", 5),
    "ExponentialLR gamma inf": _scheduler("ExponentialLR", gamma=inf),
    "LinearLR start 0": _scheduler("LinearLR", start_factor=0),
    "LinearLR start 1.5": _scheduler("LinearLR", start_factor=1.5),
    "LinearLR end 1.5": _scheduler("LinearLR", end_factor=1.5),
    "LinearLR end -0.1": _scheduler("LinearLR", end_factor=-0.1),
    "LinearLR total_iters 0": _scheduler("LinearLR", total_iters=0),
    "Cosine T_max 2.5": _scheduler("CosineAnnealingLR", T_max=2.5),
    "Cosine eta_min -1": _scheduler("CosineAnnealingLR", T_max=3, eta_min=-1.0),
    "OneCycle total_steps 0": _scheduler("OneCycleLR", 1.0, total_steps=0),
    "OneCycle total_steps 2.0": _scheduler("OneCycleLR", 1.0, total_steps=2.0),
    "OneCycle no total": _scheduler("OneCycleLR", 1.0), "OneCycle epochs only": _scheduler("OneCycleLR", 1.0, epochs=3),
    "OneCycle epochs 0": _scheduler("OneCycleLR", 1.0, epochs=0, steps_per_epoch=3),
    "OneCycle steps_per_epoch -1": _scheduler("OneCycleLR", 1.0, epochs=2, steps_per_epoch=-1),
    "OneCycle pct 1.5": _scheduler("OneCycleLR", 1.0, total_steps=10, pct_start=1.5),
    "OneCycle pct int": _scheduler("OneCycleLR", 1.0, total_steps=10, pct_start=0),
    "OneCycle anneal": _scheduler("OneCycleLR", 1.0, total_steps=10, anneal_strategy="exp"),
    "OneCycle max_lr count": _scheduler("OneCycleLR", [1.0, 2.0], total_steps=10),
    "OneCycle div 0": _scheduler("OneCycleLR", 1.0, total_steps=10, div_factor=0),
    "OneCycle no momentum": lambda lib, w: lib.optim.lr_scheduler.OneCycleLR(
        lib.optim.Adagrad([w]), 1.0, total_steps=4),
    "Plateau factor 1": _scheduler("ReduceLROnPlateau", factor=1.0),
    "Plateau factor -1": _scheduler("ReduceLROnPlateau", factor=-1.0),
    "Plateau mode": _scheduler("ReduceLROnPlateau", mode="mean"),
    "Plateau threshold_mode": _scheduler("ReduceLROnPlateau", threshold_mode="relative"),
    "Plateau min_lr count": _scheduler("ReduceLROnPlateau", min_lr=[0.0, 0.0]),
    "Plateau patience -1": _scheduler("ReduceLROnPlateau", patience=-1),
    "Plateau not an optimizer": lambda lib, w: lib.optim.lr_scheduler.ReduceLROnPlateau(None),
    "LambdaLR count": _scheduler("LambdaLR", [lambda e: 1.0, lambda e: 1.0]),
    "LambdaLR not callable": _scheduler("LambdaLR", 5), "LambdaLR list not callable": _scheduler("LambdaLR", [5]),
    "StepLR not an optimizer": lambda lib, w: lib.optim.lr_scheduler.StepLR(None, 2),
    "SequentialLR empty": lambda lib, w: lib.optim.lr_scheduler.SequentialLR(_sgd(lib, w), [], []),
    "SequentialLR milestones": lambda lib, w: (lambda o: lib.optim.lr_scheduler.SequentialLR(
        o, [lib.optim.lr_scheduler.StepLR(o, 2)], [3]))(_sgd(lib, w)),
}  # fmt: skip


@pytest.mark.parametrize("make", [*OPTIMIZER_CASES.values(), *SCHEDULER_CASES.values()],
                         ids=[*OPTIMIZER_CASES, *SCHEDULER_CASES])  # fmt: skip
def test_settings_are_refused_where_pytorch_refuses_them_and_taken_where_it_takes_them(make):
    theirs, ours = _outcome(torch, make), _outcome(tinynet, make)
    if theirs is None:
        assert ours is None, f"PyTorch takes this, tinynet refused it: {ours!r}"
        return
    assert ours is not None, f"PyTorch refuses this ({theirs!r}), tinynet took it"
    kind = next(k for k in (ValueError, TypeError, IndexError, KeyError, ZeroDivisionError) if isinstance(theirs, k))
    assert isinstance(ours, kind), f"PyTorch raises {type(theirs).__name__}, tinynet {type(ours).__name__}: {ours}"
    if kind in (ValueError, IndexError):  # tinynet's own checks (its TypeErrors include Python's own)
        assert isinstance(ours, TinynetError), repr(ours)


# Where tinynet is stricter than PyTorch: NaN anywhere; a StepLR/CosineAnnealingLR period of 0 (PyTorch fails at
# the first step, modulo by zero) or below (a meaningless schedule); a Tensor lr (PyTorch's, not tinynet's yet).
STRICTER = {
    "SGD lr nan": _optimizer("SGD", lr=nan), "SGD momentum nan": _optimizer("SGD", lr=0.1, momentum=nan),
    "SGD weight_decay nan": _optimizer("SGD", weight_decay=nan),
    "StepLR gamma nan": _scheduler("StepLR", 2, gamma=nan), "StepLR step_size 0": _scheduler("StepLR", 0),
    "StepLR step_size -1": _scheduler("StepLR", -1), "StepLR step_size nan": _scheduler("StepLR", nan),
    "MultiStepLR gamma nan": _scheduler("MultiStepLR", [1], gamma=nan),
    "ExponentialLR gamma nan": _scheduler("ExponentialLR", gamma=nan),
    "LinearLR start nan": _scheduler("LinearLR", start_factor=nan),
    "LinearLR end nan": _scheduler("LinearLR", end_factor=nan),
    "Cosine T_max 0": _scheduler("CosineAnnealingLR", T_max=0),
    "Cosine T_max -1": _scheduler("CosineAnnealingLR", T_max=-1),
    "Cosine eta_min nan": _scheduler("CosineAnnealingLR", T_max=3, eta_min=nan),
    "OneCycle max_lr nan": _scheduler("OneCycleLR", nan, total_steps=10),
    "OneCycle pct nan": _scheduler("OneCycleLR", 1.0, total_steps=10, pct_start=nan),
    "OneCycle div nan": _scheduler("OneCycleLR", 1.0, total_steps=10, div_factor=nan),
    "OneCycle base_momentum nan": _scheduler("OneCycleLR", 1.0, total_steps=10, base_momentum=nan),
    "Plateau factor nan": _scheduler("ReduceLROnPlateau", factor=nan),
    "Plateau threshold nan": _scheduler("ReduceLROnPlateau", threshold=nan),
    "Plateau min_lr nan": _scheduler("ReduceLROnPlateau", min_lr=[nan]),
    "Plateau eps nan": _scheduler("ReduceLROnPlateau", eps=nan),
}  # fmt: skip


@pytest.mark.parametrize("make", STRICTER.values(), ids=STRICTER)
def test_nan_and_empty_periods_are_refused_where_pytorch_would_run_with_them(make):
    assert _outcome(torch, make) is None  # PyTorch builds it (the reason this case is listed here)
    ours = _outcome(tinynet, make)
    assert isinstance(ours, TinynetError) and isinstance(ours, ValueError), repr(ours)


def test_a_tensor_lr_is_refused_with_a_message_saying_tinynet_lacks_it():
    assert _outcome(torch, lambda lib, w: lib.optim.Adam([w], lr=lib.tensor(0.01))) is None
    with pytest.raises(TypeError, match=r"Tensor lr is not supported by tinynet yet.*lr\.item\(\)"):
        tinynet.optim.Adam([tinynet.zeros(2, requires_grad=True)], lr=tinynet.tensor(0.01))


def test_a_refused_setting_names_the_class_and_the_setting():
    with pytest.raises(ValueError, match=r"^StepLR: invalid gamma value: nan"):
        _scheduler("StepLR", 2, gamma=nan)(tinynet, tinynet.zeros(2, requires_grad=True))
    with pytest.raises(TypeError, match=r"^ExponentialLR: gamma must be a number, got str"):
        _scheduler("ExponentialLR", gamma="0.9")(tinynet, tinynet.zeros(2, requires_grad=True))


@pytest.mark.parametrize("name", ["CyclicLR", "CosineAnnealingWarmRestarts", "PolynomialLR", "ConstantLR"])
def test_pytorch_schedules_tinynet_lacks_say_so(name):
    assert hasattr(torch.optim.lr_scheduler, name)
    with pytest.raises(NotImplementedOpError, match=f"torch.optim.lr_scheduler.{name} is not implemented in tinynet"):
        getattr(tinynet.optim.lr_scheduler, name)
    with pytest.raises(AttributeError, match="no attribute 'StepLr'"):  # a typo stays an AttributeError
        tinynet.optim.lr_scheduler.StepLr  # noqa: B018
