"""The resumable WatchTasks feed through a real server (grpc.aio): deletions and expiries,
resume cursors, compaction, list-then-watch.

A WatchTasks stream is positioned before the server sends its headers, so a test that awaits
them knows its stream misses nothing after. "Exactly these messages" is checked with a marker
task created after the changes under test: its WRITE must come right after them.
"""

from __future__ import annotations

import pytest
from _grpc_helpers import COMPLETED, SC, dur, variables
from _harness import check_outcome
from _stores import STORES
from _streams import END, StreamCollector
from taskstate.v1 import taskstate_pb2 as pb
from taskstate_server.backends import Feature
from taskstate_server.domain.cursors import Cursor, decode_cursor, encode_cursor

WRITE = pb.WATCH_EVENT_KIND_WRITE
DELETED = pb.WATCH_EVENT_KIND_DELETED
EXPIRED = pb.WATCH_EVENT_KIND_EXPIRED
PROGRESS = pb.WATCH_EVENT_KIND_PROGRESS


@pytest.fixture
def astub(live_server, owner, aio_stubs):
    return aio_stubs(live_server, owner)


@pytest.fixture
def event_log(store_name):
    """Only servers whose store keeps an event log resume; the others answer UNIMPLEMENTED
    (test_a_store_without_an_event_log_refuses_resuming)."""
    if not STORES[store_name].has(Feature.EVENT_LOG):
        pytest.skip(f"{store_name} keeps no event log")


async def watch(astub, **kw) -> StreamCollector:
    """A WatchTasks stream, once the server has positioned it (its headers arrived)."""
    call = astub.WatchTasks(pb.WatchTasksRequest(**kw), timeout=60)
    await call.initial_metadata()
    return StreamCollector(call)


async def create(astub, **kw) -> pb.Task:
    return (await astub.CreateTask(pb.CreateTaskRequest(**kw), timeout=10)).task


async def set_x(astub, task_id, x) -> pb.Task:
    req = pb.SetVariablesRequest(task_id=task_id, variables=variables({"x": x}))
    return (await astub.SetVariables(req, timeout=10)).task


async def delete(astub, task_id) -> None:
    await astub.DeleteTask(pb.DeleteTaskRequest(task_id=task_id), timeout=10)


async def until_marker(astub, stream):
    """Every message before the WRITE of a task created now."""
    marker = await create(astub, request_method="marker")
    out = []
    while True:
        msg = await stream.next()
        assert msg is not END, f"the stream ended: {stream.outcome and stream.outcome.describe()}"
        if msg.task_id == marker.task_id:
            assert (msg.kind, msg.version, msg.task) == (WRITE, 1, marker)
            return out
        out.append(msg)


def shown(messages):
    return [(m.kind, m.task_id, m.version) for m in messages]


async def list_all(astub):
    """Every task by id, and the first page's resume_cursor."""
    tasks, token, cursor = {}, "", None
    while True:
        req = pb.ListTasksRequest(page_size=5, page_token=token)
        page = await astub.ListTasks(req, timeout=10)
        if cursor is None:
            cursor = page.resume_cursor
        else:
            assert page.resume_cursor == "", "only the first page carries a cursor"
        tasks.update((t.task_id, t) for t in page.tasks)
        token = page.next_page_token
        if not token:
            return tasks, cursor


async def test_deletions_and_expiries_reach_the_stream(astub, event_log):
    stream = await watch(astub, all_events=True)
    try:
        doomed = await create(astub, ttl=dur(1))
        msg = await stream.next()
        assert (msg.kind, msg.task_id, msg.version, msg.task) == (WRITE, doomed.task_id, 1, doomed)
        gone = await create(astub)
        assert shown([await stream.next()]) == [(WRITE, gone.task_id, 1)]
        await delete(astub, gone.task_id)
        msg = await stream.next()
        assert shown([msg]) == [(DELETED, gone.task_id, 1)]
        assert not msg.HasField("task")
        # The server's sweeper runs every second: the expiry arrives within a few.
        msg = await stream.next(within=15)
        assert (msg.kind, msg.task_id, msg.HasField("task")) == (EXPIRED, doomed.task_id, False)
        assert msg.version in (1, 0)
        cursors = [m.resume_cursor for m in stream.messages]
        assert all(c.startswith("c1_") for c in cursors) and len(set(cursors)) == len(cursors)
    finally:
        await stream.close()


async def test_without_all_events_old_clients_get_only_writes(astub, event_log):
    stream = await watch(astub)
    try:
        a = await create(astub)
        msg = await stream.next()
        assert (msg.kind, msg.task_id, msg.version, msg.task) == (WRITE, a.task_id, 1, a)
        assert msg.resume_cursor.startswith("c1_")
        await delete(astub, a.task_id)
        assert await until_marker(astub, stream) == []
    finally:
        await stream.close()


async def test_a_resumed_stream_replays_exactly_the_missed_events(astub, event_log):
    stream = await watch(astub, all_events=True)
    try:
        t1 = await create(astub)
        t2 = await create(astub)
        seen = [await stream.next(), await stream.next()]
        assert shown(seen) == [(WRITE, t1.task_id, 1), (WRITE, t2.task_id, 1)]
    finally:
        await stream.close()
    await set_x(astub, t1.task_id, 1)
    t1c = await set_x(astub, t1.task_id, 2)
    t3 = await create(astub)
    await delete(astub, t2.task_id)
    resumed = await watch(astub, resume_cursor=seen[-1].resume_cursor)
    try:
        got = await until_marker(astub, resumed)
    finally:
        await resumed.close()
    assert shown(got) == [
        (WRITE, t1.task_id, t1c.version),
        (WRITE, t3.task_id, 1),
        (DELETED, t2.task_id, 1),
    ]
    assert [m.task for m in got[:2]] == [t1c, t3]


@pytest.mark.parametrize("cursor", ["junk", "c1_", "c1_!!", "c1_" + "A" * 600])
async def test_a_bad_cursor_is_invalid_argument(astub, event_log, cursor):
    stream = StreamCollector(astub.WatchTasks(pb.WatchTasksRequest(resume_cursor=cursor)))
    out = check_outcome(await stream.end(), SC.INVALID_ARGUMENT, "INVALID_ARGUMENT")
    assert [field for field, _ in out.violations] == ["resume_cursor"]


@pytest.mark.parametrize("forge", ["too old", "another epoch"])
async def test_an_old_cursor_is_out_of_range_feed_compacted(astub, event_log, forge):
    _, cursor = await list_all(astub)
    real = decode_cursor(cursor)
    if forge == "too old":
        forged = Cursor(real.epoch, real.position, 0)
    else:
        forged = Cursor(real.epoch + "-other", real.position, real.time_ms)
    req = pb.WatchTasksRequest(resume_cursor=encode_cursor(forged))
    stream = StreamCollector(astub.WatchTasks(req))
    check_outcome(await stream.end(), SC.OUT_OF_RANGE, "FEED_COMPACTED")


async def test_list_then_watch_from_its_cursor_misses_nothing(astub, event_log):
    a = await create(astub)
    b = await create(astub)
    for _ in range(6):
        await create(astub)
    view, cursor = await list_all(astub)
    assert cursor.startswith("c1_")
    await set_x(astub, a.task_id, 1)
    await astub.CompleteTask(pb.CompleteTaskRequest(task_id=b.task_id, status=COMPLETED))
    c = await create(astub)
    await delete(astub, a.task_id)
    stream = await watch(astub, resume_cursor=cursor)
    try:
        for msg in await until_marker(astub, stream):
            if msg.kind == WRITE:
                view[msg.task_id] = msg.task
            elif msg.kind in (DELETED, EXPIRED):
                view.pop(msg.task_id, None)
    finally:
        await stream.close()
    final, _ = await list_all(astub)
    del final[next(t for t, task in final.items() if task.request_method == "marker")]
    assert view == final
    assert c.task_id in view and a.task_id not in view
