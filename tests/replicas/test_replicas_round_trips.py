"""Database round trips per RPC, counted against the real databases.

Redis: a real server process on a dedicated redis-server (so no other test's traffic counts).
Every command Redis executes is seen on a MONITOR connection; a call's window is delimited by
marker ECHOs sent on a control connection, each in one MULTI/EXEC with the CONFIG RESETSTAT
(before the call) or the INFO commandstats (after it), so that ``INFO commandstats`` covers
exactly the same window as MONITOR. The server's own background traffic in the window -- the
health PING every 2 s, the pub/sub listener's PING, the sweeper's SCAN and its SWEEP script --
is told apart by command name and script SHA, and the commandstats totals must agree with what
MONITOR saw (so nothing escapes the count).

DynamoDB: two in-process ``TaskStore(DynamoDBBackend.from_url(...))`` "replicas" on one DynamoDB
Local table, counted with the backend's ``call_counts`` (data operations only; the change feed
has its own counter).
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import redis
from _harness import build_store_url
from _replica_helpers import value
from _stores import STORES
from google.protobuf import duration_pb2, field_mask_pb2
from taskstate.v1 import taskstate_pb2 as pb
from taskstate_server.backends.dynamodb import DynamoDBBackend
from taskstate_server.backends.redis import scripts
from taskstate_server.domain.model import Limits, TaskPatch, TaskStatus
from taskstate_server.domain.store import TaskStore

# --------------------------------------------------------------------------------------------
# Redis
# --------------------------------------------------------------------------------------------

SCRIPT_NAMES = {s.sha: s.name for s in scripts.ALL}
BACKGROUND = {"PING", "SCAN", "SUBSCRIBE", "UNSUBSCRIBE", "EVALSHA:sweep"}
"""The server's own periodic commands: health checks, feed keep-alive, the expiry sweeper."""

_LINE = re.compile(r"^\+?\d+\.\d+ \[\d+ (?P<client>[^\]]+)\] (?P<args>.*)$")
_ARG = re.compile(r'"((?:[^"\\]|\\.)*)"')


@dataclass
class Seen:
    client: str
    args: list[str]

    @property
    def name(self) -> str:
        """The command, with EVALSHA qualified by its script's name (EVALSHA:create)."""
        cmd = self.args[0].upper()
        if cmd == "EVALSHA" and len(self.args) > 1:
            return f"EVALSHA:{SCRIPT_NAMES.get(self.args[1], self.args[1])}"
        return cmd


class Monitor:
    """A raw MONITOR connection, read by a thread; lines are kept in order."""

    def __init__(self, port: int) -> None:
        self._sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self._sock.sendall(b"MONITOR\r\n")
        self._lines: list[str] = []
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        buf = b""
        self._sock.settimeout(None)
        while True:
            try:
                data = self._sock.recv(65536)
            except OSError:
                data = b""
            if not data:
                break
            buf += data
            *lines, buf = buf.split(b"\r\n")
            with self._cond:
                self._lines.extend(line.decode("utf-8", "replace") for line in lines)
                self._cond.notify_all()

    def between(self, start: str, end: str, within: float = 10.0) -> list[Seen]:
        """The commands after the ECHO ``start`` and before the ECHO ``end`` (waits for it)."""

        def index_of(marker: str) -> int | None:
            for i, line in enumerate(self._lines):
                if f'"ECHO" "{marker}"' in line:
                    return i
            return None

        with self._cond:
            ok = self._cond.wait_for(lambda: index_of(end) is not None, within)
            assert ok, f"MONITOR never showed the marker {end}"
            lo, hi = index_of(start), index_of(end)
            assert lo is not None and hi is not None
            lines = self._lines[lo + 1 : hi]
        out = []
        for line in lines:
            m = _LINE.match(line)
            assert m, f"unparsed MONITOR line {line!r}"
            out.append(Seen(m["client"], _ARG.findall(m["args"])))
        return out

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)  # wakes the reader's recv()
        self._sock.close()
        self._thread.join(5)


@dataclass
class Count:
    trips: list[str]  # the call's own commands, in order
    background: list[str]  # the server's periodic commands that fell in the window
    stats: dict[str, int]  # INFO commandstats over the window


class RoundTrips:
    def __init__(self, port: int) -> None:
        self.monitor = Monitor(port)
        self.control = redis.Redis(port=port)
        self.control_addr = self.control.client_info()["addr"]

    def measure(self, call: Callable[[], Any]) -> Count:
        marker = uuid.uuid4().hex
        pipe = self.control.pipeline(transaction=True)
        pipe.config_resetstat()
        pipe.echo(f"rt-start-{marker}")
        pipe.execute()
        call()
        pipe = self.control.pipeline(transaction=True)
        pipe.info("commandstats")
        pipe.echo(f"rt-end-{marker}")
        info = pipe.execute()[0]
        seen = self.monitor.between(f"rt-start-{marker}", f"rt-end-{marker}")
        stats = {k.removeprefix("cmdstat_"): int(v["calls"]) for k, v in info.items()}
        server = [s for s in seen if s.client not in (self.control_addr, "lua")]
        lua = [s for s in seen if s.client == "lua"]
        # MONITOR and commandstats saw the same window: nothing was missed.
        evalsha = sum(s.args[0].upper() == "EVALSHA" for s in server)
        hmget = sum(s.args[0].upper() == "HMGET" for s in server + lua)
        assert stats.get("evalsha", 0) == evalsha, (stats, [s.name for s in server])
        assert stats.get("hmget", 0) == hmget, (stats, [s.name for s in server + lua])
        return Count(
            trips=[s.name for s in server if s.name not in BACKGROUND],
            background=[s.name for s in server if s.name in BACKGROUND],
            stats=stats,
        )

    def close(self) -> None:
        self.monitor.close()
        self.control.close()


@pytest.fixture
def redis_round_trips(own_redis) -> Iterator[RoundTrips]:
    rt = RoundTrips(own_redis.port)
    try:
        yield rt
    finally:
        rt.close()


def test_redis_round_trips_per_rpc(own_redis, redis_round_trips, server_factory):
    server = server_factory(store_url=f"{own_redis.url}?prefix=rt:")
    owner = server.fresh_owner()
    stub = server.stub(owner)
    t = 10.0

    def create() -> pb.Task:
        return stub.CreateTask(pb.CreateTaskRequest(), timeout=t).task

    create()  # warm-up: pooled connections exist
    counts: dict[str, Count] = {}
    box: dict[str, pb.Task] = {}

    def measure(name: str, call: Callable[[], Any]) -> Count:
        counts[name] = redis_round_trips.measure(call)
        return counts[name]

    assert measure("CreateTask", lambda: box.update(a=create())).trips == ["EVALSHA:create"]
    a = box["a"]
    get = pb.GetTaskRequest(task_id=a.task_id)
    assert measure("GetTask", lambda: stub.GetTask(get, timeout=t)).trips == ["HMGET"]

    mutations: list[tuple[str, Callable[[], Any]]] = [
        (
            "UpdateTaskStatus",
            lambda: stub.UpdateTaskStatus(
                pb.UpdateTaskStatusRequest(task_id=a.task_id, status=pb.TASK_STATUS_INPUT_REQUIRED),
                timeout=t,
            ),
        ),
        (
            "SetVariables",
            lambda: stub.SetVariables(
                pb.SetVariablesRequest(task_id=a.task_id, variables={"k": value(1)}), timeout=t
            ),
        ),
        (
            "PutIfVersion",
            lambda: stub.PutIfVersion(
                pb.PutIfVersionRequest(
                    task_id=a.task_id,
                    expected_version=3,
                    task=pb.Task(variables={"k": value(2)}, status=pb.TASK_STATUS_WORKING),
                    update_mask=field_mask_pb2.FieldMask(paths=["variables", "status"]),
                ),
                timeout=t,
            ),
        ),
        (
            "PutIfVersion(ttl)",
            lambda: stub.PutIfVersion(
                pb.PutIfVersionRequest(
                    task_id=a.task_id,
                    expected_version=4,
                    task=pb.Task(ttl=duration_pb2.Duration(seconds=7200)),
                    update_mask=field_mask_pb2.FieldMask(paths=["ttl"]),
                ),
                timeout=t,
            ),
        ),
        (
            "CompleteTask",
            lambda: stub.CompleteTask(
                pb.CompleteTaskRequest(
                    task_id=a.task_id, status=pb.TASK_STATUS_COMPLETED, result=value("ok")
                ),
                timeout=t,
            ),
        ),
    ]
    for name, call in mutations:
        trips = measure(name, call).trips
        assert len(trips) <= 2, f"{name}: {trips}"
        assert trips.count("EVALSHA:compare_and_swap") == 1, f"{name}: {trips}"
    b = create()
    cancel = pb.CancelTaskRequest(task_id=b.task_id)
    trips = measure("CancelTask", lambda: stub.CancelTask(cancel, timeout=t)).trips
    assert len(trips) <= 2 and trips.count("EVALSHA:compare_and_swap") == 1, trips
    delete = pb.DeleteTaskRequest(task_id=a.task_id)
    trips = measure("DeleteTask", lambda: stub.DeleteTask(delete, timeout=t)).trips
    assert len(trips) <= 2 and trips.count("EVALSHA:delete") == 1, trips
    # Not bounded by the issue; shown for information.
    measure("ListTasks", lambda: stub.ListTasks(pb.ListTasksRequest(), timeout=t))

    print("\nRedis round trips per RPC (background commands in the window in brackets):")
    for name, c in counts.items():
        print(f"  {name:18} {len(c.trips)}  {c.trips}  [{', '.join(c.background)}]")


# --------------------------------------------------------------------------------------------
# DynamoDB
# --------------------------------------------------------------------------------------------


class Replica:
    """An in-process TaskStore on DynamoDB, counting the backend's API calls per operation."""

    def __init__(self, backend: DynamoDBBackend) -> None:
        self.backend = backend
        self.store = TaskStore(backend, Limits())

    @classmethod
    async def open(cls, url: str) -> Replica:
        backend = DynamoDBBackend.from_url(url)
        await backend.create_table()  # idempotent; before the change feed starts following it
        return cls(backend)

    async def count(self, op: Any) -> tuple[Any, dict[str, int]]:
        before = dict(self.backend.call_counts)
        result = await op
        after = self.backend.call_counts
        delta = {k: n - before.get(k, 0) for k, n in after.items() if n != before.get(k, 0)}
        return result, delta


async def test_dynamodb_round_trips_per_operation(tmp_path):
    url = build_store_url("dynamodb", tmp_path)
    a = await Replica.open(url)
    b = await Replica.open(url)
    owner = "alice"
    table: list[tuple[str, dict[str, int]]] = []

    async def count(replica: Replica, name: str, op: Any) -> tuple[Any, int]:
        result, delta = await replica.count(op)
        table.append((name, delta))
        return result, sum(delta.values())

    def writes(delta: dict[str, int]) -> int:
        return delta.get("TransactWriteItems", 0)

    try:
        # CreateTask: 1 TransactWriteItems (it appends the log entry too). The owner's
        # first write on a replica reads the log's head first (+1 GetItem); a write right
        # after the other replica's may find the remembered head behind (+1 transaction:
        # the failed condition returns the head), unless the change feed told it first.
        t1, n = await count(a, "A create (owner's first task)", a.store.create(owner))
        assert table[-1][1] == {"GetItem": 1, "TransactWriteItems": 1}
        t2, n = await count(a, "A create", a.store.create(owner))
        assert n == 1
        _, n = await count(b, "B create (its first for the owner)", b.store.create(owner))
        # B reads the head unless its feed has seen A's writes by now: all of them (1
        # transaction) or only the first (the stale head costs a second one).
        assert table[-1][1] in (
            {"GetItem": 1, "TransactWriteItems": 1},
            {"TransactWriteItems": 1},
            {"TransactWriteItems": 2},
        )
        _, n = await count(a, "A create (after B wrote)", a.store.create(owner))
        assert n == writes(table[-1][1]) <= 2
        _, n = await count(a, "A create (again)", a.store.create(owner))
        assert n == 1
        _, n = await count(
            b, "B create (with a request id)", b.store.create(owner, request_id="r-1")
        )
        assert n == writes(table[-1][1]) <= 2

        _, n = await count(a, "A get", a.store.get(owner, t1.task_id))
        assert n == 1
        _, n = await count(b, "B get", b.store.get(owner, t1.task_id))
        assert n == 1

        mutations: list[tuple[Replica, str, Callable[[], Any]]] = [
            (
                a,
                "A update_status",
                lambda: a.store.update_status(owner, t1.task_id, TaskStatus.INPUT_REQUIRED),
            ),
            (a, "A set_variables", lambda: a.store.set_variables(owner, t1.task_id, {"k": 1})),
            (
                a,
                "A put_if_version",
                lambda: a.store.put_if_version(
                    owner,
                    t1.task_id,
                    3,
                    TaskPatch(
                        mask=frozenset({"variables", "status"}),
                        variables={"k": 2},
                        status=TaskStatus.WORKING,
                    ),
                ),
            ),
            (
                b,
                "B put_if_version (ttl)",
                lambda: b.store.put_if_version(
                    owner, t1.task_id, 4, TaskPatch(mask=frozenset({"ttl"}), ttl_ms=7_200_000)
                ),
            ),
            (
                a,
                "A complete",
                lambda: a.store.complete(
                    owner, t1.task_id, status=TaskStatus.COMPLETED, result="ok"
                ),
            ),
            (b, "B cancel", lambda: b.store.cancel(owner, t2.task_id)),
        ]
        last_writer = b  # the request-id create
        for replica, name, op in mutations:
            _, n = await count(replica, name, op())
            delta = table[-1][1]
            # The domain's read (GetItem) and ONE write; a second try only right after
            # the other replica wrote.
            assert delta.get("GetItem") == 1 and n == 1 + writes(delta), f"{name}: {delta}"
            assert writes(delta) == 1 or (replica is not last_writer and writes(delta) == 2), (
                f"{name}: {delta}"
            )
            last_writer = replica
        # DeleteTask: the DELETED entry names the last version, read together with the
        # log's head (1 BatchGetItem), then ONE transaction.
        _, n = await count(a, "A delete", a.store.delete(owner, t1.task_id))
        assert table[-1][1] == {"BatchGetItem": 1, "TransactWriteItems": 1}
    finally:
        print("\nDynamoDB API calls per operation:")
        for name, delta in table:
            print(f"  {name:32} {sum(delta.values())}  {delta}")
        await a.store.close()
        await b.store.close()
        drop = STORES["dynamodb"].drop
        assert drop is not None
        await drop(url)
