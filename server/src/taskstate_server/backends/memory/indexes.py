"""The memory store's indexes of `Record.status`, `claim_group`, `lease_until_ms` (and of
`expire_at_ms`, for its sweeper).

Sorted lists kept with bisect, so a page costs O(page + log n), not a scan of the owner's
tasks. The backend calls `add` with each record it stores and `discard` with the one it
replaces or removes; the queries take a `live` lookup to skip expired records (they stay
indexed until swept, as they stay stored)."""

from __future__ import annotations

import bisect
import heapq
from collections.abc import Callable, Iterator

from ..base import Record

Live = Callable[[str, str], Record | None]
"""(owner, task_id) -> the unexpired record, or None."""


def _insort(index: dict[tuple[str, ...], list[str]], key: tuple[str, ...], task_id: str) -> None:
    bisect.insort(index.setdefault(key, []), task_id)


def _remove(index: dict[tuple[str, ...], list[str]], key: tuple[str, ...], task_id: str) -> None:
    ids = index[key]
    del ids[bisect.bisect_left(ids, task_id)]
    if not ids:
        del index[key]


def _descending(ids: list[str], before: str | None) -> Iterator[str]:
    end = len(ids) if before is None else bisect.bisect_left(ids, before)
    return (ids[i] for i in range(end - 1, -1, -1))


class Indexes:
    def __init__(self) -> None:
        self._by_status: dict[tuple[str, ...], list[str]] = {}  # (owner, status) -> ids
        self._claimable: dict[tuple[str, ...], list[str]] = {}  # (owner,) and (owner, group)
        self._leases: list[tuple[int, str, str]] = []  # (lease_until, owner, id), ascending
        self._expiring: list[tuple[int, str, str]] = []  # (expire_at, owner, id), ascending

    def add(self, r: Record) -> None:
        _insort(self._by_status, (r.owner, r.status), r.task_id)
        if r.claim_group is not None:
            _insort(self._claimable, (r.owner,), r.task_id)
            _insort(self._claimable, (r.owner, r.claim_group), r.task_id)
        if r.lease_until_ms is not None:
            bisect.insort(self._leases, (r.lease_until_ms, r.owner, r.task_id))
        if r.expire_at_ms is not None:
            bisect.insort(self._expiring, (r.expire_at_ms, r.owner, r.task_id))

    def discard(self, r: Record) -> None:
        _remove(self._by_status, (r.owner, r.status), r.task_id)
        if r.claim_group is not None:
            _remove(self._claimable, (r.owner,), r.task_id)
            _remove(self._claimable, (r.owner, r.claim_group), r.task_id)
        if r.lease_until_ms is not None:
            key = (r.lease_until_ms, r.owner, r.task_id)
            del self._leases[bisect.bisect_left(self._leases, key)]
        if r.expire_at_ms is not None:
            key = (r.expire_at_ms, r.owner, r.task_id)
            del self._expiring[bisect.bisect_left(self._expiring, key)]

    def by_status(
        self, owner: str, statuses: frozenset[str], before: str | None, limit: int, live: Live
    ) -> list[Record]:
        # A k-way merge of the per-status lists (k <= 5), newest first.
        lists = (self._by_status.get((owner, s), []) for s in sorted(statuses))
        merged = heapq.merge(*(_descending(ids, before) for ids in lists), reverse=True)
        return _first_live(owner, merged, limit, live)

    def claimable(self, owner: str, group: str | None, limit: int, live: Live) -> list[Record]:
        key = (owner,) if group is None else (owner, group)
        return _first_live(owner, iter(self._claimable.get(key, [])), limit, live)

    def due_leases(self, now_ms: int, limit: int, live: Live) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        for until, owner, task_id in self._leases:
            if until > now_ms or len(out) >= limit:
                break
            if live(owner, task_id) is not None:
                out.append((owner, task_id))
        return out

    def expired(self, now_ms: int, limit: int) -> list[tuple[str, str]]:
        """Up to `limit` (owner, task_id) whose expire_at has passed, soonest first (the
        sweeper's, so that a sweep costs what it removes, not a scan of every record)."""
        hi = min(limit, len(self._expiring))
        end = bisect.bisect_right(self._expiring, now_ms, hi=hi, key=lambda e: e[0])
        return [(owner, task_id) for _, owner, task_id in self._expiring[:end]]


def _first_live(owner: str, ids: Iterator[str], limit: int, live: Live) -> list[Record]:
    out: list[Record] = []
    for task_id in ids:
        if len(out) >= limit:
            break
        rec = live(owner, task_id)
        if rec is not None:
            out.append(rec)
    return out
