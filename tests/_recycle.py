"""Keeps the run's DynamoDB Local fast: restarts it between test modules, at most once a minute.

(Before a module marked `fresh_dynamodb` always: its long runs need a fresh instance.)

DynamoDB Local (in memory) gets slower with every stream record it has ever stored, deleted tables
included: a put on a stream-enabled table takes ~2.4 ms fresh and ~10 ms after 32,000 records,
and `make test` writes several hundred thousand. Unchecked, the DynamoDB suites slowed from
minutes to most of an hour and long tests ran past their timeouts. A restart (3-4 s) empties it.

Safe because no DynamoDB table outlives a module: tests make their own tables, module fixtures
are torn down before the next module starts, and the session's shared servers (`conftest.py`)
are stopped here first and restarted on their next use, creating their table again.

Opt-in: `make test` sets TASKSTATE_TEST_DYNAMODB_SERVICE to the directory that
tools/services/dynamodb.sh runs the service from; the service on TASKSTATE_TEST_DYNAMODB_URL's
port is restarted only if that directory's pidfile names a live process, so a DynamoDB Local (or
an AWS endpoint) the tests did not start is never touched.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Final
from urllib.parse import parse_qs, urlsplit

import pytest
from _stores import STORES, Service

MIN_INTERVAL_S: Final = 60.0
"""Between two restarts; a module on a fresh instance writes far fewer records than slow one."""


class Recycler:
    """Restarts one DynamoDB Local before a module that uses it, once MIN_INTERVAL_S has passed."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self.restarts = 0
        self._last: float | None = None  # None: not restarted yet in this run
        self._module: str | None = None
        self._pending = False  # a new module began and none of its DynamoDB tests has run yet
        self._before_restart: list[Callable[[], None]] = []

    def before_restart(self, callback: Callable[[], None]) -> None:
        """`callback` runs before each restart (stops what holds a table open)."""
        self._before_restart.append(callback)

    def on_setup(self, item: pytest.Item) -> None:
        # Only at a module's first DynamoDB test: none of its tables exists yet.
        module = item.nodeid.split("::", 1)[0]
        if module != self._module:
            self._module, self._pending = module, True
        if not self._pending or "dynamodb" not in item.nodeid:
            return
        self._pending = False
        recent = self._last is not None and time.monotonic() - self._last < MIN_INTERVAL_S
        if recent and item.get_closest_marker("fresh_dynamodb") is None:
            return
        for callback in self._before_restart:
            callback()
        self.service.stop()
        self.service.start()
        self._last = time.monotonic()
        self.restarts += 1


def from_env() -> Recycler | None:
    """The recycler `make test` asks for, or None (not asked, or not our service)."""
    service_dir = os.environ.get("TASKSTATE_TEST_DYNAMODB_SERVICE", "")
    url = os.environ.get("TASKSTATE_TEST_DYNAMODB_URL", "")
    if not service_dir or not url:
        return None
    endpoint = urlsplit(parse_qs(urlsplit(url).query).get("endpoint", [""])[0])
    if endpoint.hostname not in ("127.0.0.1", "localhost") or endpoint.port is None:
        return None
    try:
        pid = int((Path(service_dir) / "dynamodb.pid").read_text().strip())
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError):
        return None
    if str(endpoint.port).encode() not in args:  # the script's service, on another port
        return None
    return Recycler(Service(STORES["dynamodb"], endpoint.port, Path(service_dir)))
