"""Fan-out of the backend's change feed to watchers, with per-watcher coalescing.

Each watcher keeps at most ONE pending version per task (the newest), so a slow
reader costs bounded memory and never blocks the feed or other watchers. The
newest version of a task always survives coalescing, and a task's terminal
version is its last, so the terminal version is never lost; a deletion is kept
beside the pending version rather than replacing it.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol, Self

from ..backends.base import Change
from . import records
from .errors import BackendUnavailable
from .model import Task, TaskStatus
from .scope import Subject, visible


class FeedKind(enum.Enum):
    """What one message of an owner watch (WatchTasks) reports."""

    WRITE = "write"
    """A committed version: `task` is set."""
    DELETED = "deleted"
    EXPIRED = "expired"
    PROGRESS = "progress"
    """Nothing happened that the watch shows: only a newer cursor."""


@dataclass(frozen=True, slots=True)
class FeedMessage:
    """One message of an owner watch."""

    kind: FeedKind
    cursor: str
    """Where a watch resumes to continue right after this message ("" without an event log)."""
    task_id: str = ""
    version: int = 0
    """WRITE: the task's version; DELETED/EXPIRED: its last version (0 when unknown)."""
    task: Task | None = None


class FeedListener(Protocol):
    """An owner's event-log tail (domain/feed.py): gets the owner's changes and resyncs."""

    def on_change(self, change: Change) -> None: ...

    def on_resync(self) -> None: ...


@dataclass(frozen=True, slots=True)
class TaskUpdate:
    """What a task watcher learns: a newer version, the task's end, or a feed gap."""

    task: Task | None = None
    deleted: bool = False
    resync: bool = False


class TaskWatcher:
    """Watches one task of one owner."""

    def __init__(self, clock: Callable[[], int]) -> None:
        self._clock = clock
        self._pending: Task | None = None
        self._deleted = False
        self._resync = False
        self._wake = asyncio.Event()

    def push(self, task: Task | None) -> None:
        if task is None:
            self._deleted = True
        elif self._pending is None or task.version > self._pending.version:
            self._pending = task
        self._wake.set()

    def resync(self) -> None:
        self._resync = True
        self._wake.set()

    def _take(self) -> TaskUpdate | None:
        if self._pending is not None:
            task, self._pending = self._pending, None
            return TaskUpdate(task=task)
        if self._deleted:
            return TaskUpdate(deleted=True)
        if self._resync:
            self._resync = False
            return TaskUpdate(resync=True)
        return None

    async def next(self, timeout_s: float | None, expire_at_ms: int | None) -> TaskUpdate | None:
        """The next update; `deleted` once `expire_at_ms` passes; None after `timeout_s`."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout_s is None else loop.time() + timeout_s
        while True:
            update = self._take()
            if update is not None:
                return update
            waits = []
            if deadline is not None:
                waits.append(deadline - loop.time())
            if expire_at_ms is not None:
                until_expiry = (expire_at_ms - self._clock()) / 1000
                if until_expiry <= 0:
                    return TaskUpdate(deleted=True)
                waits.append(until_expiry)
            wait = min(waits) if waits else None
            if wait is not None and wait <= 0:
                return None
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), wait)
            except TimeoutError:
                if deadline is not None and loop.time() >= deadline:
                    return None


class OwnerWatcher:
    """Watches every task of one owner; pending versions coalesce per task."""

    def __init__(self) -> None:
        self._pending: dict[str, Task] = {}
        self._broken = False
        self._wake = asyncio.Event()

    def push(self, task: Task) -> None:
        prev = self._pending.get(task.task_id)
        if prev is None or task.version > prev.version:
            self._pending[task.task_id] = task
        self._wake.set()

    def resync(self) -> None:
        self._broken = True
        self._wake.set()

    async def next(self) -> Task:
        while True:
            if self._pending:
                task_id = next(iter(self._pending))
                return self._pending.pop(task_id)
            if self._broken:
                # Changes may have been missed: the client must reopen and re-list.
                raise BackendUnavailable("the change feed was interrupted; reopen the watch")
            self._wake.clear()
            await self._wake.wait()


class ChangeHub:
    """Routes each committed change to the watchers of its task and owner."""

    def __init__(self, clock: Callable[[], int]) -> None:
        self._clock = clock
        self._tasks: dict[tuple[str, str], set[TaskWatcher]] = {}
        self._owners: dict[str, set[OwnerWatcher]] = {}
        self._feeds: dict[str, FeedListener] = {}

    def on_change(self, change: Change) -> None:
        feed = self._feeds.get(change.owner)
        if feed is not None:
            feed.on_change(change)
        key = (change.owner, change.task_id)
        task_watchers = self._tasks.get(key)
        owner_watchers = self._owners.get(change.owner)
        if not task_watchers and not owner_watchers:
            return
        task = None if change.record is None else records.decode(change.record.data)
        for tw in task_watchers or ():
            tw.push(task)
        if task is not None:
            for ow in owner_watchers or ():
                ow.push(task)

    def on_resync(self) -> None:
        for feed in list(self._feeds.values()):
            feed.on_resync()
        for watchers in self._tasks.values():
            for tw in watchers:
                tw.resync()
        for owner_watchers in self._owners.values():
            for ow in owner_watchers:
                ow.resync()

    @contextmanager
    def task_watcher(self, owner: str, task_id: str) -> Iterator[TaskWatcher]:
        watcher = TaskWatcher(self._clock)
        key = (owner, task_id)
        self._tasks.setdefault(key, set()).add(watcher)
        try:
            yield watcher
        finally:
            watchers = self._tasks[key]
            watchers.discard(watcher)
            if not watchers:
                del self._tasks[key]

    def add_owner_watcher(self, owner: str) -> OwnerWatcher:
        watcher = OwnerWatcher()
        self._owners.setdefault(owner, set()).add(watcher)
        return watcher

    def remove_owner_watcher(self, owner: str, watcher: OwnerWatcher) -> None:
        watchers = self._owners.get(owner)
        if watchers is not None:
            watchers.discard(watcher)
            if not watchers:
                del self._owners[owner]

    def set_feed(self, owner: str, feed: FeedListener) -> None:
        """Routes `owner`'s changes to `feed` too (one per owner) until `clear_feed`."""
        self._feeds[owner] = feed

    def clear_feed(self, owner: str, feed: FeedListener) -> None:
        if self._feeds.get(owner) is feed:
            del self._feeds[owner]

    def close(self) -> None:
        self.on_resync()


class OwnerStream:
    """What TaskStore.watch_all returns: an async iterator of `FeedMessage`s to close when
    done (`close`, `aclose` or `async with`)."""

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> FeedMessage:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    async def aclose(self) -> None:
        self.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class OwnerWatch(OwnerStream):
    """An async iterator over one owner's writes, registered on construction: the owner
    watch of a store without an event log (no cursors, no removals; a feed gap ends it)."""

    def __init__(
        self,
        hub: ChangeHub,
        owner: str,
        statuses: frozenset[TaskStatus],
        subject: Subject = None,
    ) -> None:
        self._hub = hub
        self._owner = owner
        self._statuses = statuses
        self._subject = subject
        self._watcher = hub.add_owner_watcher(owner)

    async def __anext__(self) -> FeedMessage:
        while True:
            task = await self._watcher.next()
            if not visible(task, self._subject):
                continue
            if not self._statuses or task.status in self._statuses:
                return FeedMessage(FeedKind.WRITE, "", task.task_id, task.version, task)

    def close(self) -> None:
        self._hub.remove_owner_watcher(self._owner, self._watcher)
