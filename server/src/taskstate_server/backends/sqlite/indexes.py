"""The SQLite store's index reads (`Feature.INDEXES`), each a walk of one partial or
composite index that stops after about `limit` rows, however many tasks the owner has.

Expired rows are filtered inside each walk (so they take no place in a page); the rows an
index lists but a read skips are only those expired and not yet swept.

Every read names its index (INDEXED BY): the primary key (owner, task_id) walks in the same
order, and without statistics the planner prefers it (checked with EXPLAIN QUERY PLAN),
reading every task of the owner to find the few that match.
"""

from __future__ import annotations

import sqlite3
from typing import Any, Final

from ..base import Record
from .rows import COLUMNS, UNEXPIRED, to_record


def _status_walk(before: bool) -> str:
    cursor = " AND task_id < ?" if before else ""
    return (
        f"SELECT {COLUMNS} FROM tasks INDEXED BY tasks_status"
        f" WHERE owner = ? AND status = ?{cursor} AND {UNEXPIRED}"
        " ORDER BY task_id DESC LIMIT ?"
    )


def by_status(
    conn: sqlite3.Connection,
    owner: str,
    statuses: frozenset[str],
    *,
    before_task_id: str | None,
    limit: int,
    now_ms: int,
) -> list[Record]:
    """One `tasks_status` walk per status, each stopping at `limit` rows, merged: a plain
    `status IN (...)` would read and sort every match of the owner."""
    if not statuses or limit <= 0:
        return []
    walk = _status_walk(before_task_id is not None)
    params: list[Any] = []
    for status in sorted(statuses):
        params += [owner, status]
        if before_task_id is not None:
            params.append(before_task_id)
        params += [now_ms, limit]
    if len(statuses) == 1:
        sql = walk
    else:
        # Each walk is a subquery, so its LIMIT is its own; the outer ORDER BY merges at
        # most len(statuses) * limit rows.
        sql = (
            " UNION ALL ".join([f"SELECT * FROM ({walk})"] * len(statuses))
            + " ORDER BY task_id DESC LIMIT ?"
        )
        params.append(limit)
    return [to_record(row) for row in conn.execute(sql, params)]


_CLAIMABLE_ANY: Final = (
    f"SELECT {COLUMNS} FROM tasks INDEXED BY tasks_claim"
    f" WHERE owner = ? AND claim_group IS NOT NULL AND {UNEXPIRED}"
    " ORDER BY task_id LIMIT ?"
)
_CLAIMABLE_GROUP: Final = (
    f"SELECT {COLUMNS} FROM tasks INDEXED BY tasks_claim_group"
    f" WHERE owner = ? AND claim_group = ? AND {UNEXPIRED}"
    " ORDER BY task_id LIMIT ?"
)


def claimable(
    conn: sqlite3.Connection, owner: str, *, group: str | None, limit: int, now_ms: int
) -> list[Record]:
    if limit <= 0:
        return []
    if group is None:
        rows = conn.execute(_CLAIMABLE_ANY, (owner, now_ms, limit))
    else:
        rows = conn.execute(_CLAIMABLE_GROUP, (owner, group, now_ms, limit))
    return [to_record(row) for row in rows]


_DUE: Final = (
    "SELECT owner, task_id FROM tasks INDEXED BY tasks_lease"
    f" WHERE lease_until IS NOT NULL AND lease_until <= ? AND {UNEXPIRED}"
    " ORDER BY lease_until LIMIT ?"
)


def due_leases(conn: sqlite3.Connection, now_ms: int, limit: int) -> list[tuple[str, str]]:
    """The earliest lease ends first, across every owner."""
    if limit <= 0:
        return []
    return [(owner, task_id) for owner, task_id in conn.execute(_DUE, (now_ms, now_ms, limit))]
