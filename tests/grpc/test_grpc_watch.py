"""WaitTask, WatchTask and WatchTasks through a real server (grpc.aio)."""

from __future__ import annotations

import asyncio
import time

import grpc
import pytest
from _grpc_helpers import (
    CANCELLED,
    COMPLETED,
    FAILED,
    INPUT_REQUIRED,
    SC,
    WORKING,
    dur,
    mask,
    name,
    next_real,
    open_watch_tasks,
    py,
    variables,
)
from _harness import arpc, check_outcome
from _streams import END, StreamCollector
from taskstate.v1 import taskstate_pb2 as pb


@pytest.fixture
def astub(live_server, owner, aio_stubs):
    return aio_stubs(live_server, owner)


async def new_task(astub, **kw):
    return (await astub.CreateTask(pb.CreateTaskRequest(**kw), timeout=10)).task


async def set_i(astub, task_id, i):
    req = pb.SetVariablesRequest(task_id=task_id, variables=variables({"i": i}))
    return (await astub.SetVariables(req, timeout=10)).task


async def complete(astub, task_id, status=COMPLETED, **kw):
    req = pb.CompleteTaskRequest(task_id=task_id, status=status, **kw)
    return (await astub.CompleteTask(req, timeout=10)).task


def watch(astub, task_id, after=0, deadline=60):
    return StreamCollector(
        astub.WatchTask(pb.WatchTaskRequest(task_id=task_id, after_version=after), timeout=deadline)
    )


def assert_consistent(messages):
    """Versions strictly increase, and each snapshot is whole: variable i was set at version i+2
    (by SetVariables; the terminal write after them adds one more version)."""
    versions = [m.task.version for m in messages]
    assert versions == sorted(set(versions)), f"versions not strictly increasing: {versions}"
    for m in messages:
        if "i" in m.task.variables and m.task.status == WORKING:
            assert py(m.task.variables["i"]) == m.task.version - 2, m.task


# -- WatchTask --------------------------------------------------------------------------------


async def test_watch_delivers_increasing_versions_and_terminal(astub):
    task = await new_task(astub)
    stream = watch(astub, task.task_id)
    first = await stream.next()
    assert first.task == task
    n = 150
    for i in range(n):
        await set_i(astub, task.task_id, i)
    final = await complete(astub, task.task_id, result=pb.Task().result)
    messages, out = await stream.rest()
    check_outcome(out, SC.OK)
    assert messages, "nothing after the first version"
    assert_consistent([first, *messages])
    assert messages[-1].task == final, "the terminal version is always delivered, last"
    assert final.version == n + 2


async def test_watch_slow_reader_gets_terminal(astub):
    task = await new_task(astub)
    call = astub.WatchTask(pb.WatchTaskRequest(task_id=task.task_id), timeout=60)
    first = await call.read()
    assert first.task.version == 1
    # The reader reads nothing while the writer races ahead.
    for i in range(300):
        await set_i(astub, task.task_id, i)
    final = await complete(astub, task.task_id)
    messages = [first]
    while True:
        msg = await call.read()
        if msg is grpc.aio.EOF:
            break
        messages.append(msg)
    assert await call.code() == SC.OK
    assert_consistent(messages)
    assert messages[-1].task == final


async def test_many_watchers_all_see_terminal(astub, live_server, owner, aio_stubs):
    task = await new_task(astub)
    streams = []
    for _ in range(6):
        s = watch(aio_stubs(live_server, owner), task.task_id)
        assert (await s.next()).task.version == 1
        streams.append(s)
    for i in range(30):
        await set_i(astub, task.task_id, i)
    final = await complete(astub, task.task_id, status=FAILED, error=pb.TaskError(code=7))
    for s in streams:
        messages, out = await s.rest()
        check_outcome(out, SC.OK)
        assert_consistent(messages)
        assert messages[-1].task == final


@pytest.mark.parametrize("terminal", [COMPLETED, FAILED, CANCELLED], ids=name)
async def test_watch_ends_after_each_terminal_status(astub, terminal):
    task = await new_task(astub)
    stream = watch(astub, task.task_id)
    assert (await stream.next()).task == task
    if terminal == CANCELLED:
        req = pb.CancelTaskRequest(task_id=task.task_id)
        final = (await astub.CancelTask(req, timeout=10)).task
    else:
        final = await complete(astub, task.task_id, status=terminal)
    messages, out = await stream.rest()
    check_outcome(out, SC.OK)
    assert [m.task for m in messages] == [final]


async def test_watch_resume_with_after_version(astub):
    task = await new_task(astub)
    for i in range(3):
        last = await set_i(astub, task.task_id, i)  # versions 2..4 (i == version - 2)
    assert last.version == 4
    # after_version below the current: the current version comes first.
    stream = watch(astub, task.task_id, after=2)
    first = await stream.next()
    assert first.task == last
    seen = first.task.version
    await set_i(astub, task.task_id, 3)  # v5
    msg = await stream.next()
    assert msg.task.version == 5
    seen = msg.task.version
    await stream.close()
    # While disconnected, more versions are committed.
    for i in range(4, 9):
        await set_i(astub, task.task_id, i)  # v6..v10
    stream = watch(astub, task.task_id, after=seen)
    resumed = await stream.next()
    assert resumed.task.version > seen, "nothing <= after_version is sent"
    assert resumed.task.version == 10, "the current version is sent first on resume"
    final = await complete(astub, task.task_id)
    messages, out = await stream.rest()
    check_outcome(out, SC.OK)
    versions = [resumed.task.version] + [m.task.version for m in messages]
    assert all(v > seen for v in versions)
    assert messages[-1].task == final


async def test_watch_after_current_version_waits_for_next(astub):
    task = await new_task(astub)
    stream = watch(astub, task.task_id, after=1)
    assert await stream.poll(0.3) is None, "no message while nothing is newer than after_version"
    t2 = await set_i(astub, task.task_id, 0)
    assert (await stream.next()).task == t2
    await stream.close()


async def test_watch_terminal_task_resume_after_terminal_ends_at_once(astub):
    task = await new_task(astub)
    final = await complete(astub, task.task_id)
    messages, out = await watch(astub, task.task_id, after=0, deadline=10).rest()
    check_outcome(out, SC.OK)
    assert [m.task for m in messages] == [final]
    messages, out = await watch(astub, task.task_id, after=final.version, deadline=10).rest()
    check_outcome(out, SC.OK)
    assert messages == [], "a client that saw the terminal version gets nothing more"


async def test_watch_ends_not_found_on_delete(astub):
    task = await new_task(astub)
    stream = watch(astub, task.task_id)
    assert (await stream.next()).task == task
    await set_i(astub, task.task_id, 0)
    await astub.DeleteTask(pb.DeleteTaskRequest(task_id=task.task_id), timeout=10)
    messages, out = await stream.rest()
    check_outcome(out, SC.NOT_FOUND, "TASK_NOT_FOUND")
    assert all(m.task.version == 2 for m in messages)


async def test_watch_ends_not_found_on_expiry(astub):
    # The short ttl is set only once the watch is open: created with it, the task could
    # expire before a slow server's first read, and the watch would never be open.
    task = await new_task(astub)
    stream = watch(astub, task.task_id, deadline=20)
    assert (await stream.next()).task == task
    started = time.monotonic()
    req = pb.PutIfVersionRequest(
        task_id=task.task_id,
        expected_version=1,
        task=pb.Task(ttl=dur(0.5)),
        update_mask=mask("ttl"),
    )
    short = (await astub.PutIfVersion(req, timeout=10)).task
    messages, out = await stream.rest(within=20)
    check_outcome(out, SC.NOT_FOUND, "TASK_NOT_FOUND")
    # Version 2 may be coalesced away (a resync finds the task gone): never anything else.
    assert [m.task for m in messages] in ([short], [])
    assert time.monotonic() - started < 10, "expiry noticed far too late"


# -- WatchTasks -------------------------------------------------------------------------------


async def test_watch_tasks_sees_creates_and_updates(astub):
    stream = await open_watch_tasks(astub)
    try:
        a = await new_task(astub, request_method="a")
        a2 = await set_i(astub, a.task_id, 0)
        b = await new_task(astub, request_method="b")
        req = pb.UpdateTaskStatusRequest(task_id=b.task_id, status=INPUT_REQUIRED)
        b2 = (await astub.UpdateTaskStatus(req, timeout=10)).task
        a3 = await complete(astub, a.task_id, result=pb.Task().result)
        b3 = (await astub.CancelTask(pb.CancelTaskRequest(task_id=b.task_id), timeout=10)).task
        messages = [await next_real(stream) for _ in range(6)]
        assert [m.task for m in messages] == [a, a2, b, b2, a3, b3]
        # Without all_events, every message is a write, naming its task (issue 10).
        assert {m.kind for m in messages} == {pb.WATCH_EVENT_KIND_WRITE}
        assert [m.task_id for m in messages] == [m.task.task_id for m in messages]
    finally:
        await stream.close()


async def test_watch_tasks_status_filter(astub):
    stream = await open_watch_tasks(astub, statuses=(INPUT_REQUIRED, COMPLETED))
    try:
        t = await new_task(astub, request_method="f")  # working: filtered out
        req = pb.UpdateTaskStatusRequest(task_id=t.task_id, status=INPUT_REQUIRED)
        v2 = (await astub.UpdateTaskStatus(req, timeout=10)).task
        v3 = await set_i(astub, t.task_id, 1)  # still input_required: delivered
        req = pb.UpdateTaskStatusRequest(task_id=t.task_id, status=WORKING)
        await astub.UpdateTaskStatus(req, timeout=10)  # working: filtered out
        v5 = await complete(astub, t.task_id)
        got = [(await next_real(stream)).task for _ in range(3)]
        assert got == [v2, v3, v5]
        other = await new_task(astub, request_method="g")  # filtered
        failed = await complete(astub, other.task_id, status=FAILED)  # filtered
        marker = await new_task(astub, request_method="marker")
        marker_done = await complete(astub, marker.task_id)
        msg = await next_real(stream)
        assert msg is not END
        assert msg.task == marker_done, f"a filtered change leaked: {msg.task} ({failed.task_id})"
    finally:
        await stream.close()


async def test_watch_tasks_only_from_open(astub):
    before = await new_task(astub, request_method="before")
    stream = await open_watch_tasks(astub)
    try:
        after = await new_task(astub, request_method="after")
        msg = await next_real(stream)
        assert msg.task == after, f"got {msg.task.request_method}, not only changes from now on"
        assert before.task_id != after.task_id
    finally:
        await stream.close()


# -- WaitTask ---------------------------------------------------------------------------------


def wait_req(task_id, timeout=None, statuses=()):
    req = pb.WaitTaskRequest(task_id=task_id, statuses=statuses)
    if timeout is not None:
        req.timeout.CopyFrom(dur(timeout))
    return req


async def test_wait_returns_on_terminal(astub):
    task = await new_task(astub)
    waiting = asyncio.ensure_future(astub.WaitTask(wait_req(task.task_id, 30), timeout=40))
    for i in range(20):
        await set_i(astub, task.task_id, i)
    final = await complete(astub, task.task_id)
    # Bounded from the terminal write on: a bound from the start also timed the 21 writes
    # (17 s on an overloaded DynamoDB Local), not the wait.
    resp = await asyncio.wait_for(waiting, 10)
    assert resp.task == final


async def test_wait_timeout_returns_current_task_ok(astub):
    task = await new_task(astub)
    task = await set_i(astub, task.task_id, 0)
    started = time.monotonic()
    out = await arpc(astub.WaitTask(wait_req(task.task_id, 0.4), timeout=10))
    elapsed = time.monotonic() - started
    check_outcome(out, SC.OK)
    assert out.response.task == task
    assert 0.35 <= elapsed < 5, elapsed


async def test_wait_does_not_return_on_non_matching_change(astub):
    # The terminal write that follows tells the two answers apart by version, whatever
    # the timing: a wait that stopped at input_required would answer version 2.
    task = await new_task(astub)
    waiting = asyncio.ensure_future(astub.WaitTask(wait_req(task.task_id, 30), timeout=40))
    req = pb.UpdateTaskStatusRequest(task_id=task.task_id, status=INPUT_REQUIRED)
    moved = (await astub.UpdateTaskStatus(req, timeout=10)).task
    final = await complete(astub, task.task_id)
    resp = await asyncio.wait_for(waiting, 30)
    assert moved.version == 2
    assert resp.task == final, "input_required is not terminal: keep waiting"


async def test_wait_custom_status(astub):
    task = await new_task(astub)
    waiting = asyncio.ensure_future(
        astub.WaitTask(wait_req(task.task_id, 30, [INPUT_REQUIRED]), timeout=40)
    )
    await set_i(astub, task.task_id, 0)
    req = pb.UpdateTaskStatusRequest(
        task_id=task.task_id, status=INPUT_REQUIRED, status_message="need a file"
    )
    moved = (await astub.UpdateTaskStatus(req, timeout=10)).task
    resp = await asyncio.wait_for(waiting, 10)
    assert resp.task == moved
    assert resp.task.status_message == "need a file"


async def test_wait_already_in_status_returns_at_once(astub):
    task = await new_task(astub)
    started = time.monotonic()
    resp = await astub.WaitTask(wait_req(task.task_id, 30, [WORKING]), timeout=40)
    assert resp.task == task
    final = await complete(astub, task.task_id)
    resp = await astub.WaitTask(wait_req(task.task_id, 30), timeout=40)
    assert resp.task == final
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("wait_s", [60, None], ids=["timeout-60s", "no-timeout"])
async def test_wait_honours_call_deadline(astub, wait_s):
    # The server answers min(0.25 s, 10%) before the deadline. A 1 s deadline left the answer
    # 0.1 s to reach this test, which a busy machine's scheduling exceeded (DEADLINE_EXCEEDED
    # on Redis, 1 run in 10 under load); from 2.5 s on, it gets the full 0.25 s.
    task = await new_task(astub)
    started = time.monotonic()
    out = await arpc(astub.WaitTask(wait_req(task.task_id, wait_s), timeout=3.0))
    elapsed = time.monotonic() - started
    check_outcome(out, SC.OK)  # not DEADLINE_EXCEEDED: answered just before the deadline
    assert out.response.task == task
    # It waited until just before the deadline. (An upper bound here measured this test's
    # own scheduling too: OK already says the answer beat the deadline.)
    assert elapsed >= 2.5, elapsed


async def test_wait_on_deleted_task_not_found(astub):
    task = await new_task(astub)
    waiting = asyncio.ensure_future(arpc(astub.WaitTask(wait_req(task.task_id, 30), timeout=40)))
    await set_i(astub, task.task_id, 0)
    await astub.DeleteTask(pb.DeleteTaskRequest(task_id=task.task_id), timeout=10)
    out = await asyncio.wait_for(waiting, 10)
    check_outcome(out, SC.NOT_FOUND, "TASK_NOT_FOUND")
