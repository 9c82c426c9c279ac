"""The bench phases of worker liveness (issue 10): status listing, ClaimTask, lease expiry.

- "ListTasks working": p50 of `ListTasks(statuses=[WORKING], page_size=50)` for an owner with
  few and one with many tasks, of which 5 are working (a scan would have to read every other
  task to fill the page, and the 5 are created first where the server makes the others). The
  ratio big/small must stay under 2x: the page is served from a status index, not by scanning
  the owner's tasks. A store with a seeder (bench/seeding.py) has the big owner's finished
  tasks put in before its server starts; `check_seeded` proves the server sees them.
- "ClaimTask next": p50 of claiming the oldest offered task with that backlog in place.
- "lease expiry": leases of 1 s, never renewed; latency = the failed version's arrival on a
  WatchTasks stream minus the lease's expire_time (both clocks are this machine's).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import grpc
from google.protobuf import duration_pb2
from taskstate.v1 import taskstate_pb2 as pb

RATIO_LIMIT = 2.0
WORKING_TASKS = 5
EXPIRING_LEASES = 50
CALL_TIMEOUT = 30.0


async def populate_status_owner(
    stubs: Sequence[Any], md: Any, size: int, clients: int, time_limit: float, seeded: int = 0
) -> int:
    """`WORKING_TASKS` working tasks, then completed ones up to `size` (`seeded` of them
    already stored); how many exist."""
    for _ in range(WORKING_TASKS):
        await stubs[0].CreateTask(
            pb.CreateTaskRequest(request_method="bench/working"), metadata=md, timeout=CALL_TIMEOUT
        )
    remaining = size - WORKING_TASKS - seeded
    made = WORKING_TASKS + seeded
    deadline = time.perf_counter() + time_limit

    async def worker(stub: Any) -> None:
        nonlocal remaining, made
        while remaining > 0 and time.perf_counter() < deadline:
            remaining -= 1
            created = await stub.CreateTask(
                pb.CreateTaskRequest(request_method="bench/done"), metadata=md, timeout=CALL_TIMEOUT
            )
            await stub.CompleteTask(
                pb.CompleteTaskRequest(
                    task_id=created.task.task_id, status=pb.TASK_STATUS_COMPLETED
                ),
                metadata=md,
                timeout=CALL_TIMEOUT,
            )
            made += 1

    await asyncio.gather(*(worker(stubs[c % len(stubs)]) for c in range(clients)))
    return made


async def check_seeded(stub: Any, md: Any, size: int, seeded: Sequence[str]) -> None:
    """Raises unless the server lists `size` tasks of the owner (all but `WORKING_TASKS`
    completed) and reads seeded tasks by id as completed ones: the seeded tasks are real."""
    counts: dict[int, int] = {}
    token = ""
    while True:
        response = await stub.ListTasks(
            pb.ListTasksRequest(page_size=1000, page_token=token), metadata=md, timeout=CALL_TIMEOUT
        )
        for task in response.tasks:
            counts[task.status] = counts.get(task.status, 0) + 1
        token = response.next_page_token
        if not token:
            break
    want = {pb.TASK_STATUS_WORKING: WORKING_TASKS, pb.TASK_STATUS_COMPLETED: size - WORKING_TASKS}
    if counts != want:
        raise RuntimeError(f"the seeded owner lists {counts} tasks by status, not {want}")
    for task_id in (seeded[0], seeded[len(seeded) // 2], seeded[-1]):
        request = pb.GetTaskRequest(task_id=task_id)
        task = (await stub.GetTask(request, metadata=md, timeout=CALL_TIMEOUT)).task
        if task.status != pb.TASK_STATUS_COMPLETED or task.version != 2:
            raise RuntimeError(f"seeded task {task_id} reads as {task}")


async def p50_ms(call: Callable[[], Awaitable[Any]], reps: int) -> float:
    latencies = []
    for _ in range(reps):
        t0 = time.perf_counter()
        await call()
        latencies.append(time.perf_counter() - t0)
    latencies.sort()
    return latencies[len(latencies) // 2] * 1000


async def working_page_ms(stub: Any, md: Any, reps: int) -> float:
    async def page() -> None:
        response = await stub.ListTasks(
            pb.ListTasksRequest(page_size=50, statuses=[pb.TASK_STATUS_WORKING]),
            metadata=md,
            timeout=CALL_TIMEOUT,
        )
        if len(response.tasks) != WORKING_TASKS:
            raise RuntimeError(f"listed {len(response.tasks)} working tasks, not {WORKING_TASKS}")

    return await p50_ms(page, reps)


async def claim_next_ms(stub: Any, md: Any, reps: int) -> float:
    """Each rep offers one task, claims the oldest offered one (timed) and completes it."""
    latencies = []
    for i in range(reps):
        await stub.CreateTask(
            pb.CreateTaskRequest(request_method="bench/claim", lease_policy=pb.LEASE_POLICY_FAIL),
            metadata=md,
            timeout=CALL_TIMEOUT,
        )
        t0 = time.perf_counter()
        claimed = await stub.ClaimTask(
            pb.ClaimTaskRequest(worker_id=f"bench-{i}", request_method="bench/claim"),
            metadata=md,
            timeout=CALL_TIMEOUT,
        )
        latencies.append(time.perf_counter() - t0)
        if not claimed.HasField("task"):
            raise RuntimeError("ClaimTask found no offered task")
        await stub.CompleteTask(
            pb.CompleteTaskRequest(
                task_id=claimed.task.task_id,
                status=pb.TASK_STATUS_COMPLETED,
                fencing_token=claimed.task.lease.fencing_token,
            ),
            metadata=md,
            timeout=CALL_TIMEOUT,
        )
    latencies.sort()
    return latencies[len(latencies) // 2] * 1000


async def lease_expiry_ms(stub: Any, md: Any, lease_s: float = 1.0) -> list[float]:
    """Latencies (ms, sorted) from lease end to the failed version reaching a watcher."""
    expire_at: dict[str, float] = {}
    latencies: list[float] = []
    call = stub.WatchTasks(pb.WatchTasksRequest(all_events=True), metadata=md)
    await call.wait_for_connection()
    await call.initial_metadata()
    done = asyncio.Event()

    async def follow() -> None:
        async for message in call:
            task = message.task
            if task.status == pb.TASK_STATUS_FAILED and task.task_id in expire_at:
                latencies.append(time.time() * 1000 - expire_at.pop(task.task_id))
                if len(latencies) == EXPIRING_LEASES:
                    done.set()
                    return

    follower = asyncio.create_task(follow())
    try:
        lease = duration_pb2.Duration(seconds=int(lease_s), nanos=int(lease_s % 1 * 1e9))
        for i in range(EXPIRING_LEASES):
            created = await stub.CreateTask(
                pb.CreateTaskRequest(request_method="bench/expire"),
                metadata=md,
                timeout=CALL_TIMEOUT,
            )
            claimed = await stub.ClaimTask(
                pb.ClaimTaskRequest(
                    task_id=created.task.task_id, worker_id=f"sleeper-{i}", lease_duration=lease
                ),
                metadata=md,
                timeout=CALL_TIMEOUT,
            )
            end = claimed.task.lease.expire_time
            expire_at[created.task.task_id] = end.seconds * 1000 + end.nanos / 1e6
            await asyncio.sleep(lease_s / EXPIRING_LEASES)  # spread the ends over one lease
        await asyncio.wait_for(done.wait(), timeout=60 + 10 * lease_s)
    finally:
        follower.cancel()
        call.cancel()
    latencies.sort()
    return latencies


def has_rpc(error: grpc.aio.AioRpcError) -> bool:
    """False when the store lacks what the phase needs (the phase is reported, not failed)."""
    return bool(error.code() != grpc.StatusCode.UNIMPLEMENTED)
