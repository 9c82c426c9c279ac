"""One server per SQLite file (its lock), and `taskstate-server backup` of a live database."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from _harness import ServerProcess, sync_stub
from taskstate.v1 import taskstate_pb2 as pb
from taskstate_server.backends.base import DatabaseUnavailable
from taskstate_server.backends.sqlite import DatabaseInUse, SqliteBackend, lock_path

# -- the lock, in-process -------------------------------------------------------------------


async def test_an_exclusive_backend_locks_out_another(tmp_path: Path) -> None:
    path = str(tmp_path / "x.db")
    first = await SqliteBackend.open(path, exclusive=True)
    try:
        with pytest.raises(DatabaseInUse, match=rf"\(pid {os.getpid()}\)"):
            await SqliteBackend.open(path, exclusive=True)
        # Not exclusive (the store suite's second replica): the data is still safe to share.
        shared = await SqliteBackend.open(path)
        await shared.close()
    finally:
        await first.close()
    again = await SqliteBackend.open(path, exclusive=True)  # close() released the lock
    await again.close()
    assert lock_path(path) == f"{path}.lock"


async def test_lock_in_a_missing_directory_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(DatabaseUnavailable, match="cannot create its lock file"):
        await SqliteBackend.open(str(tmp_path / "missing" / "x.db"), exclusive=True)


def test_memory_database_has_no_lock_file() -> None:
    assert lock_path(":memory:") is None


# -- backup -----------------------------------------------------------------------------------


def backup(
    *args: str, before: tuple[str, ...] = (), env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`taskstate-server BEFORE... backup ARGS...` without a developer's TASKSTATE_* settings."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TASKSTATE_")}
    return subprocess.run(
        [sys.executable, "-m", "taskstate_server", *before, "backup", *args],
        env=clean | (env or {}),
        capture_output=True,
        text=True,
        timeout=120,
    )


class Writer(threading.Thread):
    """Creates tasks one after another until stopped; `created` is in commit order."""

    def __init__(self, server: ServerProcess) -> None:
        super().__init__(daemon=True)
        self.server = server
        self.created: list[str] = []
        self.stop = threading.Event()
        self.warmed_up = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        stub = sync_stub(self.server.address, self.server.token("alice"))
        try:
            while not self.stop.is_set():
                task = stub.CreateTask(pb.CreateTaskRequest(), timeout=10).task
                self.created.append(task.task_id)
                if len(self.created) >= 200:
                    self.warmed_up.set()
        except BaseException as exc:
            self.error = exc
            self.warmed_up.set()
        finally:
            stub._channel_ref.close()  # type: ignore[attr-defined]


def test_backup_of_a_running_server(server_factory, tmp_path: Path) -> None:
    server = server_factory("sqlite", args=["--max-active-tasks", "100000"])
    writer = Writer(server)
    writer.start()
    try:
        assert writer.warmed_up.wait(60) and writer.error is None, writer.error
        acked_before = list(writer.created)
        dest = tmp_path / "backup.db"
        done = backup("--store", server.store_url, str(dest))
        assert done.returncode == 0, done.stderr
    finally:
        writer.stop.set()
        writer.join(30)
    assert writer.error is None, writer.error
    assert server.running, "the backup must not disturb the server"

    conn = sqlite3.connect(dest)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        copied = {row[0] for row in conn.execute("SELECT task_id FROM tasks")}
    finally:
        conn.close()
    assert done.stdout.startswith(f"backed up {len(copied)} tasks ("), done.stdout
    # A snapshot: every task acknowledged before the backup, and the writer's tasks
    # up to some point with no hole (one writer, so commit order = `created` order).
    assert set(acked_before) <= copied
    assert copied == set(writer.created[: len(copied)])
    print(f"\nbackup: {len(acked_before)} tasks before, {len(copied)} copied, "
          f"{len(writer.created)} written in all")  # fmt: skip

    restored = server_factory(store_url=f"sqlite:///{dest}", tokens=server.tokens)
    stub = restored.stub("alice")
    for task_id in acked_before:
        assert stub.GetTask(pb.GetTaskRequest(task_id=task_id), timeout=10).task.version == 1


def test_backup_refuses_other_stores() -> None:
    for url in ("memory://", "redis://127.0.0.1:6390/0", "dynamodb://t?region=us-east-1"):
        done = backup("--store", url, "/tmp/never-written.db")
        assert done.returncode == 2, (url, done.stderr)
        assert "backup copies sqlite:// stores only" in done.stderr, done.stderr
        assert "appendfsync" in done.stderr and "point-in-time recovery" in done.stderr


def make_taskstate_db(path: Path) -> None:
    """A database as a server leaves it (schema, one task), without running one."""
    import asyncio

    from taskstate_server.backends.base import Record

    async def build() -> None:
        b = await SqliteBackend.open(str(path))
        record = Record("alice", "t1", 1, b"{}", True, None)
        await b.create(record, request_id=None, max_active=10, now_ms=0)
        await b.close()

    asyncio.run(build())


@pytest.mark.parametrize("where", ["flag-before-command", "env"])
def test_backup_without_its_own_store_flag(tmp_path: Path, where: str) -> None:
    """It copies the store the surrounding configuration names, never ./taskstate.db."""
    src = tmp_path / "elsewhere.db"
    make_taskstate_db(src)
    url = f"sqlite:///{src}"
    if where == "env":
        done = backup(str(tmp_path / "out.db"), env={"TASKSTATE_STORE": url})
    else:
        done = backup(str(tmp_path / "out.db"), before=("--store", url))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("backed up 1 task ("), done.stdout


@pytest.mark.parametrize(
    "case",
    ["no-source", "not-sqlite", "not-taskstate", "dest-dir-missing", "dest-is-dir", "dest-exists"],
)
def test_backup_errors_are_clear(tmp_path: Path, case: str) -> None:
    src, dest = tmp_path / "src.db", tmp_path / "out.db"
    expected = {
        "no-source": f"no SQLite database at {src}",
        "not-sqlite": f"{src} is not a SQLite database",
        "not-taskstate": f"{src} is not a taskstate database",
        "dest-dir-missing": f"the directory {tmp_path / 'nope'} does not exist",
        "dest-is-dir": f"{tmp_path} is a directory: name the backup file",
        "dest-exists": f"{dest} exists: pass --force to replace it",
    }[case]
    if case == "not-sqlite":
        src.write_bytes(b"this is not a database, it is a text file of some length" * 20)
    elif case == "not-taskstate":
        sqlite3.connect(src).execute("CREATE TABLE other (x)").connection.close()
    elif case != "no-source":
        make_taskstate_db(src)
    if case == "dest-dir-missing":
        dest = tmp_path / "nope" / "out.db"
    elif case == "dest-is-dir":
        dest = tmp_path
    elif case == "dest-exists":
        dest.write_bytes(b"an older backup")
    done = backup("--store", f"sqlite:///{src}", str(dest))
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith(f"taskstate-server: {expected}"), done.stderr
    assert not src.exists() or case != "no-source", "a mistyped path must not create a database"
    if case == "dest-exists":
        assert dest.read_bytes() == b"an older backup"
        forced = backup("--store", f"sqlite:///{src}", str(dest), "--force")
        assert forced.returncode == 0, forced.stderr
        assert forced.stdout.startswith("backed up 1 task (")
    assert not [p.name for p in tmp_path.iterdir() if ".partial-" in p.name]
