"""`dynamodb://TABLE?region=...&endpoint=http://...&create_table=true`: a shared store.

Several stateless replicas share one DynamoDB table. Every method is a small,
fixed number of round trips (counted per operation in `call_counts`), every read
is strongly consistent, and every infrastructure failure is `BackendUnavailable`.

URL options: `region` (else AWS_REGION / AWS_DEFAULT_REGION; `us-east-1` with an
`endpoint`), `endpoint` (e.g. DynamoDB Local), `create_table=true` (create the
table, its TTL and its stream at start-up, idempotently; `create_table()` does
the same on demand), `feed=auto|streams|poll` (see "Change feed") and
`timeout` (seconds per HTTP attempt, default 2; one retry; every call gives up
within 2 x 2 x timeout + 2 s with `BackendUnavailable`).

Items (one table, partition key `pk` = owner, sort key `sk`)
-------------------------------------------------------------
- A task: `sk` = task id (UUIDv7, so key order = creation order), `version` (N),
  `data` (B: the canonical JSON bytes), `active` (BOOL), `expire_at` (N, epoch
  ms; absent = never), `ttl` (N, epoch SECONDS rounded up, for DynamoDB's lazy
  TTL deletion; read paths never rely on it: every read checks `expire_at`),
  `mtime` (N, ms of the last write), `origin` (the writing backend instance,
  so the stream reader skips what it has already published locally) and `req`
  (the sort key of its request-id item, when created with a request id).
- The owner's active-task counter: `sk` = "#active", `rev` (N) and `tasks`
  (M: task id -> expire_at ms, 0 = never) = the owner's active tasks.
- A request id: `sk` = "#req#" + sha256(request id), `task` (S), `expire_at`,
  `ttl` (the task's, renewed with it).
Reserved sort keys start with "#", which sorts below every task id, and listing
reads only `sk >= "$"`, so reserved items are never read by a listing.

Active-task quota under concurrent creates on several replicas
---------------------------------------------------------------
A plain counter cannot see expiry, so the counter item holds the active set
itself: `tasks` maps each active task to its expire_at. The quota counts the
entries that have not expired at `now`; expired entries are pruned (at most 100
per create) by the creates that see them. Every create is ONE TransactWriteItems:
  1. Put the task;
  2. Update the counter: `SET rev = rev + 1, tasks.<new> = <expire_at>
     REMOVE tasks.<expired...>`, on the condition `rev = <the rev we counted on>`
     (or `attribute_not_exists(rev)` for an owner's first task);
  3. with a request id, Put its item on `attribute_not_exists(sk)`.
The count is computed client-side from a cached copy of the counter item: a
per-process LRU of owner -> (rev, tasks), refreshed from the transaction's own
`ReturnValuesOnConditionCheckFailure=ALL_OLD` when the rev has moved on. So a
create is 1 call when this replica's copy is current, and 2 when another
replica wrote in between (the failed transaction returns the current counter;
the retry commits). The rev condition serializes every quota decision of an
owner: exactly `max_active` of any number of concurrent creates can win. Within
one process, creates of the same owner are queued on a lock, so only replicas
race for the rev (no wasted transactions among a replica's own creates).

Entry removals (a task becomes terminal, is deleted) only ever shrink the set,
so they do not bump `rev`: a cached copy with the current rev is then a SUPERSET
of the stored set, the count from it is an upper bound, and admitting a create
on it is always safe. When the cached count says "full" (or the owner is not
cached), the counter is re-read (1 GetItem, or 1 BatchGetItem together with the
request-id item) before refusing, so a refusal is never based on stale data.
Writes that ADD or CHANGE an entry (a TTL renewal) do bump `rev`, so a create
racing them re-counts (this also makes it immune to clock skew between replicas
pruning an entry that another replica has just renewed).

Idempotent create: a conflicting request-id item is returned by the cancelled
transaction (ALL_OLD); its task is read (GetItem) and returned when it is
alive. When that task is gone (deleted, or expired), the request id is reused:
the retry overwrites the request-id item on the condition that it still names
the dead task. Deleting a task does not know its request id (no read before the
delete), so its request-id item is left for that path and for TTL.

Round trips
-----------
get: 1 GetItem. list: 1 Query per page (more only when expired items filtered
out of a page leave it short; never a Scan). create: 1 TransactWriteItems (2 when
another replica changed the owner's counter, or the cached counter says full:
+1 read; an idempotent retry: +1 GetItem). compare_and_swap: 1 (an UpdateItem on
the condition that the version matches and that `active` and `expire_at` are
unchanged, i.e. the counter needs no update; a terminal write is one transaction
with the counter update) and 2 when the expiry or the active flag changes (the
failed first attempt's ALL_OLD tells RecordMissing / VersionConflict(actual) /
"counter changes" apart with no extra read; the second is a transaction with the
counter and request-id updates). delete: 1 TransactWriteItems (task + counter).

Change feed
-----------
Own writes are published locally on the event loop right after they commit (even
if the caller is cancelled meanwhile). Other replicas' writes come from DynamoDB
Streams (NEW_IMAGE): DescribeStream, a LATEST iterator for each shard open at
subscribe time, a GetRecords loop (0.25 s sleep when idle), and shards that
appear later (rollover) read from TRIM_HORIZON once their parent is finished.
Task images become `Change`s; REMOVE events (deletes, TTL) become deletions;
reserved items and this instance's own images are skipped. On any feed error the
reader backs off (0.5 s doubling to 10 s), starts again from LATEST and calls
`on_resync` once it has recovered.

Without a stream (`feed=poll`, or `auto` on a table whose stream is off or keeps
no new image) the feed polls instead, once a second, the partitions of the
owners this instance has served in the last hour (at most 1,000 owners): a
keys-and-versions Query per owner, then a BatchGetItem of the tasks whose version
moved; a task that vanished or expired is published as a deletion. No extra
writes are made for it; it costs reads in proportion to watched owners' tasks,
so Streams remain the recommended setup.

Limits: records are capped at `max_record_bytes` (350,000, under DynamoDB's 400 KB
item limit); an oversized item is `RecordTooLarge`. The counter item holds one
~45-byte entry per active task, so `--max-active-tasks` must stay well under
~8,000 on this backend.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import random
import re
import time
from collections import OrderedDict
from collections.abc import Coroutine, Iterable
from dataclasses import dataclass, field
from typing import Any, Final, TypeVar
from urllib.parse import parse_qsl, unquote, urlsplit

import aioboto3
import aiohttp
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from . import StoreURLError
from .base import (
    BackendUnavailable,
    Change,
    ChangeListener,
    QuotaExceeded,
    Record,
    RecordMissing,
    RecordTooLarge,
    ResyncListener,
    VersionConflict,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

MAX_RECORD_BYTES: Final = 350_000
TIMEOUT_S: Final = 2.0
"""Default connect and read timeout of one HTTP attempt (URL option `timeout`, seconds)."""
MAX_ATTEMPTS: Final = 2
"""botocore attempts per call (1 retry)."""
CREATE_ATTEMPTS: Final = 200
PRUNE_PER_CREATE: Final = 100
COUNTER_CACHE_OWNERS: Final = 10_000
TABLE_ACTIVE_TIMEOUT_S: Final = 120.0

STREAM_IDLE_S: Final = 0.25
SHARD_RESCAN_S: Final = 30.0
FEED_BACKOFF_MIN_S: Final = 0.5
FEED_BACKOFF_MAX_S: Final = 10.0
POLL_INTERVAL_S: Final = 1.0
POLL_OWNER_IDLE_S: Final = 3600.0
POLL_OWNERS_MAX: Final = 1_000
POLL_SKEW_MS: Final = 5_000

COUNTER_SK: Final = "#active"
REQ_PREFIX: Final = "#req#"
RESERVED_PREFIX: Final = "#"
TASK_SK_MIN: Final = "$"
"""Every task id sorts at or above this; every reserved sort key below it."""
PING_KEY: Final = {"pk": {"S": "#ping"}, "sk": {"S": "#ping"}}

_NAMES: Final = {
    "#pk": "pk",
    "#sk": "sk",
    "#v": "version",
    "#d": "data",
    "#a": "active",
    "#e": "expire_at",
    "#ttl": "ttl",
    "#mt": "mtime",
    "#o": "origin",
    "#rq": "req",
    "#rev": "rev",
    "#tasks": "tasks",
    "#task": "task",
}
_PLACEHOLDER = re.compile(r"#\w+")
_TABLE_NAME = re.compile(r"[A-Za-z0-9_.-]{3,255}")
_UNEXPIRED: Final = "(attribute_not_exists(#e) OR #e > :now)"
_FEEDS: Final = ("auto", "streams", "poll")
_TRANSIENT_REASONS: Final = frozenset(
    {"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"}
)

Item = dict[str, Any]
"""A DynamoDB item in the low-level client's attribute-value format."""
Items = list[Item]
"""(An alias: inside the backend class, `list` is the method.)"""


# -- errors -----------------------------------------------------------------


class _ConditionFailed(Exception):
    """A single-item write's condition failed; `item` is the stored item (ALL_OLD)."""

    def __init__(self, item: Item | None) -> None:
        super().__init__("condition failed")
        self.item = item


@dataclass(frozen=True, slots=True)
class _Reason:
    code: str
    item: Item | None
    message: str


class _Cancelled(Exception):
    """A transaction was cancelled; one reason per TransactItems entry, in order."""

    def __init__(self, reasons: list[_Reason]) -> None:
        super().__init__("transaction cancelled: " + ", ".join(r.code for r in reasons))
        self.reasons = reasons

    def failed(self, index: int) -> bool:
        return index < len(self.reasons) and self.reasons[index].code == "ConditionalCheckFailed"

    def item(self, index: int) -> Item | None:
        return self.reasons[index].item if index < len(self.reasons) else None

    @property
    def transient(self) -> bool:
        return any(r.code in _TRANSIENT_REASONS for r in self.reasons)


class _ApiError(Exception):
    """A service error the caller asked to handle itself."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


def _too_large(message: str) -> bool:
    text = message.lower()
    return "size" in text and ("exceed" in text or "maximum" in text)


# -- items ------------------------------------------------------------------


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _n(value: int) -> dict[str, str]:
    return {"N": str(value)}


def _ttl_seconds(expire_at_ms: int) -> int:
    # Rounded UP, so DynamoDB never deletes a task before it has expired.
    return -(-expire_at_ms // 1000)


def _key(owner: str, sk: str) -> Item:
    return {"pk": _s(owner), "sk": _s(sk)}


def _req_sk(request_id: str) -> str:
    # Hashed: any request id fits DynamoDB's 1 KiB sort key, and none can collide.
    return REQ_PREFIX + hashlib.sha256(request_id.encode("utf-8")).hexdigest()


def _reserved(task_id: str) -> bool:
    return task_id < TASK_SK_MIN


def _record(item: Item | None) -> Record | None:
    """The task in `item`, or None for a reserved item or no item."""
    if not item or "data" not in item or "version" not in item:
        return None
    expire = item.get("expire_at")
    return Record(
        owner=item["pk"]["S"],
        task_id=item["sk"]["S"],
        version=int(item["version"]["N"]),
        data=bytes(item["data"]["B"]),
        active=bool(item.get("active", {}).get("BOOL", False)),
        expire_at_ms=None if expire is None else int(expire["N"]),
    )


def _alive(item: Item | None, now_ms: int) -> Record | None:
    rec = _record(item)
    return None if rec is None or rec.expired(now_ms) else rec


def _names(*expressions: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    """ExpressionAttributeNames for exactly the placeholders used (DynamoDB rejects unused)."""
    table = dict(_NAMES)
    if extra:
        table.update(extra)
    used: dict[str, str] = {}
    for expr in expressions:
        for ph in _PLACEHOLDER.findall(expr):
            used[ph] = table[ph]
    return used


def _same_expiry(expire_at_ms: int | None) -> tuple[str, dict[str, Any]]:
    if expire_at_ms is None:
        return "attribute_not_exists(#e)", {}
    return "#e = :ne", {":ne": _n(expire_at_ms)}


@dataclass(slots=True)
class _Counter:
    """An owner's counter item: its revision and active set (task id -> expire_at, 0 = never)."""

    rev: int
    tasks: dict[str, int]

    @classmethod
    def from_item(cls, item: Item | None) -> _Counter:
        if not item or "rev" not in item:
            return cls(0, {})
        tasks = {k: int(v["N"]) for k, v in item.get("tasks", {}).get("M", {}).items()}
        return cls(int(item["rev"]["N"]), tasks)

    def live(self, now_ms: int) -> int:
        return sum(1 for exp in self.tasks.values() if exp == 0 or exp > now_ms)


@dataclass(slots=True)
class _PolledOwner:
    """Polling-feed state of one owner."""

    since_ms: int
    last_seen: float
    known: dict[str, int] = field(default_factory=dict)
    polled: bool = False


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

    max_record_bytes: int | None = MAX_RECORD_BYTES

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
        self.feed_mode: str | None = None
        """"streams" or "poll" once the change feed has started."""
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
        self._counters: OrderedDict[str, _Counter] = OrderedDict()
        self._create_locks: dict[str, tuple[asyncio.Lock, int]] = {}
        self._on_change: ChangeListener | None = None
        self._on_resync: ResyncListener | None = None
        self._feed_task: asyncio.Task[None] | None = None
        self._feed_ready = asyncio.Event()
        self._feed_broken = False
        self._feed_backoff = FEED_BACKOFF_MIN_S
        self._poll_owners: OrderedDict[str, _PolledOwner] = OrderedDict()
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
            await backend.ping()
        except BaseException:
            await backend.close()
            raise
        return backend

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
                raise BackendUnavailable("the DynamoDB backend is closed")
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
                raise BackendUnavailable(f"DynamoDB client setup failed: {exc}") from exc
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
            raise BackendUnavailable("the DynamoDB backend is closed")
        await self._ensure_clients()
        self._start_feed()
        return self._client

    # -- calls ----------------------------------------------------------------

    async def _api(
        self, client: Any, method: str, expect: Iterable[str] = (), **params: Any
    ) -> Any:
        """One API call, with every failure mapped to a backend error.

        ConditionalCheckFailed -> _ConditionFailed(ALL_OLD item); a cancelled
        transaction -> _Cancelled; a code in `expect` -> _ApiError; an item over
        the size limit -> RecordTooLarge; anything else -> BackendUnavailable.
        """
        try:
            async with asyncio.timeout(self.call_deadline_s):
                return await getattr(client, method)(**params)
        except ClientError as exc:
            response: dict[str, Any] = exc.response
            error = response.get("Error", {})
            code = str(error.get("Code", ""))
            message = str(error.get("Message", ""))
            if code == "ConditionalCheckFailedException":
                raise _ConditionFailed(response.get("Item")) from None
            if code == "TransactionCanceledException":
                reasons = [
                    _Reason(str(r.get("Code", "None")), r.get("Item"), str(r.get("Message", "")))
                    for r in response.get("CancellationReasons", [])
                ]
                if any(r.code == "ValidationError" and _too_large(r.message) for r in reasons):
                    raise RecordTooLarge("the record is over DynamoDB's item size limit") from None
                raise _Cancelled(reasons) from None
            if code in expect:
                raise _ApiError(code, message) from None
            if code == "ValidationException" and _too_large(message):
                raise RecordTooLarge("the record is over DynamoDB's item size limit") from None
            if code == "ResourceNotFoundException":
                raise BackendUnavailable(
                    f"DynamoDB table {self.table!r} not found ({message}); create it with "
                    "create_table=true in the store URL or `taskstate-server init-dynamodb`"
                ) from exc
            raise BackendUnavailable(f"DynamoDB {method}: {code}: {message}") from exc
        except (BotoCoreError, aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise BackendUnavailable(f"DynamoDB {method}: {exc or type(exc).__name__}") from exc

    async def _shielded(self, coro: Coroutine[Any, Any, T]) -> T:
        """Runs a write to completion even if the caller is cancelled, so a committed
        change is always published (and the counter cache kept right)."""
        task = asyncio.ensure_future(coro)
        self._inflight.add(task)
        task.add_done_callback(self._write_done)
        return await asyncio.shield(task)

    def _write_done(self, task: asyncio.Task[Any]) -> None:
        self._inflight.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved: an abandoned caller's error is not "never retrieved"

    # -- reads ----------------------------------------------------------------

    async def get(self, owner: str, task_id: str, now_ms: int) -> Record | None:
        client = await self._ready()
        self._note_owner(owner, now_ms)
        if _reserved(task_id):
            return None
        resp = await self._api(
            client,
            "get_item",
            TableName=self.table,
            Key=_key(owner, task_id),
            ConsistentRead=True,
        )
        return _alive(resp.get("Item"), now_ms)

    async def list(
        self, owner: str, *, before_task_id: str | None, limit: int, now_ms: int
    ) -> list[Record]:
        client = await self._ready()
        self._note_owner(owner, now_ms)
        if limit <= 0 or (before_task_id is not None and before_task_id <= TASK_SK_MIN):
            return []
        values: dict[str, Any] = {":pk": _s(owner), ":lo": _s(TASK_SK_MIN), ":now": _n(now_ms)}
        if before_task_id is None:
            key_cond = "#pk = :pk AND #sk >= :lo"
        else:
            # BETWEEN is inclusive: the cursor's own item, if still there, is dropped below.
            key_cond = "#pk = :pk AND #sk BETWEEN :lo AND :hi"
            values[":hi"] = _s(before_task_id)
        out: list[Record] = []
        start_key: Item | None = None
        while len(out) < limit:
            params: dict[str, Any] = {
                "TableName": self.table,
                "KeyConditionExpression": key_cond,
                "FilterExpression": _UNEXPIRED,
                "ExpressionAttributeNames": _names(key_cond, _UNEXPIRED),
                "ExpressionAttributeValues": values,
                "ScanIndexForward": False,
                "ConsistentRead": True,
                "Limit": limit - len(out) + (1 if before_task_id is not None else 0),
            }
            if start_key is not None:
                params["ExclusiveStartKey"] = start_key
            resp = await self._api(client, "query", **params)
            for item in resp.get("Items", []):
                rec = _record(item)
                if rec is None or rec.task_id == before_task_id:
                    continue
                out.append(rec)
                if len(out) == limit:
                    break
            start_key = resp.get("LastEvaluatedKey")
            if start_key is None:
                break
        return out

    async def ping(self) -> None:
        client = await self._ready()
        await self._api(client, "get_item", TableName=self.table, Key=PING_KEY)

    async def sweep_expired(self, now_ms: int, limit: int) -> int:
        # DynamoDB's TTL deletes expired items itself (their REMOVE events reach
        # the feed); until then every read treats them as absent. Finding them
        # here would take a Scan of the whole table.
        if self._closed:
            raise BackendUnavailable("the DynamoDB backend is closed")
        return 0

    # -- create ---------------------------------------------------------------

    async def create(
        self, record: Record, *, request_id: str | None, max_active: int, now_ms: int
    ) -> tuple[Record, bool]:
        client = await self._ready()
        self._note_owner(record.owner, now_ms)
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
        # Creates of one owner in this process would only race each other for the
        # counter's rev: queue them here, so the rev race is only ever between
        # replicas (and each create is still ONE call while the cache is current).
        owner = record.owner
        lock, users = self._create_locks.get(owner) or (asyncio.Lock(), 0)
        self._create_locks[owner] = (lock, users + 1)
        try:
            async with lock:
                return await self._create(client, record, request_id, max_active, now_ms)
        finally:
            lock, users = self._create_locks[owner]
            if users == 1:
                del self._create_locks[owner]
            else:
                self._create_locks[owner] = (lock, users - 1)

    async def _create(
        self,
        client: Any,
        record: Record,
        request_id: str | None,
        max_active: int,
        now_ms: int,
    ) -> tuple[Record, bool]:
        owner = record.owner
        req_sk = None if request_id is None else _req_sk(request_id)
        stale_holder: str | None = None  # the dead task a request-id item still names
        # An owner this process has not cached is assumed new: the transaction's
        # attribute_not_exists(rev) condition checks that assumption.
        counter = self._counters.get(owner) or _Counter(0, {})
        fresh = False  # `counter` was just returned by the database (ALL_OLD)
        for attempt in range(CREATE_ATTEMPTS):
            if counter.live(now_ms) >= max_active:
                if fresh and req_sk is None:
                    raise QuotaExceeded()
                counter, req_item = await self._read_counter(client, owner, req_sk)
                self._cache_counter(owner, counter)
                if req_item is not None:
                    existing = await self._request_holder(client, owner, req_item, now_ms)
                    if existing is not None:
                        return existing, False
                    stale_holder = req_item["task"]["S"]
                if counter.live(now_ms) >= max_active:
                    raise QuotaExceeded()
            items, updated = self._create_items(record, counter, req_sk, stale_holder, now_ms)
            try:
                await self._api(client, "transact_write_items", TransactItems=items)
            except _Cancelled as exc:
                fresh = exc.failed(1)
                if fresh:
                    counter = _Counter.from_item(exc.item(1))
                    self._cache_counter(owner, counter)
                if req_sk is not None and exc.failed(2):
                    req_item = exc.item(2)
                    if req_item is None:
                        stale_holder = None  # the stale item vanished (TTL): take it afresh
                    else:
                        existing = await self._request_holder(client, owner, req_item, now_ms)
                        if existing is not None:
                            return existing, False
                        stale_holder = req_item["task"]["S"]
                if exc.transient:
                    await self._backoff(attempt)
                elif not (exc.failed(1) or exc.failed(2)):
                    raise BackendUnavailable(f"DynamoDB create: {exc}") from None
                elif attempt >= 2:
                    await self._backoff(attempt - 2)
                continue
            self._cache_counter(owner, updated)
            self._publish(Change(owner, record.task_id, record))
            return record, True
        raise BackendUnavailable(f"too much contention on the active-task counter of {owner!r}")

    @staticmethod
    async def _backoff(attempt: int) -> None:
        await asyncio.sleep(random.uniform(0, min(0.2, 0.005 * 2 ** min(attempt, 6))))

    def _cache_counter(self, owner: str, counter: _Counter) -> None:
        self._counters[owner] = counter
        self._counters.move_to_end(owner)
        while len(self._counters) > COUNTER_CACHE_OWNERS:
            self._counters.popitem(last=False)

    async def _read_counter(
        self, client: Any, owner: str, req_sk: str | None
    ) -> tuple[_Counter, Item | None]:
        """The counter item (and the request-id item) in ONE consistent read."""
        if req_sk is None:
            resp = await self._api(
                client,
                "get_item",
                TableName=self.table,
                Key=_key(owner, COUNTER_SK),
                ConsistentRead=True,
            )
            return _Counter.from_item(resp.get("Item")), None
        keys = [_key(owner, COUNTER_SK), _key(owner, req_sk)]
        found: list[Item] = []
        for attempt in range(8):
            resp = await self._api(
                client,
                "batch_get_item",
                RequestItems={self.table: {"Keys": keys, "ConsistentRead": True}},
            )
            found.extend(resp.get("Responses", {}).get(self.table, []))
            keys = resp.get("UnprocessedKeys", {}).get(self.table, {}).get("Keys", [])
            if not keys:
                break
            await self._backoff(attempt + 3)
        else:
            raise BackendUnavailable("DynamoDB BatchGetItem: keys left unprocessed (throttled)")
        by_sk = {item["sk"]["S"]: item for item in found}
        return _Counter.from_item(by_sk.get(COUNTER_SK)), by_sk.get(req_sk)

    async def _request_holder(
        self, client: Any, owner: str, req_item: Item, now_ms: int
    ) -> Record | None:
        """The live task a request-id item names, or None when it is gone."""
        task_id = req_item["task"]["S"]
        resp = await self._api(
            client,
            "get_item",
            TableName=self.table,
            Key=_key(owner, task_id),
            ConsistentRead=True,
        )
        return _alive(resp.get("Item"), now_ms)

    def _task_item(self, record: Record, now_ms: int, req_sk: str | None) -> Item:
        item: Item = {
            **_key(record.owner, record.task_id),
            "version": _n(record.version),
            "data": {"B": record.data},
            "active": {"BOOL": record.active},
            "mtime": _n(now_ms),
            "origin": _s(self._origin),
        }
        if record.expire_at_ms is not None:
            item["expire_at"] = _n(record.expire_at_ms)
            item["ttl"] = _n(_ttl_seconds(record.expire_at_ms))
        if req_sk is not None:
            item["req"] = _s(req_sk)
        return item

    def _create_items(
        self,
        record: Record,
        counter: _Counter,
        req_sk: str | None,
        stale_holder: str | None,
        now_ms: int,
    ) -> tuple[Items, _Counter]:
        owner, task_id = record.owner, record.task_id
        tasks = dict(counter.tasks)
        expired = [t for t, exp in tasks.items() if exp != 0 and exp <= now_ms and t != task_id]
        removed = expired[:PRUNE_PER_CREATE]
        if not record.active and task_id in tasks:
            removed.append(task_id)
        for t in removed:
            del tasks[t]
        if record.active:
            tasks[task_id] = record.expire_at_ms or 0
        updated = _Counter(counter.rev + 1, tasks)

        values: dict[str, Any] = {":rev": _n(updated.rev)}
        extra: dict[str, str] = {}
        if counter.rev == 0:
            expr = "SET #rev = :rev, #tasks = :tasks"
            cond = "attribute_not_exists(#rev)"
            values[":tasks"] = {"M": {t: _n(exp) for t, exp in tasks.items()}}
        else:
            sets = ["#rev = :rev"]
            if record.active:
                extra["#new"] = task_id
                sets.append("#tasks.#new = :exp")
                values[":exp"] = _n(record.expire_at_ms or 0)
            expr = "SET " + ", ".join(sets)
            if removed:
                for i, t in enumerate(removed):
                    extra[f"#x{i}"] = t
                expr += " REMOVE " + ", ".join(f"#tasks.#x{i}" for i in range(len(removed)))
            cond = "#rev = :old"
            values[":old"] = _n(counter.rev)
        items: list[Item] = [
            # No condition on the task itself: the id is fresh (UUIDv7), and a reused
            # id replaces the old record, as in the memory and SQLite backends.
            {"Put": {"TableName": self.table, "Item": self._task_item(record, now_ms, req_sk)}},
            {
                "Update": {
                    "TableName": self.table,
                    "Key": _key(owner, COUNTER_SK),
                    "UpdateExpression": expr,
                    "ConditionExpression": cond,
                    "ExpressionAttributeNames": _names(expr, cond, extra=extra),
                    "ExpressionAttributeValues": values,
                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                }
            },
        ]
        if req_sk is not None:
            req_item: Item = {**_key(owner, req_sk), "task": _s(task_id)}
            if record.expire_at_ms is not None:
                req_item["expire_at"] = _n(record.expire_at_ms)
                req_item["ttl"] = _n(_ttl_seconds(record.expire_at_ms))
            put: dict[str, Any] = {"TableName": self.table, "Item": req_item}
            if stale_holder is None:
                put["ConditionExpression"] = "attribute_not_exists(#sk)"
            else:
                put["ConditionExpression"] = "#task = :stale"
                put["ExpressionAttributeValues"] = {":stale": _s(stale_holder)}
            put["ExpressionAttributeNames"] = _names(put["ConditionExpression"])
            put["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
            items.append({"Put": put})
        return items, updated

    # -- compare-and-swap -----------------------------------------------------

    async def compare_and_swap(self, record: Record, *, expected_version: int, now_ms: int) -> None:
        client = await self._ready()
        self._note_owner(record.owner, now_ms)
        if _reserved(record.task_id):
            raise RecordMissing()
        await self._shielded(self._cas(client, record, expected_version, now_ms))

    def _task_update(
        self, record: Record, expected_version: int, now_ms: int, extra_cond: str = ""
    ) -> dict[str, Any]:
        sets = "#v = :v, #d = :d, #a = :a, #mt = :mt, #o = :o"
        values: dict[str, Any] = {
            ":v": _n(record.version),
            ":d": {"B": record.data},
            ":a": {"BOOL": record.active},
            ":mt": _n(now_ms),
            ":o": _s(self._origin),
            ":ev": _n(expected_version),
            ":now": _n(now_ms),
        }
        if record.expire_at_ms is None:
            expr = f"SET {sets} REMOVE #e, #ttl"
        else:
            expr = f"SET {sets}, #e = :e, #ttl = :ttl"
            values[":e"] = _n(record.expire_at_ms)
            values[":ttl"] = _n(_ttl_seconds(record.expire_at_ms))
        cond = f"#v = :ev AND {_UNEXPIRED}"
        if extra_cond:
            cond = f"{cond} AND {extra_cond}"
        return {
            "TableName": self.table,
            "Key": _key(record.owner, record.task_id),
            "UpdateExpression": expr,
            "ConditionExpression": cond,
            "ExpressionAttributeNames": _names(expr, cond),
            "ExpressionAttributeValues": values,
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }

    def _counter_update(self, record: Record, *, create_map: bool = False) -> dict[str, Any]:
        """The counter change mirroring `record`'s active flag and expiry."""
        key = _key(record.owner, COUNTER_SK)
        extra = {"#t": record.task_id}
        if create_map:
            # The owner has no counter item (only possible for a table edited by
            # hand): make one that holds just this task.
            tasks = {record.task_id: _n(record.expire_at_ms or 0)} if record.active else {}
            expr, cond = "SET #tasks = :m, #rev = :one", "attribute_not_exists(#rev)"
            values: dict[str, Any] = {":m": {"M": tasks}, ":one": _n(1)}
            extra = {}
        elif record.active:
            # Adding or changing an entry bumps rev, so racing creates re-count.
            expr = "SET #tasks.#t = :e ADD #rev :one"
            cond = "attribute_exists(#tasks)"
            values = {":e": _n(record.expire_at_ms or 0), ":one": _n(1)}
        else:
            # Removing an entry only lowers the count: cached copies stay safe.
            expr, cond, values = "REMOVE #tasks.#t", "attribute_exists(#tasks)", {}
        update: dict[str, Any] = {
            "TableName": self.table,
            "Key": key,
            "UpdateExpression": expr,
            "ConditionExpression": cond,
            "ExpressionAttributeNames": _names(expr, cond, extra=extra),
        }
        if values:
            update["ExpressionAttributeValues"] = values
        return update

    def _why_not(self, item: Item | None, expected_version: int, now_ms: int) -> None:
        """Raises RecordMissing or VersionConflict for the stored (ALL_OLD) item."""
        current = _alive(item, now_ms)
        if current is None:
            raise RecordMissing()
        if current.version != expected_version:
            raise VersionConflict(current.version)

    async def _cas(self, client: Any, record: Record, expected_version: int, now_ms: int) -> None:
        same_expiry, expiry_values = _same_expiry(record.expire_at_ms)
        # Fast path: the active flag and expiry the counter mirrors do not change.
        fast = self._task_update(record, expected_version, now_ms, same_expiry)
        fast["ExpressionAttributeValues"].update(expiry_values)
        stored: Item | None
        try:
            if record.active:
                fast["ConditionExpression"] += " AND #a = :true"
                fast["ExpressionAttributeValues"][":true"] = {"BOOL": True}
                fast["ExpressionAttributeNames"] = _names(
                    fast["UpdateExpression"], fast["ConditionExpression"]
                )
                await self._api(client, "update_item", **fast)
            else:
                fast["ExpressionAttributeNames"] = _names(
                    fast["UpdateExpression"], fast["ConditionExpression"]
                )
                await self._write_with_counter(client, record, fast)
            self._publish(Change(record.owner, record.task_id, record))
            return
        except _ConditionFailed as exc:
            stored = exc.item
        except _Cancelled as exc:
            if not exc.failed(0):
                raise BackendUnavailable(f"DynamoDB compare-and-swap: {exc}") from None
            stored = exc.item(0)
        self._why_not(stored, expected_version, now_ms)
        # The task is current, but its active flag or expiry changes: one transaction
        # updates it together with the counter (and its request-id item's expiry).
        task_update = self._task_update(record, expected_version, now_ms)
        extra_items: list[Item] = []
        req_sk = (stored or {}).get("req", {}).get("S")
        if req_sk is not None:
            # The request-id item lives exactly as long as its task.
            req_values: dict[str, Any] = {":tid": _s(record.task_id)}
            if record.expire_at_ms is None:
                req_expr = "REMOVE #e, #ttl"
            else:
                req_expr = "SET #e = :e, #ttl = :ttl"
                req_values[":e"] = _n(record.expire_at_ms)
                req_values[":ttl"] = _n(_ttl_seconds(record.expire_at_ms))
            extra_items.append(
                {
                    "Update": {
                        "TableName": self.table,
                        "Key": _key(record.owner, req_sk),
                        "UpdateExpression": req_expr,
                        "ConditionExpression": "#task = :tid",
                        "ExpressionAttributeNames": _names(req_expr, "#task"),
                        "ExpressionAttributeValues": req_values,
                    }
                }
            )
        try:
            await self._write_with_counter(client, record, task_update, extra_items)
        except _Cancelled as exc:
            if exc.failed(0):
                self._why_not(exc.item(0), expected_version, now_ms)
            if len(exc.reasons) > 2 and exc.failed(2):
                # The request id was reused (this task had expired meanwhile), or its
                # item was removed: update the task and counter without it.
                await self._write_with_counter(client, record, task_update)
            else:
                raise BackendUnavailable(f"DynamoDB compare-and-swap: {exc}") from None
        self._publish(Change(record.owner, record.task_id, record))

    async def _write_with_counter(
        self,
        client: Any,
        record: Record,
        task_write: dict[str, Any],
        extra_items: Items | None = None,
        *,
        kind: str = "Update",
    ) -> None:
        """One transaction: the task write plus the counter change (+ extra items).

        Retries transient cancellations; an owner without a counter item gets one.
        Raises _Cancelled when the task's (index 0) or an extra item's condition fails.
        """
        create_map = False
        for attempt in range(8):
            items: list[Item] = [
                {kind: task_write},
                {"Update": self._counter_update(record, create_map=create_map)},
                *(extra_items or []),
            ]
            try:
                await self._api(client, "transact_write_items", TransactItems=items)
            except _Cancelled as exc:
                if exc.failed(0) or any(exc.failed(i) for i in range(2, len(items))):
                    raise
                if exc.failed(1):
                    create_map = not create_map
                    continue
                if not exc.transient:
                    raise BackendUnavailable(f"DynamoDB write: {exc}") from None
                await self._backoff(attempt)
                continue
            cached = self._counters.get(record.owner)
            if cached is not None and not record.active:
                # A removal keeps the rev: drop the entry from our copy too (it
                # stays a superset of the stored set).
                cached.tasks.pop(record.task_id, None)
            return
        raise BackendUnavailable("DynamoDB write: transaction kept conflicting")

    # -- delete ---------------------------------------------------------------

    async def delete(self, owner: str, task_id: str, now_ms: int) -> bool:
        client = await self._ready()
        self._note_owner(owner, now_ms)
        if _reserved(task_id):
            return False
        return await self._shielded(self._delete(client, owner, task_id, now_ms))

    async def _delete(self, client: Any, owner: str, task_id: str, now_ms: int) -> bool:
        # An expired item is left to DynamoDB's TTL, which publishes its REMOVE.
        cond = f"attribute_exists(#v) AND {_UNEXPIRED}"
        delete = {
            "TableName": self.table,
            "Key": _key(owner, task_id),
            "ConditionExpression": cond,
            "ExpressionAttributeNames": _names(cond),
            "ExpressionAttributeValues": {":now": _n(now_ms)},
        }
        # The counter change of a deletion is a removal: mirror an inactive record.
        gone = Record(owner, task_id, 0, b"", False, None)
        try:
            await self._write_with_counter(client, gone, delete, kind="Delete")
        except _Cancelled:
            return False
        self._publish(Change(owner, task_id, None))
        return True

    # -- change feed ------------------------------------------------------------

    def subscribe(self, on_change: ChangeListener, on_resync: ResyncListener) -> None:
        self._on_change = on_change
        self._on_resync = on_resync
        with contextlib.suppress(RuntimeError):  # no running loop: the first call starts it
            asyncio.get_running_loop()
            self._start_feed()

    async def wait_feed_ready(self, within_s: float | None = None) -> None:
        """Waits until the change feed is following the table (tests, start-up)."""
        await self._ready()
        await asyncio.wait_for(self._feed_ready.wait(), within_s)

    def _start_feed(self) -> None:
        if self._feed_task is None and self._on_change is not None and not self._closed:
            self._feed_task = asyncio.get_running_loop().create_task(
                self._run_feed(), name=f"dynamodb-feed-{self.table}"
            )

    def _publish(self, change: Change) -> None:
        """A change this instance committed: published at once, on the event loop."""
        state = self._poll_owners.get(change.owner)
        if state is not None:
            if change.record is None:
                state.known.pop(change.task_id, None)
            else:
                state.known[change.task_id] = change.record.version
        self._emit(change)

    def _emit(self, change: Change) -> None:
        if self._on_change is None:
            return
        try:
            self._on_change(change)
        except Exception:
            log.exception("the change listener failed on %s/%s", change.owner, change.task_id)

    def _recovered(self) -> None:
        """The feed is following the table; after an interruption, tell the listener."""
        self._feed_ready.set()
        self._feed_backoff = FEED_BACKOFF_MIN_S
        if self._feed_broken:
            self._feed_broken = False
            log.info("the DynamoDB change feed has recovered")
            if self._on_resync is not None:
                try:
                    self._on_resync()
                except Exception:
                    log.exception("the resync listener failed")

    async def _run_feed(self) -> None:
        while not self._closed:
            try:
                await self._ensure_clients()
                arn = await self._stream_arn()
                if arn is not None:
                    self.feed_mode = "streams"
                    await self._follow_stream(arn)
                else:
                    self.feed_mode = "poll"
                    await self._poll_changes()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if self._closed:
                    return
                self._feed_ready.clear()
                self._feed_broken = True
                log.warning(
                    "the DynamoDB change feed failed (retrying in %.1fs): %s",
                    self._feed_backoff,
                    exc,
                )
                await asyncio.sleep(self._feed_backoff)
                self._feed_backoff = min(self._feed_backoff * 2, FEED_BACKOFF_MAX_S)

    async def _stream_arn(self) -> str | None:
        """The table's usable stream, or None to poll."""
        if self.feed == "poll":
            return None
        resp = await self._api(self._feed_client, "describe_table", TableName=self.table)
        table = resp["Table"]
        spec = table.get("StreamSpecification") or {}
        arn = table.get("LatestStreamArn")
        usable = (
            bool(spec.get("StreamEnabled"))
            and arn is not None
            and spec.get("StreamViewType") in ("NEW_IMAGE", "NEW_AND_OLD_IMAGES")
        )
        if usable:
            return str(arn)
        if self.feed == "streams":
            raise BackendUnavailable(
                f"table {self.table!r} has no stream with new images (feed=streams)"
            )
        log.warning(
            "table %r has no stream with new images: the change feed polls instead", self.table
        )
        return None

    async def _shards(self, arn: str) -> Items:
        shards: Items = []
        params: dict[str, Any] = {"StreamArn": arn}
        while True:
            resp = await self._api(self._streams, "describe_stream", **params)
            desc = resp["StreamDescription"]
            shards.extend(desc.get("Shards", []))
            last = desc.get("LastEvaluatedShardId")
            if not last:
                return shards
            params["ExclusiveStartShardId"] = last

    async def _iterator(self, arn: str, shard_id: str, kind: str) -> str:
        resp = await self._api(
            self._streams,
            "get_shard_iterator",
            StreamArn=arn,
            ShardId=shard_id,
            ShardIteratorType=kind,
        )
        return str(resp["ShardIterator"])

    async def _follow_stream(self, arn: str) -> None:
        loop = asyncio.get_running_loop()
        seen: set[str] = set()
        iterators: dict[str, str] = {}
        for shard in await self._shards(arn):
            seen.add(shard["ShardId"])
            if "EndingSequenceNumber" not in shard.get("SequenceNumberRange", {}):
                iterators[shard["ShardId"]] = await self._iterator(arn, shard["ShardId"], "LATEST")
        self._recovered()
        next_scan = loop.time() + SHARD_RESCAN_S
        while not self._closed:
            got_records = False
            shard_closed = False
            for shard_id in list(iterators):
                resp = await self._api(
                    self._streams, "get_records", ShardIterator=iterators[shard_id], Limit=1000
                )
                for rec in resp.get("Records", []):
                    got_records = True
                    self._deliver_stream_record(rec)
                nxt = resp.get("NextShardIterator")
                if nxt:
                    iterators[shard_id] = nxt
                else:
                    del iterators[shard_id]
                    shard_closed = True
            if shard_closed or not iterators or loop.time() >= next_scan:
                next_scan = loop.time() + SHARD_RESCAN_S
                for shard in await self._shards(arn):
                    shard_id = shard["ShardId"]
                    if shard_id in seen or shard.get("ParentShardId") in iterators:
                        continue  # a child is read once its parent is finished
                    seen.add(shard_id)
                    iterators[shard_id] = await self._iterator(arn, shard_id, "TRIM_HORIZON")
            if not got_records:
                await asyncio.sleep(STREAM_IDLE_S)

    def _deliver_stream_record(self, rec: dict[str, Any]) -> None:
        body = rec.get("dynamodb", {})
        keys = body.get("Keys", {})
        try:
            owner, task_id = keys["pk"]["S"], keys["sk"]["S"]
        except KeyError:
            return
        if _reserved(task_id):
            return
        if rec.get("eventName") == "REMOVE":
            self._emit(Change(owner, task_id, None))
            return
        image = body.get("NewImage")
        if not image or image.get("origin", {}).get("S") == self._origin:
            return  # published locally when it committed
        record = _record(image)
        if record is not None:
            self._emit(Change(owner, task_id, record))

    # -- polling fallback -------------------------------------------------------

    def _note_owner(self, owner: str, now_ms: int) -> None:
        """Remembers an owner this instance serves, for the polling feed."""
        if self.feed_mode == "streams":
            return
        state = self._poll_owners.get(owner)
        loop_time = asyncio.get_running_loop().time()
        if state is None:
            state = _PolledOwner(since_ms=now_ms - POLL_SKEW_MS, last_seen=loop_time)
            self._poll_owners[owner] = state
            while len(self._poll_owners) > POLL_OWNERS_MAX:
                self._poll_owners.popitem(last=False)
        state.last_seen = loop_time
        self._poll_owners.move_to_end(owner)

    async def _poll_changes(self) -> None:
        loop = asyncio.get_running_loop()
        self._recovered()
        while not self._closed:
            started = loop.time()
            for owner, state in list(self._poll_owners.items()):
                if started - state.last_seen > POLL_OWNER_IDLE_S:
                    self._poll_owners.pop(owner, None)
                    continue
                await self._poll_owner(owner, state)
            await asyncio.sleep(max(0.05, POLL_INTERVAL_S - (loop.time() - started)))

    async def _poll_owner(self, owner: str, state: _PolledOwner) -> None:
        client = self._feed_client
        now_ms = _wall_ms()
        key_cond = "#pk = :pk AND #sk >= :lo"
        projection = "#sk, #v, #mt, #e"
        current: dict[str, tuple[int, int]] = {}
        start_key: Item | None = None
        while True:
            params: dict[str, Any] = {
                "TableName": self.table,
                "KeyConditionExpression": key_cond,
                "FilterExpression": _UNEXPIRED,
                "ProjectionExpression": projection,
                "ExpressionAttributeNames": _names(key_cond, _UNEXPIRED, projection),
                "ExpressionAttributeValues": {
                    ":pk": _s(owner),
                    ":lo": _s(TASK_SK_MIN),
                    ":now": _n(now_ms),
                },
                "ConsistentRead": True,
            }
            if start_key is not None:
                params["ExclusiveStartKey"] = start_key
            resp = await self._api(client, "query", **params)
            for item in resp.get("Items", []):
                if "version" in item:
                    mtime = int(item.get("mtime", {"N": "0"})["N"])
                    current[item["sk"]["S"]] = (int(item["version"]["N"]), mtime)
            start_key = resp.get("LastEvaluatedKey")
            if start_key is None:
                break
        known = state.known
        changed = [
            task_id
            for task_id, (version, mtime) in current.items()
            if (task_id in known and version > known[task_id])
            or (task_id not in known and (state.polled or mtime >= state.since_ms))
        ]
        for task_id in [t for t in known if t not in current]:
            del known[task_id]
            self._emit(Change(owner, task_id, None))
        for i in range(0, len(changed), 100):
            keys = [_key(owner, t) for t in changed[i : i + 100]]
            while keys:
                resp = await self._api(
                    client,
                    "batch_get_item",
                    RequestItems={self.table: {"Keys": keys, "ConsistentRead": True}},
                )
                for item in resp.get("Responses", {}).get(self.table, []):
                    rec = _record(item)
                    if rec is not None and rec.version > known.get(rec.task_id, 0):
                        known[rec.task_id] = rec.version
                        self._emit(Change(owner, rec.task_id, rec))
                keys = resp.get("UnprocessedKeys", {}).get(self.table, {}).get("Keys", [])
        for task_id, (version, _) in current.items():
            known.setdefault(task_id, version)
        state.polled = True

    # -- table management -------------------------------------------------------

    async def create_table(self) -> None:
        """Creates the table (on demand billing), its TTL and its NEW_IMAGE stream.

        Idempotent: an existing table only gets what it lacks.
        """
        await self._ensure_clients()
        client = self._client
        try:
            await self._api(
                client,
                "create_table",
                expect=("ResourceInUseException",),
                TableName=self.table,
                KeySchema=[
                    {"AttributeName": "pk", "KeyType": "HASH"},
                    {"AttributeName": "sk", "KeyType": "RANGE"},
                ],
                AttributeDefinitions=[
                    {"AttributeName": "pk", "AttributeType": "S"},
                    {"AttributeName": "sk", "AttributeType": "S"},
                ],
                BillingMode="PAY_PER_REQUEST",
                StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
            )
            log.info("created DynamoDB table %r", self.table)
        except _ApiError:
            pass  # it exists already (or is being created)
        table = await self._wait_active()
        spec = table.get("StreamSpecification") or {}
        if not spec.get("StreamEnabled"):
            with contextlib.suppress(_ApiError):
                await self._api(
                    client,
                    "update_table",
                    expect=("ValidationException", "ResourceInUseException"),
                    TableName=self.table,
                    StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
                )
            await self._wait_active()
        elif spec.get("StreamViewType") not in ("NEW_IMAGE", "NEW_AND_OLD_IMAGES"):
            log.warning(
                "table %r has a %s stream: the change feed needs new images and will poll",
                self.table,
                spec.get("StreamViewType"),
            )
        resp = await self._api(client, "describe_time_to_live", TableName=self.table)
        ttl = resp.get("TimeToLiveDescription", {})
        status = ttl.get("TimeToLiveStatus")
        if status in ("ENABLED", "ENABLING"):
            if ttl.get("AttributeName") != "ttl":
                log.warning(
                    "table %r expires items by %r, not 'ttl': expired tasks stay stored",
                    self.table,
                    ttl.get("AttributeName"),
                )
            return
        with contextlib.suppress(_ApiError):  # "already enabled" by a racing replica
            await self._api(
                client,
                "update_time_to_live",
                expect=("ValidationException",),
                TableName=self.table,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": "ttl"},
            )

    async def _wait_active(self) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + TABLE_ACTIVE_TIMEOUT_S
        while True:
            resp = await self._api(self._client, "describe_table", TableName=self.table)
            table: dict[str, Any] = resp["Table"]
            if table.get("TableStatus") == "ACTIVE":
                return table
            if loop.time() >= deadline:
                raise BackendUnavailable(
                    f"DynamoDB table {self.table!r} is still {table.get('TableStatus')}"
                )
            await asyncio.sleep(0.5)

    async def delete_table(self) -> None:
        """Drops the table (tests)."""
        await self._ensure_clients()
        with contextlib.suppress(BackendUnavailable):
            await self._api(self._client, "delete_table", TableName=self.table)

    # -- lifecycle --------------------------------------------------------------

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._inflight:
            # Let committed-or-not writes finish, so their changes are published.
            await asyncio.wait(set(self._inflight), timeout=self.call_deadline_s)
        task, self._feed_task = self._feed_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        stack, self._stack = self._stack, None
        self._client = self._feed_client = self._streams = None
        if stack is not None:
            with contextlib.suppress(Exception):
                await stack.aclose()


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000
