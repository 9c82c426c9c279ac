"""Versions, compare-and-swap, lost updates and idempotent create, on every store."""

from __future__ import annotations

import asyncio

import pytest
from taskstate_server.domain.errors import (
    InvalidArgument,
    QuotaExceeded,
    TaskNotFound,
    VersionMismatch,
)
from taskstate_server.domain.model import Limits, TaskPatch, TaskStatus

OWNER = "alice"


# -- versions ------------------------------------------------------------------


async def test_create_is_version_one_and_every_mutation_adds_one(store, clock):
    t = await store.create(OWNER, request_method="tools/call")
    assert t.version == 1
    assert t.status is TaskStatus.WORKING
    assert t.create_time_ms == t.update_time_ms == clock.now
    tid = t.task_id

    steps = [
        lambda: store.set_variables(OWNER, tid, {"a": 1}),
        lambda: store.update_status(OWNER, tid, TaskStatus.INPUT_REQUIRED, "need input"),
        lambda: store.put_if_version(
            OWNER, tid, 3, TaskPatch(mask=frozenset({"status_message"}), status_message="m")
        ),
        lambda: store.update_status(OWNER, tid, TaskStatus.WORKING),
        lambda: store.complete(OWNER, tid, status=TaskStatus.COMPLETED, result={"ok": True}),
    ]
    previous = t
    for expected_version, step in enumerate(steps, start=2):
        t = await step()
        assert t.version == expected_version
        # Same millisecond on the fake clock, yet update_time must still move.
        assert t.update_time_ms > previous.update_time_ms
        assert t.create_time_ms == previous.create_time_ms
        assert await store.get(OWNER, tid) == t
        previous = t


async def test_update_time_follows_the_clock_when_it_moves(store, clock):
    t = await store.create(OWNER)
    clock.advance(250)
    t2 = await store.set_variables(OWNER, t.task_id, {"x": 1})
    assert t2.update_time_ms == clock.now
    assert t2.create_time_ms == t.create_time_ms


async def test_rejected_mutation_does_not_change_the_version(store):
    t = await store.create(OWNER)
    with pytest.raises(VersionMismatch):
        await store.set_variables(OWNER, t.task_id, {"a": 1}, expected_version=7)
    with pytest.raises(InvalidArgument):
        await store.set_variables(OWNER, t.task_id, {"": 1})
    assert (await store.get(OWNER, t.task_id)).version == 1


async def test_delete_then_create_never_reuses_an_id_or_version(store):
    first = await store.create(OWNER, request_id="job-1")
    first = await store.set_variables(OWNER, first.task_id, {"a": 1})
    await store.delete(OWNER, first.task_id)
    with pytest.raises(TaskNotFound):
        await store.get(OWNER, first.task_id)
    second = await store.create(OWNER, request_id="job-1")
    assert second.task_id != first.task_id
    assert second.version == 1
    assert second.variables == {}
    with pytest.raises(TaskNotFound):
        await store.set_variables(OWNER, first.task_id, {"b": 2})


# -- compare-and-swap ------------------------------------------------------------


async def _at_version_2(store):
    t = await store.create(OWNER)
    return await store.set_variables(OWNER, t.task_id, {"k": "v"})


async def test_put_if_version_with_stale_version_is_a_mismatch(store):
    t = await _at_version_2(store)
    patch = TaskPatch(mask=frozenset({"status_message"}), status_message="late")
    with pytest.raises(VersionMismatch) as e:
        await store.put_if_version(OWNER, t.task_id, 1, patch)
    assert (e.value.expected, e.value.actual) == (1, 2)
    assert e.value.metadata == {"expected_version": "1", "actual_version": "2"}
    with pytest.raises(VersionMismatch) as e:
        await store.put_if_version(OWNER, t.task_id, 3, patch)
    assert (e.value.expected, e.value.actual) == (3, 2)
    assert await store.get(OWNER, t.task_id) == t
    done = await store.put_if_version(OWNER, t.task_id, 2, patch)
    assert (done.version, done.status_message) == (3, "late")


async def test_update_status_with_stale_version_is_a_mismatch(store):
    t = await _at_version_2(store)
    with pytest.raises(VersionMismatch) as e:
        await store.update_status(OWNER, t.task_id, TaskStatus.COMPLETED, expected_version=1)
    assert (e.value.expected, e.value.actual) == (1, 2)
    assert (await store.get(OWNER, t.task_id)).status is TaskStatus.WORKING
    ok = await store.update_status(OWNER, t.task_id, TaskStatus.COMPLETED, expected_version=2)
    assert ok.version == 3


async def test_set_variables_and_complete_with_stale_version_are_mismatches(store):
    t = await _at_version_2(store)
    with pytest.raises(VersionMismatch) as e:
        await store.set_variables(OWNER, t.task_id, {"k": "w"}, expected_version=1)
    assert (e.value.expected, e.value.actual) == (1, 2)
    with pytest.raises(VersionMismatch) as e:
        await store.complete(
            OWNER, t.task_id, status=TaskStatus.COMPLETED, result=1, expected_version=1
        )
    assert (e.value.expected, e.value.actual) == (1, 2)
    assert await store.get(OWNER, t.task_id) == t


async def test_expected_version_must_be_positive(store):
    t = await store.create(OWNER)
    patch = TaskPatch(mask=frozenset({"status_message"}), status_message="x")
    for bad in (0, -1):
        with pytest.raises(InvalidArgument):
            await store.put_if_version(OWNER, t.task_id, bad, patch)
        with pytest.raises(InvalidArgument):
            await store.update_status(OWNER, t.task_id, TaskStatus.COMPLETED, expected_version=bad)
    assert (await store.get(OWNER, t.task_id)).version == 1


@pytest.mark.parametrize("interleave", [False, True], ids=["plain", "interleaved"])
async def test_concurrent_cas_on_one_version_has_exactly_one_winner(make_store, interleave):
    store = await make_store(interleave=interleave)
    t = await store.create(OWNER)

    async def writer(i: int):
        patch = TaskPatch(mask=frozenset({"status_message"}), status_message=f"w{i}")
        return await store.put_if_version(OWNER, t.task_id, 1, patch)

    results = await asyncio.gather(*(writer(i) for i in range(8)), return_exceptions=True)
    winners = [r for r in results if not isinstance(r, BaseException)]
    losers = [r for r in results if isinstance(r, BaseException)]
    assert len(winners) == 1, results
    assert all(isinstance(r, VersionMismatch) for r in losers), losers
    assert all((r.expected, r.actual) == (1, 2) for r in losers)
    final = await store.get(OWNER, t.task_id)
    assert final == winners[0]
    assert final.version == 2


@pytest.mark.parametrize("interleave", [False, True], ids=["plain", "interleaved"])
async def test_concurrent_writers_without_expected_version_lose_no_update(make_store, interleave):
    store = await make_store(interleave=interleave)
    t = await store.create(OWNER)
    n = 25
    results = await asyncio.gather(
        *(store.set_variables(OWNER, t.task_id, {f"k{i}": i}) for i in range(n))
    )
    assert sorted(r.version for r in results) == list(range(2, n + 2))
    final = await store.get(OWNER, t.task_id)
    assert final.version == n + 1
    assert final.variables == {f"k{i}": i for i in range(n)}


async def test_two_replicas_on_one_database_lose_no_update(make_store, shared_database):
    a = await make_store(database=shared_database)
    b = await make_store(database=shared_database)
    t = await a.create(OWNER)
    assert await b.get(OWNER, t.task_id) == t
    n = 30
    writes = [(a if i % 2 else b).set_variables(OWNER, t.task_id, {f"k{i}": i}) for i in range(n)]
    await asyncio.gather(*writes)
    for s in (a, b):
        final = await s.get(OWNER, t.task_id)
        assert final.version == n + 1
        assert final.variables == {f"k{i}": i for i in range(n)}


async def test_two_replicas_cas_has_exactly_one_winner(make_store, shared_database):
    a = await make_store(database=shared_database)
    b = await make_store(database=shared_database)
    t = await a.create(OWNER)
    patch = TaskPatch(mask=frozenset({"variables"}), variables={"by": "x"})
    results = await asyncio.gather(
        *((a if i % 2 else b).put_if_version(OWNER, t.task_id, 1, patch) for i in range(10)),
        return_exceptions=True,
    )
    assert sum(not isinstance(r, BaseException) for r in results) == 1, results
    assert all(isinstance(r, VersionMismatch) for r in results if isinstance(r, BaseException))
    assert (await b.get(OWNER, t.task_id)).version == 2


# -- idempotent create -------------------------------------------------------------


async def test_same_request_id_returns_the_first_task_and_creates_nothing(store):
    first = await store.create(OWNER, request_method="a", variables={"n": 1}, request_id="r1")
    again = await store.create(OWNER, request_method="b", variables={"n": 2}, request_id="r1")
    assert again == first
    page = await store.list(OWNER)
    assert [t.task_id for t in page.tasks] == [first.task_id]


async def test_retry_returns_the_first_task_as_it_is_now(store):
    first = await store.create(OWNER, request_id="r1")
    moved = await store.set_variables(OWNER, first.task_id, {"progress": 50})
    again = await store.create(OWNER, request_id="r1")
    assert again == moved


async def test_concurrent_creates_with_one_request_id_make_one_task(make_store):
    store = await make_store(interleave=True)
    results = await asyncio.gather(*(store.create(OWNER, request_id="same") for _ in range(10)))
    assert len({t.task_id for t in results}) == 1
    assert len((await store.list(OWNER)).tasks) == 1


async def test_one_request_id_on_two_replicas_makes_one_task(make_store, shared_database):
    a = await make_store(database=shared_database)
    b = await make_store(database=shared_database)
    results = await asyncio.gather(
        *((a if i % 2 else b).create(OWNER, request_id="same") for i in range(10))
    )
    assert len({t.task_id for t in results}) == 1
    assert len((await b.list(OWNER)).tasks) == 1


async def test_request_ids_are_per_owner(store):
    a = await store.create("alice", request_id="r1")
    b = await store.create("bob", request_id="r1")
    assert a.task_id != b.task_id
    assert (a.owner, b.owner) == ("alice", "bob")
    assert await store.create("bob", request_id="r1") == b


async def test_request_id_creates_anew_after_delete(store):
    first = await store.create(OWNER, request_id="r1")
    await store.delete(OWNER, first.task_id)
    second = await store.create(OWNER, request_id="r1")
    assert second.task_id != first.task_id
    assert await store.create(OWNER, request_id="r1") == second
    assert [t.task_id for t in (await store.list(OWNER)).tasks] == [second.task_id]


async def test_request_id_retry_is_answered_even_when_the_quota_is_full(make_store):
    store = await make_store(Limits(max_active_tasks=1))
    first = await store.create(OWNER, request_id="r1")
    with pytest.raises(QuotaExceeded):
        await store.create(OWNER, request_id="r2")
    assert await store.create(OWNER, request_id="r1") == first


async def test_distinct_request_ids_make_distinct_tasks(store):
    a = await store.create(OWNER, request_id="r1")
    b = await store.create(OWNER, request_id="r2")
    c = await store.create(OWNER)
    d = await store.create(OWNER)
    assert len({a.task_id, b.task_id, c.task_id, d.task_id}) == 4


async def test_a_reopened_database_keeps_tasks_and_versions(make_store, shared_database):
    a = await make_store(database=shared_database)
    t = await a.create(OWNER, request_id="r", variables={"k": "v"})
    t = await a.update_status(OWNER, t.task_id, TaskStatus.INPUT_REQUIRED)
    await a.close()
    b = await make_store(database=shared_database)
    assert await b.get(OWNER, t.task_id) == t
    assert await b.create(OWNER, request_id="r") == t
    t3 = await b.set_variables(OWNER, t.task_id, {"k": None})
    assert (t3.version, t3.variables) == (3, {})
