"""The plain WatchTasks stream's events() against a real server, on every store with an event log.

Unlike watch_all(resume=True), the plain stream shows each message as the server sent it
(kind and cursor, PROGRESS included) and ends with the call's error, typed. Each step waits
for the event that proves the step before it, so nothing here races; PROGRESS (sent after a
long silence) is skipped wherever it could appear.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest
from _harness import ServerProcess
from _stores import STORES
from taskstate_client import (
    AsyncTaskClient,
    EventKind,
    FeedCompactedError,
    InvalidArgumentError,
    Task,
    TaskClient,
    TaskEvent,
)
from taskstate_server.backends import Feature
from taskstate_server.domain.cursors import Cursor, decode_cursor, encode_cursor

READ_S = 30.0


@pytest.fixture(autouse=True)
def event_log(store_name: str, live_server: ServerProcess) -> None:
    if not STORES[store_name].has(Feature.EVENT_LOG):
        pytest.skip(f"{store_name} keeps no event log: cursors and all_events are UNIMPLEMENTED")


async def _until(
    events: AsyncIterator[TaskEvent], kind: EventKind, task_id: str
) -> list[TaskEvent]:
    """The events up to the first of `kind` about `task_id` (included), PROGRESS left out."""
    out: list[TaskEvent] = []
    while not out or (out[-1].kind, out[-1].task_id) != (kind, task_id):
        event = await asyncio.wait_for(anext(events), READ_S)
        if event.kind is not EventKind.PROGRESS:
            out.append(event)
    return out


def _sync_until(events: Iterator[TaskEvent], kind: EventKind, task_id: str) -> list[TaskEvent]:
    out: list[TaskEvent] = []
    while not out or (out[-1].kind, out[-1].task_id) != (kind, task_id):
        event = next(events)
        if event.kind is not EventKind.PROGRESS:
            out.append(event)
    return out


def _too_old(cursor: str) -> str:
    """`cursor` made older than any --feed-retention (written at time 0)."""
    real = decode_cursor(cursor)
    return encode_cursor(Cursor(real.epoch, real.position, 0))


async def test_events_carry_kind_and_cursor(aclient: AsyncTaskClient) -> None:
    async with aclient.watch_all(all_events=True) as stream:
        events = stream.events()
        task = await aclient.create(variables={"n": 1})
        [written] = await _until(events, EventKind.WRITE, task.task_id)
        await aclient.delete(task.task_id)
        [deleted] = await _until(events, EventKind.DELETED, task.task_id)
    assert written.task is not None and written.task.variables == {"n": 1}
    assert (written.version, written.task.version) == (1, 1)
    assert (deleted.task, deleted.version) == (None, 1)
    assert written.cursor and deleted.cursor and written.cursor != deleted.cursor


async def test_a_cursor_resumes_right_after_its_event(aclient: AsyncTaskClient) -> None:
    async with aclient.watch_all() as stream:
        events = stream.events()
        a = await aclient.create()
        b = await aclient.create()
        seen = await _until(events, EventKind.WRITE, b.task_id)
    after_a = next(e.cursor for e in seen if e.task_id == a.task_id)
    async with aclient.watch_all(cursor=after_a) as stream:
        resumed = await _until(stream.events(), EventKind.WRITE, b.task_id)
    assert [(e.kind, e.task_id, e.version) for e in resumed] == [(EventKind.WRITE, b.task_id, 1)]
    assert resumed[0].cursor


@pytest.mark.parametrize("all_events", [False, True])
async def test_all_events_adds_deletions(aclient: AsyncTaskClient, all_events: bool) -> None:
    async with aclient.watch_all(all_events=all_events) as stream:
        events = stream.events()
        gone = await aclient.create()
        await aclient.delete(gone.task_id)
        marker = await aclient.create()
        seen = await _until(events, EventKind.WRITE, marker.task_id)
    deleted = [e for e in seen if e.kind is EventKind.DELETED]
    assert [e.task_id for e in deleted] == ([gone.task_id] if all_events else [])
    assert {e.kind for e in seen} <= {EventKind.WRITE, EventKind.DELETED}


async def test_a_compacted_cursor_raises_feed_compacted(aclient: AsyncTaskClient) -> None:
    cursor = (await aclient.list(page_size=1)).resume_cursor
    stream = aclient.watch_all(cursor=_too_old(cursor))
    with pytest.raises(FeedCompactedError) as caught:
        async with stream:
            pass
    assert (caught.value.code.name, caught.value.reason) == ("OUT_OF_RANGE", "FEED_COMPACTED")
    with pytest.raises(FeedCompactedError):  # iterating without waiting for it: the same
        await anext(aclient.watch_all(cursor=_too_old(cursor)).events())


async def test_a_malformed_cursor_is_invalid_argument(aclient: AsyncTaskClient) -> None:
    with pytest.raises(InvalidArgumentError):
        async with aclient.watch_all(cursor="junk"):
            pass


def test_sync_events_resume_and_compaction(client: TaskClient) -> None:
    with client.watch_all(all_events=True) as stream:
        events = stream.events()
        task = client.create()
        [written] = _sync_until(events, EventKind.WRITE, task.task_id)
        client.delete(task.task_id)
        [deleted] = _sync_until(events, EventKind.DELETED, task.task_id)
    assert written.task is not None and written.cursor
    with client.watch_all(cursor=written.cursor) as stream:
        [again] = _sync_until(stream.events(), EventKind.DELETED, task.task_id)
    assert (again.version, deleted.version) == (1, 1) and again.cursor
    with pytest.raises(FeedCompactedError) as caught:
        client.watch_all(cursor=_too_old(written.cursor))
    assert caught.value.reason == "FEED_COMPACTED"


def test_sync_iterating_tasks_skips_other_kinds(client: TaskClient) -> None:
    with client.watch_all(all_events=True) as stream:
        gone = client.create()
        client.delete(gone.task_id)
        marker = client.create()
        tasks: list[Task] = []
        for task in stream:
            tasks.append(task)
            if task.task_id == marker.task_id:
                break
    assert all(isinstance(t, Task) for t in tasks)
    assert {t.task_id for t in tasks} <= {gone.task_id, marker.task_id}
