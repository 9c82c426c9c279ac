"""The resumable owner feed: WatchTasks over a store's event log (`Feature.EVENT_LOG`).

One `OwnerTail` per owner per replica while it has streams. It registers on the change hub,
reads the log's head, and keeps a ring of the newest entries: a change whose entry follows the
tail's last one (`event.prev == tail.last`) is appended; anything else (a gap, a resync, an
entry arriving out of order) makes it re-read the log after its last position. So a feed
resync no longer ends owner watches: the tail catches up from the log.

Each stream (`FeedWatch`) keeps its own position: inside the ring it reads the ring, behind it
the log in batches. Memory is bounded (the ring's entries, and the records it keeps within a
byte budget), and a slow stream blocks nobody. Entries hold keys; a WRITE is delivered with the
task's record at that version, and skipped when the task has moved on (a later entry of it
follows) or gone (its removal follows): docs/design.md §8's coalescing, applied to history.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from ..backends.base import Change, DatabaseUnavailable, Event, EventKind, EventLogBackend, Record
from . import records
from .cursors import RELIST, Cursor, check_cursor, decode_cursor, encode_cursor
from .errors import BackendUnavailable, FeedCompacted
from .model import Task, TaskStatus
from .scope import Subject, visible
from .watch import ChangeHub, FeedKind, FeedMessage, OwnerStream

T = TypeVar("T")

log = logging.getLogger("taskstate.server")

RING_SIZE = 4096
"""Entries a tail keeps: streams within them never read the store."""
READ_BATCH = 256
"""Entries per log read, for a tail catching up and for a stream behind the ring."""
RING_RECORD_BYTES = 32 << 20
"""Record bytes a tail keeps; past that the oldest entries drop theirs (re-read on delivery)."""
PROGRESS_IDLE_S = 30.0
"""An `all_events` stream silent this long sends PROGRESS: a quiet client's cursor stays young."""
PROGRESS_EVERY = 1000
"""...and so does one that passed over this many entries without a message (filtered out)."""

_KINDS = {
    EventKind.WRITE: FeedKind.WRITE,
    EventKind.DELETED: FeedKind.DELETED,
    EventKind.EXPIRED: FeedKind.EXPIRED,
}


async def _read(op: Awaitable[T]) -> T:
    try:
        return await op
    except DatabaseUnavailable as exc:
        raise BackendUnavailable(f"the store is unavailable: {exc}") from exc


async def read_head(log: EventLogBackend, owner: str, now_ms: int) -> str:
    """The cursor of the owner's log head now: a ListTasks first page's `resume_cursor`."""
    page = await _read(log.read_events(owner, after="", limit=0, now_ms=now_ms))
    return encode_cursor(Cursor(page.epoch, page.head, now_ms))


class _Slot:
    """A ring entry: the event, and for a WRITE the record as the tail learnt it."""

    __slots__ = ("event", "fetch", "record", "superseded", "task")

    def __init__(self, event: Event, record: Record | None) -> None:
        self.event = event
        self.record = record
        """At the event's version (from the hub), or the current one (from a read; None: gone)."""
        self.task: Task | None = None
        """`record` decoded, once, for every stream."""
        self.fetch = False
        """The record was dropped to bound memory: a stream delivering the entry reads it."""
        self.superseded = False
        """A later entry of the same task is in the ring: a WRITE here is never delivered."""


class OwnerTail:
    """The newest entries of one owner's log, followed through the hub."""

    def __init__(self, log: EventLogBackend, owner: str, clock: Callable[[], int]) -> None:
        self.log = log
        self.owner = owner
        self._clock = clock
        self.streams = 0
        self.ready = False
        """The head has been read: `epoch`, `last` and `last_seq` mean something."""
        self.epoch = ""
        self.last = ""
        """Position of the newest entry known (the head, before any entry arrives)."""
        self.last_seq = 0
        """Tail-local number of `last`; entry numbers only grow, also across a restart."""
        self.first_seq = 1
        """Number of the oldest ring entry; `first_seq - 1` names the position before it."""
        self.error: BackendUnavailable | None = None
        """The last read failed: a caught-up stream ends with it (the client resumes)."""
        self.synced_ms = 0
        """When the tail last knew it was at the log's head."""
        self._ring: collections.deque[_Slot] = collections.deque()
        self._seq_of: dict[str, int] = {}
        self._latest: dict[str, int] = {}  # task id -> number of its newest ring entry
        self._before_ring = ""
        self._record_bytes = 0
        self._keep_from = 1  # entries numbered below this hold no record
        self._dirty = False
        self._attempts = 0
        self._kick = asyncio.Event()
        self._wake = asyncio.Event()
        self._runner: asyncio.Task[None] | None = None
        self._stopped = False

    # -- what streams read ------------------------------------------------------

    def seq_of(self, position: str) -> int | None:
        """The number of `position` if it is in the ring (or just before it)."""
        return self._seq_of.get(position)

    def slot(self, seq: int) -> _Slot:
        return self._ring[seq - self.first_seq]

    def changed(self) -> asyncio.Event:
        """Set at the next change of the tail (an entry, an error, a restart)."""
        return self._wake

    @property
    def in_sync(self) -> bool:
        """No gap known and no failed read: as far as the hub tells, `last` is the head."""
        return self.ready and not self._dirty and self.error is None

    async def wait_ready(self) -> None:
        """Returns once the head is read and the last read went well; else raises its error."""
        if self.ready and self.error is None:
            return
        attempts = self._attempts
        self._kick.set()
        while self._attempts == attempts:
            await self._wake.wait()
        if self.error is not None:
            raise self.error

    # -- what the hub calls -----------------------------------------------------

    def on_change(self, change: Change) -> None:
        event = change.event
        if event is None or not self.ready or not self._offer(event, change.record):
            self._catch_up_soon()

    def on_resync(self) -> None:
        self._catch_up_soon()

    # -- running ----------------------------------------------------------------

    def start(self) -> None:
        self._runner = asyncio.get_running_loop().create_task(
            self._run(), name=f"feed-tail-{self.owner[:32]}"
        )

    def stop(self, error: BackendUnavailable) -> None:
        self._stopped = True
        self._kick.set()
        if self._runner is not None:
            self._runner.cancel()
            self._runner = None
        self.error = error
        self._attempts += 1
        self._notify()

    def _catch_up_soon(self) -> None:
        self._dirty = True
        self._kick.set()

    def _notify(self) -> None:
        self._wake.set()
        self._wake = asyncio.Event()

    async def _run(self) -> None:
        # `_stopped` is checked as well as cancellation: a database client may swallow a
        # cancel that lands inside its call, and the loop must still end.
        while not self._stopped:
            self._kick.clear()
            try:
                if not self.ready:
                    await self._read_head()
                while self._dirty:
                    self._dirty = False
                    await self._catch_up()
                error = None
            except BackendUnavailable as exc:
                error = exc
            except Exception as exc:
                # A bug: say so, and end the streams as for an outage (clients resume).
                log.exception("the feed tail of an owner failed")
                error = BackendUnavailable(f"the change feed failed: {exc!r}")
            if self._stopped:
                return  # stop() set the error the streams end with
            self.error = error
            if self.error is not None:
                self._dirty = True  # the next attempt reads again what this one could not
            self._attempts += 1
            self._notify()
            await self._kick.wait()

    async def _read_head(self) -> None:
        now = self._clock()
        page = await _read(self.log.read_events(self.owner, after="", limit=0, now_ms=now))
        self._restart(page.epoch, page.head, now)

    def _restart(self, epoch: str, head: str, now_ms: int) -> None:
        """An empty ring at `head`; streams inside the old ring fall back to reading the log."""
        for slot in self._ring:
            self._drop_record(slot)
        self._ring.clear()
        self._latest.clear()
        base = self.last_seq + 1
        self._seq_of = {head: base}
        self._before_ring = head
        self.epoch, self.last, self.last_seq, self.first_seq = epoch, head, base, base + 1
        self._keep_from = base + 1
        self.synced_ms = now_ms
        self.ready = True
        # Everything the hub said before the head was read is at or before it; a later
        # change arrives with prev == head, or marks the tail dirty again.

    async def _catch_up(self) -> None:
        while True:
            now = self._clock()
            page = await _read(
                self.log.read_events(self.owner, after=self.last, limit=READ_BATCH, now_ms=now)
            )
            if page.compacted or page.epoch != self.epoch:
                # The tail lost its place (it lagged past the retention, or the log was
                # recreated): start again at the head; streams find their own way.
                await self._read_head()
                return
            for event in page.events:
                if not self._offer(event, event.record):
                    self._dirty = True  # the log moved under the read: read again
                    break
            if len(page.events) < READ_BATCH:
                self.synced_ms = now
                return

    def _offer(self, event: Event, record: Record | None) -> bool:
        """Appends `event` if it follows `last`; True also when it is already known."""
        if event.position in self._seq_of:
            return True
        if event.prev != self.last:
            return False
        self._append(event, record)
        return True

    def _append(self, event: Event, record: Record | None) -> None:
        seq = self.last_seq + 1
        earlier = self._latest.get(event.task_id)
        if earlier is not None:
            old = self.slot(earlier)
            old.superseded = True
            self._drop_record(old)
        self._latest[event.task_id] = seq
        self._ring.append(_Slot(event, record))
        self._seq_of[event.position] = seq
        self.last, self.last_seq = event.position, seq
        if record is not None:
            self._record_bytes += len(record.data)
        if not self._dirty:
            self.synced_ms = max(self.synced_ms, event.time_ms)
        if len(self._ring) > RING_SIZE:
            self._evict()
        while self._record_bytes > RING_RECORD_BYTES and self._keep_from <= self.last_seq:
            self._keep_from = max(self._keep_from, self.first_seq)
            self._drop_record(self.slot(self._keep_from))
            self._keep_from += 1
        self._notify()

    def _evict(self) -> None:
        old = self._ring.popleft()
        del self._seq_of[self._before_ring]
        self._before_ring = old.event.position
        if self._latest.get(old.event.task_id) == self.first_seq:
            del self._latest[old.event.task_id]
        self.first_seq += 1
        self._drop_record(old)

    def _drop_record(self, slot: _Slot) -> None:
        if slot.record is not None:
            self._record_bytes -= len(slot.record.data)
            slot.fetch = True
        slot.record = None
        slot.task = None


class Feed:
    """The tails of one TaskStore, one per owner with streams."""

    def __init__(
        self,
        hub: ChangeHub,
        log: EventLogBackend,
        clock: Callable[[], int],
        retention_ms: int,
    ) -> None:
        self._hub = hub
        self.log = log
        self.clock = clock
        self.retention_ms = retention_ms
        self._tails: dict[str, OwnerTail] = {}

    def join(self, owner: str) -> OwnerTail:
        tail = self._tails.get(owner)
        if tail is None:
            tail = self._tails[owner] = OwnerTail(self.log, owner, self.clock)
            self._hub.set_feed(owner, tail)
            tail.start()
        tail.streams += 1
        return tail

    def leave(self, tail: OwnerTail) -> None:
        tail.streams -= 1
        if tail.streams == 0 and self._tails.get(tail.owner) is tail:
            del self._tails[tail.owner]
            self._hub.clear_feed(tail.owner, tail)
            tail.stop(BackendUnavailable("the watch ended"))

    async def watch(
        self,
        owner: str,
        statuses: frozenset[TaskStatus],
        resume_cursor: str,
        all_events: bool,
        subject: Subject = None,
    ) -> FeedWatch:
        """A stream from `resume_cursor` (else the head), positioned before this returns."""
        cursor = decode_cursor(resume_cursor) if resume_cursor else None
        tail = self.join(owner)
        try:
            await tail.wait_ready()
            if cursor is None:
                start = Cursor(tail.epoch, tail.last, self.clock())
            else:
                check_cursor(
                    cursor, epoch=tail.epoch, now_ms=self.clock(), retention_ms=self.retention_ms
                )
                start = cursor
        except BaseException:
            self.leave(tail)
            raise
        return FeedWatch(self, tail, start, statuses, all_events or cursor is not None, subject)

    def close(self) -> None:
        for tail in list(self._tails.values()):
            self._hub.clear_feed(tail.owner, tail)
            tail.stop(BackendUnavailable("the server is shutting down"))
        self._tails.clear()


class FeedWatch(OwnerStream):
    """One WatchTasks stream: an async iterator of `FeedMessage`s; close it when done.

    With `all_events` it sends WRITE (filtered by `statuses`), DELETED, EXPIRED and PROGRESS;
    without, only the WRITEs (what clients from before the event log understand)."""

    def __init__(
        self,
        feed: Feed,
        tail: OwnerTail,
        start: Cursor,
        statuses: frozenset[TaskStatus],
        all_events: bool,
        subject: Subject = None,
    ) -> None:
        self._feed = feed
        self._subject = subject
        self._tail: OwnerTail | None = tail
        self._epoch = start.epoch
        self._position = start.position
        self._time_ms = start.time_ms
        self._seq: int | None = None
        self._batch: collections.deque[Event] = collections.deque()
        self._statuses = statuses
        self._all_events = all_events
        self._passed = 0  # entries passed over since the last message
        self._last_sent = asyncio.get_running_loop().time()

    @property
    def cursor(self) -> str:
        """Where this stream stands now."""
        return encode_cursor(Cursor(self._epoch, self._position, self._time_ms))

    async def __anext__(self) -> FeedMessage:
        while True:
            message = await self._step()
            if message is not None:
                self._passed = 0
                self._last_sent = asyncio.get_running_loop().time()
                return message

    async def _step(self) -> FeedMessage | None:
        """Consumes one entry, or waits for one: a message to send, or None."""
        tail = self._tail
        if tail is None:
            raise StopAsyncIteration
        if self._batch:
            return await self._consume(self._batch.popleft(), None)
        if tail.epoch != self._epoch:
            raise FeedCompacted(f"the event log was recreated: {RELIST}")
        if self._seq is None or self._seq < tail.first_seq - 1:
            self._seq = tail.seq_of(self._position)
        if self._seq is not None:
            if self._seq < tail.last_seq:
                self._seq += 1
                slot = tail.slot(self._seq)
                return await self._consume(slot.event, slot)
            if tail.error is not None:
                raise tail.error
            return await self._idle(tail, tail.changed(), tail.in_sync)
        # Behind the ring (or ahead of the tail): read the log itself.
        now = self._feed.clock()
        page = await _read(
            self._feed.log.read_events(
                tail.owner, after=self._position, limit=READ_BATCH, now_ms=now
            )
        )
        if page.compacted or page.epoch != self._epoch:
            raise FeedCompacted(f"resume_cursor is past the store's retained events: {RELIST}")
        if page.events:
            self._batch.extend(page.events)
            return None
        # At the log's head, which the tail has yet to reach: wait for it.
        return await self._idle(tail, tail.changed(), True)

    async def _idle(
        self, tail: OwnerTail, wake: asyncio.Event, at_head: bool
    ) -> FeedMessage | None:
        """Waits for the tail to change; an all_events stream sends PROGRESS when idle."""
        if not self._all_events:
            await wake.wait()
            return None
        remaining = self._last_sent + PROGRESS_IDLE_S - asyncio.get_running_loop().time()
        if remaining > 0:
            try:
                await asyncio.wait_for(wake.wait(), remaining)
                return None
            except TimeoutError:
                pass
        if at_head:
            self._time_ms = max(self._time_ms, self._feed.clock())
        else:
            self._time_ms = max(self._time_ms, tail.synced_ms)
        return FeedMessage(FeedKind.PROGRESS, self.cursor)

    async def _consume(self, event: Event, slot: _Slot | None) -> FeedMessage | None:
        self._position, self._time_ms = event.position, max(self._time_ms, event.time_ms)
        message = await self._message(event, slot)
        if message is not None:
            return message
        self._passed += 1
        if self._all_events and self._passed >= PROGRESS_EVERY:
            return FeedMessage(FeedKind.PROGRESS, self.cursor)
        return None

    async def _message(self, event: Event, slot: _Slot | None) -> FeedMessage | None:
        """The message `event` makes for this stream, None when it shows nothing."""
        if event.kind is not EventKind.WRITE:
            if not self._all_events or not _event_visible(event, self._subject):
                return None
            return FeedMessage(_KINDS[event.kind], self.cursor, event.task_id, event.version)
        task = await self._task_at(event, slot)
        if task is None or (self._statuses and task.status not in self._statuses):
            return None
        if not visible(task, self._subject):
            return None
        return FeedMessage(FeedKind.WRITE, self.cursor, event.task_id, event.version, task)

    async def _task_at(self, event: Event, slot: _Slot | None) -> Task | None:
        """The task at the event's version; None when it moved on or is gone (a later
        entry of it follows)."""
        if slot is None:
            record = event.record
        elif slot.superseded:
            return None
        elif slot.task is not None:
            return slot.task
        elif slot.fetch:
            record = await _read(self._feed.log.get(self._owner, event.task_id, self._feed.clock()))
        else:
            record = slot.record
        if record is None or record.version != event.version:
            return None
        task = records.decode(record.data, record.owner)
        if slot is not None and not slot.fetch:
            slot.task = task
        return task

    @property
    def _owner(self) -> str:
        assert self._tail is not None
        return self._tail.owner

    def close(self) -> None:
        if self._tail is not None:
            tail, self._tail = self._tail, None
            self._feed.leave(tail)


def _event_visible(event: Event, subject: Subject) -> bool:
    """A removal carries its task's subject (the record is gone): shown to that subject only."""
    return subject is None or event.subject == subject
