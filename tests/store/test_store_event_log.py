"""`Feature.EVENT_LOG` (backends/base.py `EventLogBackend`), on every store that declares it.

What the resumable feed relies on: every committed create, compare_and_swap, delete and sweep
appends exactly one entry to its owner's log, chained by `prev` (a reader holding a position
knows whether it missed anything); the published Change carries that entry; `read_events`
pages the log from any position, on any replica, and says `compacted` (never raises) for a
position it cannot serve; a position means something only with its epoch.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import replace

import pytest
from _backend_records import NOW, Feed, bump, rec
from taskstate_server.backends import Feature, has_feature
from taskstate_server.backends.base import (
    Backend,
    Event,
    EventKind,
    EventLogBackend,
    EventPage,
    QuotaFull,
    Record,
    VersionConflict,
)

W, D, X = EventKind.WRITE, EventKind.DELETED, EventKind.EXPIRED
ANY = 1000
RETENTION = 1000
FAR_PAST_RETENTION = RETENTION + 3_600_000
"""Stores keep entries at least the retention (+10 min of slack for clock skew): this is
well past both, so a sweep at that time must have trimmed the older entries."""
Entry = tuple[EventKind, str, int]


async def head_of(log: EventLogBackend, owner: str = "alice", now: int = NOW) -> EventPage:
    """The epoch and head, as a new watch or a list's first page reads them."""
    page = await log.read_events(owner, after="", limit=0, now_ms=now)
    assert page.events == []
    return page


async def read_all(
    log: EventLogBackend, after: str, *, owner: str = "alice", now: int = NOW, page: int = 3
) -> list[Event]:
    """Every entry after `after`, read `page` at a time, each read continuing from the last
    position of the one before (as a tail does)."""
    out: list[Event] = []
    while True:
        got = await log.read_events(owner, after=after, limit=page, now_ms=now)
        assert not got.compacted, f"position {after!r} was compacted"
        assert len(got.events) <= page
        out += got.events
        if len(got.events) < page:
            return out
        after = got.events[-1].position


def entries(events: list[Event]) -> list[Entry]:
    return [(e.kind, e.task_id, e.version) for e in events]


def assert_chained(events: list[Event], start: str) -> None:
    """Each entry's prev is the entry before it; the first one's is `start`."""
    prevs = [start] + [e.position for e in events[:-1]]
    assert [e.prev for e in events] == prevs
    assert len({e.position for e in events}) == len(events)


def logged(event: Event | None) -> Event:
    """An entry as the log holds it, without the record `read_events` adds."""
    assert event is not None
    return replace(event, record=None)


async def create(log: Backend, r: Record, now: int = NOW) -> None:
    await log.create(r, request_id=None, max_active=ANY, now_ms=now)


# -- appending -------------------------------------------------------------------------


async def test_each_committed_write_appends_one_chained_event(event_log):
    feed = Feed(event_log)
    start = await head_of(event_log)
    start_bob = await head_of(event_log, "bob")
    a, b, theirs = rec(), rec(), rec("bob")
    await event_log.create(a, request_id="r", max_active=2, now_ms=NOW)
    await create(event_log, b, NOW + 1)
    a2 = bump(a, status="input_required")
    await event_log.compare_and_swap(a2, expected_version=1, now_ms=NOW + 2)
    assert await event_log.delete("alice", b.task_id, NOW + 3)
    # What commits nothing appends nothing.
    with pytest.raises(VersionConflict):
        await event_log.compare_and_swap(bump(a), expected_version=1, now_ms=NOW + 4)
    assert not await event_log.delete("alice", b.task_id, NOW + 4)
    assert await event_log.create(rec(), request_id="r", max_active=2, now_ms=NOW + 4) == (
        a2,
        False,
    )
    await create(event_log, theirs, NOW + 4)
    with pytest.raises(QuotaFull):
        await event_log.create(rec(), request_id=None, max_active=1, now_ms=NOW + 4)

    events = await read_all(event_log, start.head)
    assert entries(events) == [
        (W, a.task_id, 1),
        (W, b.task_id, 1),
        (W, a.task_id, 2),
        (D, b.task_id, 1),
    ]
    assert [e.time_ms for e in events] == [NOW, NOW + 1, NOW + 2, NOW + 3]
    assert_chained(events, start.head)
    # WRITE entries come with the task's current record; removals with none.
    assert [e.record for e in events] == [a2, None, a2, None]
    page = await head_of(event_log)
    assert (page.epoch, page.head) == (start.epoch, events[-1].position)

    # The feed published each entry with its change; bob's is in bob's log only.
    changes = (await feed.at_least(5))[:5]
    alice = [c for c in changes if c.owner == "alice"]
    assert [(c.task_id, c.kind, c.record) for c in alice] == [
        (a.task_id, W, a),
        (b.task_id, W, b),
        (a.task_id, W, a2),
        (b.task_id, D, None),
    ]
    assert [logged(c.event) for c in alice] == [logged(e) for e in events]
    bobs = await read_all(event_log, start_bob.head, owner="bob")
    assert entries(bobs) == [(W, theirs.task_id, 1)]
    assert bobs[0].prev == start_bob.head


async def test_owners_have_separate_logs(event_log):
    start_bob = await head_of(event_log, "bob")
    await create(event_log, rec("alice"))
    assert (await head_of(event_log, "bob")).head == start_bob.head
    b = rec("bob")
    await create(event_log, b)
    (event,) = await read_all(event_log, start_bob.head, owner="bob")
    assert (event.kind, event.task_id, event.version, event.prev) == (
        W,
        b.task_id,
        1,
        start_bob.head,
    )


async def test_sweep_appends_expired_with_the_last_version(event_log, sweeping):
    feed = Feed(event_log)
    start = await head_of(event_log)
    a = rec(expire_at=NOW + 10)
    await create(event_log, a)
    await event_log.compare_and_swap(bump(a), expected_version=1, now_ms=NOW + 5)
    assert await event_log.sweep_expired(NOW + 10, 100) == 1
    events = await read_all(event_log, start.head, now=NOW + 10)
    assert entries(events) == [(W, a.task_id, 1), (W, a.task_id, 2), (X, a.task_id, 2)]
    assert events[-1].time_ms == NOW + 10
    assert [e.record for e in events] == [None, None, None]
    assert_chained(events, start.head)
    change = (await feed.at_least(3))[2]
    assert (change.task_id, change.kind, change.record) == (a.task_id, X, None)
    assert logged(change.event) == logged(events[-1])


# -- reading ---------------------------------------------------------------------------


async def test_read_events_pages_from_any_position(event_log):
    start = await head_of(event_log)
    records = [rec() for _ in range(7)]
    for r in records:
        await create(event_log, r)
    everything = await read_all(event_log, start.head, page=ANY)
    assert [e.task_id for e in everything] == [r.task_id for r in records]
    assert await read_all(event_log, start.head, page=3) == everything
    assert await read_all(event_log, start.head, page=1) == everything
    page = await event_log.read_events("alice", after=everything[2].position, limit=2, now_ms=NOW)
    assert (page.events, page.compacted) == (everything[3:5], False)
    # limit 0: the head and epoch only.
    page = await event_log.read_events("alice", after=start.head, limit=0, now_ms=NOW)
    assert (page.epoch, page.head, page.events) == (start.epoch, everything[-1].position, [])
    # At the head: nothing yet, and nothing missed.
    page = await event_log.read_events("alice", after=page.head, limit=ANY, now_ms=NOW)
    assert (page.events, page.compacted) == ([], False)


async def test_epoch_names_the_database(event_log, opened):
    first = await head_of(event_log)
    await create(event_log, rec())
    assert (await head_of(event_log)).epoch == first.epoch
    elsewhere = await opened.backend(opened.database())
    assert has_feature(elsewhere, Feature.EVENT_LOG)
    assert (await head_of(elsewhere)).epoch != first.epoch


@pytest.mark.parametrize("position", ["zzz", "", "-1", "1.5", " 1", "99999999999999999999"])
async def test_a_position_not_of_this_log_is_compacted_never_an_error(event_log, position):
    await create(event_log, rec())
    page = await event_log.read_events("alice", after=position, limit=10, now_ms=NOW)
    assert (page.compacted, page.events) == (True, [])


async def test_a_position_beyond_the_head_is_compacted(event_log):
    """As a cursor read before a database was restored from an older backup would be."""
    await create(event_log, rec())
    for _ in range(5):  # later, and more, entries than alice's
        await create(event_log, rec("bob"))
    beyond = (await head_of(event_log, "bob")).head
    page = await event_log.read_events("alice", after=beyond, limit=10, now_ms=NOW)
    assert (page.compacted, page.events) == (True, [])


async def test_a_second_replica_and_a_reopened_database_read_the_same_log(
    event_log, opened, shared_database
):
    start = await head_of(event_log)
    other = await opened.backend(shared_database)
    assert has_feature(other, Feature.EVENT_LOG)
    a = rec()
    await create(event_log, a)
    await other.compare_and_swap(bump(a), expected_version=1, now_ms=NOW + 1)
    await create(other, rec())
    events = await read_all(event_log, start.head)
    assert [e.version for e in events] == [1, 2, 1]
    assert_chained(events, start.head)
    assert await read_all(other, start.head) == events
    assert (await head_of(other)).epoch == start.epoch
    await event_log.close()
    await other.close()
    reopened = await opened.backend(shared_database)
    assert has_feature(reopened, Feature.EVENT_LOG)
    page = await head_of(reopened)
    assert (page.epoch, page.head) == (start.epoch, events[-1].position)
    assert await read_all(reopened, start.head) == events


# -- retention -------------------------------------------------------------------------


async def test_entries_past_the_retention_are_trimmed_by_the_sweep(event_log, sweeping):
    event_log.set_feed_retention(RETENTION)
    start = await head_of(event_log)
    quiet_start = await head_of(event_log, "bob")
    await create(event_log, rec("bob"))  # bob's entry is older than alice's
    await create(event_log, rec())
    quiet = await head_of(event_log, "bob")
    silent = await head_of(event_log, "carol")  # carol never wrote
    later = NOW + FAR_PAST_RETENTION
    await create(event_log, rec(), later)
    current = await head_of(event_log, now=later)
    assert current.head != start.head
    await event_log.sweep_expired(later, 100)

    page = await event_log.read_events("alice", after=start.head, limit=10, now_ms=later)
    assert (page.compacted, page.events) == (True, [])
    # From the head, nothing is missing.
    page = await event_log.read_events("alice", after=current.head, limit=10, now_ms=later)
    assert (page.compacted, page.events) == (False, [])
    # Quiet owners' heads stay servable although their entries (and others') were trimmed.
    for owner, head in (("bob", quiet.head), ("carol", silent.head)):
        page = await event_log.read_events(owner, after=head, limit=10, now_ms=later)
        assert (page.compacted, page.events, page.head) == (False, [], head)
    assert quiet.head != quiet_start.head
    await create(event_log, rec("bob"), later)
    (event,) = await read_all(event_log, quiet.head, owner="bob", now=later)
    assert event.prev == quiet.head


# -- races -----------------------------------------------------------------------------


async def _race(writers: list[Backend], log: EventLogBackend) -> list[Event]:
    """Writers race creates, conflicting CASes and deletes on one owner; the log must hold
    every committed write exactly once, chained, each task's entries in version order."""
    start = await head_of(log)
    records = [rec() for _ in range(12)]
    committed: list[Entry] = []
    await asyncio.gather(*(create(writers[i % len(writers)], r) for i, r in enumerate(records)))
    committed += [(W, r.task_id, 1) for r in records]

    async def cas(writer: Backend, new: Record) -> Record | None:
        try:
            await writer.compare_and_swap(new, expected_version=new.version - 1, now_ms=NOW)
        except VersionConflict:
            return None
        return new

    current = {r.task_id: r for r in records}
    for _ in range(3):  # every writer tries every task's next version: one wins each
        results = await asyncio.gather(
            *(cas(w, bump(r)) for r in current.values() for w in writers)
        )
        won = [r for r in results if r is not None]
        assert sorted(r.task_id for r in won) == sorted(current)
        committed += [(W, r.task_id, r.version) for r in won]
        current = {r.task_id: r for r in won}

    async def delete(writer: Backend, r: Record) -> Entry | None:
        return (D, r.task_id, r.version) if await writer.delete("alice", r.task_id, NOW) else None

    removed = await asyncio.gather(
        *(delete(w, r) for r in list(current.values())[::2] for w in writers)
    )
    committed += [e for e in removed if e is not None]

    events = await read_all(log, start.head, page=7)
    assert Counter(entries(events)) == Counter(committed)
    assert len(events) == len(committed)
    assert_chained(events, start.head)
    for task_id in current:
        mine = [e for e in events if e.task_id == task_id]
        assert [e.version for e in mine] == sorted(e.version for e in mine)
    return events


async def test_interleaved_writers_leave_a_complete_chained_log(event_log, interleaving):
    feed = Feed(event_log)
    writers: list[Backend] = [interleaving(event_log), interleaving(event_log)]
    events = await _race(writers, event_log)
    changes = await feed.at_least(len(events))
    assert Counter(logged(c.event) for c in changes) == Counter(logged(e) for e in events)


async def test_replicas_racing_leave_a_complete_chained_log(
    event_log, opened, shared_database, interleaving
):
    other = await opened.backend(shared_database)
    await _race([interleaving(event_log), interleaving(other)], event_log)
