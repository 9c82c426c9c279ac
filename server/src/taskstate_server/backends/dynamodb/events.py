"""The DynamoDB store's event log (`Feature.EVENT_LOG`): event items in the owner's partition.

Items: the owner's log item (`sk` "#log", `seq` = the owner's newest position) and one
item per entry (`sk` "#e#" + seq in 20 digits: `k` kind, `t` task id, `v` version, `ms`
time, `ttl`, `origin`, and for a removal of a task with a subject `u` the subject). A
position is the entry's seq in decimal; "0" starts every log.

Appending: every write's TransactWriteItems also holds
  - an Update of the log item, `SET seq = :s + 1` on the condition `seq = :s` (absent for 0),
  - the Put of the entry `#e#<s + 1>`,
  - and the task item gets `seq = s + 1` (the Streams feed reads its entry from the image).
So an entry commits with its write or not at all, and seqs are gapless and in commit order
per owner: two writes of one owner can never both commit on the same `s`. The log item may also
hold another replica's request for a turn (`turn`, `turn_until`: turns.py); the update is
conditioned on there being none live, and removes it. The writer keeps
each owner's newest seq in memory (`EventLog.head`): a write costs no extra call while that
is right; when another replica wrote in between, the failed condition returns the stored seq
(ALL_OLD) and the transaction is sent again (a conflict of the task itself is still
VersionConflict). The first write of an owner in a process reads the log item first
(GetItem); the Streams feed keeps the numbers of other replicas' writes up to date. Writes of
one owner are queued in the process (`OwnerLocks`), so they never conflict with each other:
an owner's writes are serialized at about one transaction's latency, on every replica.

Trimming: an entry's `ttl` is its time + retention + 10 min (SLACK_MS), and DynamoDB's TTL
deletes it lazily. The log item is never deleted, so the head survives trims. Since seqs are
gapless, a reader after position p expects p + 1: when that entry is missing (trimmed), or
older than the retention + slack (due for trimming), p is compacted; as is a p above the head
(a log recreated, another owner's position) or anything that is not a position. A trim of
one owner never compacts another's positions.

The epoch is the table's: an item `#meta` holding a random hex string, made by the first
reader and cached for the process.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import secrets
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from dataclasses import replace
from typing import Any, Final

from ..base import Event, EventKind, EventPage, Record
from .items import (
    EVENT_PREFIX,
    LOG_SK,
    META_KEY,
    ConditionFailed,
    Item,
    Items,
    alive_record,
    attr_names,
    event_sk,
    item_key,
    num_attr,
    num_value,
    str_value,
    ttl_seconds,
)
from .turns import Turns

DEFAULT_RETENTION_MS: Final = 3_600_000
SLACK_MS: Final = 600_000
"""Kept beyond the retention, so replicas' clocks may disagree by that much (proposal 4.2)."""
SEQS_CACHED: Final = 10_000
"""Owners whose newest seq a process remembers (least recently written go first)."""
BATCH_GET_MAX: Final = 100

_POSITION: Final = re.compile(r"0|[1-9][0-9]{0,18}")
_KINDS: Final = {kind.value: kind for kind in EventKind}

Call = Callable[..., Awaitable[Any]]
"""The backend's API call on its data client: `await call("query", **params)`."""


def wall_ms() -> int:
    """Turns are compared across replicas: wall clock, not the domain's clock."""
    return time.time_ns() // 1_000_000


def _no_live_turn(until: str) -> str:
    """The condition that no other replica's turn request on the log item lasts to the
    placeholder `until` (ours, `:me`, never blocks us): asking for a turn and appending
    both need it."""
    return f"(attribute_not_exists(#tu) OR #tu < {until} OR #turn = :me)"


def parse_position(text: str) -> int | None:
    """The seq a position names, or None when it cannot be one of ours."""
    return int(text) if _POSITION.fullmatch(text) else None


def make_event(
    seq: int, kind: EventKind, task_id: str, version: int, time_ms: int, subject: str = ""
) -> Event:
    return Event(str(seq), str(seq - 1), kind, task_id, version, time_ms, None, subject)


def event_of_item(item: Item) -> Event | None:
    """The entry an event item holds (None if `item` is no event item)."""
    sk = item.get("sk", {}).get("S", "")
    kind = _KINDS.get(item.get("k", {}).get("S", ""))
    if not sk.startswith(EVENT_PREFIX) or kind is None or "t" not in item:
        return None
    seq = int(sk[len(EVENT_PREFIX) :])
    subject = item.get("u", {}).get("S", "")
    return make_event(seq, kind, item["t"]["S"], num_attr(item, "v"), num_attr(item, "ms"), subject)


def write_event_of(item: Item) -> Event | None:
    """The WRITE entry of a task item's image: its write's seq is on it."""
    if "seq" not in item or "version" not in item:
        return None
    return make_event(
        num_attr(item, "seq"),
        EventKind.WRITE,
        item["sk"]["S"],
        num_attr(item, "version"),
        num_attr(item, "mtime"),
    )


async def batch_get(call: Call, table: str, keys: list[Item]) -> Items:
    """The items under `keys` that exist (consistent reads, 100 keys a call)."""
    out: Items = []
    for i in range(0, len(keys), BATCH_GET_MAX):
        pending = keys[i : i + BATCH_GET_MAX]
        while pending:
            resp = await call(
                "batch_get_item",
                RequestItems={table: {"Keys": pending, "ConsistentRead": True}},
            )
            out.extend(resp.get("Responses", {}).get(table, []))
            pending = resp.get("UnprocessedKeys", {}).get(table, {}).get("Keys", [])
    return out


class OwnerLocks:
    """One asyncio lock per owner, kept while someone holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, owner: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(owner) or (asyncio.Lock(), 0)
        self._locks[owner] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[owner]
            if users == 1:
                del self._locks[owner]
            else:
                self._locks[owner] = (lock, users - 1)


class EventLog:
    """The event log of one table, as one backend instance writes and reads it."""

    def __init__(self, table: str, origin: str) -> None:
        self.table = table
        self.origin = origin
        self.retention_ms = DEFAULT_RETENTION_MS
        self.locks = OwnerLocks()
        """Held around every write of an owner: its writes never race in this process."""
        self.turns = Turns(origin)
        """Turns between replicas on each owner's log, and the measured transaction time."""
        self._seqs: OrderedDict[str, int] = OrderedDict()
        self._epoch: str | None = None

    # -- the owner's newest seq ------------------------------------------------------

    def note(self, owner: str, seq: int) -> None:
        """`seq` is committed in the owner's log (a write, a read, the feed)."""
        if seq > self._seqs.get(owner, -1):
            self._seqs[owner] = seq
        if owner in self._seqs:
            self._seqs.move_to_end(owner)
        while len(self._seqs) > SEQS_CACHED:
            self._seqs.popitem(last=False)

    def forget(self, owner: str) -> None:
        """A write's outcome is unknown: read the seq again before the next one."""
        self._seqs.pop(owner, None)

    def learn(self, owner: str, stored: Item | None) -> int:
        """`stored` is the log item as it is (ALL_OLD): its seq, remembered."""
        self._seqs.pop(owner, None)
        seq = num_attr(stored, "seq")
        self.note(owner, seq)
        return seq

    def refuted(self, owner: str, sent: int, stored: Item | None, now_ms: int) -> float | None:
        """The log item's condition failed for an append after `sent`: `stored` is what is
        there (ALL_OLD). Returns None when another write took the seq, else how long to
        wait for another replica's turn."""
        if self.learn(owner, stored) != sent:
            return None
        turn = stored.get("turn", {}).get("S") if stored else None
        wait = self.turns.refused(owner, turn, num_attr(stored, "turn_until"), now_ms)
        return 0.0 if wait is None else wait

    async def ask_turn(self, call: Call, owner: str, until_ms: int, now_ms: int) -> None:
        """Asks the other replicas to let this one append next (until `until_ms`), unless
        another's request is live; learns the seq on the way."""
        expr = "SET #turn = :me, #tu = :until"
        cond = f"attribute_exists(#seq) AND {_no_live_turn(':now')}"
        try:
            resp = await call(
                "update_item",
                TableName=self.table,
                Key=item_key(owner, LOG_SK),
                UpdateExpression=expr,
                ConditionExpression=cond,
                ExpressionAttributeNames=attr_names(expr, cond),
                ExpressionAttributeValues={
                    ":me": str_value(self.origin),
                    ":until": num_value(until_ms),
                    ":now": num_value(now_ms),
                },
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
            stored = resp.get("Attributes")
        except ConditionFailed as taken:  # another replica's request is live: it goes first
            stored = taken.item
        if stored is not None:
            self.learn(owner, stored)

    async def head(self, call: Call, owner: str) -> int:
        """The owner's newest seq: as remembered, else read (strongly consistent)."""
        seq = self._seqs.get(owner)
        if seq is None:
            resp = await call(
                "get_item",
                TableName=self.table,
                Key=item_key(owner, LOG_SK),
                ConsistentRead=True,
            )
            seq = num_attr(resp.get("Item"), "seq")
            self.note(owner, seq)
        return seq

    # -- appending ---------------------------------------------------------------------

    def append_items(
        self,
        owner: str,
        seq: int,
        kind: EventKind,
        task_id: str,
        version: int,
        now_ms: int,
        subject: str = "",
    ) -> Items:
        """The log item's update and the entry's Put, for a transaction appending entry
        `seq + 1` after `seq` (`subject`: a removed task's). The update comes first in the
        returned list."""
        values: dict[str, Any] = {
            ":next": num_value(seq + 1),
            ":me": str_value(self.origin),
            ":cut": num_value(self.turns.cut_ms(owner, wall_ms())),
        }
        if seq == 0:
            cond = "attribute_not_exists(#seq)"
        else:
            cond = "#seq = :seq"
            values[":seq"] = num_value(seq)
        cond += f" AND {_no_live_turn(':cut')}"
        expr = "SET #seq = :next REMOVE #turn, #tu"
        ttl_ms = now_ms + self.retention_ms + SLACK_MS
        entry: Item = {
            **item_key(owner, event_sk(seq + 1)),
            "k": str_value(kind.value),
            "t": str_value(task_id),
            "v": num_value(version),
            "ms": num_value(now_ms),
            "ttl": num_value(ttl_seconds(ttl_ms)),
            "origin": str_value(self.origin),
        }
        if subject:
            entry["u"] = str_value(subject)
        return [
            {
                "Update": {
                    "TableName": self.table,
                    "Key": item_key(owner, LOG_SK),
                    "UpdateExpression": expr,
                    "ConditionExpression": cond,
                    "ExpressionAttributeNames": attr_names(expr, cond),
                    "ExpressionAttributeValues": values,
                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                }
            },
            {"Put": {"TableName": self.table, "Item": entry}},
        ]

    # -- reading -----------------------------------------------------------------------

    async def epoch(self, call: Call) -> str:
        if self._epoch is None:
            resp = await call("get_item", TableName=self.table, Key=META_KEY, ConsistentRead=True)
            item = resp.get("Item")
            if item is None:
                mine = secrets.token_hex(8)
                try:
                    await call(
                        "put_item",
                        TableName=self.table,
                        Item={**META_KEY, "epoch": str_value(mine)},
                        ConditionExpression="attribute_not_exists(#pk)",
                        ExpressionAttributeNames=attr_names("#pk"),
                        ReturnValuesOnConditionCheckFailure="ALL_OLD",
                    )
                    item = {"epoch": str_value(mine)}
                except ConditionFailed as raced:  # another replica made it first
                    item = raced.item or {}
            if "epoch" not in item:
                return "unknown"  # not cached: read again next time
            self._epoch = str(item["epoch"]["S"])
        return self._epoch

    async def read(
        self,
        call: Call,
        owner: str,
        after: str,
        limit: int,
        now_ms: int,
    ) -> EventPage:
        epoch = await self.epoch(call)
        position = parse_position(after) if limit > 0 else None
        if position is None:
            head = await self.head_read(call, owner)
            return EventPage(epoch, str(head), [], compacted=limit > 0)
        events, stored_head = await self._entries_after(call, owner, position, limit)
        head = await self.head_read(call, owner) if stored_head is None else stored_head
        if events:
            head = max(head, int(events[-1].position))
        self.note(owner, head)
        if position > head or (position < head and not self._servable(events, position, now_ms)):
            return EventPage(epoch, str(head), [], compacted=True)
        events = await with_records(call, self.table, owner, _until_gap(events, position), now_ms)
        return EventPage(epoch, str(head), events)

    async def _entries_after(
        self, call: Call, owner: str, position: int, limit: int
    ) -> tuple[list[Event], int | None]:
        """Up to `limit` entries after `position`, and the head when the same read saw it.

        One Query reads the entries and then, sorting after every entry, the log item:
        the head comes along unless the page is full."""
        key_cond = "#pk = :pk AND #sk BETWEEN :lo AND :hi"
        resp = await call(
            "query",
            TableName=self.table,
            KeyConditionExpression=key_cond,
            ExpressionAttributeNames=attr_names(key_cond),
            ExpressionAttributeValues={
                ":pk": str_value(owner),
                ":lo": str_value(event_sk(position + 1)),
                ":hi": str_value(LOG_SK),
            },
            ConsistentRead=True,
            Limit=limit + 1,
        )
        items: Items = resp.get("Items", [])
        head: int | None = None
        if items and items[-1]["sk"]["S"] == LOG_SK:
            head = num_attr(items.pop(), "seq")
        elif len(items) <= limit:
            head = 0  # no log item: the owner never wrote
        return [e for e in map(event_of_item, items[:limit]) if e is not None], head

    async def head_read(self, call: Call, owner: str) -> int:
        """The owner's newest seq as stored (not the remembered one)."""
        self._seqs.pop(owner, None)
        return await self.head(call, owner)

    def _servable(self, events: list[Event], position: int, now_ms: int) -> bool:
        """Whether the entry after `position` is still there and not due for trimming."""
        if not events or int(events[0].prev) != position:
            return False
        return events[0].time_ms >= now_ms - self.retention_ms - SLACK_MS


def _until_gap(events: list[Event], position: int) -> list[Event]:
    """The entries up to the first one missing (trimmed): the next read is compacted."""
    out: list[Event] = []
    expected = str(position)
    for event in events:
        if event.prev != expected:
            break
        out.append(event)
        expected = event.position
    return out


async def with_records(
    call: Call, table: str, owner: str, events: list[Event], now_ms: int
) -> list[Event]:
    """`events` with each WRITE's current unexpired record (one BatchGetItem per 100 tasks)."""
    wanted: Collection[str] = {e.task_id for e in events if e.kind is EventKind.WRITE}
    if not wanted:
        return events
    items = await batch_get(call, table, [item_key(owner, t) for t in sorted(wanted)])
    records: dict[str, Record] = {}
    for item in items:
        record = alive_record(item, now_ms)
        if record is not None:
            records[record.task_id] = record
    return [
        replace(e, record=records.get(e.task_id)) if e.kind is EventKind.WRITE else e
        for e in events
    ]
