"""The DynamoDB store's secondary indexes (`Feature.INDEXES`) and the queries over them.

A task item carries, besides its record, the index keys of the three facts `TaskStore`
derives (`Record.status`, `claim_group`, `lease_until_ms`) and its shard:

- `st` = `<status>#<task id>`: LSI `by_status` (pk, st), for `list_by_status`;
- `ca` = the task id and `cm` = `<claim_group>#<task id>`, only while claimable: sparse LSIs
  `claim_any` (pk, ca) and `claim_group` (pk, cm), for `claimable`;
- `sh` = the task's shard (of its id, set at create) and `lu` = the lease end (ms), only
  while a lease is recorded: sparse GSI `leases` (sh, lu), for `due_leases`;
- `sh` and `expire_at`: sparse GSI `expiring` (sh, expire_at), for the sweeper.

The LSIs are read with ConsistentRead, so a page reflects every committed write. They
project `expire_at` (a filter may only name projected attributes) and the Query fetches the
rest of each item from the table in the same call, so an index holds no task bytes. The
GSIs span owners; they are eventually consistent, which is harmless: the domain re-reads
and decides by compare-and-swap (leases), and the sweeper's delete is conditioned on what
it read (expiry). LSIs exist only if created with the table (`table.ensure_table`); they
cap one owner's items at 10 GB.

Every query reads about `limit` index entries per status, group or shard (more only when
expired records it must skip fill a page), never the owner's other tasks.
"""

from __future__ import annotations

import asyncio
import heapq
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Final

from ..base import Record
from .items import (
    SHARDS,
    UNEXPIRED,
    Item,
    attr_names,
    item_record,
    num_value,
    str_value,
)

BY_STATUS: Final = "by_status"
CLAIM_ANY: Final = "claim_any"
CLAIM_GROUP: Final = "claim_group"
LEASES: Final = "leases"
EXPIRING: Final = "expiring"

FACT_ATTRS: Final = ("st", "ca", "cm", "lu")
"""The index attributes a write sets or removes (`sh` is set once, at create)."""

Query = Callable[..., Awaitable[Any]]
"""The backend's Query call: keyword parameters in, the response out."""


def _key(name: str, kind: str = "S") -> tuple[str, str]:
    return (name, kind)


@dataclass(frozen=True, slots=True)
class IndexSpec:
    name: str
    local: bool
    hash_key: tuple[str, str]
    range_key: tuple[str, str]
    include: tuple[str, ...]
    """Projected attributes beyond the keys (empty: KEYS_ONLY)."""

    def definition(self) -> dict[str, Any]:
        projection: dict[str, Any] = {"ProjectionType": "KEYS_ONLY"}
        if self.include:
            projection = {"ProjectionType": "INCLUDE", "NonKeyAttributes": list(self.include)}
        return {
            "IndexName": self.name,
            "KeySchema": [
                {"AttributeName": self.hash_key[0], "KeyType": "HASH"},
                {"AttributeName": self.range_key[0], "KeyType": "RANGE"},
            ],
            "Projection": projection,
        }


INDEXES: Final = (
    IndexSpec(BY_STATUS, True, _key("pk"), _key("st"), ("expire_at",)),
    IndexSpec(CLAIM_ANY, True, _key("pk"), _key("ca"), ("expire_at",)),
    IndexSpec(CLAIM_GROUP, True, _key("pk"), _key("cm"), ("expire_at",)),
    IndexSpec(LEASES, False, _key("sh"), _key("lu", "N"), ("expire_at",)),
    IndexSpec(EXPIRING, False, _key("sh"), _key("expire_at", "N"), ()),
)


# -- what a write stores ---------------------------------------------------------------


def fact_values(record: Record) -> dict[str, Any]:
    """The index attributes of `record`: name -> value, absent ones left out."""
    out: dict[str, Any] = {}
    if record.status:
        out["st"] = str_value(f"{record.status}#{record.task_id}")
    if record.claim_group is not None:
        out["ca"] = str_value(record.task_id)
        out["cm"] = str_value(f"{record.claim_group}#{record.task_id}")
    if record.lease_until_ms is not None:
        out["lu"] = num_value(record.lease_until_ms)
    return out


def fact_update(record: Record) -> tuple[list[str], list[str], dict[str, Any]]:
    """For an UpdateExpression: the SET clauses, the REMOVE names, the values."""
    present = fact_values(record)
    sets = [f"#{name} = :f_{name}" for name in present]
    removes = [f"#{name}" for name in FACT_ATTRS if name not in present]
    return sets, removes, {f":f_{name}": value for name, value in present.items()}


# -- reading -----------------------------------------------------------------------------


async def collect(
    query: Query,
    params: dict[str, Any],
    limit: int,
    keep: Callable[[Item], bool] = lambda _: True,
) -> list[Item]:
    """Up to `limit` items the Query gives (and `keep` keeps), following pages while a
    filter or `keep` left one short."""
    out: list[Item] = []
    start_key: Item | None = None
    while len(out) < limit:
        page = dict(params, Limit=limit - len(out) + 1)
        if start_key is not None:
            page["ExclusiveStartKey"] = start_key
        resp = await query(**page)
        for item in resp.get("Items", []):
            if keep(item):
                out.append(item)
                if len(out) == limit:
                    break
        start_key = resp.get("LastEvaluatedKey")
        if start_key is None:
            break
    return out


def _records(items: Iterable[Item]) -> list[Record]:
    return [r for r in map(item_record, items) if r is not None]


class IndexReader:
    """The queries of `IndexedBackend` on one table, through the backend's Query call."""

    def __init__(self, table: str, query: Query) -> None:
        self.table = table
        self._query = query

    def _params(self, index: str, key_cond: str, values: dict[str, Any], **more: Any) -> Any:
        return {
            "TableName": self.table,
            "IndexName": index,
            "KeyConditionExpression": key_cond,
            "FilterExpression": UNEXPIRED,
            "ExpressionAttributeNames": attr_names(key_cond, UNEXPIRED),
            "ExpressionAttributeValues": values,
            **more,
        }

    async def by_status(
        self, owner: str, status: str, before_task_id: str | None, limit: int, now_ms: int
    ) -> list[Record]:
        """One status's page, newest first (the LSI's sort key is `<status>#<id>`)."""
        low = f"{status}#"
        # "$" follows "#": every key of this status sorts below `<status>$`.
        high = f"{status}$" if before_task_id is None else f"{low}{before_task_id}"
        key_cond = "#pk = :pk AND #st BETWEEN :lo AND :hi"
        values = {
            ":pk": str_value(owner),
            ":lo": str_value(low),
            ":hi": str_value(high),
            ":now": num_value(now_ms),
        }
        params = self._params(
            BY_STATUS,
            key_cond,
            values,
            Select="ALL_ATTRIBUTES",
            ConsistentRead=True,
            ScanIndexForward=False,
        )
        # BETWEEN is inclusive: the cursor's own item, if it has this status, is skipped.
        items = await collect(
            self._query, params, limit, lambda item: item["sk"]["S"] != before_task_id
        )
        return _records(items)

    async def list_by_status(
        self,
        owner: str,
        statuses: frozenset[str],
        before_task_id: str | None,
        limit: int,
        now_ms: int,
    ) -> list[Record]:
        if limit <= 0 or not statuses:
            return []
        pages = await asyncio.gather(
            *(self.by_status(owner, s, before_task_id, limit, now_ms) for s in sorted(statuses))
        )
        merged = heapq.merge(*pages, key=lambda r: r.task_id, reverse=True)
        return [r for _, r in zip(range(limit), merged, strict=False)]

    async def claimable(
        self, owner: str, group: str | None, limit: int, now_ms: int
    ) -> list[Record]:
        if limit <= 0:
            return []
        values: dict[str, Any] = {":pk": str_value(owner), ":now": num_value(now_ms)}
        if group is None:
            index, key_cond = CLAIM_ANY, "#pk = :pk"
        else:
            index, key_cond = CLAIM_GROUP, "#pk = :pk AND begins_with(#cm, :g)"
            values[":g"] = str_value(f"{group}#")
        params = self._params(index, key_cond, values, Select="ALL_ATTRIBUTES", ConsistentRead=True)
        return _records(await collect(self._query, params, limit))

    async def due_leases(self, now_ms: int, limit: int) -> list[tuple[str, str]]:
        # The GSI keeps a lease past the task's expiry: the filter skips expired tasks.
        return await self._due(LEASES, "#lu", now_ms, limit, unexpired=True)

    async def due_expiries(self, now_ms: int, limit: int) -> list[tuple[str, str]]:
        """Up to `limit` (owner, task id) whose expire_at <= now_ms, any owner (may lag)."""
        return await self._due(EXPIRING, "#e", now_ms, limit, unexpired=False)

    async def _due(
        self, index: str, sort_key: str, now_ms: int, limit: int, *, unexpired: bool
    ) -> list[tuple[str, str]]:
        """The keys of `index` whose sort key is <= now_ms, earliest first, every shard
        read at once (one round trip's time)."""
        if limit <= 0:
            return []
        key_cond = f"#sh = :sh AND {sort_key} <= :now"

        async def shard(sh: str) -> list[Item]:
            values = {":sh": str_value(sh), ":now": num_value(now_ms)}
            params = self._params(index, key_cond, values)
            if not unexpired:
                del params["FilterExpression"]
                params["ExpressionAttributeNames"] = attr_names(key_cond)
            return await collect(self._query, params, limit)

        found = await asyncio.gather(*(shard(str(i)) for i in range(SHARDS)))
        attr = attr_names(sort_key)[sort_key]
        items = heapq.merge(*found, key=lambda item: int(item[attr]["N"]))
        return [(i["pk"]["S"], i["sk"]["S"]) for _, i in zip(range(limit), items, strict=False)]
