"""Fixtures for the gRPC integration tests (tests/grpc)."""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from _harness import ServerProcess


@pytest.fixture
def owner(live_server: ServerProcess) -> str:
    """An owner of its own for this test (empty task list, full quota)."""
    return live_server.fresh_owner()


@pytest.fixture
def other(live_server: ServerProcess) -> str:
    """A second fresh owner."""
    return live_server.fresh_owner()


@pytest.fixture
def stub(live_server: ServerProcess, owner: str) -> Any:
    """A sync TaskService stub authenticated as ``owner``."""
    return live_server.stub(owner)


@pytest.fixture
def other_stub(live_server: ServerProcess, other: str) -> Any:
    return live_server.stub(other)


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
