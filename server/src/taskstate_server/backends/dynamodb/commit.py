"""How the DynamoDB store commits a task write together with its event-log entry.

Kept apart from the backend so that each write method says only what it writes; this
module holds the one transaction loop they share (compare-and-swap, delete, the sweeper's
removal): the task write first, the items kept in step with it, then the log item's update
and the entry (`events`). Creates run their own loop (the active-set quota decides more
there) with the same pieces.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from ..base import DatabaseUnavailable, Event, EventKind
from .events import Call, EventLog, make_event, wall_ms
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
    subject: str = ""
    """A removal's: the removed task's subject."""


def fixed(item: Item) -> Callable[[int], Item]:
    """A task write that does not depend on the entry's position (a delete)."""
    return lambda _seq: item


class Committer:
    """Runs write transactions through `call`, appending to `log`."""

    def __init__(self, call: Call, log: EventLog) -> None:
        self._call = call
        self._log = log

    def log_conflicted(self, exc: Cancelled, log_at: int, owner: str) -> None:
        """The write itself failed its condition: only the stored seq is learnt."""
        if exc.failed(log_at):
            self._log.learn(owner, exc.item(log_at))

    async def log_refuted(self, exc: Cancelled, log_at: int, owner: str, sent: int) -> bool:
        """Whether the log item's condition failed for an append after seq `sent`. If so the
        stored seq is remembered for the next attempt, and before it this waits for another
        replica's turn, or asks for one after losing rounds in a row (turns.py)."""
        if not exc.failed(log_at):
            return False
        now_ms = wall_ms()
        wait = self._log.refuted(owner, sent, exc.item(log_at), now_ms)
        if wait is None:  # another replica's write took the seq
            until_ms = self._log.turns.lost(owner, now_ms)
            if until_ms is not None:
                await self._log.ask_turn(self._call, owner, until_ms, now_ms)
        elif wait > 0:
            await asyncio.sleep(wait)
        return True

    async def backoff(self, attempt: int) -> None:
        """Before retrying a transaction cancelled for a transient reason."""
        await asyncio.sleep(self._log.turns.backoff_s(attempt))

    async def send(self, owner: str, items: Items) -> None:
        """One TransactWriteItems; when its outcome is unknown, the owner's seq is read
        again before the next write. Its round trip is measured (turns and backoff scale
        with it)."""
        started = time.monotonic()
        try:
            await self._call("transact_write_items", TransactItems=items)
        except DatabaseUnavailable:
            self._log.forget(owner)
            raise
        finally:
            self._log.turns.observe(time.monotonic() - started)
        self._log.turns.won(owner)

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
                    owner,
                    seq,
                    entry.kind,
                    entry.task_id,
                    entry.version,
                    entry.time_ms,
                    entry.subject,
                )
                items = [task_write(seq + 1), *extra, *appended]
                log_at = len(items) - len(appended)
                try:
                    await self.send(owner, items)
                except Cancelled as exc:
                    if exc.failed(0):
                        self.log_conflicted(exc, log_at, owner)
                        raise ConditionFailed(exc.item(0)) from None
                    moved = await self.log_refuted(exc, log_at, owner, seq)
                    failed = {i for i in range(1, log_at) if exc.failed(i)}
                    if failed:
                        extra = [item for i, item in enumerate(extra, 1) if i not in failed]
                    elif exc.transient:
                        await self.backoff(attempt)
                    elif not moved:
                        raise DatabaseUnavailable(f"DynamoDB write: {exc}") from None
                    continue
                self._log.note(owner, seq + 1)
                return make_event(
                    seq + 1,
                    entry.kind,
                    entry.task_id,
                    entry.version,
                    entry.time_ms,
                    entry.subject,
                )
        raise DatabaseUnavailable(f"DynamoDB write: too much contention on {owner!r}'s log")
