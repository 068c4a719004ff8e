"""Benchmark tinynet's backends against each other and against PyTorch, on this machine.

    python benchmarks/run.py --quick          (or: tinynet bench --quick)

Runs every workload (workloads.py) on each usable tinynet backend and on PyTorch when it is installed,
interleaved (harness.py), prints the tables, and writes results.json, results.md and ratios.png to
--out (report.py). See benchmarks/README.md for how to read the figures.

The tinynet backends run in this process; PyTorch runs in worker processes of its own (worker.py), so
that its OpenMP runtime and Numba's do not share a process: this one never imports torch.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # for the type hints only: this file imports its modules where it uses them
    from harness import Runner
    from worker import RemoteRunner
    from workloads import Workload

BACKENDS = ("numpy", "numba", "cupy", "torch")
README = Path(__file__).resolve().parent / "README.md"
# The environment PyTorch's workers get: this process's as it started, before the numba backend loads
# and sets the spin (GOMP_SPINCOUNT) of its own threads (kernels/numba_cpu/common.py), which PyTorch's
# would inherit: each framework runs with its own runtime's settings (PASSIVE took its GRU step from 17 to 47 ms).
WORKER_ENV = dict(os.environ)

# Repeats and calls per mode; "tiny" is for the test, which checks the output rather than the speed.
MODES = {
    "full": dict(repeat=15, min_repeat_s=0.02, max_calls=1000, warmup_calls=3, matmul_n=2048, settle_s=0.1),
    "quick": dict(repeat=5, min_repeat_s=0.01, max_calls=50, warmup_calls=2, matmul_n=2048, settle_s=0.1),
    "tiny": dict(repeat=2, min_repeat_s=0.0, max_calls=1, warmup_calls=1, matmul_n=128, settle_s=0.0),
}


def parse(argv: list[str] | None) -> argparse.Namespace:
    from workloads import all_workloads

    names = [w.name for w in all_workloads("tiny")]
    parser = argparse.ArgumentParser(
        prog="tinynet bench",
        description="Time tinynet's backends and PyTorch on the same workloads, on this machine.",
        epilog=(
            "examples:\n"
            "  tinynet bench --quick                       a run of under a minute\n"
            "  tinynet bench                               the full run (a few minutes)\n"
            "  tinynet bench --only matmul,conv2d --repeat 31\n"
            "  tinynet bench --backends numpy,numba        without PyTorch\n"
            "  python benchmarks/run.py --update-readme    the same, then paste the tables into benchmarks/README.md\n"
            f"\nworkloads: {', '.join(names)}"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="fewer repeats and calls: under a minute")
    parser.add_argument("--only", default=None, help="comma-separated workloads to run (default: all)")
    parser.add_argument(
        "--backends", default=None,
        help=f"comma-separated, of {', '.join(BACKENDS)} (default: all that can run here; torch says if missing)",
    )  # fmt: skip
    parser.add_argument("--repeat", type=int, default=None, help="timed repeats per runner (default 15; quick 5)")
    parser.add_argument("--threads", type=int, default=None, help="threads for numba, PyTorch and BLAS alike")
    parser.add_argument("--out", default="tinynet-out/bench", help="output folder (default ./tinynet-out/bench)")
    parser.add_argument("--update-readme", action="store_true", help="also put the tables into benchmarks/README.md")
    # For the test: tiny shapes and 2 calls per repeat, to check the output in seconds.
    parser.add_argument("--size", choices=tuple(MODES), default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    args.only = _choose(parser, "--only", args.only, names)
    if args.backends is not None:  # None: every backend that can run here
        args.backends = _choose(parser, "--backends", args.backends, list(BACKENDS))
    if args.repeat is not None and args.repeat < 1:
        parser.error("--repeat must be at least 1")
    return args


def _choose(parser: argparse.ArgumentParser, option: str, value: str | None, allowed: list[str]) -> list[str]:
    if value is None:
        return allowed
    chosen = [v.strip() for v in value.split(",") if v.strip()]
    unknown = [v for v in chosen if v not in allowed]
    if unknown or not chosen:
        parser.error(f"{option}: unknown {', '.join(unknown) or '(empty)'}; choose from {', '.join(allowed)}")
    return chosen


# --- the machine ----------------------------------------------------------------------------


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _threadpoolctl():
    try:
        import threadpoolctl
    except ImportError:  # optional: then NumPy's BLAS keeps its own thread count, unrecorded
        return None
    return threadpoolctl


def _blas() -> str:
    """NumPy's BLAS library, version and the CPU architecture it chose."""
    threadpoolctl = _threadpoolctl()
    if threadpoolctl is None:
        return "unknown (pip install threadpoolctl to see it)"
    for lib in threadpoolctl.threadpool_info():
        if lib["user_api"] == "blas" and "numpy" in lib["filepath"]:
            return f"{lib['internal_api']} {lib['version']} ({lib.get('architecture', '?')})"
    return "unknown"


def _numba() -> ModuleType | None:
    """numba, after tinynet's numba backend has loaded (None when that backend cannot run here).

    The backend sets how long numba's OpenMP threads spin when idle (GOMP_SPINCOUNT), which they read when
    they start, and asking numba for its thread count starts them: asked first, they would spin for
    milliseconds and take the cores from NumPy's BLAS (a numba MLP training step took 8.5 ms instead of 0.85 ms).
    """
    from tinynet import backend

    if not backend.status("numba")[0]:
        return None
    import numba

    return numba


def set_threads(requested: int | None) -> tuple[dict, object]:
    """Give numba and NumPy's BLAS the same thread count; return the counts and the BLAS limiter.

    PyTorch gets the same count in its workers (make_runners), which fill in ``threads["torch"]``.
    """
    numba = _numba()
    count = requested or (numba.get_num_threads() if numba else os.cpu_count() or 1)
    if numba:
        numba.set_num_threads(min(count, numba.config.NUMBA_NUM_THREADS))
    threadpoolctl, limiter, blas = _threadpoolctl(), None, None
    if threadpoolctl:
        limiter = threadpoolctl.threadpool_limits(count, user_api="blas")
        blas = next((lib["num_threads"] for lib in threadpoolctl.threadpool_info() if lib["user_api"] == "blas"), None)
    threads = {
        "requested": count,
        "numba": numba.get_num_threads() if numba else None,
        "torch": None,
        "blas": blas,
    }
    return threads, limiter


def machine(threads: dict, gpu: str | None, load_at_start: tuple[float, ...]) -> dict:
    """What ran the benchmark: CPU, cores, GPU, load averages (1, 5, 15 minutes), threads, BLAS, versions."""
    from tinynet.cli import package_versions  # from the installed metadata: imports none of them

    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "load_average": list(load_at_start),
        "load_average_end": list(os.getloadavg()),
        "gpu": gpu,
        "threads": threads,
        "blas": _blas(),
        "versions": package_versions(("tinynet", "numpy", "numba", "torch", "cupy")),
    }


# --- what runs ------------------------------------------------------------------------------

COLUMNS = ("numpy", "numba", "cupy", "torch", "torch-cuda")


def make_runners(
    requested: list[str], explicit: bool, threads: dict, size: str
) -> tuple[list[Runner], dict[str, str], dict[str, dict]]:
    """(runners, {requested runner that cannot run here: why}, the "backends" section of results.json).

    A backend that cannot run here gets a column saying why, except cupy on a machine without a GPU,
    which is left out unless asked for by name. PyTorch's workers are started here (given
    ``threads["requested"]`` threads, and ``threads["torch"]`` is set to what they report).
    """
    runners, missing, info = _tinynet_runners(requested, explicit)
    if "torch" in requested:
        runners += _torch_runners(threads, size, any(r.device == "gpu" for r in runners), missing, info)
    return runners, missing, info


def _tinynet_runners(requested: list[str], explicit: bool) -> tuple[list[Runner], dict[str, str], dict[str, dict]]:
    """The tinynet backends asked for that can run here, in this process; see make_runners."""
    import frameworks
    from harness import LocalRunner

    from tinynet import backend

    runners, missing, info = [], {}, {}
    tinynet = frameworks.tinynet()
    for name in ("numpy", "numba", "cupy"):
        usable, reason = backend.status(name)
        if not usable:
            info[name] = {"status": f"not usable: {reason}"}
            if name in requested and (explicit or name != "cupy"):
                missing[name] = info[name]["status"]
            continue
        b = backend.load(name)
        device = "gpu" if name == "cupy" else "cpu"
        info[name] = {"status": "ok", "device": device}
        if name != "numpy":  # the reference is the table the others override
            info[name].update(overrides=list(b.overrides), fallbacks=list(b.fallbacks))
        if name in requested:
            sync = b.xp.cuda.Device().synchronize if name == "cupy" else LocalRunner.sync
            runners.append(LocalRunner(name, tinynet, lambda n=name: backend.set_backend(n), sync, b, device))
    return runners, missing, info


def _torch_runners(
    threads: dict, size: str, gpu: bool, missing: dict[str, str], info: dict[str, dict]
) -> list[RemoteRunner]:
    """PyTorch on the CPU, and on the GPU when a tinynet runner uses one and torch has CUDA, each in a
    worker process of its own (worker.py); one that cannot start is noted in ``missing`` and ``info``."""
    cpu = _start_torch("cpu", threads["requested"], size, missing, info)
    if cpu is None:
        return []
    threads["torch"] = cpu.hello["threads"]
    if not (gpu and cpu.hello["cuda"]):
        return [cpu]
    cuda = _start_torch("cuda", threads["requested"], size, missing, info)
    return [cpu] if cuda is None else [cpu, cuda]


def _start_torch(
    device: str, threads: int, size: str, missing: dict[str, str], info: dict[str, dict]
) -> RemoteRunner | None:
    """A started PyTorch worker on ``device``, or None when it cannot start (why: in ``missing`` and ``info``)."""
    from harness import RunnerError, error_status
    from worker import NotInstalledError, torch_runner

    runner = torch_runner(device, threads, size, WORKER_ENV)
    try:
        runner.start()
    except NotInstalledError:
        status = "not installed"
    except RunnerError as err:
        status = error_status(err)
    else:
        info[runner.name] = {"status": "ok", "device": runner.device}
        return runner
    info[runner.name], missing[runner.name] = {"status": status}, status
    return None


def ratio_pairs(columns: list[str]) -> list[str]:
    """The ratios to report: each tinynet backend over its PyTorch peer, and each over the reference."""
    gpu_peer = "torch-cuda" if "torch-cuda" in columns else "torch"
    pairs = [("numpy", "torch"), ("numba", "torch"), ("cupy", gpu_peer), ("numba", "numpy"), ("cupy", "numpy")]
    return [f"{a}/{b}" for a, b in pairs if a in columns and b in columns]


def calibrate(runners: list[Runner], workloads: list[Workload], matmul_n: int) -> dict[str, dict]:
    """The machine's measured peaks, per device that a runner uses.

    gflops: the fastest float32 (n, n) matmul among the device's BLAS libraries (n: matmul_n, 4x on a GPU);
    gbytes_per_s: for each memory-bound workload, the fastest copy moving as many bytes as its step.
    PyTorch's are measured in its worker, with its threads.
    """
    import frameworks
    from harness import LocalRunner

    from tinynet import backend

    # The libraries that bring their own BLAS and copy (numba's matmul is its own kernel, not a BLAS):
    # NumPy always (through tinynet's reference backend), the others when they run.
    libraries = [r for r in runners if r.name in ("cupy", "torch", "torch-cuda")]
    libraries.insert(0, LocalRunner("numpy", frameworks.tinynet(), lambda: backend.set_backend("numpy")))
    peaks: dict[str, dict] = {}
    for device in dict.fromkeys(r.device for r in runners):
        gflops_by, gbytes_by = {}, {}
        n = matmul_n * (4 if device == "gpu" else 1)  # a GPU needs a bigger product to reach its peak
        for runner in (r for r in libraries if r.device == device):
            gflops_by[runner.name] = runner.peak(n)
            for w in workloads:
                if w.bound == "memory":
                    gbytes_by.setdefault(w.name, {})[runner.name] = runner.copy(w.bytes)
        peaks[device] = {
            "gflops": max(gflops_by.values()), "gflops_by": gflops_by, "matmul_n": n,
            "gbytes_per_s": {name: max(by.values()) for name, by in gbytes_by.items()}, "gbytes_per_s_by": gbytes_by,
        }  # fmt: skip
    return peaks


def _gpu_name(runners: list) -> str | None:
    cupy = next((r for r in runners if r.name == "cupy"), None)
    return cupy.backend.xp.cuda.runtime.getDeviceProperties(0)["name"].decode() if cupy else None


def _check_load() -> tuple[float, float, float]:
    """The load averages now, with a note when other processes keep the cores busy."""
    load = os.getloadavg()
    if load[0] > (os.cpu_count() or 1) / 2:
        print(
            f"  note: load average {load[0]:.1f} on {os.cpu_count()} cores: other processes are busy, so "
            "times will be noisy (ratios less so); multi-threaded runs suffer most (try --threads 1)",
            flush=True,
        )
    return load


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    explicit = args.backends is not None
    requested = args.backends or list(BACKENDS)
    mode_name = args.size or ("quick" if args.quick else "full")  # also the workloads' size
    mode = dict(MODES[mode_name], repeat=args.repeat or MODES[mode_name]["repeat"])

    import matplotlib

    matplotlib.use("Agg")  # files only, no window
    import report
    from harness import Settings, measure
    from workloads import all_workloads

    threads, _blas_limit = set_threads(args.threads)
    runners, missing, info = make_runners(requested, explicit, threads, mode_name)
    columns = [c for c in COLUMNS if c in missing or any(r.name == c for r in runners)]
    pairs = ratio_pairs(columns)
    print(f"tinynet bench: {mode_name} run of {len(args.only)} workloads on {', '.join(columns)}", flush=True)
    load_at_start = _check_load()

    start = time.perf_counter()
    workloads = [w for w in all_workloads(mode_name) if w.name in args.only]
    keys = ("repeat", "min_repeat_s", "max_calls", "warmup_calls", "settle_s")
    settings = Settings(**{k: mode[k] for k in keys})
    try:
        peaks = calibrate(runners, workloads, mode["matmul_n"])
        entries = []
        for index, workload in enumerate(workloads, start=1):
            began = time.perf_counter()
            measured = measure(workload, runners, settings)
            entries.append(report.summarise(workload, measured, runners, missing, peaks, pairs))
            print(f"  [{index}/{len(workloads)}] {workload.name:<18} {time.perf_counter() - began:6.1f} s", flush=True)
    finally:
        for runner in runners:  # PyTorch's workers exit here, after an error or Ctrl-C as well
            runner.close()

    results = {
        "schema": 1,
        "created": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "command": " ".join(["tinynet bench", *(sys.argv[1:] if argv is None else argv)]),
        "mode": {"name": mode_name, "quick": args.quick, **{k: mode[k] for k in keys}},
        "machine": machine(threads, _gpu_name(runners), load_at_start),
        "peak": peaks,
        "backends": info,
        "runners": columns,
        "pairs": pairs,
        "workloads": entries,
        "wall_s": time.perf_counter() - start,
    }
    paths = report.write(results, Path(args.out))
    print("\n" + report.terminal(results))
    print(f"\nwrote {', '.join(map(str, paths))} in {results['wall_s']:.0f} s")
    if args.update_readme:
        report.update_readme(README, report.markdown(results))
        print(f"updated {README}")
    errors = [(e["name"], name, r["status"]) for e in entries for name, r in e["results"].items()
              if r["status"].startswith("error")]  # fmt: skip
    for workload, runner, status in errors:
        print(f"FAILED: {workload} on {runner}: {status}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
