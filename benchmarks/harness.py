"""Timing: first call, warm-up, then interleaved repeats, their medians and spread, and the machine's peak.

Why interleaved: on a shared machine the speed drifts from second to second (other processes, clock
boost, thermal limits). Timing all of numpy's repeats and then all of PyTorch's would fold that drift
into their ratio; instead every repeat times each runner once, one after the other, and a ratio is
taken per repeat between runners measured moments apart. The median over repeats is reported, with
the 25th-75th percentile range as its spread.
"""

from __future__ import annotations

import gc
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from frameworks import Framework
from workloads import Workload

from kernels import numpy_ref


def _nothing() -> None:
    pass


@dataclass
class Runner:
    """Something a workload runs on: a tinynet backend, or PyTorch on a device.

    ``activate`` is called before each timed batch (it selects the tinynet backend); ``sync`` waits for
    queued GPU work, so that the clock stops when the work is done rather than when it was queued.
    """

    name: str
    framework: Framework
    activate: Callable[[], None] = _nothing
    sync: Callable[[], None] = _nothing
    backend: object | None = None  # tinynet runners: the Backend, whose kernels we trace
    device: str = "cpu"  # "cpu" or "gpu": whose peak the runner is held to


@dataclass(frozen=True)
class Settings:
    repeat: int  # timed repeats per runner
    min_repeat_s: float  # a repeat calls the step until it has taken at least this long ...
    max_calls: int  # ... but at most this many times
    warmup_calls: int  # calls after the first one, before the repeats (at least 1)


@dataclass
class Measurement:
    """One runner on one workload: ``per_call_s`` holds one time per repeat (each the mean of ``calls`` calls)."""

    status: str = "ok"  # "ok", or why there is no timing ("error: ...")
    first_call_s: float | None = None
    calls: int = 0
    per_call_s: list[float] = field(default_factory=list)
    kernels: dict[str, list[str]] | None = None  # tinynet only: see trace_kernels


def _timed(step: Callable[[], object], calls: int, sync: Callable[[], None]) -> float:
    """Seconds per call of ``step`` over ``calls`` calls, device work included."""
    sync()
    start = time.perf_counter()
    for _ in range(calls):
        step()
    sync()
    return (time.perf_counter() - start) / calls


def trace_kernels(backend, step: Callable[[], object]) -> dict[str, list[str]]:
    """Call ``step`` once, noting which kernels of ``backend`` it uses, and of those, which are the
    backend's own (overridden) and which the reference's (fallback; both empty for the reference)."""
    used: set[str] = set()

    def recording(name: str, kernel: Callable) -> Callable:
        def call(*args, **kwargs):
            used.add(name)
            return kernel(*args, **kwargs)

        return call

    originals = {name: getattr(backend, name) for name in numpy_ref.KERNELS}
    try:
        for name, kernel in originals.items():
            setattr(backend, name, recording(name, kernel))
        step()
    finally:
        for name, kernel in originals.items():
            setattr(backend, name, kernel)
    return {
        "used": sorted(used),
        "overridden": sorted(used & set(backend.overrides)),
        "fallback": sorted(used & set(backend.fallbacks)),
    }


def measure(workload: Workload, runners: list[Runner], settings: Settings) -> dict[str, Measurement]:
    """Time ``workload`` on every runner: first call, warm-up, then ``settings.repeat`` interleaved repeats."""
    results: dict[str, Measurement] = {}
    ready: list[tuple[Runner, Callable[[], object]]] = []
    for runner in runners:
        result = results[runner.name] = Measurement()
        try:
            runner.activate()
            step = workload.setup(runner.framework)
            # The first call pays for JIT compilation or loading it from the cache (numba), allocator
            # growth and lazy initialisation: reported on its own, never mixed into the repeats.
            result.first_call_s = _timed(step, 1, runner.sync)
            if runner.backend is not None:
                result.kernels = trace_kernels(runner.backend, step)
            # Warm-up calls also tell how many calls make a repeat last min_repeat_s.
            warm = min(_timed(step, 1, runner.sync) for _ in range(max(1, settings.warmup_calls)))
            result.calls = max(1, min(settings.max_calls, math.ceil(settings.min_repeat_s / max(warm, 1e-9))))
        except Exception as err:  # reported in the table and results.json, and run.py exits non-zero
            result.status = f"error: {type(err).__name__}: {err}"
            continue
        ready.append((runner, step))

    # Collecting garbage is the clock's business only for garbage the step itself makes: the objects
    # that exist now (PyTorch alone brings millions) are frozen, out of the collector's sight, and
    # what one runner leaves behind is collected before the next one's clock starts.
    gc.collect()
    gc.freeze()
    try:
        for index in range(settings.repeat):
            # Rotate who goes first, so that no runner always follows the same neighbour.
            shift = index % max(1, len(ready))
            for runner, step in ready[shift:] + ready[:shift]:
                runner.activate()
                gc.collect()
                results[runner.name].per_call_s.append(_timed(step, results[runner.name].calls, runner.sync))
    finally:
        gc.unfreeze()
    return results


def spread(values: list[float]) -> dict[str, float]:
    """Median, 25th and 75th percentiles, and minimum of ``values``."""
    p25, median, p75 = np.percentile(values, [25, 50, 75])
    return {"median": float(median), "p25": float(p25), "p75": float(p75), "min": float(min(values))}


def paired_ratios(numerator: list[float], denominator: list[float]) -> dict[str, float]:
    """Spread of the per-repeat ratios numerator[i] / denominator[i] (runs measured moments apart)."""
    return spread([a / b for a, b in zip(numerator, denominator, strict=True)])


def best_of(function: Callable[[], object], times: int, sync: Callable[[], None] = _nothing) -> float:
    """The fastest of ``times`` timed calls, after one untimed call."""
    function()
    return min(_timed(function, 1, sync) for _ in range(times))


def matmul_peak(n: int, framework: Framework, sync: Callable[[], None] = _nothing) -> float:
    """GFLOP/s of a float32 (n, n) @ (n, n) on ``framework`` (its BLAS; tinynet's: the active backend's), best of 3."""
    rng = np.random.default_rng(0)
    a, b = (framework.tensor(rng.standard_normal((n, n), dtype=np.float32)) for _ in range(2))
    return 2 * n**3 / best_of(lambda: framework.lib.matmul(a, b), 3, sync) / 1e9


def copy_bandwidth(framework: Framework, nbytes: float, sync: Callable[[], None] = _nothing) -> float:
    """GB/s of ``framework`` copying a float32 array into another, ``nbytes`` moved (half read, half written).

    A step that must move that many bytes can at best run as fast as this copy: the size matters,
    since a copy that fits in a cache runs several times faster than one from main memory.
    """
    source, target = (framework.tensor(np.ones(int(nbytes) // 8, dtype=np.float32)) for _ in range(2))
    if framework.name == "torch":
        copy = lambda: target.copy_(source)  # noqa: E731 (PyTorch copies with its threads)
    else:
        xp = numpy_ref.array_module(source.data)
        copy = lambda: xp.copyto(target.data, source.data)  # noqa: E731 (one thread on the CPU)
    return 8 * source.numel() / best_of(copy, 5, sync) / 1e9
