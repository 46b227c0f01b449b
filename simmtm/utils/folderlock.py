"""One process at a time in a run folder (study, sweep, classify, compare, ablate, anomaly).

:func:`hold` takes an advisory lock (``fcntl.flock``) on ``<folder>/.lock``, which holds the
pid of its owner. A second process asking for the same folder is refused at once with a
ValueError naming that pid; the kernel drops the lock when its process ends, however it ends
(a killed run never leaves a folder locked). Within one process the lock is re-entrant (a
study that runs again in the same notebook, a sweep running its variants' studies), counted,
and released (the file removed) when the last holder lets go or the process exits.

On Linux and macOS the lock is ``fcntl.flock``; on Windows it is ``msvcrt.locking`` on one
byte far past the pid (so another process can still read the pid), which Windows also drops when
its process ends. Without either, :func:`hold` only counts this process's holders.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover  (Windows)
    fcntl = None
try:
    import msvcrt
except ImportError:  # Linux, macOS
    msvcrt = None

LOCK_NAME = ".lock"
LOCK_BYTE = 1 << 20  # msvcrt locks a byte range: one byte far past the pid, so the pid stays readable
_HELD: dict[str, list] = {}  # real path of a lock file -> [fd, holders]


class FolderLockedError(ValueError):
    """The run folder is in use by another process."""


def holder_pid(folder: str | Path) -> int | None:
    """The pid written in ``folder``'s lock file (None if there is none or it is unreadable)."""
    try:
        return int((Path(folder) / LOCK_NAME).read_text().strip())
    except (OSError, ValueError):
        return None


def acquire(folder: str | Path) -> None:
    """Lock ``folder`` (created if missing) for this process, or raise :class:`FolderLockedError`."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_NAME
    key = os.path.realpath(path)
    if key in _HELD:
        _HELD[key][1] += 1
        return
    if fcntl is None and msvcrt is None:
        _HELD[key] = [None, 1]
        return
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            _lock(fd)
        except OSError:  # BlockingIOError (flock) or PermissionError (msvcrt): another process holds it
            os.close(fd)
            pid = holder_pid(folder)
            raise FolderLockedError(f"{folder} is in use by another simmtm run (pid {pid if pid else 'unknown'}); "
                                    "wait for it to end or write to another output path") from None
        # The previous holder may have removed the file between our open and our lock: then we
        # hold a lock on a file nobody else can see, so take the lock again on the current one.
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, f"{os.getpid()}\n".encode())
    _HELD[key] = [fd, 1]


def _lock(fd: int) -> None:
    """Lock ``fd`` for this process without waiting; OSError if another process holds it."""
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    else:
        os.lseek(fd, LOCK_BYTE, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)


def _unlock(fd: int, path: Path) -> None:
    """Remove the lock file, unlock and close ``fd``, in the order each system allows."""
    if fcntl is not None:
        path.unlink(missing_ok=True)  # before unlocking: a waiting process then sees the file is gone
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
        return
    os.lseek(fd, LOCK_BYTE, os.SEEK_SET)
    msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
    os.close(fd)  # Windows removes no file another process has open: unlink after closing
    try:
        path.unlink(missing_ok=True)
    except PermissionError:  # another process opened it meanwhile; it stays, unlocked, for that one
        pass


def release(folder: str | Path) -> None:
    """Let go of one hold on ``folder``; the last one removes the lock file and unlocks it."""
    path = Path(folder) / LOCK_NAME
    key = os.path.realpath(path)
    held = _HELD.get(key)
    if held is None:
        return
    held[1] -= 1
    if held[1] > 0:
        return
    del _HELD[key]
    if held[0] is not None:
        _unlock(held[0], path)


@contextmanager
def hold(folder: str | Path):
    """``with hold(folder): ...`` -- the folder is this process's for the block (module docstring)."""
    acquire(folder)
    try:
        yield Path(folder)
    finally:
        release(folder)
