"""Timing: first call, warm-up, then interleaved repeats, their medians and spread, and the machine's peak.

Why interleaved: on a shared machine the speed drifts from second to second (other processes, clock
boost, thermal limits). Timing all of numpy's repeats and then all of PyTorch's would fold that drift
into their ratio; instead every repeat times each runner once, one after the other, and a ratio is
taken per repeat between runners measured moments apart. The median over repeats is reported, with
the 25th-75th percentile range as its spread.

The loop (``measure``) only talks to ``Runner`` objects: a ``LocalRunner`` runs its framework in this
process (the tinynet backends), a ``RemoteRunner`` (worker.py) forwards the same calls to a worker
process that runs a ``LocalRunner`` of its own (PyTorch, whose OpenMP runtime must not share this
process with Numba's: see worker.py). Either way the clock runs where the step runs.
"""

from __future__ import annotations

import gc
import math
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from frameworks import Framework
from workloads import Workload

from kernels import numpy_ref


def _nothing() -> None:
    pass


class RunnerError(Exception):
    """A failure already described in full (by a worker: its own exception, or how it died)."""


class Runner(ABC):
    """Something a workload runs on: a tinynet backend, or PyTorch on a device.

    ``measure`` and ``calibrate`` call only these methods, so they need not know where a runner's
    framework lives (this process or a worker).
    """

    name: str
    device: str  # "cpu" or "gpu": whose peak the runner is held to

    @abstractmethod
    def prepare(self, workload: Workload) -> None:
        """Build ``workload``'s step (inputs, model, optimizer): what ``time`` then calls."""

    @abstractmethod
    def time(self, calls: int, collect: bool = False) -> float:
        """Seconds per call of the prepared step over ``calls`` calls, device work included.

        ``collect``: collect garbage first, so that the step pays only for the garbage it makes itself.
        """

    def kernels(self) -> dict[str, list[str]] | None:
        """tinynet runners: which kernels the prepared step uses (see trace_kernels); others: None."""
        return None

    @abstractmethod
    def peak(self, n: int) -> float:
        """GFLOP/s of a float32 (n, n) matmul on this runner's framework (see matmul_peak)."""

    @abstractmethod
    def copy(self, nbytes: float) -> float:
        """GB/s of this runner's framework copying ``nbytes`` (see copy_bandwidth)."""

    @abstractmethod
    def close(self) -> None:
        """Release what the runner holds (a worker process): called once the runner is no longer needed."""


@dataclass
class LocalRunner(Runner):
    """A framework in this process: a tinynet backend, or (inside a worker) PyTorch.

    ``activate`` is called before each timed batch (it selects the tinynet backend); ``sync`` waits for
    queued GPU work, so that the clock stops when the work is done rather than when it was queued.
    """

    name: str
    framework: Framework
    activate: Callable[[], None] = _nothing
    sync: Callable[[], None] = _nothing
    backend: object | None = None  # tinynet runners: the Backend, whose kernels we trace
    device: str = "cpu"
    step: Callable[[], object] | None = field(default=None, repr=False)  # set by prepare

    def prepare(self, workload: Workload) -> None:
        self.step = None  # the previous workload's step (and its arrays) can go before the next is built
        self.activate()
        self.step = workload.setup(self.framework)

    def time(self, calls: int, collect: bool = False) -> float:
        if self.step is None:
            raise RuntimeError(f"{self.name}: no workload prepared")
        self.activate()
        if collect:
            gc.collect()
        return _timed(self.step, calls, self.sync)

    def kernels(self) -> dict[str, list[str]] | None:
        if self.backend is None or self.step is None:
            return None
        self.activate()
        return trace_kernels(self.backend, self.step)

    def peak(self, n: int) -> float:
        self.activate()
        return matmul_peak(n, self.framework, self.sync)

    def copy(self, nbytes: float) -> float:
        self.activate()
        return copy_bandwidth(self.framework, nbytes, self.sync)

    def close(self) -> None:
        self.step = None  # nothing else to release: the framework lives in this process


@dataclass(frozen=True)
class Settings:
    repeat: int  # timed repeats per runner
    min_repeat_s: float  # a repeat calls the step until it has taken at least this long ...
    max_calls: int  # ... but at most this many times
    warmup_calls: int  # calls after the first one, before the repeats (at least 1)
    # A pause before each runner's repeat, untimed: the previous runner's idle threads stop spinning first
    # (a PyTorch GRU timed while OpenBLAS's threads spun took 68 ms, not 32). See settle.
    settle_s: float = 0.0


@dataclass
class Measurement:
    """One runner on one workload: ``per_call_s`` holds one time per repeat (each the mean of ``calls`` calls)."""

    status: str = "ok"  # "ok", or why there is no timing ("error: ...")
    first_call_s: float | None = None
    calls: int = 0
    per_call_s: list[float] = field(default_factory=list)
    kernels: dict[str, list[str]] | None = None  # tinynet only: see trace_kernels


def settle(seconds: float, most_s: float = 1.0) -> None:
    """Sleep ``seconds``, then on until this process's idle threads have stopped spinning (``most_s`` at most).

    NumPy's OpenBLAS threads spin for 2**28 clock cycles after each call (128 ms at 2.1 GHz), longer than
    a fixed pause of 0.1 s: whichever runner followed the numpy runner shared its cores with them (the
    LSTM LM step, numba 12.8 ms after it against 7.9 ms after PyTorch, and PyTorch's own step in its
    worker 12.1 against 7.9), and numba followed it in two repeats of three, PyTorch in one.
    """
    if seconds <= 0:
        return
    time.sleep(seconds)
    deadline = time.perf_counter() + most_s
    while time.perf_counter() < deadline:
        busy = time.process_time()
        time.sleep(0.01)
        if time.process_time() - busy < 0.001:  # less than 10 % of one core: nothing spins
            return


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


def error_status(err: Exception) -> str:
    """The status of a runner that failed: the exception's type and message (a RunnerError's is complete)."""
    return f"error: {err}" if isinstance(err, RunnerError) else f"error: {type(err).__name__}: {err}"


def _get_ready(runner: Runner, workload: Workload, settings: Settings, result: Measurement) -> None:
    """Prepare ``workload`` on ``runner``, time its first call, trace its kernels, and choose ``result.calls``."""
    runner.prepare(workload)
    # The first call pays for JIT compilation or loading it from the cache (numba), allocator
    # growth and lazy initialisation: reported on its own, never mixed into the repeats.
    result.first_call_s = runner.time(1)
    result.kernels = runner.kernels()
    # Warm-up calls also tell how many calls make a repeat last min_repeat_s.
    warm = min(runner.time(1) for _ in range(max(1, settings.warmup_calls)))
    result.calls = max(1, min(settings.max_calls, math.ceil(settings.min_repeat_s / max(warm, 1e-9))))


def _same_calls(runners: list[Runner], results: dict[str, Measurement]) -> None:
    """Give the runners on each device one number of calls per repeat: the most any of them needs.

    The first call after the pause pays for waking the runner's threads (the LSTM LM step: +2.8 ms on numba,
    +3.2 ms on PyTorch, against 7.2 and 8.0 ms), and it weighs 1 / calls in a repeat's mean: in one run numba
    timed that step in repeats of 2 calls and PyTorch in repeats of 3 (their warm-up calls fell either side
    of 10 ms), so numba paid the wake-up once every 2 steps and PyTorch once every 3.
    """
    for device in {runner.device for runner in runners}:
        group = [results[runner.name] for runner in runners if runner.device == device]
        calls = max(result.calls for result in group)
        for result in group:
            result.calls = calls


def measure(workload: Workload, runners: list[Runner], settings: Settings) -> dict[str, Measurement]:
    """Time ``workload`` on every runner: first call, warm-up, then ``settings.repeat`` interleaved repeats.

    A runner that fails (its step raises, its worker dies or stops answering) gets an error status and
    leaves the repeats; the others carry on.
    """
    results = {runner.name: Measurement() for runner in runners}
    ready: list[Runner] = []
    for runner in runners:
        try:
            _get_ready(runner, workload, settings, results[runner.name])
        except Exception as err:  # reported in the table and results.json, and run.py exits non-zero
            results[runner.name].status = error_status(err)
            continue
        ready.append(runner)
    _same_calls(ready, results)

    # Collecting garbage is the clock's business only for garbage the step itself makes: the objects
    # that exist now are frozen, out of the collector's sight, and what one runner leaves behind is
    # collected before the next one's clock starts (a worker does the same in its own process).
    gc.collect()
    gc.freeze()
    try:
        for index in range(settings.repeat):
            # Rotate who goes first, so that no runner always follows the same neighbour.
            shift = index % max(1, len(ready))
            for runner in ready[shift:] + ready[:shift]:
                result = results[runner.name]
                settle(settings.settle_s)
                try:
                    result.per_call_s.append(runner.time(result.calls, collect=True))
                except Exception as err:
                    result.status = error_status(err)
                    ready.remove(runner)
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
        xp = numpy_ref.array_module(source.array)
        copy = lambda: xp.copyto(target.array, source.array)  # noqa: E731 (one thread on the CPU)
    return 8 * source.numel() / best_of(copy, 5, sync) / 1e9
