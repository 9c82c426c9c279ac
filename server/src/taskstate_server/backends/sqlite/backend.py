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

Issue 10: the index facts of a record are columns with their own indexes
(`indexes`), and every write appends its event log entry in its own transaction
(`events`); `schema` migrates a version-1 file in place when it is opened.
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
    EventKind,
    EventPage,
    Feature,
    QuotaFull,
    Record,
    RecordMissing,
    ResyncListener,
    StoreURLError,
    VersionConflict,
    record_subject,
)
from . import events, indexes
from .events import Appender
from .file_lock import FileLock, LockHeld
from .rows import COLUMNS, UNEXPIRED, to_record, values
from .schema import SCHEMA_VERSION, migrate, schema_version

T = TypeVar("T")

BUSY_TIMEOUT_MS: Final = 5000

# Spelled so for the class, whose `list` method hides the builtin in its annotations.
_Records = list[Record]
_Keys = list[tuple[str, str]]

_Work = Callable[[sqlite3.Connection], tuple[T, list[Change]]]
"""A unit of work for the worker thread: its result plus the changes it committed."""


class _Log:
    """What one write transaction changed: appends each change's event log entry in
    that transaction and collects the `Change`s to publish once it has committed."""

    def __init__(self, conn: sqlite3.Connection, now_ms: int) -> None:
        self._conn = conn
        self._now_ms = now_ms
        self._events = Appender(conn, now_ms)
        self.changes: list[Change] = []

    def write(self, record: Record) -> None:
        event = self._events.append(record.owner, EventKind.WRITE, record.task_id, record.version)
        self.changes.append(Change(record.owner, record.task_id, record, EventKind.WRITE, event))

    def removed(self, owner: str, task_id: str, version: int, kind: EventKind, data: bytes) -> None:
        """`data`: the removed record's, for the subject its entry names."""
        event = self._events.append(owner, kind, task_id, version, record_subject(bytes(data)))
        self.changes.append(Change(owner, task_id, None, kind, event))

    def remove_expired(self, owner: str, task_id: str) -> None:
        """Removes the task if it is there but expired, logging its expiry."""
        row = self._conn.execute(
            "DELETE FROM tasks WHERE owner = ? AND task_id = ? AND expire_at <= ?"
            " RETURNING version, data",
            (owner, task_id, self._now_ms),
        ).fetchone()
        if row is not None:
            self.removed(owner, task_id, row[0], EventKind.EXPIRED, row[1])


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


def _begin(conn: sqlite3.Connection) -> None:
    # IMMEDIATE takes the write lock up front (waiting up to busy_timeout), so
    # a transaction never fails half-way when upgrading a read lock.
    conn.execute("BEGIN IMMEDIATE")


def _in_write_tx(conn: sqlite3.Connection, body: Callable[[], T]) -> T:
    _begin(conn)
    return _finish(conn, body)


def _in_read_tx(conn: sqlite3.Connection, body: Callable[[], T]) -> T:
    """Several reads from one snapshot, while other connections keep writing (WAL)."""
    conn.execute("BEGIN")
    return _finish(conn, body)


def _finish(conn: sqlite3.Connection, body: Callable[[], T]) -> T:
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
    features: frozenset[Feature] = frozenset(
        {Feature.DURABLE, Feature.SHARED, Feature.SWEEPS, Feature.INDEXES, Feature.EVENT_LOG}
    )
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
        self._retention_ms = events.DEFAULT_RETENTION_MS

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
        if schema_version(conn) != SCHEMA_VERSION:
            _in_write_tx(conn, lambda: migrate(conn, self.path))

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

    async def _write(self, now_ms: int, body: Callable[[sqlite3.Connection, _Log], T]) -> T:
        """Runs `body` in one write transaction; what it logged is published once committed."""

        def work(conn: sqlite3.Connection) -> tuple[T, list[Change]]:
            log = _Log(conn, now_ms)
            out = _in_write_tx(conn, lambda: body(conn, log))
            return out, log.changes

        return await self._run(work)

    async def _read(self, body: Callable[[sqlite3.Connection], T]) -> T:
        return await self._run(lambda conn: (body(conn), []))

    # -- Backend protocol ------------------------------------------------

    async def get(self, owner: str, task_id: str, now_ms: int) -> Record | None:
        def body(conn: sqlite3.Connection) -> Record | None:
            row = conn.execute(
                f"SELECT {COLUMNS} FROM tasks WHERE owner = ? AND task_id = ? AND {UNEXPIRED}",
                (owner, task_id, now_ms),
            ).fetchone()
            return None if row is None else to_record(row)

        return await self._read(body)

    async def create(
        self, record: Record, *, request_id: str | None, max_active: int, now_ms: int
    ) -> tuple[Record, bool]:
        owner = record.owner

        def body(conn: sqlite3.Connection, log: _Log) -> tuple[Record, bool]:
            if request_id is not None:
                row = conn.execute(
                    f"SELECT {COLUMNS} FROM tasks WHERE owner = ? AND request_id = ?",
                    (owner, request_id),
                ).fetchone()
                if row is not None:
                    existing = to_record(row)
                    if not existing.expired(now_ms):
                        return existing, False
                    # The expired holder of this request id no longer exists;
                    # remove it now so the unique index admits the new task.
                    log.remove_expired(owner, existing.task_id)
            # LIMIT keeps the count bounded by the quota, however many rows exist.
            (active,) = conn.execute(
                "SELECT COUNT(*) FROM (SELECT 1 FROM tasks"
                f" WHERE owner = ? AND active = 1 AND {UNEXPIRED} LIMIT ?)",
                (owner, now_ms, max_active),
            ).fetchone()
            if active >= max_active:
                raise QuotaFull()
            # An expired task under the same id (ids are not reused in practice) is logged
            # as expired before the new one, so each task's entries follow its versions.
            # OR REPLACE mirrors the memory backend, which overwrites a record under the
            # same key.
            log.remove_expired(owner, record.task_id)
            conn.execute(
                "INSERT OR REPLACE INTO tasks (owner, task_id, request_id, version, data, active,"
                " expire_at, status, lease_until, claim_group)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (owner, record.task_id, request_id, *values(record)),
            )
            log.write(record)
            return record, True

        return await self._write(now_ms, body)

    async def compare_and_swap(
        self,
        record: Record,
        *,
        expected_version: int,
        now_ms: int,
        previous: Record | None = None,  # one write either way: no use for the hint
    ) -> None:
        def body(conn: sqlite3.Connection, log: _Log) -> None:
            cur = conn.execute(
                "UPDATE tasks SET version = ?, data = ?, active = ?, expire_at = ?,"
                " status = ?, lease_until = ?, claim_group = ?"
                f" WHERE owner = ? AND task_id = ? AND version = ? AND {UNEXPIRED}",
                (*values(record), record.owner, record.task_id, expected_version, now_ms),
            )
            if cur.rowcount == 1:
                log.write(record)
                return
            # Nothing written: find out why, inside the same transaction.
            row = conn.execute(
                f"SELECT version FROM tasks WHERE owner = ? AND task_id = ? AND {UNEXPIRED}",
                (record.owner, record.task_id, now_ms),
            ).fetchone()
            if row is None:
                raise RecordMissing()
            raise VersionConflict(row[0])

        await self._write(now_ms, body)

    async def delete(self, owner: str, task_id: str, now_ms: int) -> bool:
        def body(conn: sqlite3.Connection, log: _Log) -> bool:
            # An expired row is left for the sweeper, which logs and publishes its
            # expiry; to the caller it simply does not exist.
            row = conn.execute(
                f"DELETE FROM tasks WHERE owner = ? AND task_id = ? AND {UNEXPIRED}"
                " RETURNING version, data",
                (owner, task_id, now_ms),
            ).fetchone()
            if row is None:
                return False
            log.removed(owner, task_id, row[0], EventKind.DELETED, row[1])
            return True

        return await self._write(now_ms, body)

    async def list(
        self, owner: str, *, before_task_id: str | None, limit: int, now_ms: int
    ) -> _Records:
        # Both shapes walk the primary key (owner, task_id) backwards from the
        # cursor, so a page costs O(limit) however many tasks the owner has.
        if before_task_id is None:
            sql = (
                f"SELECT {COLUMNS} FROM tasks WHERE owner = ? AND {UNEXPIRED}"
                " ORDER BY task_id DESC LIMIT ?"
            )
            params: tuple[Any, ...] = (owner, now_ms, limit)
        else:
            sql = (
                f"SELECT {COLUMNS} FROM tasks WHERE owner = ? AND task_id < ? AND {UNEXPIRED}"
                " ORDER BY task_id DESC LIMIT ?"
            )
            params = (owner, before_task_id, now_ms, limit)
        return await self._read(lambda conn: [to_record(row) for row in conn.execute(sql, params)])

    async def sweep_expired(self, now_ms: int, limit: int) -> int:
        def body(conn: sqlite3.Connection, log: _Log) -> int:
            rows = conn.execute(
                "SELECT owner, task_id, version, data FROM tasks"
                " WHERE expire_at IS NOT NULL AND expire_at <= ? LIMIT ?",
                (now_ms, limit),
            ).fetchall()
            conn.executemany(
                "DELETE FROM tasks WHERE owner = ? AND task_id = ?",
                [(owner, task_id) for owner, task_id, _, _ in rows],
            )
            for owner, task_id, version, data in rows:
                log.removed(owner, task_id, version, EventKind.EXPIRED, data)
            return len(rows)

        removed = await self._write(now_ms, body) if limit > 0 else 0
        await self._trim(now_ms)
        return removed

    async def _trim(self, now_ms: int) -> int:
        """Trims the log one batch per transaction and per turn of the worker thread, so
        neither another process's writer nor this one's queued calls wait for a long trim."""
        older_than = now_ms - self._retention_ms - events.SLACK_MS

        def batch(conn: sqlite3.Connection) -> tuple[int, list[Change]]:
            return _in_write_tx(conn, lambda: events.trim(conn, older_than)), []

        trimmed = 0
        for _ in range(events.TRIM_MAX_BATCHES):
            done = await self._run(batch)
            trimmed += done
            if done < events.TRIM_BATCH:
                break
        return trimmed

    # -- IndexedBackend --------------------------------------------------

    async def list_by_status(
        self,
        owner: str,
        statuses: frozenset[str],
        *,
        before_task_id: str | None,
        limit: int,
        now_ms: int,
    ) -> _Records:
        return await self._read(
            lambda conn: indexes.by_status(
                conn, owner, statuses, before_task_id=before_task_id, limit=limit, now_ms=now_ms
            )
        )

    async def claimable(
        self, owner: str, *, group: str | None, limit: int, now_ms: int
    ) -> _Records:
        return await self._read(
            lambda conn: indexes.claimable(conn, owner, group=group, limit=limit, now_ms=now_ms)
        )

    async def due_leases(self, now_ms: int, limit: int) -> _Keys:
        return await self._read(lambda conn: indexes.due_leases(conn, now_ms, limit))

    # -- EventLogBackend -------------------------------------------------

    def set_feed_retention(self, retention_ms: int) -> None:
        self._retention_ms = retention_ms

    async def read_events(self, owner: str, *, after: str, limit: int, now_ms: int) -> EventPage:
        return await self._read(
            lambda conn: _in_read_tx(
                conn,
                lambda: events.read(conn, owner, after=after, limit=limit, now_ms=now_ms),
            )
        )

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
