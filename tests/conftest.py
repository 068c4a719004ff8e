"""Shared fixtures: a fixed seed per test, and the ``backend_name`` fixture that runs a test on
every backend usable here (a backend that is not usable is skipped with the reason it gives)."""

import pytest
from hypothesis import HealthCheck, settings

import tinynet as tn
from tinynet import backend

settings.register_profile(
    "tinynet", max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)
settings.load_profile("tinynet")


def _backend_param(name: str):
    usable, reason = backend.status(name)
    return pytest.param(name, id=name, marks=pytest.mark.skipif(not usable, reason=reason))


ALL_BACKENDS = [_backend_param(name) for name in backend.MODULES]


@pytest.fixture(params=ALL_BACKENDS)
def backend_name(request, monkeypatch):
    """Runs the test once per backend, with that backend active. numba's convolutions run at every size here:
    outside tests it sends tiny ones to the reference (conv.TINY_MACS), which these tests compare it with."""
    with tn.use_backend(request.param):
        if request.param == "numba":
            from kernels.numba_cpu import conv

            monkeypatch.setattr(conv, "TINY_MACS", 0)
        yield request.param


@pytest.fixture(autouse=True)
def _fresh_state():
    tn.manual_seed(0)
    previous = backend.get_backend()
    yield
    backend.set_backend(previous)


def pytest_collection_modifyitems(config, items):
    """Full-length runs (marked slow) run only when asked for: ``pytest -m slow``."""
    if "slow" in (config.getoption("markexpr") or ""):
        return
    skip = pytest.mark.skip(reason="a full-length run: select it with pytest -m slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
