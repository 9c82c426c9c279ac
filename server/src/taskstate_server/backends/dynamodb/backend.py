"""`dynamodb://TABLE?region=...&endpoint=http://...&create_table=true`: a shared store.

Several stateless replicas share one DynamoDB table. Every method is a small,
fixed number of round trips (counted per operation in `call_counts`), every read
is strongly consistent, and every infrastructure failure is `DatabaseUnavailable`.

URL options: `region` (else AWS_REGION / AWS_DEFAULT_REGION; `us-east-1` with an
`endpoint`), `endpoint` (e.g. DynamoDB Local), `create_table=true` (create the
table, its TTL and its stream at start-up, idempotently; `create_table()` does
the same on demand), `feed=auto|streams|poll` (see "Change feed") and
`timeout` (seconds per HTTP attempt, default 2; one retry; every call gives up
within 2 x 2 x timeout + 2 s with `DatabaseUnavailable`).

Items (one table, partition key `pk` = owner, sort key `sk`)
-------------------------------------------------------------
- A task: `sk` = task id (UUIDv7, so key order = creation order), `version` (N),
  `data` (B: the canonical JSON bytes), `active` (BOOL), `expire_at` (N, epoch
  ms; absent = never), `ttl` (N, epoch SECONDS, expire_at + 1 h: a backstop for
  DynamoDB's lazy TTL deletion; the sweeper removes expired tasks first, and read
  paths never rely on either: every read checks `expire_at`), `mtime` (N, ms of the
  last write), `origin` (the writing backend instance, so the stream reader skips
  what it has already published locally), `req` (the sort key of its request-id
  item, when created with a request id), `seq` (N, the position of its last write's
  log entry) and the index keys `st`, `ca`, `cm`, `sh`, `lu` (`indexes`).
- The owner's active set: `sk` = "#active", `slots` (SS: one short name per active
  task, 22 characters for a UUID) and, per slot, `x<slot>` (N: that task's expire_at
  ms, 0 = never).
- A request id: `sk` = "#req#" + sha256(request id), `task` (S), `expire_at`,
  `ttl` (the task's, renewed with it).
- The owner's event log: `sk` = "#log" (`seq`, its head; `turn`, `turn_until`: a replica
  waiting for its turn, `turns`) and "#e#<seq>" per entry
  (`events` has the design); the table's epoch in the item (`#meta`, `#meta`).
Reserved sort keys start with "#", which sorts below every task id, and listing
reads only `sk >= "$"`, so reserved items are never read by a listing.

Active-task quota under concurrent creates on several replicas
---------------------------------------------------------------
A plain counter cannot see expiry, and keeping one exact would take a condition on
every removal. The active set is exact by construction instead: adding or removing
a set member is idempotent, and DynamoDB's `size()` counts the members in a
condition. So every create is ONE TransactWriteItems, whoever wrote before:
  1. Put the task;
  2. Update the active set: `ADD slots :me SET x<me> = :expire_at`, on the
     condition `attribute_not_exists(slots) OR size(slots) < :max_active`;
  3. with a request id, Put its item on `attribute_not_exists(sk)`.
DynamoDB serializes transactions on an item, so of any number of concurrent creates
on any number of replicas exactly `max_active` win. The set never holds more than
`max_active` members, but some may have expired (DynamoDB's TTL deletes the task,
not its member). A refused create gets the set back (ALL_OLD): when its live members
fill the quota it is QuotaFull (still one call); otherwise the retry prunes the
expired members in the same update, on the condition that the set is exactly the one
it saw and each pruned expiry unchanged (not renewed meanwhile). Within one process,
writes of an owner are queued on a lock, so only replicas conflict on its items.

Every other write that changes a task's active flag or expiry updates its member in
the same transaction, unconditionally: `ADD`/`SET` while active, `DELETE`/`REMOVE`
once terminal or deleted. (A member re-added under clock skew, after another replica
pruned it as expired, bypasses the quota by that one task; it is alive by then.)

Idempotent create: the request-id item is Put on the condition that none exists
or it has expired (with its task: they expire together), so reusing the id of an
expired task is still one call. A live conflicting request-id item is returned by
the cancelled transaction (ALL_OLD); its task is read (GetItem) and returned when
it is alive. When that task is gone (deleted), the request id is reused: the retry
overwrites the request-id item on the condition that it still names the dead task.
Deleting and sweeping leave a task's request-id item for that path and for TTL.

Event log, indexes, sweeping
----------------------------
Every write is one TransactWriteItems that also appends the owner's log entry
(`events`: gapless per-owner positions in commit order, the owner's head remembered
per process); `indexes` has the secondary indexes and their queries; `sweep` removes
expired tasks, each with its EXPIRED entry (`Feature.SWEEPS`); `history` loads finished
tasks straight into the table, without entries (`load_history`, for the bench).

Round trips
-----------
get: 1 GetItem. list: 1 Query per page (more only when expired items filtered
out of a page leave it short; never a Scan). list_by_status: 1 Query per status, run
at once; claimable: 1 Query; due_leases: 1 Query per shard (8), at once.
create: 1 TransactWriteItems (2 when the set is full of members that have expired; an
idempotent retry: +1 GetItem; reusing the request id of a deleted task: 3).
compare_and_swap: 1 TransactWriteItems, given `previous` (TaskStore always passes the
record it read): the task, its entry and, when the active flag or expiry change, the
active-set member (and the request-id item's expiry, from `record.request_id`).
The write is conditioned on the stored active flag and expiry being what `previous`
says (without `previous`: that they stay), so a wrong guess fails, and its ALL_OLD
tells RecordMissing / VersionConflict(actual) / what is stored, for a second write
that is right: 2. delete: 1 BatchGetItem (the task's last version, for its DELETED
entry, and the log's head) + 1 TransactWriteItems (task, member, entry).
Every write: +1 GetItem for the owner's first write in this process (its log head),
+1 TransactWriteItems when another replica wrote the owner since this one last heard
of it (the failed condition returns the head); the change feed usually tells first.
read_events: 1 Query (+1 BatchGetItem of the WRITEs' tasks; +1 GetItem when a page is
full); with limit 0, 1 GetItem.

Change feed
-----------
Own writes are published locally right after they commit; other replicas' writes
come from DynamoDB Streams or, without a stream, from polling the partitions of
the owners this instance serves (`feed` has the details).

Limits: records are capped at `max_record_bytes` (350,000, under DynamoDB's 400 KB
item limit); an oversized item is `RecordTooLarge`. The active-set item holds ~55
bytes per active task, so the quota is capped at `max_active_limit` (6,000) active
tasks per owner. Each write of it is billed by its size (~6 KB at the default quota
of 100: 6 WCU per create or terminal write on AWS). The local secondary indexes cap an
owner's items at 10 GB. An owner's writes are serialized (its log item), at about one
transaction's latency each across all replicas.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import re
from collections.abc import Coroutine, Iterable
from typing import Any, Final, TypeVar
from urllib.parse import parse_qsl, unquote, urlsplit

import aioboto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from ..base import (
    Change,
    ChangeListener,
    DatabaseUnavailable,
    EventKind,
    EventPage,
    Feature,
    QuotaFull,
    Record,
    RecordMissing,
    ResyncListener,
    StoreURLError,
    VersionConflict,
    record_subject,
)
from .commit import Committer, Entry, fixed
from .events import EventLog, batch_get, make_event
from .feed import ChangeFeed
from .history import put_history
from .indexes import IndexReader, collect
from .items import (
    LOG_SK,
    PING_KEY,
    TASK_SK_MIN,
    UNEXPIRED,
    ActiveSet,
    Cancelled,
    ConditionFailed,
    Item,
    Items,
    alive_record,
    attr_names,
    call_api,
    is_reserved,
    item_key,
    item_record,
    num_attr,
    num_value,
    request_sk,
    same_expiry_condition,
    str_value,
)
from .sweep import Sweeper
from .table import check_table, drop_table, ensure_table, set_stream
from .writes import WriteRequests

T = TypeVar("T")
Records = list[Record]
"""(These aliases because inside the backend class, `list` is the method.)"""
Keys = list[tuple[str, str]]

MAX_RECORD_BYTES: Final = 350_000
MAX_ACTIVE_PER_OWNER: Final = 6_000
"""~55 bytes per member: the active-set item stays under 330 KB of DynamoDB's 400 KB."""
TIMEOUT_S: Final = 2.0
"""Default connect and read timeout of one HTTP attempt (URL option `timeout`, seconds)."""
MAX_ATTEMPTS: Final = 2
"""botocore attempts per call (1 retry)."""
CREATE_ATTEMPTS: Final = 200

_TABLE_NAME = re.compile(r"[A-Za-z0-9_.-]{3,255}")
_FEEDS: Final = ("auto", "streams", "poll")


def _parse_bool(name: str, value: str) -> bool:
    v = value.strip().lower()
    if v in ("1", "true", "yes", "on"):
        return True
    if v in ("0", "false", "no", "off", ""):
        return False
    raise StoreURLError(f"bad DynamoDB URL option {name}={value!r}: use true or false")


# -- the backend ------------------------------------------------------------


class DynamoDBBackend:
    """One DynamoDB table shared by any number of replicas.

    `DynamoDBBackend.from_url(url)` builds it without I/O (clients open on first
    use); `await DynamoDBBackend.open(url)` also creates the table when the URL
    says `create_table=true` and checks that it is reachable.
    """

    features: frozenset[Feature] = frozenset(
        {
            Feature.DURABLE,
            Feature.SHARED,
            Feature.SHARED_FEED,
            Feature.SWEEPS,
            Feature.INDEXES,
            Feature.EVENT_LOG,
        }
    )
    max_record_bytes: int | None = MAX_RECORD_BYTES
    max_active_limit: int | None = MAX_ACTIVE_PER_OWNER

    def __init__(
        self,
        table: str,
        *,
        region: str,
        endpoint: str | None = None,
        create_table: bool = False,
        feed: str = "auto",
        timeout_s: float = TIMEOUT_S,
    ) -> None:
        if not _TABLE_NAME.fullmatch(table):
            raise StoreURLError(
                f"bad DynamoDB table name {table!r}: 3-255 characters of a-z A-Z 0-9 _ . -"
            )
        if feed not in _FEEDS:
            raise StoreURLError(f"bad DynamoDB URL option feed={feed!r}: use {'|'.join(_FEEDS)}")
        self.table = table
        self.region = region
        self.endpoint = endpoint
        self.create_table_on_open = create_table
        self.feed = feed
        if not 0 < timeout_s <= 300:
            raise StoreURLError(
                f"bad DynamoDB URL option timeout={timeout_s}: use 0 < seconds <= 300"
            )
        self.timeout_s = timeout_s
        # Every call gives up within this, whatever botocore's retries do.
        self.call_deadline_s = 2 * MAX_ATTEMPTS * timeout_s + 2
        self.call_counts: dict[str, int] = {}
        """DynamoDB API calls made by the data operations, per operation name."""
        self.feed_call_counts: dict[str, int] = {}
        """API calls made by the change feed (its own clients), per operation name."""
        self._origin = os.urandom(8).hex()
        self._session = aioboto3.Session()
        self._stack: contextlib.AsyncExitStack | None = None
        self._client: Any = None
        self._feed_client: Any = None
        self._streams: Any = None
        self._clients_lock = asyncio.Lock()
        self._log = EventLog(table, self._origin)
        self._feed = ChangeFeed(
            table=table,
            feed=feed,
            origin=self._origin,
            clients=self._feed_clients,
            deadline_s=self.call_deadline_s,
            on_seq=self._log.note,
        )
        self._writes = WriteRequests(table, self._origin)
        self._committer = Committer(self._call, self._log)
        self._indexes = IndexReader(table, functools.partial(self._call, "query"))
        self._sweeper = Sweeper(
            table, self._call, self._indexes, self._writes, self._committer, self._feed.publish
        )
        self._inflight: set[asyncio.Task[Any]] = set()
        self._closed = False

    # -- construction --------------------------------------------------------

    @classmethod
    def from_url(cls, url: str) -> DynamoDBBackend:
        parts = urlsplit(url)
        if parts.scheme != "dynamodb":
            raise StoreURLError(f"not a DynamoDB URL: {url!r}")
        table = unquote(parts.netloc or parts.path.lstrip("/"))
        if parts.netloc and parts.path not in ("", "/"):
            raise StoreURLError(f"bad DynamoDB URL {url!r}: use dynamodb://TABLE?region=...")
        options = dict(parse_qsl(parts.query, keep_blank_values=True))
        unknown = set(options) - {"region", "endpoint", "create_table", "feed", "timeout"}
        if unknown:
            raise StoreURLError(
                f"unknown DynamoDB URL option(s) {sorted(unknown)}: "
                "known are region, endpoint, create_table, feed, timeout"
            )
        try:
            timeout_s = float(options.get("timeout") or TIMEOUT_S)
        except ValueError:
            raise StoreURLError(
                f"bad DynamoDB URL option timeout={options['timeout']!r}: use seconds"
            ) from None
        endpoint = options.get("endpoint") or None
        region = (
            options.get("region")
            or os.environ.get("AWS_REGION")
            or os.environ.get("AWS_DEFAULT_REGION")
            or ("us-east-1" if endpoint else None)
        )
        if not region:
            raise StoreURLError(
                f"DynamoDB URL {url!r} names no region: add ?region=... or set AWS_REGION"
            )
        return cls(
            table,
            region=region,
            endpoint=endpoint,
            create_table=_parse_bool("create_table", options.get("create_table", "false")),
            feed=options.get("feed", "auto") or "auto",
            timeout_s=timeout_s,
        )

    @classmethod
    async def open(cls, url: str) -> DynamoDBBackend:
        backend = cls.from_url(url)
        try:
            if backend.create_table_on_open:
                await backend.create_table()
            await backend.check_table()
            # As Redis's `open`: the feed follows the table before anyone writes through
            # this backend, so another replica's write right after `open` is not missed.
            await backend._ensure_clients()
            backend._feed.start(force=True)
            with contextlib.suppress(TimeoutError):
                await backend._feed.wait_ready(backend.timeout_s)
        except BaseException:
            await backend.close()
            raise
        return backend

    @classmethod
    async def open_url(cls, url: str) -> DynamoDBBackend:
        """A server's store: `open`."""
        return await cls.open(url)

    def _client_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "region_name": self.region,
            "config": Config(
                connect_timeout=self.timeout_s,
                read_timeout=self.timeout_s,
                retries={"max_attempts": MAX_ATTEMPTS, "mode": "standard"},
                max_pool_connections=64,
            ),
        }
        if self.endpoint:
            kwargs["endpoint_url"] = self.endpoint
            if not (os.environ.get("AWS_ACCESS_KEY_ID") or os.environ.get("AWS_PROFILE")):
                # DynamoDB Local accepts any static credentials (letters and digits).
                kwargs["aws_access_key_id"] = "taskstatelocal"
                kwargs["aws_secret_access_key"] = "taskstatelocal"
        return kwargs

    async def _ensure_clients(self) -> None:
        if self._client is not None:
            return
        async with self._clients_lock:
            if self._client is not None:
                return
            if self._closed:
                raise DatabaseUnavailable("the DynamoDB backend is closed")
            stack = contextlib.AsyncExitStack()
            try:
                kwargs = self._client_kwargs()
                client = await stack.enter_async_context(self._session.client("dynamodb", **kwargs))
                feed_client = await stack.enter_async_context(
                    self._session.client("dynamodb", **kwargs)
                )
                streams = await stack.enter_async_context(
                    self._session.client("dynamodbstreams", **kwargs)
                )
            except (BotoCoreError, ClientError, ValueError) as exc:
                await stack.aclose()
                raise DatabaseUnavailable(f"DynamoDB client setup failed: {exc}") from exc
            client.meta.events.register("before-call.dynamodb", self._count_call)
            feed_client.meta.events.register("before-call.dynamodb", self._count_feed_call)
            streams.meta.events.register("before-call.dynamodb-streams", self._count_feed_call)
            self._stack = stack
            self._feed_client = feed_client
            self._streams = streams
            self._client = client

    def _count_call(self, model: Any, **_: Any) -> None:
        # A before-call handler must return None, or its value replaces the call.
        name = str(model.name)
        self.call_counts[name] = self.call_counts.get(name, 0) + 1

    def _count_feed_call(self, model: Any, **_: Any) -> None:
        name = str(model.name)
        self.feed_call_counts[name] = self.feed_call_counts.get(name, 0) + 1

    async def _ready(self) -> Any:
        if self._closed:
            raise DatabaseUnavailable("the DynamoDB backend is closed")
        await self._ensure_clients()
        self._feed.start()
        return self._client

    # -- calls ----------------------------------------------------------------

    async def _api(
        self, client: Any, method: str, expect: Iterable[str] = (), **params: Any
    ) -> Any:
        """One API call, with every failure mapped to a backend error (see `call_api`)."""
        return await call_api(
            client,
            method,
            table=self.table,
            deadline_s=self.call_deadline_s,
            expect=expect,
            **params,
        )

    async def _shielded(self, coro: Coroutine[Any, Any, T]) -> T:
        """Runs a write to completion even if the caller is cancelled, so a committed
        change is always published."""
        task = asyncio.ensure_future(coro)
        self._inflight.add(task)
        task.add_done_callback(self._write_done)
        return await asyncio.shield(task)

    def _write_done(self, task: asyncio.Task[Any]) -> None:
        self._inflight.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved: an abandoned caller's error is not "never retrieved"

    async def _call(self, method: str, **params: Any) -> Any:
        """One API call on the data client (see `call_api`)."""
        return await self._api(await self._ready(), method, **params)

    # -- reads ----------------------------------------------------------------

    async def get(self, owner: str, task_id: str, now_ms: int) -> Record | None:
        client = await self._ready()
        self._feed.note_owner(owner, now_ms)
        if is_reserved(task_id):
            return None
        resp = await self._api(
            client,
            "get_item",
            TableName=self.table,
            Key=item_key(owner, task_id),
            ConsistentRead=True,
        )
        return alive_record(resp.get("Item"), now_ms)

    async def list(
        self, owner: str, *, before_task_id: str | None, limit: int, now_ms: int
    ) -> list[Record]:
        await self._ready()
        self._feed.note_owner(owner, now_ms)
        if limit <= 0 or (before_task_id is not None and before_task_id <= TASK_SK_MIN):
            return []
        values: dict[str, Any] = {
            ":pk": str_value(owner),
            ":lo": str_value(TASK_SK_MIN),
            ":now": num_value(now_ms),
        }
        if before_task_id is None:
            key_cond = "#pk = :pk AND #sk >= :lo"
        else:
            # BETWEEN is inclusive: the cursor's own item, if still there, is dropped below.
            key_cond = "#pk = :pk AND #sk BETWEEN :lo AND :hi"
            values[":hi"] = str_value(before_task_id)
        params = {
            "TableName": self.table,
            "KeyConditionExpression": key_cond,
            "FilterExpression": UNEXPIRED,
            "ExpressionAttributeNames": attr_names(key_cond, UNEXPIRED),
            "ExpressionAttributeValues": values,
            "ScanIndexForward": False,
            "ConsistentRead": True,
        }
        items = await collect(
            functools.partial(self._call, "query"),
            params,
            limit,
            lambda item: item["sk"]["S"] != before_task_id and item_record(item) is not None,
        )
        return [r for r in map(item_record, items) if r is not None]

    async def list_by_status(
        self,
        owner: str,
        statuses: frozenset[str],
        *,
        before_task_id: str | None,
        limit: int,
        now_ms: int,
    ) -> Records:
        await self._ready()
        self._feed.note_owner(owner, now_ms)
        return await self._indexes.list_by_status(owner, statuses, before_task_id, limit, now_ms)

    async def claimable(self, owner: str, *, group: str | None, limit: int, now_ms: int) -> Records:
        await self._ready()
        self._feed.note_owner(owner, now_ms)
        return await self._indexes.claimable(owner, group, limit, now_ms)

    async def due_leases(self, now_ms: int, limit: int) -> Keys:
        await self._ready()
        return await self._indexes.due_leases(now_ms, limit)

    def set_feed_retention(self, retention_ms: int) -> None:
        self._log.retention_ms = retention_ms

    async def read_events(self, owner: str, *, after: str, limit: int, now_ms: int) -> EventPage:
        await self._ready()
        self._feed.note_owner(owner, now_ms)
        return await self._log.read(self._call, owner, after, limit, now_ms)

    async def ping(self) -> None:
        client = await self._ready()
        await self._api(client, "get_item", TableName=self.table, Key=PING_KEY)

    async def sweep_expired(self, now_ms: int, limit: int) -> int:
        await self._ready()
        # Shielded as every write: a removal that commits is published.
        return await self._shielded(self._sweeper.sweep(now_ms, limit))

    # -- create ---------------------------------------------------------------

    async def create(
        self, record: Record, *, request_id: str | None, max_active: int, now_ms: int
    ) -> tuple[Record, bool]:
        client = await self._ready()
        self._feed.note_owner(record.owner, now_ms)
        return await self._shielded(
            self._create_serialized(client, record, request_id, max_active, now_ms)
        )

    async def _create_serialized(
        self,
        client: Any,
        record: Record,
        request_id: str | None,
        max_active: int,
        now_ms: int,
    ) -> tuple[Record, bool]:
        # Writes of one owner in this process would only conflict with each other on the
        # active-set and log items (TransactionConflict): queue them here instead.
        async with self._log.locks.hold(record.owner):
            return await self._create(client, record, request_id, max_active, now_ms)

    async def _create(
        self,
        client: Any,
        record: Record,
        request_id: str | None,
        max_active: int,
        now_ms: int,
    ) -> tuple[Record, bool]:
        owner = record.owner
        req_sk = None if request_id is None else request_sk(request_id)
        stale_holder: str | None = None  # the dead task a request-id item still names
        seen: ActiveSet | None = None  # the active set, when it must be pruned to admit
        for attempt in range(CREATE_ATTEMPTS):
            seq = await self._log.head(self._call, owner)
            write = self._writes.create_items(
                record,
                req_sk=req_sk,
                stale_holder=stale_holder,
                max_active=max_active,
                seen=seen,
                now_ms=now_ms,
                seq=seq + 1,
            )
            appended = self._log.append_items(
                owner, seq, EventKind.WRITE, record.task_id, record.version, now_ms
            )
            try:
                await self._committer.send(owner, [*write.items, *appended])
            except Cancelled as exc:
                moved = await self._committer.log_refuted(exc, len(write.items), owner, seq)
                request_failed = write.request_at is not None and exc.failed(write.request_at)
                if request_failed:
                    assert write.request_at is not None
                    req_item = exc.item(write.request_at)
                    if req_item is None:
                        stale_holder = None  # the stale item vanished (TTL): take it afresh
                    else:
                        existing = await self._request_holder(client, owner, req_item, now_ms)
                        if existing is not None:
                            return existing, False
                        stale_holder = req_item["task"]["S"]
                full = write.active_at is not None and exc.failed(write.active_at)
                if full:
                    assert write.active_at is not None
                    stored = ActiveSet.from_item(exc.item(write.active_at))
                    if stored.live(now_ms) >= max_active:
                        raise QuotaFull() from None
                    # Room once its expired entries go (or the set shrank meanwhile).
                    seen = stored if stored.expired(now_ms) else None
                if exc.transient:
                    await self._committer.backoff(attempt)
                elif not (full or request_failed or moved):
                    raise DatabaseUnavailable(f"DynamoDB create: {exc}") from None
                elif (full or request_failed) and attempt >= 2:
                    await self._committer.backoff(attempt - 2)
                continue
            self._log.note(owner, seq + 1)
            event = make_event(seq + 1, EventKind.WRITE, record.task_id, record.version, now_ms)
            self._feed.publish(Change(owner, record.task_id, record, EventKind.WRITE, event))
            return record, True
        raise DatabaseUnavailable(f"too much contention on the active set of {owner!r}")

    async def _request_holder(
        self, client: Any, owner: str, req_item: Item, now_ms: int
    ) -> Record | None:
        """The live task a request-id item names, or None when it is gone."""
        task_id = req_item["task"]["S"]
        resp = await self._api(
            client,
            "get_item",
            TableName=self.table,
            Key=item_key(owner, task_id),
            ConsistentRead=True,
        )
        return alive_record(resp.get("Item"), now_ms)

    # -- compare-and-swap -----------------------------------------------------

    async def compare_and_swap(
        self,
        record: Record,
        *,
        expected_version: int,
        now_ms: int,
        previous: Record | None = None,
    ) -> None:
        await self._ready()
        self._feed.note_owner(record.owner, now_ms)
        if is_reserved(record.task_id):
            raise RecordMissing()
        await self._shielded(self._cas(record, expected_version, now_ms, previous))

    def _why_not(self, item: Item | None, expected_version: int, now_ms: int) -> None:
        """Raises RecordMissing or VersionConflict for the stored (ALL_OLD) item."""
        current = alive_record(item, now_ms)
        if current is None:
            raise RecordMissing()
        if current.version != expected_version:
            raise VersionConflict(current.version)

    async def _cas(
        self,
        record: Record,
        expected_version: int,
        now_ms: int,
        previous: Record | None,
    ) -> None:
        req_sk = None if record.request_id is None else request_sk(record.request_id)
        # What the stored item's active flag and expiry are believed to be. The write is
        # conditioned on them, so a wrong belief fails (ALL_OLD tells the truth) instead
        # of leaving the active set or the request-id item behind. No hint: "unchanged".
        believed = (record.active, record.expire_at_ms)
        if previous is not None and (previous.owner, previous.task_id, previous.version) == (
            record.owner,
            record.task_id,
            expected_version,
        ):
            believed = (previous.active, previous.expire_at_ms)
        entry = Entry(record.owner, EventKind.WRITE, record.task_id, record.version, now_ms)
        for _ in range(3):
            was_active, was_expiring = believed
            extra: Items = []
            if was_active != record.active or (
                record.active and was_expiring != record.expire_at_ms
            ):
                extra.append({"Update": self._writes.active_set_update(record)})
            if req_sk is not None and was_expiring != record.expire_at_ms:
                # Its request-id item lives exactly as long as the task.
                extra.append({"Update": self._writes.request_expiry_update(record, req_sk)})
            same_expiry, values = same_expiry_condition(was_expiring)
            values[":was_a"] = {"BOOL": was_active}
            update = functools.partial(
                self._task_update,
                record,
                expected_version,
                now_ms,
                f"#a = :was_a AND {same_expiry}",
                values,
            )
            try:
                event = await self._committer.commit(update, extra, entry)
            except ConditionFailed as failed:
                self._why_not(failed.item, expected_version, now_ms)
                assert failed.item is not None  # alive, at that version: the belief was wrong
                stored = item_record(failed.item)
                assert stored is not None
                believed = (stored.active, stored.expire_at_ms)
                req_sk = failed.item.get("req", {}).get("S", req_sk)
                continue
            self._feed.publish(Change(record.owner, record.task_id, record, event=event))
            return
        raise DatabaseUnavailable("DynamoDB compare-and-swap: the stored item kept changing")

    def _task_update(
        self,
        record: Record,
        expected_version: int,
        now_ms: int,
        cond: str,
        values: dict[str, Any],
        seq: int,
    ) -> Item:
        write = self._writes.task_update(record, expected_version, now_ms, seq, cond, values)
        return {"Update": write}

    # -- delete ---------------------------------------------------------------

    async def delete(self, owner: str, task_id: str, now_ms: int) -> bool:
        await self._ready()
        self._feed.note_owner(owner, now_ms)
        if is_reserved(task_id):
            return False
        return await self._shielded(self._delete(owner, task_id, now_ms))

    async def _delete(self, owner: str, task_id: str, now_ms: int) -> bool:
        # The entry needs the task's last version: read it (and the log item, so the
        # transaction has the owner's seq right too) in one call.
        found = await batch_get(
            self._call, self.table, [item_key(owner, task_id), item_key(owner, LOG_SK)]
        )
        stored = {item["sk"]["S"]: item for item in found}
        self._log.note(owner, num_attr(stored.get(LOG_SK), "seq"))
        current = alive_record(stored.get(task_id), now_ms)
        # Leaving the active set is idempotent: no need to know whether it was in it.
        leave = [self._writes.active_set_leave(owner, task_id)]
        while current is not None:
            version = current.version
            delete = {"Delete": self._writes.task_delete(owner, task_id, version, now_ms)}
            subject = record_subject(current.data)
            entry = Entry(owner, EventKind.DELETED, task_id, version, now_ms, subject)
            try:
                event = await self._committer.commit(fixed(delete), leave, entry)
            except ConditionFailed as failed:  # written meanwhile: delete what is there now
                current = alive_record(failed.item, now_ms)
                continue
            self._feed.publish(Change(owner, task_id, None, EventKind.DELETED, event))
            return True
        return False

    # -- change feed ------------------------------------------------------------

    @property
    def feed_mode(self) -> str | None:
        """Which change feed runs, "streams" or "poll", once it has started (else None)."""
        return self._feed.mode

    def subscribe(self, on_change: ChangeListener, on_resync: ResyncListener) -> None:
        self._feed.subscribe(on_change, on_resync)
        with contextlib.suppress(RuntimeError):  # no running loop: the first call starts it
            asyncio.get_running_loop()
            self._feed.start()

    async def wait_feed_ready(self, timeout_s: float) -> bool:
        """Waits until the change feed follows the table; False if not within `timeout_s`."""
        await self._ready()
        try:
            await self._feed.wait_ready(timeout_s)
        except TimeoutError:
            return False
        return True

    async def _feed_clients(self) -> tuple[Any, Any]:
        """The change feed's own clients, so its calls count in `feed_call_counts`."""
        await self._ensure_clients()
        return self._feed_client, self._streams

    # -- table management -------------------------------------------------------

    async def create_table(self) -> None:
        """Creates the table (on demand billing), its TTL and its NEW_IMAGE stream.

        Idempotent: an existing table only gets what it lacks.
        """
        await self._ensure_clients()
        await ensure_table(self._client, self.table, deadline_s=self.call_deadline_s)

    async def set_stream(self, enabled: bool) -> None:
        """Turns the table's stream on or off (`table.set_stream`: off only while no
        server follows the table; `create_table` turns it back on too)."""
        await self._ensure_clients()
        await set_stream(self._client, self.table, enabled=enabled, deadline_s=self.call_deadline_s)

    async def load_history(
        self, records: Iterable[Record], now_ms: int, *, concurrency: int = 4
    ) -> int:
        """Puts finished tasks (terminal, no request id) straight into the table as old
        history, BatchWriteItem by BatchWriteItem, without log entries (`history`); how
        many. For the bench's owner with 100,000 tasks, which writing task by task
        through the owner's log would take hours on DynamoDB Local."""
        await self._ensure_clients()
        call = functools.partial(self._api, self._client)
        return await put_history(
            call, self._writes, records, now_ms, concurrency, self._committer.backoff
        )

    async def check_table(self) -> None:
        """Raises IncompatibleTable unless the table has every index this version reads
        (DatabaseUnavailable when it cannot be reached or does not exist)."""
        await self._ensure_clients()
        await check_table(self._client, self.table, deadline_s=self.call_deadline_s)

    async def delete_table(self) -> None:
        """Drops the table (tests)."""
        await self._ensure_clients()
        await drop_table(self._client, self.table, deadline_s=self.call_deadline_s)

    # -- lifecycle --------------------------------------------------------------

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._feed.halt()
        if self._inflight:
            # Let committed-or-not writes finish, so their changes are published.
            await asyncio.wait(set(self._inflight), timeout=self.call_deadline_s)
        await self._feed.stop()
        stack, self._stack = self._stack, None
        self._client = self._feed_client = self._streams = None
        if stack is not None:
            with contextlib.suppress(Exception):
                await stack.aclose()
