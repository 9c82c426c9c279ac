"""Records and a feed recorder for the Backend-level suites (test_store_backend_api.py,
test_store_indexes.py, test_store_event_log.py), which call a backend without TaskStore.

`rec` builds a Record the way `TaskStore._record` does, facts included, so each test says
only the facts it is about."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from typing import Any

from taskstate_server.backends.base import Backend, Change, Record
from taskstate_server.domain.ids import TaskIdGenerator
from taskstate_server.domain.records import claim_group

NOW = (time.time_ns() // 1_000_000 // 60_000) * 60_000 + 86_400_000
"""A day ahead of real time: DynamoDB Local's own TTL deleter (real time) never races a test."""
GUARD = 10.0
_gen = TaskIdGenerator()


def new_id(now_ms: int = NOW) -> str:
    """A fresh task id; later calls give larger ids (ids sort by creation)."""
    return _gen.new(now_ms)[0]


def rec(
    owner: str = "alice",
    task_id: str | None = None,
    *,
    version: int = 1,
    active: bool = True,
    expire_at: int | None = None,
    status: str = "working",
    lease_until: int | None = None,
    method: str | None = None,
) -> Record:
    """A record; `method` offers it for claiming (its claim_group), `lease_until` leases it."""
    task_id = task_id or new_id()
    data = f'{{"task_id":"{task_id}","v":{version},"\u00e9":true}}'.encode()
    return Record(
        owner,
        task_id,
        version,
        data,
        active,
        expire_at,
        status=status,
        lease_until_ms=lease_until,
        claim_group=None if method is None else claim_group(method),
    )


def bump(r: Record, **changes: Any) -> Record:
    """The next version of `r` (new bytes), with `changes` to its fields."""
    return replace(r, version=r.version + 1, data=r.data + b" ", **changes)


class Feed:
    """Records what a backend's change feed delivers."""

    def __init__(self, backend: Backend) -> None:
        self.changes: list[Change] = []
        self.resyncs = 0
        self._grew = asyncio.Event()
        backend.subscribe(self.on_change, self.on_resync)

    def on_change(self, change: Change) -> None:
        self.changes.append(change)
        self._grew.set()

    def on_resync(self) -> None:
        self.resyncs += 1

    async def at_least(self, n: int) -> list[Change]:
        async def grow() -> None:
            while len(self.changes) < n:
                self._grew.clear()
                await self._grew.wait()

        await asyncio.wait_for(grow(), GUARD)
        return self.changes
