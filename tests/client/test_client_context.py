"""TaskContext: the tool handler's view of its own task."""

from __future__ import annotations

import asyncio

import pytest
from taskstate_client import (
    AsyncTaskClient,
    SyncTaskContext,
    TaskClient,
    TaskContext,
    TaskError,
    TaskStatus,
)


async def test_handler_flow(aclient: AsyncTaskClient) -> None:
    ctx = await TaskContext.create(
        aclient, request_method="tools/call", ttl=600, variables={"count": 2, "name": "x"}
    )
    assert ctx.task.status is TaskStatus.WORKING and ctx.task_id == ctx.task.task_id
    assert ctx.get("count") == 2
    assert ctx.get("count", type=int) == 2
    assert ctx.get("count", type=float) == 2.0
    assert ctx.get("missing") is None
    assert ctx.get("missing", 7, type=int) == 7
    assert ctx.get("missing", type=str) is None
    with pytest.raises(TypeError, match="'name' is str, not int"):
        ctx.get("name", type=int)

    await ctx.set("progress", 0.5)
    assert ctx.get("progress", type=float) == 0.5 and ctx.task.version == 2
    await ctx.set_many({"a": 1}, b=[True], name=None)
    assert ctx.task.variables == {"count": 2, "progress": 0.5, "a": 1, "b": [True]}
    await ctx.update(lambda v: v.update(count=v["count"] + 1))
    assert ctx.get("count", type=int) == 3

    parked = await ctx.require_input("who are you?")
    assert parked.status is TaskStatus.INPUT_REQUIRED and ctx.task == parked
    await aclient.set_variables(ctx.task_id, {"answer": "bob"})  # the requester answers
    assert ctx.get("answer") is None  # snapshot until refreshed
    await ctx.refresh()
    assert ctx.get("answer", type=str) == "bob"
    resumed = await ctx.resume("thanks")
    assert resumed.status is TaskStatus.WORKING

    done = await ctx.complete({"hello": "bob"}, message="greeted")
    assert done.status is TaskStatus.COMPLETED and ctx.task == done
    assert done.result == {"hello": "bob"}


async def test_bool_is_not_an_int(aclient: AsyncTaskClient) -> None:
    ctx = await TaskContext.create(aclient, variables={"flag": True})
    assert ctx.get("flag", type=bool) is True
    with pytest.raises(TypeError):
        ctx.get("flag", type=int)


async def test_attach_fail_and_cancel(aclient: AsyncTaskClient) -> None:
    task = await aclient.create()
    ctx = await TaskContext.attach(aclient, task.task_id)
    failed = await ctx.fail("nope", code=12, data={"k": 1})
    assert failed.error == TaskError(12, "nope", {"k": 1})
    other = await TaskContext.create(aclient)
    assert (await other.cancel("stop")).status is TaskStatus.CANCELLED


async def test_exception_in_block_fails_the_task(aclient: AsyncTaskClient) -> None:
    ctx = await TaskContext.create(aclient)
    with pytest.raises(RuntimeError):
        async with ctx:
            raise RuntimeError("disk full")
    task = await aclient.get(ctx.task_id)
    assert task.status is TaskStatus.FAILED
    assert task.error == TaskError(-32000, "disk full", {"exception": "RuntimeError"})


async def test_cancellation_in_block_cancels_the_task(aclient: AsyncTaskClient) -> None:
    ctx = await TaskContext.create(aclient)
    entered = asyncio.Event()

    async def handler() -> None:
        async with ctx:
            entered.set()
            await asyncio.Event().wait()  # work that never finishes

    running = asyncio.create_task(handler())
    await entered.wait()
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    assert (await aclient.get(ctx.task_id)).status is TaskStatus.CANCELLED


async def test_finished_block_is_left_alone(aclient: AsyncTaskClient) -> None:
    async with await TaskContext.create(aclient) as ctx:
        await ctx.complete(1)
    with pytest.raises(ValueError):
        async with ctx:
            raise ValueError("after the fact")  # already terminal: nothing to record
    task = await aclient.get(ctx.task_id)
    assert task.status is TaskStatus.COMPLETED and task.version == 2


def test_sync_context(client: TaskClient) -> None:
    ctx = SyncTaskContext.create(client, request_method="tools/call", variables={"n": 1})
    ctx.set("n", 2)
    assert ctx.get("n", type=int) == 2
    ctx.update(lambda v: {**v, "n": v["n"] * 10})
    assert ctx.get("n", type=int) == 20
    ctx.require_input("more?")
    ctx.resume()
    assert ctx.complete("ok").result == "ok"

    failing = SyncTaskContext.attach(client, client.create().task_id)
    with pytest.raises(KeyError), failing:
        raise KeyError("k")
    assert client.get(failing.task_id).status is TaskStatus.FAILED
    assert SyncTaskContext.create(client).cancel().status is TaskStatus.CANCELLED
    assert SyncTaskContext.create(client).fail("x").status is TaskStatus.FAILED
