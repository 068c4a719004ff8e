"""`tinynet bench`: a tiny quick run writes the tables, results.json, results.md and the chart.

The schema is checked, not the speed: a tiny run times microsecond steps on whatever machine runs it.
PyTorch runs in worker processes (benchmarks/worker.py): the harness's own process never imports it,
and a worker that fails, dies or hangs is an error for its runner only.
"""

import importlib.util
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from tinynet import backend

ROOT = Path(__file__).resolve().parents[1]
# The workloads, in the report's order.
WORKLOADS = [
    "matmul", "conv2d", "conv1d_mnist1d", "maxpool2d", "attention", "attention_causal", "softmax_xent",
    "layernorm", "adam_step", "gru", "train_cnn", "train_lenet", "train_resnet", "train_mlp", "train_xor",
    "op_overhead", "train_transformer_lm", "train_lstm_lm",
]  # fmt: skip
HAS_TORCH = importlib.util.find_spec("torch") is not None
TINYNET = [name for name in ("numpy", "numba", "cupy") if backend.status(name)[0]]
RUNNERS = [*TINYNET, "torch"]
needs_torch = pytest.mark.skipif(not HAS_TORCH, reason="PyTorch is not installed (pip install -e '.[bench]')")


def _bench(*args: str, env=None) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "tinynet", "bench", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=ROOT, env=env)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    # One thread: on a busy machine, threads waiting for each other at every op make a tiny run slow.
    result = _bench("--quick", "--size", "tiny", "--threads", "1", "--out", str(out))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return out, result.stdout, json.loads((out / "results.json").read_text())


def test_results_json_describes_the_machine(tiny_run):
    _, _, results = tiny_run
    machine = results["machine"]
    assert isinstance(machine["cpu"], str) and machine["cpu"]
    assert isinstance(machine["cores"], int) and machine["cores"] >= 1
    assert len(machine["load_average"]) == 3 and len(machine["load_average_end"]) == 3
    assert machine["threads"]["requested"] == 1
    assert machine["threads"]["numba"] in (1, None) and machine["threads"]["torch"] in (1, None)
    assert {"tinynet", "numpy", "numba", "torch"} <= set(machine["versions"])
    assert results["mode"]["name"] == "tiny" and results["mode"]["repeat"] == 2
    peak = results["peak"]["cpu"]
    assert peak["gflops"] > 0 and peak["gflops"] == max(peak["gflops_by"].values())
    memory_bound = [w["name"] for w in results["workloads"] if w["bound"] == "memory"]
    assert sorted(peak["gbytes_per_s"]) == sorted(memory_bound) and min(peak["gbytes_per_s"].values()) > 0
    assert results["backends"]["numpy"]["status"] == "ok"
    # PyTorch on the GPU joins only when cupy runs and torch has CUDA.
    assert results["runners"] == RUNNERS + (["torch-cuda"] if "torch-cuda" in results["backends"] else [])


def test_every_workload_has_a_timed_entry_per_runner(tiny_run):
    _, _, results = tiny_run
    assert [w["name"] for w in results["workloads"]] == WORKLOADS
    for workload in results["workloads"]:
        assert workload["flops"] > 0 and workload["bound"] in ("compute", "memory")
        assert (workload["bytes"] is not None) == (workload["bound"] == "memory")
        assert set(workload["results"]) == set(results["runners"])
        for name, result in workload["results"].items():
            if name == "torch" and not HAS_TORCH:
                assert result["status"] == "not installed"
                continue
            assert result["status"] == "ok", (workload["name"], name, result["status"])
            assert result["repeats"] == len(result["per_call_s"]) == 2 and result["calls_per_repeat"] == 1
            time = result["time_s"]
            assert 0 < time["min"] <= time["p25"] <= time["median"] <= time["p75"]
            assert result["first_call_s"] > 0
            assert result["gflops"] == pytest.approx(workload["flops"] / time["median"] / 1e9)
            assert isinstance(result["pct_of_peak"], float)


def test_tinynet_entries_say_which_kernels_were_the_backends_own(tiny_run):
    _, _, results = tiny_run
    for workload in results["workloads"]:
        for name in TINYNET:
            kernels = workload["results"][name]["kernels"]
            # Every workload runs through the kernel table, but op_overhead, which times the engine alone.
            assert bool(kernels["used"]) != (workload["name"] == "op_overhead"), workload["name"]
            own = set(results["backends"][name].get("overrides", []))
            assert set(kernels["overridden"]) == set(kernels["used"]) & own
            assert set(kernels["overridden"]) | set(kernels["fallback"]) <= set(kernels["used"])


def test_ratios_pair_runs_measured_side_by_side(tiny_run):
    _, _, results = tiny_run
    expected = [f"{b}/torch" for b in TINYNET if b != "cupy"] + [f"{b}/numpy" for b in TINYNET if b != "numpy"]
    assert set(expected) <= set(results["pairs"])
    for workload in results["workloads"]:
        for pair in results["pairs"]:
            ratio = workload["ratios"][pair]
            if "torch" in pair and not HAS_TORCH:
                assert ratio["status"] == "torch: not installed"
                continue
            assert ratio["status"] == "ok" and ratio["p25"] <= ratio["median"] <= ratio["p75"]
            top, bottom = (workload["results"][name]["per_call_s"] for name in pair.split("/"))
            assert ratio["median"] == pytest.approx(np.median([a / b for a, b in zip(top, bottom)]))


def test_files_and_the_terminal_table(tiny_run):
    out, stdout, results = tiny_run
    markdown = (out / "results.md").read_text()
    assert (out / "ratios.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for name in WORKLOADS:
        assert f"| {name} |" in markdown and f"\n{name} " in stdout
    for pair in results["pairs"]:
        assert pair in markdown and pair in stdout


def test_workload_flop_counts_match_the_formulas(tiny_run):
    _, _, results = tiny_run
    entries = {w["name"]: w for w in results["workloads"]}
    assert entries["matmul"]["flops"] == 2 * 64**3
    # conv2d tiny: x (2, 3, 8, 8), w (4, 3, 3, 3), padding 1: forward, then dx and dw as much again each.
    n, o, positions, c, taps = 2, 4, 8 * 8, 3, 3 * 3
    assert entries["conv2d"]["flops"] == 3 * 2 * n * o * positions * c * taps
    assert entries["attention_causal"]["flops"] < entries["attention"]["flops"]


def test_without_torch_the_torch_columns_say_not_installed(tmp_path):
    # A torch package that fails to import stands in for a machine without PyTorch.
    fake = tmp_path / "fake" / "torch"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('no torch here')\n")
    env = {**os.environ, "PYTHONPATH": str(fake.parent)}
    out = tmp_path / "out"
    result = _bench("--quick", "--size", "tiny", "--only", "matmul", "--backends", "numpy,torch", "--out", str(out),
                    env=env)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    (matmul,) = results["workloads"]
    assert matmul["results"]["torch"] == {"status": "not installed"}
    assert matmul["ratios"]["numpy/torch"] == {"status": "torch: not installed"}
    assert "not installed" in result.stdout


def test_unknown_workload_is_a_clear_error():
    result = _bench("--only", "matmul,nope")
    assert result.returncode == 2 and "unknown nope" in result.stderr and "train_xor" in result.stderr


def test_bench_help_shows_an_example():
    result = _bench("--help")
    assert result.returncode == 0 and "tinynet bench --quick" in result.stdout and "--only" in result.stdout


# --- PyTorch in its own process ---------------------------------------------------------------


@needs_torch
def test_the_harness_process_never_imports_torch(tmp_path):
    # Numba's OpenMP threads would share PyTorch's runtime, and its defaults, if torch were imported here.
    args = ["--size", "tiny", "--only", "train_xor", "--backends", "numpy,torch", "--threads", "1"]
    args += ["--out", str(tmp_path)]
    script = (
        "import sys; sys.path.insert(0, 'benchmarks'); import run\n"
        f"code = run.main({args!r})\n"
        "print('torch imported:', 'torch' in sys.modules); sys.exit(code)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "torch imported: False" in result.stdout
    results = json.loads((tmp_path / "results.json").read_text())
    (xor,) = results["workloads"]
    assert xor["results"]["torch"]["status"] == "ok" and xor["ratios"]["numpy/torch"]["status"] == "ok"
    assert results["machine"]["threads"]["torch"] == 1  # as the worker reported it


@pytest.fixture
def bench_modules(monkeypatch):
    """benchmarks/'s harness, worker and workloads modules, imported here (they import no torch)."""
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    import frameworks
    import harness
    import worker
    import workloads

    return harness, worker, workloads, frameworks


def _tiny(workloads, name: str):
    return next(w for w in workloads.all_workloads("tiny") if w.name == name)


@needs_torch
def test_a_worker_that_dies_is_an_error_for_its_runner_only(bench_modules, monkeypatch):
    harness, worker, workloads, frameworks = bench_modules
    xor = _tiny(workloads, "train_xor")
    numpy_runner = harness.LocalRunner("numpy", frameworks.tinynet(), lambda: backend.set_backend("numpy"))
    torch = worker.torch_runner("cpu", 1, "tiny")
    settings = harness.Settings(repeat=2, min_repeat_s=0.0, max_calls=1, warmup_calls=1)
    prepare, workers = worker.RemoteRunner.prepare, []

    def prepare_then_die(self, workload):
        prepare(self, workload)
        workers.append(self.process)
        self.process.kill()

    try:
        torch.start()
        with monkeypatch.context() as patch:
            patch.setattr(worker.RemoteRunner, "prepare", prepare_then_die)
            measured = harness.measure(xor, [numpy_runner, torch], settings)
        assert measured["numpy"].status == "ok" and len(measured["numpy"].per_call_s) == 2
        assert measured["torch"].status == "error: the torch worker exited (signal SIGKILL)"
        assert workers[0].returncode is not None  # reaped, not left behind
        # The next workload starts a fresh worker: a crash costs one workload, not the rest of the run.
        assert harness.measure(xor, [torch], settings)["torch"].status == "ok"
        workers.append(torch.process)
    finally:
        torch.close()
    assert torch.process is None and workers[1].returncode == 0  # it exited on its own when its stdin closed


@needs_torch
@pytest.mark.skipif(not hasattr(signal, "SIGSTOP"), reason="needs SIGSTOP to make a worker hang")
def test_a_worker_error_is_reported_and_a_hung_worker_killed(bench_modules):
    harness, worker, workloads, _ = bench_modules
    torch = worker.torch_runner("cpu", 1, "tiny")
    try:
        torch.start()
        # A request that fails in the worker is an error for that request; the worker carries on.
        with pytest.raises(harness.RunnerError, match="ValueError: this worker has no workload 'nope'"):
            torch.prepare(workloads.Workload("nope", "?", 1.0, None, "compute", lambda fw: None))
        torch.prepare(_tiny(workloads, "train_xor"))
        assert torch.time(2) > 0
        # A worker that stops answering is killed once the timeout has passed, rather than waited for.
        process, torch.timeout_s = torch.process, 1.0
        os.kill(process.pid, signal.SIGSTOP)
        started = time.perf_counter()
        with pytest.raises(harness.RunnerError, match="no answer from the torch worker within 1 s"):
            torch.time(1)
        assert time.perf_counter() - started < 10 and process.returncode == -signal.SIGKILL
    finally:
        torch.close()


def test_every_model_step_runs_as_a_pytorch_program_on_tinynet(monkeypatch):
    """benchmarks/model_steps.py's steps are PyTorch programs: on tinynet each trains (its loss finite, and lower
    after two more steps than the first), as it does on PyTorch."""
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    import model_steps

    import tinynet

    names = list(model_steps._models(tinynet))
    assert len(names) == 33
    for name in names:
        step = model_steps._step(tinynet, name)
        first = step().item()
        step()
        assert np.isfinite(first) and step().item() < first, name


def test_the_pause_before_a_repeat_lasts_until_idle_threads_stop_spinning(bench_modules):
    harness = bench_modules[0]
    stopped = threading.Event()

    def spin(seconds: float = 0.3) -> None:  # as BLAS threads do after a call: busy, with no work
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            pass
        stopped.set()

    spinner = threading.Thread(target=spin)
    spinner.start()
    harness.settle(0.01, most_s=30.0)
    assert stopped.is_set()  # a fixed pause of 0.01 s would have returned while the thread spun
    spinner.join()
    started = time.perf_counter()
    harness.settle(0.01, most_s=30.0)
    assert time.perf_counter() - started < 10  # nothing spins now: no waiting for the cap


def test_runners_on_one_device_time_as_many_calls_per_repeat(bench_modules):
    harness, _, workloads, _ = bench_modules
    # Each runner's "framework" is how long its step sleeps: a step of 1 ms wants 20 calls to last
    # min_repeat_s, one of 10 ms wants 2; each pays the pause's first call once a repeat either way.
    naps = workloads.Workload("nap", "?", 1.0, None, "compute", lambda seconds: lambda: time.sleep(seconds))
    runners = [
        harness.LocalRunner("fast", 0.001),
        harness.LocalRunner("slow", 0.01),
        harness.LocalRunner("gpu", 0.01, device="gpu"),
    ]
    settings = harness.Settings(repeat=2, min_repeat_s=0.02, max_calls=1000, warmup_calls=1)
    measured = harness.measure(naps, runners, settings)
    assert measured["fast"].calls == measured["slow"].calls >= 10  # the fast runner's count, for both
    assert measured["gpu"].calls <= 2  # its own device's count, not the CPU runners'
    assert all(len(m.per_call_s) == 2 for m in measured.values())


def test_the_programs_benchmark_times_a_real_program_in_a_worker_and_refuses_unknown_names():
    """benchmarks/programs.py: its worker trains a program of tests/programs/ and prints its time as JSON (what
    model_steps.compare reads), and --only names only the programs there are."""
    script = str(ROOT / "benchmarks" / "programs.py")
    worker = [sys.executable, script, "--worker", "tinynet", "--only", "polynomial_nn", "--threads", "1"]
    result = subprocess.run(worker, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    times = json.loads(result.stdout.strip().splitlines()[-1])
    assert list(times) == ["polynomial_nn"] and times["polynomial_nn"] > 0
    refused = subprocess.run([sys.executable, script, "--only", "polynomial"], capture_output=True, text=True)
    assert refused.returncode == 2 and "unknown polynomial; choose from polynomial_manual" in refused.stderr
