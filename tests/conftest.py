"""Shared fixtures: real taskstate servers, one per selected store.

Fixtures
--------
``store_name``      session-scoped, parametrized over the stores of this run
                    (``TASKSTATE_TEST_STORES``, default ``memory,sqlite``; an unknown name fails).
``live_server``     a real server with default limits on ``store_name``, shared by the whole
                    session (so isolate with ``live_server.fresh_owner()`` or per-test tasks).
                    ``.address``, ``.token(owner)`` (alice, bob, carol, fresh owners),
                    ``.store_url``, ``.stub(owner)``, ``.stop(sig)``, ``.kill()``, ``.restart()``.
                    If a test stops it, the next test gets it restarted.
``server_factory``  function-scoped: ``server_factory(store="sqlite", args=[...], env={...},
                    tokens=None|dict|False, store_url=None)`` starts a dedicated server that is
                    stopped after the test. ``module_server_factory`` is the same per module.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, os.path.dirname(__file__))

import _harness
import _recycle
from _harness import ServerProcess, build_store_url
from _stores import selected_stores

_recycler: _recycle.Recycler | None = None


def pytest_configure(config: pytest.Config) -> None:
    global _recycler
    try:
        stores = selected_stores()
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None
    if "dynamodb" in stores:
        _recycler = _recycle.from_env()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    if _recycler is not None:
        _recycler.on_setup(item)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _recycler is not None and _recycler.restarts:
        terminalreporter.write_line(
            f"DynamoDB Local restarts: {_recycler.restarts} (tests/_recycle.py)"
        )


def _store_params() -> list[str]:
    try:
        return selected_stores()
    except ValueError:
        return []  # pytest_configure has already refused the run


class ServerFactory:
    """Starts dedicated servers under one directory and stops them all on close()."""

    def __init__(self, tmp_dir: Path) -> None:
        self.tmp_dir = tmp_dir
        self.servers: list[ServerProcess] = []
        self._n = 0

    def __call__(
        self,
        store: str | None = None,
        *,
        store_url: str | None = None,
        args: list[str] | tuple[str, ...] = (),
        env: dict[str, str] | None = None,
        tokens: Any = None,
        start: bool = True,
        listen_host: str = "127.0.0.1",
    ) -> ServerProcess:
        self._n += 1
        workdir = self.tmp_dir / f"server-{self._n}"
        if store_url is None:
            if store is None:
                raise ValueError("server_factory needs store= (a store name) or store_url=")
            store_url = build_store_url(store, workdir)
        server = ServerProcess(
            store_url,
            workdir=workdir,
            args=args,
            env=env,
            tokens=tokens,
            store_name=store or "",
            listen_host=listen_host,
        )
        self.servers.append(server)
        if start:
            server.start()
        return server

    def close(self) -> None:
        for server in self.servers:
            with contextlib.suppress(Exception):
                server.close()


@pytest.fixture(scope="session", params=_store_params())
def store_name(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="session")
def _shared_server(
    store_name: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    factory = ServerFactory(tmp_path_factory.mktemp(f"shared-{store_name}"))
    try:
        server = factory(store_name)
        if _recycler is not None and store_name == "dynamodb":
            # Its table goes with the restart; `live_server` starts it again (a new table).
            _recycler.before_restart(lambda: server.stop() if server.running else None)
        yield server
    finally:
        factory.close()


@pytest.fixture
def live_server(_shared_server: ServerProcess) -> ServerProcess:
    if not _shared_server.running:
        _shared_server.restart()
    return _shared_server


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[ServerFactory]:
    factory = ServerFactory(tmp_path)
    try:
        yield factory
    finally:
        factory.close()


@pytest.fixture(scope="module")
def module_server_factory(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ServerFactory]:
    factory = ServerFactory(tmp_path_factory.mktemp("module-servers"))
    try:
        yield factory
    finally:
        factory.close()


__all__ = ["ServerFactory", "_harness"]
