"""Redis goes away in the middle of a run and comes back on the same port.

A dedicated redis-server (tools/services/redis.sh, on a free port) that this test stops and
starts again; a real server process on it, with open watches.

Persistence: redis.sh runs Redis without save points or AOF, so the test takes a synchronous
``SAVE`` right before stopping it (nothing writes in between: every task has a 1 h ttl, so the
sweeper has nothing to delete). Redis restarted in the same directory loads that dump.rdb, so
the task written before the outage is still there afterwards, at the same version, and its
terminal version can be written after recovery. Redis' script cache is NOT persisted, so the
first write after recovery also exercises the NOSCRIPT -> SCRIPT LOAD path.

What must hold:
- while Redis is down, every call answers UNAVAILABLE (BACKEND_UNAVAILABLE; never INTERNAL or
  UNKNOWN) well within its 5 s deadline, and health turns NOT_SERVING;
- once Redis is back, the same server process (no restart) turns SERVING again and serves;
- an open WatchTask either survives or ends with UNAVAILABLE (then it resumes from its last
  version); either way the watcher gets the terminal version written after recovery;
- a taskstate_client ``watch()`` started before the outage delivers every version once, in
  order, including that terminal version, and ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
import redis
from _harness import Outcome, arpc, check_outcome
from _replica_helpers import (
    NOT_SERVING,
    SERVING,
    poll_health,
    value,
)
from _stores import Service
from _streams import StreamCollector
from taskstate.v1 import taskstate_pb2 as pb
from taskstate_client import AsyncTaskClient, RetryPolicy

UNAVAILABLE = grpc.StatusCode.UNAVAILABLE
OK = grpc.StatusCode.OK
DEADLINE_S = 5.0
HEALTH_WITHIN_S = 15.0  # the server checks the store every 2 s (plus a ping timeout)
# Keep resuming through the whole outage (the default gives up after ~30 s of failures).
PATIENT = RetryPolicy(max_attempts=100_000, initial_backoff=0.05, max_backoff=0.5)


async def timed(call: Any) -> tuple[Outcome, float]:
    loop = asyncio.get_running_loop()
    started = loop.time()
    out = await arpc(call)
    return out, loop.time() - started


async def outage_calls(stub: Any, task_id: str, victim_id: str) -> dict[str, tuple[Outcome, float]]:
    """One of each RPC while Redis is down, each with a 5 s deadline.

    Writes that read first (every mutation) fail on the read and write nothing. CreateTask and
    DeleteTask send their script at once: against a frozen Redis it sits in the socket buffer
    and may still run once Redis resumes (UNAVAILABLE means "outcome unknown"), so DeleteTask
    targets a throw-away task."""
    t = DEADLINE_S
    results = {
        "GetTask": await timed(stub.GetTask(pb.GetTaskRequest(task_id=task_id), timeout=t)),
        "CreateTask": await timed(stub.CreateTask(pb.CreateTaskRequest(), timeout=t)),
        "ListTasks": await timed(stub.ListTasks(pb.ListTasksRequest(), timeout=t)),
        "UpdateTaskStatus": await timed(
            stub.UpdateTaskStatus(
                pb.UpdateTaskStatusRequest(task_id=task_id, status=pb.TASK_STATUS_WORKING),
                timeout=t,
            )
        ),
        "SetVariables": await timed(
            stub.SetVariables(
                pb.SetVariablesRequest(task_id=task_id, variables={"x": value(1)}), timeout=t
            )
        ),
        "CompleteTask": await timed(
            stub.CompleteTask(
                pb.CompleteTaskRequest(task_id=task_id, status=pb.TASK_STATUS_COMPLETED),
                timeout=t,
            )
        ),
        "CancelTask": await timed(
            stub.CancelTask(pb.CancelTaskRequest(task_id=task_id), timeout=t)
        ),
        "DeleteTask": await timed(
            stub.DeleteTask(pb.DeleteTaskRequest(task_id=victim_id), timeout=t)
        ),
        "WaitTask": await timed(stub.WaitTask(pb.WaitTaskRequest(task_id=task_id), timeout=t)),
    }
    # A new WatchTask fails at once too (its first read).
    watch = StreamCollector(stub.WatchTask(pb.WatchTaskRequest(task_id=task_id), timeout=t))
    loop = asyncio.get_running_loop()
    started = loop.time()
    results["WatchTask(new)"] = (await watch.end(within=2 * t), loop.time() - started)
    return results


class Outage:
    """How Redis goes away and comes back."""

    def __init__(self, kind: str, service: Service) -> None:
        self.kind = kind
        self.service = service
        self.frozen_pid: int | None = None

    def begin(self) -> None:
        if self.kind == "stopped":
            # Persist what is there now: redis.sh's Redis has no save points and no AOF.
            with contextlib.closing(redis.Redis.from_url(self.service.url)) as r:
                assert r.save()
            self.service.stop()
        else:  # frozen: alive, port open, connections accepted, nothing answered
            self.frozen_pid = int((self.service.dir / "redis.pid").read_text())
            os.kill(self.frozen_pid, signal.SIGSTOP)

    def end(self) -> None:
        if self.kind == "stopped":
            self.service.start()  # same port, same directory: loads the dump.rdb
        elif self.frozen_pid is not None:
            os.kill(self.frozen_pid, signal.SIGCONT)
            self.frozen_pid = None


@pytest.fixture
def outage(request, own_redis) -> Iterator[Outage]:
    o = Outage(request.param, own_redis)
    try:
        yield o
    finally:
        o.end()  # never leave Redis frozen


@pytest.mark.slow
@pytest.mark.parametrize("outage", ["stopped", "frozen"], indirect=True)
async def test_server_rides_out_a_redis_outage(outage, own_redis, server_factory):
    """``stopped``: redis-server stopped, then started again on the same port (calls fail at
    once: connection refused). ``frozen``: SIGSTOP, then SIGCONT (calls must give up on their
    own, within their deadline)."""
    server = server_factory(store_url=f"{own_redis.url}?prefix=outage-test:")
    owner = server.fresh_owner()
    stub = server.aio_stub(owner)
    client = AsyncTaskClient(server.address, token=server.token(owner), timeout=DEADLINE_S)
    watch_task: asyncio.Task[None] | None = None
    streams: list[StreamCollector] = []
    try:
        # -- before: a task at version 2, three watchers following it -----------------------
        v1 = (await stub.CreateTask(pb.CreateTaskRequest(), timeout=DEADLINE_S)).task
        task_id = v1.task_id
        victim = (await stub.CreateTask(pb.CreateTaskRequest(), timeout=DEADLINE_S)).task
        raw = StreamCollector(stub.WatchTask(pb.WatchTaskRequest(task_id=task_id)))
        owner_watch = StreamCollector(stub.WatchTasks(pb.WatchTasksRequest()))
        streams += [raw, owner_watch]
        await owner_watch.call.initial_metadata()

        seen: list[Any] = []
        progressed = asyncio.Event()

        async def follow() -> None:
            async for task in client.watch(task_id, retry=PATIENT):
                seen.append(task)
                progressed.set()

        async def client_saw(version: int) -> None:
            async with asyncio.timeout(20):
                while not (seen and seen[-1].version >= version):
                    progressed.clear()
                    await progressed.wait()

        watch_task = asyncio.ensure_future(follow())
        await client_saw(1)  # before writing v2, so that v1 cannot be coalesced away
        assert (await raw.until_version(1)).task == v1
        v2 = (
            await stub.UpdateTaskStatus(
                pb.UpdateTaskStatusRequest(
                    task_id=task_id, status=pb.TASK_STATUS_INPUT_REQUIRED, status_message="wait"
                ),
                timeout=DEADLINE_S,
            )
        ).task
        assert (await raw.until_version(2)).task == v2
        assert (await owner_watch.until_version(2)).task == v2
        await client_saw(2)

        # -- Redis goes away --------------------------------------------------------------
        outage.begin()
        results = await outage_calls(stub, task_id, victim.task_id)
        for name, (out, seconds) in results.items():
            check_outcome(out, UNAVAILABLE, "BACKEND_UNAVAILABLE", what=f"{name} during outage")
            assert seconds < DEADLINE_S, f"{name} took {seconds:.2f}s to fail"
        not_serving_after = await poll_health(server.address, NOT_SERVING, HEALTH_WITHIN_S)

        # Open streams: WatchTasks cannot know what it missed, so it must end (UNAVAILABLE);
        # WatchTask may stay open or end with UNAVAILABLE -- never anything else.
        owner_end = await owner_watch.end(within=HEALTH_WITHIN_S)
        check_outcome(owner_end, UNAVAILABLE, what="WatchTasks open across the outage")
        if raw.outcome is not None:
            check_outcome(raw.outcome, UNAVAILABLE, what="WatchTask open across the outage")
        raw_outage_outcome = raw.outcome.code.name if raw.outcome else "still open"
        assert server.running, "the server process died with Redis"

        # -- Redis is back ------------------------------------------------------------------
        outage.end()
        serving_after = await poll_health(server.address, SERVING, HEALTH_WITHIN_S)
        got = (await stub.GetTask(pb.GetTaskRequest(task_id=task_id), timeout=DEADLINE_S)).task
        assert got == v2, "the task saved before the outage is back, unchanged"
        other = (await stub.CreateTask(pb.CreateTaskRequest(), timeout=DEADLINE_S)).task
        assert other.version == 1
        v3 = (
            await stub.CompleteTask(
                pb.CompleteTaskRequest(
                    task_id=task_id, status=pb.TASK_STATUS_COMPLETED, result=value("done")
                ),
                timeout=DEADLINE_S,
            )
        ).task
        assert v3.version == 3 and v3.status == pb.TASK_STATUS_COMPLETED

        # The raw WatchTask: still open -> it delivers v3 and ends OK; ended -> resume it.
        if raw.outcome is None:
            assert (await raw.until_version(3)).task == v3
            assert (await raw.end()).code == OK
        else:
            last = raw.messages[-1].task.version
            resumed = StreamCollector(
                stub.WatchTask(pb.WatchTaskRequest(task_id=task_id, after_version=last))
            )
            streams.append(resumed)
            assert (await resumed.until_version(3)).task == v3
            assert (await resumed.end()).code == OK
            assert [m.task.version for m in resumed.messages] == [3]
        assert [m.task.version for m in raw.messages][:2] == [1, 2]

        # The Python client's watch(), started before the outage, ends with the terminal one.
        await asyncio.wait_for(watch_task, 30)
        assert [(t.version, t.status.value) for t in seen] == [
            (1, "working"),
            (2, "input_required"),
            (3, "completed"),
        ]
        assert seen[-1].result == "done"
        print(
            f"\n[{outage.kind}] NOT_SERVING {not_serving_after:.1f}s after the outage began, "
            f"SERVING {serving_after:.1f}s after Redis was back; the open WatchTask: "
            f"{raw_outage_outcome} during the outage; calls failed in "
            + ", ".join(f"{n} {s:.2f}s" for n, (_, s) in results.items())
        )
    finally:
        if watch_task is not None and not watch_task.done():
            watch_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watch_task
        for s in streams:
            await s.close()
        await client.close()
        await stub._channel_ref.close()
