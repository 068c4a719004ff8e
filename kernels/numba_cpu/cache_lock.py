"""Numba's disk cache, made safe for several processes compiling at once (`tinynet warmup`'s, MPI ranks).

Numba keeps one index per function: its compiled overloads by signature, each in a numbered data file. A new
overload takes the first number its index does not hold yet, read when the save begins. Two processes saving
different overloads of one function at once (`tinynet warmup` compiles float32 in one, float64 in the other)
both take number 1, and when their writes interleave the index can end up naming the other process's code:
the next program then loads float64 code for float32 arrays (seen once in five warm-ups: "can't unbox array
from PyObject into native value"). Here each save holds an exclusive lock on a file in the cache's folder from
reading the index to writing the data, so saves to one folder never interleave.
"""

import functools
import os

from numba.core import caching

try:
    import fcntl
except ImportError:  # Windows: no flock; saves stay as numba makes them
    fcntl = None

LOCK_NAME = "tinynet-cache.lock"


def lock_saves() -> None:
    """Make every numba cache save in this process take the folder's lock (idempotent)."""
    save = caching.IndexDataCacheFile.save
    if fcntl is None or getattr(save, "takes_lock", False):
        return

    @functools.wraps(save)
    def locked_save(self, key, data):
        with open(os.path.join(self._cache_path, LOCK_NAME), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
            return save(self, key, data)

    locked_save.takes_lock = True
    caching.IndexDataCacheFile.save = locked_save
