"""The DynamoDB backend against a REAL DynamoDB Local (never a mock).

The server comes from ``TASKSTATE_TEST_DYNAMODB_URL`` (a ``dynamodb://TABLE?endpoint=...``
URL; each test uses its own table named after TABLE) or, when unset, is started by
``tools/services/dynamodb.sh`` on a free port for this module and stopped after it. If it
cannot be started, every test here FAILS: a missing DynamoDB must never look like a pass.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import os
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest
from _backend_support import Recorder, rec
from taskstate_server.backends import StoreURLError
from taskstate_server.backends.base import (
    Backend,
    Change,
    DatabaseUnavailable,
    EventKind,
    QuotaFull,
    Record,
    RecordMissing,
    RecordTooLarge,
    VersionConflict,
)
from taskstate_server.backends.dynamodb import MAX_RECORD_BYTES, DynamoDBBackend
from taskstate_server.backends.dynamodb.events import make_event
from taskstate_server.backends.dynamodb.indexes import INDEXES
from taskstate_server.backends.dynamodb.items import (
    ACTIVE_SET_SK,
    ActiveSet,
    Cancelled,
    IncompatibleTable,
    event_sk,
    expiry_attr,
    item_key,
    slot_of,
)
from taskstate_server.domain.ids import TaskIdGenerator
from taskstate_server.domain.store import TaskStore

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tools" / "services" / "dynamodb.sh"
NOW = (time.time_ns() // 1_000_000 // 60_000) * 60_000 + 86_400_000
"""A day ahead of real time: DynamoDB Local's own TTL deleter (real time) never races a test."""
_tables = itertools.count()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def dynamodb_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A base dynamodb:// URL; tests derive their own table names from it."""
    given = os.environ.get("TASKSTATE_TEST_DYNAMODB_URL")
    if given:
        yield given
        return
    port = _free_port()
    run_dir = tmp_path_factory.mktemp("dynamodb-local")
    try:
        subprocess.run(
            ["bash", str(SCRIPT), "start", str(port), str(run_dir)],
            check=True,
            capture_output=True,
            text=True,
            timeout=600,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        out = getattr(exc, "stdout", "") or ""
        err = getattr(exc, "stderr", "") or ""
        pytest.fail(f"DynamoDB Local could not be started: {exc}\n{out}\n{err}", pytrace=False)
    try:
        yield f"dynamodb://taskstate-test?region=us-east-1&endpoint=http://127.0.0.1:{port}"
    finally:
        subprocess.run(
            ["bash", str(SCRIPT), "stop", str(port), str(run_dir)],
            capture_output=True,
            timeout=60,
        )


def table_url(base: str, **options: str) -> str:
    """`base` with a table of its own and create_table=true (plus `options`)."""
    parts = urlsplit(base)
    query = dict(parse_qsl(parts.query))
    query.update({"create_table": "true", **options})
    table = (
        f"{parts.netloc or 'taskstate-test'}-{os.getpid()}-{next(_tables)}-{uuid.uuid4().hex[:6]}"
    )
    return urlunsplit(parts._replace(netloc=table, query=urlencode(query)))


class Tables:
    """Opens backends on tables of their own and drops everything at the end."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.backends: list[DynamoDBBackend] = []

    async def open(self, url: str | None = None, **options: str) -> DynamoDBBackend:
        b = await DynamoDBBackend.open(url or table_url(self.base, **options))
        self.backends.append(b)
        return b

    async def replica(self, of: DynamoDBBackend, **options: str) -> DynamoDBBackend:
        """A second backend instance (= another server replica) on the same table."""
        parts = urlsplit(self.base)
        query = dict(parse_qsl(parts.query))
        query.update(options)
        url = urlunsplit(parts._replace(netloc=of.table, query=urlencode(query)))
        b = await DynamoDBBackend.open(url)
        self.backends.append(b)
        return b

    async def close(self) -> None:
        dropped: set[str] = set()
        for b in reversed(self.backends):
            if b.table not in dropped:
                dropped.add(b.table)
                with contextlib.suppress(Exception):
                    await b.delete_table()
            await b.close()


@pytest.fixture
async def tables(dynamodb_url: str) -> AsyncIterator[Tables]:
    t = Tables(dynamodb_url)
    yield t
    await t.close()


@pytest.fixture
async def backend(tables: Tables) -> DynamoDBBackend:
    return await tables.open()


W, D, X = EventKind.WRITE, EventKind.DELETED, EventKind.EXPIRED


def plain(changes: list[Change]) -> list[Change]:
    """`changes` without their log entries (the event-log tests check those)."""
    return [dataclasses.replace(c, event=None) for c in changes]


def calls(b: DynamoDBBackend) -> dict[str, int]:
    return dict(b.call_counts)


def delta(before: dict[str, int], b: DynamoDBBackend) -> dict[str, int]:
    return {op: n - before.get(op, 0) for op, n in b.call_counts.items() if n != before.get(op, 0)}


# -- construction -----------------------------------------------------------------


def test_url_parsing() -> None:
    b = DynamoDBBackend.from_url(
        "dynamodb://my-table?region=eu-west-1&endpoint=http://127.0.0.1:8009&create_table=true"
    )
    assert (b.table, b.region, b.endpoint, b.create_table_on_open) == (
        "my-table",
        "eu-west-1",
        "http://127.0.0.1:8009",
        True,
    )
    assert b.feed == "auto"
    assert DynamoDBBackend.from_url("dynamodb://tbl?region=x").create_table_on_open is False
    for bad in (
        "dynamodb://a?region=x",  # table name too short
        "dynamodb://tbl?region=x&bogus=1",
        "dynamodb://tbl?region=x&create_table=maybe",
        "dynamodb://tbl?region=x&feed=carrier-pigeon",
        "redis://tbl",
    ):
        with pytest.raises(StoreURLError):
            DynamoDBBackend.from_url(bad)


async def test_satisfies_protocol_and_create_table_is_idempotent(
    backend: DynamoDBBackend,
) -> None:
    b: Backend = backend
    assert b.max_record_bytes == MAX_RECORD_BYTES < 400_000
    await b.ping()
    await backend.create_table()  # again: a no-op
    client: Any = backend._client
    desc = (await client.describe_table(TableName=backend.table))["Table"]
    assert desc["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}
    assert desc["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    local = {i["IndexName"] for i in desc["LocalSecondaryIndexes"]}
    assert local == {"by_status", "claim_any", "claim_group"}
    assert {i["IndexName"] for i in desc["GlobalSecondaryIndexes"]} == {"leases", "expiring"}
    ttl = (await client.describe_time_to_live(TableName=backend.table))["TimeToLiveDescription"]
    assert ttl["TimeToLiveStatus"] in ("ENABLED", "ENABLING")
    assert ttl["AttributeName"] == "ttl"
    # TaskStore lowers the variables cap below DynamoDB's item limit.
    store = TaskStore(backend)
    assert store.limits.max_variables_bytes < MAX_RECORD_BYTES


async def test_unreachable_endpoint_is_backend_unavailable_in_bounded_time() -> None:
    url = f"dynamodb://taskstate-nowhere?region=us-east-1&endpoint=http://127.0.0.1:{_free_port()}"
    started = time.monotonic()
    with pytest.raises(DatabaseUnavailable):
        await DynamoDBBackend.open(url)
    b = DynamoDBBackend.from_url(url)
    try:
        with pytest.raises(DatabaseUnavailable):
            await b.get("alice", "t1", NOW)
        with pytest.raises(DatabaseUnavailable):
            await b.create(rec("t1"), request_id=None, max_active=5, now_ms=NOW)
        with pytest.raises(DatabaseUnavailable):
            await b.ping()
    finally:
        await b.close()
    assert time.monotonic() - started < 30


async def test_missing_table_is_backend_unavailable(dynamodb_url: str) -> None:
    parts = urlsplit(dynamodb_url)
    url = urlunsplit(parts._replace(netloc=f"taskstate-absent-{uuid.uuid4().hex[:8]}"))
    with pytest.raises(DatabaseUnavailable, match="not found"):
        await DynamoDBBackend.open(url)


# -- records ----------------------------------------------------------------------


async def test_create_get_and_publish(backend: DynamoDBBackend) -> None:
    feed = Recorder()
    backend.subscribe(feed.on_change, feed.on_resync)
    r = rec("t1", expire_at=NOW + 10_000)
    assert await backend.create(r, request_id=None, max_active=10, now_ms=NOW) == (r, True)
    assert await backend.get("alice", "t1", NOW) == r
    assert await backend.get("bob", "t1", NOW) is None
    assert await backend.get("alice", "nope", NOW) is None
    assert await backend.get("alice", "#active", NOW) is None  # reserved items are no tasks
    # Published with its log entry: the owner's first.
    assert feed.changes == [Change("alice", "t1", r, W, make_event(1, W, "t1", 1, NOW))]
    # Expiry is checked at read time, whatever DynamoDB's TTL has done.
    assert await backend.get("alice", "t1", NOW + 10_000) is None


async def test_round_trips(backend: DynamoDBBackend) -> None:
    b = backend
    before = calls(b)
    await b.create(rec("t1", expire_at=NOW + 1000), request_id=None, max_active=10, now_ms=NOW)
    # The owner's first write in this process reads its log's head first.
    assert delta(before, b) == {"GetItem": 1, "TransactWriteItems": 1}

    before = calls(b)
    t2 = rec_with_request_id("t2", "r1", expire_at=NOW + 1000)
    await b.create(t2, request_id="r1", max_active=10, now_ms=NOW)
    assert delta(before, b) == {"TransactWriteItems": 1}  # CreateTask: ONE call, request id too

    before = calls(b)
    v1 = await b.get("alice", "t1", NOW)
    assert v1 is not None
    assert delta(before, b) == {"GetItem": 1}  # GetTask: ONE call

    before = calls(b)
    v2 = rec("t1", version=2, expire_at=NOW + 1000)
    await b.compare_and_swap(v2, expected_version=1, now_ms=NOW, previous=v1)
    # A plain update: ONE call, a transaction since its log entry goes with it.
    assert delta(before, b) == {"TransactWriteItems": 1}

    before = calls(b)
    with pytest.raises(VersionConflict):
        await b.compare_and_swap(v2, expected_version=1, now_ms=NOW, previous=v1)
    assert delta(before, b) == {"TransactWriteItems": 1}  # the conflict's actual version comes back

    # Given the record it replaces, a write that changes the expiry or the active
    # flag is ONE transaction (task + active-set member (+ request-id item)) ...
    before = calls(b)
    v3 = rec("t1", version=3, expire_at=NOW + 5000)
    await b.compare_and_swap(v3, expected_version=2, now_ms=NOW, previous=v2)
    assert delta(before, b) == {"TransactWriteItems": 1}
    before = calls(b)
    await b.compare_and_swap(
        rec("t2", version=2, expire_at=NOW + 5000), expected_version=1, now_ms=NOW, previous=t2
    )
    assert delta(before, b) == {"TransactWriteItems": 1}
    before = calls(b)
    v4 = rec("t1", version=4, active=False, expire_at=NOW + 5000)
    await b.compare_and_swap(v4, expected_version=3, now_ms=NOW, previous=v3)
    assert delta(before, b) == {"TransactWriteItems": 1}
    # ... and without it, the first attempt (on "nothing else changes") fails and tells
    # what the stored record is: 2.
    await b.create(rec("t3", expire_at=NOW + 1000), request_id=None, max_active=10, now_ms=NOW)
    before = calls(b)
    await b.compare_and_swap(
        rec("t3", version=2, expire_at=NOW + 9000), expected_version=1, now_ms=NOW
    )
    assert delta(before, b) == {"TransactWriteItems": 2}

    before = calls(b)
    assert await b.delete("alice", "t1", NOW)
    # Its DELETED entry names the last version: read with the log's head, then ONE write.
    assert delta(before, b) == {"BatchGetItem": 1, "TransactWriteItems": 1}

    before = calls(b)
    again = await b.create(rec("t9"), request_id="r1", max_active=10, now_ms=NOW)
    assert again[1] is False and again[0].task_id == "t2"
    assert delta(before, b) == {"TransactWriteItems": 1, "GetItem": 1}  # idempotent retry: 2

    before = calls(b)
    page = await b.list("alice", before_task_id=None, limit=10, now_ms=NOW)
    assert [r.task_id for r in page] == ["t3", "t2"]
    assert delta(before, b) == {"Query": 1}  # a page: ONE query

    # After another replica's write to the owner, this one's remembered log head is
    # behind (no change feed runs here to tell it): the first try fails and returns the
    # head, the second commits. The next write is ONE call again.
    other = await DynamoDBBackend.open(_url_of(b))
    try:
        await other.create(rec("t4"), request_id=None, max_active=10, now_ms=NOW)
    finally:
        await other.close()
    before = calls(b)
    await b.create(rec("t5"), request_id=None, max_active=10, now_ms=NOW)
    assert delta(before, b) == {"TransactWriteItems": 2}

    # A refusal is ONE call too; admitting by pruning expired members takes 2.
    before = calls(b)
    with pytest.raises(QuotaFull):
        await b.create(rec("t6"), request_id=None, max_active=4, now_ms=NOW)
    assert delta(before, b) == {"TransactWriteItems": 1}
    before = calls(b)
    await b.create(rec("t6"), request_id=None, max_active=4, now_ms=NOW + 5000)
    assert delta(before, b) == {"TransactWriteItems": 2}


def rec_with_request_id(task_id: str, request_id: str, **kw: Any) -> Record:
    return dataclasses.replace(rec(task_id, **kw), request_id=request_id)


def _url_of(b: DynamoDBBackend) -> str:
    return f"dynamodb://{b.table}?region={b.region}&endpoint={b.endpoint}"


async def test_compare_and_swap(backend: DynamoDBBackend) -> None:
    feed = Recorder()
    backend.subscribe(feed.on_change, feed.on_resync)
    await backend.create(rec("t1"), request_id=None, max_active=10, now_ms=NOW)
    v2 = rec("t1", version=2, active=False, expire_at=NOW + 50)
    await backend.compare_and_swap(v2, expected_version=1, now_ms=NOW)
    assert await backend.get("alice", "t1", NOW) == v2
    assert plain(feed.changes)[-1] == Change("alice", "t1", v2)

    with pytest.raises(VersionConflict) as err:
        await backend.compare_and_swap(rec("t1", version=2), expected_version=1, now_ms=NOW)
    assert err.value.actual == 2
    with pytest.raises(RecordMissing):
        await backend.compare_and_swap(rec("zz", version=2), expected_version=1, now_ms=NOW)
    with pytest.raises(RecordMissing):  # another owner's task is missing
        await backend.compare_and_swap(
            rec("t1", owner="bob", version=3), expected_version=2, now_ms=NOW
        )
    with pytest.raises(RecordMissing):  # expired
        await backend.compare_and_swap(rec("t1", version=3), expected_version=2, now_ms=NOW + 50)
    assert len(feed.changes) == 2
    assert await backend.get("alice", "t1", NOW) == v2

    # Removing the expiry, and a conflict detected on the slow (transaction) path.
    await backend.create(rec("t2", expire_at=NOW + 100), request_id=None, max_active=10, now_ms=NOW)
    v2b = rec("t2", version=2, expire_at=None)
    await backend.compare_and_swap(v2b, expected_version=1, now_ms=NOW)
    assert await backend.get("alice", "t2", NOW + 10**9) == v2b
    with pytest.raises(VersionConflict) as err:
        await backend.compare_and_swap(
            rec("t2", version=2, expire_at=NOW + 5), expected_version=1, now_ms=NOW
        )
    assert err.value.actual == 2


async def test_quota_counts_active_unexpired_per_owner(backend: DynamoDBBackend) -> None:
    await backend.create(rec("a1"), request_id=None, max_active=2, now_ms=NOW)
    await backend.create(rec("a2", expire_at=NOW + 10), request_id=None, max_active=2, now_ms=NOW)
    await backend.create(rec("a3", active=False), request_id=None, max_active=3, now_ms=NOW)
    with pytest.raises(QuotaFull):
        await backend.create(rec("a4"), request_id=None, max_active=2, now_ms=NOW)
    await backend.create(rec("b1", owner="bob"), request_id=None, max_active=2, now_ms=NOW)
    # a2 has expired: it no longer counts.
    await backend.create(rec("a4"), request_id=None, max_active=2, now_ms=NOW + 10)
    with pytest.raises(QuotaFull):
        await backend.create(rec("a5"), request_id=None, max_active=2, now_ms=NOW + 10)
    with pytest.raises(QuotaFull):
        await backend.create(rec("a5"), request_id=None, max_active=0, now_ms=NOW)
    # A terminal write frees its slot ...
    await backend.compare_and_swap(
        rec("a1", version=2, active=False), expected_version=1, now_ms=NOW + 10
    )
    await backend.create(rec("a5"), request_id=None, max_active=2, now_ms=NOW + 10)
    with pytest.raises(QuotaFull):
        await backend.create(rec("a6"), request_id=None, max_active=2, now_ms=NOW + 10)
    # ... and so does a delete, seen by another replica too.
    assert await backend.delete("alice", "a5", NOW + 10)
    await backend.create(rec("a6"), request_id=None, max_active=2, now_ms=NOW + 10)
    with pytest.raises(QuotaFull):
        await backend.create(rec("a7"), request_id=None, max_active=2, now_ms=NOW + 10)


async def test_request_id_idempotency(backend: DynamoDBBackend) -> None:
    feed = Recorder()
    backend.subscribe(feed.on_change, feed.on_resync)
    first = rec("t1", expire_at=NOW + 100)
    assert await backend.create(first, request_id="r", max_active=1, now_ms=NOW) == (first, True)
    # A retry returns the first task, creates nothing and skips the quota check.
    again = await backend.create(rec("t2"), request_id="r", max_active=1, now_ms=NOW)
    assert again == (first, False)
    assert await backend.get("alice", "t2", NOW) is None
    # The same request id is independent per owner.
    other = rec("t9", owner="bob")
    assert await backend.create(other, request_id="r", max_active=1, now_ms=NOW) == (other, True)
    # The task survives CAS (and a TTL renewal) with its request id.
    v2 = rec("t1", version=2, expire_at=NOW + 200)
    await backend.compare_and_swap(v2, expected_version=1, now_ms=NOW)
    assert await backend.create(rec("t3"), request_id="r", max_active=5, now_ms=NOW + 150) == (
        v2,
        False,
    )
    # Once expired, the request id creates a new task, in ONE call still.
    feed.changes.clear()
    new = rec("t4")
    before = calls(backend)
    assert await backend.create(new, request_id="r", max_active=5, now_ms=NOW + 200) == (new, True)
    assert delta(before, backend) == {"TransactWriteItems": 1}
    assert plain(feed.changes) == [Change("alice", "t4", new)]
    # After a delete the request id is free again.
    assert await backend.delete("alice", "t4", NOW)
    newer = rec("t5")
    assert await backend.create(newer, request_id="r", max_active=5, now_ms=NOW) == (newer, True)
    # Any request id fits (it is hashed into the key).
    long_id = "x" * 5000
    assert (await backend.create(rec("t6"), request_id=long_id, max_active=9, now_ms=NOW))[1]
    assert not (await backend.create(rec("t7"), request_id=long_id, max_active=9, now_ms=NOW))[1]


async def test_list_order_paging_and_expiry(backend: DynamoDBBackend) -> None:
    for i in range(10):
        expire = NOW + 5 if i % 3 == 0 else None
        await backend.create(
            rec(f"t{i:02d}", expire_at=expire), request_id=f"req{i}", max_active=100, now_ms=NOW
        )
    await backend.create(rec("t99", owner="bob"), request_id=None, max_active=100, now_ms=NOW)

    page = await backend.list("alice", before_task_id=None, limit=4, now_ms=NOW)
    assert [r.task_id for r in page] == ["t09", "t08", "t07", "t06"]
    page = await backend.list("alice", before_task_id="t06", limit=4, now_ms=NOW)
    assert [r.task_id for r in page] == ["t05", "t04", "t03", "t02"]
    page = await backend.list("alice", before_task_id="t02", limit=4, now_ms=NOW)
    assert [r.task_id for r in page] == ["t01", "t00"]
    # Expired tasks are skipped without shortening the page.
    page = await backend.list("alice", before_task_id=None, limit=4, now_ms=NOW + 5)
    assert [r.task_id for r in page] == ["t08", "t07", "t05", "t04"]
    page = await backend.list("alice", before_task_id="t04", limit=10, now_ms=NOW + 5)
    assert [r.task_id for r in page] == ["t02", "t01"]
    # A cursor that is no task id, and limits.
    page = await backend.list("alice", before_task_id="t055", limit=2, now_ms=NOW)
    assert [r.task_id for r in page] == ["t05", "t04"]
    assert await backend.list("alice", before_task_id=None, limit=0, now_ms=NOW) == []
    assert await backend.list("nobody", before_task_id=None, limit=5, now_ms=NOW) == []
    full = await backend.list("alice", before_task_id=None, limit=100, now_ms=NOW)
    assert [r.task_id for r in full] == [f"t{i:02d}" for i in reversed(range(10))]
    assert full[0] == await backend.get("alice", "t09", NOW)


async def test_delete(backend: DynamoDBBackend) -> None:
    feed = Recorder()
    backend.subscribe(feed.on_change, feed.on_resync)
    await backend.create(rec("t1"), request_id=None, max_active=5, now_ms=NOW)
    await backend.create(rec("t2", expire_at=NOW + 5), request_id=None, max_active=5, now_ms=NOW)
    assert await backend.delete("alice", "t1", NOW)
    assert not await backend.delete("alice", "t1", NOW)
    assert not await backend.delete("bob", "t2", NOW)
    assert not await backend.delete("alice", "t2", NOW + 5)  # expired: already gone
    assert not await backend.delete("alice", "#active", NOW)
    assert not await backend.delete("carol", "never", NOW)  # an owner with no counter item
    assert await backend.get("alice", "t1", NOW) is None
    # t1, t2, then t1's deletion: the third entry, with the version deleted.
    assert feed.changes[-1] == Change("alice", "t1", None, D, make_event(3, D, "t1", 1, NOW))


async def test_item_size_limit_is_record_too_large(backend: DynamoDBBackend) -> None:
    big = b'{"x":"' + b"y" * 410_000 + b'"}'
    with pytest.raises(RecordTooLarge):
        await backend.create(rec("t1", data=big), request_id=None, max_active=5, now_ms=NOW)
    assert await backend.get("alice", "t1", NOW) is None
    ok = rec("t1", data=b'{"x":"' + b"y" * (MAX_RECORD_BYTES - 100) + b'"}')
    await backend.create(ok, request_id="r", max_active=5, now_ms=NOW)
    assert await backend.get("alice", "t1", NOW) == ok
    with pytest.raises(RecordTooLarge):  # the fast path
        await backend.compare_and_swap(
            rec("t1", version=2, data=big), expected_version=1, now_ms=NOW
        )
    with pytest.raises(RecordTooLarge):  # a terminal write (a transaction)
        await backend.compare_and_swap(
            rec("t1", version=2, active=False, data=big), expected_version=1, now_ms=NOW
        )
    assert await backend.get("alice", "t1", NOW) == ok


# -- several replicas -----------------------------------------------------------------


async def test_quota_is_exact_under_concurrent_creates_on_two_replicas(
    tables: Tables,
) -> None:
    a = await tables.open()
    b = await tables.replica(a)
    now = int(time.time() * 1000)

    async def one(i: int) -> bool:
        replica = a if i % 2 else b
        try:
            await replica.create(
                rec(f"c{i:03d}", expire_at=now + 60_000), request_id=None, max_active=10, now_ms=now
            )
        except QuotaFull:
            return False
        return True

    results = await asyncio.gather(*(one(i) for i in range(50)))
    assert sum(results) == 10
    listed = await a.list("alice", before_task_id=None, limit=100, now_ms=now)
    assert len(listed) == 10
    # The quota stays exact afterwards, from either replica.
    with pytest.raises(QuotaFull):
        await b.create(rec("late"), request_id=None, max_active=10, now_ms=now)
    done = listed[0]
    await a.compare_and_swap(
        rec(done.task_id, version=2, active=False, expire_at=now + 60_000),
        expected_version=1,
        now_ms=now,
    )
    await b.create(rec("late"), request_id=None, max_active=10, now_ms=now)
    with pytest.raises(QuotaFull):
        await a.create(rec("later"), request_id=None, max_active=10, now_ms=now)


async def test_concurrent_creates_with_one_request_id_create_one_task(tables: Tables) -> None:
    a = await tables.open()
    b = await tables.replica(a)

    async def one(i: int) -> tuple[Record, bool]:
        replica = a if i % 2 else b
        return await replica.create(rec(f"d{i:02d}"), request_id="same", max_active=100, now_ms=NOW)

    results = await asyncio.gather(*(one(i) for i in range(20)))
    created = [r for r, new in results if new]
    assert len(created) == 1
    assert {r.task_id for r, _ in results} == {created[0].task_id}
    assert len(await a.list("alice", before_task_id=None, limit=100, now_ms=NOW)) == 1


async def test_changes_reach_another_replica_through_streams(tables: Tables) -> None:
    a = await tables.open()
    b = await tables.replica(a)
    feed_a, feed_b = Recorder(), Recorder()
    a.subscribe(feed_a.on_change, feed_a.on_resync)
    b.subscribe(feed_b.on_change, feed_b.on_resync)
    assert await a.wait_feed_ready(30)
    assert await b.wait_feed_ready(30)
    assert b.feed_mode == "streams"

    r1 = rec("s1", expire_at=NOW + 600_000)
    await a.create(r1, request_id="q", max_active=10, now_ms=NOW)
    r2 = rec("s1", version=2, expire_at=r1.expire_at_ms)
    await a.compare_and_swap(r2, expected_version=1, now_ms=NOW)
    r3 = rec("s1", version=3, active=False, expire_at=r1.expire_at_ms)
    await a.compare_and_swap(r3, expected_version=2, now_ms=NOW)
    assert await a.delete("alice", "s1", NOW)

    expected = [
        Change("alice", "s1", r1, W, make_event(1, W, "s1", 1, NOW)),
        Change("alice", "s1", r2, W, make_event(2, W, "s1", 2, NOW)),
        Change("alice", "s1", r3, W, make_event(3, W, "s1", 3, NOW)),
        Change("alice", "s1", None, D, make_event(4, D, "s1", 3, NOW)),
    ]
    # B learns every change, in commit order, with its log entry, through the stream: a
    # write from the task's image, the deletion from its entry's item.
    assert await feed_b.wait_for(4) == expected
    # A published its own changes locally, at once, and skips their stream records.
    await asyncio.sleep(1.0)
    assert feed_a.changes == expected
    assert feed_b.changes == expected
    assert feed_a.resyncs == feed_b.resyncs == 0
    # B's feed told it the owner's log head: its next write there is ONE call.
    before = calls(b)
    await b.create(rec("s2"), request_id=None, max_active=10, now_ms=NOW)
    assert delta(before, b) == {"TransactWriteItems": 1}


@dataclasses.dataclass
class _FaultyFeed:
    """Replica `b` follows `a`'s writes; its next GetRecords calls raise `faults`, in order."""

    a: DynamoDBBackend
    b: DynamoDBBackend
    feed: Recorder
    faults: list[Exception]
    raised: int = 0


async def _faulty_feed(tables: Tables, faults: list[Exception]) -> _FaultyFeed:
    a = await tables.open()
    b = await tables.replica(a)
    out = _FaultyFeed(a, b, Recorder(), faults)
    b.subscribe(out.feed.on_change, out.feed.on_resync)
    assert await b.wait_feed_ready(30)
    streams: Any = b._streams
    real = streams.get_records

    async def get_records(**kwargs: Any) -> Any:
        if out.raised < len(out.faults):
            out.raised += 1
            raise out.faults[out.raised - 1]
        return await real(**kwargs)

    streams.get_records = get_records
    return out


async def test_stream_errors_are_retried_then_resynced(tables: Tables) -> None:
    reset = OSError("connection reset (injected)")
    f = await _faulty_feed(tables, [reset, reset])
    deadline = time.monotonic() + 30
    while f.feed.resyncs == 0:
        assert time.monotonic() < deadline, "the feed never recovered"
        await asyncio.sleep(0.1)
    assert f.raised == 2 and f.feed.resyncs == 1
    assert await f.b.wait_feed_ready(30)
    r = rec("after", expire_at=NOW + 600_000)
    await f.a.create(r, request_id=None, max_active=10, now_ms=NOW)
    assert plain(await f.feed.wait_for(1))[0] == Change("alice", "after", r)


async def test_a_fresh_iterator_trimmed_by_dynamodb_local_rereads_without_resync(
    tables: Tables,
) -> None:
    """DynamoDB Local may answer TrimmedDataAccessException to the first reads of a new,
    empty shard: the record written meanwhile must still arrive, and no resync (a re-list
    for every watcher) may be spent on it."""
    from botocore.exceptions import ClientError

    error = {"Code": "TrimmedDataAccessException", "Message": "read past the oldest"}
    f = await _faulty_feed(tables, [ClientError({"Error": error}, "GetRecords")])
    r = rec("first", expire_at=NOW + 600_000)
    await f.a.create(r, request_id=None, max_active=10, now_ms=NOW)
    assert plain(await f.feed.wait_for(1)) == [Change("alice", "first", r)]
    assert f.raised == 1 and f.feed.resyncs == 0


async def test_polling_feed_without_streams(tables: Tables) -> None:
    a = await tables.open()
    b = await tables.replica(a, feed="poll")
    feed_b = Recorder()
    b.subscribe(feed_b.on_change, feed_b.on_resync)
    assert await b.wait_feed_ready(30)
    assert b.feed_mode == "poll"
    now = int(time.time() * 1000)
    r0 = rec("p0", expire_at=now + 600_000)
    await a.create(r0, request_id=None, max_active=10, now_ms=now)
    assert await b.get("alice", "p0", now) == r0  # B serves alice: it polls her tasks
    r1 = rec("p0", version=2, expire_at=now + 600_000)
    await a.compare_and_swap(r1, expected_version=1, now_ms=now)
    r2 = rec("p1", expire_at=now + 600_000)
    await a.create(r2, request_id=None, max_active=10, now_ms=now)
    # Polling may coalesce versions; the newest of each task always arrives, with its
    # entry (a removal without: the resumable feed reads those from the log).
    await feed_b.wait_until(Change("alice", "p0", r1, W, make_event(2, W, "p0", 2, now)))
    await feed_b.wait_until(Change("alice", "p1", r2, W, make_event(3, W, "p1", 1, now)))
    assert await a.delete("alice", "p0", now)
    await feed_b.wait_until(Change("alice", "p0", None, D))
    assert feed_b.resyncs == 0


async def test_pruning_never_drops_a_member_renewed_meanwhile(backend: DynamoDBBackend) -> None:
    """A create on a full active set prunes its expired members in the same write, on
    the condition that each is unchanged: a renewal in between makes that write fail
    (and the create re-read), never drops a live task from the count."""
    a1, b1 = rec("a1", expire_at=NOW + 10), rec("b1", expire_at=NOW + 10)
    for r in (a1, b1):
        await backend.create(r, request_id=None, max_active=2, now_ms=NOW)
    resp = await backend._client.get_item(
        TableName=backend.table, Key=item_key("alice", ACTIVE_SET_SK), ConsistentRead=True
    )
    seen = ActiveSet.from_item(resp["Item"])
    assert set(seen.expired(NOW + 10)) == set(seen.slots)  # both look prunable at NOW + 10
    # a1 is renewed after the set was read ...
    await backend.compare_and_swap(
        rec("a1", version=2, expire_at=NOW + 1000), expected_version=1, now_ms=NOW + 5, previous=a1
    )
    # ... so the pruning write built on what was read is refused as a whole.
    write = backend._writes.create_items(
        rec("c1"), req_sk=None, stale_holder=None, max_active=2, seen=seen, now_ms=NOW + 10, seq=4
    )
    with pytest.raises(Cancelled) as refused:
        await backend._api(backend._client, "transact_write_items", TransactItems=write.items)
    assert write.active_at is not None and refused.value.failed(write.active_at)
    assert await backend.get("alice", "c1", NOW + 10) is None
    # The real create re-reads: b1 goes, a1 still counts.
    await backend.create(rec("c1"), request_id=None, max_active=2, now_ms=NOW + 10)
    with pytest.raises(QuotaFull):
        await backend.create(rec("d1"), request_id=None, max_active=2, now_ms=NOW + 10)


async def test_the_active_set_holds_the_declared_maximum(backend: DynamoDBBackend) -> None:
    """At `max_active_limit` active tasks (with the UUIDv7 ids TaskStore makes and
    13-digit expiries), the active-set item is still under DynamoDB's 400 KB."""
    limit = backend.max_active_limit
    assert limit is not None
    gen = TaskIdGenerator()
    expire = NOW + 10**9
    slots = [slot_of(gen.new(NOW)[0]) for _ in range(limit - 1)]
    item = {**item_key("alice", ACTIVE_SET_SK), "slots": {"SS": slots}}
    item.update({expiry_attr(s): {"N": str(expire)} for s in slots})
    await backend._client.put_item(TableName=backend.table, Item=item)  # as if created one by one
    last = rec(gen.new(NOW)[0], expire_at=expire)
    assert (await backend.create(last, request_id=None, max_active=limit, now_ms=NOW))[1]
    with pytest.raises(QuotaFull):
        await backend.create(rec(gen.new(NOW)[0]), request_id=None, max_active=limit, now_ms=NOW)
    renewed = rec(last.task_id, version=2, expire_at=expire + 10**6)
    await backend.compare_and_swap(renewed, expected_version=1, now_ms=NOW, previous=last)
    assert await backend.get("alice", last.task_id, NOW) == renewed


async def test_a_wrong_hint_costs_a_call_never_the_active_set(backend: DynamoDBBackend) -> None:
    """compare_and_swap's write is conditioned on what `previous` says is stored, so a
    hint that lies (a task id reused at the same version) is caught, not trusted."""
    t1 = rec("t1", expire_at=NOW + 1000)
    await backend.create(t1, request_id=None, max_active=1, now_ms=NOW)
    lie = rec("t1", active=False, expire_at=NOW + 1000)  # version 1 too, but terminal
    before = calls(backend)
    v2 = rec("t1", version=2, active=False, expire_at=NOW + 1000)
    await backend.compare_and_swap(v2, expected_version=1, now_ms=NOW, previous=lie)
    assert delta(before, backend) == {"TransactWriteItems": 2}
    assert await backend.get("alice", "t1", NOW) == v2
    # The member left the active set with it: the quota of 1 has room.
    assert (await backend.create(rec("t2"), request_id=None, max_active=1, now_ms=NOW))[1]


# -- the table's layout ---------------------------------------------------------------


async def _raw_table(b: DynamoDBBackend, **indexes: Any) -> None:
    """Creates `b`'s table as an older version would have: keys only, plus `indexes`."""
    await b._ensure_clients()
    names = {"pk", "sk"}
    for kind in indexes.values():
        for index in kind:
            names |= {k["AttributeName"] for k in index["KeySchema"]}
    types = {"lu": "N", "expire_at": "N"}
    await b._client.create_table(
        TableName=b.table,
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": n, "AttributeType": types.get(n, "S")} for n in sorted(names)
        ],
        BillingMode="PAY_PER_REQUEST",
        **indexes,
    )


async def test_a_table_without_the_local_indexes_is_refused(dynamodb_url: str) -> None:
    url = table_url(dynamodb_url)
    old = DynamoDBBackend.from_url(url)
    try:
        await _raw_table(old)
        for attempt in (url, url.replace("create_table=true", "create_table=false")):
            with pytest.raises(IncompatibleTable, match="local secondary indexes"):
                await DynamoDBBackend.open(attempt)
    finally:
        await old.delete_table()
        await old.close()


async def test_missing_global_indexes_are_added_by_create_table(dynamodb_url: str) -> None:
    url = table_url(dynamodb_url)
    old = DynamoDBBackend.from_url(url)
    try:
        await _raw_table(old, LocalSecondaryIndexes=[i.definition() for i in INDEXES if i.local])
        with pytest.raises(IncompatibleTable, match="init-dynamodb"):
            await DynamoDBBackend.open(url.replace("create_table=true", "create_table=false"))
        b = await DynamoDBBackend.open(url)  # create_table=true adds them
        try:
            await b.create(rec("t1", expire_at=NOW), request_id=None, max_active=5, now_ms=NOW)
            assert await b.sweep_expired(NOW, 10) == 1
        finally:
            await b.close()
    finally:
        await old.delete_table()
        await old.close()


# -- indexes, event log, sweeping (beyond the store suite) -------------------------------


async def test_a_status_page_reads_only_its_index_entries(backend: DynamoDBBackend) -> None:
    """ListTasks(statuses) is O(page): the Query reads the status's index range, not the
    owner's other tasks (the bench measures it with 100,000)."""
    done = [dataclasses.replace(rec(f"c{i:03d}"), status="completed") for i in range(150)]
    working = [dataclasses.replace(rec(f"w{i}"), status="working") for i in range(5)]
    for r in done + working:
        await backend.create(r, request_id=None, max_active=1000, now_ms=NOW)
    scanned: list[int] = []
    query = backend._indexes._query

    async def counting(**params: Any) -> Any:
        resp = await query(**params)
        scanned.append(resp["ScannedCount"])
        return resp

    backend._indexes._query = counting
    got = await backend.list_by_status(
        "alice", frozenset({"working"}), before_task_id=None, limit=50, now_ms=NOW
    )
    assert [r.task_id for r in got] == [f"w{i}" for i in reversed(range(5))]
    assert scanned == [5]
    scanned.clear()
    got = await backend.list_by_status(
        "alice", frozenset({"working", "completed"}), before_task_id="w2", limit=3, now_ms=NOW
    )
    assert [r.task_id for r in got] == ["w1", "w0", "c149"]
    assert sorted(scanned) == [3, 4]  # at most limit + 1 per status (BETWEEN takes w2 too)


async def test_history_is_loaded_without_entries_or_stream_records(tables: Tables) -> None:
    """`load_history` (the bench's big owner): finished tasks put as plain items, read as
    any written task, with the stream off (no records) and on again for the server."""
    loader = DynamoDBBackend.from_url(table_url(tables.base))
    tables.backends.append(loader)
    await loader.create_table()
    await loader.set_stream(False)
    done = [
        dataclasses.replace(
            rec(f"h{i:03d}", version=2, active=False, expire_at=NOW + 60_000), status="completed"
        )
        for i in range(60)  # three batches
    ]
    assert await loader.load_history(done, NOW, concurrency=2) == 60
    with pytest.raises(ValueError):
        await loader.load_history([rec("w0")], NOW)  # an active task is no history
    await loader.set_stream(True)
    server = await tables.replica(loader)
    assert server.feed_mode == "streams"
    assert await server.get("alice", "h007", NOW) == done[7]
    listed = await server.list("alice", before_task_id=None, limit=100, now_ms=NOW)
    assert listed == done[::-1]
    by_status = await server.list_by_status(
        "alice", frozenset({"completed"}), before_task_id=None, limit=100, now_ms=NOW
    )
    assert by_status == done[::-1]
    page = await server.read_events("alice", after="0", limit=10, now_ms=NOW)
    assert (page.head, page.events, page.compacted) == ("0", [], False)
    # The next write is the log's first entry, and the only stream record there is.
    stored, _ = await server.create(rec("w1"), request_id=None, max_active=10, now_ms=NOW)
    assert stored == rec("w1")
    page = await server.read_events("alice", after="0", limit=10, now_ms=NOW)
    assert [(e.position, e.task_id) for e in page.events] == [("1", "w1")]
    streams: Any = server._streams
    found = []
    for stream in (await streams.list_streams(TableName=server.table))["Streams"]:
        arn = stream["StreamArn"]
        for shard in (await streams.describe_stream(StreamArn=arn))["StreamDescription"]["Shards"]:
            it = await streams.get_shard_iterator(
                StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
            )
            resp = await streams.get_records(ShardIterator=it["ShardIterator"], Limit=1000)
            found += [r["dynamodb"]["Keys"]["sk"]["S"] for r in resp["Records"]]
    assert not [sk for sk in found if sk.startswith("h")]


async def test_replicas_sweeping_at_once_remove_and_log_each_task_once(tables: Tables) -> None:
    a = await tables.open()
    b = await tables.replica(a)
    start = await a.read_events("alice", after="0", limit=0, now_ms=NOW)
    brief = [rec(f"x{i:02d}", expire_at=NOW + 10) for i in range(20)]
    for r in brief:
        await a.create(r, request_id=None, max_active=100, now_ms=NOW)
    await a.create(rec("kept"), request_id=None, max_active=100, now_ms=NOW)
    removed = await asyncio.gather(a.sweep_expired(NOW + 10, 500), b.sweep_expired(NOW + 10, 500))
    assert sum(removed) == 20
    assert await a.sweep_expired(NOW + 10, 500) == 0
    page = await b.read_events("alice", after=start.head, limit=100, now_ms=NOW + 10)
    expired = [e for e in page.events if e.kind is X]
    assert sorted(e.task_id for e in expired) == [r.task_id for r in brief]
    assert {e.version for e in expired} == {1}
    assert [e.prev for e in page.events[1:]] == [e.position for e in page.events[:-1]]
    listed = await a.list("alice", before_task_id=None, limit=100, now_ms=NOW)
    assert [r.task_id for r in listed] == ["kept"]
    # They left the active set: the quota counts the one left.
    await a.create(rec("more"), request_id=None, max_active=2, now_ms=NOW)


async def test_trimmed_entries_compact_the_positions_before_them(backend: DynamoDBBackend) -> None:
    for i in range(3):
        await backend.create(rec(f"t{i}"), request_id=None, max_active=10, now_ms=NOW)
    # DynamoDB's TTL deleted entry 2 (it trims in any order).
    await backend._client.delete_item(TableName=backend.table, Key=item_key("alice", event_sk(2)))

    async def read(after: str) -> tuple[bool, list[str]]:
        page = await backend.read_events("alice", after=after, limit=10, now_ms=NOW)
        assert page.head == "3"
        return page.compacted, [e.position for e in page.events]

    assert await read("0") == (False, ["1"])  # up to the gap: the next read says so
    assert await read("1") == (True, [])
    assert await read("2") == (False, ["3"])
    assert await read("3") == (False, [])
    # An entry past the retention (+ 10 min) counts as trimmed, whether or not TTL came.
    backend.set_feed_retention(1000)
    late = NOW + 1000 + 600_000
    page = await backend.read_events("alice", after="2", limit=10, now_ms=late)
    assert (page.compacted, [e.position for e in page.events]) == (False, ["3"])
    page = await backend.read_events("alice", after="2", limit=10, now_ms=late + 1)
    assert (page.compacted, page.events) == (True, [])


async def test_removals_reach_another_replica_with_their_entries(tables: Tables) -> None:
    a = await tables.open()
    b = await tables.replica(a)
    feed_b = Recorder()
    b.subscribe(feed_b.on_change, feed_b.on_resync)
    assert await b.wait_feed_ready(30)
    r = rec("gone", expire_at=NOW + 10)
    await a.create(r, request_id=None, max_active=10, now_ms=NOW)
    assert await a.sweep_expired(NOW + 10, 10) == 1
    assert await feed_b.wait_for(2) == [
        Change("alice", "gone", r, W, make_event(1, W, "gone", 1, NOW)),
        Change("alice", "gone", None, X, make_event(2, X, "gone", 1, NOW + 10)),
    ]
    # DynamoDB's own TTL deletion (the backstop) is said as EXPIRED, with no entry.
    b._feed._deliver_stream_record(
        {
            "eventName": "REMOVE",
            "userIdentity": {"type": "Service", "principalId": "dynamodb.amazonaws.com"},
            "dynamodb": {"Keys": item_key("alice", "late")},
        }
    )
    assert feed_b.changes[-1] == Change("alice", "late", None, X)
