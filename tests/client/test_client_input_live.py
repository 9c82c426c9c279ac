"""Input requests, cancel requests and subjects through the Python client, on a real server.

The handler side (TaskContext.ask, wait_cancel_requested, a leased context) runs as one
asyncio task or thread while a second client plays the requester; the requester waits
for the handler's write with WaitTask, so nothing here sleeps to synchronise.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from _harness import ServerProcess
from taskstate_client import (
    JSON,
    AsyncTaskClient,
    CancelRequestedError,
    LeasePolicy,
    SyncTaskContext,
    SyncWorker,
    TaskClient,
    TaskContext,
    TaskNotFoundError,
    TaskStatus,
    TaskTerminalError,
    Worker,
)

ASKED = [TaskStatus.INPUT_REQUIRED]


@pytest.fixture
async def requester(live_server: ServerProcess, token: str) -> AsyncIterator[AsyncTaskClient]:
    """A second client of the same owner: the requester, on its own channel."""
    async with AsyncTaskClient(live_server.address, token=token, timeout=30) as c:
        yield c


async def test_ask_returns_the_answers_a_second_client_provides(
    aclient: AsyncTaskClient, requester: AsyncTaskClient
) -> None:
    ctx = await TaskContext.create(aclient, ttl=600)
    questions = {"file": {"message": "Which file?"}, "mode": ["fast", "slow"]}
    asking = asyncio.create_task(ctx.ask(questions, message="two"))
    parked = await requester.wait(ctx.task_id, 30, statuses=ASKED)
    assert parked.status is TaskStatus.INPUT_REQUIRED and parked.status_message == "two"
    assert parked.outstanding_input == {
        "file": {"message": "Which file?"},
        "mode": ["fast", "slow"],
    }

    first = await requester.provide_input(ctx.task_id, {"file": "a.txt", "other": 1})
    assert first.accepted_keys == ["file"]
    assert first.task.status is TaskStatus.INPUT_REQUIRED
    assert first.task.outstanding_input == {"mode": ["fast", "slow"]}
    last = await requester.provide_input(ctx.task_id, {"mode": "fast", "file": "b.txt"})
    assert last.accepted_keys == ["mode"] and last.task.status is TaskStatus.WORKING

    answers = await asyncio.wait_for(asking, 30)
    assert answers == {"file": "a.txt", "mode": "fast"}
    assert ctx.task.status is TaskStatus.WORKING and ctx.task.version >= last.task.version
    version = ctx.task.version
    again = await ctx.ask({"file": {"message": "Which file?"}})  # a restarted handler re-asks
    assert again == {"file": "a.txt"} and ctx.task.version == version  # nothing written
    done = await ctx.complete(answers)
    assert done.status is TaskStatus.COMPLETED and done.input_responses == answers


async def test_sync_ask_blocks_until_answered(
    live_server: ServerProcess, token: str, requester: AsyncTaskClient
) -> None:
    with TaskClient(live_server.address, token=token, timeout=30) as client:
        ctx = SyncTaskContext.create(client, ttl=600)
        asking = asyncio.create_task(asyncio.to_thread(ctx.ask, {"ok": "Proceed?"}))
        await requester.wait(ctx.task_id, 30, statuses=ASKED)
        await requester.provide_input(ctx.task_id, {"ok": True})
        assert await asyncio.wait_for(asking, 30) == {"ok": True}
        assert ctx.task.status is TaskStatus.WORKING


async def test_a_cancel_request_ends_ask_and_the_block_cancels_the_task(
    aclient: AsyncTaskClient, requester: AsyncTaskClient
) -> None:
    ctx = await TaskContext.create(aclient, ttl=600)

    async def handler() -> None:
        async with ctx:
            await ctx.ask({"q": "?"})

    running = asyncio.create_task(handler())
    await requester.wait(ctx.task_id, 30, statuses=ASKED)
    flagged = await requester.request_cancel(ctx.task_id)
    assert flagged.cancel_requested and flagged.status is TaskStatus.INPUT_REQUIRED
    with pytest.raises(CancelRequestedError):
        await asyncio.wait_for(running, 30)
    final = await requester.get(ctx.task_id)
    assert final.status is TaskStatus.CANCELLED and final.status_message == "cancelled on request"
    assert ctx.cancel_requested


async def test_ask_on_a_task_that_ends_raises(
    aclient: AsyncTaskClient, requester: AsyncTaskClient
) -> None:
    ctx = await TaskContext.create(aclient, ttl=600)
    asking = asyncio.create_task(ctx.ask({"q": "?"}))
    await requester.wait(ctx.task_id, 30, statuses=ASKED)
    await requester.cancel(ctx.task_id, "never mind")
    with pytest.raises(TaskTerminalError):
        await asyncio.wait_for(asking, 30)


async def test_wait_cancel_requested_sees_the_flag(
    aclient: AsyncTaskClient, requester: AsyncTaskClient
) -> None:
    ctx = await TaskContext.create(aclient, ttl=600)
    assert not ctx.cancel_requested
    watching = asyncio.create_task(ctx.wait_cancel_requested())
    await ctx.set("progress", 0.5)  # the work goes on meanwhile
    assert not (await requester.get(ctx.task_id)).cancel_requested
    await requester.request_cancel(ctx.task_id)
    seen = await asyncio.wait_for(watching, 30)
    assert seen.cancel_requested and seen.status is TaskStatus.WORKING
    assert ctx.cancel_requested
    again = await requester.request_cancel(ctx.task_id)
    assert again.version == seen.version  # idempotent
    stopped = await ctx.cancel("stopped on request")
    assert stopped.status is TaskStatus.CANCELLED and stopped.cancel_requested


async def test_a_leased_ask_takes_the_lease_back(
    aclient: AsyncTaskClient, requester: AsyncTaskClient
) -> None:
    created = await aclient.create(ttl=600, lease_policy=LeasePolicy.FAIL)
    worker = Worker(aclient, "asker", lease=30)
    async with worker.claim(created.task_id) as ctx:
        assert ctx.fencing_token == 1
        asking = asyncio.create_task(ctx.ask({"q": "?"}))
        parked = await requester.wait(ctx.task_id, 30, statuses=ASKED)
        assert parked.lease is None  # input_required ended the lease
        await requester.provide_input(ctx.task_id, {"q": "yes"})
        assert await asyncio.wait_for(asking, 30) == {"q": "yes"}
        assert ctx.task.lease is not None and ctx.task.lease.worker_id == "asker"
        assert ctx.fencing_token == 2
        done = await ctx.complete("ok")  # fenced with the new token
    assert done.status is TaskStatus.COMPLETED


async def test_subject_views_see_only_their_tasks(aclient: AsyncTaskClient) -> None:
    ann, ben = aclient.with_subject("ann"), aclient.with_subject("ben")
    mine = await ann.create(ttl=600)
    theirs = await ben.create(ttl=600)
    assert (mine.subject, theirs.subject) == ("ann", "ben")
    with pytest.raises(TaskNotFoundError):
        await ann.get(theirs.task_id)
    with pytest.raises(TaskNotFoundError):
        await ann.request_cancel(theirs.task_id)
    assert [t.task_id async for t in ann.iter_tasks()] == [mine.task_id]
    every = {t.task_id async for t in aclient.iter_tasks()}
    assert {mine.task_id, theirs.task_id} <= every
    assert (await aclient.get(theirs.task_id)).subject == "ben"


async def test_a_leased_block_cancels_on_a_cancel_request_during_ask(
    aclient: AsyncTaskClient, requester: AsyncTaskClient
) -> None:
    created = await aclient.create(ttl=600, lease_policy=LeasePolicy.RELEASE)

    async def handler() -> None:
        async with Worker(aclient, "asker", lease=30).claim(created.task_id) as ctx:
            await ctx.ask({"q": "?"})

    running = asyncio.create_task(handler())
    await requester.wait(created.task_id, 30, statuses=ASKED)
    await requester.request_cancel(created.task_id)
    with pytest.raises(CancelRequestedError):
        await asyncio.wait_for(running, 30)
    final = await requester.get(created.task_id)
    assert final.status is TaskStatus.CANCELLED and final.status_message == "cancelled on request"


async def test_a_sync_leased_ask_takes_the_lease_back(
    live_server: ServerProcess, token: str, requester: AsyncTaskClient
) -> None:
    created = await requester.create(ttl=600, lease_policy=LeasePolicy.FAIL)

    def handler() -> tuple[dict[str, JSON], int | None, TaskStatus]:
        with (
            TaskClient(live_server.address, token=token, timeout=30) as client,
            SyncWorker(client, "sync-asker", lease=30).claim(created.task_id) as ctx,
        ):
            answers = ctx.ask({"q": "?"})
            token_after = ctx.fencing_token
            return answers, token_after, ctx.complete("ok").status

    running = asyncio.create_task(asyncio.to_thread(handler))
    await requester.wait(created.task_id, 30, statuses=ASKED)
    await requester.provide_input(created.task_id, {"q": 42})
    answers, token_after, status = await asyncio.wait_for(running, 30)
    assert answers == {"q": 42} and token_after == 2 and status is TaskStatus.COMPLETED
