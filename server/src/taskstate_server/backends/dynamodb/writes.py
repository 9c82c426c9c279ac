"""The write requests of the DynamoDB backend: what a create, a compare-and-swap
and a delete send, built without I/O.

Kept apart from the backend so that its methods read as the protocol (which
requests, what a failed condition means, when to retry) while this module holds
the item layout and update expressions those requests carry; `dynamodb`'s
docstring ("Items", "Active-task quota") explains both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from ..base import Record
from .indexes import fact_update, fact_values
from .items import (
    ACTIVE_SET_SK,
    UNEXPIRED,
    ActiveSet,
    Item,
    Items,
    attr_names,
    expiry_attr,
    item_key,
    num_value,
    shard_of,
    slot_of,
    str_value,
    ttl_seconds,
)

TTL_GRACE_MS: Final = 3_600_000
"""A task's `ttl` is its expiry + this: the sweeper removes it (and logs EXPIRED) first;
DynamoDB's TTL only cleans up after an hour without any server sweeping."""
PRUNE_PER_CREATE: Final = 50
"""At most this many expired entries are pruned from the active set per create
(each is a condition and a REMOVE: DynamoDB caps an expression at 4 KB)."""


@dataclass(frozen=True, slots=True)
class CreateWrite:
    """A create's TransactItems and where its active-set and request-id items are in them."""

    items: Items
    active_at: int | None
    request_at: int | None


@dataclass(frozen=True, slots=True)
class WriteRequests:
    """Builds the write requests on `table`; every task write carries `origin` (the
    writing backend instance), so the change feed skips what was published locally."""

    table: str
    origin: str

    def task_item(self, record: Record, now_ms: int, req_sk: str | None, seq: int) -> Item:
        """The task as created; `seq` is the position of its WRITE entry."""
        item: Item = {
            **item_key(record.owner, record.task_id),
            "version": num_value(record.version),
            "data": {"B": record.data},
            "active": {"BOOL": record.active},
            "mtime": num_value(now_ms),
            "origin": str_value(self.origin),
            "seq": num_value(seq),
            "sh": str_value(shard_of(record.task_id)),
            **fact_values(record),
        }
        if record.expire_at_ms is not None:
            item["expire_at"] = num_value(record.expire_at_ms)
            item["ttl"] = num_value(ttl_seconds(record.expire_at_ms + TTL_GRACE_MS))
        if req_sk is not None:
            item["req"] = str_value(req_sk)
        return item

    def history_item(self, record: Record, now_ms: int) -> Item:
        """A finished task as old history: as `task_item` stores it, but older than its
        owner's event log (`seq` 0, the position before every entry, so no entry names it).

        For loading finished tasks straight into the table (`history`); a
        terminal record without a request id needs no other item (no active-set entry, no
        request-id item), so this one item is the whole task.
        """
        if record.active or record.request_id is not None:
            raise ValueError("only a finished task without a request id is history")
        return self.task_item(record, now_ms, None, 0)

    def create_items(
        self,
        record: Record,
        *,
        req_sk: str | None,
        stale_holder: str | None,
        max_active: int,
        seen: ActiveSet | None,
        now_ms: int,
        seq: int,
    ) -> CreateWrite:
        """The task, its active-set entry on the quota condition, and its request-id item.

        Without `seen`, the entry is added on `size(slots) < max_active`. With `seen`
        (the set as a refused attempt returned it), its expired entries are pruned in
        the same update, on the condition that the set is still exactly `seen`.
        """
        owner, task_id = record.owner, record.task_id
        items: Items = [
            # No condition on the task itself: the id is fresh (UUIDv7), and a reused
            # id replaces the old record, as in the memory and SQLite backends.
            {"Put": {"TableName": self.table, "Item": self.task_item(record, now_ms, req_sk, seq)}},
        ]
        active_at: int | None = None
        if record.active:
            active_at = len(items)
            items.append({"Update": self._entry_add(record, max_active, seen, now_ms)})
        request_at: int | None = None
        if req_sk is not None:
            req_item: Item = {**item_key(owner, req_sk), "task": str_value(task_id)}
            if record.expire_at_ms is not None:
                req_item["expire_at"] = num_value(record.expire_at_ms)
                req_item["ttl"] = num_value(ttl_seconds(record.expire_at_ms))
            put: dict[str, Any] = {"TableName": self.table, "Item": req_item}
            if stale_holder is None:
                # An expired request-id item names an expired task (they expire together).
                put["ConditionExpression"] = "attribute_not_exists(#sk) OR #e <= :now"
                put["ExpressionAttributeValues"] = {":now": num_value(now_ms)}
            else:
                put["ConditionExpression"] = "#task = :stale"
                put["ExpressionAttributeValues"] = {":stale": str_value(stale_holder)}
            put["ExpressionAttributeNames"] = attr_names(put["ConditionExpression"])
            put["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
            request_at = len(items)
            items.append({"Put": put})
        return CreateWrite(items, active_at, request_at)

    def _entry_add(
        self, record: Record, max_active: int, seen: ActiveSet | None, now_ms: int
    ) -> dict[str, Any]:
        if seen is None:
            update = self.active_set_update(record)
            update["ExpressionAttributeValues"][":max"] = num_value(max_active)
            cond = "size(#slots) < :max"
            if max_active > 0:  # size() of a missing set is no number: the first entry
                cond = f"attribute_not_exists(#slots) OR {cond}"
            update["ConditionExpression"] = cond
            update["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
            return update
        slot = slot_of(record.task_id)
        dead = [s for s in seen.expired(now_ms) if s != slot][:PRUNE_PER_CREATE]
        names = {"#me": expiry_attr(slot)}
        values: dict[str, Any] = {
            ":exp": num_value(record.expire_at_ms or 0),
            ":after": {"SS": sorted((set(seen.slots) - set(dead)) | {slot})},
            ":seen": {"SS": sorted(seen.slots)},
        }
        conds = ["#slots = :seen"]
        for i, gone in enumerate(dead):
            names[f"#p{i}"] = expiry_attr(gone)
            values[f":p{i}"] = num_value(seen.slots[gone])
            conds.append(f"#p{i} = :p{i}")  # not renewed meanwhile
        expr = "SET #slots = :after, #me = :exp"
        if dead:
            expr += " REMOVE " + ", ".join(f"#p{i}" for i in range(len(dead)))
        cond = " AND ".join(conds)
        return {
            "TableName": self.table,
            "Key": item_key(record.owner, ACTIVE_SET_SK),
            "UpdateExpression": expr,
            "ConditionExpression": cond,
            "ExpressionAttributeNames": attr_names(expr, cond, extra=names),
            "ExpressionAttributeValues": values,
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }

    def task_update(
        self,
        record: Record,
        expected_version: int,
        now_ms: int,
        seq: int,
        extra_cond: str = "",
        extra_values: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The compare-and-swap of the task; `seq` is the position of its WRITE entry."""
        sets = ["#v = :v", "#d = :d", "#a = :a", "#mt = :mt", "#o = :o", "#seq = :seq"]
        fact_sets, removes, values = fact_update(record)
        sets += fact_sets
        values.update(
            {
                ":v": num_value(record.version),
                ":d": {"B": record.data},
                ":a": {"BOOL": record.active},
                ":mt": num_value(now_ms),
                ":o": str_value(self.origin),
                ":seq": num_value(seq),
                ":ev": num_value(expected_version),
                ":now": num_value(now_ms),
            }
        )
        if record.expire_at_ms is None:
            removes += ["#e", "#ttl"]
        else:
            sets += ["#e = :e", "#ttl = :ttl"]
            values[":e"] = num_value(record.expire_at_ms)
            values[":ttl"] = num_value(ttl_seconds(record.expire_at_ms + TTL_GRACE_MS))
        expr = "SET " + ", ".join(sets)
        if removes:
            expr += " REMOVE " + ", ".join(removes)
        cond = f"#v = :ev AND {UNEXPIRED}"
        if extra_cond:
            cond = f"{cond} AND {extra_cond}"
            values.update(extra_values or {})
        return {
            "TableName": self.table,
            "Key": item_key(record.owner, record.task_id),
            "UpdateExpression": expr,
            "ConditionExpression": cond,
            "ExpressionAttributeNames": attr_names(expr, cond),
            "ExpressionAttributeValues": values,
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }

    def task_delete(
        self, owner: str, task_id: str, version: int, now_ms: int, *, expired: bool = False
    ) -> dict[str, Any]:
        """Deletes the task at `version` (as read): unexpired at `now_ms` for a delete,
        expired by then for the sweeper's removal."""
        cond = "#v = :v AND " + ("#e <= :now" if expired else UNEXPIRED)
        return {
            "TableName": self.table,
            "Key": item_key(owner, task_id),
            "ConditionExpression": cond,
            "ExpressionAttributeNames": attr_names(cond),
            "ExpressionAttributeValues": {":v": num_value(version), ":now": num_value(now_ms)},
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }

    def active_set_update(self, record: Record) -> dict[str, Any]:
        """Makes `record`'s entry in its owner's active set match it: present with its
        expiry while active, absent once terminal. Unconditional and idempotent (set
        ADD/DELETE, SET/REMOVE of its expiry), so it is right whatever was stored."""
        slot = slot_of(record.task_id)
        names = {"#me": expiry_attr(slot)}
        values: dict[str, Any] = {":me": {"SS": [slot]}}
        if record.active:
            expr = "ADD #slots :me SET #me = :exp"
            values[":exp"] = num_value(record.expire_at_ms or 0)
        else:
            expr = "DELETE #slots :me REMOVE #me"
        return {
            "TableName": self.table,
            "Key": item_key(record.owner, ACTIVE_SET_SK),
            "UpdateExpression": expr,
            "ExpressionAttributeNames": attr_names(expr, extra=names),
            "ExpressionAttributeValues": values,
        }

    def active_set_leave(self, owner: str, task_id: str) -> Item:
        """Takes the task out of its owner's active set (whether or not it was in it)."""
        return {"Update": self.active_set_update(Record(owner, task_id, 0, b"", False, None))}

    def request_expiry_update(self, record: Record, req_sk: str) -> dict[str, Any]:
        """Gives the request-id item `req_sk` its task's expiry: it lives exactly as long."""
        req_values: dict[str, Any] = {":tid": str_value(record.task_id)}
        if record.expire_at_ms is None:
            req_expr = "REMOVE #e, #ttl"
        else:
            req_expr = "SET #e = :e, #ttl = :ttl"
            req_values[":e"] = num_value(record.expire_at_ms)
            req_values[":ttl"] = num_value(ttl_seconds(record.expire_at_ms))
        return {
            "TableName": self.table,
            "Key": item_key(record.owner, req_sk),
            "UpdateExpression": req_expr,
            "ConditionExpression": "#task = :tid",
            "ExpressionAttributeNames": attr_names(req_expr, "#task"),
            "ExpressionAttributeValues": req_values,
        }
