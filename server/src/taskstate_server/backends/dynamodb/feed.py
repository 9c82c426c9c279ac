"""The DynamoDB backend's change feed: DynamoDB Streams, or polling without a stream.

Own writes are published locally on the event loop right after they commit (even
if the caller is cancelled meanwhile). Other replicas' writes come from DynamoDB
Streams (NEW_IMAGE): DescribeStream, a LATEST iterator for each shard open at
subscribe time, a GetRecords loop (0.25 s sleep when idle), and shards that
appear later (rollover) read from TRIM_HORIZON once their parent is finished.
Task images become `Change`s with their WRITE entry (the image carries its `seq`);
deletions and expiries come from the INSERTs of their log entries (`#e#` items), a task's
own REMOVE being only the sign of a DynamoDB TTL deletion (the sweeper's backstop), which
becomes an EXPIRED change without an entry. Other reserved items and this instance's own
images and entries are skipped; every seq seen keeps the backend's idea of each owner's
log head current (`on_seq`), so its next write there needs no second try. On any feed error the
reader backs off (0.5 s doubling to 10 s), starts again from LATEST and calls
`on_resync` once it has recovered. One error is not a failure: DynamoDB Local
may answer TrimmedDataAccessException, for a few hundred milliseconds, to the
first reads of a new table's empty shard (a known DynamoDB Local bug; AWS cannot
trim records newer than a fresh iterator). An iterator that has not returned a
record yet is then taken again from TRIM_HORIZON, which on that empty shard is
exactly what came after it; after FRESH_TRIMS_MAX such answers it is a failure.

Without a stream (`feed=poll`, or `auto` on a table whose stream is off or keeps
no new image) the feed polls instead, once a second, the partitions of the
owners this instance has served in the last hour (at most 1,000 owners): a
keys-and-versions Query per owner, then a BatchGetItem of the tasks whose version
moved; a task that vanished or expired is published as a deletion. No extra
writes are made for it; it costs reads in proportion to watched owners' tasks,
so Streams remain the recommended setup.

`ChangeFeed` is owned by the backend, which hands it everything it uses (its
clients, the table, the backend's origin id, the listeners), starts it on first
use and stops it on close; the feed never reaches back into the backend.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Final

from ..base import Change, ChangeListener, DatabaseUnavailable, EventKind, ResyncListener
from .events import batch_get, event_of_item, write_event_of
from .items import (
    EVENT_PREFIX,
    TASK_SK_MIN,
    UNEXPIRED,
    ApiError,
    Item,
    Items,
    attr_names,
    call_api,
    is_reserved,
    item_key,
    item_record,
    num_value,
    str_value,
)

# The backend's logger: the feed's messages are the backend's.
log = logging.getLogger("taskstate_server.backends.dynamodb")

STREAM_IDLE_S: Final = 0.25
SHARD_RESCAN_S: Final = 30.0
FRESH_TRIMS_MAX: Final = 40
FEED_BACKOFF_MIN_S: Final = 0.5
FEED_BACKOFF_MAX_S: Final = 10.0
POLL_INTERVAL_S: Final = 1.0
POLL_OWNER_IDLE_S: Final = 3600.0
POLL_OWNERS_MAX: Final = 1_000
POLL_SKEW_MS: Final = 5_000

_TRIMMED: Final = "TrimmedDataAccessException"

FeedClients = Callable[[], Awaitable[tuple[Any, Any]]]
"""Returns the feed's own `dynamodb` and `dynamodbstreams` clients, opening them if needed."""
TTL_PRINCIPAL: Final = "dynamodb.amazonaws.com"
"""The `userIdentity` of a stream record of a deletion by DynamoDB's TTL."""


@dataclass(slots=True)
class _PolledOwner:
    """Polling-feed state of one owner."""

    since_ms: int
    last_seen: float
    known: dict[str, int] = field(default_factory=dict)
    """Task id -> the version last published."""
    expiries: dict[str, int] = field(default_factory=dict)
    """Task id -> its expiry as last seen, to tell an expired task from a deleted one."""
    polled: bool = False


class ChangeFeed:
    """Follows the table for other replicas' writes and publishes this instance's own.

    `feed` is the URL option (auto, streams or poll); `mode` says which one runs
    ("streams" or "poll") once the feed has started.
    """

    def __init__(
        self,
        *,
        table: str,
        feed: str,
        origin: str,
        clients: FeedClients,
        deadline_s: float,
        on_seq: Callable[[str, int], None],
    ) -> None:
        self.table = table
        self.feed = feed
        self.mode: str | None = None
        """"streams" or "poll" once the change feed has started."""
        self._origin = origin
        self._on_seq = on_seq
        self._clients = clients
        self._deadline_s = deadline_s
        self._client: Any = None
        self._streams: Any = None
        self._on_change: ChangeListener | None = None
        self._on_resync: ResyncListener | None = None
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self._broken = False
        self._backoff = FEED_BACKOFF_MIN_S
        self._poll_owners: OrderedDict[str, _PolledOwner] = OrderedDict()
        self._halted = False

    def subscribe(self, on_change: ChangeListener, on_resync: ResyncListener) -> None:
        self._on_change = on_change
        self._on_resync = on_resync

    def start(self, *, force: bool = False) -> None:
        """Starts following the table, once someone subscribed or `force`d (needs a
        running loop); changes before a subscriber are dropped."""
        if self._task is None and (force or self._on_change is not None) and not self._halted:
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name=f"dynamodb-feed-{self.table}"
            )

    async def wait_ready(self, within_s: float | None = None) -> None:
        """Waits until the feed is following the table."""
        await asyncio.wait_for(self._ready.wait(), within_s)

    def halt(self) -> None:
        """Stops following the table at its next step; own changes are still published.

        The backend halts the feed as it starts closing, then lets in-flight
        writes finish (and publish) before it stops the feed for good.
        """
        self._halted = True

    async def stop(self) -> None:
        self._halted = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _api(self, client: Any, method: str, **params: Any) -> Any:
        return await call_api(
            client, method, table=self.table, deadline_s=self._deadline_s, **params
        )

    # -- publishing -------------------------------------------------------------

    def publish(self, change: Change) -> None:
        """A change this instance committed: published at once, on the event loop."""
        state = self._poll_owners.get(change.owner)
        if state is not None:
            if change.record is None:
                state.known.pop(change.task_id, None)
                state.expiries.pop(change.task_id, None)
            else:
                state.known[change.task_id] = change.record.version
                _set_expiry(state, change.task_id, change.record.expire_at_ms)
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
        self._ready.set()
        self._backoff = FEED_BACKOFF_MIN_S
        if self._broken:
            self._broken = False
            log.info("the DynamoDB change feed has recovered")
            if self._on_resync is not None:
                try:
                    self._on_resync()
                except Exception:
                    log.exception("the resync listener failed")

    # -- streams ----------------------------------------------------------------

    async def _run(self) -> None:
        while not self._halted:
            try:
                self._client, self._streams = await self._clients()
                arn = await self._stream_arn()
                if arn is not None:
                    self.mode = "streams"
                    await self._follow_stream(arn)
                else:
                    self.mode = "poll"
                    await self._poll_changes()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if self._halted:
                    return
                self._ready.clear()
                self._broken = True
                log.warning(
                    "the DynamoDB change feed failed (retrying in %.1fs): %s",
                    self._backoff,
                    exc,
                )
                await asyncio.sleep(self._backoff)
                self._backoff = min(self._backoff * 2, FEED_BACKOFF_MAX_S)

    async def _stream_arn(self) -> str | None:
        """The table's usable stream, or None to poll."""
        if self.feed == "poll":
            return None
        resp = await self._api(self._client, "describe_table", TableName=self.table)
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
            raise DatabaseUnavailable(
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
        # Shards whose first iterator has not returned a record yet (see the module doc).
        fresh = set(iterators)
        trims = 0
        self._recovered()
        next_scan = loop.time() + SHARD_RESCAN_S
        while not self._halted:
            got_records = False
            shard_closed = False
            for shard_id in list(iterators):
                try:
                    resp = await self._api(
                        self._streams,
                        "get_records",
                        expect=(_TRIMMED,) if shard_id in fresh else (),
                        ShardIterator=iterators[shard_id],
                        Limit=1000,
                    )
                except ApiError:
                    trims += 1
                    if trims > FRESH_TRIMS_MAX:
                        raise
                    await asyncio.sleep(STREAM_IDLE_S)
                    iterators[shard_id] = await self._iterator(arn, shard_id, "TRIM_HORIZON")
                    continue
                for rec in resp.get("Records", []):
                    got_records = True
                    fresh.discard(shard_id)
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
                    fresh.add(shard_id)
                    iterators[shard_id] = await self._iterator(arn, shard_id, "TRIM_HORIZON")
            if not got_records:
                await asyncio.sleep(STREAM_IDLE_S)

    def _deliver_stream_record(self, rec: dict[str, Any]) -> None:
        body = rec.get("dynamodb", {})
        keys = body.get("Keys", {})
        try:
            owner, sk = keys["pk"]["S"], keys["sk"]["S"]
        except KeyError:
            return
        image = body.get("NewImage")
        if sk.startswith(EVENT_PREFIX):
            if image:
                self._deliver_entry(owner, image)
            return
        if is_reserved(sk):
            return
        if rec.get("eventName") == "REMOVE":
            # A delete or the sweeper's removal: its entry's INSERT tells. DynamoDB's TTL
            # (a backstop, after an hour without sweeping) logs nothing: said here only.
            if rec.get("userIdentity", {}).get("principalId") == TTL_PRINCIPAL:
                self._emit(Change(owner, sk, None, EventKind.EXPIRED))
            return
        if not image:
            return
        event = write_event_of(image)
        if event is not None:
            self._on_seq(owner, int(event.position))
        if image.get("origin", {}).get("S") == self._origin:
            return  # published locally when it committed
        record = item_record(image)
        if record is not None:
            self._emit(Change(owner, sk, record, EventKind.WRITE, event))

    def _deliver_entry(self, owner: str, image: Item) -> None:
        """A log entry's INSERT: the change for a removal (a write's comes with its image)."""
        event = event_of_item(image)
        if event is None:
            return
        self._on_seq(owner, int(event.position))
        if event.kind is EventKind.WRITE or image.get("origin", {}).get("S") == self._origin:
            return
        self._emit(Change(owner, event.task_id, None, event.kind, event))

    # -- polling fallback -------------------------------------------------------

    def note_owner(self, owner: str, now_ms: int) -> None:
        """Remembers an owner this instance serves, for the polling feed."""
        if self.mode == "streams":
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
        while not self._halted:
            started = loop.time()
            for owner, state in list(self._poll_owners.items()):
                if started - state.last_seen > POLL_OWNER_IDLE_S:
                    self._poll_owners.pop(owner, None)
                    continue
                await self._poll_owner(owner, state)
            await asyncio.sleep(max(0.05, POLL_INTERVAL_S - (loop.time() - started)))

    async def _poll_owner(self, owner: str, state: _PolledOwner) -> None:
        client = self._client
        now_ms = _wall_ms()
        key_cond = "#pk = :pk AND #sk >= :lo"
        projection = "#sk, #v, #mt, #e"
        current: dict[str, tuple[int, int]] = {}
        start_key: Item | None = None
        while True:
            params: dict[str, Any] = {
                "TableName": self.table,
                "KeyConditionExpression": key_cond,
                "FilterExpression": UNEXPIRED,
                "ProjectionExpression": projection,
                "ExpressionAttributeNames": attr_names(key_cond, UNEXPIRED, projection),
                "ExpressionAttributeValues": {
                    ":pk": str_value(owner),
                    ":lo": str_value(TASK_SK_MIN),
                    ":now": num_value(now_ms),
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
                    expiry = item.get("expire_at")
                    _set_expiry(state, item["sk"]["S"], expiry and int(expiry["N"]))
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
            expired = state.expiries.pop(task_id, now_ms + 1) <= now_ms
            kind = EventKind.EXPIRED if expired else EventKind.DELETED
            self._emit(Change(owner, task_id, None, kind))
        call = functools.partial(self._api, client)
        for item in await batch_get(call, self.table, [item_key(owner, t) for t in changed]):
            rec = item_record(item)
            if rec is not None and rec.version > known.get(rec.task_id, 0):
                known[rec.task_id] = rec.version
                self._emit(Change(owner, rec.task_id, rec, EventKind.WRITE, write_event_of(item)))
        for task_id, (version, _) in current.items():
            known.setdefault(task_id, version)
        for task_id in [t for t in state.expiries if t not in current and t not in known]:
            del state.expiries[task_id]
        state.polled = True


def _set_expiry(state: _PolledOwner, task_id: str, expire_at_ms: int | None) -> None:
    if expire_at_ms is None:
        state.expiries.pop(task_id, None)
    else:
        state.expiries[task_id] = expire_at_ms


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000
