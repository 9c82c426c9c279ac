"""Worker heartbeat and lease loss against an in-process fake of OUR service (no store).

The fake answers ClaimTask, RenewLease and the fenced writes from a script, so each
test decides exactly when a renewal succeeds, meets UNAVAILABLE, or reports
LEASE_LOST. Tests wait on events the fake sets, never on sleeps.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from _fake_service import our_status, serving
from google.rpc import code_pb2
from taskstate.v1 import taskstate_pb2 as pb
from taskstate.v1 import taskstate_pb2_grpc as pb_grpc
from taskstate_client import (
    AsyncTaskClient,
    LeaseHeldError,
    LeaseLostError,
    SyncWorker,
    TaskClient,
    TaskStatus,
    Worker,
)

LEASE = 0.3  # the heartbeat runs every 0.1 s


def _task(task_id: str, token: int, lease: float, status: int = pb.TASK_STATUS_WORKING) -> pb.Task:
    msg = pb.Task(task_id=task_id, status=status, version=token)  # type: ignore[arg-type]
    msg.create_time.FromMilliseconds(1)
    msg.update_time.FromMilliseconds(2)
    if status == pb.TASK_STATUS_WORKING:
        msg.lease.worker_id = "w"
        msg.lease.fencing_token = token
        msg.lease.expire_time.FromMilliseconds(3)
        msg.lease.duration.FromNanoseconds(int(lease * 1e9))
    return msg


LOST = "lost"
UNAVAILABLE = "unavailable"
OK = "ok"


class FakeService(pb_grpc.TaskServiceServicer):
    """Scripted answers; `renewals` collects the fencing tokens renewals carried."""

    def __init__(self) -> None:
        self.claimable = True
        self.held = False
        self.renew_script: list[str] = []
        self.write_answer = OK
        self.renewals: list[int] = []
        self.renewed = asyncio.Condition()
        self.renewed_sync = threading.Condition()  # for the SyncWorker's thread
        self.writes: list[tuple[str, Any]] = []
        self.claims: list[pb.ClaimTaskRequest] = []

    async def ClaimTask(self, request: pb.ClaimTaskRequest, context: Any) -> pb.ClaimTaskResponse:
        self.claims.append(request)
        if self.held:
            await context.abort_with_status(
                our_status(code_pb2.FAILED_PRECONDITION, "LEASE_HELD", "held by another worker")
            )
        if not self.claimable:
            return pb.ClaimTaskResponse()
        lease = request.lease_duration.ToNanoseconds() / 1e9 or LEASE
        return pb.ClaimTaskResponse(task=_task(request.task_id or "t1", 7, lease))

    async def RenewLease(
        self, request: pb.RenewLeaseRequest, context: Any
    ) -> pb.RenewLeaseResponse:
        answer = self.renew_script.pop(0) if self.renew_script else OK
        async with self.renewed:
            self.renewals.append(request.fencing_token)
            self.renewed.notify_all()
        with self.renewed_sync:
            self.renewed_sync.notify_all()
        if answer == LOST:
            await context.abort_with_status(
                our_status(code_pb2.FAILED_PRECONDITION, "LEASE_LOST", "lease moved on")
            )
        if answer == UNAVAILABLE:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "try again")
        return pb.RenewLeaseResponse(task=_task(request.task_id, request.fencing_token, LEASE))

    async def _write(self, name: str, request: Any, context: Any, status: int) -> pb.Task:
        self.writes.append((name, request))
        if self.write_answer == LOST:
            await context.abort_with_status(
                our_status(code_pb2.FAILED_PRECONDITION, "LEASE_LOST", "lease moved on")
            )
        return _task(request.task_id, 7, LEASE, status)

    async def SetVariables(self, request: Any, context: Any) -> pb.SetVariablesResponse:
        task = await self._write("set", request, context, pb.TASK_STATUS_WORKING)
        return pb.SetVariablesResponse(task=task)

    async def CompleteTask(self, request: Any, context: Any) -> pb.CompleteTaskResponse:
        task = await self._write("complete", request, context, request.status)
        return pb.CompleteTaskResponse(task=task)

    def wait_renewals_sync(self, count: int) -> None:
        with self.renewed_sync:
            assert self.renewed_sync.wait_for(lambda: len(self.renewals) >= count, 10)

    async def wait_renewals(self, count: int) -> None:
        async with self.renewed:
            await asyncio.wait_for(self.renewed.wait_for(lambda: len(self.renewals) >= count), 10)


@pytest.fixture
async def fake() -> AsyncIterator[tuple[FakeService, str]]:
    service = FakeService()
    async with serving(service) as address:
        yield service, address


@pytest.fixture
async def worker(fake: tuple[FakeService, str]) -> AsyncIterator[Worker]:
    async with AsyncTaskClient(fake[1], timeout=10) as client:
        yield Worker(client, "w", lease=LEASE)


async def test_claim_next_none_when_nothing(fake: tuple[FakeService, str], worker: Worker) -> None:
    fake[0].claimable = False
    async with worker.claim_next(request_method="m", wait=0.5) as ctx:
        assert ctx is None
    req = fake[0].claims[0]
    assert (req.worker_id, req.request_method, req.wait_timeout.nanos) == ("w", "m", 500_000_000)


async def test_writes_carry_token_and_heartbeat_renews(
    fake: tuple[FakeService, str], worker: Worker
) -> None:
    service, _ = fake
    async with worker.claim_next() as ctx:
        assert ctx is not None and ctx.fencing_token == 7
        assert ctx.task.lease is not None and ctx.task.lease.worker_id == "w"
        await ctx.set("n", 1)
        await service.wait_renewals(2)
        await ctx.complete({"ok": True})
    assert ctx.task.status is TaskStatus.COMPLETED
    assert [(name, req.fencing_token) for name, req in service.writes] == [
        ("set", 7),
        ("complete", 7),
    ]
    assert set(service.renewals) == {7}
    assert not ctx.lease_lost.is_set() and ctx.lost is None
    assert service.claims[0].lease_duration.ToNanoseconds() == int(LEASE * 1e9)


async def test_lease_lost_on_renewal_cancels_the_body(
    fake: tuple[FakeService, str], worker: Worker
) -> None:
    fake[0].renew_script = [LOST]
    reached_end = False
    with pytest.raises(LeaseLostError) as caught:
        async with worker.claim("t9") as ctx:
            await asyncio.Event().wait()  # work that never ends by itself
            reached_end = True
    assert not reached_end
    assert ctx.lease_lost.is_set() and ctx.lost is caught.value
    assert caught.value.reason == "LEASE_LOST"
    assert fake[0].writes == []  # a lost lease writes nothing on the way out
    assert asyncio.current_task().cancelling() == 0  # type: ignore[union-attr]


async def test_unavailable_until_the_local_deadline_loses_the_lease(
    fake: tuple[FakeService, str], worker: Worker
) -> None:
    fake[0].renew_script = [UNAVAILABLE] * 1000
    with pytest.raises(LeaseLostError, match="local deadline"):
        async with worker.claim_next() as ctx:
            assert ctx is not None
            await ctx.lease_lost.wait()
            await asyncio.Event().wait()
    assert len(fake[0].renewals) >= 1


async def test_unavailable_once_is_retried(fake: tuple[FakeService, str], worker: Worker) -> None:
    fake[0].renew_script = [UNAVAILABLE, OK, OK]
    async with worker.claim_next() as ctx:
        assert ctx is not None
        await fake[0].wait_renewals(3)
        assert not ctx.lease_lost.is_set()
        await ctx.complete()


async def test_fenced_write_refused_sets_lease_lost(
    fake: tuple[FakeService, str], worker: Worker
) -> None:
    fake[0].write_answer = LOST
    with pytest.raises(LeaseLostError):
        async with worker.claim_next() as ctx:
            assert ctx is not None
            await ctx.set("n", 1)
    assert ctx is not None and ctx.lease_lost.is_set()
    assert [name for name, _ in fake[0].writes] == ["set"]  # no fail() after the loss


async def test_body_error_fails_the_task_fenced(
    fake: tuple[FakeService, str], worker: Worker
) -> None:
    with pytest.raises(RuntimeError, match="boom"):
        async with worker.claim_next() as ctx:
            assert ctx is not None
            raise RuntimeError("boom")
    ((name, req),) = fake[0].writes
    assert name == "complete" and req.status == pb.TASK_STATUS_FAILED and req.fencing_token == 7


async def test_cancelled_body_leaves_the_task_to_its_policy(
    fake: tuple[FakeService, str], worker: Worker
) -> None:
    entered = asyncio.Event()

    async def work() -> None:
        async with worker.claim_next() as ctx:
            assert ctx is not None
            entered.set()
            await asyncio.Event().wait()

    job = asyncio.create_task(work())
    await entered.wait()
    job.cancel()
    with pytest.raises(asyncio.CancelledError):
        await job
    assert fake[0].writes == []


async def test_claim_held_by_another(fake: tuple[FakeService, str], worker: Worker) -> None:
    fake[0].held = True
    with pytest.raises(LeaseHeldError):
        async with worker.claim("t1"):
            pass


async def test_sync_claim_renew(fake: tuple[FakeService, str]) -> None:
    service, address = fake

    def run() -> tuple[Any, Any, Any]:
        with TaskClient(address, timeout=10) as client:
            task = client.claim(worker_id="w", lease=5, request_method="m")
            renewed = client.renew_lease("t1", 7, status_message="half")
            service.claimable = False
            nothing = client.claim(worker_id="w")
            return task, renewed, nothing

    task, renewed, nothing = await asyncio.to_thread(run)
    assert task.lease.fencing_token == 7 and task.lease.duration.total_seconds() == 5
    assert renewed.lease.fencing_token == 7 and nothing is None


async def test_sync_worker_heartbeats_and_fences(fake: tuple[FakeService, str]) -> None:
    service, address = fake

    def run() -> None:
        with TaskClient(address, timeout=10) as client:
            worker = SyncWorker(client, "w", lease=LEASE)
            with worker.claim_next() as ctx:
                assert ctx is not None and ctx.fencing_token == 7
                ctx.set("n", 1)
                service.wait_renewals_sync(2)
                ctx.complete({"ok": True})
            assert not ctx.lease_lost.is_set()

    await asyncio.to_thread(run)
    assert [(name, req.fencing_token) for name, req in service.writes] == [
        ("set", 7),
        ("complete", 7),
    ]


async def test_sync_worker_loss_sets_the_event_and_refuses_writes(
    fake: tuple[FakeService, str],
) -> None:
    service, address = fake
    service.renew_script = [LOST]

    def run() -> None:
        with TaskClient(address, timeout=10) as client:
            worker = SyncWorker(client, "w", lease=LEASE)
            with pytest.raises(LeaseLostError), worker.claim("t1") as ctx:
                assert ctx.lease_lost.wait(10)
                with pytest.raises(LeaseLostError):
                    ctx.set("late", True)  # refused locally, never sent
            assert ctx.lost is not None and ctx.lost.reason == "LEASE_LOST"

    await asyncio.to_thread(run)
    assert service.writes == []


async def test_sync_worker_error_fails_fenced(fake: tuple[FakeService, str]) -> None:
    service, address = fake

    def run() -> None:
        with TaskClient(address, timeout=10) as client:
            worker = SyncWorker(client, "w", lease=LEASE)
            with pytest.raises(RuntimeError), worker.claim_next() as ctx:
                assert ctx is not None
                raise RuntimeError("boom")

    await asyncio.to_thread(run)
    ((name, req),) = service.writes
    assert name == "complete" and req.status == pb.TASK_STATUS_FAILED and req.fencing_token == 7
