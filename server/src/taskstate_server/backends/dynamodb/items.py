"""Items of the DynamoDB backend: attribute encoding, keys, records, errors.

The table layout these helpers encode is described in `dynamodb.backend`'s docstring
("Items"). They are shared by the backend, its change feed and its table
management, so each of those reads as control flow over one vocabulary: `item_key`
and `item_record` for items, `attr_names` for expressions, and `call_api`, which turns
every client failure into one of a few errors the callers can act on.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

import aiohttp
from botocore.exceptions import BotoCoreError, ClientError

from ..base import BackendError, DatabaseUnavailable, Record, RecordTooLarge

ACTIVE_SET_SK: Final = "#active"
LOG_SK: Final = "#log"
"""The owner's event-log item: `seq`, the position of the owner's newest entry."""
EVENT_PREFIX: Final = "#e#"
"""An event item's sort key: this + its seq in 20 digits (key order = log order)."""
REQ_PREFIX: Final = "#req#"
RESERVED_PREFIX: Final = "#"
TASK_SK_MIN: Final = "$"
"""Every task id sorts at or above this; every reserved sort key below it."""
PING_KEY: Final = {"pk": {"S": "#ping"}, "sk": {"S": "#ping"}}
META_KEY: Final = {"pk": {"S": "#meta"}, "sk": {"S": "#meta"}}
"""The table's own item: `epoch`, which names this incarnation of every owner's log."""
SHARDS: Final = 8
"""Shards of the cross-owner indexes (`leases`, `expiring`): a GSI partition key takes
about 1,000 writes a second, so writes spread over 8 of them; a sweep reads all 8."""

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
    "#slots": "slots",
    "#task": "task",
    "#seq": "seq",
    "#turn": "turn",
    "#tu": "turn_until",
    "#st": "st",
    "#ca": "ca",
    "#cm": "cm",
    "#sh": "sh",
    "#lu": "lu",
}
_PLACEHOLDER = re.compile(r"#\w+")
UNEXPIRED: Final = "(attribute_not_exists(#e) OR #e > :now)"
_TRANSIENT_REASONS: Final = frozenset(
    {"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"}
)

Item = dict[str, Any]
"""A DynamoDB item in the low-level client's attribute-value format."""
Items = list[Item]
"""(An alias: inside the backend class, `list` is the method.)"""


# -- errors and calls -------------------------------------------------------


class ConditionFailed(Exception):
    """A single-item write's condition failed; `item` is the stored item (ALL_OLD)."""

    def __init__(self, item: Item | None) -> None:
        super().__init__("condition failed")
        self.item = item


@dataclass(frozen=True, slots=True)
class CancelReason:
    code: str
    item: Item | None
    message: str


class Cancelled(Exception):
    """A transaction was cancelled; one reason per TransactItems entry, in order."""

    def __init__(self, reasons: list[CancelReason]) -> None:
        super().__init__("transaction cancelled: " + ", ".join(r.code for r in reasons))
        self.reasons = reasons

    def failed(self, index: int) -> bool:
        return index < len(self.reasons) and self.reasons[index].code == "ConditionalCheckFailed"

    def item(self, index: int) -> Item | None:
        return self.reasons[index].item if index < len(self.reasons) else None

    @property
    def transient(self) -> bool:
        return any(r.code in _TRANSIENT_REASONS for r in self.reasons)


class IncompatibleTable(BackendError):
    """The table lacks what this version needs and cannot be given it in place."""


class ApiError(Exception):
    """A service error the caller asked to handle itself."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


def _too_large(message: str) -> bool:
    text = message.lower()
    return "size" in text and ("exceed" in text or "maximum" in text)


async def call_api(
    client: Any,
    method: str,
    *,
    table: str,
    deadline_s: float,
    expect: Iterable[str] = (),
    **params: Any,
) -> Any:
    """One API call, with every failure mapped to a backend error.

    ConditionalCheckFailed -> ConditionFailed(ALL_OLD item); a cancelled
    transaction -> Cancelled; a code in `expect` -> ApiError; an item over
    the size limit -> RecordTooLarge; anything else -> DatabaseUnavailable.
    The call gives up after `deadline_s`, whatever botocore's retries do.
    """
    try:
        async with asyncio.timeout(deadline_s):
            return await getattr(client, method)(**params)
    except ClientError as exc:
        response: dict[str, Any] = exc.response
        error = response.get("Error", {})
        code = str(error.get("Code", ""))
        message = str(error.get("Message", ""))
        if code == "ConditionalCheckFailedException":
            raise ConditionFailed(response.get("Item")) from None
        if code == "TransactionCanceledException":
            reasons = [
                CancelReason(str(r.get("Code", "None")), r.get("Item"), str(r.get("Message", "")))
                for r in response.get("CancellationReasons", [])
            ]
            if any(r.code == "ValidationError" and _too_large(r.message) for r in reasons):
                raise RecordTooLarge("the record is over DynamoDB's item size limit") from None
            raise Cancelled(reasons) from None
        if code in expect:
            raise ApiError(code, message) from None
        if code == "ValidationException" and _too_large(message):
            raise RecordTooLarge("the record is over DynamoDB's item size limit") from None
        if code == "ResourceNotFoundException":
            raise DatabaseUnavailable(
                f"DynamoDB table {table!r} not found ({message}); create it with "
                "create_table=true in the store URL or `taskstate-server init-dynamodb`"
            ) from exc
        raise DatabaseUnavailable(f"DynamoDB {method}: {code}: {message}") from exc
    except (BotoCoreError, aiohttp.ClientError, OSError, TimeoutError) as exc:
        raise DatabaseUnavailable(f"DynamoDB {method}: {exc or type(exc).__name__}") from exc


# -- items ------------------------------------------------------------------


def str_value(value: str) -> dict[str, str]:
    return {"S": value}


def num_value(value: int) -> dict[str, str]:
    return {"N": str(value)}


def ttl_seconds(expire_at_ms: int) -> int:
    # Rounded UP, so DynamoDB never deletes a task before it has expired.
    return -(-expire_at_ms // 1000)


def item_key(owner: str, sk: str) -> Item:
    return {"pk": str_value(owner), "sk": str_value(sk)}


def request_sk(request_id: str) -> str:
    # Hashed: any request id fits DynamoDB's 1 KiB sort key, and none can collide.
    return REQ_PREFIX + hashlib.sha256(request_id.encode("utf-8")).hexdigest()


def is_reserved(task_id: str) -> bool:
    return task_id < TASK_SK_MIN


def shard_of(task_id: str) -> str:
    """The task's shard in the cross-owner indexes: fixed for its life (from its id)."""
    return str(hashlib.sha256(task_id.encode("utf-8")).digest()[0] % SHARDS)


def event_sk(seq: int) -> str:
    return f"{EVENT_PREFIX}{seq:020d}"


def num_attr(item: Item | None, name: str, default: int = 0) -> int:
    """A number attribute of `item`, `default` when the item or the attribute is absent."""
    if not item or name not in item:
        return default
    return int(item[name]["N"])


def item_record(item: Item | None) -> Record | None:
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


def alive_record(item: Item | None, now_ms: int) -> Record | None:
    rec = item_record(item)
    return None if rec is None or rec.expired(now_ms) else rec


def attr_names(*expressions: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    """ExpressionAttributeNames for exactly the placeholders used (DynamoDB rejects unused)."""
    table = dict(_NAMES)
    if extra:
        table.update(extra)
    used: dict[str, str] = {}
    for expr in expressions:
        for ph in _PLACEHOLDER.findall(expr):
            used[ph] = table[ph]
    return used


def same_expiry_condition(expire_at_ms: int | None) -> tuple[str, dict[str, Any]]:
    if expire_at_ms is None:
        return "attribute_not_exists(#e)", {}
    return "#e = :ne", {":ne": num_value(expire_at_ms)}


def slot_of(task_id: str) -> str:
    """A task's name in its owner's active set: 22 characters for a UUID (the task ids
    TaskStore makes), so `max_active_limit` entries fit well within DynamoDB's 400 KB."""
    try:
        parsed = uuid.UUID(task_id)
    except ValueError:
        return "~" + task_id  # "~" is no base64url character: no collision
    if str(parsed) != task_id:
        return "~" + task_id
    return base64.urlsafe_b64encode(parsed.bytes).decode("ascii").rstrip("=")


def expiry_attr(slot: str) -> str:
    """The active-set item's attribute holding that entry's expiry."""
    return "x" + slot


@dataclass(frozen=True, slots=True)
class ActiveSet:
    """An owner's active-set item as stored: slot -> expire_at ms (0 = never)."""

    slots: dict[str, int]

    @classmethod
    def from_item(cls, item: Item | None) -> ActiveSet:
        if not item:
            return cls({})
        members = item.get("slots", {}).get("SS", [])
        # A member without its expiry cannot be told dead: it counts (0 = never).
        return cls({m: int(item.get(expiry_attr(m), {}).get("N", "0")) for m in members})

    def live(self, now_ms: int) -> int:
        return sum(1 for exp in self.slots.values() if exp == 0 or exp > now_ms)

    def expired(self, now_ms: int) -> list[str]:
        return [slot for slot, exp in self.slots.items() if 0 < exp <= now_ms]
