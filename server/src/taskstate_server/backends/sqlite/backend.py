"""`sqlite:///path.db`: the embedded, durable default store.

Every statement runs on ONE dedicated worker thread, so the connection is never
shared between threads and the process's own operations are serialized; each
write method is one `BEGIN IMMEDIATE` transaction, so even another process on
the same file cannot interleave with it. WAL with `synchronous=FULL` makes every
acknowledged write survive a `kill -9` (and a power loss).

Changes are published on the event-loop thread, never from the worker, because
the change listener (the store's hub) is not thread-safe.

A server opens its database `exclusive=True`: it holds a lock file `<db>.lock`
for the backend's life, so a second server on the same file refuses to start.
The data would survive two servers, but their watches would not: each follows
only its own process's writes. The lock is a separate file, not SQLite's own
exclusive locking mode, so `taskstate-server backup` can still read the
database while the server runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Final, TypeVar

from .._feed import LocalFeed
from ..base import (
    BackendError,
    Change,
    ChangeListener,
    DatabaseUnavailable,
    Feature,
    QuotaFull,
    Record,
    RecordMissing,
    ResyncListener,
    StoreURLError,
    VersionConflict,
)
from .file_lock import FileLock, LockHeld

T = TypeVar("T")

SCHEMA_VERSION: Final = 1
BUSY_TIMEOUT_MS: Final = 5000

# Schema version 1. `data` is the canonical JSON written by TaskStore; the other
# columns are only the facts the backend must index to stay atomic.
_SCHEMA_V1: Final = (
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

_COLUMNS: Final = "owner, task_id, version, data, active, expire_at"
_UNEXPIRED: Final = "(expire_at IS NULL OR expire_at > ?)"

_Work = Callable[[sqlite3.Connection], tuple[T, list[Change]]]
"""A unit of work for the worker thread: its result plus the changes it committed."""


class DatabaseInUse(BackendError):
    """Another server holds this database's lock file."""


def sqlite_path(url: str) -> str:
    """SQLAlchemy's convention: sqlite:///relative.db, sqlite:////absolute/path.db."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or len(url) == len(prefix):
        raise StoreURLError(
            f"bad SQLite URL {url!r}: use sqlite:///relative.db or sqlite:////absolute/path.db"
        )
    return url[len(prefix) :]


def lock_path(path: str) -> str | None:
    """Where the lock of database `path` lives; None for an in-memory database."""
    if path in ("", ":memory:"):
        return None
    return path + ".lock"


def _record(row: tuple[Any, ...]) -> Record:
    owner, task_id, version, data, active, expire_at = row
    return Record(
        owner=owner,
        task_id=task_id,
        version=version,
        data=bytes(data),
        active=bool(active),
        expire_at_ms=expire_at,
    )


def _begin(conn: sqlite3.Connection) -> None:
    # IMMEDIATE takes the write lock up front (waiting up to busy_timeout), so
    # a transaction never fails half-way when upgrading a read lock.
    conn.execute("BEGIN IMMEDIATE")


def _in_write_tx(conn: sqlite3.Connection, body: Callable[[], T]) -> T:
    _begin(conn)
    try:
        out = body()
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return out


class SqliteBackend:
    """One SQLite file, one connection, one worker thread.

    Construct with `SqliteBackend(path)` (the connection is opened lazily on
    first use) or `await SqliteBackend.open(path)` to open it, and surface a bad
    path or a newer schema, at start-up.
    """

    # SHARED: two backends on one file share records, quota and versions (the store suite
    # opens replicas so); a server still opens its file alone (`open_url`).
    features: frozenset[Feature] = frozenset({Feature.DURABLE, Feature.SHARED, Feature.SWEEPS})
    max_record_bytes: int | None = None
    max_active_limit: int | None = None

    def __init__(self, path: str, *, exclusive: bool = False) -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = None  # touched only by the worker thread
        where = lock_path(path) if exclusive else None
        self._lock = None if where is None else FileLock(where)  # worker thread too
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="taskstate-sqlite")
        self._feed = LocalFeed()
        self._closed = False

    @classmethod
    async def open(cls, path: str, *, exclusive: bool = False) -> SqliteBackend:
        """`exclusive`: refuse (DatabaseInUse) if another exclusive backend has the file."""
        backend = cls(path, exclusive=exclusive)
        try:
            await backend.ping()
        except BaseException:
            await backend.close()
            raise
        return backend

    @classmethod
    async def open_url(cls, url: str) -> SqliteBackend:
        """A server's database: one server per file (see the module docstring)."""
        return await cls.open(sqlite_path(url), exclusive=True)

    # -- worker-thread side ----------------------------------------------

    def _take_lock(self) -> None:
        lock = self._lock
        if lock is None or lock.held:
            return
        try:
            lock.acquire()
        except LockHeld as exc:
            holder = "another taskstate-server" + ("" if exc.pid is None else f" (pid {exc.pid})")
            raise DatabaseInUse(
                f"{self.path} is in use by {holder}: a SQLite store serves one server only, "
                "because each server's watches see only its own writes (lock file "
                f"{exc.path}). To run several replicas, use a redis:// or dynamodb:// store."
            ) from None
        except OSError as exc:
            raise DatabaseUnavailable(
                f"sqlite {self.path}: cannot create its lock file {lock.path}: {exc.strerror}"
            ) from exc

    def _release_lock(self) -> None:
        if self._lock is not None:
            self._lock.release()

    def _connect(self) -> sqlite3.Connection:
        self._take_lock()
        # isolation_level=None: the module never opens transactions behind our
        # back; every write transaction is an explicit BEGIN IMMEDIATE.
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        try:
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = FULL")
            self._migrate(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    def _migrate(self, conn: sqlite3.Connection) -> None:
        def body() -> None:
            # Re-read under the write lock: another process may have migrated.
            (version,) = conn.execute("PRAGMA user_version").fetchone()
            if version > SCHEMA_VERSION:
                raise BackendError(
                    f"{self.path} has schema version {version}; this server knows only "
                    f"up to {SCHEMA_VERSION} (is it an older server?)"
                )
            if version < 1:
                for stmt in _SCHEMA_V1:
                    conn.execute(stmt)
            # Future migrations go here, each one step up from the previous version.
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

        (version,) = conn.execute("PRAGMA user_version").fetchone()
        if version != SCHEMA_VERSION:
            _in_write_tx(conn, body)

    def _call(self, work: _Work[T]) -> tuple[T, list[Change]]:
        """Runs `work` on the worker thread, translating database failures."""
        try:
            if self._conn is None:
                self._conn = self._connect()
            return work(self._conn)
        except sqlite3.OperationalError as exc:
            self._drop_broken_connection()
            raise DatabaseUnavailable(f"sqlite {self.path}: {exc}") from exc
        except sqlite3.DatabaseError as exc:
            if type(exc) is not sqlite3.DatabaseError:
                raise  # IntegrityError & co. are bugs here, not outages
            # "file is not a database", "database disk image is malformed".
            self._drop_broken_connection()
            raise DatabaseUnavailable(f"sqlite {self.path}: {exc}") from exc

    def _drop_broken_connection(self) -> None:
        # A connection stuck inside a transaction (a failed ROLLBACK) would fail
        # every later BEGIN; reopening on the next call lets the service recover.
        conn = self._conn
        if conn is not None and conn.in_transaction:
            self._conn = None
            with contextlib.suppress(sqlite3.Error):
                conn.close()

    def _close_conn(self) -> None:
        conn, self._conn = self._conn, None
        try:
            if conn is not None:
                conn.close()
        finally:
            self._release_lock()  # only once the connection is closed

    # -- event-loop side -------------------------------------------------

    async def _run(self, work: _Work[T]) -> T:
        if self._closed:
            raise DatabaseUnavailable("the sqlite backend is closed")
        loop = asyncio.get_running_loop()
        fut = loop.run_in_executor(self._executor, self._call, work)
        # Publishing from a done-callback (which runs on the loop thread, in
        # completion order = commit order) guarantees a committed change is
        # published even if the awaiting caller is cancelled meanwhile.
        fut.add_done_callback(self._publish_committed)
        result, _ = await asyncio.shield(fut)
        return result

    def _publish_committed(self, fut: asyncio.Future[tuple[Any, list[Change]]]) -> None:
        # exception() also marks the error as retrieved when the caller is gone.
        if fut.cancelled() or fut.exception() is not None:
            return
        for change in fut.result()[1]:
            self._feed.publish(change)

    # -- Backend protocol ------------------------------------------------

    async def get(self, owner: str, task_id: str, now_ms: int) -> Record | None:
        def work(conn: sqlite3.Connection) -> tuple[Record | None, list[Change]]:
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM tasks WHERE owner = ? AND task_id = ? AND {_UNEXPIRED}",
                (owner, task_id, now_ms),
            ).fetchone()
            return (None if row is None else _record(row)), []

        return await self._run(work)

    async def create(
        self, record: Record, *, request_id: str | None, max_active: int, now_ms: int
    ) -> tuple[Record, bool]:
        owner = record.owner

        def body(conn: sqlite3.Connection, changes: list[Change]) -> tuple[Record, bool]:
            if request_id is not None:
                row = conn.execute(
                    f"SELECT {_COLUMNS} FROM tasks WHERE owner = ? AND request_id = ?",
                    (owner, request_id),
                ).fetchone()
                if row is not None:
                    existing = _record(row)
                    if not existing.expired(now_ms):
                        return existing, False
                    # The expired holder of this request id no longer exists;
                    # remove it now so the unique index admits the new task.
                    conn.execute(
                        "DELETE FROM tasks WHERE owner = ? AND task_id = ?",
                        (owner, existing.task_id),
                    )
                    changes.append(Change(owner, existing.task_id, None))
            # LIMIT keeps the count bounded by the quota, however many rows exist.
            (active,) = conn.execute(
                "SELECT COUNT(*) FROM (SELECT 1 FROM tasks"
                f" WHERE owner = ? AND active = 1 AND {_UNEXPIRED} LIMIT ?)",
                (owner, now_ms, max_active),
            ).fetchone()
            if active >= max_active:
                raise QuotaFull()
            # OR REPLACE mirrors the memory backend, which overwrites a record
            # under the same key (only possible for a reused, expired id).
            conn.execute(
                "INSERT OR REPLACE INTO tasks"
                " (owner, task_id, version, data, active, expire_at, request_id)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    owner,
                    record.task_id,
                    record.version,
                    record.data,
                    int(record.active),
                    record.expire_at_ms,
                    request_id,
                ),
            )
            changes.append(Change(owner, record.task_id, record))
            return record, True

        def work(conn: sqlite3.Connection) -> tuple[tuple[Record, bool], list[Change]]:
            changes: list[Change] = []
            out = _in_write_tx(conn, lambda: body(conn, changes))
            return out, changes

        return await self._run(work)

    async def compare_and_swap(
        self,
        record: Record,
        *,
        expected_version: int,
        now_ms: int,
        previous: Record | None = None,  # one write either way: no use for the hint
    ) -> None:
        def body(conn: sqlite3.Connection) -> None:
            cur = conn.execute(
                "UPDATE tasks SET version = ?, data = ?, active = ?, expire_at = ?"
                f" WHERE owner = ? AND task_id = ? AND version = ? AND {_UNEXPIRED}",
                (
                    record.version,
                    record.data,
                    int(record.active),
                    record.expire_at_ms,
                    record.owner,
                    record.task_id,
                    expected_version,
                    now_ms,
                ),
            )
            if cur.rowcount == 1:
                return
            # Nothing written: find out why, inside the same transaction.
            row = conn.execute(
                f"SELECT version FROM tasks WHERE owner = ? AND task_id = ? AND {_UNEXPIRED}",
                (record.owner, record.task_id, now_ms),
            ).fetchone()
            if row is None:
                raise RecordMissing()
            raise VersionConflict(row[0])

        def work(conn: sqlite3.Connection) -> tuple[None, list[Change]]:
            _in_write_tx(conn, lambda: body(conn))
            return None, [Change(record.owner, record.task_id, record)]

        await self._run(work)

    async def delete(self, owner: str, task_id: str, now_ms: int) -> bool:
        def work(conn: sqlite3.Connection) -> tuple[bool, list[Change]]:
            # An expired row is left for the sweeper, which publishes its
            # deletion; to the caller it simply does not exist.
            cur = _in_write_tx(
                conn,
                lambda: conn.execute(
                    f"DELETE FROM tasks WHERE owner = ? AND task_id = ? AND {_UNEXPIRED}",
                    (owner, task_id, now_ms),
                ),
            )
            if cur.rowcount == 0:
                return False, []
            return True, [Change(owner, task_id, None)]

        return await self._run(work)

    async def list(
        self, owner: str, *, before_task_id: str | None, limit: int, now_ms: int
    ) -> list[Record]:
        # Both shapes walk the primary key (owner, task_id) backwards from the
        # cursor, so a page costs O(limit) however many tasks the owner has.
        if before_task_id is None:
            sql = (
                f"SELECT {_COLUMNS} FROM tasks WHERE owner = ? AND {_UNEXPIRED}"
                " ORDER BY task_id DESC LIMIT ?"
            )
            params: tuple[Any, ...] = (owner, now_ms, limit)
        else:
            sql = (
                f"SELECT {_COLUMNS} FROM tasks WHERE owner = ? AND task_id < ? AND {_UNEXPIRED}"
                " ORDER BY task_id DESC LIMIT ?"
            )
            params = (owner, before_task_id, now_ms, limit)

        def work(conn: sqlite3.Connection) -> tuple[list[Record], list[Change]]:
            return [_record(row) for row in conn.execute(sql, params)], []

        return await self._run(work)

    async def sweep_expired(self, now_ms: int, limit: int) -> int:
        def body(conn: sqlite3.Connection) -> list[Change]:
            keys = conn.execute(
                "SELECT owner, task_id FROM tasks"
                " WHERE expire_at IS NOT NULL AND expire_at <= ? LIMIT ?",
                (now_ms, limit),
            ).fetchall()
            conn.executemany("DELETE FROM tasks WHERE owner = ? AND task_id = ?", keys)
            return [Change(owner, task_id, None) for owner, task_id in keys]

        def work(conn: sqlite3.Connection) -> tuple[int, list[Change]]:
            if limit <= 0:
                return 0, []
            changes = _in_write_tx(conn, lambda: body(conn))
            return len(changes), changes

        return await self._run(work)

    def subscribe(self, on_change: ChangeListener, on_resync: ResyncListener) -> None:
        # Only this process's writes are published: the feed is in-process.
        self._feed.subscribe(on_change, on_resync)

    async def ping(self) -> None:
        def work(conn: sqlite3.Connection) -> tuple[None, list[Change]]:
            conn.execute("SELECT 1").fetchone()
            return None, []

        await self._run(work)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        loop = asyncio.get_running_loop()
        try:
            # Queued after every pending operation, so those finish first.
            await loop.run_in_executor(self._executor, self._close_conn)
        finally:
            self._executor.shutdown(wait=False)
