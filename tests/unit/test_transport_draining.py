"""A stream step that ends while its call is being cancelled leaves no unobserved exception.

A watch's next step can finish (the stream ended: StopAsyncIteration, or a store error) in the
same loop turn in which the client goes away and gRPC cancels the call. The servicer then leaves
without reading the step's outcome, and asyncio logs "Task exception was never retrieved" with a
traceback at ERROR on the server (seen in the Go client's test server logs): noise that hides
real errors. Every outcome must be consumed, whichever way the call ends.
"""

from __future__ import annotations

import asyncio
import gc
from typing import Any

import pytest
from taskstate_server.backends.memory import MemoryBackend
from taskstate_server.domain.store import TaskStore
from taskstate_server.transport.servicer import Draining, TaskServicer


def servicer(draining: asyncio.Event) -> TaskServicer:
    return TaskServicer(TaskStore(MemoryBackend()), draining)


async def unretrieved_after(scenario: Any) -> list[dict[str, Any]]:
    """Runs `scenario`, then collects what the loop reports as never retrieved."""
    loop = asyncio.get_running_loop()
    reported: list[dict[str, Any]] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: reported.append(context))
    try:
        await scenario()
        # Unretrieved exceptions are reported when their future is collected: one loop turn
        # runs the done-callbacks still holding it, then the collector frees it.
        await asyncio.sleep(0)
        gc.collect()
    finally:
        loop.set_exception_handler(previous)
    return reported


@pytest.mark.parametrize("error", [StopAsyncIteration, RuntimeError])
async def test_step_ending_as_the_call_is_cancelled(error: type[Exception]) -> None:
    async def scenario() -> None:
        outer: asyncio.Task[None] | None = None

        async def step() -> None:
            assert outer is not None
            outer.cancel()  # the client goes away in the same turn the step ends
            raise error("the step's own outcome")

        async def call() -> None:
            await servicer(asyncio.Event())._unless_draining(step())

        outer = asyncio.create_task(call())
        with pytest.raises(asyncio.CancelledError):
            await outer

    assert await unretrieved_after(scenario) == []


async def test_step_ending_as_the_server_drains() -> None:
    async def scenario() -> None:
        draining = asyncio.Event()

        async def step() -> None:
            draining.set()
            raise StopAsyncIteration

        with pytest.raises((StopAsyncIteration, Draining)):
            await servicer(draining)._unless_draining(step())

    assert await unretrieved_after(scenario) == []


async def test_step_result_is_returned() -> None:
    async def step() -> str:
        return "task"

    assert await servicer(asyncio.Event())._unless_draining(step()) == "task"
