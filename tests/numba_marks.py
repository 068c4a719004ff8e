"""Skip marks for tests of the numba backend itself: whether it runs here, and whether its JIT compiles."""

import os

import pytest

from tinynet import backend

_usable, _reason = backend.status("numba")
numba_usable = pytest.mark.skipif(not _usable, reason=_reason)
# With NUMBA_DISABLE_JIT=1 the kernels run as plain Python: nothing is compiled, so there are no compiled
# signatures or cache files for a test to look at (the kernels' results are checked all the same).
jit_compiles = pytest.mark.skipif(
    os.environ.get("NUMBA_DISABLE_JIT", "0") not in ("", "0"),
    reason="NUMBA_DISABLE_JIT is set: nothing is compiled, so there is no compiled code or cache to check",
)


def compiled_for(kernel, float_type) -> bool:
    """Whether ``kernel`` (a numba function, or a range kernel: ``kernel(threaded, start, stop, *args)``) has a
    compiled version whose first array argument holds ``float_type`` (a numba type)."""
    first = 3 if hasattr(kernel, "body") else 0
    return any(signature[first].dtype == float_type for signature in kernel.signatures)
