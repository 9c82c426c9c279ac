"""Expiry (driven by the fake clock) and the active-task quota, on every store."""

from __future__ import annotations

import asyncio

import pytest
from taskstate_server.domain.errors import QuotaExceeded, TaskNotFound
from taskstate_server.domain.model import Limits, TaskPatch, TaskStatus
from taskstate_server.transport.errors import reason_for

OWNER = "alice"


def _mutations(store, tid):
    patch = TaskPatch(mask=frozenset({"status_message"}), status_message="x")
    return {
        "get": lambda: store.get(OWNER, tid),
        "update_status": lambda: store.update_status(OWNER, tid, TaskStatus.INPUT_REQUIRED),
        "set_variables": lambda: store.set_variables(OWNER, tid, {"a": 1}),
        "put_if_version": lambda: store.put_if_version(OWNER, tid, 1, patch),
        "complete": lambda: store.complete(OWNER, tid, status=TaskStatus.COMPLETED),
        "cancel": lambda: store.cancel(OWNER, tid),
        "wait": lambda: store.wait(OWNER, tid, timeout_s=0),
        "delete": lambda: store.delete(OWNER, tid),
    }


async def _assert_gone(store, tid):
    for name, op in _mutations(store, tid).items():
        with pytest.raises(TaskNotFound):
            await op()
            pytest.fail(f"{name} found an expired task")
    assert tid not in {t.task_id for t in (await store.list(OWNER)).tasks}


# -- expiry ------------------------------------------------------------------------


async def test_expire_time_is_create_time_plus_ttl(store, clock):
    t = await store.create(OWNER, ttl_ms=1500)
    assert (t.ttl_ms, t.expire_time_ms) == (1500, clock.now + 1500)
    d = await store.create(OWNER)
    assert (d.ttl_ms, d.expire_time_ms) == (Limits().default_ttl_ms, clock.now + d.ttl_ms)


async def test_expired_task_is_absent_before_and_after_the_sweep(store, clock, sweeping):
    keep = await store.create(OWNER, ttl_ms=10_000)
    t = await store.create(OWNER, ttl_ms=1000)
    clock.advance(999)
    assert await store.get(OWNER, t.task_id) == t
    clock.advance(1)  # expire_time has now been reached
    await _assert_gone(store, t.task_id)
    assert await store.sweep_expired() == 1
    await _assert_gone(store, t.task_id)
    assert await store.sweep_expired() == 0
    assert await store.get(OWNER, keep.task_id) == keep
    assert (await store.list(OWNER)).tasks == [keep]


async def test_raw_record_is_absent_from_the_backend_once_expired(store, clock):
    t = await store.create(OWNER, ttl_ms=1000)
    clock.advance(1000)
    assert await store.backend.get(OWNER, t.task_id, clock.now) is None
    assert await store.backend.list(OWNER, before_task_id=None, limit=10, now_ms=clock.now) == []


async def test_sweep_removes_only_expired_tasks(make_store, clock, sweeping):
    store = await make_store(Limits(max_active_tasks=1000))
    short = [await store.create(OWNER, ttl_ms=100) for _ in range(7)]
    other = [await store.create("bob", ttl_ms=100) for _ in range(3)]
    long = [await store.create(OWNER, ttl_ms=100_000) for _ in range(4)]
    clock.advance(100)
    assert await store.sweep_expired() == len(short) + len(other)
    listed = (await store.list(OWNER)).tasks
    assert [t.task_id for t in listed] == [t.task_id for t in reversed(long)]
    # Raw state agrees: the backend physically lost them, and kept the rest.
    for t in short:
        assert await store.backend.get(OWNER, t.task_id, clock.now - 50) is None


@pytest.mark.parametrize("count", [12, 10])
async def test_sweep_handles_more_than_one_batch(store, clock, sweeping, count, monkeypatch):
    # Batches of 5 (not the default 500): the same loop, without 1,000+ creates
    # (minutes on DynamoDB Local). 10 ends on a full batch, so one more call finds none.
    store.sweep_batch = 5
    calls: list[int] = []
    sweep = store.backend.sweep_expired

    async def counted(now_ms: int, limit: int) -> int:
        calls.append(n := await sweep(now_ms, limit))
        return n

    monkeypatch.setattr(store.backend, "sweep_expired", counted)
    for _ in range(count):
        await store.create(OWNER, ttl_ms=10)
    clock.advance(10)
    assert await store.sweep_expired() == count
    assert calls == [5, 5, count - 10]
    assert (await store.list(OWNER)).tasks == []


async def test_renewed_ttl_moves_expiry(store, clock):
    t = await store.create(OWNER, ttl_ms=1000)
    clock.advance(800)
    t = await store.put_if_version(
        OWNER, t.task_id, 1, TaskPatch(mask=frozenset({"ttl"}), ttl_ms=1000)
    )
    assert (t.ttl_ms, t.expire_time_ms) == (1000, clock.now + 1000)
    clock.advance(900)  # 1700 ms after create: past the old expiry
    assert await store.get(OWNER, t.task_id) == t
    assert await store.sweep_expired() == 0
    clock.advance(100)
    await _assert_gone(store, t.task_id)


async def test_unset_ttl_in_a_patch_means_never_expires(store, clock):
    t = await store.create(OWNER, ttl_ms=1000)
    clock.advance(500)
    t = await store.put_if_version(
        OWNER, t.task_id, 1, TaskPatch(mask=frozenset({"ttl"}), ttl_ms=None)
    )
    assert (t.ttl_ms, t.expire_time_ms) == (None, None)
    clock.advance(Limits().max_ttl_ms * 10)
    assert await store.get(OWNER, t.task_id) == t
    await store.sweep_expired()
    assert await store.get(OWNER, t.task_id) == t


async def test_terminal_tasks_expire_too(store, clock):
    t = await store.create(OWNER, ttl_ms=1000)
    await store.complete(OWNER, t.task_id, status=TaskStatus.COMPLETED)
    clock.advance(1000)
    await _assert_gone(store, t.task_id)


async def test_request_id_of_an_expired_task_creates_anew(store, clock):
    first = await store.create(OWNER, ttl_ms=1000, request_id="r")
    clock.advance(1000)
    second = await store.create(OWNER, ttl_ms=1000, request_id="r")
    assert second.task_id != first.task_id
    assert second.version == 1
    assert await store.create(OWNER, request_id="r") == second
    await store.sweep_expired()
    assert await store.create(OWNER, request_id="r") == second


async def test_request_id_answers_as_long_as_its_task_lives(store, clock):
    first = await store.create(OWNER, ttl_ms=1000, request_id="r")
    clock.advance(800)
    renewed = await store.put_if_version(
        OWNER, first.task_id, 1, TaskPatch(mask=frozenset({"ttl"}), ttl_ms=1000)
    )
    clock.advance(900)  # past the first expiry, before the renewed one
    assert await store.create(OWNER, ttl_ms=1000, request_id="r") == renewed
    forever = await store.put_if_version(
        OWNER, first.task_id, 2, TaskPatch(mask=frozenset({"ttl"}), ttl_ms=None)
    )
    clock.advance(Limits().max_ttl_ms * 2)
    await store.sweep_expired()
    assert await store.create(OWNER, request_id="r") == forever


# -- quota -------------------------------------------------------------------------


async def test_quota_counts_active_tasks_only(make_store):
    store = await make_store(Limits(max_active_tasks=3))
    a = await store.create(OWNER)
    b = await store.create(OWNER)
    await store.create(OWNER)
    with pytest.raises(QuotaExceeded) as e:
        await store.create(OWNER)
    assert reason_for(e.value) == "TASK_QUOTA_EXCEEDED"
    # input_required is still active.
    await store.update_status(OWNER, a.task_id, TaskStatus.INPUT_REQUIRED)
    with pytest.raises(QuotaExceeded):
        await store.create(OWNER)
    # Terminal tasks do not count, whichever way they ended.
    await store.complete(OWNER, a.task_id, status=TaskStatus.COMPLETED)
    c = await store.create(OWNER)
    with pytest.raises(QuotaExceeded):
        await store.create(OWNER)
    await store.cancel(OWNER, b.task_id)
    d = await store.create(OWNER)
    await store.complete(OWNER, c.task_id, status=TaskStatus.FAILED)
    await store.put_if_version(
        OWNER,
        d.task_id,
        1,
        TaskPatch(mask=frozenset({"status"}), status=TaskStatus.CANCELLED),
    )
    await store.create(OWNER)
    await store.create(OWNER)
    with pytest.raises(QuotaExceeded):
        await store.create(OWNER)
    assert len((await store.list(OWNER)).tasks) == 7


async def test_quota_frees_on_delete_and_is_per_owner(make_store):
    store = await make_store(Limits(max_active_tasks=2))
    a = await store.create(OWNER)
    await store.create(OWNER)
    with pytest.raises(QuotaExceeded):
        await store.create(OWNER)
    await store.create("bob")
    await store.create("bob")
    await store.delete(OWNER, a.task_id)
    await store.create(OWNER)
    with pytest.raises(QuotaExceeded):
        await store.create("bob")


async def test_expired_tasks_do_not_count_toward_quota(make_store, clock):
    store = await make_store(Limits(max_active_tasks=2))
    await store.create(OWNER, ttl_ms=1000)
    await store.create(OWNER, ttl_ms=1000)
    with pytest.raises(QuotaExceeded):
        await store.create(OWNER)
    clock.advance(1000)
    # Not swept yet: expired tasks already do not exist.
    await store.create(OWNER)
    await store.create(OWNER)
    with pytest.raises(QuotaExceeded):
        await store.create(OWNER)
    await store.sweep_expired()
    with pytest.raises(QuotaExceeded):
        await store.create(OWNER)


async def test_a_renewed_task_keeps_counting_toward_the_quota(make_store, clock):
    store = await make_store(Limits(max_active_tasks=2))
    a = await store.create(OWNER, ttl_ms=1000)
    await store.create(OWNER, ttl_ms=1000)
    clock.advance(800)
    await store.put_if_version(OWNER, a.task_id, 1, TaskPatch(mask=frozenset({"ttl"}), ttl_ms=1000))
    clock.advance(200)  # the other one has expired, `a` has not
    await store.create(OWNER)
    with pytest.raises(QuotaExceeded):
        await store.create(OWNER)
    await store.cancel(OWNER, a.task_id)
    await store.create(OWNER)


@pytest.mark.parametrize("interleave", [False, True], ids=["plain", "interleaved"])
async def test_concurrent_creates_respect_the_quota_exactly(make_store, interleave):
    store = await make_store(Limits(max_active_tasks=10), interleave=interleave)
    results = await asyncio.gather(
        *(store.create(OWNER, request_method=f"m{i}") for i in range(50)), return_exceptions=True
    )
    created = [r for r in results if not isinstance(r, BaseException)]
    errors = [r for r in results if isinstance(r, BaseException)]
    assert len(created) == 10
    assert all(isinstance(e, QuotaExceeded) for e in errors), errors
    assert len(errors) == 40
    listed = (await store.list(OWNER)).tasks
    assert {t.task_id for t in listed} == {t.task_id for t in created}


async def test_concurrent_creates_on_two_replicas_respect_the_quota(make_store, shared_database):
    limits = Limits(max_active_tasks=10)
    a = await make_store(limits, database=shared_database)
    b = await make_store(limits, database=shared_database)
    results = await asyncio.gather(
        *((a if i % 2 else b).create(OWNER) for i in range(50)), return_exceptions=True
    )
    created = [r for r in results if not isinstance(r, BaseException)]
    assert len(created) == 10
    assert all(isinstance(r, QuotaExceeded) for r in results if isinstance(r, BaseException))
    assert len((await a.list(OWNER)).tasks) == 10


async def test_default_quota_is_100_active_tasks(store):
    for _ in range(100):
        await store.create(OWNER)
    with pytest.raises(QuotaExceeded):
        await store.create(OWNER)
