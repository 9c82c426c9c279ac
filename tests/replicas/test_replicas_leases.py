"""Worker liveness under faults: leases, fencing and the resumable feed across two replicas
(issue 10; docs/proposals/issue-10.md section 5.5).

Eight worker processes (`_lease_worker.py`, four per replica) claim and complete 500 tasks,
half offered with the FAIL policy and half with RELEASE (3 attempts). One worker is killed
(`kill -9`) while it holds a lease; another is stopped (SIGSTOP) while it holds one, and let go
(SIGCONT) only once the observer has seen that lease end: its heartbeat and its late writes must
then be refused with LEASE_LOST. Meanwhile the test deletes a few tasks nobody claims. An
observer follows the owner's WatchTasks (all events), is cut off 10 times while the workers
run, and resumes each time from its last cursor on the other replica; its view must end equal
to a final ListTasks. Every task ends exactly once.

Timings (`TIMINGS`, per store): a lease is renewed every quarter of it, each renewal allowed
half of it. The machine running the suite may be busy (2 cores, many processes): on Redis a 4 s
lease means a worker must be starved for some 3 s before it loses a lease it is working under.
Such a loss is still correct behaviour and the assertions allow it (the task is then failed or
released, and the worker's writes refused); the lease length only shows in the two faulted
tasks, which wait for their lease's end while the other workers go on. DynamoDB serializes an
owner's writes across replicas (one TransactWriteItems each, the replicas taking turns: 20 ms
on a fresh DynamoDB Local, 150 ms and more once it has stored some 100,000 stream records): its
lease is 16 s, so that 8 heartbeats cost 2 writes/s rather than 8, and its calls and waits get
longer bounds. A run takes 45-65 s on a fresh DynamoDB Local, about 110 s on one that ran it
once before; its bound (`run_s`) fails it within 10 minutes on one slowed further.
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
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from _harness import ServerProcess
from _replica_helpers import SHARED_STORES, kill_workers, spawn_workers, start_workers
from _stores import STORES
from taskstate.v1 import taskstate_pb2 as pb
from taskstate_server.backends import Feature

LEASE_STORES = tuple(
    n for n in SHARED_STORES if STORES[n].has(Feature.INDEXES) and STORES[n].has(Feature.EVENT_LOG)
)
"""The shared-feed stores that declare leases (INDEXES) and a resumable feed (EVENT_LOG)."""


@dataclass(frozen=True)
class Timing:
    lease_ms: int
    call_s: float  # the deadline of each call
    within_s: float  # the bound of each wait for a worker or the observer
    run_s: float  # pytest-timeout, the last resort


TIMINGS = {"redis": Timing(4000, 30, 120, 300)}
SLOW_STORE = Timing(16000, 120, 300, 600)  # DynamoDB Local, and any other store


def timing(store: str) -> Timing:
    return TIMINGS.get(store, SLOW_STORE)


def _param(store: str) -> Any:
    return pytest.param(store, marks=pytest.mark.timeout(timing(store).run_s))


pytestmark = [
    pytest.mark.slow,
    pytest.mark.fresh_dynamodb,  # 45-65 s on a fresh DynamoDB Local, twice that on a used one
    pytest.mark.parametrize("store", [_param(s) for s in LEASE_STORES]),
]

WORKER = Path(__file__).with_name("_lease_worker.py")
TASKS = 500
BYSTANDERS = 20  # tasks offered to nobody (no lease policy), deleted while the workers run
WORKERS = 8
MAX_ATTEMPTS = 3
KILLED, KILL_AT = 3, 10  # worker 3 (replica A) is killed holding its 10th lease
STOPPED, STOP_AT = 5, 8  # worker 5 (replica B) is stopped holding its 8th
CUTS = 10
CUT_EVERY = 40  # claims between two cuts (plus up to half as many more): all 10 within 420
TERMINAL = {pb.TASK_STATUS_COMPLETED, pb.TASK_STATUS_FAILED}


def reason_of_failure(task: pb.Task) -> str:
    return task.error.data.struct_value.fields["reason"].string_value


def failure_field(task: pb.Task, key: str) -> Any:
    value = task.error.data.struct_value.fields[key]
    return value.string_value or value.number_value


class Workers:
    """The worker processes, their JSON events gathered by one reader thread each."""

    def __init__(
        self, jobs: list[tuple[str, str, list[str]]], stderr_dir: Path, within_s: float
    ) -> None:
        self.within_s = within_s
        self.events: list[tuple[int, dict[str, Any]]] = []
        self.unreadable: list[str] = []
        self.counts: collections.Counter[str] = collections.Counter()
        self.exited: set[int] = set()  # workers whose stdout ended
        self.closed = False
        self.changed = threading.Condition()
        self.stderr_dir = stderr_dir
        self.procs = spawn_workers(WORKER, jobs, stderr_dir)
        self.readers = [
            threading.Thread(target=self._read, args=(i, p), daemon=True)
            for i, p in enumerate(self.procs)
        ]
        for reader in self.readers:
            reader.start()

    def _read(self, index: int, proc: Any) -> None:
        for line in proc.stdout:
            with self.changed:
                try:
                    event = json.loads(line)
                    self.events.append((index, event))
                    self.counts[event["ev"]] += 1
                except ValueError:
                    self.unreadable.append(f"worker {index}: {line!r}")
                self.changed.notify_all()
        with self.changed:
            self.exited.add(index)
            self.changed.notify_all()

    def tell(self, index: int, line: str) -> None:
        stdin = self.procs[index].stdin
        assert stdin is not None
        stdin.write(line + "\n")
        stdin.flush()

    def start(self) -> None:
        start_workers(self.procs)

    def signal(self, index: int, sig: int) -> None:
        os.kill(self.procs[index].pid, sig)

    def stderr(self, index: int) -> str:
        return (self.stderr_dir / f"worker-{index}.err").read_text()

    def _stacks(self, index: int) -> str:
        """The worker's thread stacks (SIGUSR1: faulthandler), for a failure message."""
        with contextlib.suppress(subprocess.TimeoutExpired):
            if index in self.exited:  # its stdout ended: let it finish its stderr
                self.procs[index].wait(timeout=10)
        if self.procs[index].poll() is not None:
            return f"(exited {self.procs[index].returncode})\n{self.stderr(index)}"
        self.signal(index, signal.SIGUSR1)
        done = threading.Event()
        for _ in range(50):  # a bounded poll for a diagnostic, not a synchronisation
            if "most recent call first" in self.stderr(index):
                break
            done.wait(0.1)
        return self.stderr(index)

    async def until(self, index: int | None, found: Callable[[], Any], what: str) -> Any:
        """Waits (bounded) until `found()` gives something true; returns it. Fails at once
        when worker `index` (None: every worker) has exited without it."""

        def gone() -> bool:
            return len(self.exited) == len(self.procs) if index is None else index in self.exited

        def wait() -> Any:
            with self.changed:
                self.changed.wait_for(
                    lambda: self.unreadable or self.closed or found() or gone(),
                    timeout=self.within_s,
                )
                assert not self.unreadable, self.unreadable
                if self.closed:
                    raise AssertionError("the workers were stopped")
                if result := found():
                    return result
            stacks = "" if index is None else f"; its stacks:\n{self._stacks(index)}"
            raise AssertionError(f"worker {index} never reported {what}{stacks}")

        return await asyncio.to_thread(wait)

    async def first(self, index: int, match: Callable[[dict[str, Any]], bool], what: str) -> Any:
        """The worker's first event that `match`es (bounded wait)."""

        def find() -> dict[str, Any] | None:
            return next((e for i, e in self.events if i == index and match(e)), None)

        return await self.until(index, find, what)

    async def holding(self, index: int) -> dict[str, Any]:
        return await self.first(index, lambda e: e["ev"] == "holding", "holding a lease")

    async def claims(self, n: int) -> None:
        await self.until(None, lambda: self.counts["claimed"] >= n, f"{n} claims (together)")

    def stop(self) -> list[str]:
        """Ends every live worker; the stderr of those that failed."""
        failures = []
        for i, p in enumerate(self.procs):
            if p.poll() is None:
                self.tell(i, "stop")
        for i, p in enumerate(self.procs):
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                failures.append(f"worker {i} did not stop:\n{self._stacks(i)}")
                continue
            if p.returncode not in (0, -signal.SIGKILL):
                failures.append(f"worker {i} exited {p.returncode}:\n{self.stderr(i)}")
        for reader in self.readers:  # stdout is the readers': every event is in after this
            reader.join(timeout=30)
        failures.extend(self.unreadable)
        return failures

    def kill_all(self) -> None:
        with self.changed:  # a wait still running in its thread ends now
            self.closed = True
            self.changed.notify_all()
        kill_workers(self.procs)

    def of(self, kind: str, worker: int | None = None) -> list[dict[str, Any]]:
        return [e for i, e in self.events if e["ev"] == kind and worker in (None, i)]


class Observer:
    """Follows WatchTasks (all events) of one owner. `cut()` asks it to drop its stream at the
    next event; it then reopens on the other replica from its last cursor."""

    def __init__(self, stubs: list[Any], within_s: float) -> None:
        self.stubs = stubs
        self.within_s = within_s
        self.history: dict[str, list[pb.Task]] = {}  # every version seen, per task
        self.removed: dict[str, int] = {}  # task id -> the WatchEventKind that removed it
        self.regressions: list[tuple[str, int, int]] = []
        self.cuts_asked = 0
        self.cuts = 0
        self.unavailable = 0  # streams the server ended with UNAVAILABLE (also resumed)
        self.failure: grpc.aio.AioRpcError | None = None
        self.cursor = ""
        self.changed = asyncio.Event()
        self.opened = asyncio.Event()
        self._task = asyncio.ensure_future(self._run())

    def view(self) -> dict[str, pb.Task]:
        """The reconstructed view: each task's last version, deletions applied."""
        return {tid: seen[-1] for tid, seen in self.history.items() if tid not in self.removed}

    def last(self, task_id: str) -> pb.Task:
        """The task's last version seen (an empty Task if none, or if it was removed)."""
        seen = self.history.get(task_id)
        return seen[-1] if seen and task_id not in self.removed else pb.Task()

    def cut(self) -> None:
        self.cuts_asked += 1

    async def _run(self) -> None:
        replica = 0
        while True:
            call = self.stubs[replica].WatchTasks(
                pb.WatchTasksRequest(all_events=True, resume_cursor=self.cursor)
            )
            try:
                await call.initial_metadata()  # positioned: nothing after this is missed
                self.opened.set()
                async for message in call:
                    self._apply(message)
                    if self.cuts < self.cuts_asked:
                        self.cuts += 1
                        call.cancel()
                        break
            except grpc.aio.AioRpcError as err:
                if err.code() != grpc.StatusCode.UNAVAILABLE:  # FEED_COMPACTED among others
                    self.failure = err
                    self.changed.set()
                    return
                self.unavailable += 1
            replica = 1 - replica

    def _apply(self, message: Any) -> None:
        self.cursor = message.resume_cursor
        if message.kind == pb.WATCH_EVENT_KIND_WRITE:
            task = message.task
            seen = self.history.setdefault(task.task_id, [])
            if seen and task.version <= seen[-1].version:
                self.regressions.append((task.task_id, task.version, seen[-1].version))
            else:
                seen.append(task)
        elif message.kind in (pb.WATCH_EVENT_KIND_DELETED, pb.WATCH_EVENT_KIND_EXPIRED):
            self.removed[message.task_id] = message.kind
        self.changed.set()

    def after(self, task_id: str, version: int) -> list[pb.Task]:
        return [t for t in self.history.get(task_id, []) if t.version > version]

    def lease_end(self, held: dict[str, Any]) -> pb.Task | None:
        """The first version seen, after the claim `held`, that no longer carries its lease.

        Only versions after the claim count: an observer running behind may still hold the
        task as it was before the claim, without a lease (taken for the lease's end, that let
        the stopped worker go while its lease was live, so its late writes succeeded)."""
        return next(
            (
                t
                for t in self.after(held["task"], held["version"])
                if t.lease.fencing_token != held["token"]
            ),
            None,
        )

    async def until(self, done: Callable[[], Any], what: str) -> Any:
        async def loop() -> Any:
            while not (found := done()):
                if self.failure is not None:
                    raise AssertionError(f"the watch ended: {self.failure}")
                self.changed.clear()
                await self.changed.wait()
            return found

        try:
            return await asyncio.wait_for(loop(), self.within_s)
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
        page = await stub.ListTasks(
            pb.ListTasksRequest(page_size=1000, page_token=token), timeout=60
        )
        out.update((t.task_id, t) for t in page.tasks)
        token = page.next_page_token
        if not token:
            return out


async def create_tasks(stubs: list[Any], call_s: float) -> tuple[dict[str, str], list[str]]:
    """The offered tasks (id -> "fail" / "release", alternately) and the bystanders."""
    limit = asyncio.Semaphore(16)

    async def create(i: int) -> tuple[str, str]:
        if i >= TASKS:
            request = pb.CreateTaskRequest(request_method="bystander")
        elif i % 2:
            request = pb.CreateTaskRequest(request_method="fail", lease_policy=pb.LEASE_POLICY_FAIL)
        else:
            request = pb.CreateTaskRequest(
                request_method="release",
                lease_policy=pb.LEASE_POLICY_RELEASE,
                max_attempts=MAX_ATTEMPTS,
            )
        async with limit:
            created = await stubs[i % 2].CreateTask(request, timeout=call_s)
        return created.task.task_id, request.request_method

    made = await asyncio.gather(*(create(i) for i in range(TASKS + BYSTANDERS)))
    methods = {tid: m for tid, m in made if m != "bystander"}
    return methods, [tid for tid, m in made if m == "bystander"]


async def cut_while_working(workers: Workers, observer: Observer) -> None:
    """The observer's 10 cuts, each at the event after a random number of claims: all while
    the workers run (the last after at most 420 of the 500+ claims)."""
    rng = random.Random()
    for k in range(1, CUTS + 1):
        await workers.claims(k * CUT_EVERY + rng.randint(0, CUT_EVERY // 2))
        observer.cut()
    await observer.until(lambda: observer.cuts == CUTS, "the 10th cut")


def jobs_for(
    servers: list[ServerProcess], token: str, pace: Timing
) -> list[tuple[str, str, list[str]]]:
    jobs = []
    for i in range(WORKERS):
        args = [f"worker-{i}", str(pace.lease_ms), str(pace.call_s)]
        if i == KILLED:
            args.append(str(KILL_AT))
        elif i == STOPPED:
            args.append(str(STOP_AT))
        jobs.append((servers[i * 2 // WORKERS].address, token, args))
    return jobs


async def test_workers_claim_fence_and_expire_across_replicas(replicas, store, tmp_path):
    a, b = replicas(store, args=["--max-active-tasks", str(TASKS + BYSTANDERS)])
    owner = a.fresh_owner()
    stubs = [a.aio_stub(owner), b.aio_stub(owner)]
    pace = timing(store)
    observer = Observer(stubs, pace.within_s)
    workers: Workers | None = None
    cutting: asyncio.Future[None] | None = None
    try:
        await asyncio.wait_for(observer.opened.wait(), 30)
        methods, bystanders = await create_tasks(stubs, pace.call_s)
        workers = Workers(jobs_for([a, b], a.token(owner), pace), tmp_path, pace.within_s)
        workers.start()
        cutting = asyncio.ensure_future(cut_while_working(workers, observer))

        killed = await workers.holding(KILLED)
        workers.signal(KILLED, signal.SIGKILL)
        await asyncio.gather(
            *(
                stubs[i % 2].DeleteTask(pb.DeleteTaskRequest(task_id=tid), timeout=pace.call_s)
                for i, tid in enumerate(bystanders)
            )
        )
        stopped = await workers.holding(STOPPED)
        workers.signal(STOPPED, signal.SIGSTOP)
        await observer.until(lambda: observer.lease_end(stopped), "the stopped worker's lease end")
        workers.tell(STOPPED, "late")
        workers.signal(STOPPED, signal.SIGCONT)
        await workers.first(
            STOPPED,
            lambda e: (
                e["ev"] == "refused" and e["task"] == stopped["task"] and e["op"] == "CompleteTask"
            ),
            "its late CompleteTask",
        )
        await observer.until(lambda: observer.lease_end(killed), "the killed worker's lease end")
        await cutting
        await observer.until(
            lambda: all(observer.last(tid).status in TERMINAL for tid in methods),
            "every task end",
        )
        failures = workers.stop()
        assert not failures, "\n".join(failures)

        final = await list_all(stubs[0])
        await observer.until(
            lambda: all(observer.last(tid).version == t.version for tid, t in final.items()),
            "the final versions",
        )
    finally:
        if cutting is not None:
            cutting.cancel()
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
        if t.status == pb.TASK_STATUS_COMPLETED:
            assert t.result.string_value == t.variables["worker"].string_value, t
        else:
            assert reason_of_failure(t) == "LEASE_EXPIRED", t
            if methods[t.task_id] == "release":
                assert t.attempt == MAX_ATTEMPTS, t
    # Fencing: a token is issued once per task, and every refused write was a lost lease.
    claims = collections.Counter((e["task"], e["token"]) for e in workers.of("claimed"))
    assert max(claims.values()) == 1, "a fencing token was issued twice"
    refusals = workers.of("refused") + workers.of("renew_refused")
    assert {e["reason"] for e in refusals} <= {"LEASE_LOST"}, refusals

    # The killed worker's task went where its policy says, once its lease ended.
    held, first_after = final[killed["task"]], observer.lease_end(killed)
    assert first_after is not None
    if methods[killed["task"]] == "fail":
        assert first_after.status == pb.TASK_STATUS_FAILED, first_after
        assert reason_of_failure(first_after) == "LEASE_EXPIRED", first_after
        assert failure_field(first_after, "worker_id") == f"worker-{KILLED}", first_after
        assert failure_field(first_after, "fencing_token") == killed["token"], first_after
        assert first_after.version == held.version  # nothing after the failure
    else:
        assert first_after.attempt > killed["attempt"], first_after  # released, not failed
        assert held.status == pb.TASK_STATUS_COMPLETED or held.attempt == MAX_ATTEMPTS, held
    assert held.result.string_value != f"worker-{KILLED}"
    assert held.variables["worker"].string_value != f"worker-{KILLED}"

    # The stopped worker woke up fenced off: heartbeat, then both late writes, refused.
    late = [e for i, e in workers.events if i == STOPPED and e.get("task") == stopped["task"]]
    assert [(e["ev"], e.get("op"), e.get("reason")) for e in late] == [
        ("claimed", None, None),
        ("holding", None, None),
        ("renew_refused", None, "LEASE_LOST"),
        ("refused", "SetVariables", "LEASE_LOST"),
        ("refused", "CompleteTask", "LEASE_LOST"),
    ], late
    wrote = final[stopped["task"]]
    assert wrote.result.string_value != f"worker-{STOPPED}"
    assert wrote.variables["worker"].string_value != f"worker-{STOPPED}"

    # The observer was cut 10 times, resumed each time, never compacted, saw versions only
    # increase, saw the deletions, and ends with the listing's view.
    assert observer.failure is None
    assert observer.cuts == CUTS
    assert not observer.regressions, observer.regressions[:10]
    assert observer.removed == dict.fromkeys(bystanders, pb.WATCH_EVENT_KIND_DELETED)
    assert {tid: (t.version, t.status) for tid, t in observer.view().items()} == {
        tid: (t.version, t.status) for tid, t in final.items()
    }
    print(
        f"\n[{store}] {TASKS} tasks, {WORKERS} workers: {statuses[pb.TASK_STATUS_COMPLETED]} "
        f"completed, {statuses[pb.TASK_STATUS_FAILED]} failed by lease end; "
        f"{len(workers.of('claimed'))} claims; observer cut {observer.cuts} times "
        f"(+{observer.unavailable} UNAVAILABLE)"
    )
