"""`taskstate-server backup --store sqlite:///... DEST`: an online, consistent SQLite copy."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..backends import StoreURLError
from ..config import DEFAULT_STORE
from . import add_store_flag, store_url

NAME = "backup"

OTHER_STORES = (
    "backup copies sqlite:// stores only. Redis: use its own persistence (AOF with "
    "appendfsync, RDB snapshots; copy the files Redis writes). DynamoDB: point-in-time "
    "recovery or on-demand backups. memory://: there is nothing to back up"
)


def add_parser(subparsers: Any) -> None:
    p: argparse.ArgumentParser = subparsers.add_parser(
        NAME,
        help="copy a sqlite:// store to a file, consistently, while the server runs",
        description="Copies a SQLite store with SQLite's online backup API: a consistent "
        "snapshot of every committed task, taken while the server keeps serving (`cp` of a "
        "live database misses the writes still in its -wal file). The copy is checked with "
        "PRAGMA integrity_check and appears under DEST only once complete. Restore by "
        "stopping the server and serving the copy (--store sqlite:////path/to/DEST).",
    )
    add_store_flag(p, "the store to copy (the server's --store)", DEFAULT_STORE)
    p.add_argument("dest", metavar="DEST", help="the backup file to write (must not exist)")
    p.add_argument("--force", action="store_true", help="replace DEST if it exists")


def run(args: argparse.Namespace) -> int:
    url = store_url(args)
    if not url.startswith("sqlite:"):
        print(
            f"taskstate-server: {OTHER_STORES} (got --store {url.split('://')[0]}://...)",
            file=sys.stderr,
        )
        return 2
    from ..backends.sqlite import sqlite_path
    from ..backends.sqlite.backup import BackupError, backup_database

    try:
        report = backup_database(sqlite_path(url), args.dest, replace=args.force)
    except (StoreURLError, BackupError) as exc:
        print(f"taskstate-server: {exc}", file=sys.stderr)
        return 1
    tasks = f"{report.tasks} task" + ("" if report.tasks == 1 else "s")
    print(f"backed up {tasks} ({report.size_bytes} bytes) to {report.dest}")
    return 0
