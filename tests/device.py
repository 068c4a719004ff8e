"""Moving test data to a backend's device and back, so one kernel test runs on every backend.

A backend's kernels take that backend's arrays (cupy refuses NumPy arrays rather than upload them). Tests
build their inputs with NumPy, hand ``to_device(inputs)`` to the backend's kernel and compare
``to_host(result)`` with the reference's. On numpy and numba both are the identity.
"""

import numpy as np

from tinynet import backend


def to_device(value, xp=None):
    """``value`` (an array, or a tuple of them; anything else as it is) as arrays of ``xp`` (default: the
    active backend's), keeping a view's layout: a strided, transposed or broadcast input stays such a
    view, so the kernel meets the layout the test chose."""
    xp = xp or backend.active().xp
    if isinstance(value, tuple):
        return tuple(to_device(v, xp) for v in value)
    if xp is np or not isinstance(value, np.ndarray):
        return value
    return same_layout(value, xp)


def same_layout(view: np.ndarray, xp):
    """``view``'s values in an array of ``xp`` with its strides: its base array copied over, viewed alike."""
    base = view
    while isinstance(base.base, np.ndarray):
        base = base.base
    if view.flags.c_contiguous or not base.flags.c_contiguous:
        return xp.asarray(view)
    offset = view.__array_interface__["data"][0] - base.__array_interface__["data"][0]
    flat = xp.asarray(base).reshape(-1)[offset // view.itemsize :]
    return xp.lib.stride_tricks.as_strided(flat, view.shape, view.strides)


def to_host(value):
    """``value`` with every device array (also inside a tuple) copied back as a NumPy array."""
    if isinstance(value, tuple):
        return tuple(to_host(v) for v in value)
    return value.get() if type(value).__module__.startswith("cupy") else value
