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

from ._dynamodb_items import (
    _UNEXPIRED,
    COUNTER_SK,
    Item,
    Items,
    _Counter,
    _key,
    _n,
    _names,
    _s,
    _ttl_seconds,
)
from .base import Record

PRUNE_PER_CREATE: Final = 100
"""At most this many expired entries are pruned from the counter per create."""


@dataclass(frozen=True, slots=True)
class WriteRequests:
    """Builds the write requests on `table`; every task write carries `origin` (the
    writing backend instance), so the change feed skips what was published locally."""

    table: str
    origin: str

    def task_item(self, record: Record, now_ms: int, req_sk: str | None) -> Item:
        item: Item = {
            **_key(record.owner, record.task_id),
            "version": _n(record.version),
            "data": {"B": record.data},
            "active": {"BOOL": record.active},
            "mtime": _n(now_ms),
            "origin": _s(self.origin),
        }
        if record.expire_at_ms is not None:
            item["expire_at"] = _n(record.expire_at_ms)
            item["ttl"] = _n(_ttl_seconds(record.expire_at_ms))
        if req_sk is not None:
            item["req"] = _s(req_sk)
        return item

    def create_items(
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
            {"Put": {"TableName": self.table, "Item": self.task_item(record, now_ms, req_sk)}},
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

    def task_update(
        self, record: Record, expected_version: int, now_ms: int, extra_cond: str = ""
    ) -> dict[str, Any]:
        sets = "#v = :v, #d = :d, #a = :a, #mt = :mt, #o = :o"
        values: dict[str, Any] = {
            ":v": _n(record.version),
            ":d": {"B": record.data},
            ":a": {"BOOL": record.active},
            ":mt": _n(now_ms),
            ":o": _s(self.origin),
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

    def counter_update(self, record: Record, *, create_map: bool = False) -> dict[str, Any]:
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

    def request_expiry_update(self, record: Record, req_sk: str) -> dict[str, Any]:
        """Gives the request-id item `req_sk` its task's expiry: it lives exactly as long."""
        req_values: dict[str, Any] = {":tid": _s(record.task_id)}
        if record.expire_at_ms is None:
            req_expr = "REMOVE #e, #ttl"
        else:
            req_expr = "SET #e = :e, #ttl = :ttl"
            req_values[":e"] = _n(record.expire_at_ms)
            req_values[":ttl"] = _n(_ttl_seconds(record.expire_at_ms))
        return {
            "TableName": self.table,
            "Key": _key(record.owner, req_sk),
            "UpdateExpression": req_expr,
            "ConditionExpression": "#task = :tid",
            "ExpressionAttributeNames": _names(req_expr, "#task"),
            "ExpressionAttributeValues": req_values,
        }
