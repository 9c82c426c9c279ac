"""An exclusive lock file (flock) that names the pid holding it.

The kernel drops an flock when its holder exits, however it exits (kill -9
included), so a lock file left behind never blocks anyone: only a live holder
does. The file is never deleted, because deleting it would let two processes
lock two different files of the same name.
"""

from __future__ import annotations

import contextlib
import fcntl
import os


class LockHeld(Exception):
    """Another open file holds the lock; `pid` is its holder's, when it wrote one."""

    def __init__(self, path: str, pid: int | None) -> None:
        super().__init__(path)
        self.path = path
        self.pid = pid


class FileLock:
    """`acquire()` once, `release()` once; not re-entrant. flock locks belong to the
    open file, so a second FileLock on the same path is refused even in this process."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        """Raises LockHeld if another holder has it, OSError if the file cannot be opened."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = _read_pid(fd)
            os.close(fd)
            raise LockHeld(self.path, pid) from None
        except BaseException:
            os.close(fd)
            raise
        # Only the holder writes, so the pid a refused process reads is the holder's.
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # closing the file drops the lock


def _read_pid(fd: int) -> int | None:
    with contextlib.suppress(OSError, ValueError):
        return int(os.pread(fd, 32, 0).decode("ascii").strip())
    return None
