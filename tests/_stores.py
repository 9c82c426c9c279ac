"""The stores as the tests see them: ONE table, read by every harness.

The store contract suite (tests/store), the server harness (``_harness.build_store_url``), the
replica tests (tests/replicas) and the bench (bench/bench_server.py) all take their stores from
:data:`STORES`. An entry says how tests give a store a database (its URL), open a backend on it,
cut one off, drop a database afterwards, and run the store's service (tools/services/NAME.sh).

What a store CAN do (shared by replicas, a cross-replica feed, sweeping, durability, its record
and quota limits) is NOT said here: its backend class declares it, found through the server's
store table (``taskstate_server.backends.stores``); :class:`StoreSpec` only reads it.

The stores a run uses come from ``TASKSTATE_TEST_STORES`` (comma separated; default
``memory,sqlite``). A name that is not in the table, or a selected store that cannot be reached,
FAILS the run; it is never skipped.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest
from taskstate_server.backends import Backend, Feature, open_backend
from taskstate_server.backends.stores import BackendClass, store_named

REPO = Path(__file__).resolve().parents[1]
SERVICES = REPO / "tools" / "services"
DEFAULT_STORES = "memory,sqlite"


@dataclass(frozen=True)
class Database:
    """One logical database: a fresh directory plus a unique name (a key prefix, a table)."""

    path: Path
    name: str


def with_query(url: str, **params: str) -> str:
    """`url` with `params` set in its query (the others kept)."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query.update(params)
    return urlunsplit(parts._replace(query=urlencode(query, safe=":/")))


# -- per store: its URL, and what differs from the server's way in ---------------------------


def _memory_url(db: Database) -> str:
    return "memory://"


def _sqlite_url(db: Database) -> str:
    # An absolute path: sqlite:////abs/path.db (SQLAlchemy's convention).
    return f"sqlite:///{(db.path / f'taskstate-{db.name}.db').resolve()}"


async def _open_sqlite_unlocked(url: str) -> Backend:
    # Not as a server opens it (exclusively): the suite opens replicas on one file.
    from taskstate_server.backends.sqlite import SqliteBackend, sqlite_path

    return await SqliteBackend.open(sqlite_path(url))


def _redis_url(db: Database) -> str:
    base = os.environ.get("TASKSTATE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    return with_query(base, prefix=f"taskstate-test-{db.name}:")


def _dynamodb_url(db: Database) -> str:
    # TASKSTATE_TEST_DYNAMODB_URL names the endpoint/region (its table name is a base: each
    # database is a table of its own, created when it is opened).
    base = os.environ.get(
        "TASKSTATE_TEST_DYNAMODB_URL",
        "dynamodb://taskstate-test?region=us-east-1&endpoint=http://127.0.0.1:8000",
    )
    parts = urlsplit(base)
    table = f"{parts.netloc or 'taskstate-test'}-{db.name}"
    url = with_query(urlunsplit(parts._replace(netloc=table)), create_table="true")
    return url if "timeout=" in url else with_query(url, timeout="5")


async def _drop_dynamodb(url: str) -> None:
    # DynamoDB Local keeps every table in memory and slows down as they pile up.
    from taskstate_server.backends.dynamodb import DynamoDBBackend

    backend = DynamoDBBackend.from_url(url)
    try:
        await backend.delete_table()
    finally:
        await backend.close()


async def _close(backend: Backend) -> None:
    await backend.close()


# -- the table ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoreSpec:
    name: str
    """The store's name in the server's store table (and in TASKSTATE_TEST_STORES)."""
    url: Callable[[Database], str]
    """The store URL of a database; the same database always gives the same URL."""
    open: Callable[[str], Awaitable[Backend]] = open_backend
    """Opens a backend on a URL, as the store suite wants it (a server's way by default)."""
    make_unavailable: Callable[[Backend], Awaitable[None]] | None = None
    """Cuts an open backend off from its database (None: the store cannot be cut off)."""
    drop: Callable[[str], Awaitable[None]] | None = None
    """Removes a database (by URL) after its test, where leftovers would slow the store down."""
    service_url: Callable[[int], str] | None = None
    """The base URL of the store's own service (tools/services/NAME.sh) on a port."""

    @property
    def backend_class(self) -> BackendClass:
        return store_named(self.name).load()

    def has(self, feature: Feature) -> bool:
        """Whether the store's backend class declares `feature`."""
        return feature in self.backend_class.features

    @property
    def max_record_bytes(self) -> int | None:
        return self.backend_class.max_record_bytes

    @property
    def max_active_limit(self) -> int | None:
        return self.backend_class.max_active_limit

    async def open_database(self, db: Database) -> Backend:
        return await self.open(self.url(db))

    def service(self, port: int, dir: Path) -> Service:
        """The store's service on `port`, its files in `dir` (not started yet)."""
        assert self.service_url is not None, f"{self.name} has no service"
        return Service(self, port, dir)


STORES: dict[str, StoreSpec] = {
    s.name: s
    for s in (
        StoreSpec("memory", _memory_url),
        StoreSpec("sqlite", _sqlite_url, open=_open_sqlite_unlocked, make_unavailable=_close),
        StoreSpec(
            "redis",
            _redis_url,
            make_unavailable=_close,
            service_url=lambda port: f"redis://127.0.0.1:{port}/0",
        ),
        StoreSpec(
            "dynamodb",
            _dynamodb_url,
            make_unavailable=_close,
            drop=_drop_dynamodb,
            service_url=lambda port: (
                f"dynamodb://taskstate-test?region=us-east-1&endpoint=http://127.0.0.1:{port}"
            ),
        ),
    )
}
"""Store name -> how tests use it. Adding a store to the tests is one entry here."""


@dataclass
class Service:
    """A store's own server, run by tools/services/NAME.sh (``start|stop PORT DIR``)."""

    spec: StoreSpec
    port: int
    dir: Path

    @property
    def url(self) -> str:
        assert self.spec.service_url is not None
        return self.spec.service_url(self.port)

    def _script(self, action: str) -> None:
        script = SERVICES / f"{self.spec.name}.sh"
        proc = subprocess.run(
            ["bash", str(script), action, str(self.port), str(self.dir)],
            capture_output=True,
            text=True,
            timeout=600,  # the first start may install the service
        )
        if proc.returncode != 0:
            pytest.fail(
                f"{script.name} {action} {self.port} failed ({proc.returncode}):\n"
                f"{proc.stdout}\n{proc.stderr}"
            )

    def start(self) -> None:
        self._script("start")

    def stop(self) -> None:
        self._script("stop")


def selected_stores() -> list[str]:
    """The store names of this run, from ``TASKSTATE_TEST_STORES`` (comma separated).

    Raises ValueError for an unknown name: a misconfigured run must fail, never skip.
    """
    raw = os.environ.get("TASKSTATE_TEST_STORES", DEFAULT_STORES)
    names = [n.strip() for n in raw.split(",") if n.strip()]
    unknown = [n for n in names if n not in STORES]
    if unknown or not names:
        raise ValueError(
            f"TASKSTATE_TEST_STORES={raw!r}: unknown store(s) {unknown}; known: {', '.join(STORES)}"
        )
    return names


def durable_stores() -> list[str]:
    """Selected stores that survive a server restart."""
    return [n for n in selected_stores() if STORES[n].has(Feature.DURABLE)] or ["sqlite"]


def shared_feed_stores() -> list[str]:
    """EVERY store whose feed crosses replicas (for multi-server tests), selected or not."""
    return [n for n, spec in STORES.items() if spec.has(Feature.SHARED_FEED)]
