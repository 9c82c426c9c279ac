"""The Backend protocol itself (backends/base.py), on every store, without TaskStore.

These pin down the atomic primitives TaskStore relies on, so a new backend
learns exactly which one it gets wrong.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest
from _backend_records import NOW, Feed, bump, new_id, rec
from taskstate_server.backends.base import QuotaFull, RecordMissing, VersionConflict


async def test_create_get_and_exact_bytes(backend):
    r = rec()
    stored, created = await backend.create(r, request_id=None, max_active=10, now_ms=NOW)
    assert (stored, created) == (r, True)
    assert await backend.get("alice", r.task_id, NOW) == r
    assert await backend.get("bob", r.task_id, NOW) is None
    assert await backend.get("alice", new_id(), NOW) is None


async def test_compare_and_swap(backend):
    r = rec()
    await backend.create(r, request_id=None, max_active=10, now_ms=NOW)
    r2 = bump(r, active=False)
    await backend.compare_and_swap(r2, expected_version=1, now_ms=NOW)
    assert await backend.get("alice", r.task_id, NOW) == r2
    with pytest.raises(VersionConflict) as e:
        await backend.compare_and_swap(bump(r), expected_version=1, now_ms=NOW)
    assert e.value.actual == 2
    with pytest.raises(RecordMissing):
        await backend.compare_and_swap(rec(), expected_version=1, now_ms=NOW)
    with pytest.raises(RecordMissing):  # another owner's key is a different record
        await backend.compare_and_swap(bump(r2, owner="bob"), expected_version=2, now_ms=NOW)
    assert await backend.get("alice", r.task_id, NOW) == r2


async def test_compare_and_swap_given_the_previous_record(backend):
    """TaskStore passes the record it read as `previous`: the outcomes are the same."""
    r = replace(rec(expire_at=NOW + 100), request_id="rid")
    await backend.create(r, request_id="rid", max_active=1, now_ms=NOW)
    # Renewing the expiry renews what answers its request id too.
    r2 = replace(bump(r, expire_at_ms=NOW + 1000), request_id="rid")
    await backend.compare_and_swap(r2, expected_version=1, now_ms=NOW, previous=r)
    assert await backend.get("alice", r.task_id, NOW + 500) == r2
    assert await backend.create(rec(), request_id="rid", max_active=5, now_ms=NOW + 500) == (
        r2,
        False,
    )
    # A stale hint changes nothing: the stored version decides.
    with pytest.raises(VersionConflict) as e:
        await backend.compare_and_swap(bump(r), expected_version=1, now_ms=NOW, previous=r)
    assert e.value.actual == 2
    # Terminal: its quota slot is free at once.
    with pytest.raises(QuotaFull):
        await backend.create(rec(), request_id=None, max_active=1, now_ms=NOW)
    r3 = replace(bump(r2, active=False), request_id="rid")
    await backend.compare_and_swap(r3, expected_version=2, now_ms=NOW, previous=r2)
    assert await backend.get("alice", r.task_id, NOW) == r3
    fresh = rec()
    assert await backend.create(fresh, request_id=None, max_active=1, now_ms=NOW) == (fresh, True)


async def test_expired_records_are_absent_to_every_method(backend):
    r = rec(expire_at=NOW + 100)
    await backend.create(r, request_id="rid", max_active=1, now_ms=NOW)
    later = NOW + 100
    assert await backend.get("alice", r.task_id, later) is None
    assert await backend.list("alice", before_task_id=None, limit=10, now_ms=later) == []
    with pytest.raises(RecordMissing):
        await backend.compare_and_swap(bump(r), expected_version=1, now_ms=later)
    assert await backend.delete("alice", r.task_id, later) is False
    # Neither counted for the quota nor answering its request id.
    fresh = rec()
    assert await backend.create(fresh, request_id="rid", max_active=1, now_ms=later) == (
        fresh,
        True,
    )


async def test_delete(backend):
    r = rec()
    await backend.create(r, request_id="rid", max_active=10, now_ms=NOW)
    assert await backend.delete("alice", r.task_id, NOW) is True
    assert await backend.delete("alice", r.task_id, NOW) is False
    assert await backend.get("alice", r.task_id, NOW) is None
    again = rec()
    assert await backend.create(again, request_id="rid", max_active=10, now_ms=NOW) == (
        again,
        True,
    )


async def test_list_is_descending_with_cursor_and_limit(backend):
    mine = [rec() for _ in range(7)]
    for r in mine:
        await backend.create(r, request_id=None, max_active=100, now_ms=NOW)
    await backend.create(rec("bob"), request_id=None, max_active=100, now_ms=NOW)
    ids = [r.task_id for r in reversed(mine)]
    got = await backend.list("alice", before_task_id=None, limit=100, now_ms=NOW)
    assert [r.task_id for r in got] == ids
    assert got[0] == mine[-1]
    got = await backend.list("alice", before_task_id=ids[2], limit=3, now_ms=NOW)
    assert [r.task_id for r in got] == ids[3:6]
    assert await backend.list("alice", before_task_id=ids[-1], limit=5, now_ms=NOW) == []
    assert await backend.list("carol", before_task_id=None, limit=5, now_ms=NOW) == []


async def test_quota_counts_active_unexpired_records(backend):
    a = rec()
    await backend.create(a, request_id=None, max_active=2, now_ms=NOW)
    await backend.create(rec(active=False), request_id=None, max_active=2, now_ms=NOW)
    await backend.create(rec(expire_at=NOW + 1), request_id=None, max_active=2, now_ms=NOW)
    with pytest.raises(QuotaFull):
        await backend.create(rec(), request_id=None, max_active=2, now_ms=NOW)
    await backend.create(rec(), request_id=None, max_active=2, now_ms=NOW + 1)
    with pytest.raises(QuotaFull):
        await backend.create(rec(), request_id=None, max_active=2, now_ms=NOW + 1)
    await backend.compare_and_swap(bump(a, active=False), expected_version=1, now_ms=NOW + 1)
    await backend.create(rec(), request_id=None, max_active=2, now_ms=NOW + 1)
    await backend.create(rec("bob"), request_id=None, max_active=2, now_ms=NOW + 1)


async def test_request_id_returns_the_existing_record_without_quota(backend):
    feed = Feed(backend)
    first = rec()
    await backend.create(first, request_id="r", max_active=1, now_ms=NOW)
    moved = bump(first)
    await backend.compare_and_swap(moved, expected_version=1, now_ms=NOW)
    assert await backend.create(rec(), request_id="r", max_active=1, now_ms=NOW) == (moved, False)
    other = rec("bob")
    assert await backend.create(other, request_id="r", max_active=1, now_ms=NOW) == (other, True)
    # The answered retry committed nothing, so it published nothing.
    changes = await feed.at_least(3)
    assert [(c.task_id, c.record) for c in changes] == [
        (first.task_id, first),
        (first.task_id, moved),
        (other.task_id, other),
    ]


async def test_concurrent_creates_are_atomic_with_the_quota(backend):
    results = await asyncio.gather(
        *(backend.create(rec(), request_id=None, max_active=5, now_ms=NOW) for _ in range(30)),
        return_exceptions=True,
    )
    assert sum(not isinstance(r, BaseException) for r in results) == 5
    assert all(isinstance(r, QuotaFull) for r in results if isinstance(r, BaseException))


async def test_sweep_removes_expired_records_in_batches(backend, sweeping):
    for i in range(5):
        await backend.create(rec(expire_at=NOW + i), request_id=None, max_active=10, now_ms=NOW)
    keep = rec(expire_at=None)
    await backend.create(keep, request_id=None, max_active=10, now_ms=NOW)
    assert await backend.sweep_expired(NOW + 2, 100) == 3
    assert await backend.sweep_expired(NOW + 10, 1) == 1
    assert await backend.sweep_expired(NOW + 10, 100) == 1
    assert await backend.sweep_expired(NOW + 10, 100) == 0
    assert await backend.list("alice", before_task_id=None, limit=10, now_ms=NOW) == [keep]


async def test_feed_carries_every_commit_in_order(backend, sweeping):
    feed = Feed(backend)
    a = rec(expire_at=NOW + 50)
    b = rec()
    await backend.create(a, request_id=None, max_active=10, now_ms=NOW)
    await backend.create(b, request_id=None, max_active=10, now_ms=NOW)
    a2 = bump(a)
    await backend.compare_and_swap(a2, expected_version=1, now_ms=NOW)
    await backend.delete("alice", b.task_id, NOW)
    # Failed operations publish nothing.
    with pytest.raises(VersionConflict):
        await backend.compare_and_swap(bump(a), expected_version=1, now_ms=NOW)
    assert await backend.delete("alice", b.task_id, NOW) is False
    await backend.get("alice", a.task_id, NOW)
    await backend.sweep_expired(NOW + 50, 10)
    changes = await feed.at_least(5)
    # kind and event: test_store_event_log.py (stores with Feature.EVENT_LOG).
    assert [(c.owner, c.task_id, c.record) for c in changes] == [
        ("alice", a.task_id, a),
        ("alice", b.task_id, b),
        ("alice", a.task_id, a2),
        ("alice", b.task_id, None),
        ("alice", a.task_id, None),
    ]
    assert feed.resyncs == 0
