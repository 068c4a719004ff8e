"""``tinynet doctor``: check the install and say what to fix, one line per check.

Each check returns (ok, what it found, how to fix it or a tip; "" when there is nothing to do). Problems that
stop tinynet from working make the exit status 1; advice (a slow setting) is printed but does not fail.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from tinynet import backend
from tinynet import backends as pytorch_backends

REQUIRED = {
    "numpy": "numpy", "numba": "numba", "scipy": "scipy", "matplotlib": "matplotlib", "sklearn": "scikit-learn",
    "mnist1d": "mnist1d", "mlxtend": "mlxtend",
}  # fmt: skip
Check = tuple[bool, str, str]


def python_version() -> Check:
    found = f"Python {sys.version.split()[0]}"
    ok = sys.version_info >= (3, 10)
    return ok, found, "" if ok else "use Python 3.10 or newer"


def packages() -> Check:
    # find_spec looks without importing (importing mlxtend imports pandas, mnist1d imports SciPy and pyplot).
    missing = [package for module, package in REQUIRED.items() if importlib.util.find_spec(module) is None]
    found = f"missing: {', '.join(missing)}" if missing else f"all {len(REQUIRED)} required packages installed"
    fix = f"pip install {' '.join(missing)}  (or: pip install -e . in the checkout)" if missing else ""
    return not missing, found, fix


def backends() -> Check:
    states = {name: backend.status(name) for name in backend.MODULES}
    found = "; ".join(f"{name} {'usable' if ok else 'not usable'}" for name, (ok, _) in states.items())
    broken = [f"{name}: {why}" for name, (ok, why) in states.items() if not ok and name != "cupy"]
    return not broken, found, " ".join(broken)  # cupy needs a GPU: its absence is no fault


def gpu() -> Check:
    ok, why = backend.status("cupy")
    return True, "cupy usable: GPU lessons and benchmarks will use it" if ok else f"no GPU backend ({why})", ""


def pytorch_flags() -> Check:
    """PyTorch's tn.backends flags (cudnn.benchmark, TF32...): a program may set them; say what they do here."""
    chosen = pytorch_backends.flags_set()
    if not chosen:
        found = "torch.backends flags (cudnn.benchmark, allow_tf32...): none set (accepted, with no effect here)"
        return True, found, ""
    tip = "; ".join(f"{name} = {value!r}: {meaning}" for name, value, meaning in chosen)
    return True, f"{len(chosen)} torch.backends flag(s) set by this program, none with an effect here", tip


def numba_compiles() -> Check:
    """Compile and cache one small kernel in a fresh process, as the first lesson on numba would."""
    code = "import numpy as np; from kernels import numba_cpu; numba_cpu.relu_forward(np.ones(3, np.float32))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    if result.returncode:
        last = (result.stderr.strip().splitlines() or ["(no message)"])[-1]
        return False, f"a numba kernel failed to compile: {last}", "pip install --upgrade numba llvmlite"
    return True, "numba compiles and caches kernels", ""


def output_folder() -> Check:
    folder = Path("tinynet-out")
    try:
        folder.mkdir(exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder):
            pass
    except OSError as err:
        return False, f"cannot write lesson output to ./{folder} ({err})", "run from a folder you can write to"
    return True, f"lesson plots and results go to ./{folder}", ""


def threads() -> Check:
    cores = os.cpu_count() or 1
    blas = os.environ.get("OPENBLAS_NUM_THREADS")
    found = f"{cores} cores; OPENBLAS_NUM_THREADS={blas or 'unset'}"
    advice = ""
    if cores <= 2 and blas != "1":
        advice = "on 2 cores small models train faster with export OPENBLAS_NUM_THREADS=1 (BLAS threads fight numba's)"
    return True, found, advice


CHECKS: list[tuple[str, Callable[[], Check]]] = [
    ("python", python_version), ("packages", packages), ("backends", backends), ("gpu", gpu),
    ("flags", pytorch_flags), ("numba", numba_compiles), ("output", output_folder), ("threads", threads),
]  # fmt: skip


def run() -> int:
    """Print every check; 0 if tinynet can run here, 1 if something must be fixed first."""
    failed = 0
    for name, check in CHECKS:
        try:
            ok, found, fix = check()
        except Exception as err:  # a check that breaks is itself a finding
            ok, found, fix = False, f"the check failed: {type(err).__name__}: {err}", "report this as a bug"
        print(f"  {'ok ' if ok else 'FIX'}  {name:<9} {found}")
        if fix:
            print(f"       {'fix:' if not ok else 'tip:'} {fix}")
        failed += not ok
    print("\nall good: try `tinynet lessons run 1`" if not failed else f"\n{failed} problem(s) to fix (see above)")
    return 1 if failed else 0
