"""Cross-language relay (issue 4): one task handed from language to language through one server.

1. Python creates the task (request_method ``relay/<unique>``, variables ``{"origin": "python"}``)
   and starts a ``wait()`` on it right away;
2. the Go worker (``clients/go/cmd/relay``), watching with WatchTasks since before the create,
   claims it with PutIfVersion at the version it saw (``claimed_by: "go"``);
3. the TypeScript program (``clients/typescript/tools/relay.ts``) sets two variables;
4. the Rust program (``clients/rust/examples/relay.rs``) completes it with a result built from
   the variables the others wrote;
5. Python's pending ``wait()`` returns the completed task.

Each step's output and the task as Python reads it in between are asserted, including the version
sequence (create 1, claim 2, set variables 3, complete 4). The programs get the server through
``TASKSTATE_ADDRESS`` / ``TASKSTATE_TOKEN``. The session fixtures build what the test runs
(``go build``; ``npm ci`` if ``node_modules`` is missing and ``npm run build`` if
``build/tools/relay.js`` is missing or older than the sources; ``cargo build --example relay``).
A missing toolchain or a failed build FAILS the test, never skips it. Every subprocess has a
bounded timeout; when the test fails, each program's command, exit code, stdout and stderr are
printed.
"""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import subprocess
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, NoReturn

import pytest
from _harness import ServerProcess
from taskstate_client import Task, TaskClient, TaskStatus

REPO = Path(__file__).resolve().parents[2]
GO_DIR = REPO / "clients" / "go"
TS_DIR = REPO / "clients" / "typescript"
TS_RELAY_JS = TS_DIR / "build" / "tools" / "relay.js"  # a test tool: not in the npm package
RUST_MANIFEST = REPO / "clients" / "rust" / "Cargo.toml"

BUILD_TIMEOUT = 900.0  # a cold cargo build compiles tonic and friends
STEP_TIMEOUT = 60.0  # one program run, or one wait for a line of the Go worker
WAIT_TIMEOUT = 120.0  # Python's wait() for the completed task

CLAIMED_RE = re.compile(r"^CLAIMED (?P<task_id>\S+) (?P<version>\d+)$")
VERSION_RE = re.compile(r"^\d+$")


# ---------------------------------------------------------------------------------------------
# Toolchains and builds (session fixtures: build once, fail loudly)
# ---------------------------------------------------------------------------------------------


def require_tool(name: str, why: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"`{name}` is not on PATH: the relay test needs it {why}", pytrace=False)
    return path


def run_build(what: str, cmd: list[str], *, cwd: Path) -> subprocess.CompletedProcess[str]:
    try:
        proc = subprocess.run(
            cmd,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=BUILD_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(
            f"{what}: `{' '.join(cmd)}` (in {cwd}) did not finish within {BUILD_TIMEOUT:.0f}s\n"
            f"--- stdout ---\n{_text(exc.stdout)}\n--- stderr ---\n{_text(exc.stderr)}",
            pytrace=False,
        )
    if proc.returncode != 0:
        pytest.fail(
            f"{what}: `{' '.join(cmd)}` (in {cwd}) exited with {proc.returncode}\n"
            f"--- stdout ---\n{proc.stdout[-8000:]}\n--- stderr ---\n{proc.stderr[-8000:]}",
            pytrace=False,
        )
    return proc


def _text(data: str | bytes | None) -> str:
    if data is None:
        return ""
    return data.decode("utf-8", "replace") if isinstance(data, bytes) else data


@pytest.fixture(scope="session")
def go_relay(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """The Go worker, built once into a temporary directory."""
    go = require_tool("go", "to build the Go worker (clients/go/cmd/relay)")
    binary = tmp_path_factory.mktemp("relay-go") / "relay"
    run_build("building the Go worker", [go, "build", "-o", str(binary), "./cmd/relay"], cwd=GO_DIR)
    return [str(binary)]


def _newest_mtime(paths: Iterator[Path]) -> float:
    return max((p.stat().st_mtime for p in paths), default=0.0)


@pytest.fixture(scope="session")
def ts_relay() -> list[str]:
    """The TypeScript program: build/tools/relay.js, rebuilt when missing or stale."""
    node = require_tool("node", "to run clients/typescript/build/tools/relay.js")
    if not (TS_DIR / "node_modules" / ".bin" / "tsc").exists():
        npm = require_tool("npm", "to install the TypeScript client's dependencies (npm ci)")
        run_build("installing the TypeScript dependencies", [npm, "ci"], cwd=TS_DIR)
    inputs = [
        *(TS_DIR / "src").rglob("*.ts"),
        *(TS_DIR / "tools").rglob("*.ts"),
        TS_DIR / "tsconfig.json",
        TS_DIR / "tsconfig.lib.json",
        TS_DIR / "package.json",
        TS_DIR / "package-lock.json",
    ]
    built = TS_RELAY_JS.stat().st_mtime if TS_RELAY_JS.exists() else None
    if built is None or built < _newest_mtime(p for p in inputs if p.exists()):
        npm = require_tool("npm", "to build the TypeScript client (npm run build)")
        run_build("building the TypeScript client", [npm, "run", "build"], cwd=TS_DIR)
    if not TS_RELAY_JS.exists():
        pytest.fail(
            f"`npm run build` did not produce {TS_RELAY_JS.relative_to(REPO)}: is "
            "tools/relay.ts covered by clients/typescript/tsconfig.json?",
            pytrace=False,
        )
    return [node, str(TS_RELAY_JS)]


@pytest.fixture(scope="session")
def rust_relay() -> list[str]:
    """The Rust program: `cargo build --example relay`, then the executable cargo reports."""
    cargo = require_tool("cargo", "to build the Rust program (clients/rust/examples/relay.rs)")
    cmd = [cargo, "build", "--manifest-path", str(RUST_MANIFEST), "--example", "relay"]
    proc = run_build("building the Rust program", [*cmd, "--message-format=json"], cwd=REPO)
    executables = []
    for line in proc.stdout.splitlines():
        msg = json.loads(line) if line.startswith("{") else {}
        if (
            msg.get("reason") == "compiler-artifact"
            and msg.get("target", {}).get("name") == "relay"
            and msg.get("executable")
        ):
            executables.append(msg["executable"])
    if not executables:
        pytest.fail(f"`{' '.join(cmd)}` reported no `relay` executable", pytrace=False)
    return [executables[-1]]


# ---------------------------------------------------------------------------------------------
# Running the programs, keeping a transcript for failure reports
# ---------------------------------------------------------------------------------------------


@dataclass
class ProgramRun:
    name: str
    cmd: list[str]
    returncode: int | None = None
    stdout: list[str] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)
    note: str = ""

    def report(self) -> str:
        rc = "still running" if self.returncode is None else f"exit code {self.returncode}"
        note = f" ({self.note})" if self.note else ""
        return (
            f"=== {self.name}: {' '.join(self.cmd)}\n    {rc}{note}\n"
            f"--- stdout ---\n{''.join(self.stdout)}--- stderr ---\n{''.join(self.stderr)}"
        )


class Transcript:
    """Every program the test ran, with its output; printed when the test fails."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.runs: list[ProgramRun] = []
        self.reported = False

    def report(self) -> str:
        return "\n".join(r.report() for r in self.runs) or "(no program ran)"

    def fail(self, message: str) -> NoReturn:
        self.reported = True
        pytest.fail(f"{message}\n\n{self.report()}", pytrace=False)

    def run(self, name: str, cmd: list[str]) -> str:
        """Runs a program to completion (bounded); returns its stdout; fails on an error exit."""
        record = ProgramRun(name, cmd)
        self.runs.append(record)
        try:
            proc = subprocess.run(
                cmd,
                cwd=REPO,
                env=self.env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=STEP_TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            record.stdout.append(_text(exc.stdout))
            record.stderr.append(_text(exc.stderr))
            record.note = f"killed after {STEP_TIMEOUT:.0f}s"
            self.fail(f"{name} did not finish within {STEP_TIMEOUT:.0f}s")
        record.returncode = proc.returncode
        record.stdout.append(proc.stdout)
        record.stderr.append(proc.stderr)
        if proc.returncode != 0:
            self.fail(f"{name} exited with {proc.returncode}")
        return proc.stdout

    def start(self, name: str, cmd: list[str]) -> Background:
        record = ProgramRun(name, cmd)
        self.runs.append(record)
        return Background(self, record)


_EOF = object()


class Background:
    """A long-running program whose stdout lines are read as they come."""

    def __init__(self, transcript: Transcript, record: ProgramRun) -> None:
        self.transcript = transcript
        self.record = record
        self.lines: queue.Queue[Any] = queue.Queue()
        self.proc = subprocess.Popen(
            record.cmd,
            cwd=REPO,
            env=transcript.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None and self.proc.stderr is not None
        self._pumps = [
            threading.Thread(target=self._pump, args=(self.proc.stdout, True), daemon=True),
            threading.Thread(target=self._pump, args=(self.proc.stderr, False), daemon=True),
        ]
        for t in self._pumps:
            t.start()

    def _pump(self, stream: IO[str], is_stdout: bool) -> None:
        sink = self.record.stdout if is_stdout else self.record.stderr
        for line in iter(stream.readline, ""):
            sink.append(line)
            if is_stdout:
                self.lines.put(line.rstrip("\n"))
        stream.close()
        if is_stdout:
            self.lines.put(_EOF)

    def expect(self, pattern: re.Pattern[str], what: str) -> re.Match[str]:
        """Waits (bounded) for the next stdout line, which must match ``pattern``."""
        try:
            line = self.lines.get(timeout=STEP_TIMEOUT)
        except queue.Empty:
            self.transcript.fail(
                f"{self.record.name} printed no line within {STEP_TIMEOUT:.0f}s (expected {what})"
            )
        if line is _EOF:
            self._reap(5.0)
            self.transcript.fail(f"{self.record.name} closed stdout before printing {what}")
        m = pattern.fullmatch(line)
        if m is None:
            self.transcript.fail(f"{self.record.name} printed {line!r}, expected {what}")
        return m

    def _reap(self, timeout: float) -> None:
        try:
            self.record.returncode = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return
        for t in self._pumps:
            t.join(5.0)

    def finish(self) -> None:
        """Waits (bounded) for the program to exit with 0."""
        self._reap(STEP_TIMEOUT)
        if self.record.returncode is None:
            self.transcript.fail(f"{self.record.name} did not exit within {STEP_TIMEOUT:.0f}s")
        if self.record.returncode != 0:
            self.transcript.fail(f"{self.record.name} exited with {self.record.returncode}")

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.record.note = "killed by the test"
        self._reap(10.0)


@pytest.fixture
def transcript(request: pytest.FixtureRequest) -> Iterator[Transcript]:
    """The test sets ``.env``. Unless a failure message already carried it, the report is
    printed at teardown, where pytest shows it if the test failed."""
    record = Transcript({})
    yield record
    if not record.reported:
        print(f"\n===== relay transcript ({request.node.name}) =====\n{record.report()}")


# ---------------------------------------------------------------------------------------------
# The test
# ---------------------------------------------------------------------------------------------


def _check_task(task: Task, transcript: Transcript, step: str, **expected: Any) -> None:
    actual = {name: getattr(task, name) for name in expected}
    if actual != expected:
        transcript.fail(f"after {step}: task has {actual}, expected {expected}\ntask: {task}")


def test_relay_python_go_typescript_rust(
    store_name: str,
    server_factory: Any,
    go_relay: list[str],
    ts_relay: list[str],
    rust_relay: list[str],
    transcript: Transcript,
) -> None:
    server: ServerProcess = server_factory(store_name)
    token = server.token(server.fresh_owner())
    transcript.env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("TASKSTATE_")},
        "TASKSTATE_ADDRESS": server.address,
        "TASKSTATE_TOKEN": token,
    }
    method = f"relay/{uuid.uuid4().hex}"

    worker = transcript.start(
        "go worker", [*go_relay, "--method", method, "--timeout", f"{WAIT_TIMEOUT:.0f}s"]
    )
    # On the way out: the client closes (cancelling a wait() still pending), the Go worker is
    # killed if it still runs, then the waiting thread is joined.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="relay-wait") as pool:
        try:
            with TaskClient(server.address, token=token, timeout=30) as client:
                worker.expect(re.compile("READY"), "READY (the watch is registered)")

                # 1. Python creates the task and starts waiting for its end.
                task = client.create(request_method=method, variables={"origin": "python"})
                _check_task(
                    task,
                    transcript,
                    "create",
                    version=1,
                    status=TaskStatus.WORKING,
                    request_method=method,
                    variables={"origin": "python"},
                )
                waiting = pool.submit(client.wait, task.task_id, WAIT_TIMEOUT)

                # 2. Go claims it (PutIfVersion at the version its watch delivered).
                claimed = worker.expect(CLAIMED_RE, "CLAIMED <task_id> <version>")
                worker.finish()
                if (claimed["task_id"], int(claimed["version"])) != (task.task_id, 2):
                    transcript.fail(
                        f"the Go worker claimed {claimed[0]!r}, expected {task.task_id} 2"
                    )
                _check_task(
                    client.get(task.task_id),
                    transcript,
                    "the Go claim",
                    version=2,
                    status=TaskStatus.WORKING,
                    status_message="claimed by go",
                    variables={"origin": "python", "claimed_by": "go"},
                )

                # 3. TypeScript sets variables.
                out = transcript.run("typescript", [*ts_relay, task.task_id]).strip()
                if not VERSION_RE.fullmatch(out) or int(out) != 3:
                    transcript.fail(f"typescript printed {out!r}, expected the version 3")
                _check_task(
                    client.get(task.task_id),
                    transcript,
                    "the TypeScript step",
                    version=3,
                    status=TaskStatus.WORKING,
                    status_message="claimed by go",
                    variables={
                        "origin": "python",
                        "claimed_by": "go",
                        "ts_note": "set by typescript",
                        "ts_count": 2,
                    },
                )
                if waiting.done():
                    early = waiting.exception() or waiting.result()
                    transcript.fail(f"Python's wait() returned before the completion: {early}")

                # 4. Rust completes it.
                out = transcript.run("rust", [*rust_relay, task.task_id]).strip()
                if not VERSION_RE.fullmatch(out) or int(out) != 4:
                    transcript.fail(f"rust printed {out!r}, expected the version 4")

                # 5. Python's wait() returns the completed task.
                done = waiting.result(timeout=WAIT_TIMEOUT + 10)
                _check_task(
                    done,
                    transcript,
                    "the Rust completion (as Python's wait() returned it)",
                    task_id=task.task_id,
                    version=4,
                    status=TaskStatus.COMPLETED,
                    request_method=method,
                    has_result=True,
                    result={
                        "completed_by": "rust",
                        "claimed_by": "go",
                        "ts_note": "set by typescript",
                    },
                    variables={
                        "origin": "python",
                        "claimed_by": "go",
                        "ts_note": "set by typescript",
                        "ts_count": 2,
                    },
                    error=None,
                )
                again = client.get(task.task_id)
                if again != done:
                    transcript.fail(f"GetTask after the wait gives {again}, wait() gave {done}")
        finally:
            worker.kill()
