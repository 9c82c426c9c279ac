"""How the DynamoDB store commits a task write together with its event-log entry.

Kept apart from the backend so that each write method says only what it writes; this
module holds the one transaction loop they share (compare-and-swap, delete, the sweeper's
removal): the task write first, the items kept in step with it, then the log item's update
and the entry (`events`). Creates run their own loop (the active-set quota decides more
there) with the same pieces.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from ..base import DatabaseUnavailable, Event, EventKind
from .events import Call, EventLog, make_event
from .items import Cancelled, ConditionFailed, Item, Items

ATTEMPTS: Final = 100
"""Transactions per write: each lost to another replica's write of the owner learns the
log's seq and goes again; only a hot owner on many replicas needs more than a few."""


@dataclass(frozen=True, slots=True)
class Entry:
    """What a write appends to its owner's log."""

    owner: str
    kind: EventKind
    task_id: str
    version: int
    time_ms: int


def fixed(item: Item) -> Callable[[int], Item]:
    """A task write that does not depend on the entry's position (a delete)."""
    return lambda _seq: item


async def backoff(attempt: int) -> None:
    await asyncio.sleep(random.uniform(0, min(0.2, 0.005 * 2 ** min(attempt, 6))))


class Committer:
    """Runs write transactions through `call`, appending to `log`."""

    def __init__(self, call: Call, log: EventLog) -> None:
        self._call = call
        self._log = log

    def log_refuted(self, exc: Cancelled, log_at: int, owner: str) -> bool:
        """Whether the log item's condition failed (another write of the owner took the
        seq); if so its stored seq is remembered for the next attempt."""
        if not exc.failed(log_at):
            return False
        self._log.refuted(owner, exc.item(log_at))
        return True

    async def send(self, owner: str, items: Items) -> None:
        """One TransactWriteItems; when its outcome is unknown, the owner's seq is read
        again before the next write."""
        try:
            await self._call("transact_write_items", TransactItems=items)
        except DatabaseUnavailable:
            self._log.forget(owner)
            raise

    async def commit(self, task_write: Callable[[int], Item], extra: Items, entry: Entry) -> Event:
        """One transaction: `task_write(seq)` (index 0; `seq` is the entry's position),
        `extra`, and the entry. Returns the entry once committed.

        The task's failed condition raises ConditionFailed with the stored item. An
        `extra` item whose condition failed (a request-id item that no longer names this
        task) is left out of the next attempt. Transient cancellations are retried.
        """
        owner = entry.owner
        extra = list(extra)
        async with self._log.locks.hold(owner):
            for attempt in range(ATTEMPTS):
                seq = await self._log.head(self._call, owner)
                appended = self._log.append_items(
                    owner, seq, entry.kind, entry.task_id, entry.version, entry.time_ms
                )
                items = [task_write(seq + 1), *extra, *appended]
                log_at = len(items) - len(appended)
                try:
                    await self.send(owner, items)
                except Cancelled as exc:
                    moved = self.log_refuted(exc, log_at, owner)
                    if exc.failed(0):
                        raise ConditionFailed(exc.item(0)) from None
                    failed = {i for i in range(1, log_at) if exc.failed(i)}
                    if failed:
                        extra = [item for i, item in enumerate(extra, 1) if i not in failed]
                    elif exc.transient or (moved and attempt >= 2):
                        await backoff(attempt)
                    elif not moved:
                        raise DatabaseUnavailable(f"DynamoDB write: {exc}") from None
                    continue
                self._log.note(owner, seq + 1)
                return make_event(seq + 1, entry.kind, entry.task_id, entry.version, entry.time_ms)
        raise DatabaseUnavailable(f"DynamoDB write: too much contention on {owner!r}'s log")
