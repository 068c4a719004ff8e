"""Numba's disk cache, made safe for several processes compiling at once (`tinynet warmup`'s, MPI ranks), and
for kernels that compile in code from other files of this package.

Numba keeps one index per function: its compiled overloads by signature, each in a numbered data file. A new
overload takes the first number its index does not hold yet, read when the save begins. Two processes saving
different overloads of one function at once (`tinynet warmup` compiles float32 in one, float64 in the other)
both take number 1, and when their writes interleave the index can end up naming the other process's code:
the next program then loads float64 code for float32 arrays (seen once in five warm-ups: "can't unbox array
from PyObject into native value"). Here each save holds an exclusive lock on a file in the cache's folder from
reading the index to writing the data, so saves to one folder never interleave.
"""

import functools
import glob
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


PACKAGE = os.path.dirname(os.path.abspath(__file__))


def stamp_with_package_sources() -> None:
    """Make every cached kernel of this package stale once any of its source files changes (idempotent).

    Numba checks a cached kernel against its own file only, but kernels compile in functions of other files
    (common's exp, conv's use of linalg's copies) and call C functions that tile.py compiles (tile.gemm): a cached
    kernel of an unchanged file, calling a C function whose arguments changed, crashed the process (seen when
    tile.py's arguments changed and linalg.py did not). Each index of a kernel here is stamped with the package's
    files too (their sizes and modification times), so an edit or an update of any of them compiles them again.
    """
    init = caching.IndexDataCacheFile.__init__
    if getattr(init, "stamps_package", False):
        return
    sources = tuple((os.path.basename(f), os.stat(f).st_mtime, os.stat(f).st_size) for f in sorted(_package_files()))

    @functools.wraps(init)
    def stamped_init(self, cache_path, filename_base, source_stamp):
        ours = _is_package_cache(cache_path)
        init(self, cache_path, filename_base, (source_stamp, sources) if ours else source_stamp)

    stamped_init.stamps_package = True
    caching.IndexDataCacheFile.__init__ = stamped_init


def _is_package_cache(cache_path: str) -> bool:
    """Whether numba keeps this package's kernels in cache_path: the package's __pycache__ (in the tree), or the
    folder numba names after the package's path inside NUMBA_CACHE_DIR or the user's cache (numba_cpu_<sha1 of the
    path>: there the path itself does not appear, and a stale kernel calling tile.py's changed C function ran its
    conv2d three times slower, reading arguments that were no longer passed)."""
    path = os.path.normpath(cache_path)
    if path == os.path.join(PACKAGE, "__pycache__"):
        return True
    return os.path.basename(path) == caching._CacheLocator.get_suitable_cache_subpath(os.path.join(PACKAGE, "x.py"))


def _package_files() -> list[str]:
    return glob.glob(os.path.join(PACKAGE, "*.py"))
