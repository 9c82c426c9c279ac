"""`Feature.INDEXES` (backends/base.py `IndexedBackend`), on every store that declares it.

What the domain relies on: ListTasks(statuses) pages by `list_by_status` exactly as it pages
`list` (a short page means the end), ClaimTask-next takes `claimable`'s oldest first, and the
lease sweeper finds every owner's due leases with `due_leases`. Each index follows the facts of
the record as last written (`Record.status`, `claim_group`, `lease_until_ms`), forgets a
deleted record, and skips expired ones.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable

import pytest
from _backend_records import GUARD, NOW, bump, rec
from taskstate_server.backends import Feature, has_feature
from taskstate_server.backends.base import IndexedBackend, Record, VersionConflict
from taskstate_server.domain.records import claim_group

ANY = 1000
WORKING = frozenset({"working"})


async def put(backend: IndexedBackend, *records: Record) -> None:
    for r in records:
        await backend.create(r, request_id=None, max_active=ANY, now_ms=NOW)


def ids(records: Iterable[Record]) -> list[str]:
    return [r.task_id for r in records]


def newest_first(records: Iterable[Record]) -> list[str]:
    return sorted(ids(records), reverse=True)


async def by_status(
    backend: IndexedBackend,
    statuses: Iterable[str],
    *,
    before: str | None = None,
    limit: int = ANY,
    now: int = NOW,
    owner: str = "alice",
) -> list[str]:
    got = await backend.list_by_status(
        owner, frozenset(statuses), before_task_id=before, limit=limit, now_ms=now
    )
    return ids(got)


async def claim_ids(
    backend: IndexedBackend,
    method: str | None = None,
    *,
    limit: int = ANY,
    now: int = NOW,
    owner: str = "alice",
) -> list[str]:
    group = None if method is None else claim_group(method)
    return ids(await backend.claimable(owner, group=group, limit=limit, now_ms=now))


async def due(
    backend: IndexedBackend, expected: set[tuple[str, str]], *, now: int, limit: int = ANY
) -> set[tuple[str, str]]:
    """`due_leases` once it reports `expected` (it may lag a moment behind writes, so it
    is polled, bounded); with a `limit` below len(expected): once it reports that many."""

    def settled(got: list[tuple[str, str]]) -> bool:
        if limit >= len(expected):
            return set(got) == expected
        return len(got) == limit and set(got) <= expected

    deadline = time.monotonic() + GUARD
    while True:
        got = await backend.due_leases(now, limit)
        if settled(got) or time.monotonic() > deadline:
            assert len(got) == len(set(got)), f"due_leases repeated an entry: {got}"
            return set(got)
        await asyncio.sleep(0.05)  # an eventually consistent index catching up


# -- list_by_status ----------------------------------------------------------------------


async def test_list_by_status_is_descending_with_cursor_and_limit(indexed):
    statuses = ["working", "input_required", "completed"] * 4
    mine = [rec(status=s, active=s != "completed") for s in statuses]
    await put(indexed, *mine, rec("bob"), rec("bob", status="input_required"))
    working = newest_first(r for r in mine if r.status == "working")
    assert await by_status(indexed, WORKING) == working
    # The records themselves, as last written.
    got = await indexed.list_by_status("alice", WORKING, before_task_id=None, limit=2, now_ms=NOW)
    assert got == [r for r in reversed(mine) if r.status == "working"][:2]
    assert await by_status(indexed, WORKING, limit=2) == working[:2]
    assert await by_status(indexed, WORKING, before=working[1], limit=2) == working[2:4]
    assert await by_status(indexed, WORKING, before=working[-1]) == []
    # A cursor need not be a task of the status listed: a page of `list` ends anywhere.
    completed = newest_first(r for r in mine if r.status == "completed")
    assert await by_status(indexed, WORKING, before=completed[0]) == [
        i for i in working if i < completed[0]
    ]
    assert await by_status(indexed, ["completed"]) == completed
    assert await by_status(indexed, ["failed"]) == []
    assert await by_status(indexed, WORKING, owner="carol") == []


async def test_several_statuses_merge_in_descending_order(indexed):
    statuses = ["working", "input_required", "completed", "failed", "cancelled"] * 3
    mine = [rec(status=s, active=s in ("working", "input_required")) for s in statuses]
    await put(indexed, *mine)
    for wanted in (
        {"working", "input_required"},
        {"completed", "failed", "cancelled"},
        {"working", "input_required", "completed", "failed", "cancelled"},
    ):
        expected = newest_first(r for r in mine if r.status in wanted)
        assert await by_status(indexed, wanted) == expected
        # Paging through the merge, three at a time, gives the same sequence.
        paged: list[str] = []
        while True:
            page = await by_status(indexed, wanted, before=paged[-1] if paged else None, limit=3)
            paged += page
            if len(page) < 3:
                break
        assert paged == expected


async def test_list_by_status_skips_expired_records_without_shortening_pages(indexed):
    old = rec()
    lasting = rec(expire_at=NOW + 1000)
    brief = [rec(expire_at=NOW + 10) for _ in range(3)]
    await put(indexed, old, lasting, *brief)
    assert await by_status(indexed, WORKING, limit=2) == ids(reversed(brief))[:2]
    later = NOW + 10
    # The expired newest ones take no place in the page: a short page means the end.
    assert await by_status(indexed, WORKING, limit=2, now=later) == [lasting.task_id, old.task_id]
    assert await by_status(indexed, WORKING, limit=1, now=later) == [lasting.task_id]
    assert await by_status(indexed, WORKING, now=NOW + 1000) == [old.task_id]


async def test_a_status_change_moves_the_record_and_delete_removes_it(indexed):
    a, b = rec(), rec()
    await put(indexed, a, b)
    a2 = bump(a, status="input_required")
    await indexed.compare_and_swap(a2, expected_version=1, now_ms=NOW)
    assert await by_status(indexed, WORKING) == [b.task_id]
    assert await indexed.list_by_status(
        "alice", frozenset({"input_required"}), before_task_id=None, limit=10, now_ms=NOW
    ) == [a2]
    a3 = bump(a2, status="completed", active=False)
    await indexed.compare_and_swap(a3, expected_version=2, now_ms=NOW)
    assert await by_status(indexed, ["input_required"]) == []
    assert await by_status(indexed, ["completed", "working"]) == [b.task_id, a.task_id]
    assert await indexed.delete("alice", a.task_id, NOW)
    assert await by_status(indexed, ["completed", "working"]) == [b.task_id]
    # A failed CAS moves nothing.
    with pytest.raises(VersionConflict):
        await indexed.compare_and_swap(bump(b, status="failed"), expected_version=5, now_ms=NOW)
    assert await by_status(indexed, ["failed"]) == []
    assert await by_status(indexed, WORKING) == [b.task_id]


# -- claimable -----------------------------------------------------------------------------


async def test_claimable_is_oldest_first_by_group_or_any(indexed):
    # Ids grow with creation: this list is oldest first.
    records = [
        rec(method="x"),
        rec(method="y"),
        rec(),  # not offered (no lease policy)
        rec(method="x"),
        rec(status="input_required"),
        rec(method="y"),
        rec(method="x"),
        rec(lease_until=NOW + 60_000),  # leased
    ]
    x = [r for r in records if r.claim_group == claim_group("x")]
    y = [r for r in records if r.claim_group == claim_group("y")]
    await put(indexed, rec("bob", method="x"), *reversed(records))
    offered = [r for r in records if r.claim_group is not None]
    assert await claim_ids(indexed) == ids(offered)
    assert await claim_ids(indexed, limit=2) == ids(offered[:2])
    assert await claim_ids(indexed, "x") == ids(x)
    assert await claim_ids(indexed, "x", limit=1) == [x[0].task_id]
    assert await claim_ids(indexed, "y") == ids(y)
    assert await claim_ids(indexed, "z") == []
    assert await claim_ids(indexed, owner="carol") == []
    got = await indexed.claimable("alice", group=claim_group("y"), limit=ANY, now_ms=NOW)
    assert got == y


async def test_a_claim_or_delete_takes_a_record_out_of_claimable(indexed):
    a, b, c = rec(method="m"), rec(method="m"), rec(method="m")
    await put(indexed, a, b, c)
    # Claimed: the CAS that leases it clears its claim_group.
    leased = bump(a, claim_group=None, lease_until_ms=NOW + 30_000)
    await indexed.compare_and_swap(leased, expected_version=1, now_ms=NOW)
    assert await claim_ids(indexed, "m") == ids([b, c])
    assert await claim_ids(indexed) == ids([b, c])
    assert await indexed.delete("alice", b.task_id, NOW)
    assert await claim_ids(indexed, "m") == [c.task_id]
    # Released: offered again, still in id order.
    released = bump(leased, claim_group=claim_group("m"), lease_until_ms=None)
    await indexed.compare_and_swap(released, expected_version=2, now_ms=NOW)
    assert await claim_ids(indexed, "m") == ids([a, c])


async def test_claimable_skips_expired_records(indexed):
    brief = rec(method="m", expire_at=NOW + 10)
    lasting = [rec(method="m") for _ in range(2)]
    await put(indexed, brief, *lasting)
    assert await claim_ids(indexed, "m", limit=1) == [brief.task_id]
    assert await claim_ids(indexed, "m", limit=1, now=NOW + 10) == [lasting[0].task_id]
    assert await claim_ids(indexed, now=NOW + 10) == ids(lasting)


# -- due_leases ----------------------------------------------------------------------------


async def test_due_leases_across_owners(indexed):
    soon = [rec(owner, lease_until=NOW + 100) for owner in ("alice", "bob", "carol")]
    late = rec("alice", lease_until=NOW + 5000)
    await put(indexed, *soon, late, rec("alice"), rec("bob", method="m"))
    keys = {(r.owner, r.task_id) for r in soon}
    assert await due(indexed, set(), now=NOW + 99) == set()
    assert await due(indexed, keys, now=NOW + 100) == keys
    assert len(await due(indexed, keys, now=NOW + 100, limit=2)) == 2
    everything = keys | {("alice", late.task_id)}
    assert await due(indexed, everything, now=NOW + 5000) == everything


async def test_due_leases_follow_writes_and_deletes(indexed):
    a, b, c = (rec(lease_until=NOW + 100) for _ in range(3))
    await put(indexed, a, b, c)
    # A renewal moves the lease end; the expiry (or release) clears it; delete forgets it.
    await indexed.compare_and_swap(
        bump(a, lease_until_ms=NOW + 10_000), expected_version=1, now_ms=NOW
    )
    await indexed.compare_and_swap(
        bump(b, lease_until_ms=None, status="failed", active=False), expected_version=1, now_ms=NOW
    )
    assert await indexed.delete("alice", c.task_id, NOW)
    assert await due(indexed, set(), now=NOW + 100) == set()
    assert await due(indexed, {("alice", a.task_id)}, now=NOW + 10_000) == {("alice", a.task_id)}


async def test_due_leases_skip_expired_records(indexed):
    gone = rec(lease_until=NOW + 100, expire_at=NOW + 200)
    kept = rec(lease_until=NOW + 100)
    await put(indexed, gone, kept)
    both = {("alice", gone.task_id), ("alice", kept.task_id)}
    assert await due(indexed, both, now=NOW + 150) == both
    assert await due(indexed, {("alice", kept.task_id)}, now=NOW + 200) == {("alice", kept.task_id)}


# -- replicas ------------------------------------------------------------------------------


async def test_a_second_replica_sees_the_same_indexes(indexed, opened, shared_database):
    other = await opened.backend(shared_database)
    assert has_feature(other, Feature.INDEXES)
    a = rec(method="m")
    b = rec(status="input_required")
    c = rec(lease_until=NOW + 100)
    await put(indexed, a, b, c)
    assert await by_status(other, ["working", "input_required"]) == newest_first([a, b, c])
    assert await claim_ids(other, "m") == [a.task_id]
    assert await due(other, {("alice", c.task_id)}, now=NOW + 100) == {("alice", c.task_id)}
    # A write through the second replica is in the first one's indexes.
    await other.compare_and_swap(
        bump(a, claim_group=None, lease_until_ms=NOW + 50), expected_version=1, now_ms=NOW
    )
    assert await claim_ids(indexed, "m") == []
    assert await due(indexed, {("alice", a.task_id), ("alice", c.task_id)}, now=NOW + 100) == {
        ("alice", a.task_id),
        ("alice", c.task_id),
    }
