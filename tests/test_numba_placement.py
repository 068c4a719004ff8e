"""Where numba's threads run (kernels/numba_cpu/placement.py), and the 2-D products that run on them.

Pinning is process-wide, so each case runs in a fresh Python process of its own.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from tests.numba_marks import numba_usable

SCRIPT = """
import json, os
import numpy as np
from kernels.numba_cpu import describe, linalg, placement
import numba

before = sorted(os.sched_getaffinity(0))
a = np.ones((512, 512), np.float32)
linalg.matmul(a, a)  # 134 million multiply-adds: threaded
tasks = [int(t) for t in os.listdir("/proc/self/task") if int(t) != os.getpid()]
print(json.dumps({
    "before": before,
    "after": sorted(os.sched_getaffinity(0)),
    "workers": sorted(placement._worker_cpus),
    "threads": numba.get_num_threads(),
    "masks": [sorted(os.sched_getaffinity(t)) for t in tasks],
    "described": describe()["thread placement"],  # what tinynet info shows
}))
"""

linux_with_two_cpus = pytest.mark.skipif(
    not sys.platform.startswith("linux") or len(os.sched_getaffinity(0)) < 2,
    reason="pinning threads needs Linux and at least 2 CPUs for this process",
)


def _run(**env: str) -> dict:
    variables = {k: v for k, v in os.environ.items() if k not in ("OMP_PROC_BIND", "OMP_PLACES", "GOMP_CPU_AFFINITY")}
    variables.update(NUMBA_NUM_THREADS="2", **env)
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=variables, timeout=300)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@numba_usable
@linux_with_two_cpus
def test_each_worker_is_pinned_to_a_core_of_its_own_and_the_caller_is_left_free():
    seen = _run()
    assert seen["after"] == seen["before"]  # the caller's CPU set is restored after each kernel
    cpus = seen["before"]
    assert seen["workers"] == [cpus[1]]  # worker 1 of 2 on the second CPU; the caller's is the first
    assert [cpus[1]] in seen["masks"]  # that thread really is pinned there
    assert seen["described"].startswith(f"workers pinned to CPUs [{cpus[1]}]")


@numba_usable
@linux_with_two_cpus
@pytest.mark.parametrize(
    "setting", [{"TINYNET_PIN_THREADS": "0"}, {"OMP_PROC_BIND": "true"}, {"OMPI_COMM_WORLD_LOCAL_SIZE": "2"}]
)
def test_nothing_is_pinned_when_the_user_says_so_places_threads_or_shares_the_cores_with_mpi_ranks(setting):
    seen = _run(**setting)
    assert seen["workers"] == [] and seen["described"] == "left to the OS (nothing pinned)"
    if "OMP_PROC_BIND" not in setting:  # (OpenMP's own binding pins threads its way)
        assert all(mask == seen["before"] for mask in seen["masks"])


@numba_usable
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "shape_a, shape_b, transpose_b",
    [
        ((700, 128), (128, 1000), False),  # big enough for numba's threads
        ((300, 64), (300, 64), True),  # b = a linear layer's weight, transposed (F-contiguous)
        ((6, 50, 64), (64, 300), False),  # a batch times one matrix: folded into one product
        ((600,), (600, 300), False),  # a vector times a matrix
        ((64, 40), (40, 20), False),  # tiny: NumPy's own
    ],
)
def test_numba_matmul_agrees_with_the_reference(dtype, shape_a, shape_b, transpose_b):
    from kernels import numpy_ref
    from kernels.numba_cpu import linalg

    rng = np.random.default_rng(3)
    a = rng.standard_normal(shape_a).astype(dtype)
    b = rng.standard_normal(shape_b).astype(dtype)
    b = b.T if transpose_b else b
    got, expected = linalg.matmul(a, b), numpy_ref.matmul(a, b)
    assert got.shape == expected.shape and got.dtype == expected.dtype
    np.testing.assert_allclose(got, expected, rtol=1e-4 if dtype == np.float32 else 1e-12, atol=1e-4)
    a_t = np.ascontiguousarray(np.swapaxes(a, -1, -2)) if a.ndim == 2 else None
    if a_t is not None:  # a transposed view (a weight gradient's x^T): not C-contiguous
        np.testing.assert_allclose(linalg.matmul(a_t.T, b), expected, rtol=1e-4, atol=1e-4)


FORK_SCRIPT = """
import os
import numpy as np
from kernels.numba_cpu import linalg, placement

a = np.ones((512, 512), np.float32)
linalg.matmul(a, a)
parent = sorted(placement._worker_cpus)
read, write = os.pipe()
if os.fork() == 0:
    os.write(write, repr(sorted(placement._worker_cpus)).encode())
    os._exit(0)
os.wait()
print(parent, os.read(read, 100).decode())
"""


@numba_usable
@linux_with_two_cpus
def test_a_forked_child_pins_nothing_of_its_own():
    variables = {k: v for k, v in os.environ.items() if k not in ("OMP_PROC_BIND", "OMP_PLACES", "GOMP_CPU_AFFINITY")}
    result = subprocess.run(
        [sys.executable, "-c", FORK_SCRIPT], capture_output=True, text=True, env={**variables, "NUMBA_NUM_THREADS": "2"}
    )
    assert result.returncode == 0, result.stderr
    parent, child = result.stdout.split("] ")
    assert parent != "[" and child.strip() == "[]"  # the parent pinned its worker; the child has no workers
