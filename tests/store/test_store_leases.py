"""Leases with fencing (docs/proposals/issue-10.md section 1), on every store with indexes.

Claims, renewals, the fence, both expiry policies and their races. Every test that claims
requests `indexed` (the store declares Feature.INDEXES); two-replica tests also request
`shared_database` (or `feed_shared_database` where a wake must cross replicas). Leases in
fake-clock tests last long in real time and the tests expire them by advancing the clock and
sweeping; the granting replica's timer reads the same clock and may get there first, so
tests assert the resulting task (one transition), not who made it.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from taskstate_server.backends import Feature
from taskstate_server.backends.base import Record
from taskstate_server.domain.errors import (
    InvalidArgument,
    InvalidTransition,
    LeaseHeld,
    LeaseLost,
    TaskNotFound,
    TaskTerminal,
    UnsupportedByStore,
    VersionMismatch,
)
from taskstate_server.domain.leases import LEASE_EXPIRED, LEASE_EXPIRED_CODE
from taskstate_server.domain.model import Lease, LeasePolicy, Limits, TaskPatch, TaskStatus
from taskstate_server.domain.store import TaskStore

OWNER = "alice"
LEASE = 20_000
FAIL, RELEASE = LeasePolicy.FAIL, LeasePolicy.RELEASE


async def offered(store: TaskStore, method: str = "", **kw: Any) -> str:
    """A task offered to claimers. The fake clock then moves on by 1 ms, so the next write
    (a claim, say) happens exactly at `clock.now`: writes in one millisecond of a task are
    spaced by the store."""
    task = await store.create(
        OWNER, request_method=method, lease_policy=kw.pop("policy", FAIL), **kw
    )
    store._clock.advance(1)  # type: ignore[attr-defined]
    return task.task_id


# -- claim by id -------------------------------------------------------------------


async def test_claim_by_id_grants_a_lease_with_the_next_epoch(store, indexed, clock):
    tid = (await store.create(OWNER)).task_id  # no policy: claimable by id only
    clock.advance(1)
    t = await store.claim(OWNER, worker_id="w1", task_id=tid, lease_ms=LEASE)
    assert t is not None
    assert t.version == 2
    assert t.lease == Lease("w1", 1, clock.now + LEASE, LEASE)
    assert t.lease_epoch == 1
    assert await store.get(OWNER, tid) == t


async def test_claim_of_a_task_another_worker_holds_is_lease_held(store, indexed, clock):
    tid = await offered(store)
    t = await store.claim(OWNER, worker_id="w1", task_id=tid, lease_ms=LEASE)
    with pytest.raises(LeaseHeld) as caught:
        await store.claim(OWNER, worker_id="w2", task_id=tid, lease_ms=LEASE)
    assert t is not None and t.lease is not None
    end = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t.lease.expire_time_ms // 1000))
    assert caught.value.metadata == {
        "lease_expire_time": f"{end}.{t.lease.expire_time_ms % 1000:03d}Z"
    }
    assert await store.get(OWNER, tid) == t


async def test_the_holders_retry_gets_its_lease_back_unchanged(store, indexed, clock):
    tid = await offered(store)
    first = await store.claim(OWNER, worker_id="w1", task_id=tid, lease_ms=LEASE)
    clock.advance(1000)
    again = await store.claim(OWNER, worker_id="w1", task_id=tid, lease_ms=2 * LEASE)
    assert again == first  # nothing written: same version, same lease
    assert (await store.get(OWNER, tid)).version == 2


async def test_claim_needs_a_working_task(store, indexed):
    tid = await offered(store)
    await store.update_status(OWNER, tid, TaskStatus.INPUT_REQUIRED)
    with pytest.raises(InvalidTransition):
        await store.claim(OWNER, worker_id="w1", task_id=tid)
    await store.complete(OWNER, tid, status=TaskStatus.COMPLETED)
    with pytest.raises(TaskTerminal):
        await store.claim(OWNER, worker_id="w1", task_id=tid)
    with pytest.raises(TaskNotFound):
        await store.claim("bob", worker_id="w1", task_id=tid)


async def test_claim_and_renew_check_their_arguments(store, indexed):
    tid = await offered(store)
    limits = store.limits
    for bad in ("", "x" * 257, "tab\there"):
        with pytest.raises(InvalidArgument) as caught:
            await store.claim(OWNER, worker_id=bad, task_id=tid)
        assert caught.value.violations[0].field == "worker_id"
    for bad_ms in (0, -5, limits.max_lease_ms + 1):
        with pytest.raises(InvalidArgument) as caught:
            await store.claim(OWNER, worker_id="w", task_id=tid, lease_ms=bad_ms)
        assert caught.value.violations[0].field == "lease_duration"
    with pytest.raises(InvalidArgument):
        await store.claim(OWNER, worker_id="w", task_id=tid, request_method="m")
    with pytest.raises(InvalidArgument):
        await store.claim(OWNER, worker_id="w", task_id=tid, wait_s=1)
    t = await store.claim(OWNER, worker_id="w", task_id=tid)
    assert t is not None and t.lease is not None
    assert t.lease.duration_ms == limits.default_lease_ms
    with pytest.raises(InvalidArgument) as caught:
        await store.renew(OWNER, tid, fencing_token=0)
    assert caught.value.violations[0].field == "fencing_token"
    with pytest.raises(InvalidArgument):
        await store.renew(OWNER, tid, fencing_token=1, lease_ms=limits.max_lease_ms + 1)
    assert (await store.get(OWNER, tid)).version == 2


async def test_create_checks_policy_and_attempts(store):
    with pytest.raises(InvalidArgument) as caught:
        await store.create(OWNER, lease_policy=FAIL, max_attempts=2)
    assert caught.value.violations[0].field == "max_attempts"
    with pytest.raises(InvalidArgument):
        await store.create(OWNER, max_attempts=2)
    for bad in (101, -1):
        with pytest.raises(InvalidArgument):
            await store.create(OWNER, lease_policy=RELEASE, max_attempts=bad)
    t = await store.create(OWNER, lease_policy=RELEASE)
    assert (t.lease_policy, t.max_attempts, t.attempt) == (
        RELEASE,
        store.limits.default_max_attempts,
        1,
    )
    t = await store.create(OWNER, lease_policy=RELEASE, max_attempts=100)
    assert t.max_attempts == 100
    t = await store.create(OWNER, lease_policy=FAIL)
    assert (t.lease_policy, t.max_attempts, t.lease, t.lease_epoch) == (FAIL, 0, None, 0)
    assert await store.get(OWNER, t.task_id) == t


# -- claim next --------------------------------------------------------------------


async def test_claim_next_takes_the_oldest_offered_task(store, indexed):
    await store.create(OWNER, request_method="a")  # not offered: no policy
    first = await offered(store, "a")
    second = await offered(store, "b", policy=RELEASE)
    got = await store.claim(OWNER, worker_id="w1")
    assert got is not None and got.task_id == first
    got = await store.claim(OWNER, worker_id="w2")
    assert got is not None and got.task_id == second
    assert await store.claim(OWNER, worker_id="w3") is None
    assert await store.claim("bob", worker_id="w3") is None


async def test_claim_next_by_method(store, indexed):
    a1 = await offered(store, "a")
    b1 = await offered(store, "b")
    a2 = await offered(store, "a")
    got = [await store.claim(OWNER, worker_id="w", request_method="b") for _ in range(2)]
    assert [t.task_id if t else None for t in got] == [b1, None]
    got = [await store.claim(OWNER, worker_id="w", request_method="a") for _ in range(3)]
    assert [t.task_id if t else None for t in got] == [a1, a2, None]
    assert await store.claim(OWNER, worker_id="w", request_method="") is None


async def test_claim_next_skips_what_is_not_claimable(store, indexed, clock):
    leased = await offered(store)
    await store.claim(OWNER, worker_id="w", task_id=leased, lease_ms=LEASE)
    waiting = await offered(store)
    await store.update_status(OWNER, waiting, TaskStatus.INPUT_REQUIRED)
    done = await offered(store)
    await store.complete(OWNER, done, status=TaskStatus.COMPLETED)
    gone = await offered(store, ttl_ms=1000)
    clock.advance(1000)
    assert await store.claim(OWNER, worker_id="w2") is None
    back = await store.update_status(OWNER, waiting, TaskStatus.WORKING)
    got = await store.claim(OWNER, worker_id="w2")
    assert got is not None and got.task_id == back.task_id
    assert gone != got.task_id


async def test_interleaved_claimers_never_share_a_task(make_store, indexed):
    s = await make_store(interleave=True)
    ids = {await offered(s, "m" if i % 2 else "") for i in range(10)}
    results = await asyncio.gather(*(s.claim(OWNER, worker_id=f"w{i}") for i in range(20)))
    claimed = [t for t in results if t is not None]
    assert sorted(t.task_id for t in claimed) == sorted(ids)
    for t in claimed:
        stored = await s.get(OWNER, t.task_id)
        assert stored == t and t.lease is not None and t.lease.token == 1
    assert sum(t is None for t in results) == 10


async def test_claimers_on_two_replicas_never_share_a_task(
    store, indexed, make_store, shared_database
):
    other = await make_store(interleave=True, database=shared_database)
    ids = {await offered(store) for _ in range(6)}
    results = await asyncio.gather(
        *(s.claim(OWNER, worker_id=f"w{i}") for i, s in enumerate([store, other] * 6))
    )
    claimed = sorted(t.task_id for t in results if t is not None)
    assert claimed == sorted(ids)


async def test_claim_waits_for_a_task_to_be_offered(store, indexed):
    claiming = asyncio.create_task(store.claim(OWNER, worker_id="w", request_method="m", wait_s=30))
    await offered(store, "other")
    tid = await offered(store, "m")
    got = await asyncio.wait_for(claiming, 30)
    assert got is not None and got.task_id == tid


async def test_claim_waits_for_a_release(store, indexed, clock):
    tid = await offered(store, policy=RELEASE)
    await store.claim(OWNER, worker_id="w1", task_id=tid, lease_ms=LEASE)
    claiming = asyncio.create_task(store.claim(OWNER, worker_id="w2", wait_s=30))
    clock.advance(LEASE)
    await store.expire_due_leases()
    got = await asyncio.wait_for(claiming, 30)
    assert got is not None and got.task_id == tid and got.attempt == 2


async def test_claim_wait_times_out_with_nothing(store, indexed):
    started = time.monotonic()
    assert await store.claim(OWNER, worker_id="w", wait_s=0.05) is None
    assert time.monotonic() - started >= 0.05


async def test_claim_wait_is_woken_by_another_replicas_create(
    store, indexed, make_store, feed_shared_database
):
    other = await make_store(database=feed_shared_database)
    claiming = asyncio.create_task(store.claim(OWNER, worker_id="w", wait_s=30))
    tid = await offered(other)
    got = await asyncio.wait_for(claiming, 30)
    assert got is not None and got.task_id == tid


# -- renew and the fence -----------------------------------------------------------


async def test_renew_extends_the_lease_and_writes_the_message(store, indexed, clock):
    tid = await offered(store)
    t = await store.claim(OWNER, worker_id="w", task_id=tid, lease_ms=LEASE)
    clock.advance(LEASE - 1)
    r = await store.renew(OWNER, tid, fencing_token=1, status_message="half way")
    assert r.version == t.version + 1
    assert r.lease == Lease("w", 1, clock.now + LEASE, LEASE)
    assert r.status_message == "half way"
    clock.advance(1)
    r2 = await store.renew(OWNER, tid, fencing_token=1, lease_ms=5 * LEASE)
    assert r2.lease == Lease("w", 1, clock.now + 5 * LEASE, 5 * LEASE)
    assert r2.status_message == "half way"  # unset: kept
    assert await store.get(OWNER, tid) == r2


async def test_renew_after_the_end_is_lease_lost_and_applies_the_policy(store, indexed, clock):
    tid = await offered(store)
    await store.claim(OWNER, worker_id="w", task_id=tid, lease_ms=LEASE)
    clock.advance(LEASE)
    with pytest.raises(LeaseLost) as caught:
        await store.renew(OWNER, tid, fencing_token=1)
    assert caught.value.metadata == {"fencing_token": "1", "current_fencing_token": "0"}
    t = await store.get(OWNER, tid)
    assert t.status is TaskStatus.FAILED and t.lease is None and t.version == 3


async def test_renew_with_another_token_is_lease_lost(store, indexed, clock):
    tid = await offered(store)
    await store.claim(OWNER, worker_id="w", task_id=tid, lease_ms=LEASE)
    with pytest.raises(LeaseLost) as caught:
        await store.renew(OWNER, tid, fencing_token=7)
    assert caught.value.metadata == {"fencing_token": "7", "current_fencing_token": "1"}
    with pytest.raises(TaskNotFound):
        await store.renew(OWNER, "0190a0b0-0000-7000-8000-000000000000", fencing_token=1)


async def test_a_stale_token_is_refused_even_at_the_matching_version(store, indexed, clock):
    tid = await offered(store, policy=RELEASE)
    await store.claim(OWNER, worker_id="old", task_id=tid, lease_ms=LEASE)
    clock.advance(LEASE)
    await store.expire_due_leases()
    new = await store.claim(OWNER, worker_id="new", task_id=tid, lease_ms=LEASE)
    assert new is not None and new.lease is not None and new.lease.token == 2
    v = new.version
    writes = [
        lambda: store.set_variables(OWNER, tid, {"x": 1}, expected_version=v, fencing_token=1),
        lambda: store.update_status(
            OWNER, tid, TaskStatus.INPUT_REQUIRED, expected_version=v, fencing_token=1
        ),
        lambda: store.put_if_version(
            OWNER, tid, v, TaskPatch(mask=frozenset({"status_message"})), fencing_token=1
        ),
        lambda: store.complete(
            OWNER, tid, status=TaskStatus.COMPLETED, expected_version=v, fencing_token=1
        ),
        # The fence is checked before the version: a worker first learns it lost the task.
        lambda: store.set_variables(OWNER, tid, {"x": 1}, expected_version=1, fencing_token=1),
    ]
    for write in writes:
        with pytest.raises(LeaseLost) as caught:
            await write()
        assert caught.value.metadata == {"fencing_token": "1", "current_fencing_token": "2"}
    assert await store.get(OWNER, tid) == new
    # The live token passes, and then the version is checked.
    with pytest.raises(VersionMismatch):
        await store.set_variables(OWNER, tid, {"x": 1}, expected_version=1, fencing_token=2)
    t = await store.set_variables(OWNER, tid, {"x": 1}, expected_version=v, fencing_token=2)
    assert t.variables == {"x": 1} and t.lease == new.lease


async def test_a_fenced_write_past_the_lease_end_is_lease_lost(store, indexed, clock):
    tid = await offered(store)
    await store.claim(OWNER, worker_id="w", task_id=tid, lease_ms=LEASE)
    clock.advance(LEASE)
    with pytest.raises(LeaseLost):
        await store.complete(OWNER, tid, status=TaskStatus.COMPLETED, fencing_token=1)
    with pytest.raises(LeaseLost):  # a task never leased
        await store.set_variables(OWNER, await offered(store), {"x": 1}, fencing_token=1)


class _BeforeFirstSwap:
    """A backend proxy that runs `hook` once, just before the first compare_and_swap
    after `arm()`: a deterministic write in between another write's read and CAS."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self._hook: Any = None

    def arm(self, hook: Any) -> None:
        self._hook = hook

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def compare_and_swap(self, record: Record, **kw: Any) -> None:
        hook, self._hook = self._hook, None
        if hook is not None:
            await hook()
        await self._inner.compare_and_swap(record, **kw)


async def test_a_fenced_write_after_a_heartbeat_retries(
    opened, backend, database, indexed, clock, make_store
):
    proxy = _BeforeFirstSwap(backend)
    store = opened.store(proxy, None, clock)  # type: ignore[arg-type]
    # The heartbeat comes through another replica where the store has them.
    heart = await make_store(database=database) if _shared(opened) else store
    tid = await offered(store)
    await store.claim(OWNER, worker_id="w", task_id=tid, lease_ms=LEASE)
    proxy.arm(lambda: heart.renew(OWNER, tid, fencing_token=1, status_message="beat"))
    t = await store.set_variables(OWNER, tid, {"x": 1}, fencing_token=1)
    assert t.version == 4  # claim 2, heartbeat 3, the write retried on top of it
    assert t.status_message == "beat" and t.variables == {"x": 1}


def _shared(opened: Any) -> bool:
    return bool(opened.spec.has(Feature.SHARED))


async def test_unfenced_writes_stay_allowed_on_a_leased_task(store, indexed):
    tid = await offered(store)
    await store.claim(OWNER, worker_id="w", task_id=tid, lease_ms=LEASE)
    t = await store.set_variables(OWNER, tid, {"from": "requester"})
    assert t.lease is not None
    t = await store.cancel(OWNER, tid, "no longer needed")
    assert t.status is TaskStatus.CANCELLED and t.lease is None and t.lease_epoch == 1


async def test_leaving_working_ends_the_lease(store, indexed):
    tid = await offered(store)
    await store.claim(OWNER, worker_id="w", task_id=tid, lease_ms=LEASE)
    t = await store.update_status(OWNER, tid, TaskStatus.INPUT_REQUIRED, fencing_token=1)
    assert t.lease is None and t.lease_epoch == 1
    with pytest.raises(LeaseLost) as caught:
        await store.renew(OWNER, tid, fencing_token=1)
    assert caught.value.metadata["current_fencing_token"] == "0"
    await store.update_status(OWNER, tid, TaskStatus.WORKING)
    again = await store.claim(OWNER, worker_id="w2")  # offered again, under a new epoch
    assert again is not None and again.lease is not None and again.lease.token == 2
    done = await store.complete(OWNER, tid, status=TaskStatus.COMPLETED, fencing_token=2)
    assert done.lease is None and done.lease_epoch == 2
    assert await store.expire_due_leases() == 0


async def test_put_if_version_leaving_working_ends_the_lease(store, indexed):
    tid = await offered(store)
    t = await store.claim(OWNER, worker_id="w", task_id=tid, lease_ms=LEASE)
    assert t is not None
    patch = TaskPatch(mask=frozenset({"status"}), status=TaskStatus.FAILED)
    done = await store.put_if_version(OWNER, tid, t.version, patch, fencing_token=1)
    assert done.lease is None


# -- expiry ------------------------------------------------------------------------


async def test_fail_policy_fails_the_task_once_the_lease_ends(store, indexed, clock):
    tid = await offered(store, variables={"kept": True})
    await store.claim(OWNER, worker_id="w1", task_id=tid, lease_ms=LEASE)
    clock.advance(LEASE - 1)
    assert await store.expire_due_leases() == 0
    assert await store.expire_lease(OWNER, tid) is None
    clock.advance(1)
    await store.expire_due_leases()  # (or the granting replica's timer, which reads the clock too)
    t = await store.get(OWNER, tid)
    assert t.version == 3 and t.status is TaskStatus.FAILED and t.lease is None
    assert t.status_message == "lease of w1 expired"
    assert t.variables == {"kept": True} and t.lease_epoch == 1
    assert t.error is not None and t.error.code == LEASE_EXPIRED_CODE == 13
    assert t.error.message.startswith(f"{LEASE_EXPIRED}: ")
    assert t.error.data == {
        "reason": "LEASE_EXPIRED",
        "worker_id": "w1",
        "fencing_token": 1,
        "attempt": 1,
    }
    assert await store.expire_due_leases() == 0
    assert await store.expire_lease(OWNER, tid) is None


async def test_a_lease_taken_by_id_on_an_unoffered_task_expires_as_fail(store, indexed, clock):
    tid = (await store.create(OWNER)).task_id
    clock.advance(1)
    await store.claim(OWNER, worker_id="w1", task_id=tid, lease_ms=LEASE)
    clock.advance(LEASE)
    await store.expire_lease(OWNER, tid)
    t = await store.get(OWNER, tid)
    assert t.status is TaskStatus.FAILED and t.version == 3


async def test_release_policy_releases_until_max_attempts_then_fails(store, indexed, clock):
    tid = await offered(store, policy=RELEASE, max_attempts=3)
    for attempt in (1, 2, 3):
        t = await store.claim(OWNER, worker_id=f"w{attempt}", lease_ms=LEASE)
        assert t is not None and t.task_id == tid
        assert t.attempt == attempt and t.lease is not None and t.lease.token == attempt
        clock.advance(LEASE)
        await store.expire_due_leases()
        t = await store.get(OWNER, tid)
        assert t.lease is None
        if attempt < 3:
            assert t.status is TaskStatus.WORKING and t.attempt == attempt + 1
        clock.advance(1)
    assert t.status is TaskStatus.FAILED and t.attempt == 3
    assert t.error is not None and t.error.data["attempt"] == 3
    assert t.error.data["worker_id"] == "w3"
    assert await store.claim(OWNER, worker_id="w4") is None


async def test_two_replicas_expiring_one_lease_make_one_transition(
    make_store, indexed, shared_database, clock
):
    a = await make_store(interleave=True, database=shared_database)
    b = await make_store(interleave=True, database=shared_database)
    tids = [await offered(a, policy=RELEASE) for _ in range(5)]
    for tid in tids:
        await a.claim(OWNER, worker_id="w", task_id=tid, lease_ms=LEASE)
    clock.advance(LEASE)
    results = await asyncio.gather(
        *(s.expire_lease(OWNER, tid) for tid in tids for s in (a, b)),
        a.expire_due_leases(),
        b.expire_due_leases(),
    )
    done = [r for r in results[:-2] if r is not None]
    # Each applied exactly once (by these calls, or by a's timer): one version more.
    assert len(done) + sum(results[-2:]) <= len(tids)
    for tid in tids:
        t = await a.get(OWNER, tid)
        assert (t.version, t.attempt, t.lease, t.status) == (3, 2, None, TaskStatus.WORKING)


async def test_renew_racing_expiry(make_store, indexed, shared_database, clock):
    a = await make_store(interleave=True, database=shared_database)
    b = await make_store(interleave=True, database=shared_database)
    live = await offered(a)
    ended = await offered(a)
    for tid in (live, ended):
        await a.claim(OWNER, worker_id="w", task_id=tid, lease_ms=LEASE)
    clock.advance(LEASE - 1)
    renewed, expired = await asyncio.gather(
        a.renew(OWNER, live, fencing_token=1), b.expire_lease(OWNER, live)
    )
    assert expired is None and renewed.version == 3  # before the end the renewal wins
    clock.advance(1)
    outcome = await asyncio.gather(
        a.renew(OWNER, ended, fencing_token=1), b.expire_lease(OWNER, ended), return_exceptions=True
    )
    assert isinstance(outcome[0], LeaseLost)  # at the end the expiry wins, whoever writes it
    t = await b.get(OWNER, ended)
    assert t.status is TaskStatus.FAILED and t.version == 3


async def test_a_claim_applies_a_pending_expiry_first(store, indexed, clock):
    released = await offered(store, policy=RELEASE)
    failed = await offered(store)
    for tid in (released, failed):
        await store.claim(OWNER, worker_id="w1", task_id=tid, lease_ms=LEASE)
    clock.advance(LEASE)
    t = await store.claim(OWNER, worker_id="w2", task_id=released, lease_ms=LEASE)
    assert t is not None and t.attempt == 2 and t.version == 4  # release 3, claim 4
    assert t.lease == Lease("w2", 2, t.update_time_ms + LEASE, LEASE)
    with pytest.raises(TaskTerminal):
        await store.claim(OWNER, worker_id="w2", task_id=failed)
    f = await store.get(OWNER, failed)
    assert f.status is TaskStatus.FAILED and f.version == 3
    # The holder's own retry past the end is no retry: the lease is gone.
    again = await store.claim(OWNER, worker_id="w2", task_id=released, lease_ms=LEASE)
    assert again == t


async def test_a_task_whose_ttl_passed_just_expires(store, indexed, clock):
    tid = await offered(store, ttl_ms=LEASE)
    await store.claim(OWNER, worker_id="w", task_id=tid, lease_ms=LEASE)
    clock.advance(LEASE)
    assert await store.expire_due_leases() == 0
    assert await store.expire_lease(OWNER, tid) is None


async def test_the_granting_replica_expires_the_lease_on_time(opened, backend, indexed):
    # A real clock: the timer, not the test, expires the lease.
    s = TaskStore(backend, Limits())
    opened.stores.append(s)
    tid = (await s.create(OWNER, lease_policy=FAIL)).task_id
    t = await s.claim(OWNER, worker_id="w", task_id=tid, lease_ms=100)
    assert t is not None and t.lease is not None
    done = await s.wait(OWNER, tid, timeout_s=30)
    assert done.status is TaskStatus.FAILED
    late = done.update_time_ms - t.lease.expire_time_ms
    assert 0 <= late < 1000


async def test_claims_need_a_store_with_indexes(opened, backend, clock):
    class NoIndexes:
        features = frozenset(backend.features - {Feature.INDEXES})

        def __getattr__(self, name: str) -> Any:
            return getattr(backend, name)

    s = opened.store(NoIndexes(), None, clock)  # type: ignore[arg-type]
    tid = await offered(s)
    with pytest.raises(UnsupportedByStore):
        await s.claim(OWNER, worker_id="w", task_id=tid)
    with pytest.raises(UnsupportedByStore):
        await s.claim(OWNER, worker_id="w")
    with pytest.raises(UnsupportedByStore):
        await s.renew(OWNER, tid, fencing_token=1)
    assert await s.expire_due_leases() == 0
    with pytest.raises(LeaseLost):  # nothing is ever leased there
        await s.set_variables(OWNER, tid, {"x": 1}, fencing_token=1)
