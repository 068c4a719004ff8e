"""Writing a file so that it is never seen half-written: ``with atomic_write(path) as f: f.write(...)``.

``tn.save`` writes checkpoints through it, and tinynet.data its generated MNIST-1D cache, so that a crash, a full
disk or a SIGKILL while writing leaves the previous file whole.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import time
import uuid
from collections.abc import Iterator
from typing import IO

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike) -> Iterator[IO[bytes]]:
    """A binary file to write ``path`` through: it replaces ``path`` only once completely on disk.

    The data goes to a temporary file ``.<name>.<random hex>.tmp`` in the same folder (a rename is only atomic
    within one file system), which is flushed and fsynced before ``os.replace`` puts it in place. If anything
    fails before that, the temporary file is removed and ``path`` is untouched.

    A process killed while saving cannot remove its temporary file, so each save first removes those of ``path``
    that are abandoned. A lock tells which are, not a guess: a save holds an exclusive ``flock`` on its
    temporary file from creating it to renaming it, and the system releases the lock when the process ends in any
    way, SIGKILL included. A temporary file whose lock can be taken is abandoned; one whose lock cannot belongs to
    a save running right now (another process, or another thread) and stays. A process id in the name could not
    tell: ids are reused, and differ between containers sharing a folder; an age could not either: a slow save is
    not a dead one. Where files cannot be locked, an abandoned one is one nobody has written to for an hour; on
    Windows, a file another process has open cannot be removed, which keeps a running save's file safe.
    """
    path = os.fspath(path)
    folder, name = os.path.split(os.path.abspath(path))
    _remove_abandoned_temporaries(folder, name)  # first: it frees the disk space a killed save took
    out, tmp = _locked_temporary(folder, name)
    try:
        with out:
            yield out
            out.flush()
            os.fsync(out.fileno())
            if fcntl is not None:
                os.replace(tmp, path)  # while still locked: no other save can take the file for abandoned
        if fcntl is None:
            os.replace(tmp, path)  # Windows renames no open file
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise
    finally:
        _WRITING.discard(tmp)


_ABANDONED_AFTER_S = 3600  # where files cannot be locked: a temporary file nobody has written to for this long
# This process's saves running now. Their locks already keep them, except where flock is emulated with POSIX
# locks (NFS), which do not exclude the process that holds them: another thread's save would not see them held.
_WRITING: set[str] = set()


def _temporary_names(name: str) -> re.Pattern:
    return re.compile(rf"\.{re.escape(name)}\.[0-9a-f]{{32}}\.tmp")


def _lock(fd: int, wait: bool) -> bool | None:
    """Takes the exclusive lock on ``fd``: True once held, False if another holds it (only without ``wait``),
    None where the file system has no locks."""
    if fcntl is None:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        return True
    except BlockingIOError:
        return False
    except OSError:  # ENOLCK, EOPNOTSUPP: a file system without locks
        return None


def _locked_temporary(folder: str, name: str) -> tuple[IO[bytes], str]:
    """A new temporary file for ``name``, open for writing and locked; and its path."""
    for _ in range(100):
        tmp = os.path.join(folder, f".{name}.{uuid.uuid4().hex}.tmp")
        out = open(tmp, "xb")  # atomic_write closes it
        _WRITING.add(tmp)
        try:
            _lock(out.fileno(), wait=True)
            # Between creating the file and locking it, another save may have found it unlocked, so abandoned,
            # and removed it: then start again under a new name.
            if os.path.samestat(os.fstat(out.fileno()), os.stat(tmp)):
                return out, tmp
        except FileNotFoundError:
            pass
        except BaseException:
            out.close()
            _WRITING.discard(tmp)
            with contextlib.suppress(FileNotFoundError):
                os.remove(tmp)
            raise
        out.close()
        _WRITING.discard(tmp)
    raise OSError(f"tn.save: could not create a temporary file for {name!r} in {folder!r}")


def _remove_abandoned_temporaries(folder: str, name: str) -> None:
    """Removes the temporary files that saves to ``name`` left when killed (only that name's, only files)."""
    pattern = _temporary_names(name)
    try:
        names = os.listdir(folder)
    except OSError:
        return  # the save itself says what is wrong with the folder
    for other in names:
        if pattern.fullmatch(other) and os.path.join(folder, other) not in _WRITING:
            _remove_if_abandoned(os.path.join(folder, other))


def _remove_if_abandoned(tmp: str) -> None:
    if fcntl is None:
        with contextlib.suppress(OSError):  # refused while a running save has it open
            os.remove(tmp)
        return
    try:  # a link is not followed, a FIFO not waited on; a folder or another user's file does not open
        fd = os.open(tmp, os.O_RDWR | os.O_NOFOLLOW | os.O_NONBLOCK)  # RDWR: NFS's flock wants a writable file
    except OSError:
        return
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return
        locked = _lock(fd, wait=False)
        if locked is False or (locked is None and time.time() - info.st_mtime < _ABANDONED_AFTER_S):
            return  # a save is writing it right now
        if os.path.samestat(info, os.lstat(tmp)):  # still the file that was checked
            os.remove(tmp)
    except OSError:
        pass
    finally:
        os.close(fd)
