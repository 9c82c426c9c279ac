"""`memory://`: a process-local backend for tests and throwaway runs."""

from __future__ import annotations

import bisect

from .._feed import LocalFeed
from ..base import (
    Change,
    ChangeListener,
    EventKind,
    EventPage,
    Feature,
    QuotaFull,
    Record,
    RecordMissing,
    ResyncListener,
    VersionConflict,
)
from .events import EventLog
from .indexes import Indexes, Live


class MemoryBackend:
    """Dicts plus sorted id lists; every method is atomic because it never awaits
    between its reads and writes, so a write, its index updates and its log entry are
    one step."""

    features: frozenset[Feature] = frozenset({Feature.SWEEPS, Feature.INDEXES, Feature.EVENT_LOG})
    max_record_bytes: int | None = None
    max_active_limit: int | None = None

    def __init__(self) -> None:
        self._records: dict[tuple[str, str], Record] = {}
        self._ids: dict[str, list[str]] = {}  # owner -> ascending task ids
        self._requests: dict[tuple[str, str], str] = {}  # (owner, request_id) -> task_id
        self._request_of: dict[tuple[str, str], str] = {}  # (owner, task_id) -> request_id
        self._active: dict[str, set[str]] = {}  # owner -> ids of records flagged active
        self._indexes = Indexes()
        self._log = EventLog()
        self._feed = LocalFeed()

    @classmethod
    async def open_url(cls, url: str) -> MemoryBackend:
        """A server's store (`memory://`): empty, and gone when the process ends."""
        return cls()

    def _live(self, owner: str, task_id: str, now_ms: int) -> Record | None:
        rec = self._records.get((owner, task_id))
        if rec is None or rec.expired(now_ms):
            return None
        return rec

    def _live_at(self, now_ms: int) -> Live:
        return lambda owner, task_id: self._live(owner, task_id, now_ms)

    async def get(self, owner: str, task_id: str, now_ms: int) -> Record | None:
        return self._live(owner, task_id, now_ms)

    async def create(
        self, record: Record, *, request_id: str | None, max_active: int, now_ms: int
    ) -> tuple[Record, bool]:
        owner = record.owner
        if request_id is not None:
            existing_id = self._requests.get((owner, request_id))
            if existing_id is not None:
                existing = self._live(owner, existing_id, now_ms)
                if existing is not None:
                    return existing, False
        active = self._active.get(owner, set())
        live = sum(1 for tid in active if not self._records[(owner, tid)].expired(now_ms))
        if live >= max_active:
            raise QuotaFull()
        self._store(record)
        bisect.insort(self._ids.setdefault(owner, []), record.task_id)
        if request_id is not None:
            self._requests[(owner, request_id)] = record.task_id
            self._request_of[(owner, record.task_id)] = request_id
        self._publish(record.owner, record.task_id, record, record.version, now_ms)
        return record, True

    async def compare_and_swap(
        self,
        record: Record,
        *,
        expected_version: int,
        now_ms: int,
        previous: Record | None = None,  # one write either way: no use for the hint
    ) -> None:
        current = self._live(record.owner, record.task_id, now_ms)
        if current is None:
            raise RecordMissing()
        if current.version != expected_version:
            raise VersionConflict(current.version)
        self._store(record)
        self._publish(record.owner, record.task_id, record, record.version, now_ms)

    def _store(self, record: Record) -> None:
        key = (record.owner, record.task_id)
        old = self._records.get(key)
        if old is not None:
            self._indexes.discard(old)
        self._records[key] = record
        self._indexes.add(record)
        active = self._active.setdefault(record.owner, set())
        if record.active:
            active.add(record.task_id)
        else:
            active.discard(record.task_id)

    def _remove(self, owner: str, task_id: str, kind: EventKind, now_ms: int) -> None:
        old = self._records.pop((owner, task_id))
        self._indexes.discard(old)
        ids = self._ids[owner]
        del ids[bisect.bisect_left(ids, task_id)]
        self._active.get(owner, set()).discard(task_id)
        request_id = self._request_of.pop((owner, task_id), None)
        # An expired task's request id may already name a newer task.
        if request_id is not None and self._requests.get((owner, request_id)) == task_id:
            del self._requests[(owner, request_id)]
        self._publish(owner, task_id, None, old.version, now_ms, kind, old.subject)

    def _publish(
        self,
        owner: str,
        task_id: str,
        record: Record | None,
        version: int,
        now_ms: int,
        kind: EventKind = EventKind.WRITE,
        subject: str = "",
    ) -> None:
        """Logs the committed change and hands it to the feed, in the same step."""
        event = self._log.append(owner, kind, task_id, version, now_ms, subject)
        self._feed.publish(Change(owner, task_id, record, kind, event))

    async def delete(self, owner: str, task_id: str, now_ms: int) -> bool:
        if self._live(owner, task_id, now_ms) is None:
            return False
        self._remove(owner, task_id, EventKind.DELETED, now_ms)
        return True

    async def sweep_expired(self, now_ms: int, limit: int) -> int:
        expired = self._indexes.expired(now_ms, limit)
        for owner, task_id in expired:
            self._remove(owner, task_id, EventKind.EXPIRED, now_ms)
        self._log.trim(now_ms)
        return len(expired)

    # -- Feature.INDEXES ------------------------------------------------------------------

    async def list_by_status(
        self,
        owner: str,
        statuses: frozenset[str],
        *,
        before_task_id: str | None,
        limit: int,
        now_ms: int,
    ) -> list[Record]:
        return self._indexes.by_status(
            owner, statuses, before_task_id, limit, self._live_at(now_ms)
        )

    async def claimable(
        self, owner: str, *, group: str | None, limit: int, now_ms: int
    ) -> list[Record]:
        return self._indexes.claimable(owner, group, limit, self._live_at(now_ms))

    async def due_leases(self, now_ms: int, limit: int) -> list[tuple[str, str]]:
        return self._indexes.due_leases(now_ms, limit, self._live_at(now_ms))

    # -- Feature.EVENT_LOG ----------------------------------------------------------------

    def set_feed_retention(self, retention_ms: int) -> None:
        self._log.retention_ms = retention_ms

    async def read_events(self, owner: str, *, after: str, limit: int, now_ms: int) -> EventPage:
        return self._log.read(owner, after, limit, lambda t: self._live(owner, t, now_ms))

    # `list` last: above it, `list[...]` in an annotation would name the method.
    async def list(
        self, owner: str, *, before_task_id: str | None, limit: int, now_ms: int
    ) -> list[Record]:
        ids = self._ids.get(owner, [])
        end = len(ids) if before_task_id is None else bisect.bisect_left(ids, before_task_id)
        out: list[Record] = []
        for i in range(end - 1, -1, -1):
            rec = self._records[(owner, ids[i])]
            if not rec.expired(now_ms):
                out.append(rec)
                if len(out) >= limit:
                    break
        return out

    def subscribe(self, on_change: ChangeListener, on_resync: ResyncListener) -> None:
        self._feed.subscribe(on_change, on_resync)

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        return None
