"""Leases through the Python client against a real server, on every store that can lease."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from _cli import run, run_json
from _harness import ServerProcess
from _stores import STORES
from taskstate_client import (
    AsyncTaskClient,
    LeaseHeldError,
    LeaseLostError,
    LeasePolicy,
    SyncWorker,
    TaskClient,
    TaskStatus,
    Worker,
)
from taskstate_server.backends import Feature


@pytest.fixture(autouse=True)
def leasing(store_name: str, live_server: ServerProcess) -> None:
    if not STORES[store_name].has(Feature.INDEXES):
        pytest.skip(f"{store_name} has no indexes: ClaimTask is UNIMPLEMENTED there")


async def test_claim_next_works_and_finishes(aclient: AsyncTaskClient) -> None:
    created = await aclient.create(request_method="job", lease_policy="release", max_attempts=2)
    assert (created.lease_policy, created.max_attempts, created.attempt) == (
        LeasePolicy.RELEASE,
        2,
        1,
    )
    worker = Worker(aclient, "w1", lease=30)
    async with worker.claim_next(request_method="job") as ctx:
        assert ctx is not None and ctx.task_id == created.task_id
        lease = ctx.task.lease
        assert lease is not None and lease.worker_id == "w1" and ctx.fencing_token == 1
        assert lease.duration.total_seconds() == 30
        await ctx.set("step", 1)
        await ctx.complete({"ok": True})
    done = await aclient.get(created.task_id)
    assert done.status is TaskStatus.COMPLETED and done.lease is None
    assert done.variables == {"step": 1} and done.result == {"ok": True}


async def test_nothing_to_claim(aclient: AsyncTaskClient) -> None:
    await aclient.create(request_method="other", lease_policy="fail")
    await aclient.create(request_method="job")  # no policy: never offered
    async with Worker(aclient, "w1").claim_next(request_method="job") as ctx:
        assert ctx is None


async def test_heartbeat_renews(aclient: AsyncTaskClient) -> None:
    created = await aclient.create(lease_policy="fail")
    # 3 s: the renewal (at 1 s) has 2 s to land; DynamoDB Local may take ~0.5 s per write.
    async with Worker(aclient, "w1", lease=3).claim(created.task_id) as ctx:
        claimed = ctx.task
        assert claimed.lease is not None
        async with contextlib.aclosing(aclient.watch(created.task_id, claimed.version)) as seen:
            renewed = await anext(seen)  # the renewal is a write, with the same token
        assert renewed.lease is not None and renewed.lease.fencing_token == ctx.fencing_token
        assert renewed.lease.expire_time > claimed.lease.expire_time
        await ctx.complete()


async def test_requester_cancel_ends_the_lease_and_the_block(aclient: AsyncTaskClient) -> None:
    created = await aclient.create(lease_policy="fail")
    reached_end = False
    with pytest.raises(LeaseLostError):
        async with Worker(aclient, "w1", lease=0.9).claim(created.task_id) as ctx:
            await aclient.cancel(created.task_id, "no longer needed")
            await asyncio.wait_for(asyncio.Event().wait(), 30)  # cancelled by the loss
            reached_end = True
    assert not reached_end and ctx.lease_lost.is_set()
    assert (await aclient.get(created.task_id)).status is TaskStatus.CANCELLED


async def test_held_and_stale_tokens(aclient: AsyncTaskClient) -> None:
    created = await aclient.create(lease_policy="fail")
    first = await aclient.claim(created.task_id, worker_id="w1", lease=30)
    assert first is not None and first.lease is not None
    with pytest.raises(LeaseHeldError) as held:
        await aclient.claim(created.task_id, worker_id="w2")
    assert held.value.lease_expire_time
    renewed = await aclient.renew_lease(
        created.task_id, first.lease.fencing_token, lease=20, status_message="half way"
    )
    assert renewed.status_message == "half way" and renewed.lease is not None
    assert renewed.lease.duration.total_seconds() == 20
    with pytest.raises(LeaseLostError) as lost:
        await aclient.set_variables(
            created.task_id, {"x": 1}, fencing_token=first.lease.fencing_token + 1
        )
    assert lost.value.current_fencing_token == first.lease.fencing_token
    await aclient.complete(created.task_id, fencing_token=first.lease.fencing_token)


def test_sync_worker(client: TaskClient) -> None:
    created = client.create(request_method="job", lease_policy="fail")
    with SyncWorker(client, "w1", lease=30).claim_next(request_method="job") as ctx:
        assert ctx is not None and ctx.task_id == created.task_id
        ctx.set("step", 1)
        ctx.complete("done")
    assert client.get(created.task_id).status is TaskStatus.COMPLETED
    with SyncWorker(client, "w1").claim_next() as none:
        assert none is None


def test_cli_claim_and_renew(
    cli_env: ServerProcess, client: TaskClient, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, _ = run(capsys, "claim", "--method", "job")
    assert code == 3  # nothing to claim
    created = client.create(request_method="job", lease_policy="fail")
    task = run_json(capsys, "claim", "--method", "job", "--worker-id", "cli", "--lease", "1m")
    assert task["task_id"] == created.task_id and task["lease"]["worker_id"] == "cli"
    token = str(task["lease"]["fencing_token"])
    renewed = run_json(capsys, "renew", created.task_id, token, "--message", "half way")
    assert renewed["status_message"] == "half way" and renewed["lease"]["duration"] == "60s"
