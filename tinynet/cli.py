"""The ``tinynet`` command: ``info``, ``doctor``, ``warmup``, ``lessons list|run``, ``gradcheck``, ``ops`` and
``bench``.

Every mistake in its input (a wrong option or value, a bad TINYNET_BACKEND, an output folder it cannot write, a
missing package) ends it with one line on stderr saying what is wrong and the fix, and a non-zero exit, before
any lesson or benchmark starts; Ctrl-C ends it with one line and exit 130, a closed pipe (``| head``) silently.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata
from pathlib import Path

import tinynet
from kernels import numpy_ref
from tinynet import backend
from tinynet.errors import BackendError

LESSONS_DIR = Path(__file__).resolve().parents[1] / "lessons"
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports a program stopped by Ctrl-C
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, as a shell reports a program whose reader (head) went away
BENCH_SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "run.py"


def package_versions(packages=("numpy", "numba", "cupy", "torch")) -> dict[str, str]:
    """{distribution: version or "not installed"}, from the installed metadata, so that asking imports
    neither numba nor cupy. "cupy" stands for whichever build is installed (cupy-cuda12x, cupy-cuda13x, ...)."""
    installed = {d.metadata["Name"].lower(): d.version for d in metadata.distributions()}
    versions = {}
    for package in packages:
        if package == "cupy":
            package = min((n for n in installed if n.startswith("cupy")), default="cupy-cuda12x")
        versions[package] = installed.get(package, "not installed")
    return versions


def info(warm: bool = False) -> int:
    """Versions, and for each backend: usable or why not, and which kernels it overrides."""
    print(f"tinynet {tinynet.__version__}  (Python {platform.python_version()}, {platform.platform()})")
    for package, version in package_versions().items():
        print(f"  {package:<13} {version}")
    print(f"\nactive backend: {backend.get_backend()}   kernels in the table: {len(numpy_ref.KERNELS)}")
    for name in backend.MODULES:
        usable, reason = backend.status(name)
        if not usable:
            print(f"\n[{name}] not usable: {reason}")
            continue
        b = backend.load(name)
        if b.module is numpy_ref:
            print(f"\n[{name}] usable: the reference (kernels/numpy_ref/), all {len(numpy_ref.KERNELS)} kernels")
            continue
        print(f"\n[{name}] usable: overrides {len(b.overrides)}, falls back to the reference for {len(b.fallbacks)}")
        if warm:
            backend.warmup(name)
        for key, value in getattr(b.module, "describe", dict)().items():
            print(f"  {key}: {value}")
        print(f"  overrides: {', '.join(b.overrides) or '(none)'}")
        print(f"  falls back: {', '.join(b.fallbacks) or '(none)'}")
        if b.dtype_limits:
            print(f"  float32/float64 only (other float dtypes on the reference): {', '.join(b.dtype_limits)}")
    return 0


# Seconds each numba kernel family took to compile cold for float64 (2-core CPU, quiet, Numba 0.68, one family and
# dtype per process, less the process's start, 2026-12-05), and what float32 takes on top (tile.gemm's ways, float32
# only): only used to hand the warm-up's processes the (family, dtype) pairs longest first, so that the last pairs
# handed out are short and the processes end together. A family not listed counts as 3. Kept as an order, not as
# figures: measured again on 2026-12-07 (range kernels; AMD EPYC: recurrent 8, conv 9.5, linalg 9, attention 8.5,
# normalization and softmax 4.5, pooling and activations 4, depthwise 3.5, optim 1.5, float32 as float64), those
# figures' order made the warm-up end later, 59.3 s against 54.7 s: what a process compiles first (numba's np.dot,
# the BLAS calls) is shared by what it compiles next, so a family's time depends on its place.
_COMPILE_SECONDS = {"recurrent": 13, "conv": 8, "softmax": 6, "attention": 9, "pooling": 5, "activations": 4,
                    "linalg": 6, "normalization": 4.5, "optim": 2, "embedding": 1, "elementwise": 0.5,
                    "losses": 1, "resize": 1, "dropout": 0.5}  # fmt: skip
_FLOAT32_EXTRA_SECONDS = {"recurrent": 2, "conv": 13, "attention": 5, "softmax": 1, "linalg": 1.5, "activations": 1}


def _compile_seconds(family: str, dtype: str) -> float:
    """The figure above for compiling ``family`` for ``dtype``."""
    return _COMPILE_SECONDS.get(family, 3) + (_FLOAT32_EXTRA_SECONDS.get(family, 0) if dtype == "float32" else 0)


def warmup(backend_name: str | None, dtypes: str, jobs: int, only: str | None) -> int:
    """Compile every kernel of a JIT backend now (numba by default), timed: the numba families in ``jobs``
    processes at once, each writing its kernels to Numba's disk cache; this process compiles only what they did not
    (loading the rest only to exit took 0.7 s)."""
    default = "numba" if backend.status("numba")[0] else None
    name = _usable_backend("tinynet warmup", default if backend_name is None else backend_name)
    wanted = tuple(dict.fromkeys(d.strip() for d in dtypes.split(",") if d.strip()))
    if not wanted or set(wanted) - {"float32", "float64"}:
        raise SystemExit(f"tinynet warmup: --dtype {dtypes!r}: give float32, float64 or float32,float64")
    table = backend.load(name)
    if name != "numba":  # cupy compiles its kernels as one program; the reference has nothing to compile
        backend.warmup(name)
        return 0
    families = table.module.families()
    chosen = sorted(_names("tinynet warmup", only, "families: " + ", ".join(families))) if only else families
    if set(chosen) - set(families):
        unknown = ", ".join(sorted(set(chosen) - set(families)))
        raise SystemExit(f"tinynet warmup: no kernel family {unknown}; choose from {', '.join(families)}")
    jobs = max(1, min(jobs or os.cpu_count() or 1, len(chosen) * len(wanted)))
    print(f"warmup: numba kernels of {len(chosen)} families, {', '.join(wanted)}, in {jobs} process(es)", flush=True)
    start = time.perf_counter()
    done = set()
    if jobs > 1 and os.environ.get("NUMBA_DISABLE_JIT", "0") in ("", "0"):
        done = _compile_in_processes(chosen, wanted, jobs)
    left = [(family, dtype) for dtype in wanted for family in chosen if (family, dtype) not in done]
    for family, dtype in left:  # what no process compiled (one process: all of it)
        table.module.warmup([dtype], [family])
    if left:
        print(f"  compiled {', '.join(f'{f} {d}' for f, d in left)} in this process", flush=True)
    print(f"warmup: {time.perf_counter() - start:.1f} s in all")
    return 0


# A warm-up process: compiles the (family, dtype) pairs it is sent, one a line, saying each when done.
_WARMUP_WORKER = """
import sys, kernels.numba_cpu as k
for line in sys.stdin:
    family, dtype = line.split()
    k.warmup([dtype], [family])
    print(family, dtype, flush=True)
"""


def _compile_in_processes(families: list[str], dtypes: tuple[str, ...], jobs: int) -> set[tuple[str, str]]:
    """Compile ``families`` for ``dtypes`` into Numba's disk cache in ``jobs`` processes at once, the most expensive
    (family, dtype) pair first, each to the first process that is free: shares fixed in advance from estimates left
    one process 14 s behind the other, as a family's time depends on what its process compiled before (shared
    helpers compile once a process). Returns the pairs they compiled: a process that fails only costs time, as what
    it did not compile is compiled afterwards in this process."""
    pending = sorted(((f, d) for f in families for d in dtypes), key=lambda pair: -_compile_seconds(*pair))
    lock = threading.Lock()
    root = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, *filter(None, [os.environ.get("PYTHONPATH")])])}
    began = time.perf_counter()

    def drive(process: subprocess.Popen) -> tuple[list, float]:
        """Send ``process`` the next pair each time it finishes one, until none is left or it stops answering."""
        done = []
        while True:
            with lock:
                if not pending:
                    break
                pair = pending.pop(0)
            try:
                process.stdin.write(" ".join(pair) + "\n")
                process.stdin.flush()
            except OSError:  # it has exited
                break
            if not process.stdout.readline():  # it failed on this pair
                break
            done.append(pair)
        process.stdin.close()
        process.wait()
        return done, time.perf_counter() - began

    started, compiled = [], set()
    try:
        for _ in range(jobs):
            errors = tempfile.TemporaryFile("w+")  # (a pipe could fill up while this waits on its answers)
            # cwd: `python -c` puts the working directory first on sys.path, where another checkout's (or a
            # user's own) `kernels` folder would be imported instead of this one's, and its cache written in vain
            process = subprocess.Popen(
                [sys.executable, "-c", _WARMUP_WORKER], env=env, text=True, cwd=root,
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors,
            )  # fmt: skip
            started.append((process, errors))
        with ThreadPoolExecutor(len(started)) as pool:  # each process's time is its own, whichever ends first
            for (process, errors), (done, seconds) in zip(started, pool.map(drive, (p for p, _ in started))):
                errors.seek(0)
                failed = f"FAILED (exit {process.returncode}): {errors.read().strip()[-500:]}"
                names = ", ".join(f"{family} {dtype}" for family, dtype in done) or "nothing"
                print(f"  compiled {names}: {seconds:.1f} s, {'ok' if process.returncode == 0 else failed}", flush=True)
                compiled.update(done)
    finally:
        for process, errors in started:  # Ctrl-C: stop the processes this command started
            if process.poll() is None:
                process.kill()
            errors.close()
    return compiled


def find_lessons(folder: Path = LESSONS_DIR) -> list[Path]:
    """The lesson scripts ``NN_topic.py`` in ``folder``, in order."""
    if not folder.is_dir():
        raise SystemExit(f"tinynet lessons: no lessons folder at {folder}; run from a checkout of tinynet")
    return sorted(p for p in folder.glob("[0-9][0-9]_*.py"))


def _summary(path: Path) -> str:
    # The lesson's first markdown line: "# # 01 · XOR by hand" -> "XOR by hand".
    for line in path.read_text().splitlines():
        if line.startswith("# # "):
            return line[4:].strip()
    return ""


def lessons_list() -> int:
    for path in find_lessons():
        print(f"{path.stem[:2]}  {path.stem:<28} {_summary(path)}")
    return 0


def _check_writable(command: str, out: str, what: str = "lesson output") -> None:
    """Exit with one line, before any lesson starts, if the output folder cannot be made or written."""
    folder = Path(out)
    fix = "pass --out a folder you can write to"
    if folder.exists() and not folder.is_dir():
        raise SystemExit(f"{command}: cannot write {what} to {out!r} (it is a file, not a folder); {fix}")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        # os.access asks the permission bits (a read-only folder); the probe catches what they do not say (a
        # read-only file system, a full disk). Run as root, the permission bits stop neither.
        if not os.access(folder, os.W_OK | os.X_OK):
            raise SystemExit(f"{command}: cannot write {what} to {out!r} (no write permission there); {fix}")
        probe = folder / f".tinynet-write-check-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        raise SystemExit(f"{command}: cannot write {what} to {out!r} ({err.strerror or err}); {fix}") from None


def lessons_run(which: str, smoke: bool, backend_name: str | None, out: str) -> int:
    """Run the chosen lessons, each in its own Python process, and print a summary."""
    # One clear line now, rather than the same traceback from every lesson: which lessons, the packages they
    # import, the backend (named, or from TINYNET_BACKEND) and the output folder.
    lessons = find_lessons()
    if which != "all":
        lessons = [p for p in lessons if p.stem.startswith(which.zfill(2)) or p.stem == which]
        if not lessons:
            raise SystemExit(f"tinynet lessons run: no lesson {which!r}; see `tinynet lessons list`")
    _check_packages("tinynet lessons run")
    chosen = default_lesson_backend(smoke) if backend_name is None else backend_name  # "" is a mistake, said as one
    backend_name = _usable_backend("tinynet lessons run", chosen)
    _check_writable("tinynet lessons run", out)
    print(f"tinynet lessons run: {len(lessons)} lesson(s) on backend {backend_name}"
          f"{' (smoke runs)' if smoke else ''}", flush=True)  # fmt: skip
    results = []
    for path in lessons:
        command = [sys.executable, str(path), "--out", str(Path(out) / path.stem)]
        command += ["--smoke"] if smoke else []
        command += ["--backend", backend_name]
        print(f"\n### {path.stem}: {' '.join(command[1:])}", flush=True)
        start = time.perf_counter()
        try:
            code = subprocess.call(command, preexec_fn=_ignore_ctrl_c if os.name == "posix" else None)
        except KeyboardInterrupt:
            raise _InterruptedError(f"tinynet lessons run: interrupted (Ctrl-C) in {path.stem}") from None
        results.append((path.stem, code, time.perf_counter() - start))
    print(f"\n### summary (backend {backend_name}{', smoke runs' if smoke else ''})")
    for name, code, seconds in results:
        print(f"  {name:<28} {'ok' if code == 0 else f'FAILED (exit {code})':<18} {seconds:6.1f} s")
    print(f"  {'total':<28} {'':<18} {sum(seconds for *_, seconds in results):6.1f} s")
    return 0 if all(code == 0 for _, code, _ in results) else 1


def default_lesson_backend(smoke: bool = False) -> str:
    """The backend the lesson runner uses when neither --backend nor TINYNET_BACKEND names one: the fastest that
    runs here. For full runs, numba (its kernels are the reference's, compiled: the same figures, in less time),
    else numpy. For smoke runs, numpy: they are too small for compiling to pay (measured, 2 cores: every smoke
    run on numpy 51 s; on numba 60 s with its kernels cached and 125 s from a fresh clone, compiling)."""
    if os.environ.get("TINYNET_BACKEND"):
        return os.environ["TINYNET_BACKEND"]
    return "numba" if backend.status("numba")[0] and not smoke else "numpy"


def _ignore_ctrl_c() -> None:
    """In a lesson the runner starts: Ctrl-C (SIGINT, sent to the terminal's whole process group) is for the
    runner, which stops the lesson and says so in one line; the lesson, maybe still importing, would print a
    traceback. (Python keeps an ignored SIGINT ignored.)"""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def gradcheck(backend_name: str | None, only: str | None) -> int:
    """Check every built-in op's gradients against finite differences (tinynet/catalogue.py); print a table."""
    from tinynet import catalogue

    cases = catalogue.cases()
    if only is not None:
        wanted = _names("tinynet gradcheck", only, "tinynet/catalogue.py lists them")
        unknown = wanted - {name for name, *_ in cases}
        if unknown:
            names = ", ".join(sorted(unknown))
            raise SystemExit(f"tinynet gradcheck: unknown op(s) {names}; see tinynet/catalogue.py")
        cases = [case for case in cases if case[0] in wanted]
    name = _usable_backend("tinynet gradcheck", backend_name)
    print(f"gradcheck: analytic gradients against central differences in float64, backend {name}\n")
    print(f"  {'op':<28} {'inputs':<34} {'values':>6}  {'result':<8} {'time':>7}")
    failures = 0
    with tinynet.use_backend(name):
        for op, fn, inputs, options in cases:
            inputs = [t.to(name) for t in inputs]
            shapes = " ".join(str(tuple(t.shape)) for t in inputs if t.requires_grad)
            start = time.perf_counter()
            try:
                tinynet.gradcheck(fn, inputs, **options)
                result = "ok"
            except tinynet.GradcheckError as err:
                result, failures = f"FAILED: {err}", failures + 1
            values = sum(t.numel() for t in inputs if t.requires_grad)
            print(f"  {op:<28} {shapes:<34} {values:>6}  {result:<8} {1e3 * (time.perf_counter() - start):5.0f} ms")
    print(f"\n{len(cases) - failures} of {len(cases)} ops passed")
    return 1 if failures else 0


def ops(only: str | None, missing: bool = False) -> int:
    """Print every op's forward, derivative and kernels, with the backends that override each kernel; or with
    ``missing``, PyTorch's names that tinynet does not have yet."""
    from tinynet import op_table

    if missing:
        return print_missing()

    wanted = None
    if only is not None:
        wanted = {name.lower() for name in _names("tinynet ops", only, "`tinynet ops` lists them all")}
        unknown = wanted - {op.function.__name__.lower() for op in op_table.ops()}
        if unknown:  # said before the table, not after it
            raise SystemExit(
                f"tinynet ops: no op named {', '.join(sorted(unknown))}; `tinynet ops` lists them all "
                "(Function names: ReLU, Conv2d, ...)"
            )
    op_table.print_table(wanted)
    return 0


def _names(command: str, only: str, where: str) -> set[str]:
    """The comma-separated names of ``--only``; at least one."""
    names = {name.strip() for name in only.split(",") if name.strip()}
    if not names:
        raise SystemExit(f"{command}: --only {only!r} names nothing; give comma-separated names ({where})")
    return names


def print_missing() -> int:
    """PyTorch's public names (functions, Tensor methods, nn.functional, nn modules) that tinynet lacks."""
    import tinynet.nn.functional
    from tinynet import missing

    namespaces = {"torch": tinynet, "Tensor": tinynet.Tensor, "functional": tinynet.nn.functional, "nn": tinynet.nn}
    for namespace, present in namespaces.items():
        names = missing.missing(namespace, present)
        total = len(missing.NAMES[namespace])
        print(f"{missing.SPELLING[namespace][0]}*: {len(names)} of PyTorch's {total} names not in tinynet yet")
        print(textwrap.fill(" ".join(names), width=110, initial_indent="  ", subsequent_indent="  ") + "\n")
    return 0


def exercises_command(args: argparse.Namespace) -> int:
    from tinynet.errors import TinynetError
    from tinynet.exercises import commands

    try:
        if args.exercise_command == "list":
            return commands.list_exercises(args.dir)
        if args.exercise_command == "start":
            return commands.start(args.name, args.dir)
        return commands.check(args.name, args.dir, args.timeout)
    except (TinynetError, OSError) as err:  # an unknown name, a workspace that cannot be written: one line
        raise SystemExit(f"tinynet exercises {args.exercise_command}: {err}") from None


def _usable_backend(command: str, name: str | None) -> str:
    """``name`` (default: the active backend) if it can run here; else exit with the reason and the fix."""
    if name is not None and not name.strip():
        raise SystemExit(f"{command}: --backend is empty; choose one of: {', '.join(backend.MODULES)}")
    name = name or backend.get_backend()
    usable, reason = backend.status(name)
    if not usable:
        raise SystemExit(f"{command}: {reason}")
    return name


def bench(args: list[str]) -> int:
    """Run benchmarks/run.py with ``args`` in its own Python process (its --help lists the options)."""
    if not BENCH_SCRIPT.is_file():
        raise SystemExit(f"tinynet bench: no benchmarks at {BENCH_SCRIPT}; run from a checkout of tinynet")
    _check_bench_args(args)
    try:
        return subprocess.call([sys.executable, str(BENCH_SCRIPT), *args])
    except KeyboardInterrupt:
        raise _InterruptedError("tinynet bench: interrupted (Ctrl-C)") from None


def _check_bench_args(args: list[str]) -> None:
    """What benchmarks/run.py would only find out after minutes of timing: an --out it cannot write to, a
    negative --threads. (Its own parser checks the rest at once.)"""
    if any(arg in ("-h", "--help") for arg in args):
        return
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    parser.add_argument("--out")
    parser.add_argument("--threads")
    known, _ = parser.parse_known_args(args)
    if known.threads is not None and known.threads.lstrip("-").isdigit() and int(known.threads) < 0:
        raise SystemExit(f"tinynet bench: --threads {known.threads} is negative; give a count >= 1 (0: all cores)")
    if known.out is not None:
        _check_writable("tinynet bench", known.out, "benchmark results")


def _check_packages(command: str) -> None:
    """The packages the lessons import (tinynet doctor's list); numba is checked with the backend."""
    from tinynet import doctor

    missing = [package for module, package in doctor.REQUIRED.items()
               if module != "numba" and importlib.util.find_spec(module) is None]  # fmt: skip
    if missing:
        raise SystemExit(
            f"{command}: the lessons need {', '.join(missing)}, not installed; fix: pip install {' '.join(missing)}"
        )


def _check_environment(command: str) -> None:
    """The environment variables tinynet reads, checked before the command starts: TINYNET_BACKEND names a
    backend that runs here, NUMBA_NUM_THREADS is a positive count (numba would print a traceback-like warning
    and ignore it), TINYNET_CACHE is a folder if it exists."""
    name = os.environ.get("TINYNET_BACKEND", "")
    if name:
        usable, reason = backend.status(name)
        if not usable:
            raise SystemExit(f"{command}: environment variable TINYNET_BACKEND={name}: {reason}")
    threads = os.environ.get("NUMBA_NUM_THREADS")
    if threads is not None and not (threads.strip().isdigit() and int(threads) > 0):
        raise SystemExit(
            f"{command}: environment variable NUMBA_NUM_THREADS={threads!r} is not a positive whole number; "
            "set it to a count of threads, or unset it"
        )
    cache = os.environ.get("TINYNET_CACHE")
    if cache and Path(cache).exists() and not Path(cache).is_dir():
        raise SystemExit(
            f"{command}: environment variable TINYNET_CACHE={cache} is a file, not a folder; point it to a folder, "
            "or unset it"
        )


class _InterruptedError(KeyboardInterrupt):
    """Ctrl-C, with the line to print (where it stopped)."""


class _Parser(argparse.ArgumentParser):
    """argparse's parser, but a usage error is one line with the fix (its help), not the usage block."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: {message}; see `{self.prog} --help`\n")


def main(argv: list[str] | None = None) -> int:
    """The command line: returns the exit status (errors in the input exit through SystemExit, one line)."""
    try:
        code = _main(argv)
        sys.stdout.flush()  # here, so that a reader gone away (| head) is caught below, not at exit
        return code
    except BrokenPipeError:
        # Nothing more can be shown; point stdout at /dev/null so that Python's own flush at exit stays quiet.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except KeyboardInterrupt as stop:
        print(str(stop) if isinstance(stop, _InterruptedError) else "tinynet: interrupted (Ctrl-C)", file=sys.stderr)
        return EXIT_INTERRUPTED


def _main(argv: list[str] | None) -> int:
    parser = _Parser(
        prog="tinynet",
        description="tinynet: learn how deep-learning frameworks work.",
        epilog="examples:\n  tinynet doctor\n  tinynet info\n  tinynet warmup\n  tinynet lessons list\n"
        "  tinynet lessons run all --smoke\n  tinynet exercises list\n  tinynet gradcheck\n  tinynet ops\n"
        "  tinynet bench --quick",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)

    def command(name: str, help: str, *examples: str, **options):  # noqa: A002 (argparse's name)
        epilog = "examples:\n" + "\n".join(f"  {example}" for example in examples)
        return commands.add_parser(
            name, help=help, epilog=epilog, formatter_class=argparse.RawDescriptionHelpFormatter, **options
        )  # (a _Parser too: subparsers take their parent's class)

    info_parser = command(
        "info", "versions, and each backend: usable or why not, kernels it overrides",
        "tinynet info", "tinynet info --warmup     # also compile the numba kernels, timed",
    )  # fmt: skip
    info_parser.add_argument("--warmup", action="store_true", help="compile every JIT kernel now and print the time")
    command("doctor", "check the install and say what to fix", "tinynet doctor")
    warmup_parser = command(
        "warmup", "compile every kernel of the JIT backend now (numba: into its disk cache), timed",
        "tinynet warmup", "tinynet warmup --dtype float32 --jobs 1", "tinynet warmup --only conv,pooling",
    )  # fmt: skip
    warmup_parser.add_argument("--backend", default=None, help="numba (default where it runs) or cupy")
    warmup_parser.add_argument("--dtype", default="float32,float64", help="float32, float64 or both (default)")
    warmup_parser.add_argument("--jobs", type=int, default=0, help="processes compiling at once (default: one a core)")
    warmup_parser.add_argument("--only", default=None, help="comma-separated numba kernel families (default: all)")
    gradcheck_parser = command(
        "gradcheck", "check every built-in op's gradients against finite differences",
        "tinynet gradcheck", "tinynet gradcheck --backend numba --only conv2d,attention",
    )  # fmt: skip
    gradcheck_parser.add_argument("--backend", default=None, help="numpy (default), numba or cupy")
    gradcheck_parser.add_argument("--only", default=None, help="comma-separated op names (default: all)")
    ops_parser = command(
        "ops", "every op's forward, derivative and kernels, and which backends override each kernel",
        "tinynet ops", "tinynet ops --only relu,conv2d\n  tinynet ops --missing",
    )  # fmt: skip
    ops_parser.add_argument("--only", default=None, help="comma-separated Function names (default: all)")
    ops_parser.add_argument("--missing", action="store_true", help="list PyTorch's names tinynet does not have yet")
    lessons = command("lessons", "list or run the lessons", "tinynet lessons list", "tinynet lessons run 1")
    lesson_commands = lessons.add_subparsers(dest="lesson_command", required=True)
    lesson_commands.add_parser(
        "list", help="the lessons, in order", epilog="example:\n  tinynet lessons list",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    run = lesson_commands.add_parser(
        "run",
        help="run lessons",
        epilog="examples:\n  tinynet lessons run 1\n  tinynet lessons run all --smoke --backend numba",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument("which", nargs="?", default="all", help="a lesson number (1, 02) or name, or all (default)")
    run.add_argument("--smoke", action="store_true", help="fast runs with fewer steps")
    run.add_argument(
        "--backend", default=None,
        help="numba, numpy (the reference) or cupy; default: TINYNET_BACKEND, else numba where it runs (numpy for "
        "--smoke runs: too small for compiling to pay), else numpy",
    )  # fmt: skip
    run.add_argument("--out", default="tinynet-out", help="output folder (default ./tinynet-out)")
    exercises = command(
        "exercises", "exercises to fill in and have checked: list, start NAME, check NAME",
        "tinynet exercises list", "tinynet exercises start value", "tinynet exercises check value",
    )  # fmt: skip
    exercise_commands = exercises.add_subparsers(dest="exercise_command", required=True)
    for name, what in (("list", "every exercise, its lesson and your status"),
                       ("start", "copy an exercise's skeleton into your workspace (never over your work)"),
                       ("check", "grade your file: each part PASS or FAIL, and what is wrong")):  # fmt: skip
        sub = exercise_commands.add_parser(name, help=what)
        if name != "list":
            sub.add_argument("name", help="the exercise (see `tinynet exercises list`)")
        sub.add_argument("--dir", default="tinynet-exercises", help="your workspace (default ./tinynet-exercises)")
        if name == "check":
            sub.add_argument("--timeout", type=float, default=120.0, help="seconds your code may run (default 120)")
    # No option is parsed here (prefix "+" matches none): all go to benchmarks/run.py, --help included.
    bench_parser = commands.add_parser(
        "bench", help="benchmark the backends against each other and PyTorch (--help: options)",
        add_help=False, prefix_chars="+",
    )  # fmt: skip
    bench_parser.add_argument("args", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    _check_environment(f"tinynet {args.command}")
    try:
        return _run(args)
    except BackendError as err:  # e.g. TINYNET_BACKEND=nope: one line and a non-zero exit, not a traceback
        raise SystemExit(f"tinynet {args.command}: {err}") from None


def _run(args: argparse.Namespace) -> int:
    if args.command == "info":
        return info(args.warmup)
    if args.command == "doctor":
        from tinynet import doctor

        return doctor.run()
    if args.command == "warmup":
        return warmup(args.backend, args.dtype, args.jobs, args.only)
    if args.command == "gradcheck":
        return gradcheck(args.backend, args.only)
    if args.command == "ops":
        return ops(args.only, args.missing)
    if args.command == "bench":
        return bench(args.args)
    if args.command == "exercises":
        return exercises_command(args)
    if args.lesson_command == "list":
        return lessons_list()
    return lessons_run(args.which, args.smoke, args.backend, args.out)


if __name__ == "__main__":
    sys.exit(main())
