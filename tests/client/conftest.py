"""Fixtures for the Python client tests: real servers come from tests/conftest.py.

``live_server`` (shared per store) hands out fresh owners, so every test has
an empty task list and a full quota without restarting anything.
"""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator, Iterator

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from _harness import ServerProcess
from taskstate_client import AsyncTaskClient, TaskClient


@pytest.fixture
def owner(live_server: ServerProcess) -> str:
    name: str = live_server.fresh_owner()
    return name


@pytest.fixture
def token(live_server: ServerProcess, owner: str) -> str:
    secret: str = live_server.token(owner)
    return secret


@pytest.fixture
def client(live_server: ServerProcess, token: str) -> Iterator[TaskClient]:
    with TaskClient(live_server.address, token=token, timeout=30) as c:
        yield c


@pytest.fixture
async def aclient(live_server: ServerProcess, token: str) -> AsyncIterator[AsyncTaskClient]:
    async with AsyncTaskClient(live_server.address, token=token, timeout=30) as c:
        yield c


@pytest.fixture
def cli_env(
    live_server: ServerProcess, token: str, monkeypatch: pytest.MonkeyPatch
) -> ServerProcess:
    """Points the CLI at the live server through the environment, as a user would."""
    monkeypatch.setenv("TASKSTATE_ADDRESS", live_server.address)
    monkeypatch.setenv("TASKSTATE_TOKEN", token)
    return live_server
