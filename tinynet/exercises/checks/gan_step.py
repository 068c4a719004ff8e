"""Checks of exercise `gan_step`: the learner's step runs on small networks whose optimizers are watched (each
step() records every gradient and parameter at that moment) and is compared with a reference step on identical
copies: D's gradients at D's step, no gradient reaching G from D's loss, G's gradients at G's step, the losses and
the parameters after; then a short run must bring G's samples close to a 1-D Gaussian.

The networks start with stale gradients (as after an earlier step), so a missing zero_grad shows.
"""

import numpy as np

import tinynet as tn
import tinynet.nn.functional as F
from tinynet import nn
from tinynet.exercises.grading import WrongAnswerError, expect_close, part
from tinynet.tensor import to_host

LATENT, FEATURES, BATCH = 3, 2, 16


def _grads(module) -> dict[str, np.ndarray]:
    return {n: np.zeros(p.shape) if p.grad is None else to_host(p.grad.array).copy() for n, p in
            module.named_parameters()}  # fmt: skip


def _params(module) -> dict[str, np.ndarray]:
    return {n: to_host(p.array).copy() for n, p in module.named_parameters()}


class _Watched:
    """An optimizer whose step() first records the gradients and parameters of both networks."""

    def __init__(self, optimizer, name: str, log: list, G, D) -> None:
        self._optimizer, self._name, self._log, self._G, self._D = optimizer, name, log, G, D

    def step(self, *args, **kwargs):
        self._log.append((self._name, _grads(self._G), _grads(self._D), _params(self._G)))
        return self._optimizer.step(*args, **kwargs)

    def zero_grad(self, *args, **kwargs):
        return self._optimizer.zero_grad(*args, **kwargs)

    def __getattr__(self, name: str):
        return getattr(self._optimizer, name)


def _setup(seed: int):
    """G, D, their Adam optimizers, real and z: float64, the same for the same seed; stale gradients in both."""
    tn.manual_seed(seed)
    G = nn.Sequential(nn.Linear(LATENT, 8), nn.Tanh(), nn.Linear(8, FEATURES)).double()
    D = nn.Sequential(nn.Linear(FEATURES, 8), nn.LeakyReLU(0.2), nn.Linear(8, 1)).double()
    rng = np.random.default_rng(seed)
    real = tn.tensor(rng.standard_normal((BATCH, FEATURES)) + 1.5)
    z = tn.tensor(rng.standard_normal((BATCH, LATENT)))
    ((G(z) ** 2).sum() * 0.1 + D(real).sum() * 0.3).backward()  # stale gradients, as an earlier step leaves
    opt_G = tn.optim.Adam(G.parameters(), lr=0.01, betas=(0.5, 0.999))
    opt_D = tn.optim.Adam(D.parameters(), lr=0.01, betas=(0.5, 0.999))
    return G, D, opt_G, opt_D, real, z


def _bce(logits, target: float):
    return F.binary_cross_entropy_with_logits(logits, tn.full(logits.shape, target, dtype=logits.dtype))


def _reference(seed: int, saturating: bool = False) -> dict:
    """The step as it should be, on fresh copies: the gradients at each step, the losses, the parameters after;
    and the gradient D's loss would send into G without the detach."""
    G, D, opt_G, opt_D, real, z = _setup(seed)
    G.zero_grad()
    _bce(D(G(z)), 0.0).backward()
    leak = _grads(G)
    fake = G(z)
    opt_D.zero_grad()
    G.zero_grad()
    d_loss = _bce(D(real), 1.0) + _bce(D(fake.detach()), 0.0)
    d_loss.backward()
    d_grads = _grads(D)
    opt_D.step()
    opt_G.zero_grad()
    logits = D(fake)
    g_loss = -F.logsigmoid(-logits).mean() * -1 if saturating else _bce(logits, 1.0)
    g_loss.backward()
    g_grads = _grads(G)
    opt_G.step()
    return {"d_grads": d_grads, "g_grads": g_grads, "d_loss": d_loss.item(), "g_loss": g_loss.item(), "leak": leak,
            "G": _params(G), "D": _params(D)}  # fmt: skip


def _learner_step(learner, seed: int):
    """The learner's step, watched: (the log of the optimizers' steps, its return value, G's and D's stale
    gradients before, G and D after)."""
    G, D, opt_G, opt_D, real, z = _setup(seed)
    stale_G, stale_D = _grads(G), _grads(D)
    log = []
    try:
        result = learner.gan_step(G, D, _Watched(opt_G, "G", log, G, D), _Watched(opt_D, "D", log, G, D), real, z)
    except Exception:
        # A backward through G's freed graph, say: if G already had gradients from D's loss, that is the cause.
        if log and log[0][0] == "D" and not _unchanged(log[0][1], stale_G):
            raise WrongAnswerError(
                "gan_step raised an error after D's loss sent gradients into G", DETACH_HINT
            ) from None
        raise
    steps = [entry[0] for entry in log]
    if steps != ["D", "G"]:
        raise WrongAnswerError(
            f"the optimizers' step() was called in the order {steps or 'never'}, expected opt_D.step() once, then "
            "opt_G.step() once",
            "one step of each: D's first (on real and detached fakes), then G's",
        )
    return log, result, stale_G, stale_D, G, D


DETACH_HINT = "detach the fakes in D's loss: D(fake.detach()); D's loss must not send gradients into G"


def _unchanged(grads: dict, stale: dict) -> bool:
    """Whether G's gradients are still the stale ones, or zero (zero_grad)."""
    return _close(grads, stale) or _close(grads, {k: np.zeros_like(v) for k, v in stale.items()})


def _close(a: dict, b: dict) -> bool:
    return all(np.allclose(a[k], b[k], rtol=1e-6, atol=1e-9) for k in a)


def _plus(a: dict, b: dict) -> dict:
    return {k: a[k] + b[k] for k in a}


@part("D's step: D's gradients from real and detached fakes; none reach G")
def d_step(learner) -> None:
    log, _, stale_G, stale_D, _, _ = _learner_step(learner, 0)
    reference = _reference(0)
    _, g_grads, d_grads, _ = log[0]
    if not _unchanged(g_grads, stale_G):
        raise WrongAnswerError("at opt_D.step(), G's parameters have gradients from D's loss", DETACH_HINT)
    for name, expected in reference["d_grads"].items():
        if not np.allclose(d_grads[name], expected, rtol=1e-6, atol=1e-9) and _close(
            d_grads, _plus(reference["d_grads"], stale_D)
        ):
            raise WrongAnswerError(
                f"at opt_D.step(), D's gradient of {name} still holds the gradient of an earlier step",
                "call opt_D.zero_grad() before d_loss.backward(): backward adds to .grad",
            )
        expect_close(
            f"D's gradient of {name} at opt_D.step()", d_grads[name], expected, rtol=1e-6, atol=1e-9,
            hint="d_loss = BCE(D(real), 1) + BCE(D(fake.detach()), 0), the mean over the batch of each",
        )  # fmt: skip


@part("G's step: G's gradients from the non-saturating loss; the losses; the parameters after")
def g_step(learner) -> None:
    log, result, stale_G, _, G, D = _learner_step(learner, 1)
    reference = _reference(1)
    g_grads = log[1][1]
    for name, expected in reference["g_grads"].items():
        if np.allclose(g_grads[name], expected, rtol=1e-6, atol=1e-9):
            continue
        if _close(g_grads, _plus(reference["g_grads"], stale_G)):
            hint = "call opt_G.zero_grad() before g_loss.backward(): backward adds to .grad"
        elif _close(g_grads, _reference(1, saturating=True)["g_grads"]):
            hint = (
                "that is the saturating loss log(1 - D(G(z))): minimise the non-saturating -log D(G(z)) = "
                "BCE(D(fake), 1) instead"
            )
        elif _close(g_grads, _plus(reference["g_grads"], reference["leak"])):
            hint = "G's gradients include D's loss: detach the fakes in D's loss (D(fake.detach()))"
        else:
            hint = "g_loss = BCE(D(fake), 1) with D after its step, the mean over the batch"
        expect_close(f"G's gradient of {name} at opt_G.step()", g_grads[name], expected, rtol=1e-6, atol=1e-9,
                     hint=hint)  # fmt: skip
    if not isinstance(result, tuple) or len(result) != 2:
        raise WrongAnswerError(f"gan_step returned {result!r}", "return d_loss.item(), g_loss.item()")
    expect_close("the d_loss returned", result[0], reference["d_loss"], hint="return d_loss.item(), g_loss.item()")
    expect_close("the g_loss returned", result[1], reference["g_loss"], hint="return d_loss.item(), g_loss.item()")
    for which, module in (("G", G), ("D", D)):
        for name, value in _params(module).items():
            expect_close(f"{which}'s {name} after the step", value, reference[which][name], rtol=1e-6, atol=1e-9)


TARGET_MEAN, TARGET_STD, STEPS, CLOSENESS = 3.0, 0.5, 300, 0.5


# Only the mean is held to a bound: in a run this short, a GAN's spread is not reliably learnt even by a correct
# step (G often collapses to a narrow band first), so a bound on it would fail correct solutions.
@part(f"a short run ({STEPS} steps): the mean of G's samples within {CLOSENESS} of N({TARGET_MEAN}, {TARGET_STD}^2)'s")
def training(learner) -> None:
    tn.manual_seed(0)
    G = nn.Linear(1, 1)
    D = nn.Sequential(nn.Linear(1, 16), nn.LeakyReLU(0.2), nn.Linear(16, 1))
    opt_G = tn.optim.Adam(G.parameters(), lr=0.02, betas=(0.5, 0.999))
    opt_D = tn.optim.Adam(D.parameters(), lr=0.02, betas=(0.5, 0.999))
    for _ in range(STEPS):
        real = tn.randn(64, 1) * TARGET_STD + TARGET_MEAN
        learner.gan_step(G, D, opt_G, opt_D, real, tn.randn(64, 1))
    with tn.no_grad():
        mean = float(G(tn.randn(2000, 1)).numpy().mean())
    if not abs(mean - TARGET_MEAN) <= CLOSENESS:
        raise WrongAnswerError(
            f"after {STEPS} steps of training G(z) = w z + b, G's samples have mean {mean:.3g}; expected "
            f"within {CLOSENESS} of the target's {TARGET_MEAN}",
            "if the parts above pass, check that gan_step does one step of each optimizer per call, G's on "
            "BCE(D(fake), 1)",
        )
