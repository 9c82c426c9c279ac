"""A store that declares neither INDEXES nor EVENT_LOG (a minimal third-party store).

Every store of this repository declares both, so no live server can show this; the domain
must still refuse leases and resuming with UnsupportedByStore (UNIMPLEMENTED on the wire,
tests/unit/test_transport_errors.py) and serve everything else unchanged.
"""

from __future__ import annotations

import asyncio

import pytest
from taskstate_server.backends.base import Feature
from taskstate_server.backends.memory import MemoryBackend
from taskstate_server.domain.errors import UnsupportedByStore
from taskstate_server.domain.model import LeasePolicy, TaskStatus
from taskstate_server.domain.store import TaskStore


class PlainBackend(MemoryBackend):
    features = frozenset({Feature.SWEEPS})


@pytest.fixture
async def store():
    s = TaskStore(PlainBackend())
    yield s
    await s.close()


async def test_leases_are_refused(store: TaskStore):
    tid = (await store.create("alice", lease_policy=LeasePolicy.FAIL)).task_id
    with pytest.raises(UnsupportedByStore):
        await store.claim("alice", worker_id="w")
    with pytest.raises(UnsupportedByStore):
        await store.claim("alice", worker_id="w", task_id=tid)
    with pytest.raises(UnsupportedByStore):
        await store.renew("alice", tid, fencing_token=1)
    assert await store.expire_due_leases() == 0


async def test_resuming_and_all_events_are_refused(store: TaskStore):
    for kw in ({"resume_cursor": "c1_x"}, {"all_events": True}):
        with pytest.raises(UnsupportedByStore):
            await store.watch_all("alice", **kw)  # type: ignore[arg-type]


async def test_the_rest_works_without_cursors(store: TaskStore):
    async with await store.watch_all("alice") as stream:
        task = await store.create("alice")
        done = await store.complete("alice", task.task_id, status=TaskStatus.COMPLETED)
        page = await store.list("alice")
        assert page.resume_cursor == ""
        assert [t.task_id for t in page.tasks] == [task.task_id]
        # Pending versions of a task coalesce: read until the newest arrives.
        last = 0
        while last < done.version:
            message = await asyncio.wait_for(anext(stream), 10)
            assert message.task is not None and message.task.task_id == task.task_id
            last = message.task.version
