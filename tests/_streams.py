"""Server streams read in the background, and bounded waits on what they delivered.

One reader for every suite: the gRPC suite consumes messages in order (``next``/``rest``),
the replica suite waits for a version to show up (``until_version``); both get ``outcome``,
how the stream ended. Waiting with a timeout never cancels a read (which would cancel the
RPC): it only waits on what the background task has collected.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import grpc
import grpc.aio
from _harness import Outcome, outcome_from_error

END = object()
"""What StreamCollector.next returns once the stream has ended (see ``.outcome``)."""


class BackgroundStream:
    """The waiting shared by every background reader.

    Subclasses set ``_changed`` when something new arrives, and ``outcome`` then ``_ended``
    when the stream is over; ``_until`` re-runs a finder on every change until it finds."""

    def __init__(self) -> None:
        self.outcome: Outcome | None = None
        self._changed = asyncio.Event()
        self._ended = asyncio.Event()

    async def _until(
        self, find: Callable[[], Any], missing: Callable[[], str], within: float
    ) -> Any:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while True:
            found = find()
            if found is not None:
                return found
            remaining = deadline - loop.time()
            if remaining <= 0 or self._ended.is_set():
                raise AssertionError(
                    f"{missing()} within {within}s, outcome "
                    f"{self.outcome.describe() if self.outcome else 'still open'}"
                )
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)

    async def _until_end(self, within: float, still_open: Callable[[], str]) -> Outcome:
        try:
            await asyncio.wait_for(self._ended.wait(), within)
        except TimeoutError:
            raise AssertionError(f"still open after {within}s: {still_open()}") from None
        assert self.outcome is not None
        return self.outcome


class StreamCollector(BackgroundStream):
    """Reads an aio server stream in a background task: every message goes to ``messages``
    (kept) and to a queue (consumed by ``next``)."""

    def __init__(self, call: Any) -> None:
        super().__init__()
        self.call = call
        self.messages: list[Any] = []
        self.queue: asyncio.Queue[Any] = asyncio.Queue()
        self._task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        try:
            async for msg in self.call:
                self.messages.append(msg)
                self.queue.put_nowait(msg)
                self._changed.set()
            self.outcome = Outcome(code=grpc.StatusCode.OK)
        except grpc.aio.AioRpcError as err:
            self.outcome = outcome_from_error(err)
        except asyncio.CancelledError:
            self.outcome = Outcome(code=grpc.StatusCode.CANCELLED)
        finally:
            self._ended.set()
            self._changed.set()
            self.queue.put_nowait(END)

    async def next(self, within: float = 10.0) -> Any:
        """The next message, END once the stream has ended; AssertionError after ``within``."""
        try:
            item = await asyncio.wait_for(self.queue.get(), within)
        except TimeoutError:
            raise AssertionError(f"no stream message within {within}s") from None
        if item is END:
            self.queue.put_nowait(END)  # stay at the end
        return item

    async def poll(self, within: float) -> Any:
        """Like next() but returns None when nothing arrives within ``within`` seconds."""
        try:
            return await self.next(within)
        except AssertionError:
            return None

    async def rest(self, within: float = 15.0) -> tuple[list[Any], Outcome]:
        """Every remaining message until the stream ends, and how it ended."""
        out: list[Any] = []
        while True:
            item = await self.next(within)
            if item is END:
                assert self.outcome is not None
                return out, self.outcome
            out.append(item)

    async def until_version(self, version: int, within: float = 20.0) -> Any:
        """Waits (bounded) for a message whose task has ``version`` (or newer); returns it."""
        return await self._until(
            lambda: next((m for m in self.messages if m.task.version >= version), None),
            lambda: f"no version {version}; got {[m.task.version for m in self.messages]}",
            within,
        )

    async def end(self, within: float = 20.0) -> Outcome:
        """Waits (bounded) for the stream to end; returns how it ended."""
        return await self._until_end(
            within, lambda: f"stream got {[m.task.version for m in self.messages]}"
        )

    async def close(self) -> None:
        self.call.cancel()
        with contextlib.suppress(BaseException):
            await self._task
