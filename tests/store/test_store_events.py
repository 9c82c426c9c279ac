"""The resumable owner feed (domain/feed.py) through TaskStore.watch_all, on every store with
an event log (`event_log`): writes, deletions and expiries; cursors that resume on any replica,
coalesced to current versions; compaction; PROGRESS; list-then-watch; feed gaps.

"Exactly these messages" is checked with a marker: a task created after the changes under test,
whose WRITE must be the first message after them (no sleeps, no waiting for silence).
"""

from __future__ import annotations

import asyncio
import contextlib
import random

import pytest
from _proxies import Deafened, Proxy
from taskstate_server.backends.base import Feature
from taskstate_server.domain import feed
from taskstate_server.domain.cursors import Cursor, decode_cursor, encode_cursor
from taskstate_server.domain.errors import (
    BackendUnavailable,
    FeedCompacted,
    InvalidArgument,
    TaskNotFound,
    UnsupportedByStore,
)
from taskstate_server.domain.model import Limits, TaskStatus
from taskstate_server.domain.watch import FeedKind

OWNER = "alice"
GUARD = 10.0
W, D, X, P = FeedKind.WRITE, FeedKind.DELETED, FeedKind.EXPIRED, FeedKind.PROGRESS
MINUTE = 60_000
HOUR = 60 * MINUTE
MANY = Limits(max_active_tasks=1000)


async def nxt(stream):
    return await asyncio.wait_for(anext(stream), GUARD)


async def until_marker(store, stream, owner=OWNER):
    """Every message before the WRITE of a task created now (which is then read too)."""
    marker = await store.create(owner, request_method="marker")
    out = []
    while True:
        message = await nxt(stream)
        if message.task_id == marker.task_id:
            assert (message.kind, message.version) == (W, 1)
            return out
        out.append(message)


def shown(messages):
    return [(m.kind, m.task_id, m.version) for m in messages]


def apply(view: dict, messages) -> dict:
    """A client's reconstruction: the newest version per task, removals applied."""
    for m in messages:
        if m.kind is W:
            if m.task_id not in view or view[m.task_id].version < m.version:
                view[m.task_id] = m.task
        elif m.kind in (D, X):
            view.pop(m.task_id, None)
    return view


async def listed(store, owner=OWNER):
    """Every task of `owner` by id, and the first page's resume_cursor."""
    view, token, cursor = {}, "", None
    while True:
        page = await store.list(owner, page_size=7, page_token=token)
        if cursor is None:
            cursor = page.resume_cursor
        view.update((t.task_id, t) for t in page.tasks)
        token = page.next_page_token
        if not token:
            return view, cursor


# -- what the stream says ---------------------------------------------------------------------


async def test_a_reader_that_keeps_up_sees_each_write_deletion_and_expiry(
    store, clock, event_log, sweeping
):
    async with await store.watch_all(OWNER, all_events=True) as stream:
        a = await store.create(OWNER, ttl_ms=1000)
        m = await nxt(stream)
        assert (shown([m]), m.task) == ([(W, a.task_id, 1)], a)
        a2 = await store.set_variables(OWNER, a.task_id, {"x": 1})
        m = await nxt(stream)
        assert (shown([m]), m.task) == ([(W, a.task_id, 2)], a2)
        b = await store.create(OWNER)
        assert shown([await nxt(stream)]) == [(W, b.task_id, 1)]
        await store.delete(OWNER, b.task_id)
        m = await nxt(stream)
        assert (shown([m]), m.task) == ([(D, b.task_id, 1)], None)
        clock.advance(1000)
        assert await store.sweep_expired() == 1
        m = await nxt(stream)
        assert (m.kind, m.task_id, m.task) == (X, a.task_id, None)
        assert m.version in (2, 0)  # the last version, where the store still knew it


async def test_every_message_carries_a_distinct_cursor_of_this_log(store, event_log):
    async with await store.watch_all(OWNER, all_events=True) as stream:
        t = await store.create(OWNER)
        messages = [await nxt(stream)]
        await store.delete(OWNER, t.task_id)
        messages.append(await nxt(stream))
    cursors = [decode_cursor(m.cursor) for m in messages]
    assert len({c.position for c in cursors}) == 2
    assert len({c.epoch for c in cursors}) == 1


async def test_a_lagging_reader_gets_current_versions_in_log_order(store, event_log):
    async with await store.watch_all(OWNER, all_events=True) as stream:
        a = await store.create(OWNER)
        b = await store.create(OWNER)
        await store.set_variables(OWNER, a.task_id, {"x": 1})
        a3 = await store.update_status(OWNER, a.task_id, TaskStatus.INPUT_REQUIRED)
        await store.delete(OWNER, b.task_id)
        got = await until_marker(store, stream)
    # a@1, a@2 and b@1 moved on before the reader came: only their newest entries show.
    assert shown(got) == [(W, a.task_id, 3), (D, b.task_id, 1)]
    assert got[0].task == a3


async def test_filters_apply_to_writes_not_to_removals(store, event_log):
    done = {TaskStatus.COMPLETED}
    async with await store.watch_all(OWNER, done, all_events=True) as stream:
        a = await store.create(OWNER)
        await store.delete(OWNER, a.task_id)
        b = await store.create(OWNER)
        b2 = await store.complete(OWNER, b.task_id, status=TaskStatus.COMPLETED)
        assert shown([await nxt(stream), await nxt(stream)]) == [
            (D, a.task_id, 1),
            (W, b.task_id, b2.version),
        ]


async def test_without_all_events_only_writes_as_before_but_with_cursors(
    store, event_log, monkeypatch
):
    monkeypatch.setattr(feed, "PROGRESS_IDLE_S", 0.0)
    async with await store.watch_all(OWNER) as stream:
        a = await store.create(OWNER)
        await store.delete(OWNER, a.task_id)
        got = await until_marker(store, stream)
    assert shown(got) == []  # a's WRITE moved on (deleted); no DELETED, no PROGRESS


# -- resuming ---------------------------------------------------------------------------------


async def _missed_while_away(store):
    """Opens a stream, reads two creates, closes it, changes things: (cursor, expected)."""
    async with await store.watch_all(OWNER, all_events=True) as stream:
        t1 = await store.create(OWNER)
        await nxt(stream)
        t2 = await store.create(OWNER)
        cursor = (await nxt(stream)).cursor
    await store.set_variables(OWNER, t1.task_id, {"x": 1})
    t1c = await store.set_variables(OWNER, t1.task_id, {"x": 2})
    t3 = await store.create(OWNER)
    await store.delete(OWNER, t2.task_id)
    return cursor, [(W, t1.task_id, t1c.version), (W, t3.task_id, 1), (D, t2.task_id, 1)]


async def test_resume_replays_exactly_the_missed_events_coalesced(store, event_log):
    cursor, expected = await _missed_while_away(store)
    async with await store.watch_all(OWNER, resume_cursor=cursor) as stream:
        assert shown(await until_marker(store, stream)) == expected


async def test_resume_on_another_replica(make_store, shared_database, event_log):
    a = await make_store(database=shared_database)
    b = await make_store(database=shared_database)
    cursor, expected = await _missed_while_away(a)
    async with await b.watch_all(OWNER, resume_cursor=cursor) as stream:
        assert shown(await until_marker(b, stream)) == expected


async def test_a_replica_streams_the_others_removals(make_store, feed_shared_database, event_log):
    a = await make_store(database=feed_shared_database)
    b = await make_store(database=feed_shared_database)
    async with await a.watch_all(OWNER, all_events=True) as stream:
        t = await b.create(OWNER)
        assert shown([await nxt(stream)]) == [(W, t.task_id, 1)]
        await b.delete(OWNER, t.task_id)
        assert shown([await nxt(stream)]) == [(D, t.task_id, 1)]


async def test_resume_implies_all_events(store, event_log):
    async with await store.watch_all(OWNER, all_events=True) as stream:
        t = await store.create(OWNER)
        cursor = (await nxt(stream)).cursor
    await store.delete(OWNER, t.task_id)
    async with await store.watch_all(OWNER, resume_cursor=cursor) as stream:
        assert shown(await until_marker(store, stream)) == [(D, t.task_id, 1)]


async def test_a_stream_behind_the_ring_reads_the_log(store, event_log, monkeypatch):
    monkeypatch.setattr(feed, "RING_SIZE", 4)
    monkeypatch.setattr(feed, "READ_BATCH", 3)
    async with await store.watch_all(OWNER, all_events=True) as stream:
        tasks = [await store.create(OWNER) for _ in range(10)]
        finals = [await store.set_variables(OWNER, t.task_id, {"i": 1}) for t in tasks]
        got = await until_marker(store, stream)
    assert shown(got) == [(W, t.task_id, 2) for t in finals]
    assert [m.task for m in got] == finals


async def test_records_beyond_the_ring_budget_are_read_again(store, event_log, monkeypatch):
    monkeypatch.setattr(feed, "RING_RECORD_BYTES", 1)
    async with await store.watch_all(OWNER, all_events=True) as stream:
        tasks = [await store.create(OWNER, variables={"i": i}) for i in range(5)]
        got = await until_marker(store, stream)
    assert [m.task for m in got] == tasks


# -- cursors the feed cannot serve ------------------------------------------------------------


@pytest.mark.parametrize("text", ["x", "c1_", "c1_!!", "c2_eyJlIjoiYSJ9", "c1_" + "A" * 600])
async def test_a_malformed_cursor_is_invalid(store, event_log, text):
    with pytest.raises(InvalidArgument) as e:
        await store.watch_all(OWNER, resume_cursor=text)
    assert e.value.violations[0].field == "resume_cursor"


async def test_a_cursor_older_than_the_retention_is_compacted(make_store, clock, event_log):
    store = await make_store(Limits(feed_retention_ms=HOUR))
    async with await store.watch_all(OWNER, all_events=True) as stream:
        await store.create(OWNER)
        cursor = (await nxt(stream)).cursor
    clock.advance(HOUR)
    async with await store.watch_all(OWNER, resume_cursor=cursor):
        pass  # exactly the retention: still served
    clock.advance(1)
    with pytest.raises(FeedCompacted, match="retention"):
        await store.watch_all(OWNER, resume_cursor=cursor)


async def test_a_cursor_whose_entries_the_store_trimmed_is_compacted(
    make_store, clock, event_log, sweeping
):
    store = await make_store(Limits(feed_retention_ms=1000))
    async with await store.watch_all(OWNER, all_events=True) as stream:
        t = await store.create(OWNER, ttl_ms=HOUR)
        old = decode_cursor((await nxt(stream)).cursor)
    await store.set_variables(OWNER, t.task_id, {"x": 1})
    clock.advance(HOUR)  # far past the retention and the stores' slack: the sweep trims
    await store.sweep_expired()
    await store.create(OWNER)
    # A cursor whose time is forged young: the store's own answer still says compacted.
    forged = encode_cursor(Cursor(old.epoch, old.position, clock.now))
    with pytest.raises(FeedCompacted):
        stream = await store.watch_all(OWNER, resume_cursor=forged)
        async with stream:
            await nxt(stream)


async def test_a_cursor_of_another_database_is_compacted(store, make_store, event_log):
    other = await make_store()
    async with await other.watch_all(OWNER, all_events=True) as stream:
        await other.create(OWNER)
        cursor = (await nxt(stream)).cursor
    with pytest.raises(FeedCompacted, match="another incarnation"):
        await store.watch_all(OWNER, resume_cursor=cursor)


async def test_a_position_that_is_not_of_this_log_is_compacted(store, event_log):
    head = decode_cursor((await store.list(OWNER)).resume_cursor)
    forged = encode_cursor(Cursor(head.epoch, "not a position", head.time_ms))
    with pytest.raises(FeedCompacted):
        stream = await store.watch_all(OWNER, resume_cursor=forged)
        async with stream:
            await nxt(stream)


async def test_a_store_without_an_event_log_refuses_cursors_and_all_events(opened, backend, clock):
    store = opened.store(Proxy(backend, backend.features - {Feature.EVENT_LOG}), None, clock)
    assert (await store.list(OWNER)).resume_cursor == ""
    cursor = encode_cursor(Cursor("e", "1", clock.now))
    with pytest.raises(UnsupportedByStore):
        await store.watch_all(OWNER, resume_cursor=cursor)
    with pytest.raises(UnsupportedByStore):
        await store.watch_all(OWNER, all_events=True)


# -- PROGRESS ---------------------------------------------------------------------------------


async def test_an_idle_stream_sends_progress_that_keeps_its_cursor_young(
    make_store, clock, event_log, monkeypatch
):
    store = await make_store(Limits(feed_retention_ms=HOUR))
    async with await store.watch_all(OWNER, all_events=True) as stream:
        t = await store.create(OWNER, ttl_ms=4 * HOUR)
        assert shown([await nxt(stream)]) == [(W, t.task_id, 1)]
        monkeypatch.setattr(feed, "PROGRESS_IDLE_S", 0.0)  # idle from now on
        clock.advance(50 * MINUTE)
        progress = await nxt(stream)
    assert (progress.kind, progress.task_id, progress.task) == (P, "", None)
    assert decode_cursor(progress.cursor).time_ms == clock.now
    monkeypatch.setattr(feed, "PROGRESS_IDLE_S", 30.0)  # the stream below: no PROGRESS
    clock.advance(50 * MINUTE)  # 100 minutes after the write, 50 after the PROGRESS
    later = await store.set_variables(OWNER, t.task_id, {"x": 1})
    async with await store.watch_all(OWNER, resume_cursor=progress.cursor) as stream:
        assert shown(await until_marker(store, stream)) == [(W, t.task_id, later.version)]


async def test_many_filtered_out_entries_send_progress(store, event_log, monkeypatch):
    monkeypatch.setattr(feed, "PROGRESS_EVERY", 3)
    done = {TaskStatus.COMPLETED}
    async with await store.watch_all(OWNER, done, all_events=True) as stream:
        for _ in range(3):
            await store.create(OWNER)
        progress = await nxt(stream)
        assert progress.kind is P
        t = await store.create(OWNER)
        await store.complete(OWNER, t.task_id, status=TaskStatus.COMPLETED)
    # A cursor is not bound to a filter: unfiltered, the three creates would show again.
    async with await store.watch_all(OWNER, resume_cursor=progress.cursor) as stream:
        assert shown(await until_marker(store, stream)) == [(W, t.task_id, 2)]


# -- list, then watch -------------------------------------------------------------------------


async def test_list_then_watch_from_its_cursor_misses_nothing(store, event_log):
    a = await store.create(OWNER)
    b = await store.create(OWNER)
    view, cursor = await listed(store)
    assert cursor
    await store.set_variables(OWNER, a.task_id, {"x": 1})
    await store.delete(OWNER, b.task_id)
    c = await store.create(OWNER)
    async with await store.watch_all(OWNER, resume_cursor=cursor) as stream:
        apply(view, await until_marker(store, stream))
    final, _ = await listed(store)
    marker = [tid for tid, t in final.items() if t.request_method == "marker"]
    assert view == {tid: t for tid, t in final.items() if tid not in marker}
    assert c.task_id in view


async def test_list_then_watch_under_concurrent_writes_misses_nothing(make_store, event_log):
    store = await make_store(MANY, interleave=True)
    tasks = [(await store.create(OWNER)).task_id for _ in range(20)]
    stop = asyncio.Event()

    async def writer(seed: int) -> None:
        rng = random.Random(seed)
        while not stop.is_set():
            tid = rng.choice(tasks)
            with contextlib.suppress(TaskNotFound):  # another writer deleted it
                if rng.random() < 0.05:
                    await store.delete(OWNER, tid)
                else:
                    await store.set_variables(OWNER, tid, {"w": seed})
            if rng.random() < 0.2 and len(tasks) < 200:
                tasks.append((await store.create(OWNER)).task_id)

    writers = [asyncio.create_task(writer(s)) for s in range(3)]
    view, cursor = await listed(store)
    stream = await store.watch_all(OWNER, resume_cursor=cursor)
    stop.set()
    await asyncio.gather(*writers)
    async with stream:
        apply(view, await until_marker(store, stream))
    final, _ = await listed(store)
    assert {tid: t.version for tid, t in view.items()} == {
        tid: t.version for tid, t in final.items() if t.request_method != "marker"
    }


async def test_a_reader_cut_off_again_and_again_rebuilds_the_owners_view(make_store, event_log):
    store = await make_store(MANY, interleave=True)
    rng = random.Random(7)
    stop = asyncio.Event()
    ids: list[str] = []

    async def writer() -> None:
        while not stop.is_set():
            if not ids or (rng.random() < 0.3 and len(ids) < 200):
                ids.append((await store.create(OWNER, ttl_ms=HOUR)).task_id)
            elif rng.random() < 0.1:
                await store.delete(OWNER, ids.pop(rng.randrange(len(ids))))
            else:
                await store.set_variables(OWNER, rng.choice(ids), {"n": rng.random()})

    view: dict = {}
    versions_seen: dict[str, int] = {}
    _, cursor = await listed(store)
    writing = asyncio.create_task(writer())
    for _ in range(10):
        async with await store.watch_all(OWNER, resume_cursor=cursor) as stream:
            for _ in range(rng.randrange(1, 8)):
                m = await nxt(stream)
                if m.kind is W:
                    assert m.version > versions_seen.get(m.task_id, 0), "a version went back"
                    versions_seen[m.task_id] = m.version
                apply(view, [m])
                cursor = m.cursor
    stop.set()
    await writing
    async with await store.watch_all(OWNER, resume_cursor=cursor) as stream:
        apply(view, await until_marker(store, stream))
    final, _ = await listed(store)
    assert {tid: t.version for tid, t in view.items()} == {
        tid: t.version for tid, t in final.items() if t.request_method != "marker"
    }


# -- feed gaps --------------------------------------------------------------------------------


async def test_a_lost_change_is_read_from_the_log_at_the_next_one(
    opened, backend, clock, event_log
):
    proxy = Deafened(backend)
    store = opened.store(proxy, None, clock)
    async with await store.watch_all(OWNER, all_events=True) as stream:
        proxy.deaf = True
        lost = await store.create(OWNER)
        proxy.deaf = False
        heard = await store.create(OWNER)
        assert shown([await nxt(stream), await nxt(stream)]) == [
            (W, lost.task_id, 1),
            (W, heard.task_id, 1),
        ]


@pytest.mark.parametrize("all_events", [True, False])
async def test_a_resync_reads_the_log_and_does_not_end_the_stream(
    opened, backend, clock, event_log, all_events
):
    proxy = Deafened(backend)
    store = opened.store(proxy, None, clock)
    async with await store.watch_all(OWNER, all_events=all_events) as stream:
        proxy.deaf = True
        lost = await store.create(OWNER)
        proxy.deaf = False
        proxy.resync()
        m = await nxt(stream)
        assert (m.kind, m.task) == (W, lost)
        after = await store.set_variables(OWNER, lost.task_id, {"x": 1})
        assert (await nxt(stream)).task == after


async def test_a_failed_read_ends_the_stream_unavailable_and_a_resume_continues(
    opened, backend, clock, event_log
):
    proxy = Deafened(backend)
    store = opened.store(proxy, None, clock)
    async with await store.watch_all(OWNER, all_events=True) as stream:
        await store.create(OWNER)
        cursor = (await nxt(stream)).cursor
        proxy.failing = True
        proxy.resync()  # the tail reads the log again, and that read fails
        with pytest.raises(BackendUnavailable):
            await nxt(stream)
    proxy.failing = False
    later = await store.create(OWNER)
    async with await store.watch_all(OWNER, resume_cursor=cursor) as stream:
        assert shown(await until_marker(store, stream)) == [(W, later.task_id, 1)]
