"""Smoke tests for the SQLite backend (the full store-contract suite lives elsewhere)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from _backend_support import Recorder, rec
from taskstate_server.backends.base import (
    Backend,
    Change,
    DatabaseUnavailable,
    EventKind,
    EventPage,
    QuotaFull,
    Record,
    RecordMissing,
    VersionConflict,
)
from taskstate_server.backends.sqlite import SqliteBackend, events
from taskstate_server.backends.sqlite.backup import backup_database
from taskstate_server.backends.sqlite.schema import SCHEMA_VERSION

NOW = 1_000_000
D, X = EventKind.DELETED, EventKind.EXPIRED


def published(feed: Recorder) -> list[Change]:
    """What the feed delivered, without the log entries (test_store_event_log.py's)."""
    return [Change(c.owner, c.task_id, c.record, c.kind) for c in feed.changes]


@pytest.fixture
async def backend(tmp_path: Path) -> AsyncIterator[SqliteBackend]:
    b = await SqliteBackend.open(str(tmp_path / "t.db"))
    yield b
    await b.close()


@pytest.fixture
def feed(backend: SqliteBackend) -> Recorder:
    r = Recorder(resync_allowed=False)
    backend.subscribe(r.on_change, r.on_resync)
    return r


async def test_satisfies_protocol(backend: SqliteBackend) -> None:
    b: Backend = backend
    assert b.max_record_bytes is None
    await b.ping()


async def test_create_get_and_publish(backend: SqliteBackend, feed: Recorder) -> None:
    r = rec("t1")
    assert await backend.create(r, request_id=None, max_active=10, now_ms=NOW) == (r, True)
    assert await backend.get("alice", "t1", NOW) == r
    assert await backend.get("bob", "t1", NOW) is None
    assert await backend.get("alice", "nope", NOW) is None
    assert published(feed) == [Change("alice", "t1", r)]


async def test_compare_and_swap(backend: SqliteBackend, feed: Recorder) -> None:
    await backend.create(rec("t1"), request_id=None, max_active=10, now_ms=NOW)
    v2 = rec("t1", version=2, active=False, expire_at=NOW + 50)
    await backend.compare_and_swap(v2, expected_version=1, now_ms=NOW)
    assert await backend.get("alice", "t1", NOW) == v2
    assert published(feed)[-1] == Change("alice", "t1", v2)

    with pytest.raises(VersionConflict) as err:
        await backend.compare_and_swap(rec("t1", version=2), expected_version=1, now_ms=NOW)
    assert err.value.actual == 2
    with pytest.raises(RecordMissing):
        await backend.compare_and_swap(rec("zz", version=2), expected_version=1, now_ms=NOW)
    with pytest.raises(RecordMissing):  # another owner's task is missing
        await backend.compare_and_swap(
            rec("t1", owner="bob", version=3), expected_version=2, now_ms=NOW
        )
    with pytest.raises(RecordMissing):  # expired
        await backend.compare_and_swap(rec("t1", version=3), expected_version=2, now_ms=NOW + 50)
    assert len(feed.changes) == 2
    assert await backend.get("alice", "t1", NOW) == v2


async def test_quota_counts_active_unexpired_per_owner(backend: SqliteBackend) -> None:
    await backend.create(rec("a1"), request_id=None, max_active=2, now_ms=NOW)
    await backend.create(rec("a2", expire_at=NOW + 10), request_id=None, max_active=2, now_ms=NOW)
    await backend.create(rec("a3", active=False), request_id=None, max_active=3, now_ms=NOW)
    with pytest.raises(QuotaFull):
        await backend.create(rec("a4"), request_id=None, max_active=2, now_ms=NOW)
    await backend.create(rec("b1", owner="bob"), request_id=None, max_active=2, now_ms=NOW)
    # a2 has expired: it no longer counts.
    await backend.create(rec("a4"), request_id=None, max_active=2, now_ms=NOW + 10)
    with pytest.raises(QuotaFull):
        await backend.create(rec("a5"), request_id=None, max_active=0, now_ms=NOW)


async def test_request_id_idempotency(backend: SqliteBackend, feed: Recorder) -> None:
    first = rec("t1", expire_at=NOW + 100)
    assert await backend.create(first, request_id="r", max_active=1, now_ms=NOW) == (first, True)
    # A retry returns the first task, creates nothing and skips the quota check.
    again = await backend.create(rec("t2"), request_id="r", max_active=1, now_ms=NOW)
    assert again == (first, False)
    assert await backend.get("alice", "t2", NOW) is None
    # The same request id is independent per owner.
    other = rec("t9", owner="bob")
    assert await backend.create(other, request_id="r", max_active=1, now_ms=NOW) == (other, True)
    # The task survives CAS with its request id.
    v2 = rec("t1", version=2, expire_at=NOW + 100)
    await backend.compare_and_swap(v2, expected_version=1, now_ms=NOW)
    assert await backend.create(rec("t3"), request_id="r", max_active=5, now_ms=NOW) == (
        v2,
        False,
    )
    # Once expired, the request id creates a new task; the old one's deletion is published.
    feed.changes.clear()
    new = rec("t4")
    assert await backend.create(new, request_id="r", max_active=5, now_ms=NOW + 100) == (new, True)
    assert published(feed) == [Change("alice", "t1", None, X), Change("alice", "t4", new)]
    # After a delete the request id is free again.
    assert await backend.delete("alice", "t4", NOW)
    newer = rec("t5")
    assert await backend.create(newer, request_id="r", max_active=5, now_ms=NOW) == (newer, True)


async def test_list_order_paging_and_expiry(backend: SqliteBackend) -> None:
    for i in range(10):
        expire = NOW + 5 if i % 3 == 0 else None
        await backend.create(
            rec(f"t{i:02d}", expire_at=expire), request_id=None, max_active=100, now_ms=NOW
        )
    await backend.create(rec("t99", owner="bob"), request_id=None, max_active=100, now_ms=NOW)

    page = await backend.list("alice", before_task_id=None, limit=4, now_ms=NOW)
    assert [r.task_id for r in page] == ["t09", "t08", "t07", "t06"]
    page = await backend.list("alice", before_task_id="t06", limit=4, now_ms=NOW)
    assert [r.task_id for r in page] == ["t05", "t04", "t03", "t02"]
    page = await backend.list("alice", before_task_id="t02", limit=4, now_ms=NOW)
    assert [r.task_id for r in page] == ["t01", "t00"]
    # Expired tasks are skipped without shortening the page.
    page = await backend.list("alice", before_task_id=None, limit=4, now_ms=NOW + 5)
    assert [r.task_id for r in page] == ["t08", "t07", "t05", "t04"]
    assert await backend.get("alice", "t09", NOW + 5) is None
    assert await backend.list("carol", before_task_id=None, limit=4, now_ms=NOW) == []


async def test_delete(backend: SqliteBackend, feed: Recorder) -> None:
    await backend.create(rec("t1"), request_id=None, max_active=10, now_ms=NOW)
    await backend.create(rec("t2", expire_at=NOW + 1), request_id=None, max_active=10, now_ms=NOW)
    feed.changes.clear()
    assert not await backend.delete("bob", "t1", NOW)
    assert await backend.delete("alice", "t1", NOW)
    assert not await backend.delete("alice", "t1", NOW)
    assert not await backend.delete("alice", "t2", NOW + 1)  # expired = absent
    assert published(feed) == [Change("alice", "t1", None, D)]
    assert await backend.get("alice", "t1", NOW) is None


async def test_sweep_publishes_deletions(backend: SqliteBackend, feed: Recorder) -> None:
    for i in range(5):
        await backend.create(
            rec(f"e{i}", expire_at=NOW + 10), request_id=None, max_active=100, now_ms=NOW
        )
    await backend.create(rec("keep"), request_id=None, max_active=100, now_ms=NOW)
    await backend.create(
        rec("later", expire_at=NOW + 99), request_id=None, max_active=9, now_ms=NOW
    )
    feed.changes.clear()
    assert await backend.sweep_expired(NOW + 9, 100) == 0
    assert await backend.sweep_expired(NOW + 10, 3) == 3
    assert await backend.sweep_expired(NOW + 10, 3) == 2
    assert await backend.sweep_expired(NOW + 10, 3) == 0
    assert sorted(c.task_id for c in feed.changes) == [f"e{i}" for i in range(5)]
    assert all(c.record is None and c.owner == "alice" and c.kind is X for c in feed.changes)
    left = await backend.list("alice", before_task_id=None, limit=10, now_ms=NOW)
    assert [r.task_id for r in left] == ["later", "keep"]


async def test_persists_across_reopen(tmp_path: Path) -> None:
    path = str(tmp_path / "p.db")
    b = await SqliteBackend.open(path)
    await b.create(rec("t1"), request_id="r1", max_active=10, now_ms=NOW)
    await b.compare_and_swap(rec("t1", version=2), expected_version=1, now_ms=NOW)
    await b.close()
    await b.close()  # idempotent
    with pytest.raises(DatabaseUnavailable):
        await b.get("alice", "t1", NOW)

    b = SqliteBackend(path)  # lazily opened
    try:
        assert await b.get("alice", "t1", NOW) == rec("t1", version=2)
        got, created = await b.create(rec("t2"), request_id="r1", max_active=10, now_ms=NOW)
        assert (got.task_id, created) == ("t1", False)
    finally:
        await b.close()

    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    finally:
        conn.close()


# A database as the first release (schema version 1) wrote it: no index facts, no log.
_V1_FILE = (
    "CREATE TABLE tasks (owner TEXT NOT NULL, task_id TEXT NOT NULL, version INTEGER NOT NULL,"
    " data BLOB NOT NULL, active INTEGER NOT NULL, expire_at INTEGER, request_id TEXT,"
    " PRIMARY KEY (owner, task_id)) WITHOUT ROWID",
    "CREATE UNIQUE INDEX tasks_request_id ON tasks (owner, request_id)"
    " WHERE request_id IS NOT NULL",
    "CREATE INDEX tasks_active ON tasks (owner, active, expire_at)",
    "CREATE INDEX tasks_expire_at ON tasks (expire_at) WHERE expire_at IS NOT NULL",
    "PRAGMA user_version = 1",
)


def _v1_task(owner: str, task_id: str, status: str, **kw: Any) -> tuple[Any, ...]:
    data = json.dumps({"task_id": task_id, "status": status, "request_method": "m"}).encode()
    active = status in ("working", "input_required")
    return (owner, task_id, 3, data, int(active), kw.get("expire_at"), kw.get("request_id"))


def _write_v1(path: str) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        for stmt in _V1_FILE:
            conn.execute(stmt)
        conn.executemany(
            "INSERT INTO tasks VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                _v1_task("alice", "t1", "working", request_id="r1"),
                _v1_task("alice", "t2", "completed"),
                _v1_task("alice", "t3", "input_required", expire_at=NOW + 10),
                _v1_task("alice", "t4", "working"),
                _v1_task("bob", "b1", "failed"),
            ],
        )
    finally:
        conn.close()


async def _ids(records: Awaitable[list[Record]]) -> list[str]:
    return [r.task_id for r in await records]


async def test_a_version_1_file_migrates_in_place(tmp_path: Path) -> None:
    path = str(tmp_path / "v1.db")
    _write_v1(path)
    b = await SqliteBackend.open(path)
    try:
        # Status back-filled from the bytes, which are unchanged; no leases, nothing offered.
        t1 = await b.get("alice", "t1", NOW)
        assert t1 is not None and (t1.version, t1.status) == (3, "working")
        assert t1.data == _v1_task("alice", "t1", "working")[3]
        assert (t1.lease_until_ms, t1.claim_group) == (None, None)
        working = frozenset({"working"})
        assert await _ids(b.list_by_status("alice", working, **PAGE)) == ["t4", "t1"]
        waiting = frozenset({"completed", "input_required"})
        assert await _ids(b.list_by_status("alice", waiting, **PAGE)) == ["t3", "t2"]
        assert await _ids(b.list_by_status("bob", frozenset({"failed"}), **PAGE)) == ["b1"]
        assert await b.claimable("alice", group=None, limit=10, now_ms=NOW) == []
        assert await b.due_leases(NOW, 10) == []
        # The log starts empty, and goes on with the next write.
        start = await b.read_events("alice", after="0", limit=10, now_ms=NOW)
        assert (start.head, start.events, start.compacted) == ("0", [], False)
        assert start.epoch
        await b.compare_and_swap(
            replace(t1, version=4, status="completed", active=False), expected_version=3, now_ms=NOW
        )
        assert await _ids(b.list_by_status("alice", working, **PAGE)) == ["t4"]
        # The request id and the sweeper work on the old rows.
        again, created = await b.create(rec("t9"), request_id="r1", max_active=9, now_ms=NOW)
        assert (again.task_id, created) == ("t1", False)
        assert await b.sweep_expired(NOW + 10, 10) == 1
        page = await b.read_events("alice", after="0", limit=10, now_ms=NOW + 10)
        assert [(e.kind, e.task_id, e.version) for e in page.events] == [
            (EventKind.WRITE, "t1", 4),
            (X, "t3", 3),
        ]
    finally:
        await b.close()
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        conn.close()
    reopened = await SqliteBackend.open(path)  # migrated once: the same log
    try:
        assert (await reopened.read_events("alice", after="0", limit=0, now_ms=NOW)) == (
            replace(page, events=[])
        )
    finally:
        await reopened.close()


PAGE: dict[str, Any] = {"before_task_id": None, "limit": 10, "now_ms": NOW}


def working(task_id: str) -> Record:
    return replace(rec(task_id), status="working")


async def test_a_restored_backup_is_a_new_incarnation_of_the_log(tmp_path: Path) -> None:
    """The copy has the live log's entries up to the backup, under an epoch of its own: no
    cursor of the live database resumes on it (a cursor read after the backup would miss
    what came between), and a position beyond its head is compacted, never an error."""
    path, copy = str(tmp_path / "live.db"), str(tmp_path / "copy.db")
    _write_v1(path)
    b = await SqliteBackend.open(path)
    try:
        await b.create(working("t5"), request_id=None, max_active=9, now_ms=NOW)
        before = await b.read_events("alice", after="0", limit=0, now_ms=NOW)
        backup_database(path, copy)
        await b.create(working("t6"), request_id=None, max_active=9, now_ms=NOW)
        after = await b.read_events("alice", after="0", limit=0, now_ms=NOW)
    finally:
        await b.close()
    restored = await SqliteBackend.open(copy)
    try:
        page = await restored.read_events("alice", after="0", limit=10, now_ms=NOW)
        assert page.epoch != before.epoch
        assert (page.head, page.compacted) == (before.head, False)
        assert page.events[-1].position == before.head
        page = await restored.read_events("alice", after=after.head, limit=10, now_ms=NOW)
        assert (page.head, page.events, page.compacted) == (before.head, [], True)
        assert await _ids(restored.list_by_status("alice", frozenset({"working"}), **PAGE)) == [
            "t5",
            "t4",
            "t1",
        ]
    finally:
        await restored.close()


async def test_index_reads_walk_their_indexes(
    backend: SqliteBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """EXPLAIN QUERY PLAN of every statement each read runs: the index named, no scan
    of the table. (Without INDEXED BY the planner walks the primary key instead.)"""
    await backend.close()
    ran: list[str] = []
    connect = sqlite3.connect

    def tracing(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        conn: sqlite3.Connection = connect(*args, **kwargs)
        conn.set_trace_callback(ran.append)
        return conn

    monkeypatch.setattr(sqlite3, "connect", tracing)
    b = await SqliteBackend.open(backend.path)
    await b.create(rec("t1"), request_id=None, max_active=9, now_ms=NOW)

    plans: list[str] = []

    async def plan(read: Awaitable[Any]) -> str:
        ran.clear()
        await read
        with contextlib.closing(connect(backend.path)) as conn:
            text = " | ".join(
                str(row[-1])
                for sql in ran
                if sql.lstrip().startswith(("SELECT", "UPDATE", "DELETE"))
                for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}")
            )
        plans.append(text)
        return text

    try:
        several = frozenset({"working", "failed"})
        for statuses in (frozenset({"working"}), several):
            for before in (None, "t9"):
                text = await plan(
                    b.list_by_status("alice", statuses, before_task_id=before, limit=5, now_ms=NOW)
                )
                assert text.count("USING INDEX tasks_status") == len(statuses), text
        assert "USING INDEX tasks_claim (" in await plan(
            b.claimable("alice", group=None, limit=5, now_ms=NOW)
        )
        assert "USING INDEX tasks_claim_group" in await plan(
            b.claimable("alice", group="g", limit=5, now_ms=NOW)
        )
        assert "USING INDEX tasks_lease" in await plan(b.due_leases(NOW, 5))
        text = await plan(b.read_events("alice", after="0", limit=5, now_ms=NOW))
        assert "USING INDEX events_owner (owner=? AND seq>?)" in text, text
        text = await plan(b.sweep_expired(NOW, 5))
        assert "USING INDEX events_time" in text, text
        await plan(b.compare_and_swap(rec("t1", version=2), expected_version=1, now_ms=NOW))
        await plan(b.delete("alice", "t1", NOW))
        everything = " | ".join(plans)
        assert "SCAN tasks" not in everything and "SCAN events" not in everything, everything
    finally:
        await b.close()


async def test_trimming_goes_in_batches_and_keeps_the_retention(
    backend: SqliteBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(events, "TRIM_BATCH", 3)
    backend.set_feed_retention(1000)
    keep = 1000 + events.SLACK_MS  # what a store keeps: the retention and the slack
    for i in range(10):
        await backend.create(rec(f"a{i}"), request_id=None, max_active=99, now_ms=NOW + i)
    await backend.create(rec("b0", owner="bob"), request_id=None, max_active=99, now_ms=NOW)
    bob = await backend.read_events("bob", after="0", limit=0, now_ms=NOW)
    alice = await backend.read_events("alice", after="0", limit=10, now_ms=NOW)
    # At NOW + 5 + keep, the entries older than NOW + 5 go: a0..a4 and bob's, in batches.
    later = NOW + 5 + keep
    await backend.sweep_expired(later, 10)

    async def after(position: str, owner: str = "alice") -> EventPage:
        return await backend.read_events(owner, after=position, limit=10, now_ms=later)

    assert (await after(alice.events[3].position)).compacted
    page = await after(alice.events[4].position)
    assert [e.task_id for e in page.events] == [f"a{i}" for i in range(5, 10)]
    page = await after(bob.head, "bob")
    assert (page.head, page.events, page.compacted) == (bob.head, [], False)
    await backend.sweep_expired(NOW + 100 + keep, 10)
    page = await after(alice.head)
    assert (page.head, page.events, page.compacted) == (alice.head, [], False)
    with contextlib.closing(sqlite3.connect(backend.path)) as conn:
        assert conn.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 0
        assert conn.execute("SELECT owner, through FROM event_trims ORDER BY owner").fetchall() == [
            ("alice", int(alice.head)),
            ("bob", int(bob.head)),
        ]


async def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = str(tmp_path / "n.db")
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(Exception, match="schema version 99"):
        await SqliteBackend.open(path)


async def test_unopenable_path_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(DatabaseUnavailable):
        await SqliteBackend.open(str(tmp_path / "missing-dir" / "x.db"))


async def test_locked_database_is_unavailable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("taskstate_server.backends.sqlite.backend.BUSY_TIMEOUT_MS", 100)
    path = str(tmp_path / "l.db")
    b = await SqliteBackend.open(path)
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        with pytest.raises(DatabaseUnavailable, match="locked"):
            await b.create(rec("t1"), request_id=None, max_active=10, now_ms=NOW)
        other.execute("ROLLBACK")
        # The backend recovers once the other writer is gone.
        await b.create(rec("t1"), request_id=None, max_active=10, now_ms=NOW)
    finally:
        other.close()
        await b.close()


async def test_cancelled_caller_still_publishes(backend: SqliteBackend, feed: Recorder) -> None:
    task = asyncio.ensure_future(
        backend.create(rec("t1"), request_id=None, max_active=10, now_ms=NOW)
    )
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await backend.ping()  # queued behind the create, so the create has committed
    await asyncio.sleep(0)
    if await backend.get("alice", "t1", NOW) is not None:
        assert published(feed) == [Change("alice", "t1", rec("t1"))]


async def test_concurrent_creates_respect_quota(backend: SqliteBackend) -> None:
    results = await asyncio.gather(
        *(
            backend.create(rec(f"t{i:03d}"), request_id=None, max_active=7, now_ms=NOW)
            for i in range(50)
        ),
        return_exceptions=True,
    )
    assert sum(1 for r in results if isinstance(r, tuple)) == 7
    assert sum(1 for r in results if isinstance(r, QuotaFull)) == 43


async def test_listing_stays_fast_with_many_tasks(tmp_path: Path) -> None:
    """Reports timings (not asserted): 20k inserts, then first and deep pages."""
    b = await SqliteBackend.open(str(tmp_path / "big.db"))
    try:
        n = 20_000
        t0 = time.perf_counter()
        for i in range(n):
            await b.create(
                rec(f"t{i:06d}", active=False, data=b"x" * 200),
                request_id=None,
                max_active=100,
                now_ms=NOW,
            )
        t_insert = time.perf_counter() - t0

        t0 = time.perf_counter()
        first = await b.list("alice", before_task_id=None, limit=50, now_ms=NOW)
        t_first = time.perf_counter() - t0
        t0 = time.perf_counter()
        deep = await b.list("alice", before_task_id="t000100", limit=50, now_ms=NOW)
        t_deep = time.perf_counter() - t0
        assert first[0].task_id == f"t{n - 1:06d}" and len(first) == 50
        assert deep[0].task_id == "t000099" and len(deep) == 50

        conn = sqlite3.connect(str(tmp_path / "big.db"))
        plan = conn.execute(
            "EXPLAIN QUERY PLAN SELECT * FROM tasks WHERE owner = ? AND task_id < ?"
            " AND (expire_at IS NULL OR expire_at > ?) ORDER BY task_id DESC LIMIT ?",
            ("alice", "t000100", NOW, 50),
        ).fetchall()
        conn.close()
        plan_text = " | ".join(str(row[-1]) for row in plan)
        print(
            f"\n{n} creates: {t_insert:.2f}s ({n / t_insert:.0f}/s); "
            f"first page {t_first * 1000:.2f} ms; deep page {t_deep * 1000:.2f} ms; "
            f"plan: {plan_text}"
        )
        assert "PRIMARY KEY" in plan_text and "TEMP B-TREE" not in plan_text
    finally:
        await b.close()


_WRITER = """
import asyncio, sys
from taskstate_server.backends.base import Record
from taskstate_server.backends.sqlite import SqliteBackend

async def main() -> None:
    b = await SqliteBackend.open(sys.argv[1])
    i = 0
    while True:
        r = Record("alice", f"t{i:06d}", 1, b"{}", False, None)
        await b.create(r, request_id=None, max_active=1, now_ms=0)
        print(i, flush=True)  # acknowledged
        i += 1

asyncio.run(main())
"""


@pytest.mark.slow
async def test_acknowledged_writes_survive_kill_9(tmp_path: Path) -> None:
    import signal
    import sys

    path = str(tmp_path / "k.db")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _WRITER, path, stdout=asyncio.subprocess.PIPE
    )
    assert proc.stdout is not None
    acked = -1
    while acked < 200:
        acked = int(await proc.stdout.readline())
    proc.send_signal(signal.SIGKILL)
    await proc.wait()

    b = await SqliteBackend.open(path)
    try:
        for i in range(acked + 1):
            assert await b.get("alice", f"t{i:06d}", 0) is not None, i
    finally:
        await b.close()
