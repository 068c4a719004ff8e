"""Saves to numba's disk cache wait for a lock (kernels/numba_cpu/cache_lock.py), so that processes compiling
at once, as `tinynet warmup`'s do, cannot interleave their writes to one function's index."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.numba_marks import jit_compiles, numba_usable

fcntl = pytest.importorskip("fcntl", reason="the cache lock uses flock, which this platform lacks")

# A cached function of its own file (numba caches only functions defined in files). Before the locked save, the
# child says where it is about to save and waits for the test's go-ahead, so that the test holds the lock first.
CHILD = """
import sys

import numba
import numpy as np
from numba.core import caching

import kernels.numba_cpu.common  # noqa: F401  (installs the locked save)

locked_save = caching.IndexDataCacheFile.save


def announced_save(self, key, data):
    print(self._cache_path, flush=True)
    sys.stdin.readline()
    locked_save(self, key, data)


caching.IndexDataCacheFile.save = announced_save


@numba.njit(cache=True)
def twice(x):
    return 2 * x


twice(np.float32(1.5))
print("saved", flush=True)
"""


@numba_usable
@jit_compiles
def test_a_cache_save_waits_while_another_process_holds_the_lock(tmp_path):
    from kernels.numba_cpu.cache_lock import LOCK_NAME

    script = tmp_path / "child.py"
    script.write_text(CHILD)
    root = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "cache"), "PYTHONPATH": root}
    child = subprocess.Popen(
        [sys.executable, str(script)], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        folder = Path(child.stdout.readline().strip())
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / LOCK_NAME, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            child.stdin.write("go\n")
            child.stdin.flush()
            time.sleep(1.0)
            assert child.poll() is None, "the child saved although the lock was held"
            assert not list(folder.glob("*.nbi")), "an index was written while the lock was held"
        out, _ = child.communicate(timeout=120)  # the lock is released: the save goes ahead
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == 0 and out.strip() == "saved"
    assert list(folder.glob("*.nbi")) and list(folder.glob("*.nbc"))
