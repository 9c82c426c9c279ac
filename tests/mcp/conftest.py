"""Fixtures for the MCP adapter tests: real taskstate servers on Redis, real example replicas.

``mcp_cluster(n_taskstate=2, lease=...)`` starts two taskstate servers on ONE Redis database
(a fresh prefix) and one example MCP replica (clients/python-mcp/examples/mcp_server.py,
streamable HTTP, stateless, --demo-auth) per taskstate server on a free port. There is no
router: a test picks the replica for every request itself, so nothing is sticky. A
server that does not come up FAILS the test.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from _harness import ServerProcess, build_store_url

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "clients" / "python-mcp" / "examples" / "mcp_server.py"
TASKSTATE_ARGS = ["--max-variables-bytes", str(4 << 20)]
STARTUP = 30.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Replica:
    """One example MCP server process."""

    port: int
    taskstate: str
    log: Path
    args: list[str] = field(default_factory=list)
    proc: subprocess.Popen[bytes] | None = None
    demo_auth: bool = True
    """Bearer `user-<name>` is end user <name>; off, every caller is "anonymous"."""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp"

    def start(self) -> Replica:
        cmd = [
            sys.executable,
            str(EXAMPLE),
            "--port",
            str(self.port),
            "--taskstate",
            self.taskstate,
        ]
        env = {k: v for k, v in os.environ.items() if not k.startswith("TASKSTATE_")}
        env["PYTHONUNBUFFERED"] = "1"
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [*cmd, *(["--demo-auth"] if self.demo_auth else []), *self.args],
                stdout=out,
                stderr=out,
                env=env,
            )
        if "--worker" in self.args:
            return self  # a worker process serves no port: its work shows in the tasks
        deadline = time.monotonic() + STARTUP
        while not self._accepting():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"MCP replica on {self.port} did not start:\n{self.output()}")
            time.sleep(0.05)  # readiness polling of a subprocess, not synchronisation
        return self

    def _accepting(self) -> bool:
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", self.port)) == 0

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def kill(self) -> None:
        """kill -9."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def close(self) -> None:
        if self.running:
            assert self.proc is not None
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


@dataclass
class Cluster:
    taskstate: list[ServerProcess]
    replicas: list[Replica]
    tmp: Path
    made: list[Replica]

    def worker(self, i: int = 0, *args: str) -> Replica:
        """A `run_worker` process on taskstate server `i` (pairs with --workers external)."""
        ts = self.taskstate[i]
        proc = Replica(
            0, ts.address, self.tmp / f"worker-{len(self.made)}.log", ["--worker", *args]
        )
        self.made.append(proc)
        return proc.start()

    @property
    def a(self) -> Replica:
        return self.replicas[0]

    @property
    def b(self) -> Replica:
        return self.replicas[1]


ClusterFactory = Callable[..., Cluster]


@pytest.fixture
def mcp_cluster(server_factory, tmp_path: Path) -> Iterator[ClusterFactory]:
    made: list[Replica] = []

    def make(
        *, n: int = 2, lease: float = 30.0, args: tuple[str, ...] = (), demo_auth: bool = True
    ) -> Cluster:
        store_url = build_store_url("redis", tmp_path / "store")
        servers = [
            server_factory(store_url=store_url, args=TASKSTATE_ARGS, tokens=False) for _ in range(n)
        ]
        replicas = []
        for i, ts in enumerate(servers):
            replica = Replica(
                free_port(),
                ts.address,
                tmp_path / f"replica-{i}.log",
                ["--lease", str(lease), *args],
                demo_auth=demo_auth,
            )
            made.append(replica)
            replicas.append(replica.start())
        return Cluster(servers, replicas, tmp_path, made)

    try:
        yield make
    finally:
        for replica in made:
            replica.close()
