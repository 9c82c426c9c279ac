"""Helpers for the multi-replica tests: worker processes, stream collectors, health polling."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import grpc
import grpc.aio
from _harness import Outcome, outcome_from_error
from _stores import STORES, Service, shared_feed_stores
from _streams import BackgroundStream
from google.protobuf import json_format, struct_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from taskstate.v1 import taskstate_pb2 as pb

SHARED_STORES = tuple(shared_feed_stores())
"""Every store whose feed crosses replicas (redis, dynamodb): `make test` always provides them.
TASKSTATE_TEST_STORES is not consulted, so a run never ends up with an empty parametrization
that pytest would report as a skip; an unreachable store fails the test."""

WORKER = Path(__file__).with_name("_replica_worker.py")

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def value(py: Any) -> struct_pb2.Value:
    return json_format.ParseDict(py, struct_pb2.Value())


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def redis_service(port: int, dir: Path) -> Service:
    """A redis-server of tools/services/redis.sh (no RDB save points, no AOF), not started."""
    return STORES["redis"].service(port, dir)


def drop_database(store: str, url: str) -> None:
    """Best-effort cleanup: drops the database a store URL names, where the store has a drop
    (DynamoDB Local keeps every table in memory). Runs outside any event loop."""
    drop = STORES[store].drop
    if drop is not None:
        with contextlib.suppress(Exception):
            asyncio.run(drop(url))


Job = tuple[str, str, list[str]]
"""A worker process's (server address, bearer token, further arguments)."""


def spawn_workers(script: Path, jobs: list[Job], stderr_dir: Path | None = None) -> list[Any]:
    """One ``script`` process per job, returned once every one has said ``ready`` (connected).

    Each waits for a line on stdin before it starts (see :func:`start_workers`). Their stderr
    goes to a pipe, or to ``stderr_dir/worker-N.err`` (a worker that runs long and is read
    line by line must not block on a full stderr pipe). A worker that fails to start fails the
    call, and every worker is killed then.
    """
    procs: list[subprocess.Popen[str]] = []
    try:
        for i, (address, token, args) in enumerate(jobs):
            err: Any = subprocess.PIPE
            if stderr_dir is not None:
                err = (stderr_dir / f"worker-{i}.err").open("w")
            procs.append(
                subprocess.Popen(
                    [sys.executable, str(script), address, token, *args],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=err,
                    text=True,
                )
            )
            if stderr_dir is not None:
                err.close()  # the child has its own copy
        for p in procs:
            assert p.stdout is not None
            line = p.stdout.readline()
            if line.strip() != "ready":
                p.kill()
                _, err = p.communicate()
                raise AssertionError(f"worker failed to start: {line!r}\n{err}")
    except BaseException:
        kill_workers(procs)
        raise
    return procs


def start_workers(procs: list[Any]) -> None:
    """The start signal, to every worker at once."""
    for p in procs:
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()


def kill_workers(procs: list[Any]) -> None:
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()


def run_workers(jobs: list[Job], limit: float = 600) -> tuple[list[dict[str, Any]], float]:
    """One `_replica_worker.py` process per job; all connect, then all start together.

    Returns (their reports, seconds from the start signal until the last one finished).
    """
    procs = spawn_workers(WORKER, jobs)
    try:
        started = time.monotonic()
        start_workers(procs)
        reports = []
        deadline = started + limit
        for p in procs:
            out, err = p.communicate(timeout=max(1.0, deadline - time.monotonic()))
            assert p.returncode == 0, f"worker failed ({p.returncode}):\n{err}"
            reports.append(json.loads(out.strip().splitlines()[-1]))
        return reports, time.monotonic() - started
    finally:
        kill_workers(procs)


class Follower(BackgroundStream):
    """What a well-behaved client sees through WatchTask or WatchTasks on one replica.

    It resumes the way docs/design.md §11.1 tells clients to when a stream ends with
    UNAVAILABLE (a change feed interruption is allowed to end a stream that way), and only
    then: WatchTask reopens from its last version; WatchTasks reopens, waits until the server
    has registered it, then lists the tasks ("watch, then list"). Every other end is final.
    ``tasks[task_id]`` holds the versions seen of each task, strictly increasing; ``resumes``
    says what was survived.
    """

    MAX_RESUMES = 10

    def __init__(self, stub: Any, *, task_id: str | None = None) -> None:
        super().__init__()
        self.stub = stub
        self.task_id = task_id  # None: WatchTasks (every task of the owner)
        self.tasks: dict[str, list[Any]] = {}
        self.resumes: list[str] = []
        self.out_of_order: list[tuple[str, int, int]] = []
        """(task id, version, after version) for a stream that went backwards or repeated."""
        self.registered = asyncio.Event()
        self._call: Any = None
        self._task = asyncio.ensure_future(self._run())

    def _take(self, task: Any) -> None:
        seen = self.tasks.setdefault(task.task_id, [])
        if not seen or task.version > seen[-1].version:
            seen.append(task)
            self._changed.set()

    async def _open(self) -> Any:
        if self.task_id is not None:
            seen = self.tasks.get(self.task_id)
            after = seen[-1].version if seen else 0
            call = self.stub.WatchTask(
                pb.WatchTaskRequest(task_id=self.task_id, after_version=after)
            )
            self._call = call
            return call
        call = self.stub.WatchTasks(pb.WatchTasksRequest())
        self._call = call
        await call.initial_metadata()  # sent once the watcher is registered
        if self.resumes:
            listed = await self.stub.ListTasks(pb.ListTasksRequest(page_size=1000), timeout=10)
            for task in listed.tasks:
                self._take(task)
        return call

    async def _run(self) -> None:
        try:
            while True:
                call = await self._open()
                self.registered.set()
                last: dict[str, int] = {}  # per stream: versions must strictly increase
                try:
                    async for msg in call:
                        task = msg.task
                        if task.version <= last.get(task.task_id, 0):
                            self.out_of_order.append(
                                (task.task_id, task.version, last[task.task_id])
                            )
                        last[task.task_id] = task.version
                        self._take(task)
                    self.outcome = Outcome(code=grpc.StatusCode.OK)
                    return
                except grpc.aio.AioRpcError as err:
                    out = outcome_from_error(err)
                    if out.code != grpc.StatusCode.UNAVAILABLE or (
                        len(self.resumes) >= self.MAX_RESUMES
                    ):
                        self.outcome = out
                        return
                    self.resumes.append(out.message)
        except asyncio.CancelledError:
            self.outcome = Outcome(code=grpc.StatusCode.CANCELLED)
        except grpc.aio.AioRpcError as err:  # the ListTasks of a resumption
            self.outcome = outcome_from_error(err)
        finally:
            self._ended.set()
            self._changed.set()

    def versions(self, task_id: str) -> list[int]:
        return [t.version for t in self.tasks.get(task_id, [])]

    async def until_version(self, task_id: str, version: int, within: float = 20.0) -> Any:
        """Waits (bounded) until ``version`` (or newer) of the task was seen; returns it."""
        return await self._until(
            lambda: next((t for t in self.tasks.get(task_id, []) if t.version >= version), None),
            lambda: (
                f"no version {version} of {task_id}; saw {self.versions(task_id)}, "
                f"resumed after {self.resumes}"
            ),
            within,
        )

    async def end(self, within: float = 20.0) -> Outcome:
        return await self._until_end(within, lambda: f"watch saw {self.tasks}")

    async def close(self) -> None:
        if self._call is not None:
            self._call.cancel()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


async def feed_connects(stub_a: Any, stub_b: Any, within: float = 30.0) -> int:
    """Bounded wait until replica B's change feed follows what replica A writes.

    Writes probe tasks through A (``stub_a``, of an owner the test uses for nothing else) until
    a WatchTasks on B (``stub_b``, same owner) delivers one. Returns the number of probes.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    follower = Follower(stub_b)
    try:
        await asyncio.wait_for(follower.registered.wait(), within)
        probes = 0
        while True:
            probes += 1
            task = (await stub_a.CreateTask(pb.CreateTaskRequest(), timeout=10)).task
            try:
                await follower.until_version(task.task_id, 1, within=1.0)
                return probes
            except AssertionError:
                if loop.time() > deadline:
                    raise AssertionError(
                        f"replica B never saw a write through replica A within {within}s"
                    ) from None
    finally:
        await follower.close()


async def health_status(address: str, deadline_s: float = 3.0) -> int | None:
    """grpc.health.v1 Check of the whole server; None if the call itself failed."""
    async with grpc.aio.insecure_channel(address) as channel:
        try:
            resp = await health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=""), timeout=deadline_s
            )
        except grpc.aio.AioRpcError:
            return None
        return int(resp.status)


async def poll_health(address: str, want: int, within: float) -> float:
    """Bounded polling of the health service until it says ``want``; returns seconds taken."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    seen: list[int | None] = []
    while True:
        status = await health_status(address)
        if not seen or seen[-1] != status:
            seen.append(status)
        if status == want:
            return loop.time() - started
        if loop.time() - started > within:
            raise AssertionError(
                f"health never said {health_pb2.HealthCheckResponse.ServingStatus.Name(want)} "
                f"within {within}s (saw {seen})"
            )
        await asyncio.sleep(0.1)
