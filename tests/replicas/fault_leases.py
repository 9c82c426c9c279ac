"""Worker liveness under faults: leases, fencing and the resumable feed across two replicas.

Eight worker processes (`_lease_worker.py`, four per replica) claim and complete 500 tasks,
half offered with the FAIL policy and half with RELEASE (3 attempts). One worker is killed
(`kill -9`) while it holds a lease; another is stopped (SIGSTOP) while it holds one, and let go
(SIGCONT) only once the observer has seen that lease end: its heartbeat and its late writes must
then be refused with LEASE_LOST. An observer follows the owner's WatchTasks (all events) and is
cut off 10 times, each time resuming from its last cursor on the other replica; its view must end
equal to a final ListTasks. Every task ends exactly once.

NOT YET PASSING, so not collected by `make test` (the file name has no `test_` prefix); run it
explicitly: `pytest tests/replicas/fault_leases.py -k redis`. On Redis everything up to the
stopped worker passes (claims, kill -9, the observer's 10 resumes); the stopped worker, once
continued, never reports its late writes within 240 s (under investigation, issue 10).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import grpc
import pytest
from _harness import ServerProcess
from _replica_helpers import SHARED_STORES
from taskstate.v1 import taskstate_pb2 as pb

pytestmark = [pytest.mark.slow, pytest.mark.parametrize("store", SHARED_STORES)]

WORKER = Path(__file__).with_name("_lease_worker.py")
TASKS = 500
WORKERS = 8
LEASE_MS = 1500
KILLED, KILL_AT = 3, 10  # worker 3 (replica A) is killed holding its 10th lease
STOPPED, STOP_AT = 5, 8  # worker 5 (replica B) is stopped holding its 8th
CUTS = 10
WITHIN_S = 240.0
TERMINAL = {pb.TASK_STATUS_COMPLETED, pb.TASK_STATUS_FAILED}


def reason_of_failure(task: pb.Task) -> str:
    return task.error.data.struct_value.fields["reason"].string_value


class Workers:
    """The worker processes, their JSON events gathered by one reader thread each."""

    def __init__(self, jobs: list[tuple[str, str, list[str]]]) -> None:
        self.events: list[tuple[int, dict[str, Any]]] = []
        self.changed = threading.Condition()
        self.procs = [
            subprocess.Popen(
                [sys.executable, str(WORKER), address, token, *args],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for address, token, args in jobs
        ]
        for p in self.procs:
            assert p.stdout is not None
            line = p.stdout.readline()
            assert line.strip() == "ready", f"worker did not start: {line!r}"
        self.readers = [
            threading.Thread(target=self._read, args=(i, p), daemon=True)
            for i, p in enumerate(self.procs)
        ]
        for reader in self.readers:
            reader.start()

    def _read(self, index: int, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            with self.changed:
                self.events.append((index, json.loads(line)))
                self.changed.notify_all()

    def tell(self, index: int, line: str) -> None:
        stdin = self.procs[index].stdin
        assert stdin is not None
        stdin.write(line + "\n")
        stdin.flush()

    def start(self) -> None:
        for i in range(len(self.procs)):
            self.tell(i, "go")

    def signal(self, index: int, sig: int) -> None:
        os.kill(self.procs[index].pid, sig)

    async def until(self, index: int, match: Any, what: str) -> dict[str, Any]:
        """The worker's first event that `match`es (bounded wait)."""

        def find() -> dict[str, Any] | None:
            return next((e for i, e in self.events if i == index and match(e)), None)

        def wait() -> dict[str, Any]:
            with self.changed:
                if not self.changed.wait_for(lambda: find() is not None, timeout=WITHIN_S):
                    raise AssertionError(f"worker {index} never reported {what}")
                event = find()
                assert event is not None
                return event

        return await asyncio.to_thread(wait)

    async def holding(self, index: int) -> dict[str, Any]:
        return await self.until(index, lambda e: e["ev"] == "holding", "holding a lease")

    def stop(self) -> list[str]:
        """Ends every live worker; the stderr of those that failed."""
        failures = []
        for i, p in enumerate(self.procs):
            if p.poll() is None:
                with_err = p.stdin is not None
                if with_err:
                    self.tell(i, "stop")
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
                failures.append(f"worker {i} did not stop")
            assert p.stderr is not None
            err = p.stderr.read()
            if p.returncode not in (0, -signal.SIGKILL):
                failures.append(f"worker {i} exited {p.returncode}:\n{err}")
        for reader in self.readers:  # stdout is the readers': every event is in after this
            reader.join(timeout=30)
        return failures

    def kill_all(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()

    def of(self, kind: str, worker: int | None = None) -> list[dict[str, Any]]:
        return [e for i, e in self.events if e["ev"] == kind and worker in (None, i)]


class Observer:
    """Follows WatchTasks (all events) of one owner, cut off `CUTS` times at random events and
    resumed each time from its last cursor on the other replica."""

    def __init__(self, stubs: list[Any]) -> None:
        self.stubs = stubs
        self.tasks: dict[str, pb.Task] = {}
        self.removed: set[str] = set()
        self.regressions: list[tuple[str, int, int]] = []
        self.resumes = 0
        self.failure: grpc.aio.AioRpcError | None = None
        self.cursor = ""
        self.changed = asyncio.Event()
        self.opened = asyncio.Event()
        self._rng = random.Random()
        self._task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        replica = 0
        while True:
            call = self.stubs[replica].WatchTasks(
                pb.WatchTasksRequest(all_events=True, resume_cursor=self.cursor)
            )
            await call.initial_metadata()  # registered: nothing after this is missed
            self.opened.set()
            cut_after = self._rng.randint(20, 150) if self.resumes < CUTS else -1
            seen = 0
            try:
                async for message in call:
                    self._apply(message)
                    seen += 1
                    if seen == cut_after:
                        call.cancel()
                        break
            except grpc.aio.AioRpcError as err:
                if err.code() != grpc.StatusCode.UNAVAILABLE:
                    self.failure = err
                    self.changed.set()
                    return
            self.resumes += 1
            replica = 1 - replica

    def _apply(self, message: Any) -> None:
        self.cursor = message.resume_cursor
        if message.kind == pb.WATCH_EVENT_KIND_WRITE:
            task = message.task
            before = self.tasks.get(task.task_id)
            if before is not None and task.version < before.version:
                self.regressions.append((task.task_id, task.version, before.version))
            elif before is None or task.version > before.version:
                self.tasks[task.task_id] = task
        elif message.kind in (pb.WATCH_EVENT_KIND_DELETED, pb.WATCH_EVENT_KIND_EXPIRED):
            self.removed.add(message.task_id)
            self.tasks.pop(message.task_id, None)
        self.changed.set()

    async def until(self, done: Any, what: str) -> None:
        async def loop() -> None:
            while not done():
                if self.failure is not None:
                    raise AssertionError(f"the watch ended: {self.failure}")
                self.changed.clear()
                await self.changed.wait()

        try:
            await asyncio.wait_for(loop(), WITHIN_S)
        except TimeoutError:
            raise AssertionError(f"the observer never saw {what}") from None

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


async def list_all(stub: Any) -> dict[str, pb.Task]:
    out: dict[str, pb.Task] = {}
    token = ""
    while True:
        page = await stub.ListTasks(pb.ListTasksRequest(page_size=1000, page_token=token))
        out.update((t.task_id, t) for t in page.tasks)
        token = page.next_page_token
        if not token:
            return out


def lease_moved_on(task: pb.Task | None, token: int) -> bool:
    return task is not None and (
        task.status != pb.TASK_STATUS_WORKING
        or not task.HasField("lease")
        or task.lease.fencing_token != token
    )


@pytest.mark.timeout(600)
async def test_workers_claim_fence_and_expire_across_replicas(replicas, store):
    a, b = replicas(store, args=["--max-active-tasks", str(TASKS)])
    owner = a.fresh_owner()
    stubs = [a.aio_stub(owner), b.aio_stub(owner)]
    observer = Observer(stubs)
    workers: Workers | None = None
    try:
        await asyncio.wait_for(observer.opened.wait(), 30)
        limit = asyncio.Semaphore(16)

        async def create(i: int) -> tuple[str, str]:
            method = "fail" if i % 2 else "release"
            request = pb.CreateTaskRequest(request_method=method)
            if method == "fail":
                request.lease_policy = pb.LEASE_POLICY_FAIL
            else:
                request.lease_policy = pb.LEASE_POLICY_RELEASE
                request.max_attempts = 3
            async with limit:
                created = await stubs[i % 2].CreateTask(request, timeout=30)
            return created.task.task_id, method

        methods = dict(await asyncio.gather(*(create(i) for i in range(TASKS))))

        servers: list[ServerProcess] = [a, b]
        token = a.token(owner)
        jobs = []
        for i in range(WORKERS):
            args = [f"worker-{i}", str(LEASE_MS)]
            if i == KILLED:
                args.append(str(KILL_AT))
            elif i == STOPPED:
                args.append(str(STOP_AT))
            jobs.append((servers[i * 2 // WORKERS].address, token, args))
        workers = Workers(jobs)
        workers.start()

        killed = await workers.holding(KILLED)
        workers.signal(KILLED, signal.SIGKILL)
        stopped = await workers.holding(STOPPED)
        workers.signal(STOPPED, signal.SIGSTOP)
        await observer.until(
            lambda: lease_moved_on(observer.tasks.get(stopped["task"]), stopped["token"]),
            "the stopped worker's lease end",
        )
        workers.tell(STOPPED, "late")
        workers.signal(STOPPED, signal.SIGCONT)
        await workers.until(
            STOPPED,
            lambda e: (
                e["ev"] == "refused" and e["task"] == stopped["task"] and e["op"] == "CompleteTask"
            ),
            "its late CompleteTask",
        )

        await observer.until(
            lambda: (
                sum(1 for tid in methods if observer.tasks.get(tid, pb.Task()).status in TERMINAL)
                == TASKS
            ),
            "every task end",
        )
        failures = workers.stop()
        assert not failures, "\n".join(failures)

        final = await list_all(stubs[0])
        await observer.until(
            lambda: all(
                observer.tasks.get(tid, pb.Task()).version == t.version for tid, t in final.items()
            ),
            "the final versions",
        )
    finally:
        if workers is not None:
            workers.kill_all()
        await observer.close()
        for stub in stubs:
            await stub._channel_ref.close()

    # Every task ended exactly once: completed by one worker, or failed by its lease's end.
    assert set(final) == set(methods)
    statuses = collections.Counter(t.status for t in final.values())
    assert statuses[pb.TASK_STATUS_COMPLETED] + statuses[pb.TASK_STATUS_FAILED] == TASKS, statuses
    completions = collections.Counter(e["task"] for e in workers.of("completed"))
    assert max(completions.values()) == 1, "a task was completed twice"
    completed = {tid for tid, t in final.items() if t.status == pb.TASK_STATUS_COMPLETED}
    assert set(completions) == completed
    for t in final.values():
        if t.status == pb.TASK_STATUS_FAILED:
            assert reason_of_failure(t) == "LEASE_EXPIRED", t

    # The killed worker's task went where its policy says.
    held = final[killed["task"]]
    if methods[killed["task"]] == "fail":
        assert held.status == pb.TASK_STATUS_FAILED and reason_of_failure(held) == "LEASE_EXPIRED"
    else:
        assert (held.status == pb.TASK_STATUS_COMPLETED and held.attempt >= 2) or (
            reason_of_failure(held) == "LEASE_EXPIRED"
        ), held
    assert held.result.string_value != f"worker-{KILLED}"

    # The stopped worker woke up fenced off: heartbeat and both late writes refused.
    late = [e for e in workers.of("refused", STOPPED) if e["task"] == stopped["task"]]
    assert sorted((e["op"], e["reason"]) for e in late) == [
        ("CompleteTask", "LEASE_LOST"),
        ("SetVariables", "LEASE_LOST"),
    ], late
    renewals = [e for e in workers.of("renew_refused", STOPPED) if e["task"] == stopped["task"]]
    assert [e["reason"] for e in renewals] == ["LEASE_LOST"]
    assert final[stopped["task"]].result.string_value != f"worker-{STOPPED}"

    # The observer resumed 10 times, never compacted, and ends with the listing's view.
    assert observer.resumes >= CUTS
    assert not observer.regressions
    assert not observer.removed
    assert {tid: (t.version, t.status) for tid, t in observer.tasks.items()} == {
        tid: (t.version, t.status) for tid, t in final.items()
    }
    print(
        f"\n[{store}] {TASKS} tasks, {WORKERS} workers: {statuses[pb.TASK_STATUS_COMPLETED]} "
        f"completed, {statuses[pb.TASK_STATUS_FAILED]} failed by lease end; "
        f"{len(workers.of('claimed'))} claims; observer resumed {observer.resumes} times"
    )
