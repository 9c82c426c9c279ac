"""The backend contract: dumb, atomic storage of versioned opaque records.

A backend knows nothing of task statuses or limits. `TaskStore` decides what a
record means and hands the backend only what it needs to stay atomic: the
canonical bytes, whether the record counts toward the owner's active quota, and
when it expires. Each method is ideally ONE round trip to the database.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol, TypeGuard, overload


@dataclass(frozen=True, slots=True)
class Record:
    """One stored task: canonical JSON bytes plus the facts the backend indexes."""

    owner: str
    task_id: str
    version: int
    data: bytes
    active: bool
    """Counts toward the owner's active-task quota (non-terminal)."""
    expire_at_ms: int | None
    """Unix milliseconds after which the record does not exist; None = never."""
    request_id: str | None = field(default=None, compare=False)
    """The request id the task was created with (also inside `data`). TaskStore sets it
    on every write, so a backend that keys something by it (DynamoDB's request-id item,
    which must live as long as its task) can keep that in step without a read. Reads
    need not return it, hence not part of equality."""
    # The three facts below are what an `INDEXES` store indexes; the others ignore them.
    # Reads need not return them (a store may keep them only in its indexes).
    status: str = field(default="", compare=False)
    """The task's status ("working", ...): ListTasks(statuses) reads a per-status index."""
    lease_until_ms: int | None = field(default=None, compare=False)
    """When the recorded lease ends (kept past its end until the domain processes it):
    `due_leases` finds leases to expire across every owner."""
    claim_group: str | None = field(default=None, compare=False)
    """Set while the task can be claimed (working, unleased, offered): a short hash of
    its request_method, so `claimable` can serve "the oldest, any or this method"."""
    subject: str = field(default="", compare=False)
    """The task's subject (also inside `data`; it never changes). A store logs it with the
    task's DELETED or EXPIRED entry; reads need not return it (`record_subject` reads it
    from `data`)."""

    def expired(self, now_ms: int) -> bool:
        return self.expire_at_ms is not None and self.expire_at_ms <= now_ms


class EventKind(enum.Enum):
    """What a committed change did to a task."""

    WRITE = "w"
    """A new version (create or compare_and_swap)."""
    DELETED = "d"
    """`delete` removed it."""
    EXPIRED = "x"
    """It reached expire_at and was removed (by `sweep_expired`, or by the database)."""


@dataclass(frozen=True, slots=True)
class Event:
    """One entry of an owner's event log (`Feature.EVENT_LOG`).

    Events hold keys, not task bytes: a task written a hundred times costs a hundred
    small entries. `position` is opaque to the domain, unique within the owner's log
    and increasing in log order; `prev` is the position of the owner's entry before it
    (the log's start position for the first), so a reader holding `prev` knows that
    it has missed nothing. One task's entries follow its versions.
    """

    position: str
    prev: str
    kind: EventKind
    task_id: str
    version: int
    """WRITE: the version written. DELETED/EXPIRED: the last version, 0 if unknown."""
    time_ms: int
    """The `now_ms` of the write that appended it."""
    record: Record | None = None
    """`read_events` only, WRITE only: the task's current unexpired record, if any (a
    later entry of the same task follows when it is newer than `version`)."""
    subject: str = ""
    """DELETED/EXPIRED: the removed task's `Record.subject` (a watch scoped to a subject
    shows only its own removals); "" for WRITE entries and for entries logged before
    subjects existed."""


@dataclass(frozen=True, slots=True)
class EventPage:
    """What `read_events` returns."""

    epoch: str
    """Names this incarnation of the log (a recreated database gets a new one): a
    position is only meaningful together with the epoch it was read with."""
    head: str
    """The position of the owner's newest entry at the time of the read (the log's
    start position when it has none): reading after it returns what comes next."""
    events: list[Event]
    """Entries after `after`, oldest first, at most `limit`."""
    compacted: bool = False
    """`after` cannot be served: entries after it were trimmed, or it is not a position
    of this log (beyond the head, say, after a restore). `events` is then empty."""


@dataclass(frozen=True, slots=True)
class Change:
    """A committed change, as delivered by the change feed.

    `record` is the new version, or None when the task was deleted or expired
    (`kind` says which). `event` is the log entry the change appended, on stores
    with `Feature.EVENT_LOG`.
    """

    owner: str
    task_id: str
    record: Record | None
    kind: EventKind = EventKind.WRITE
    event: Event | None = None


ChangeListener = Callable[[Change], None]
"""Called for every committed change, in commit order per task. Must not block."""

ResyncListener = Callable[[], None]
"""Called when the feed may have lost changes (e.g. a reconnect): re-read state."""


class StoreURLError(ValueError):
    """The store URL names no backend we have, or is malformed."""


class BackendError(Exception):
    """Base of the errors a backend raises; the store maps them to domain errors."""


class DatabaseUnavailable(BackendError):
    """The database is unreachable or timed out (the domain's BackendUnavailable)."""


class VersionConflict(BackendError):
    """The stored version is not the expected one."""

    def __init__(self, actual: int) -> None:
        super().__init__(f"stored version is {actual}")
        self.actual = actual


class RecordMissing(BackendError):
    """No (unexpired) record under that key."""


class QuotaFull(BackendError):
    """The owner already has `max_active` active, unexpired records (the domain's
    QuotaExceeded, which carries the limit and the message a caller sees)."""


class RecordTooLarge(BackendError):
    """The record is over the backend's own item size limit."""


class Feature(enum.Enum):
    """What a store can do beyond the methods every Backend has.

    Each backend class declares its own in `features`; callers ask `has_feature` rather
    than probing for methods, so a capability is one declared fact per store."""

    DURABLE = "durable"
    """Records outlive the process: a restarted server finds them."""
    SHARED = "shared"
    """Several backends opened on one database see the same records, versions, quota and
    request ids, like replicas. (The server may still open it alone: SQLite locks its file.)"""
    SHARED_FEED = "shared_feed"
    """Each backend's change feed also carries the others' commits on its database. Such a
    backend is a `SharedFeedBackend`: the server waits for its feed before serving."""
    SWEEPS = "sweeps"
    """`sweep_expired` physically removes expired records and publishes their deletions;
    without it the database expires records itself (reads still treat them as absent)."""
    INDEXES = "indexes"
    """The store indexes `Record.status`, `lease_until_ms` and `claim_group`: it is an
    `IndexedBackend`, and listing by status or claiming costs O(page), not O(owner)."""
    EVENT_LOG = "event_log"
    """Every create, compare_and_swap, delete and expiry appends an `Event` to the owner's
    log in the same atomic step, kept for the feed retention: it is an `EventLogBackend`,
    and a watch can resume from a position on any replica. Implies `SWEEPS`: expiries are
    logged when `sweep_expired` removes the record."""


class Backend(Protocol):
    """Atomic storage for task records, keyed by (owner, task_id).

    Records whose `expire_at_ms` has passed must be treated as absent by every
    method (get, list, quota counting, compare_and_swap), whether or not they
    were physically deleted yet.
    """

    features: frozenset[Feature]
    """What the store can do beyond these methods (see `Feature`)."""
    max_record_bytes: int | None
    """The database's own limit on one record, if lower than any sane cap."""
    max_active_limit: int | None
    """The most active tasks per owner its quota can hold, if it has such a limit."""

    async def get(self, owner: str, task_id: str, now_ms: int) -> Record | None:
        """The unexpired record, or None."""
        ...

    async def create(
        self, record: Record, *, request_id: str | None, max_active: int, now_ms: int
    ) -> tuple[Record, bool]:
        """Inserts `record` (version 1) atomically with the quota check.

        With `request_id`, if an unexpired record of the same owner was created
        with that id, returns it and `False` instead (quota not checked).
        Raises QuotaFull when the owner has `max_active` or more active,
        unexpired records. Returns (stored record, created).
        """
        ...

    async def compare_and_swap(
        self,
        record: Record,
        *,
        expected_version: int,
        now_ms: int,
        previous: Record | None = None,
    ) -> None:
        """Replaces the record if the stored unexpired version is `expected_version`.

        `record.version` is the new version (expected_version + 1). Raises
        RecordMissing or VersionConflict. Publishes the change on success.
        `previous` is the record as the caller read it at `expected_version`, when
        it has it: a hint that lets a backend pick its write without probing the
        stored one first (it must stay correct without it, and when it is stale).
        """
        ...

    async def delete(self, owner: str, task_id: str, now_ms: int) -> bool:
        """Removes the record; False when there was no unexpired record."""
        ...

    async def list(
        self, owner: str, *, before_task_id: str | None, limit: int, now_ms: int
    ) -> list[Record]:
        """Up to `limit` unexpired records of `owner` with task_id < before_task_id
        (all when None), in descending task_id order. Served from an index."""
        ...

    async def sweep_expired(self, now_ms: int, limit: int) -> int:
        """Physically removes up to `limit` expired records, publishing a deletion
        for each. Returns how many were removed. A no-op where the database
        expires records itself."""
        ...

    def subscribe(self, on_change: ChangeListener, on_resync: ResyncListener) -> None:
        """Registers THE listener of the change feed (one per backend).

        Changes committed by any replica on the same database reach it.
        """
        ...

    async def ping(self) -> None:
        """Raises DatabaseUnavailable when the database cannot be reached."""
        ...

    async def close(self) -> None: ...


class SharedFeedBackend(Backend, Protocol):
    """A backend with `Feature.SHARED_FEED`: its feed follows a database other replicas write."""

    async def wait_feed_ready(self, timeout_s: float) -> bool:
        """Waits until the change feed follows the database; False if not within `timeout_s`.

        A watch opened before then would silently miss other replicas' changes."""
        ...


class IndexedBackend(Backend, Protocol):
    """A backend with `Feature.INDEXES`. Every method skips expired records and reads
    at most about `limit` records per status or group (no scan of the owner's tasks)."""

    async def list_by_status(
        self,
        owner: str,
        statuses: frozenset[str],
        *,
        before_task_id: str | None,
        limit: int,
        now_ms: int,
    ) -> list[Record]:
        """Up to `limit` unexpired records of `owner` whose `status` is one of `statuses`,
        task_id < before_task_id (all when None), in descending task_id order: `list`,
        filtered by an index."""
        ...

    async def claimable(
        self, owner: str, *, group: str | None, limit: int, now_ms: int
    ) -> list[Record]:
        """Up to `limit` unexpired records of `owner` with a `claim_group` (that one, when
        `group` is given), oldest (ascending task_id) first."""
        ...

    async def due_leases(self, now_ms: int, limit: int) -> list[tuple[str, str]]:
        """Up to `limit` (owner, task_id) of unexpired records, any owner, whose
        `lease_until_ms` <= now_ms. May lag a moment behind writes (the domain re-reads
        and decides with a compare_and_swap)."""
        ...


class EventLogBackend(Backend, Protocol):
    """A backend with `Feature.EVENT_LOG` (see there).

    `create` and `compare_and_swap` append WRITE, `delete` DELETED and `sweep_expired`
    EXPIRED, each in the same atomic step as the change, and publish the appended
    `Event` as `Change.event`. `sweep_expired` also trims entries older than the
    retention (or the database does)."""

    def set_feed_retention(self, retention_ms: int) -> None:
        """How long entries must be kept at least (TaskStore calls it once, at start)."""
        ...

    async def read_events(self, owner: str, *, after: str, limit: int, now_ms: int) -> EventPage:
        """The owner's entries after position `after`, oldest first. `limit` 0 reads only
        the epoch and head (what a new watch or a list page starts from). An `after` that
        cannot be served, including one that is not a position of this log at all, gives
        `compacted`, never an error; WRITE entries come with `record`."""
        ...


@overload
def has_feature(
    backend: Backend, feature: Literal[Feature.SHARED_FEED]
) -> TypeGuard[SharedFeedBackend]: ...
@overload
def has_feature(
    backend: Backend, feature: Literal[Feature.INDEXES]
) -> TypeGuard[IndexedBackend]: ...
@overload
def has_feature(
    backend: Backend, feature: Literal[Feature.EVENT_LOG]
) -> TypeGuard[EventLogBackend]: ...
@overload
def has_feature(backend: Backend, feature: Feature) -> bool: ...
def has_feature(backend: Backend, feature: Feature) -> bool:
    """Whether `backend` declares `feature`; for SHARED_FEED, INDEXES and EVENT_LOG, the
    type checker then also knows the methods that come with it."""
    return feature in backend.features


def record_subject(data: bytes) -> str:
    """The subject inside a record's canonical JSON: for a store that logs a removal
    without keeping `Record.subject` beside the bytes."""
    import json

    subject = json.loads(data).get("subject", "")
    return subject if isinstance(subject, str) else ""
