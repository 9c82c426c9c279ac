"""Watches across replicas: a watcher on replica B sees what is written through replica A.

Two server processes on one shared store (the same Redis / DynamoDB Local table, the same
tokens file). The change reaches B only through the backend's change feed (Redis pub/sub,
DynamoDB Streams), never in-process. Each test first checks (bounded) that B's feed follows
what A writes, using probe tasks of another owner, so these tests are about the steady state;
the start-up window (a replica answering before its feed follows the store) has its own test,
test_replicas_feed_startup.py. Watchers resume only the way docs/design.md §8 allows (after
UNAVAILABLE), see ``Follower``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from _harness import ServerProcess
from _replica_helpers import SHARED_STORES, Follower, feed_connects, value
from google.protobuf import field_mask_pb2
from taskstate.v1 import taskstate_pb2 as pb

pytestmark = pytest.mark.parametrize("store", SHARED_STORES)

OK = grpc.StatusCode.OK
CALL_S = 10.0


@contextlib.asynccontextmanager
async def aio_stubs(*pairs: tuple[ServerProcess, str]) -> AsyncIterator[list[Any]]:
    stubs = [server.aio_stub(owner) for server, owner in pairs]
    try:
        yield stubs
    finally:
        for s in stubs:
            await s._channel_ref.close()


def write_sequence(stub: Any, task_id: str) -> list[Any]:
    """The writes made through replica A, one coroutine per version 2.. (terminal last)."""
    mask = field_mask_pb2.FieldMask(paths=["variables", "status_message"])
    return [
        lambda: stub.UpdateTaskStatus(
            pb.UpdateTaskStatusRequest(
                task_id=task_id, status=pb.TASK_STATUS_INPUT_REQUIRED, status_message="need input"
            ),
            timeout=CALL_S,
        ),
        lambda: stub.SetVariables(
            pb.SetVariablesRequest(task_id=task_id, variables={"step": value(1)}),
            timeout=CALL_S,
        ),
        lambda: stub.UpdateTaskStatus(
            pb.UpdateTaskStatusRequest(task_id=task_id, status=pb.TASK_STATUS_WORKING),
            timeout=CALL_S,
        ),
        lambda: stub.PutIfVersion(
            pb.PutIfVersionRequest(
                task_id=task_id,
                expected_version=4,
                task=pb.Task(variables={"step": value(2)}, status_message="almost"),
                update_mask=mask,
            ),
            timeout=CALL_S,
        ),
        lambda: stub.CompleteTask(
            pb.CompleteTaskRequest(
                task_id=task_id, status=pb.TASK_STATUS_COMPLETED, result=value({"answer": 42})
            ),
            timeout=CALL_S,
        ),
    ]


async def test_watchers_on_b_see_every_change_made_through_a(replicas, store):
    """Lock-step: after each write through A, both watchers on B show exactly that version
    (identical to what A returned), so no coalescing can hide a lost change."""
    a, b = replicas(store)
    owner, prober = a.fresh_owner(), a.fresh_owner()
    async with aio_stubs((a, owner), (b, owner), (a, prober), (b, prober)) as stubs:
        on_a, on_b, probe_a, probe_b = stubs
        await feed_connects(probe_a, probe_b)
        all_tasks = Follower(on_b)  # WatchTasks on B, registered before anything is written
        one: Follower | None = None
        try:
            await asyncio.wait_for(all_tasks.registered.wait(), CALL_S)
            created = (await on_a.CreateTask(pb.CreateTaskRequest(), timeout=CALL_S)).task
            task_id = created.task_id
            one = Follower(on_b, task_id=task_id)  # WatchTask on B
            written = [created]
            assert await one.until_version(task_id, 1) == created
            assert await all_tasks.until_version(task_id, 1) == created
            for write in write_sequence(on_a, task_id):
                task = (await write()).task
                written.append(task)
                assert await one.until_version(task_id, task.version) == task
                assert await all_tasks.until_version(task_id, task.version) == task

            assert [t.version for t in written] == [1, 2, 3, 4, 5, 6]
            assert written[-1].status == pb.TASK_STATUS_COMPLETED
            # WatchTask on B: every version once, in order, terminal last, then OK.
            assert (await one.end()).code == OK
            assert one.tasks[task_id] == written
            # WatchTasks on B: the same versions of that task (it keeps running for others).
            assert all_tasks.tasks[task_id] == written
            assert not one.out_of_order and not all_tasks.out_of_order
            # B serves what A wrote.
            got = (await on_b.GetTask(pb.GetTaskRequest(task_id=task_id), timeout=CALL_S)).task
            assert got == written[-1]
            if one.resumes or all_tasks.resumes:
                print(f"\n[{store}] resumed after UNAVAILABLE: {one.resumes} {all_tasks.resumes}")
        finally:
            await all_tasks.close()
            if one is not None:
                await one.close()


async def test_watch_on_b_keeps_up_with_a_burst_through_a(replicas, store):
    """No lock-step: 30 writes as fast as A takes them. B's watchers may coalesce versions,
    but they see strictly increasing versions, always the terminal one, and it comes last."""
    a, b = replicas(store)
    owner, prober = a.fresh_owner(), a.fresh_owner()
    async with aio_stubs((a, owner), (b, owner), (a, prober), (b, prober)) as stubs:
        on_a, on_b, probe_a, probe_b = stubs
        await feed_connects(probe_a, probe_b)
        all_tasks = Follower(on_b)
        one: Follower | None = None
        try:
            await asyncio.wait_for(all_tasks.registered.wait(), CALL_S)
            created = (await on_a.CreateTask(pb.CreateTaskRequest(), timeout=CALL_S)).task
            task_id = created.task_id
            one = Follower(on_b, task_id=task_id)
            assert await one.until_version(task_id, 1) == created
            for i in range(30):
                await on_a.SetVariables(
                    pb.SetVariablesRequest(task_id=task_id, variables={"i": value(i)}),
                    timeout=CALL_S,
                )
            final = (
                await on_a.CompleteTask(
                    pb.CompleteTaskRequest(task_id=task_id, status=pb.TASK_STATUS_FAILED),
                    timeout=CALL_S,
                )
            ).task
            assert final.version == 32

            assert (await one.end()).code == OK
            seen = one.tasks[task_id]
            assert seen[-1] == final, "the terminal version is last and intact"
            assert all(t.status == pb.TASK_STATUS_WORKING for t in seen[:-1])
            assert await all_tasks.until_version(task_id, 32) == final
            assert all_tasks.tasks[task_id][-1] == final
            assert not one.out_of_order and not all_tasks.out_of_order
            print(
                f"\n[{store}] burst of 32 versions: WatchTask on B delivered "
                f"{len(seen)}, WatchTasks {len(all_tasks.tasks[task_id])}"
            )
        finally:
            await all_tasks.close()
            if one is not None:
                await one.close()
