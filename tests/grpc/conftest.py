"""Fixtures for the gRPC integration tests (tests/grpc)."""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from _harness import ServerProcess, sync_channel, sync_stub


@pytest.fixture
def owner(live_server: ServerProcess) -> str:
    """An owner of its own for this test (empty task list, full quota)."""
    return live_server.fresh_owner()


@pytest.fixture
def other(live_server: ServerProcess) -> str:
    """A second fresh owner."""
    return live_server.fresh_owner()


@pytest.fixture
def stub(live_server: ServerProcess, owner: str) -> Iterator[Any]:
    """A sync TaskService stub authenticated as ``owner`` (its channel closes after the test)."""
    s = sync_stub(live_server.address, live_server.token(owner))
    yield s
    s._channel_ref.close()


@pytest.fixture
def other_stub(live_server: ServerProcess, other: str) -> Iterator[Any]:
    s = sync_stub(live_server.address, live_server.token(other))
    yield s
    s._channel_ref.close()


@pytest.fixture
def raw_channel(live_server: ServerProcess, owner: str) -> Iterator[Any]:
    """A sync channel authenticated as ``owner``, for raw (bytes in, bytes out) calls."""
    ch = sync_channel(live_server.address, live_server.token(owner))
    yield ch
    ch.close()


@pytest.fixture
async def aio_stubs() -> AsyncIterator[Callable[..., Any]]:
    """``aio_stubs(server, owner=None, token=None)`` -> an aio stub closed after the test."""
    made: list[Any] = []

    def make(server: ServerProcess, owner: str | None = None, token: str | None = None) -> Any:
        s = server.aio_stub(owner, token=token)
        made.append(s)
        return s

    yield make
    for s in made:
        await s._channel_ref.close()
