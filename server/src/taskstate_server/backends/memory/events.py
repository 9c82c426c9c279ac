"""The memory store's event log (`Feature.EVENT_LOG`): one list of entries per owner.

Positions come from one counter per backend, written in decimal; "0" is the start of every
owner's log. The epoch is random per backend, so a position from before a restart (when
everything was lost) reads as compacted. Trimming drops entries older than the retention
and remembers, per owner, the newest position it dropped: a reader is compacted only when
an entry after its position is gone, so a quiet owner's cursor survives other owners'
trims, and its own old entry's, when nothing followed it."""

from __future__ import annotations

import bisect
import re
import secrets
from collections import deque
from collections.abc import Callable
from dataclasses import replace

from ..base import Event, EventKind, EventPage, Record

START = 0
DEFAULT_RETENTION_MS = 3_600_000
_POSITION = re.compile(r"0|[1-9][0-9]{0,18}")


class _OwnerLog:
    """One owner's entries, oldest first; trimming advances `start` and compacts lazily."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.positions: list[int] = []
        self.start = 0

    def drop_oldest(self) -> int:
        position = self.positions[self.start]
        self.start += 1
        if self.start * 2 >= len(self.positions):
            del self.events[: self.start], self.positions[: self.start]
            self.start = 0
        return position

    def after(self, position: int, limit: int) -> list[Event]:
        first = bisect.bisect_right(self.positions, position, lo=self.start)
        return self.events[first : first + limit]


class EventLog:
    def __init__(self) -> None:
        self.epoch = secrets.token_hex(8)
        self.retention_ms = DEFAULT_RETENTION_MS
        self._counter = START
        self._logs: dict[str, _OwnerLog] = {}
        self._heads: dict[str, int] = {}
        self._trimmed: dict[str, int] = {}  # owner -> newest position trimmed
        self._by_time: deque[tuple[int, str]] = deque()  # (time_ms, owner), append order

    def append(
        self, owner: str, kind: EventKind, task_id: str, version: int, now_ms: int, subject: str
    ) -> Event:
        """`subject`: the removed task's, for DELETED and EXPIRED ("" for WRITE)."""
        self._counter += 1
        prev = self._heads.get(owner, START)
        event = Event(str(self._counter), str(prev), kind, task_id, version, now_ms, None, subject)
        log = self._logs.setdefault(owner, _OwnerLog())
        log.events.append(event)
        log.positions.append(self._counter)
        self._heads[owner] = self._counter
        self._by_time.append((now_ms, owner))
        return event

    def read(
        self,
        owner: str,
        after: str,
        limit: int,
        current: Callable[[str], Record | None],
    ) -> EventPage:
        """`current(task_id)`: the task's unexpired record, for WRITE entries."""
        head = self._heads.get(owner, START)
        if limit <= 0:
            return EventPage(self.epoch, str(head), [])
        if _POSITION.fullmatch(after) is None:
            return EventPage(self.epoch, str(head), [], compacted=True)
        position = int(after)
        if position > head or position < self._trimmed.get(owner, START):
            return EventPage(self.epoch, str(head), [], compacted=True)
        log = self._logs.get(owner)
        chosen = [] if log is None else log.after(position, limit)
        events = [
            replace(e, record=current(e.task_id)) if e.kind is EventKind.WRITE else e
            for e in chosen
        ]
        return EventPage(self.epoch, str(head), events)

    def trim(self, now_ms: int) -> None:
        """Drops entries older than the retention, oldest first (a clock that stepped back
        only keeps entries longer)."""
        cutoff = now_ms - self.retention_ms
        while self._by_time and self._by_time[0][0] < cutoff:
            _, owner = self._by_time.popleft()
            log = self._logs[owner]
            self._trimmed[owner] = log.drop_oldest()
            if log.start == len(log.positions):
                del self._logs[owner]
