"""The asyncio client against a real server."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from typing import Any

import pytest
import taskstate_client as tc
from _harness import ServerProcess
from taskstate_client import AsyncTaskClient, TaskStatus


async def test_round_trip(aclient: AsyncTaskClient) -> None:
    task = await aclient.create(
        request_method="tools/call", ttl=timedelta(minutes=2), variables={"n": 1, "xs": [1.5]}
    )
    assert task.status is TaskStatus.WORKING and task.version == 1
    assert task.ttl == timedelta(minutes=2)
    assert await aclient.get(task.task_id) == task
    task = await aclient.set_variables(task.task_id, {"n": None, "m": {"deep": True}})
    assert task.variables == {"xs": [1.5], "m": {"deep": True}}
    task = await aclient.update_status(task.task_id, "input_required", "?")
    task = await aclient.put_if_version(task.task_id, task.version, status="working")
    assert task.status is TaskStatus.WORKING and task.version == 4
    task = await aclient.complete(task.task_id, [1, 2, 3])
    assert task.result == [1, 2, 3] and task.terminal
    assert (await aclient.wait(task.task_id, timeout=5)).version == task.version
    page = await aclient.list()
    assert [t.task_id for t in page.tasks] == [task.task_id]
    assert [t.task_id async for t in aclient.iter_tasks(page_size=1)] == [task.task_id]
    failed = await aclient.fail((await aclient.create()).task_id, "no", code=3)
    assert failed.error == tc.TaskError(3, "no", None)
    cancelled = await aclient.cancel((await aclient.create()).task_id, "bye")
    assert cancelled.status is TaskStatus.CANCELLED
    await aclient.delete(task.task_id)
    with pytest.raises(tc.TaskNotFoundError):
        await aclient.get(task.task_id)


async def test_typed_errors(aclient: AsyncTaskClient, live_server: ServerProcess) -> None:
    task = await aclient.create()
    with pytest.raises(tc.VersionMismatchError) as mismatch:
        await aclient.put_if_version(task.task_id, 9, status_message="x")
    assert (mismatch.value.expected_version, mismatch.value.actual_version) == (9, 1)
    with pytest.raises(tc.InvalidTransitionError):
        await aclient.update_status(task.task_id, "working")
    await aclient.cancel(task.task_id)
    with pytest.raises(tc.TaskTerminalError):
        await aclient.complete(task.task_id)
    with pytest.raises(tc.InvalidArgumentError) as invalid:
        await aclient.create(ttl=-1)
    assert invalid.value.field_violations
    async with AsyncTaskClient(live_server.address, token="wrong") as bad:
        with pytest.raises(tc.UnauthenticatedError):
            await bad.list()


async def test_connect(live_server: ServerProcess, token: str) -> None:
    client = await AsyncTaskClient.connect(live_server.address, token=token, timeout=10)
    async with client:
        assert (await client.create()).version == 1


async def test_update_with_an_async_function(aclient: AsyncTaskClient) -> None:
    task = await aclient.create(variables={"n": 0})

    async def bump(variables: dict[str, Any]) -> dict[str, Any]:
        await asyncio.sleep(0)
        return {**variables, "n": variables["n"] + 1}

    results = await asyncio.gather(*(aclient.update(task.task_id, bump) for _ in range(10)))
    assert max(t.variables["n"] for t in results) == 10
    assert (await aclient.get(task.task_id)).variables == {"n": 10}


async def test_watch_sees_versions_in_order_to_the_end(aclient: AsyncTaskClient) -> None:
    task = await aclient.create()
    first_seen = asyncio.Event()
    versions: list[int] = []

    async def watch() -> None:
        async for t in aclient.watch(task.task_id):
            versions.append(t.version)
            first_seen.set()

    watcher = asyncio.create_task(watch())
    await asyncio.wait_for(first_seen.wait(), 30)
    for i in range(3):
        await aclient.set_variables(task.task_id, {"i": i})
    await aclient.fail(task.task_id, "over")
    await asyncio.wait_for(watcher, 30)
    assert versions[0] == 1 and versions[-1] == 5
    assert versions == sorted(set(versions))


async def test_watch_after_version_and_deletion(aclient: AsyncTaskClient) -> None:
    task = await aclient.create()
    await aclient.set_variables(task.task_id, {"a": 1})
    watcher = aclient.watch(task.task_id, after_version=1)
    async with contextlib.aclosing(watcher):
        assert (await anext(watcher)).version == 2
        await aclient.delete(task.task_id)
        with pytest.raises(tc.TaskNotFoundError):
            await anext(watcher)


async def test_watch_all_then_list(aclient: AsyncTaskClient) -> None:
    existing = await aclient.create()
    async with aclient.watch_all() as stream:
        latest = {t.task_id: t.version async for t in aclient.iter_tasks()}
        created = await aclient.create()
        await aclient.complete(existing.task_id)
        events = aiter(stream)
        for _ in range(2):
            t = await asyncio.wait_for(anext(events), 30)
            latest[t.task_id] = max(latest.get(t.task_id, 0), t.version)
    assert latest == {existing.task_id: 2, created.task_id: 1}


async def test_watch_all_refused_without_credentials(live_server: ServerProcess) -> None:
    async with AsyncTaskClient(live_server.address, token="wrong") as bad:
        with pytest.raises(tc.UnauthenticatedError):
            async with bad.watch_all():
                pass


async def test_wait_for_input_required(aclient: AsyncTaskClient) -> None:
    task = await aclient.create()
    waiter = asyncio.create_task(aclient.wait(task.task_id, 30, statuses="input_required"))
    await aclient.update_status(task.task_id, "input_required", "name?")
    assert (await asyncio.wait_for(waiter, 30)).status is TaskStatus.INPUT_REQUIRED
