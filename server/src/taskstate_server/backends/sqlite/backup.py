"""A consistent copy of a live SQLite store, with SQLite's online backup API.

`cp taskstate.db` copies only the main file, while recent commits live in the
WAL next to it. The backup API instead copies every page as of one read
transaction: a snapshot of exactly the committed writes at that moment, taken
while the server keeps writing (in WAL mode a reader blocks no writer). It does
not touch the server's lock file, so it runs beside the one server the lock admits.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from .backend import BUSY_TIMEOUT_MS
from .schema import renew_epoch


class BackupError(Exception):
    """The backup could not be made; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class BackupReport:
    dest: Path
    tasks: int
    size_bytes: int


def backup_database(source: str, dest: str, *, replace: bool = False) -> BackupReport:
    """Copies database `source` to a new file `dest`, checked with `PRAGMA integrity_check`.

    The copy is written next to `dest` and renamed into place, so `dest` is either
    absent or complete, never half-written.
    """
    src, dst = Path(source), Path(dest)
    _check_paths(src, dst, replace)
    tmp = dst.with_name(f".{dst.name}.partial-{os.getpid()}")
    try:
        tasks = _copy(src, tmp)
        _fsync(tmp)
        os.replace(tmp, dst)
        _fsync(dst.parent)
    finally:
        for leftover in (tmp, Path(f"{tmp}-journal"), Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()
    return BackupReport(dst, tasks, dst.stat().st_size)


def _check_paths(src: Path, dst: Path, replace: bool) -> None:
    if not src.is_file():
        raise BackupError(f"no SQLite database at {src}")
    if dst.is_dir():
        raise BackupError(f"{dst} is a directory: name the backup file, e.g. {dst / src.name}")
    if not dst.parent.is_dir():
        raise BackupError(f"the directory {dst.parent} does not exist")
    if dst.exists():
        if dst.resolve() == src.resolve():
            raise BackupError(f"{dst} is the database itself: back up to another file")
        if not replace:
            raise BackupError(f"{dst} exists: pass --force to replace it")


def _copy(src: Path, tmp: Path) -> int:
    # mode=rw: never create a database where the user mistyped a path.
    uri = f"file:{quote(str(src.resolve()))}?mode=rw"
    try:
        source = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_MS / 1000)
    except sqlite3.Error as exc:
        raise BackupError(f"cannot open {src}: {exc}") from exc
    try:
        _check_taskstate(source, src)
        try:
            target = sqlite3.connect(tmp)
        except sqlite3.Error as exc:
            raise BackupError(f"cannot write {tmp.parent}: {exc}") from exc
        try:
            # pages=-1 (the default): every page in ONE step, so in ONE read transaction.
            # Copied in steps, the pages of each step could come from a different commit.
            source.backup(target)
            (verdict,) = target.execute("PRAGMA integrity_check").fetchone()
            if verdict != "ok":
                raise BackupError(f"the copy of {src} fails its integrity check: {verdict}")
            (tasks,) = target.execute("SELECT COUNT(*) FROM tasks").fetchone()
            renew_epoch(target)
        except sqlite3.Error as exc:
            raise BackupError(f"backing up {src} failed: {exc}") from exc
        finally:
            target.close()
    finally:
        source.close()
    return int(tasks)


def _check_taskstate(conn: sqlite3.Connection, src: Path) -> None:
    try:
        row = conn.execute(
            "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'tasks'"
        ).fetchone()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{src} is not a SQLite database ({exc})") from exc
    if row is None:
        raise BackupError(f"{src} is not a taskstate database (it has no tasks table)")


def _fsync(path: Path) -> None:
    """The copy is durable before it takes DEST's name, and the name once renamed."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
