"""The Redis backend against a REAL redis-server.

The server comes from ``TASKSTATE_TEST_REDIS_URL`` when set, else ``tools/services/redis.sh``
starts one on a free port in a temporary directory (installing Debian's redis-server if needed)
and stops it afterwards. If Redis cannot be had, these tests FAIL: they never skip. The outage
test always starts its own server, since it stops and restarts it.

Each test works under its own key prefix, so tests never see each other's keys or changes.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest
import redis.asyncio as aioredis
from _backend_support import Recorder, rec
from _stores import STORES, Service
from taskstate_server.backends import StoreURLError
from taskstate_server.backends.base import (
    Backend,
    Change,
    DatabaseUnavailable,
    EventKind,
    QuotaFull,
    Record,
    RecordMissing,
    VersionConflict,
)
from taskstate_server.backends.redis import RedisBackend
from taskstate_server.backends.redis.backend import EXPIRY_GRACE_MS, LayoutMismatch
from taskstate_server.domain.model import TaskStatus
from taskstate_server.domain.store import TaskStore

REPO = Path(__file__).resolve().parents[2]
OUTAGE_BOUND_S = 3.5  # "within ~3 s": every call, while Redis is down
FEED_WAIT_S = 10.0


# --------------------------------------------------------------------------------------------
# Redis servers
# --------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = os.environ.get("TASKSTATE_TEST_REDIS_URL")
    if url:
        yield url
        return
    server = STORES["redis"].service(_free_port(), tmp_path_factory.mktemp("redis"))
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[Service]:
    """A dedicated server this test may stop and start."""
    server = STORES["redis"].service(_free_port(), tmp_path / "redis")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def with_prefix(url: str, prefix: str) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query["prefix"] = prefix
    return urlunsplit(parts._replace(query=urlencode(query)))


def without_query(url: str) -> str:
    return urlunsplit(urlsplit(url)._replace(query=""))


@pytest.fixture
async def prefix(redis_url: str) -> AsyncIterator[str]:
    """A fresh key prefix; its keys are deleted after the test (the Redis may be shared)."""
    p = f"tst-{uuid.uuid4().hex[:10]}:"
    yield p
    client = aioredis.Redis.from_url(without_query(redis_url))
    try:
        keys = [k async for k in client.scan_iter(match=f"{p}*", count=1000)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


@pytest.fixture
def url(redis_url: str, prefix: str) -> str:
    return with_prefix(redis_url, prefix)


@pytest.fixture
async def raw(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(without_query(redis_url))
    yield client
    await client.aclose()


@pytest.fixture
async def backend(url: str) -> AsyncIterator[RedisBackend]:
    b = await RedisBackend.open(url)
    yield b
    await b.close()


@pytest.fixture
async def replica(url: str) -> AsyncIterator[RedisBackend]:
    """A second backend on the same Redis and prefix: another server replica."""
    b = await RedisBackend.open(url)
    yield b
    await b.close()


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def now_ms() -> int:
    return time.time_ns() // 1_000_000


async def subscribed(backend: RedisBackend) -> Recorder:
    r = Recorder()
    backend.subscribe(r.on_change, r.on_resync)
    assert await backend.wait_feed_ready(FEED_WAIT_S)
    return r


W, D, X = EventKind.WRITE, EventKind.DELETED, EventKind.EXPIRED


def seen(changes: list[Change]) -> list[tuple[str, str, EventKind, Record | None]]:
    """What the feed said: (owner, task_id, kind, record); the log entries are checked apart."""
    return [(c.owner, c.task_id, c.kind, c.record) for c in changes]


_LOG_KEYS = ["layout", "{alice}:ev", "{alice}:evm"]
"""What stays of an owner whose tasks are all gone: its log (and the layout of the prefix)."""


async def _keys(raw: aioredis.Redis, prefix: str) -> list[str]:
    """The keys under `prefix`, without it, sorted."""
    return sorted(k.decode().removeprefix(prefix) for k in await raw.keys(f"{prefix}*"))


async def eventually(
    check: Callable[[], bool | Awaitable[bool]], timeout_s: float = 5.0, what: str = ""
) -> None:
    """Polls `check` until it holds (bounded)."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = check()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s}s waiting for {what or check}")
        await asyncio.sleep(0.02)


# --------------------------------------------------------------------------------------------
# Construction
# --------------------------------------------------------------------------------------------


def test_from_url_parses_prefix_and_rejects_bad_urls() -> None:
    b = RedisBackend.from_url("redis://127.0.0.1:6390/3")
    assert b.prefix == "taskstate:"
    b = RedisBackend.from_url("redis://127.0.0.1:6390/0?prefix=app1:")
    assert b.prefix == "app1:"
    b = RedisBackend.from_url("redis://127.0.0.1:6390/0?prefix=app1:", prefix="app2:")
    assert b.prefix == "app2:"
    b = RedisBackend.from_url("redis://:secret@127.0.0.1:6390/0?prefix=")
    assert b.prefix == ""
    # TLS: rediss:// picks redis-py's SSL connection (no I/O at construction).
    b = RedisBackend.from_url("rediss://example.invalid:6380/0?prefix=p:&ssl_cert_reqs=none")
    assert "SSL" in b._client.connection_pool.connection_class.__name__
    for bad in (
        "redis://127.0.0.1:6390/0?prefix=a{b}",  # braces would break the hash tag
        "http://127.0.0.1:6390/0",
        "redis://127.0.0.1:6390/notadb",
        "redis://127.0.0.1:6390/0?no_such_option=1",
    ):
        with pytest.raises(StoreURLError):
            RedisBackend.from_url(bad)


async def test_open_unreachable_raises_backend_unavailable_quickly() -> None:
    start = time.monotonic()
    with pytest.raises(DatabaseUnavailable):
        await RedisBackend.open(f"redis://127.0.0.1:{_free_port()}/0")
    assert time.monotonic() - start < OUTAGE_BOUND_S


async def test_satisfies_protocol(backend: RedisBackend) -> None:
    b: Backend = backend
    assert b.max_record_bytes is None
    await b.ping()


async def test_calls_after_close_raise_unavailable(url: str) -> None:
    b = await RedisBackend.open(url)
    await b.close()
    await b.close()  # idempotent
    with pytest.raises(DatabaseUnavailable):
        await b.get("alice", "t1", now_ms())
    with pytest.raises(DatabaseUnavailable):
        await b.ping()


async def test_open_records_the_layout_and_refuses_another(
    url: str, raw: aioredis.Redis, prefix: str
) -> None:
    b = await RedisBackend.open(url)
    await b.close()
    assert await raw.get(f"{prefix}layout") == b"2"
    b = await RedisBackend.open(url)  # its own layout: fine
    await b.close()
    for other in (b"1", b"3"):  # written by an older or a newer server
        await raw.set(f"{prefix}layout", other)
        with pytest.raises(LayoutMismatch, match="layout"):
            await RedisBackend.open(url)


async def test_keys_outside_an_owners_hash_tag(
    backend: RedisBackend, raw: aioredis.Redis, prefix: str
) -> None:
    """Only the global sets and the layout: every other key is in one owner's slot."""
    now = now_ms()
    r = replace(
        rec("t1", expire_at=now + 60_000),
        status="working",
        lease_until_ms=now + 1_000,
        claim_group="0123456789abcdef",
    )
    await backend.create(r, request_id="r1", max_active=5, now_ms=now)
    keys = await _keys(raw, prefix)
    assert [k for k in keys if not k.startswith("{alice}:")] == ["expiring", "layout", "leases"]
    assert sorted(k for k in keys if k.startswith("{alice}:")) == [
        "{alice}:act",
        "{alice}:claim",
        "{alice}:claim:0123456789abcdef",
        "{alice}:ev",
        "{alice}:evm",
        "{alice}:idx",
        "{alice}:req:r1",
        "{alice}:s:working",
        "{alice}:t:t1",
    ]


# --------------------------------------------------------------------------------------------
# Protocol semantics (mirrors the memory and SQLite backends)
# --------------------------------------------------------------------------------------------


async def test_create_get_and_publish(backend: RedisBackend) -> None:
    feed = await subscribed(backend)
    now = now_ms()
    r = rec("t1", data=b'{"bin":"\\u0000\xc3\xa9"}\x00\xff')  # bytes stay opaque
    assert await backend.create(r, request_id=None, max_active=10, now_ms=now) == (r, True)
    assert await backend.get("alice", "t1", now) == r
    assert await backend.get("bob", "t1", now) is None
    assert await backend.get("alice", "nope", now) is None
    await eventually(lambda: seen(feed.changes) == [("alice", "t1", W, r)], what="the create")
    event = feed.changes[0].event
    assert event is not None
    assert (event.prev, event.kind, event.task_id, event.version, event.time_ms) == (
        "0-0",
        W,
        "t1",
        1,
        now,
    )


async def test_compare_and_swap(backend: RedisBackend) -> None:
    feed = await subscribed(backend)
    now = now_ms()
    await backend.create(rec("t1"), request_id=None, max_active=10, now_ms=now)
    v2 = rec("t1", version=2, active=False, expire_at=now + 60_000)
    await backend.compare_and_swap(v2, expected_version=1, now_ms=now)
    assert await backend.get("alice", "t1", now) == v2

    with pytest.raises(VersionConflict) as err:
        await backend.compare_and_swap(rec("t1", version=2), expected_version=1, now_ms=now)
    assert err.value.actual == 2
    with pytest.raises(RecordMissing):
        await backend.compare_and_swap(rec("zz", version=2), expected_version=1, now_ms=now)
    with pytest.raises(RecordMissing):  # another owner's task is missing
        await backend.compare_and_swap(
            rec("t1", owner="bob", version=3), expected_version=2, now_ms=now
        )
    with pytest.raises(RecordMissing):  # expired (read-time check: the key still exists)
        await backend.compare_and_swap(
            rec("t1", version=3), expected_version=2, now_ms=now + 60_000
        )
    assert await backend.get("alice", "t1", now) == v2
    # Renewing the expiry and dropping it again.
    v3 = rec("t1", version=3, expire_at=now + 120_000)
    await backend.compare_and_swap(v3, expected_version=2, now_ms=now + 59_000)
    assert await backend.get("alice", "t1", now + 100_000) == v3
    v4 = rec("t1", version=4)
    await backend.compare_and_swap(v4, expected_version=3, now_ms=now)
    assert await backend.get("alice", "t1", now + 10**9) == v4
    await eventually(lambda: len(feed.changes) == 4, what="4 changes")
    assert [c.record for c in feed.changes] == [rec("t1"), v2, v3, v4]


async def test_record_key_expiry_follows_cas(
    backend: RedisBackend, raw: aioredis.Redis, prefix: str
) -> None:
    now = now_ms()
    await backend.create(
        rec("t1", expire_at=now + 60_000), request_id="r1", max_active=5, now_ms=now
    )
    key = f"{prefix}{{alice}}:t:t1"
    rkey = f"{prefix}{{alice}}:req:r1"

    async def expires_at(k: str) -> int:
        return int(await raw.pexpiretime(k))

    # Relative to the caller's clock, which is Redis' clock here (give or take a round trip),
    # with the grace in which the sweeper removes the record first (logging its expiry).
    grace = EXPIRY_GRACE_MS
    assert abs(await expires_at(key) - (now + 60_000 + grace)) < 1_000
    assert abs(await expires_at(rkey) - (now + 60_000 + grace)) < 1_000
    await backend.compare_and_swap(
        rec("t1", version=2, expire_at=now + 90_000), expected_version=1, now_ms=now
    )
    assert abs(await expires_at(key) - (now + 90_000 + grace)) < 1_000
    assert abs(await expires_at(rkey) - (now + 90_000 + grace)) < 1_000
    await backend.compare_and_swap(rec("t1", version=3), expected_version=2, now_ms=now)
    assert await expires_at(key) == -1  # persistent
    assert await expires_at(rkey) == -1


async def test_expiry_follows_the_callers_clock_not_redis(
    backend: RedisBackend, raw: aioredis.Redis, prefix: str
) -> None:
    """expire_at decides, by the caller's now_ms: a server clock (or a test's fake clock) far
    from Redis' own must neither lose records early nor keep them late."""
    for t0 in (1_600_000_000_000, now_ms() + 10 * 365 * 86_400_000):  # 2020, and 10 years on
        tid = f"t{t0}"
        r = rec(tid, expire_at=t0 + 3_600_000)
        assert await backend.create(r, request_id=f"r{t0}", max_active=5, now_ms=t0) == (r, True)
        assert await raw.exists(f"{prefix}{{alice}}:t:{tid}") == 1
        assert 0 < await raw.pttl(f"{prefix}{{alice}}:t:{tid}") <= 3_600_000 + EXPIRY_GRACE_MS
        assert await backend.get("alice", tid, t0 + 3_599_999) == r
        assert (await backend.create(rec("x"), request_id=f"r{t0}", max_active=5, now_ms=t0))[
            0
        ] == r
        assert await backend.get("alice", tid, t0 + 3_600_000) is None
        listed = await backend.list("alice", before_task_id=None, limit=10, now_ms=t0 + 3_600_000)
        assert tid not in [x.task_id for x in listed]
        assert await backend.sweep_expired(t0 + 3_600_000, 10) == 1
        assert await raw.exists(f"{prefix}{{alice}}:t:{tid}") == 0


async def test_quota_counts_active_unexpired_per_owner(backend: RedisBackend) -> None:
    now = now_ms()
    await backend.create(rec("a1"), request_id=None, max_active=2, now_ms=now)
    await backend.create(
        rec("a2", expire_at=now + 10_000), request_id=None, max_active=2, now_ms=now
    )
    await backend.create(rec("a3", active=False), request_id=None, max_active=3, now_ms=now)
    with pytest.raises(QuotaFull):
        await backend.create(rec("a4"), request_id=None, max_active=2, now_ms=now)
    await backend.create(rec("b1", owner="bob"), request_id=None, max_active=2, now_ms=now)
    # a2 has expired (by the caller's clock): it no longer counts.
    await backend.create(rec("a4"), request_id=None, max_active=2, now_ms=now + 10_000)
    with pytest.raises(QuotaFull):
        await backend.create(rec("a5"), request_id=None, max_active=0, now_ms=now)
    # A task that becomes terminal (inactive) frees its slot; deleting one does too.
    await backend.compare_and_swap(
        rec("a1", version=2, active=False), expected_version=1, now_ms=now + 10_000
    )
    await backend.create(rec("a6"), request_id=None, max_active=2, now_ms=now + 10_000)
    with pytest.raises(QuotaFull):
        await backend.create(rec("a7"), request_id=None, max_active=2, now_ms=now + 10_000)
    assert await backend.delete("alice", "a6", now + 10_000)
    await backend.create(rec("a7"), request_id=None, max_active=2, now_ms=now + 10_000)


async def test_quota_is_atomic_across_replicas(
    backend: RedisBackend, replica: RedisBackend
) -> None:
    now = now_ms()

    async def one(i: int) -> bool:
        b = backend if i % 2 else replica
        try:
            _, created = await b.create(
                rec(f"t{i:03d}", owner="q"), request_id=None, max_active=10, now_ms=now
            )
        except QuotaFull:
            return False
        assert created
        return True

    results = await asyncio.gather(*(one(i) for i in range(50)))
    assert sum(results) == 10
    listed = await backend.list("q", before_task_id=None, limit=100, now_ms=now)
    assert len(listed) == 10


async def test_request_id_idempotency(backend: RedisBackend) -> None:
    feed = await subscribed(backend)
    now = now_ms()
    first = rec("t1", expire_at=now + 60_000)
    assert await backend.create(first, request_id="r", max_active=1, now_ms=now) == (first, True)
    # A retry returns the first task, creates nothing and skips the quota check.
    again = await backend.create(rec("t2"), request_id="r", max_active=1, now_ms=now)
    assert again == (first, False)
    assert await backend.get("alice", "t2", now) is None
    # The same request id is independent per owner.
    other = rec("t9", owner="bob")
    assert await backend.create(other, request_id="r", max_active=1, now_ms=now) == (other, True)
    # The task survives CAS with its request id.
    v2 = rec("t1", version=2, expire_at=now + 60_000)
    await backend.compare_and_swap(v2, expected_version=1, now_ms=now)
    assert await backend.create(rec("t3"), request_id="r", max_active=5, now_ms=now) == (
        v2,
        False,
    )
    # Once expired, the request id creates a new task; the old one's deletion is published.
    await eventually(lambda: len(feed.changes) == 3, what="3 changes")
    feed.changes.clear()
    new = rec("t4")
    later = now + 60_000
    assert await backend.create(new, request_id="r", max_active=5, now_ms=later) == (new, True)
    await eventually(lambda: len(feed.changes) == 2, what="2 changes")
    # The holder expired: its removal is an expiry, not a deletion.
    assert seen(feed.changes) == [("alice", "t1", X, None), ("alice", "t4", W, new)]
    # After a delete the request id is free again.
    assert await backend.delete("alice", "t4", now)
    newer = rec("t5")
    assert await backend.create(newer, request_id="r", max_active=5, now_ms=now) == (newer, True)


async def test_request_id_is_idempotent_under_concurrency(
    backend: RedisBackend, replica: RedisBackend
) -> None:
    now = now_ms()
    results = await asyncio.gather(
        *(
            (backend if i % 2 else replica).create(
                rec(f"c{i:02d}"), request_id="same", max_active=100, now_ms=now
            )
            for i in range(20)
        )
    )
    created = [r for r, fresh in results if fresh]
    assert len(created) == 1
    assert all(r == created[0] for r, _ in results)
    assert len(await backend.list("alice", before_task_id=None, limit=100, now_ms=now)) == 1


async def test_list_order_paging_and_expiry(backend: RedisBackend) -> None:
    now = now_ms()
    for i in range(10):
        expire = now + 5_000 if i % 3 == 0 else None
        await backend.create(
            rec(f"t{i}", expire_at=expire), request_id=None, max_active=100, now_ms=now
        )
    await backend.create(rec("t5", owner="bob"), request_id=None, max_active=100, now_ms=now)

    def ids(records: list[Record]) -> list[str]:
        return [r.task_id for r in records]

    everything = await backend.list("alice", before_task_id=None, limit=100, now_ms=now)
    assert ids(everything) == [f"t{i}" for i in range(9, -1, -1)]
    assert everything[0] == rec("t9", expire_at=now + 5_000)
    # Pages: limit, exclusive cursor.
    page1 = await backend.list("alice", before_task_id=None, limit=4, now_ms=now)
    assert ids(page1) == ["t9", "t8", "t7", "t6"]
    page2 = await backend.list("alice", before_task_id="t6", limit=4, now_ms=now)
    assert ids(page2) == ["t5", "t4", "t3", "t2"]
    page3 = await backend.list("alice", before_task_id="t2", limit=4, now_ms=now)
    assert ids(page3) == ["t1", "t0"]
    # A cursor need not be a stored id.
    assert ids(await backend.list("alice", before_task_id="t45", limit=2, now_ms=now)) == [
        "t4",
        "t3",
    ]
    assert await backend.list("alice", before_task_id="t0", limit=4, now_ms=now) == []
    assert await backend.list("alice", before_task_id="", limit=4, now_ms=now) == []
    assert await backend.list("alice", before_task_id=None, limit=0, now_ms=now) == []
    # Expired records are skipped and the page is still filled.
    later = now + 5_000
    assert ids(await backend.list("alice", before_task_id=None, limit=4, now_ms=later)) == [
        "t8",
        "t7",
        "t5",
        "t4",
    ]
    assert ids(await backend.list("bob", before_task_id=None, limit=100, now_ms=now)) == ["t5"]
    assert await backend.list("carol", before_task_id=None, limit=100, now_ms=now) == []


async def test_list_skips_many_expired_records(backend: RedisBackend) -> None:
    now = now_ms()
    for i in range(300):
        await backend.create(
            rec(f"e{i:03d}", expire_at=now + 60_000), request_id=None, max_active=1000, now_ms=now
        )
    await backend.create(rec("a000"), request_id=None, max_active=1000, now_ms=now)
    listed = await backend.list("alice", before_task_id=None, limit=5, now_ms=now + 60_000)
    assert [r.task_id for r in listed] == ["a000"]


async def test_owner_names_are_escaped_in_keys(backend: RedisBackend) -> None:
    now = now_ms()
    owners = ["x{y}", "x%7By%7D", "", "%", "}", "a b:c"]
    for i, owner in enumerate(owners):
        await backend.create(rec(f"t{i}", owner=owner), request_id=None, max_active=1, now_ms=now)
    for i, owner in enumerate(owners):
        listed = await backend.list(owner, before_task_id=None, limit=10, now_ms=now)
        assert [r.task_id for r in listed] == [f"t{i}"]
        assert listed[0].owner == owner
    # The global lease set names owners inside their hash tags: read back unescaped.
    for i, owner in enumerate(owners):
        await backend.compare_and_swap(
            replace(rec(f"t{i}", owner=owner, version=2), lease_until_ms=now),
            expected_version=1,
            now_ms=now,
        )
    assert sorted(await backend.due_leases(now, 100)) == sorted(
        (owner, f"t{i}") for i, owner in enumerate(owners)
    )


async def test_delete(backend: RedisBackend, raw: aioredis.Redis, prefix: str) -> None:
    feed = await subscribed(backend)
    now = now_ms()
    await backend.create(rec("t1"), request_id="r1", max_active=1, now_ms=now)
    await backend.create(
        rec("t2", active=False, expire_at=now + 60_000), request_id=None, max_active=5, now_ms=now
    )
    assert await backend.delete("alice", "t1", now)
    assert await backend.get("alice", "t1", now) is None
    assert not await backend.delete("alice", "t1", now)
    assert not await backend.delete("bob", "t2", now)
    assert not await backend.delete("alice", "t2", now + 60_000)  # expired: already gone
    assert await backend.delete("alice", "t2", now)
    assert await backend.list("alice", before_task_id=None, limit=10, now_ms=now) == []
    await eventually(lambda: len(feed.changes) == 4, what="4 changes")
    assert seen(feed.changes[2:]) == [("alice", "t1", D, None), ("alice", "t2", D, None)]
    # Nothing of the tasks is left behind (the quota slot and the request id are free): only
    # the owner's log and the layout.
    assert await _keys(raw, prefix) == _LOG_KEYS


async def test_expiry_is_swept_and_logged_before_redis_deletes_the_key(
    backend: RedisBackend, raw: aioredis.Redis, prefix: str
) -> None:
    feed = await subscribed(backend)
    now = now_ms()
    live = rec("t1", expire_at=now + 60_000)
    await backend.create(live, request_id="r1", max_active=1, now_ms=now)
    await backend.compare_and_swap(
        rec("t1", version=2, expire_at=now + 60_000), expected_version=1, now_ms=now
    )
    with pytest.raises(QuotaFull):
        await backend.create(rec("t2"), request_id=None, max_active=1, now_ms=now)
    later = now + 60_000
    # Expired by the caller's clock: absent for every read, though its key lives on (grace).
    assert await backend.get("alice", "t1", later) is None
    assert await backend.list("alice", before_task_id=None, limit=10, now_ms=later) == []
    assert await raw.exists(f"{prefix}{{alice}}:t:t1") == 1
    # The sweeper removes it and logs EXPIRED with its last version (watchers end).
    assert await backend.sweep_expired(later, 100) == 1
    await eventually(lambda: len(feed.changes) == 3, what="the expiry")
    assert seen(feed.changes[2:]) == [("alice", "t1", X, None)]
    expired = feed.changes[2].event
    assert expired is not None and (expired.version, expired.time_ms) == (2, later)
    assert await _keys(raw, prefix) == _LOG_KEYS
    assert await backend.sweep_expired(later, 100) == 0
    # The slot and the request id are free again.
    assert (await backend.create(rec("t2"), request_id="r1", max_active=1, now_ms=later))[1]


async def test_a_key_redis_deleted_first_is_swept_and_forgotten_by_every_index(
    backend: RedisBackend, raw: aioredis.Redis, prefix: str
) -> None:
    """No server swept within the grace: Redis deleted the record, facts and all. The sweep
    still logs its expiry (version unknown: 0); the sets keyed by its facts forget it when
    they next meet it."""
    feed = await subscribed(backend)
    now = now_ms()
    group = "0123456789abcdef"
    offered = replace(rec("t1", expire_at=now + 1_000), status="working", claim_group=group)
    leased = replace(rec("t2", expire_at=now + 1_000), status="working", lease_until_ms=now)
    for r in (offered, leased):
        await backend.create(r, request_id=None, max_active=5, now_ms=now)
    await raw.delete(f"{prefix}{{alice}}:t:t1", f"{prefix}{{alice}}:t:t2")  # as Redis would
    later = now + 1_000 + EXPIRY_GRACE_MS
    assert (
        await backend.list_by_status(
            "alice", frozenset({"working"}), before_task_id=None, limit=10, now_ms=now
        )
        == []
    )
    assert await backend.claimable("alice", group=group, limit=10, now_ms=now) == []
    assert await backend.claimable("alice", group=None, limit=10, now_ms=now) == []
    assert await backend.due_leases(now, 10) == []
    assert await backend.sweep_expired(later, 100) == 2
    await eventually(lambda: len(feed.changes) == 4, what="the expiries")
    assert seen(feed.changes[2:]) == [("alice", "t1", X, None), ("alice", "t2", X, None)]
    assert [c.event.version for c in feed.changes[2:] if c.event] == [0, 0]
    assert await _keys(raw, prefix) == _LOG_KEYS


async def test_sweep(backend: RedisBackend, raw: aioredis.Redis, prefix: str) -> None:
    feed = await subscribed(backend)
    now = now_ms()
    owners = ["alice", "bob", "we{ir}d%", ""]
    for owner in owners:
        for i in range(3):
            await backend.create(
                rec(f"x{i}", owner=owner, expire_at=now + 60_000),
                request_id=f"rq{i}",
                max_active=100,
                now_ms=now,
            )
        await backend.create(rec("keep", owner=owner), request_id=None, max_active=100, now_ms=now)
        await backend.create(
            rec("later", owner=owner, expire_at=now + 120_000),
            request_id=None,
            max_active=100,
            now_ms=now,
        )
    await eventually(lambda: len(feed.changes) == 20, what="20 creates")
    feed.changes.clear()
    assert await backend.sweep_expired(now, 100) == 0  # nothing expired yet
    assert await raw.zcard(f"{prefix}expiring") == 12 + 4
    later = now + 60_000
    swept = await backend.sweep_expired(later, 5)
    assert swept == 5
    swept += await backend.sweep_expired(later, 5)
    swept += await backend.sweep_expired(later, 5)
    assert swept == 12
    assert await backend.sweep_expired(later, 5) == 0
    await eventually(lambda: len(feed.changes) == 12, what="12 deletions")
    assert sorted((c.owner, c.task_id) for c in feed.changes) == sorted(
        (o, f"x{i}") for o in owners for i in range(3)
    )
    assert all(c.record is None and c.kind is X for c in feed.changes)
    for owner in owners:
        listed = await backend.list(owner, before_task_id=None, limit=10, now_ms=now)
        assert [r.task_id for r in listed] == ["later", "keep"]
    # The physical records, indexes and request ids of the swept tasks are gone.
    assert await raw.keys(f"{prefix}*:t:x*") == []
    assert await raw.keys(f"{prefix}*:req:*") == []
    assert await raw.zcard(f"{prefix}{{alice}}:idx") == 2
    assert await raw.zcard(f"{prefix}expiring") == 4  # every owner's "later"


async def test_sweep_keeps_renewed_tasks(backend: RedisBackend) -> None:
    now = now_ms()
    await backend.create(
        rec("t1", expire_at=now + 1_000), request_id=None, max_active=5, now_ms=now
    )
    await backend.compare_and_swap(
        rec("t1", version=2, expire_at=now + 60_000), expected_version=1, now_ms=now
    )
    assert await backend.sweep_expired(now + 1_000, 100) == 0
    assert (await backend.get("alice", "t1", now + 1_000)) is not None


async def test_scripts_reload_after_script_flush(
    backend: RedisBackend, raw: aioredis.Redis
) -> None:
    now = now_ms()
    await raw.script_flush()
    assert (await backend.create(rec("t1"), request_id=None, max_active=5, now_ms=now))[1]
    await raw.script_flush()
    await backend.compare_and_swap(rec("t1", version=2), expected_version=1, now_ms=now)
    await raw.script_flush()
    assert len(await backend.list("alice", before_task_id=None, limit=5, now_ms=now)) == 1
    await raw.script_flush()
    assert await backend.sweep_expired(now, 5) == 0
    await raw.script_flush()
    assert await backend.delete("alice", "t1", now)


async def test_log_positions_follow_the_callers_clock_and_never_go_back(
    backend: RedisBackend, replica: RedisBackend
) -> None:
    """Positions are `<ms>-<seq>` of the writer's clock; a replica whose clock is behind the
    last entry's continues after it rather than before (a log only grows)."""
    t = 1_700_000_000_000
    await backend.create(rec("a"), request_id=None, max_active=10, now_ms=t)
    await replica.create(rec("b"), request_id=None, max_active=10, now_ms=t - 5_000)
    await backend.create(rec("c"), request_id=None, max_active=10, now_ms=t + 1)
    page = await replica.read_events("alice", after="0-0", limit=10, now_ms=t)
    assert [(e.position, e.prev, e.task_id, e.time_ms) for e in page.events] == [
        (f"{t}-0", "0-0", "a", t),
        (f"{t}-1", f"{t}-0", "b", t - 5_000),
        (f"{t + 1}-0", f"{t}-1", "c", t + 1),
    ]
    assert page.head == f"{t + 1}-0"
    # A position that was never one of this log's, though between two of them: compacted.
    page = await backend.read_events("alice", after=f"{t}-5", limit=10, now_ms=t)
    assert (page.compacted, page.events) == (True, [])


async def test_writes_trim_the_log_past_the_retention(
    backend: RedisBackend, raw: aioredis.Redis, prefix: str
) -> None:
    backend.set_feed_retention(1_000)
    t = now_ms()
    for i in range(300):
        await backend.create(rec(f"t{i:03d}"), request_id=None, max_active=1000, now_ms=t)
    head = (await backend.read_events("alice", after="0-0", limit=0, now_ms=t)).head
    later = t + 1_000 + 600_000 + 1
    await backend.create(rec("last"), request_id=None, max_active=1000, now_ms=later)
    # Approximate trimming (whole stream nodes) took most of the old entries...
    assert await raw.xlen(f"{prefix}{{alice}}:ev") < 301
    # ...and what it may have taken is compacted, while the previous head still reads on.
    page = await backend.read_events("alice", after="0-0", limit=10, now_ms=later)
    assert page.compacted
    page = await backend.read_events("alice", after=head, limit=10, now_ms=later)
    assert [(e.task_id, e.prev) for e in page.events] == [("last", head)]


# --------------------------------------------------------------------------------------------
# Change feed across replicas
# --------------------------------------------------------------------------------------------


async def test_changes_reach_another_replica(backend: RedisBackend, replica: RedisBackend) -> None:
    feed_b = await subscribed(replica)
    await backend.wait_feed_ready(FEED_WAIT_S)
    now = now_ms()
    r1 = rec("t1", expire_at=now + 60_000)
    await backend.create(r1, request_id=None, max_active=5, now_ms=now)
    r2 = rec("t1", version=2, active=False, expire_at=now + 60_000)
    await backend.compare_and_swap(r2, expected_version=1, now_ms=now)
    assert await backend.delete("alice", "t1", now)
    await eventually(lambda: len(feed_b.changes) == 3, what="3 changes on the replica")
    assert seen(feed_b.changes) == [
        ("alice", "t1", W, r1),
        ("alice", "t1", W, r2),
        ("alice", "t1", D, None),
    ]
    # The other replica gets each change's log entry too: what its tail appends.
    events = [c.event for c in feed_b.changes]
    page = await replica.read_events("alice", after="0-0", limit=10, now_ms=now)
    assert events == [replace(e, record=None) for e in page.events]
    assert [(e.kind, e.version) for e in page.events] == [(W, 1), (W, 2), (D, 2)]
    assert feed_b.resyncs == 0


async def test_watch_across_replicas_through_task_store(url: str) -> None:
    store_a = TaskStore(await RedisBackend.open(url))
    backend_b = await RedisBackend.open(url)
    store_b = TaskStore(backend_b)
    try:
        task = await store_a.create("alice", ttl_ms=60_000)

        seen: list[tuple[int, TaskStatus]] = []
        opened = asyncio.Event()

        async def watch() -> None:
            async for t in store_b.watch("alice", task.task_id):
                seen.append((t.version, t.status))
                opened.set()

        assert await backend_b.wait_feed_ready(FEED_WAIT_S)
        watcher = asyncio.create_task(watch())
        # Written only once B's watch has read version 1: written before, B could start
        # at a later version (this used to be a 0.2 s sleep, too short on a busy machine).
        await asyncio.wait_for(opened.wait(), 10)
        await store_a.update_status("alice", task.task_id, TaskStatus.INPUT_REQUIRED)
        await store_a.complete("alice", task.task_id, status=TaskStatus.COMPLETED, result=1)
        await asyncio.wait_for(watcher, 10)
        assert seen[0] == (1, TaskStatus.WORKING)
        assert seen[-1] == (3, TaskStatus.COMPLETED)
    finally:
        await store_a.close()
        await store_b.close()


# --------------------------------------------------------------------------------------------
# Round trips, counted by Redis (INFO commandstats) and by the client
# --------------------------------------------------------------------------------------------

# Commands only the scripts run (counted by commandstats too) and the feed's idle pings.
_SCRIPT_INNER = {
    "hget",
    "hmget",
    "hset",
    "hdel",
    "get",
    "set",
    "del",
    "zadd",
    "zrem",
    "zcard",
    "zrange",
    "zrangebyscore",
    "zremrangebyscore",
    "pexpire",
    "persist",
    "publish",
    "exists",
    "xadd",
    "xrange",
    "xrevrange",
}
_BACKGROUND = {"ping", "info"}


async def _commandstats(raw: aioredis.Redis) -> dict[str, int]:
    info: dict[str, Any] = await raw.info("commandstats")
    return {k.removeprefix("cmdstat_"): int(v["calls"]) for k, v in info.items()}


class ClientCounter:
    def __init__(self, backend: RedisBackend) -> None:
        self.commands: list[str] = []
        inner: Callable[..., Any] = backend._client.execute_command

        def counting(*args: Any, **kwargs: Any) -> Any:
            self.commands.append(str(args[0]).upper())
            return inner(*args, **kwargs)

        backend._client.execute_command = counting  # type: ignore[method-assign]


async def test_round_trips(backend: RedisBackend, raw: aioredis.Redis) -> None:
    now = now_ms()
    await backend.get("alice", "warm-up", now)  # a pooled connection exists
    counter = ClientCounter(backend)

    async def measure(op: Callable[[], Awaitable[object]]) -> tuple[dict[str, int], list[str]]:
        counter.commands.clear()
        before = await _commandstats(raw)
        await op()
        after = await _commandstats(raw)
        delta = {k: n - before.get(k, 0) for k, n in after.items() if n != before.get(k, 0)}
        for name in _BACKGROUND:
            delta.pop(name, None)
        return delta, list(counter.commands)

    r = rec("t1", expire_at=now + 60_000)
    delta, sent = await measure(
        lambda: backend.create(r, request_id="rid", max_active=5, now_ms=now)
    )
    assert sent == ["EVALSHA"]
    assert delta.pop("evalsha") == 1 and set(delta) <= _SCRIPT_INNER, delta

    delta, sent = await measure(lambda: backend.get("alice", "t1", now))
    assert sent == ["HMGET"]
    assert delta == {"hmget": 1}

    delta, sent = await measure(
        lambda: backend.compare_and_swap(rec("t1", version=2), expected_version=1, now_ms=now)
    )
    assert sent == ["EVALSHA"]
    assert delta.pop("evalsha") == 1 and set(delta) <= _SCRIPT_INNER, delta

    delta, sent = await measure(
        lambda: backend.list("alice", before_task_id=None, limit=10, now_ms=now)
    )
    assert sent == ["EVALSHA"]
    assert delta.pop("evalsha") == 1 and set(delta) <= _SCRIPT_INNER, delta

    one_script: list[Callable[[], Awaitable[object]]] = [
        lambda: backend.list_by_status(
            "alice", frozenset({"working", "completed"}), before_task_id=None, limit=10, now_ms=now
        ),
        lambda: backend.claimable("alice", group=None, limit=10, now_ms=now),
        lambda: backend.due_leases(now, 10),
        lambda: backend.read_events("alice", after="0-0", limit=10, now_ms=now),
        lambda: backend.delete("alice", "t1", now),
        lambda: backend.sweep_expired(now, 10),
    ]
    for op in one_script:
        delta, sent = await measure(op)
        assert sent == ["EVALSHA"]
        assert delta.pop("evalsha") == 1 and set(delta) <= _SCRIPT_INNER, delta


# --------------------------------------------------------------------------------------------
# Redis going away and coming back
# --------------------------------------------------------------------------------------------


async def test_survives_redis_going_away(own_redis: Service) -> None:
    url = with_prefix(own_redis.url, "outage:")
    a = await RedisBackend.open(url)
    b = await RedisBackend.open(url)
    c = RedisBackend.from_url(url)  # no feed listener: its pool holds exactly one connection
    try:
        await c.ping()
        feed = await subscribed(b)
        now = now_ms()
        await a.create(rec("t1"), request_id=None, max_active=5, now_ms=now)
        await eventually(lambda: len(feed.changes) == 1, what="the first change")

        own_redis.stop()

        calls: list[Callable[[], Awaitable[object]]] = [
            lambda: a.ping(),
            lambda: a.get("alice", "t1", now),
            lambda: a.create(rec("t2"), request_id=None, max_active=5, now_ms=now),
            lambda: a.compare_and_swap(rec("t1", version=2), expected_version=1, now_ms=now),
            lambda: a.delete("alice", "t1", now),
            lambda: a.list("alice", before_task_id=None, limit=5, now_ms=now),
            lambda: a.sweep_expired(now, 5),
        ]
        for call in calls:
            start = time.monotonic()
            with pytest.raises(DatabaseUnavailable):
                await call()
            assert time.monotonic() - start < OUTAGE_BOUND_S
        # The feed noticed: watchers were told not to trust it.
        await eventually(lambda: feed.resyncs >= 1 and not b.feed_connected, what="feed lost")
        resyncs_while_down = feed.resyncs

        own_redis.start()

        # Calls work again on their own (a broken pool does not stay broken).
        async def back() -> bool:
            try:
                await a.ping()
            except DatabaseUnavailable:
                return False
            return True

        await eventually(back, timeout_s=10, what="calls to succeed again")
        now = now_ms()
        # c's pool holds a connection from before the outage: its first call, a write (never
        # retried), must get a live one. Redis kept nothing (no persistence), and the scripts
        # are loaded again on NOSCRIPT.
        assert (await c.create(rec("t3"), request_id=None, max_active=5, now_ms=now))[1]
        assert await a.get("alice", "t1", now) is None
        assert await a.get("alice", "t3", now) is not None
        # The listener resubscribed by itself and asked for a resync...
        await eventually(
            lambda: b.feed_connected and feed.resyncs > resyncs_while_down,
            timeout_s=FEED_WAIT_S,
            what="the feed to reconnect and resync",
        )
        # ...and delivers changes again.
        feed.changes.clear()
        r4 = rec("t4")
        await a.create(r4, request_id=None, max_active=5, now_ms=now)
        await eventually(
            lambda: ("alice", "t4", W, r4) in seen(feed.changes), what="a change after the outage"
        )
    finally:
        await a.close()
        await b.close()
        await c.close()
