"""The store contract suite: ONE body of tests, run against every store.

Every test here takes the `store` (or `backend`, `make_store`, ...) fixture and
runs once per selected store. Which stores run is chosen by the environment:

    TASKSTATE_TEST_STORES=memory,sqlite   (the default; same variable as tests/conftest.py)

A name that is not registered, or a store whose database cannot be reached,
FAILS the tests; it is never skipped.

A store joins the suite with its entry in the one table of stores (tests/_stores.py:
`STORES`), which says how tests give it a database (its URL; the same `Database` always gives
the same URL, so two backends opened on it are two replicas of one database) and how to cut a
backend off or drop a database.

Which extra tests a store gets follows what its backend class declares (`features`, read through
`StoreSpec`; tests that need one request the matching fixture, and are generated only for stores
that have it):
`Feature.SHARED` -> `shared_database` (second replica: CAS, quota, idempotency, reopen),
`Feature.SHARED_FEED` -> `feed_shared_database` (watches see another replica's commits),
`make_unavailable` (test table) -> `cut_off` (outage maps to BackendUnavailable),
`Feature.SWEEPS` -> `sweeping` (sweep_expired removes expired records and publishes deletions),
`Feature.INDEXES` -> `indexed` (list_by_status, claimable, due_leases: test_store_indexes.py),
`Feature.EVENT_LOG` -> `event_log` (the per-owner event log: test_store_event_log.py),
`max_record_bytes` and `max_active_limit` of the class must equal what a backend says.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, cast

import pytest
from _stores import DEFAULT_STORES, STORES, Database, StoreSpec
from taskstate_server.backends import Feature, has_feature
from taskstate_server.backends.base import (
    Backend,
    ChangeListener,
    EventLogBackend,
    EventPage,
    IndexedBackend,
    Record,
    ResyncListener,
)
from taskstate_server.domain.model import Limits
from taskstate_server.domain.store import TaskStore

T0 = (time.time_ns() // 1_000_000 // 60_000) * 60_000 + 86_400_000
"""Where every fake clock starts: a day after this session's minute. Not a fixed
date, because stores with their own expiry (DynamoDB's TTL deleter) expire records
by REAL time: a fake clock in the past would see records vanish behind its back,
while one a day ahead never does during a test (no test advances real time)."""


class FakeClock:
    """A controllable `Callable[[], int]` of Unix milliseconds for TaskStore."""

    def __init__(self, now_ms: int = T0) -> None:
        self.now = now_ms

    def __call__(self) -> int:
        return self.now

    def advance(self, ms: int) -> int:
        self.now += ms
        return self.now


def selected_backend_names() -> list[str]:
    raw = os.environ.get("TASKSTATE_TEST_STORES", DEFAULT_STORES)
    names = [n.strip() for n in raw.split(",") if n.strip()]
    return names or DEFAULT_STORES.split(",")


def _spec(name: str) -> StoreSpec:
    spec = STORES.get(name)
    if spec is None:
        pytest.fail(
            f"TASKSTATE_TEST_STORES names unknown store {name!r}; registered: {sorted(STORES)}",
            pytrace=False,
        )
    return spec


# Fixtures whose presence restricts a test to the stores with a capability.
_CAPABILITY_FIXTURES: dict[str, Callable[[StoreSpec], bool]] = {
    "shared_database": lambda s: s.has(Feature.SHARED),
    "feed_shared_database": lambda s: s.has(Feature.SHARED_FEED),
    "cut_off": lambda s: s.make_unavailable is not None,
    "sweeping": lambda s: s.has(Feature.SWEEPS),
    "indexed": lambda s: s.has(Feature.INDEXES),
    "event_log": lambda s: s.has(Feature.EVENT_LOG),
}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend_name" not in metafunc.fixturenames:
        return
    names = selected_backend_names()
    for fixture, has in _CAPABILITY_FIXTURES.items():
        if fixture in metafunc.fixturenames:
            # Unknown names stay in, so that they fail rather than vanish.
            names = [n for n in names if n not in STORES or has(STORES[n])]
    metafunc.parametrize("backend_name", names, ids=names)


@pytest.fixture
def spec(backend_name: str) -> StoreSpec:
    return _spec(backend_name)


@pytest.fixture
def all_specs() -> list[StoreSpec]:
    """Every selected store, for tests that compare stores with each other."""
    return [_spec(n) for n in selected_backend_names()]


class Interleaving:
    """A Backend proxy that yields to the event loop around every operation.

    The memory backend never suspends, so without this, `asyncio.gather` of
    writers would run them one after another and no race would ever happen.
    """

    def __init__(self, inner: Backend) -> None:
        self.inner = inner
        self.features = inner.features
        self.max_record_bytes = inner.max_record_bytes
        self.max_active_limit = inner.max_active_limit

    async def _yielding(self, op: Awaitable[Any]) -> Any:
        await asyncio.sleep(0)
        try:
            return await op
        finally:
            await asyncio.sleep(0)

    async def get(self, owner: str, task_id: str, now_ms: int) -> Record | None:
        return await self._yielding(self.inner.get(owner, task_id, now_ms))

    async def create(
        self, record: Record, *, request_id: str | None, max_active: int, now_ms: int
    ) -> tuple[Record, bool]:
        return await self._yielding(
            self.inner.create(record, request_id=request_id, max_active=max_active, now_ms=now_ms)
        )

    async def compare_and_swap(
        self,
        record: Record,
        *,
        expected_version: int,
        now_ms: int,
        previous: Record | None = None,
    ) -> None:
        await self._yielding(
            self.inner.compare_and_swap(
                record, expected_version=expected_version, now_ms=now_ms, previous=previous
            )
        )

    async def delete(self, owner: str, task_id: str, now_ms: int) -> bool:
        return await self._yielding(self.inner.delete(owner, task_id, now_ms))

    async def list(
        self, owner: str, *, before_task_id: str | None, limit: int, now_ms: int
    ) -> list[Record]:
        return await self._yielding(
            self.inner.list(owner, before_task_id=before_task_id, limit=limit, now_ms=now_ms)
        )

    async def sweep_expired(self, now_ms: int, limit: int) -> int:
        return await self._yielding(self.inner.sweep_expired(now_ms, limit))

    # Feature.INDEXES and Feature.EVENT_LOG: `features` says whether inner has them.
    def _indexed(self) -> IndexedBackend:
        return cast(IndexedBackend, self.inner)

    def _event_log(self) -> EventLogBackend:
        return cast(EventLogBackend, self.inner)

    async def list_by_status(
        self,
        owner: str,
        statuses: frozenset[str],
        *,
        before_task_id: str | None,
        limit: int,
        now_ms: int,
    ) -> list[Record]:
        return await self._yielding(
            self._indexed().list_by_status(
                owner, statuses, before_task_id=before_task_id, limit=limit, now_ms=now_ms
            )
        )

    async def claimable(
        self, owner: str, *, group: str | None, limit: int, now_ms: int
    ) -> list[Record]:
        return await self._yielding(
            self._indexed().claimable(owner, group=group, limit=limit, now_ms=now_ms)
        )

    async def due_leases(self, now_ms: int, limit: int) -> list[tuple[str, str]]:
        return await self._yielding(self._indexed().due_leases(now_ms, limit))

    def set_feed_retention(self, retention_ms: int) -> None:
        self._event_log().set_feed_retention(retention_ms)

    async def read_events(self, owner: str, *, after: str, limit: int, now_ms: int) -> EventPage:
        return await self._yielding(
            self._event_log().read_events(owner, after=after, limit=limit, now_ms=now_ms)
        )

    def subscribe(self, on_change: ChangeListener, on_resync: ResyncListener) -> None:
        self.inner.subscribe(on_change, on_resync)

    async def ping(self) -> None:
        await self.inner.ping()

    async def close(self) -> None:
        await self.inner.close()


@pytest.fixture
def interleaving() -> type[Interleaving]:
    """The `Interleaving` proxy class, for races at the Backend level: `interleaving(backend)`."""
    return Interleaving


class Opened:
    """Everything a test opened, closed at teardown."""

    def __init__(self, spec: StoreSpec, tmp_path: Path) -> None:
        self.spec = spec
        self.tmp_path = tmp_path
        self.backends: list[Backend] = []
        self.stores: list[TaskStore] = []
        self.databases: list[Database] = []

    def database(self) -> Database:
        name = f"ts-{uuid.uuid4().hex[:12]}"
        path = self.tmp_path / name
        path.mkdir()
        db = Database(path, name)
        self.databases.append(db)
        return db

    async def backend(self, db: Database, spec: StoreSpec | None = None) -> Backend:
        b = await (spec or self.spec).open_database(db)
        self.backends.append(b)
        return b

    def store(
        self,
        backend: Backend,
        limits: Limits | None,
        clock: FakeClock,
        *,
        interleave: bool = False,
    ) -> TaskStore:
        s = TaskStore(
            Interleaving(backend) if interleave else backend, limits or Limits(), clock=clock
        )
        self.stores.append(s)
        return s

    async def close(self) -> None:
        for s in self.stores:
            await s.close()
        for b in self.backends:
            await b.close()
        if self.spec.drop is not None:
            for db in self.databases:
                await self.spec.drop(self.spec.url(db))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def opened(spec: StoreSpec, tmp_path: Path) -> AsyncIterator[Opened]:
    o = Opened(spec, tmp_path)
    try:
        yield o
    finally:
        await o.close()


@pytest.fixture
def database(opened: Opened) -> Database:
    return opened.database()


@pytest.fixture
async def backend(opened: Opened, database: Database) -> Backend:
    return await opened.backend(database)


@pytest.fixture
def store(opened: Opened, backend: Backend, clock: FakeClock) -> TaskStore:
    """A TaskStore with the default limits over the store under test."""
    return opened.store(backend, None, clock)


MakeStore = Callable[..., Awaitable[TaskStore]]


@pytest.fixture
def make_store(opened: Opened, clock: FakeClock) -> MakeStore:
    """`await make_store(limits, interleave=False, database=None)`: a TaskStore
    over a NEW backend (on a fresh database unless one is given), sharing `clock`."""

    async def make(
        limits: Limits | None = None,
        *,
        interleave: bool = False,
        database: Database | None = None,
    ) -> TaskStore:
        b = await opened.backend(database or opened.database())
        return opened.store(b, limits, clock, interleave=interleave)

    return make


@pytest.fixture
def make_clock() -> Callable[[], FakeClock]:
    """Fresh fake clocks, all starting at T0."""
    return FakeClock


OpenStore = Callable[[StoreSpec, FakeClock], Awaitable[TaskStore]]


@pytest.fixture
async def open_store(tmp_path: Path) -> AsyncIterator[OpenStore]:
    """`await open_store(spec, clock)`: a TaskStore with default limits over a
    fresh database of ANY store, for tests that compare stores with each other."""
    all_opened: list[Opened] = []

    async def open_(spec: StoreSpec, clock: FakeClock) -> TaskStore:
        o = Opened(spec, tmp_path / f"{spec.name}-{len(all_opened)}")
        o.tmp_path.mkdir()
        all_opened.append(o)
        return o.store(await o.backend(o.database()), None, clock)

    try:
        yield open_
    finally:
        for o in all_opened:
            await o.close()


@pytest.fixture
def shared_database(database: Database) -> Database:
    """The database of `store`, for tests that open a second replica on it with
    `make_store(database=shared_database)`. Only stores with `shared=True` run them."""
    return database


@pytest.fixture
def feed_shared_database(database: Database) -> Database:
    """Like `shared_database`, for stores whose change feed crosses replicas."""
    return database


@pytest.fixture
def cut_off(spec: StoreSpec, backend: Backend) -> Callable[[], Awaitable[None]]:
    """`await cut_off()` makes the database of `backend` unreachable. Only stores
    that declare `make_unavailable` run the tests that use it."""
    assert spec.make_unavailable is not None

    async def cut() -> None:
        assert spec.make_unavailable is not None
        await spec.make_unavailable(backend)

    return cut


@pytest.fixture
def indexed(spec: StoreSpec, backend: Backend) -> IndexedBackend:
    """`backend` as an `IndexedBackend`: only stores that declare `Feature.INDEXES` run
    the tests that use it."""
    assert has_feature(backend, Feature.INDEXES)
    return backend


@pytest.fixture
def event_log(spec: StoreSpec, backend: Backend) -> EventLogBackend:
    """`backend` as an `EventLogBackend`: only stores that declare `Feature.EVENT_LOG` run
    the tests that use it."""
    assert has_feature(backend, Feature.EVENT_LOG)
    return backend


@pytest.fixture
def sweeping(spec: StoreSpec) -> None:
    """Requested by tests that need sweep_expired to remove records: only stores
    that declare `Feature.SWEEPS` run them (the others expire records themselves)."""
    assert spec.has(Feature.SWEEPS)
