"""TaskStore.wait's timeout covers the whole call, its first read of the task included.

WaitTask turns the call's deadline into that timeout (minus a small margin). If the clock
started only after the first read, a store that answers slowly (DynamoDB under load) would
make the server answer as late as that read took, after the caller's deadline: the caller
got DEADLINE_EXCEEDED instead of the task (found as a flake of
tests/grpc/test_grpc_watch.py::test_wait_honours_call_deadline on DynamoDB Local).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from taskstate_server.backends.base import Backend, Record
from taskstate_server.backends.memory import MemoryBackend
from taskstate_server.domain.model import Task, TaskStatus
from taskstate_server.domain.store import TaskStore

OWNER = "alice"


class SlowFirstRead:
    """A backend whose next `get` takes `delay` seconds (injected latency), then runs
    `after` once the read is done; every other call goes straight to `inner`."""

    def __init__(self, inner: Backend) -> None:
        self.inner = inner
        self.delay: float | None = None
        self.after: Callable[[], None] = lambda: None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def get(self, owner: str, task_id: str, now_ms: int) -> Record | None:
        delay, self.delay = self.delay, None
        if delay is not None:
            await asyncio.sleep(delay)  # the injected latency, not a synchronisation
        rec = await self.inner.get(owner, task_id, now_ms)
        if delay is not None:
            self.after()
        return rec


async def test_a_slow_first_read_spends_the_wait_timeout() -> None:
    backend = SlowFirstRead(MemoryBackend())
    store = TaskStore(backend)  # type: ignore[arg-type]
    task = await store.create(OWNER)
    completing: list[asyncio.Task[Task]] = []

    def complete_right_after_the_read() -> None:
        # Lands at once (the memory backend never suspends): a wait with time left sees it.
        done = store.complete(OWNER, task.task_id, status=TaskStatus.COMPLETED)
        completing.append(asyncio.ensure_future(done))

    backend.delay = 0.3  # longer than the whole timeout below
    backend.after = complete_right_after_the_read
    got = await store.wait(OWNER, task.task_id, timeout_s=0.2)
    done = await completing[0]
    assert done.status is TaskStatus.COMPLETED
    assert got == task, "the timeout had passed during the read: answer with what was read"
    await store.close()
