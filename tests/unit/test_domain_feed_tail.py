"""An owner's feed tail must end when stopped, even if the store's client swallows the cancel.

redis-py can catch a cancellation that lands inside a call and return normally; the lease
timers hung on exactly that (domain/leases.py). The tail keeps its own stopped flag for it.
"""

from __future__ import annotations

import asyncio
import contextlib

from taskstate_server.backends.base import EventPage
from taskstate_server.domain.errors import BackendUnavailable
from taskstate_server.domain.feed import OwnerTail


class SwallowingLog:
    """Answers the head read at once; every later read blocks until cancelled, then
    returns normally as if the cancellation never happened."""

    def __init__(self) -> None:
        self.reads = 0
        self.blocked = asyncio.Event()

    def set_feed_retention(self, retention_ms: int) -> None:
        pass

    async def read_events(self, owner: str, after: str, limit: int, now_ms: int) -> EventPage:
        self.reads += 1
        if self.reads > 1:
            self.blocked.set()
            with contextlib.suppress(asyncio.CancelledError):  # swallowed
                await asyncio.Event().wait()
        return EventPage(epoch="e1", head="0", events=[])


async def test_a_stopped_tail_ends_although_its_read_swallowed_the_cancel():
    log = SwallowingLog()
    tail = OwnerTail(log, "alice", lambda: 1_000)  # type: ignore[arg-type]
    tail.start()
    await asyncio.wait_for(tail.wait_ready(), 5)
    runner = tail._runner
    assert runner is not None
    tail.on_resync()  # the tail reads the log again, and that read blocks
    await asyncio.wait_for(log.blocked.wait(), 5)
    stopped = BackendUnavailable("stopped")
    tail.stop(stopped)
    await asyncio.wait_for(runner, 5)  # before the fix: waited on its kick forever
    assert tail.error is stopped
