"""PyTorch's runners, each in a worker process of its own, driven by the harness over a pipe.

Why a process of its own: PyTorch brings its own OpenMP runtime (libgomp), and Numba's OpenMP threading
layer then shares it. ``import torch`` initialises it with PyTorch's defaults, under which idle threads
keep spinning, and they take the cores from NumPy's BLAS and Numba between parallel regions: a tinynet
numba MLP training step took 0.96 ms in a process without torch and 8.2 ms in one that had imported it.
Making every thread sleep when idle (OMP_WAIT_POLICY=PASSIVE) is no fix either: PyTorch's GRU step then went
from 17 to 47 ms. So each framework runs in its own process with its runtime's defaults (the worker does not
inherit the spin, GOMP_SPINCOUNT, that kernels/numba_cpu/common.py sets for numba's threads), and the
harness process (run.py) never imports torch.

This file is both ends of the pipe. In the harness, a ``RemoteRunner`` stands for a runner that lives
in a worker started as

    python benchmarks/worker.py --device cpu --threads 2 --size full

The worker imports torch, gives it the thread count, and says hello: one JSON line on its stdout,
``{"ok": {"threads": 2, "cuda": false}}`` (or ``{"error": ..., "missing": true}`` when torch cannot be
imported). Then, for each request line ``{"op": "prepare" | "time" | "peak" | "copy", "args": [...]}``,
it calls the method of that name of its own ``LocalRunner`` (harness.py) and answers ``{"ok": value}``
or ``{"error": "Type: message"}``. It exits when its stdin closes. The worker times its own loop, so
the pipe's latency never enters a timing, and the harness waits for each answer with a timeout, so a
worker that dies or hangs becomes an error for its runner, not a hung benchmark.
"""

from __future__ import annotations

import argparse
import contextlib
import faulthandler
import gc
import json
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import IO, Any

import frameworks
from harness import LocalRunner, Runner, RunnerError
from workloads import Workload, all_workloads

REPLY_TIMEOUT_S = 300.0  # the longest a request may take: torch's import, a CUDA start, a slow first call
EXIT_TIMEOUT_S = 10.0  # how long a worker may take to exit once its stdin is closed, before it is killed
REQUESTS = ("prepare", "time", "peak", "copy")  # the LocalRunner methods a worker answers


class NotInstalledError(RunnerError):
    """The worker could not import its framework: the runner's column then says "not installed"."""


# --- the harness's end ----------------------------------------------------------------------


class RemoteRunner(Runner):
    """A runner whose framework lives in a worker process; every method is one request and its answer.

    ``start`` launches the worker and waits for its hello; a request to a runner whose worker died
    starts a fresh one, so that a crash costs the workload it happened in, not the rest of the run.
    """

    def __init__(
        self,
        name: str,
        device: str,
        command: list[str],
        env: dict[str, str] | None = None,
        timeout_s: float = REPLY_TIMEOUT_S,
    ) -> None:
        self.name, self.device = name, device
        self.command, self.env, self.timeout_s = command, env, timeout_s
        self.process: subprocess.Popen | None = None
        self.hello: dict[str, Any] = {}  # what the worker said when it started: threads, cuda
        self._replies: queue.Queue[str | None] = queue.Queue()
        self._stderr: IO[bytes] | None = None

    def start(self) -> dict[str, Any]:
        """Start the worker and return its hello; raise NotInstalledError or RunnerError if it cannot run."""
        self.close()
        # stderr goes to a file, not a pipe: nobody has to read it for the worker to go on, and its
        # last lines explain a crash.
        self._stderr = tempfile.TemporaryFile()
        self._replies = queue.Queue()
        self.process = subprocess.Popen(
            self.command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr, text=True, env=self.env
        )
        threading.Thread(target=_pump, args=(self.process.stdout, self._replies), daemon=True).start()
        hello = self._receive()
        if "error" in hello:
            self.close()
            raise (NotInstalledError if hello.get("missing") else RunnerError)(hello["error"])
        self.hello = hello["ok"]
        return self.hello

    def prepare(self, workload: Workload) -> None:
        # The worker builds the workload from its name (same size, same seeds); the shape makes sure
        # that both ends mean the same arrays.
        self._ask("prepare", workload.name, workload.shape)

    def time(self, calls: int, collect: bool = False) -> float:
        return self._ask("time", calls, collect)

    def peak(self, n: int) -> float:
        return self._ask("peak", n)

    def copy(self, nbytes: float) -> float:
        return self._ask("copy", nbytes)

    def close(self) -> None:
        """Close the worker's stdin, so that it exits; kill it if it has not within EXIT_TIMEOUT_S."""
        self._stop()

    def _ask(self, op: str, *args: Any) -> Any:
        """Send one request and return the worker's answer; its exception becomes a RunnerError."""
        if self.process is None:
            self.start()
        assert self.process is not None and self.process.stdin is not None
        try:
            self.process.stdin.write(json.dumps({"op": op, "args": list(args)}) + "\n")
            self.process.stdin.flush()
        except OSError:  # a broken pipe: the worker is gone
            raise self._fail(f"the {self.name} worker exited") from None
        reply = self._receive()
        if "error" in reply:
            raise RunnerError(reply["error"])
        return reply["ok"]

    def _receive(self) -> dict[str, Any]:
        """The worker's next message, waiting at most timeout_s; a worker that died or hangs is stopped."""
        try:
            line = self._replies.get(timeout=self.timeout_s)
        except queue.Empty:
            raise self._fail(f"no answer from the {self.name} worker within {self.timeout_s:g} s: killed it") from None
        if line is None:
            raise self._fail(f"the {self.name} worker exited")
        try:
            return json.loads(line)
        except json.JSONDecodeError:
            raise self._fail(f"the {self.name} worker said {line.strip()[:200]!r} instead of a JSON answer") from None

    def _fail(self, what: str) -> RunnerError:
        """Kill the worker, and describe what went wrong with how it ended and the end of its stderr."""
        code, last_words = self._stop(kill=True)
        return RunnerError(f"{what} ({_ending(code)})" + (f": {last_words}" if last_words else ""))

    def _stop(self, kill: bool = False) -> tuple[int | None, str]:
        """End the worker (asking, or killing), wait for it, and return its exit code and last stderr lines."""
        process, self.process = self.process, None
        if process is None:
            return None, ""
        with contextlib.suppress(OSError):
            process.stdin.close()  # a worker reading its next request exits at end of input
        if kill:
            process.kill()
        try:
            code = process.wait(timeout=EXIT_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            code = process.wait()
        return code, self._last_words()

    def _last_words(self) -> str:
        """The last lines the worker wrote to stderr (where a traceback ends), then the file is closed."""
        if self._stderr is None:
            return ""
        self._stderr.seek(0)
        lines = self._stderr.read().decode(errors="replace").strip().splitlines()
        self._stderr.close()
        self._stderr = None
        return " | ".join(line.strip() for line in lines[-3:])[-600:]


def _ending(code: int | None) -> str:
    """How a process ended, from its exit code: "code 1", or "signal SIGKILL" (Popen's negative codes)."""
    if code is None or code >= 0:
        return f"code {code}"
    try:
        return f"signal {signal.Signals(-code).name}"
    except ValueError:
        return f"signal {-code}"


def _pump(stream: IO[str], replies: queue.Queue[str | None]) -> None:
    """Move the worker's lines into ``replies`` (a queue can be waited on with a timeout); None at the end."""
    with stream:
        for line in stream:
            replies.put(line)
    replies.put(None)


def torch_runner(device: str, threads: int, size: str, env: dict[str, str] | None = None) -> RemoteRunner:
    """PyTorch on ``device`` ("cpu" or "cuda") in a worker (not started yet) that builds ``size`` workloads."""
    script = str(Path(__file__).resolve())
    command = [sys.executable, script, "--device", device, "--threads", str(threads), "--size", size]
    if device == "cuda":
        return RemoteRunner("torch-cuda", "gpu", command, env)
    return RemoteRunner("torch", "cpu", command, env)


# --- the worker's end -----------------------------------------------------------------------


def _channel() -> IO[str]:
    """The answers' own copy of stdout; anything else written to stdout (a library's print) goes to stderr."""
    channel = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    return channel


def _send(channel: IO[str], message: dict[str, Any]) -> None:
    channel.write(json.dumps(message) + "\n")
    channel.flush()


def _torch(device: str, threads: int) -> tuple[LocalRunner, dict[str, Any]]:
    """PyTorch on ``device`` with ``threads`` threads, as a LocalRunner, and the hello that describes it."""
    import torch

    torch.set_num_threads(threads)
    framework = frameworks.torch(device)
    if device == "cuda":
        runner = LocalRunner("torch-cuda", framework, sync=torch.cuda.synchronize, device="gpu")
    else:
        runner = LocalRunner("torch", framework)
    return runner, {"threads": torch.get_num_threads(), "cuda": torch.cuda.is_available()}


def _prepare(runner: LocalRunner, workloads: dict[str, Workload], name: str, shape: str) -> None:
    workload = workloads.get(name)
    if workload is None or workload.shape != shape:
        raise ValueError(f"this worker has no workload {name!r} of shape {shape!r}")
    gc.unfreeze()  # the previous workload's objects may be collected again
    runner.prepare(workload)
    # As measure() does in the harness: what exists now (PyTorch brings millions of objects) is frozen,
    # out of the collector's sight, so that a collection during a step costs what the step's garbage costs.
    gc.collect()
    gc.freeze()


def _answer(runner: LocalRunner, workloads: dict[str, Workload], op: str, args: list[Any]) -> Any:
    if op == "prepare":
        return _prepare(runner, workloads, *args)
    if op not in REQUESTS:
        raise ValueError(f"unknown request {op!r}")
    return getattr(runner, op)(*args)


def serve(runner: LocalRunner, workloads: dict[str, Workload], requests: IO[str], channel: IO[str]) -> None:
    """Answer requests until ``requests`` ends; a request that raises gets its error as the answer."""
    for line in iter(requests.readline, ""):
        request = json.loads(line)
        try:
            value = _answer(runner, workloads, request["op"], request["args"])
        except Exception as err:
            _send(channel, {"error": f"{type(err).__name__}: {err}"})
        else:
            _send(channel, {"ok": value})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="A benchmark worker: PyTorch, driven by run.py over stdin/stdout.")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--size", default="full", help="the workloads' size (workloads.SIZES)")
    args = parser.parse_args(argv)
    faulthandler.enable()  # a crash in native code leaves its traceback on stderr, for the harness to quote
    channel = _channel()
    try:
        runner, hello = _torch(args.device, args.threads)
    except ImportError as err:
        _send(channel, {"error": f"ImportError: {err}", "missing": True})
        return 0
    workloads = {w.name: w for w in all_workloads(args.size)}
    _send(channel, {"ok": hello})
    serve(runner, workloads, sys.stdin, channel)
    return 0


if __name__ == "__main__":
    sys.exit(main())
