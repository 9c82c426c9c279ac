"""Benchmark a real taskstate server, once per store, over loopback gRPC.

For each store (memory, sqlite) this starts `taskstate-server` as a subprocess on an ephemeral
loopback port, drives it with several concurrent grpc.aio clients using the generated stubs, and
prints one compact table:

  - CreateTask, GetTask and PutIfVersion: throughput, p50/p99 latency, server CPU use, errors;
  - ListTasks: first-page and mid-listing page latency for an owner with 100 and one with 20,000
    tasks, and the time to page through the whole large listing;
  - ListTasks(statuses=[WORKING]) with 100 and 100,000 tasks of which 5 match (the ratio must stay
    under 2x, else the run fails), ClaimTask of the oldest offered task, and the lease expiry
    latency (lease end -> the failed task on a WatchTasks stream): bench/worker_phases.py. On
    DynamoDB the big owner's finished tasks are put into the table before the server starts
    (bench/seeding.py): through the server they would take hours on DynamoDB Local;
  - server RSS (VmRSS) right after start and after all of the above.

Every phase is bounded in both time (--duration) and count (--max-ops), and the whole run by
--time-limit.  The clients run in this one Python process, so at high rates the numbers can be
client-bound: the "srv cpu" column (server CPU seconds per wall second) tells whether the server
was the busy side.

    .venv/bin/python bench/bench_server.py                 # or: make bench
    .venv/bin/python bench/bench_server.py --stores sqlite --clients 16 --duration 5
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import random
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import field_mask_pb2, struct_pb2
from taskstate.v1 import taskstate_pb2 as pb
from taskstate.v1 import taskstate_pb2_grpc as pb_grpc

# The stores come from the tests' one table of stores (names, and the URL of a fresh database).
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import seeding  # bench/, beside this script
import worker_phases
from _stores import STORES, Database  # type: ignore[import-not-found]  # tests/, not on mypy_path

LISTENING = re.compile(r"listening on (\S+)")
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}
CALL_TIMEOUT = 30.0
# Owners (from the tokens file) and their tokens; "bench" does the throughput phases.
OWNERS = {
    "bench": "bench-token",
    "small": "small-token",
    "big": "big-token",
    "status-small": "status-small-token",
    "status-big": "status-big-token",
    "leases": "leases-token",
}

Metadata = tuple[tuple[str, str], ...]


def metadata_for(owner: str) -> Metadata:
    return (("authorization", f"Bearer {OWNERS[owner]}"),)


# --------------------------------------------------------------------------------------------
# The server subprocess


class Server:
    """A taskstate-server subprocess on an ephemeral loopback port."""

    def __init__(self, command: Sequence[str], store: str, tokens_file: Path) -> None:
        self.args = [
            *command,
            "--listen",
            "127.0.0.1:0",
            "--store",
            store,
            "--auth-tokens",
            str(tokens_file),
            "--max-active-tasks",
            "10000000",
        ]
        self.proc: subprocess.Popen[str] | None = None
        self.address = ""
        self.log: collections.deque[str] = collections.deque(maxlen=40)
        self._ready = threading.Event()

    def start(self, timeout: float) -> str:
        # Only our flags: a TASKSTATE_* variable from the caller's shell must not change the run.
        env = {k: v for k, v in os.environ.items() if not k.startswith("TASKSTATE_")}
        self.proc = subprocess.Popen(
            self.args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        threading.Thread(target=self._drain, daemon=True).start()
        deadline = time.monotonic() + timeout
        while not self._ready.wait(0.05):
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"server exited with {self.proc.returncode} before listening:\n"
                    + "\n".join(self.log)
                )
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"server did not log 'listening on HOST:PORT' within {timeout:.0f}s:\n"
                    + "\n".join(self.log)
                )
        host, _, _port = self.address.rpartition(":")
        if host not in LOOPBACK_HOSTS:
            raise RuntimeError(f"server listens on {self.address}, not on loopback")
        return self.address

    def _drain(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        for line in self.proc.stderr:
            self.log.append(line.rstrip())
            if not self._ready.is_set():
                m = LISTENING.search(line)
                if m:
                    self.address = m.group(1).rstrip(".,;")
                    self._ready.set()

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def rss_kib(self) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    def cpu_seconds(self) -> float:
        # Fields 14 and 15 of /proc/PID/stat (utime, stime), after the parenthesised command.
        stat = Path(f"/proc/{self.pid}/stat").read_text()
        fields = stat[stat.rindex(")") + 2 :].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM, then SIGKILL if it does not exit in time; the exit code (None if killed)."""
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None


# --------------------------------------------------------------------------------------------
# Measurement


@dataclass
class Row:
    store: str
    operation: str
    count: int
    seconds: float
    p50_ms: float | None = None
    p99_ms: float | None = None
    server_cpu: float | None = None  # server CPU seconds per wall second
    errors: dict[str, int] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds > 0 else 0.0


def percentile(sorted_values: Sequence[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, round(q * (len(sorted_values) - 1)))]


async def run_phase(
    server: Server,
    store: str,
    operation: str,
    clients: int,
    duration: float,
    max_ops: int,
    op: Callable[[int, int], Awaitable[None]],
) -> Row:
    """Run op(client_index, op_index) from `clients` concurrent workers until time or count ends."""
    latencies: list[float] = []
    errors: collections.Counter[str] = collections.Counter()
    issued = 0
    deadline = time.perf_counter() + duration

    async def worker(client: int) -> None:
        nonlocal issued
        while issued < max_ops and time.perf_counter() < deadline:
            index = issued
            issued += 1
            t0 = time.perf_counter()
            try:
                await op(client, index)
            except grpc.aio.AioRpcError as e:
                errors[e.code().name] += 1
                continue
            latencies.append(time.perf_counter() - t0)

    cpu0, t0 = server.cpu_seconds(), time.perf_counter()
    await asyncio.gather(*(worker(c) for c in range(clients)))
    elapsed = time.perf_counter() - t0
    cpu = server.cpu_seconds() - cpu0
    latencies.sort()
    return Row(
        store,
        operation,
        len(latencies),
        elapsed,
        percentile(latencies, 0.50) * 1000,
        percentile(latencies, 0.99) * 1000,
        cpu / elapsed if elapsed > 0 else None,
        dict(errors),
    )


async def create_many(
    stubs: Sequence[Any], owner: str, count: int, clients: int, time_limit: float
) -> list[str]:
    """Create `count` tasks for `owner` (bounded by time_limit) and complete each, so
    that no store's active-task quota bounds the population; their ids."""
    ids: list[str] = []
    remaining = count
    deadline = time.perf_counter() + time_limit
    md = metadata_for(owner)

    async def worker(stub: Any) -> None:
        nonlocal remaining
        while remaining > 0 and time.perf_counter() < deadline:
            remaining -= 1
            response = await stub.CreateTask(
                pb.CreateTaskRequest(request_method="bench/populate"),
                metadata=md,
                timeout=CALL_TIMEOUT,
            )
            ids.append(response.task.task_id)
            await stub.CompleteTask(
                pb.CompleteTaskRequest(
                    task_id=response.task.task_id, status=pb.TASK_STATUS_COMPLETED
                ),
                metadata=md,
                timeout=CALL_TIMEOUT,
            )

    await asyncio.gather(*(worker(stubs[c % len(stubs)]) for c in range(clients)))
    return ids


async def time_calls(
    call: Callable[[], Awaitable[Any]], reps: int, time_limit: float
) -> tuple[list[float], float]:
    """Latencies (sorted, seconds) of up to `reps` sequential calls, and the elapsed time."""
    latencies: list[float] = []
    start = time.perf_counter()
    while len(latencies) < reps and time.perf_counter() - start < time_limit:
        t0 = time.perf_counter()
        await call()
        latencies.append(time.perf_counter() - t0)
    latencies.sort()
    return latencies, time.perf_counter() - start


async def bench_listing(
    server: Server, store: str, stub: Any, owner: str, size: int, args: argparse.Namespace
) -> list[Row]:
    md = metadata_for(owner)
    label = f"{size:,} tasks"
    rows: list[Row] = []

    def latency_row(operation: str, latencies: list[float], elapsed: float, cpu: float) -> Row:
        return Row(
            store,
            operation,
            len(latencies),
            elapsed,
            percentile(latencies, 0.5) * 1000,
            percentile(latencies, 0.99) * 1000,
            cpu / elapsed if elapsed > 0 else None,
        )

    async def first_page() -> None:
        await stub.ListTasks(pb.ListTasksRequest(page_size=50), metadata=md, timeout=CALL_TIMEOUT)

    cpu0 = server.cpu_seconds()
    lat, elapsed = await time_calls(first_page, args.list_reps, args.duration)
    rows.append(
        latency_row(f"ListTasks page 1 ({label})", lat, elapsed, server.cpu_seconds() - cpu0)
    )

    # Page through everything (1000 a page), keeping a token from the middle of the listing.
    seen, pages, middle_token = 0, 0, ""
    token = ""
    cpu0, t0 = server.cpu_seconds(), time.perf_counter()
    while True:
        response = await stub.ListTasks(
            pb.ListTasksRequest(page_size=1000, page_token=token), metadata=md, timeout=CALL_TIMEOUT
        )
        seen += len(response.tasks)
        pages += 1
        token = response.next_page_token
        if not middle_token and seen >= size // 2 and token:
            middle_token = token
        if not token or pages > size // 1000 + 10:
            break
    elapsed = time.perf_counter() - t0
    scan = Row(
        store,
        f"ListTasks scan ({label}, 1000/page)",
        pages,
        elapsed,
        server_cpu=(server.cpu_seconds() - cpu0) / elapsed if elapsed > 0 else None,
    )
    if seen != size:
        scan.errors["listed " + str(seen)] = 1
    rows.append(scan)

    if middle_token:

        async def middle_page() -> None:
            await stub.ListTasks(
                pb.ListTasksRequest(page_size=50, page_token=middle_token),
                metadata=md,
                timeout=CALL_TIMEOUT,
            )

        cpu0 = server.cpu_seconds()
        lat, elapsed = await time_calls(middle_page, args.list_reps, args.duration)
        rows.append(
            latency_row(f"ListTasks mid page ({label})", lat, elapsed, server.cpu_seconds() - cpu0)
        )
    return rows


async def bench_store(
    store_name: str, store_url: str, tokens_file: Path, args: argparse.Namespace
) -> tuple[list[Row], dict[str, Any]]:
    server = Server(shlex.split(args.server_cmd), store_url, tokens_file)
    rows: list[Row] = []
    info: dict[str, Any] = {"store": store_name}
    seeded = await seed_status_owner(store_name, store_url, args, info)
    address = server.start(args.startup_timeout)
    channels: list[Any] = []
    try:
        await asyncio.sleep(0.2)  # let start-up settle before the baseline RSS
        info["rss_start_kib"] = server.rss_kib()
        # One channel (one HTTP/2 connection) per client.
        channels = [
            grpc.aio.insecure_channel(address, options=[("grpc.use_local_subchannel_pool", 1)])
            for _ in range(args.clients)
        ]
        stubs = [pb_grpc.TaskServiceStub(ch) for ch in channels]
        md = metadata_for("bench")
        created: list[str] = []

        def creator(owner: str, into: list[str]) -> Callable[[int, int], Awaitable[None]]:
            owner_md = metadata_for(owner)

            async def create(client: int, index: int) -> None:
                response = await stubs[client].CreateTask(
                    pb.CreateTaskRequest(
                        request_method="bench/create",
                        variables={"i": struct_pb2.Value(number_value=index)},
                    ),
                    metadata=owner_md,
                    timeout=CALL_TIMEOUT,
                )
                into.append(response.task.task_id)

            return create

        rows.append(
            await run_phase(
                server,
                store_name,
                "CreateTask",
                args.clients,
                args.duration,
                args.max_ops,
                creator("bench", created),
            )
        )
        if not created:
            raise RuntimeError(f"no CreateTask succeeded: {rows[-1].errors}")

        rng = random.Random(1)

        async def get(client: int, index: int) -> None:
            await stubs[client].GetTask(
                pb.GetTaskRequest(task_id=rng.choice(created)), metadata=md, timeout=CALL_TIMEOUT
            )

        rows.append(
            await run_phase(
                server, store_name, "GetTask", args.clients, args.duration, args.max_ops, get
            )
        )

        # PutIfVersion: each client read-modify-writes its own task, so conflicts mean a bug.
        owned = created[: args.clients]
        versions = {task_id: 1 for task_id in owned}
        mask = field_mask_pb2.FieldMask(paths=["variables", "status_message"])

        async def put(client: int, index: int) -> None:
            task_id = owned[client % len(owned)]
            response = await stubs[client].PutIfVersion(
                pb.PutIfVersionRequest(
                    task_id=task_id,
                    expected_version=versions[task_id],
                    task=pb.Task(
                        status_message=f"step {index}",
                        variables={
                            "step": struct_pb2.Value(number_value=index),
                            "note": struct_pb2.Value(string_value="x" * 64),
                        },
                    ),
                    update_mask=mask,
                ),
                metadata=md,
                timeout=CALL_TIMEOUT,
            )
            versions[task_id] = response.task.version

        # Only as many clients as tasks, so that no two clients write the same task at once.
        rows.append(
            await run_phase(
                server,
                store_name,
                "PutIfVersion",
                len(owned),
                args.duration,
                args.max_ops,
                put,
            )
        )

        for size in args.list_sizes:
            owner = "small" if size == min(args.list_sizes) else "big"
            t0 = time.perf_counter()
            ids = await create_many(stubs, owner, size, args.clients, args.populate_limit)
            info[f"populate_{size}_s"] = round(time.perf_counter() - t0, 2)
            if len(ids) < size:
                info[f"populate_{size}_short"] = len(ids)
            rows.extend(await bench_listing(server, store_name, stubs[0], owner, len(ids), args))
            if owner == "big":
                # Does creating slow down as the owner's task count grows (quota check, index)?
                extra: list[str] = []
                rows.append(
                    await run_phase(
                        server,
                        store_name,
                        f"CreateTask (owner has {len(ids):,} tasks)",
                        args.clients,
                        args.duration,
                        args.max_ops,
                        creator("big", extra),
                    )
                )
                info["tasks_created_big_phase"] = len(extra)

        rows.extend(await bench_worker_phases(server, store_name, stubs, args, info, seeded))
        info["rss_end_kib"] = server.rss_kib()
        info["tasks_created"] = (
            len(created) + sum(args.list_sizes) + info.get("tasks_created_big_phase", 0)
        )
    finally:
        for ch in channels:
            await ch.close()
        info["exit_code_on_sigterm"] = server.stop()
    return rows, info


async def seed_status_owner(
    store: str, url: str, args: argparse.Namespace, info: dict[str, Any]
) -> list[str]:
    """Before the server starts: the big status owner's finished tasks, put into the store
    directly where it has a seeder (bench/seeding.py); their ids (none elsewhere)."""
    seeder = seeding.SEEDERS.get(store)
    if seeder is None or len(args.status_sizes) < 2:
        return []
    count = max(args.status_sizes) - worker_phases.WORKING_TASKS
    print(f"seeding {count:,} finished tasks into {store} ...", file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    ids = await seeder(url, "status-big", count)
    info["seeded"] = (len(ids), round(time.perf_counter() - t0, 1))
    return ids


async def bench_worker_phases(
    server: Server,
    store: str,
    stubs: list[Any],
    args: argparse.Namespace,
    info: dict[str, Any],
    seeded: list[str],
) -> list[Row]:
    """Status listing, ClaimTask and lease expiry (bench/worker_phases.py); `seeded` are the
    big status owner's tasks already in the store."""
    rows: list[Row] = []
    pages: dict[int, float] = {}
    for size, owner in zip(args.status_sizes, ("status-small", "status-big"), strict=False):
        md = metadata_for(owner)
        present = seeded if owner == "status-big" else []
        t0 = time.perf_counter()
        made = await worker_phases.populate_status_owner(
            stubs, md, size, args.clients, args.status_populate_limit, len(present)
        )
        info[f"populate_status {made}_s"] = round(time.perf_counter() - t0, 1)
        if present:
            t0 = time.perf_counter()
            await worker_phases.check_seeded(stubs[0], md, made, present)
            info["seed_check_s"] = round(time.perf_counter() - t0, 1)
        pages[made] = await worker_phases.working_page_ms(stubs[0], md, args.list_reps)
        rows.append(
            Row(store, f"ListTasks working ({made:,} tasks)", args.list_reps, 0, pages[made])
        )
    if len(pages) == 2:
        small, big = (pages[k] for k in sorted(pages))
        info["status_ratio"] = round(big / small, 2)
    md = metadata_for("status-big")
    try:
        claim = await worker_phases.claim_next_ms(stubs[0], md, args.list_reps)
        rows.append(Row(store, "ClaimTask next (big backlog)", args.list_reps, 0, claim))
        lat = await worker_phases.lease_expiry_ms(stubs[0], metadata_for("leases"))
        rows.append(Row(store, "lease end -> watcher", len(lat), 0, percentile(lat, 0.5), lat[-1]))
    except grpc.aio.AioRpcError as e:
        if worker_phases.has_rpc(e):
            raise
        info["leases"] = f"not measured: {e.details()}"
    return rows


# --------------------------------------------------------------------------------------------
# Output


def print_table(rows: list[Row], infos: list[dict[str, Any]]) -> None:
    def ms(v: float | None) -> str:
        return "-" if v is None else f"{v:8.2f}"

    header = (
        f"{'store':<7} {'operation':<38} {'n':>7} {'ops/s':>9} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'srv cpu':>7}  errors"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        errors = ", ".join(f"{k}={v}" for k, v in sorted(r.errors.items())) or "-"
        # CPU time has clock-tick (10 ms) resolution: meaningless for very short measurements.
        short = r.seconds < 0.2
        cpu = "-" if r.server_cpu is None or short else f"{r.server_cpu * 100:6.0f}%"
        if r.seconds == 0:  # a latency-only row (sequential calls)
            rate = "-"
        elif r.p50_ms is not None:
            rate = f"{r.rate:9.0f}"
        else:
            rate = f"{r.seconds * 1000:7.0f}ms"
        print(
            f"{r.store:<7} {r.operation:<38} {r.count:>7} {rate:>9} {ms(r.p50_ms):>8} "
            f"{ms(r.p99_ms):>8} {cpu:>7}  {errors}"
        )
    print()
    for info in infos:
        start, end = info.get("rss_start_kib"), info.get("rss_end_kib")
        rss = (
            f"RSS {start / 1024:.1f} MiB at start -> {end / 1024:.1f} MiB "
            f"after {info.get('tasks_created', 0):,} tasks"
            if start and end
            else "RSS n/a"
        )
        populate = ", ".join(
            f"{k.removeprefix('populate_').removesuffix('_s')} in {v}s"
            for k, v in info.items()
            if k.startswith("populate_") and k.endswith("_s")
        )
        if "seeded" in info:
            count, seconds = info["seeded"]
            populate += (
                f" + {count:,} seeded in {seconds}s before the server started (all listed and"
                f" some read through the server in {info.get('seed_check_s')}s)"
            )
        print(
            f"{info['store']:<7} {rss}; populated {populate}; "
            f"exit code on SIGTERM: {info.get('exit_code_on_sigterm')}"
        )


# --------------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Benchmark a real taskstate server per store over loopback gRPC."
    )
    p.add_argument(
        "--stores",
        default="memory,sqlite",
        help=f"comma-separated, of {','.join(STORES)} (redis and dynamodb need "
        "TASKSTATE_TEST_REDIS_URL / TASKSTATE_TEST_DYNAMODB_URL, e.g. from `make services-up`)",
    )
    p.add_argument("--clients", type=int, default=8, help="concurrent clients (default 8)")
    p.add_argument("--duration", type=float, default=3.0, help="seconds per phase (default 3)")
    p.add_argument("--max-ops", type=int, default=50_000, help="max calls per phase")
    p.add_argument(
        "--list-sizes",
        default="100,20000",
        help="tasks of the small and the large owner for ListTasks (default 100,20000)",
    )
    p.add_argument("--list-reps", type=int, default=50, help="timed ListTasks calls per case")
    p.add_argument(
        "--status-sizes",
        default="100,100000",
        help="tasks of the two owners for ListTasks(statuses) (5 working; default 100,100000)",
    )
    p.add_argument(
        "--status-populate-limit",
        type=float,
        default=900.0,
        help="max seconds to create one status owner's tasks",
    )
    p.add_argument(
        "--populate-limit", type=float, default=120.0, help="max seconds to create list tasks"
    )
    p.add_argument(
        "--server-cmd",
        default=f"{shlex.quote(sys.executable)} -m taskstate_server",
        help="command that starts the server (default: this Python, -m taskstate_server)",
    )
    p.add_argument("--startup-timeout", type=float, default=30.0)
    p.add_argument("--time-limit", type=float, default=3600.0, help="max seconds for the whole run")
    p.add_argument("--json", action="store_true", help="also print the results as JSON")
    args = p.parse_args(argv)
    args.stores = [s.strip() for s in args.stores.split(",") if s.strip()]
    args.list_sizes = sorted(int(s) for s in args.list_sizes.split(",") if s.strip())
    args.status_sizes = sorted(int(s) for s in args.status_sizes.split(",") if s.strip())
    for s in args.stores:
        if s not in STORES:
            p.error(f"unknown store {s!r} ({', '.join(STORES)})")
    if args.clients < 1 or not args.list_sizes or len(args.list_sizes) > 2:
        p.error("--clients must be >= 1 and --list-sizes one or two numbers")
    return args


async def main_async(args: argparse.Namespace) -> int:
    rows: list[Row] = []
    infos: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="taskstate-bench-") as tmp:
        tokens_file = Path(tmp) / "tokens.json"
        tokens_file.write_text(json.dumps({owner: [tok] for owner, tok in OWNERS.items()}))
        tokens_file.chmod(0o600)
        run = f"bench{int(time.time())}"
        urls = {store: STORES[store].url(Database(Path(tmp), run)) for store in args.stores}
        deadline = time.monotonic() + args.time_limit
        for store in args.stores:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                print(f"time limit reached; skipping {store}", file=sys.stderr)
                continue
            print(f"benchmarking store {store} ...", file=sys.stderr, flush=True)
            store_rows, info = await asyncio.wait_for(
                bench_store(store, urls[store], tokens_file, args), timeout=remaining
            )
            rows.extend(store_rows)
            infos.append(info)
    print(
        f"\ntaskstate bench: {args.clients} clients, {args.duration:g}s or {args.max_ops:,} calls "
        f"per phase, loopback, Python {sys.version.split()[0]}, {os.cpu_count()} CPUs\n"
    )
    print_table(rows, infos)
    if args.json:
        print(json.dumps({"rows": [asdict(r) for r in rows], "stores": infos}, indent=2))
    too_slow = [i for i in infos if i.get("status_ratio", 0) >= worker_phases.RATIO_LIMIT]
    for info in infos:
        if "status_ratio" in info:
            print(
                f"{info['store']:<7} ListTasks working page, big/small owner: "
                f"{info['status_ratio']}x (must be < {worker_phases.RATIO_LIMIT}x)"
            )
        if "leases" in info:
            print(f"{info['store']:<7} leases {info['leases']}")
    return 1 if too_slow else 0


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        return asyncio.run(main_async(args))
    except (RuntimeError, TimeoutError) as e:
        print(f"bench failed: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
