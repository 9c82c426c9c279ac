"""Watcher fan-out and coalescing (domain/watch.py), fed by hand."""

from __future__ import annotations

import asyncio

from taskstate_server.backends.base import Change, Record
from taskstate_server.domain import records
from taskstate_server.domain.model import Task, TaskStatus
from taskstate_server.domain.watch import ChangeHub

TID = "018f3c1e-7b2a-7c3d-8abc-0123456789ab"
OTHER = "018f3c1e-7b2a-7c3d-8abc-0123456789ac"


def version(v: int, status: TaskStatus = TaskStatus.WORKING, tid: str = TID) -> Change:
    task = Task(tid, "alice", status, v, 0, v)
    data = records.encode(task)
    return Change("alice", tid, Record("alice", tid, v, data, not status.terminal, None))


async def test_slow_task_watcher_gets_only_the_newest_version():
    hub = ChangeHub(lambda: 0)
    with hub.task_watcher("alice", TID) as w:
        for v in (2, 3, 5, 4):  # 4 arrives late: it must not replace 5
            hub.on_change(version(v))
        update = await w.next(1.0, None)
        assert update is not None and update.task is not None and update.task.version == 5
        assert await w.next(0, None) is None


async def test_terminal_version_then_deletion_are_both_delivered():
    hub = ChangeHub(lambda: 0)
    with hub.task_watcher("alice", TID) as w:
        hub.on_change(version(2, TaskStatus.COMPLETED))
        hub.on_change(Change("alice", TID, None))
        first = await w.next(1.0, None)
        assert first is not None and first.task is not None and first.task.version == 2
        second = await w.next(1.0, None)
        assert second is not None and second.deleted


async def test_expiry_by_the_clock_reads_as_deleted():
    now = [1000]
    hub = ChangeHub(lambda: now[0])
    with hub.task_watcher("alice", TID) as w:
        now[0] = 2000
        update = await w.next(None, 1500)
        assert update is not None and update.deleted


async def test_changes_reach_only_their_owner_and_task():
    hub = ChangeHub(lambda: 0)
    alice = hub.add_owner_watcher("alice")
    bob = hub.add_owner_watcher("bob")
    with hub.task_watcher("alice", OTHER) as other:
        hub.on_change(version(2))
        hub.on_change(version(3, tid=OTHER))
        hub.on_change(version(4))
        got = [await alice.next(), await alice.next()]
        # Per task only the newest pending version survives.
        assert sorted((t.task_id, t.version) for t in got) == [(TID, 4), (OTHER, 3)]
        update = await other.next(0, None)
        assert update is not None and update.task is not None and update.task.version == 3
        assert await other.next(0, None) is None
    blocked = asyncio.create_task(bob.next())
    await asyncio.sleep(0)
    assert not blocked.done()
    blocked.cancel()
    hub.remove_owner_watcher("alice", alice)
    hub.on_change(version(5))  # no watcher left for alice: nothing to deliver, no error
    hub.remove_owner_watcher("bob", bob)


async def test_resync_reaches_every_watcher():
    hub = ChangeHub(lambda: 0)
    with hub.task_watcher("alice", TID) as w:
        hub.on_resync()
        update = await w.next(1.0, None)
        assert update is not None and update.resync
