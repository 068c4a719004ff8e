"""Numba-JIT CPU kernels: NumPy arrays in and out, so numba and numpy tensors mix freely.

No kernel is overridden yet: every entry of ``numpy_ref.KERNELS`` falls back to the reference
(``tinynet info`` lists them). JIT kernels defined here with the reference's names replace it one for one.
"""

import numpy as np

try:
    import numba
except ImportError:  # reported by check_available(), so that `tinynet info` can say why
    numba = None

NAME = "numba"


def check_available() -> None:
    """Raise RuntimeError saying what is missing when this backend cannot run here."""
    if numba is None:
        raise RuntimeError("numba is not installed; fix: pip install numba")


def array_module():
    """Tensors on this backend hold NumPy arrays."""
    return np
