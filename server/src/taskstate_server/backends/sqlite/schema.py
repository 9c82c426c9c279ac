"""The SQLite store's schema and its in-place migrations (`PRAGMA user_version`).

A new database is created at version 1 and then migrated like an old one, so the
migration path runs on every database, not only on the rare old file.
"""

from __future__ import annotations

import secrets
import sqlite3
from typing import Final

from ..base import BackendError

SCHEMA_VERSION: Final = 3

# Version 1. `data` is the canonical JSON written by TaskStore; the other columns
# are only the facts the backend must index to stay atomic.
_V1: Final = (
    """
    CREATE TABLE IF NOT EXISTS tasks (
        owner      TEXT    NOT NULL,
        task_id    TEXT    NOT NULL,
        version    INTEGER NOT NULL,
        data       BLOB    NOT NULL,
        active     INTEGER NOT NULL,
        expire_at  INTEGER,
        request_id TEXT,
        PRIMARY KEY (owner, task_id)
    ) WITHOUT ROWID
    """,
    # Idempotent creates: at most one task per (owner, request_id).
    """
    CREATE UNIQUE INDEX IF NOT EXISTS tasks_request_id
        ON tasks (owner, request_id) WHERE request_id IS NOT NULL
    """,
    # The active-task quota count touches only the owner's active rows.
    "CREATE INDEX IF NOT EXISTS tasks_active ON tasks (owner, active, expire_at)",
    # The sweeper finds expired rows without scanning tasks that never expire.
    "CREATE INDEX IF NOT EXISTS tasks_expire_at ON tasks (expire_at) WHERE expire_at IS NOT NULL",
)

# Version 2 (issue 10): the index facts of `Record`, and the per-owner event log.
_V2: Final = (
    "ALTER TABLE tasks ADD COLUMN status TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE tasks ADD COLUMN lease_until INTEGER",
    "ALTER TABLE tasks ADD COLUMN claim_group TEXT",
    # The one time the store reads its bytes. CAST: a newer SQLite reads a BLOB as JSONB.
    # Tasks written before version 2 have no lease and no lease policy: the NULLs are right.
    """
    UPDATE tasks SET status = CASE WHEN json_valid(CAST(data AS TEXT))
        THEN COALESCE(json_extract(CAST(data AS TEXT), '$.status'), '') ELSE '' END
    """,
    # ListTasks(statuses): one descending walk per status.
    "CREATE INDEX tasks_status ON tasks (owner, status, task_id)",
    # The lease sweeper, across owners; only leased tasks are in it.
    "CREATE INDEX tasks_lease ON tasks (lease_until) WHERE lease_until IS NOT NULL",
    # ClaimTask-next, any method or one; only claimable tasks are in them.
    "CREATE INDEX tasks_claim ON tasks (owner, task_id) WHERE claim_group IS NOT NULL",
    """
    CREATE INDEX tasks_claim_group ON tasks (owner, claim_group, task_id)
        WHERE claim_group IS NOT NULL
    """,
    # AUTOINCREMENT: a seq is never reused, even after the newest entries were trimmed.
    # `prev` is the owner's entry before this one, kept so a page needs no lookback.
    """
    CREATE TABLE events (
        seq     INTEGER PRIMARY KEY AUTOINCREMENT,
        owner   TEXT    NOT NULL,
        task_id TEXT    NOT NULL,
        version INTEGER NOT NULL,
        kind    TEXT    NOT NULL,
        time    INTEGER NOT NULL,
        prev    INTEGER NOT NULL
    )
    """,
    "CREATE INDEX events_owner ON events (owner, seq)",
    "CREATE INDEX events_time ON events (time)",
    # Per owner, the newest seq trimmed: the owner's low watermark (and its head once every
    # entry of it is gone). Other owners' trims never touch it.
    """
    CREATE TABLE event_trims (
        owner   TEXT    PRIMARY KEY,
        through INTEGER NOT NULL
    ) WITHOUT ROWID
    """,
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID",
)


# Version 3 (issue 11): a removal's entry names the removed task's subject, so a watch
# scoped to a subject shows only its own removals ("" for the entries before).
_V3: Final = ("ALTER TABLE events ADD COLUMN subject TEXT NOT NULL DEFAULT ''",)


class NewerSchema(BackendError):
    """The file was written by a newer server."""


def migrate(conn: sqlite3.Connection, path: str) -> None:
    """Brings the database to SCHEMA_VERSION. Call inside a write transaction: the
    version is re-read under the lock, as another process may have migrated meanwhile."""
    (version,) = conn.execute("PRAGMA user_version").fetchone()
    if version > SCHEMA_VERSION:
        raise NewerSchema(
            f"{path} has schema version {version}; this server knows only "
            f"up to {SCHEMA_VERSION} (is it an older server?)"
        )
    if version < 1:
        for stmt in _V1:
            conn.execute(stmt)
    if version < 2:
        for stmt in _V2:
            conn.execute(stmt)
        # The log's incarnation: a cursor of another database never matches it.
        conn.execute("INSERT INTO meta (key, value) VALUES ('epoch', ?)", (secrets.token_hex(8),))
    if version < 3:
        for stmt in _V3:
            conn.execute(stmt)
    # Future migrations go here, each one step up from the previous version.
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def schema_version(conn: sqlite3.Connection) -> int:
    (version,) = conn.execute("PRAGMA user_version").fetchone()
    return int(version)


def renew_epoch(conn: sqlite3.Connection) -> None:
    """Gives a copy of the database a log incarnation of its own (a v1 file has none).

    A cursor read on the live database after the copy was taken would otherwise resume on
    the restored copy once new writes pass it, silently missing what came in between."""
    has_meta = conn.execute(
        "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'meta'"
    ).fetchone()
    if has_meta is not None:
        conn.execute("UPDATE meta SET value = ? WHERE key = 'epoch'", (secrets.token_hex(8),))
        conn.commit()
