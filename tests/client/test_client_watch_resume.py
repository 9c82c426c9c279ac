"""Watch survives the server going away: killed or drained, then back on the same port."""

from __future__ import annotations

import asyncio
import queue
import signal
import threading
from typing import Any

import pytest
from _harness import ServerProcess
from taskstate_client import AsyncTaskClient, RetryPolicy, Task, TaskClient, TaskStatus

# Patient enough to span a restart plus grpc's own reconnect backoff.
PATIENT = RetryPolicy(max_attempts=200, initial_backoff=0.05, max_backoff=0.25)


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["kill", "term"])
def test_sync_watch_resumes_across_a_restart(server_factory: Any, sig: int) -> None:
    server: ServerProcess = server_factory("sqlite")  # durable: tasks survive the restart
    token = server.token("alice")
    seen: queue.Queue[Task | BaseException | None] = queue.Queue()
    with TaskClient(server.address, token=token, watch_retry=PATIENT) as watcher:
        with TaskClient(server.address, token=token) as writer:
            task = writer.create()

            def watch() -> None:
                try:
                    for t in watcher.watch(task.task_id):
                        seen.put(t)
                except BaseException as exc:
                    seen.put(exc)
                seen.put(None)

            thread = threading.Thread(target=watch, daemon=True)
            thread.start()
            assert _version(seen.get(timeout=30)) == 1
            writer.set_variables(task.task_id, {"step": 2})
            assert _version(seen.get(timeout=30)) == 2

        server.restart(sig=sig)  # same port; the watcher is mid-stream

        with TaskClient.connect(server.address, token=token) as writer:
            writer.set_variables(task.task_id, {"step": 3})
            writer.complete(task.task_id, "finished")
        versions = [1, 2]
        while (item := seen.get(timeout=60)) is not None:
            versions.append(_version(item))
            last = item
        thread.join(30)
    assert versions == sorted(set(versions))  # at most once each, increasing
    assert versions[-1] == 4
    assert isinstance(last, Task) and last.status is TaskStatus.COMPLETED


async def test_async_watch_resumes_across_a_restart(server_factory: Any) -> None:
    server: ServerProcess = server_factory("sqlite")
    token = server.token("alice")
    async with AsyncTaskClient(server.address, token=token, watch_retry=PATIENT) as client:
        task = await client.create()
        versions: list[int] = []
        got = asyncio.Queue[int]()

        async def watch() -> None:
            async for t in client.watch(task.task_id):
                versions.append(t.version)
                await got.put(t.version)

        watcher = asyncio.create_task(watch())
        assert await asyncio.wait_for(got.get(), 30) == 1
        await asyncio.to_thread(server.restart, sig=signal.SIGKILL)
        with TaskClient.connect(server.address, token=token) as writer:
            writer.set_variables(task.task_id, {"a": 1})
            writer.cancel(task.task_id)
        await asyncio.wait_for(watcher, 60)
    assert versions == sorted(set(versions)) and versions[0] == 1 and versions[-1] == 3


def _version(item: Task | BaseException | None) -> int:
    if not isinstance(item, Task):
        raise AssertionError(f"watcher ended early: {item!r}")
    return item.version
