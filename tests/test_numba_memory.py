"""The numba backend keeps freed memory for the next arrays (kernels/numba_cpu/common.py, _keep_freed_memory).

Without it, glibc returned a layer norm's (8192, 256) arrays to the system after a conv2d step had moved its
thresholds, and every call paid ~1,000 page faults for fresh pages (3.1 ms instead of 0.6). Counted, not timed:
page faults per call are deterministic where times are not. Run in a fresh process, whose allocator state no
other test has touched.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("numba")
pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc: Linux only")

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = """
import resource
import numpy as np
from kernels.numba_cpu import conv, normalization

rng = np.random.default_rng(0)
x, w = rng.standard_normal((64, 16, 28, 28), dtype=np.float32), rng.standard_normal((32, 16, 3, 3), dtype=np.float32)
rows = rng.standard_normal((8192, 256), dtype=np.float32)
scale, shift, geometry = np.ones(256, np.float32), np.zeros(256, np.float32), ((1, 1), (1, 1), (1, 1))

def layer_norm_step():
    y, mean, rstd = normalization.layer_norm_forward(rows, scale, shift, 1e-5)
    normalization.layer_norm_backward(y, rows, scale, mean, rstd)

for _ in range(2):  # a convolution's arrays, then a layer norm's: what moved glibc's thresholds
    conv.conv2d_backward(conv.conv2d_forward(x, w, *geometry), x, w, *geometry)
    layer_norm_step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(5):
    layer_norm_step()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _page_faults(env: dict[str, str]) -> int:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=True
    )
    return int(done.stdout.split()[-1])


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MALLOC_", "GLIBC_TUNABLES"))}
    return {**env, "PYTHONPATH": str(ROOT), "NUMBA_NUM_THREADS": "2"}


def test_repeated_arrays_reuse_freed_memory():
    # 5 calls of 3 arrays of 8 MB: fresh pages would be thousands of faults; kept memory, next to none.
    assert _page_faults(_clean_env()) < 100


def test_a_user_tuned_malloc_is_left_alone():
    # With a MALLOC_ variable set, glibc keeps its own moving thresholds: the fresh pages come back (this also
    # shows that the first test can fail).
    assert _page_faults({**_clean_env(), "MALLOC_ARENA_MAX": "8"}) > 1000
