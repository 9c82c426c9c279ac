"""The DynamoDB store's expiry sweeper (`Feature.SWEEPS`): expiries become log entries.

DynamoDB's TTL deletes silently and late (minutes to days), so the store removes expired
tasks itself: the sparse GSI `expiring` (shard, expire_at) names the due ones across
owners, one BatchGetItem reads their current versions, and each is removed by one
transaction that deletes the task on the condition that it is still that version and
expired, leaves the owner's active set and appends EXPIRED with that version. Replicas
sweeping at once race on the same tasks: one transaction wins per task, the others'
conditions fail and they move on (each sweep starts on a random order). The GSI may lag
behind writes: a task it names that is gone or renewed fails the condition and is skipped.
The task's `ttl` (expiry + 1 h) stays as a backstop; a TTL deletion reaches the change feed
as EXPIRED without an entry.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from typing import Final

from ..base import Change, EventKind, Record, record_subject
from .commit import Committer, Entry, fixed
from .events import Call, batch_get
from .indexes import IndexReader
from .items import ConditionFailed, item_key, item_record
from .writes import WriteRequests

PARALLEL_OWNERS: Final = 16
"""Owners whose removals run at once (one owner's go one after another, as all its writes)."""


class Sweeper:
    def __init__(
        self,
        table: str,
        call: Call,
        indexes: IndexReader,
        writes: WriteRequests,
        committer: Committer,
        publish: Callable[[Change], None],
    ) -> None:
        self.table = table
        self._call = call
        self._indexes = indexes
        self._writes = writes
        self._committer = committer
        self._publish = publish

    async def sweep(self, now_ms: int, limit: int) -> int:
        """Removes up to `limit` expired tasks; returns how many this call removed."""
        due = await self._indexes.due_expiries(now_ms, limit)
        if not due:
            return 0
        random.shuffle(due)
        items = await batch_get(self._call, self.table, [item_key(o, t) for o, t in due])
        by_owner: dict[str, list[Record]] = {}
        for item in items:
            record = item_record(item)
            if record is not None and record.expired(now_ms):
                by_owner.setdefault(record.owner, []).append(record)
        gate = asyncio.Semaphore(PARALLEL_OWNERS)

        async def owner_removals(records: list[Record]) -> int:
            async with gate:
                return sum([await self._remove(r, now_ms) for r in records])

        return sum(await asyncio.gather(*map(owner_removals, by_owner.values())))

    async def _remove(self, record: Record, now_ms: int) -> bool:
        owner, task_id, version = record.owner, record.task_id, record.version
        delete = {"Delete": self._writes.task_delete(owner, task_id, version, now_ms, expired=True)}
        leave = [self._writes.active_set_leave(owner, task_id)]
        subject = record_subject(record.data)
        entry = Entry(owner, EventKind.EXPIRED, task_id, version, now_ms, subject)
        try:
            event = await self._committer.commit(fixed(delete), leave, entry)
        except ConditionFailed:
            return False  # swept by another replica, or renewed since it was read
        self._publish(Change(owner, task_id, None, EventKind.EXPIRED, event))
        return True
