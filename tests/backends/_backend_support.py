"""Shared helpers of the backend-specific tests: a record maker and a feed recorder."""

from __future__ import annotations

import asyncio
import time

from taskstate_server.backends.base import Change, Record


def rec(
    task_id: str,
    *,
    owner: str = "alice",
    version: int = 1,
    active: bool = True,
    expire_at: int | None = None,
    data: bytes | None = None,
) -> Record:
    """A record with recognizable opaque data (backends never parse it)."""
    return Record(
        owner=owner,
        task_id=task_id,
        version=version,
        data=data if data is not None else f'{{"id":"{task_id}","v":{version}}}'.encode(),
        active=active,
        expire_at_ms=expire_at,
    )


class Recorder:
    """Collects what a backend's change feed delivers."""

    def __init__(self, *, resync_allowed: bool = True) -> None:
        self.changes: list[Change] = []
        self.resyncs = 0
        self._resync_allowed = resync_allowed

    def on_change(self, change: Change) -> None:
        self.changes.append(change)

    def on_resync(self) -> None:
        if not self._resync_allowed:
            raise AssertionError("an in-process feed never resyncs")
        self.resyncs += 1

    async def wait_for(self, n: int, within_s: float = 15.0) -> list[Change]:
        """Bounded polling: cross-process feeds deliver on their own schedule."""
        deadline = time.monotonic() + within_s
        while len(self.changes) < n:
            if time.monotonic() > deadline:
                raise AssertionError(f"got {len(self.changes)} of {n} changes: {self.changes}")
            await asyncio.sleep(0.05)
        return self.changes

    async def wait_until(self, change: Change, within_s: float = 15.0) -> None:
        deadline = time.monotonic() + within_s
        while change not in self.changes:
            if time.monotonic() > deadline:
                raise AssertionError(f"{change} never came: {self.changes}")
            await asyncio.sleep(0.05)
