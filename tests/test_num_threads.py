"""tn.set_num_threads / tn.get_num_threads, as torch's: the numba kernels' threads and NumPy's BLAS's."""

import os
import subprocess
import sys

import pytest
from numba_marks import numba_usable

import tinynet as tn
from tinynet import threads

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def restore_threads():
    """numba's count, NumPy's BLAS's and tinynet's record of them, as they were before the test."""
    import numba
    import threadpoolctl

    before, count = numba.get_num_threads(), threads.requested()
    with threadpoolctl.threadpool_limits(limits=None):  # (restores the BLAS libraries' counts on leaving)
        yield
    numba.set_num_threads(before)
    threads._count = count


def test_get_num_threads_defaults_to_the_cores_this_process_may_use():
    code = "import os, tinynet as tn; print(tn.get_num_threads(), len(os.sched_getaffinity(0)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    got, cores = result.stdout.split()
    assert got == cores


@pytest.mark.parametrize("bad", [0, -2])
def test_a_count_below_one_is_refused(bad):
    with pytest.raises(tn.ArgumentError, match=rf"set_num_threads: expected a positive number of threads, got {bad}"):
        tn.set_num_threads(bad)


@pytest.mark.parametrize("bad", [2.5, True, "2", None])
def test_a_count_that_is_not_an_int_is_refused(bad):
    with pytest.raises(TypeError, match=r"set_num_threads: expected an int number of threads, got \w+"):
        tn.set_num_threads(bad)


@numba_usable
def test_a_count_set_before_numba_loads_reaches_its_kernels_and_numpys_blas():
    """As a PyTorch script does it: the count first, then the work. Numba is not imported for it, and its kernels
    then run on that count (no more than numba started); NumPy's BLAS takes it too, SciPy's (numba's) stays at one."""
    code = "\n".join([
        "import sys, numpy as np, tinynet as tn, threadpoolctl",
        "tn.set_num_threads(1)",
        "assert 'numba' not in sys.modules and tn.get_num_threads() == 1",
        "tn.set_backend('numba')",
        "tn.relu(tn.tensor(np.ones(100_000, np.float32)))",
        "import numba",
        "numpys = [lib['num_threads'] for lib in threadpoolctl.threadpool_info() if 'numpy' in lib['filepath']]",
        "print(numba.get_num_threads(), numpys)",
        "tn.set_num_threads(64)",
        "print(numba.get_num_threads() == numba.config.NUMBA_NUM_THREADS, tn.get_num_threads())",
    ])  # fmt: skip
    env = {**os.environ, "NUMBA_NUM_THREADS": "2"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    first, second = result.stdout.splitlines()
    assert first == "1 [1]"
    assert second == "True 64"


@numba_usable
def test_set_num_threads_changes_a_loaded_numba_backend(restore_threads):
    import numba

    tn.backend.load("numba")
    tn.set_num_threads(1)
    assert numba.get_num_threads() == 1 and tn.get_num_threads() == 1
    tn.set_num_threads(2)
    assert numba.get_num_threads() == min(2, numba.config.NUMBA_NUM_THREADS)
