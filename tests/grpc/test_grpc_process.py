"""The server process as an operator meets it: its port, its SQLite file, its command line,
its limits flags and mutual TLS. Every test runs real `taskstate-server` processes."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from _grpc_helpers import SC, create, get, value
from _harness import (
    ServerProcess,
    ServerStartError,
    build_store_url,
    check_outcome,
    rpc,
)
from _stores import selected_stores
from _tls import make_pki, openssl_available
from taskstate.v1 import taskstate_pb2 as pb
from taskstate.v1 import taskstate_pb2_grpc as pb_grpc

IN_USE = "is already in use (another taskstate-server?)"


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`taskstate-server ARGS` to its end, without a developer's TASKSTATE_* settings."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TASKSTATE_")}
    return subprocess.run(
        [sys.executable, "-m", "taskstate_server", *args],
        env=clean | (env or {}),
        capture_output=True,
        text=True,
        timeout=60,
    )


def refused_start(server: ServerProcess, **kw: int) -> str:
    """Starts `server`, which must exit instead of listening; returns its stderr."""
    with pytest.raises(ServerStartError):
        server.start(**kw)
    assert server.proc is not None and server.proc.returncode == 2, server.output_text()
    return server.stderr_text()


def serves_on_new_connections(server: ServerProcess, task: pb.Task, calls: int = 8) -> None:
    """Each call on a NEW channel (a new connection): a second process sharing the port
    would take some of them (the issue saw 6 of 8 go to the wrong server)."""
    for _ in range(calls):
        ch = grpc.insecure_channel(server.address)
        try:
            stub = pb_grpc.TaskServiceStub(ch)
            got = stub.GetTask(
                pb.GetTaskRequest(task_id=task.task_id),
                metadata=bearer(server, "alice"),
                timeout=10,
            ).task
            assert got == task
        finally:
            ch.close()


# -- item 5: one port, one server -------------------------------------------------------------


def test_second_server_on_a_bound_port_is_refused(server_factory):
    first = server_factory("memory")
    task = create(first.stub("alice"))
    second = server_factory("memory", start=False)
    err = refused_start(second, port=first.port)
    assert f"taskstate-server: 127.0.0.1:{first.port} {IN_USE}" in err, err
    serves_on_new_connections(first, task)


def test_a_name_is_refused_if_any_of_its_addresses_is_served(server_factory):
    """localhost is 127.0.0.1 and ::1: gRPC alone would serve ::1 and split the name."""
    first = server_factory("memory")
    task = create(first.stub("alice"))
    second = server_factory("memory", listen_host="localhost", start=False)
    err = refused_start(second, port=first.port)
    assert f"taskstate-server: localhost:{first.port} {IN_USE}" in err, err
    serves_on_new_connections(first, task)


def test_a_stopped_servers_port_can_be_served_again(server_factory):
    """SO_REUSEPORT is off, SO_REUSEADDR is not: a restart reuses the port at once."""
    server = server_factory("sqlite")
    port = server.port
    task = create(server.stub("alice"))
    server.stop()
    server.start(port=port)
    assert get(server.stub("alice"), task.task_id) == task


# -- item 6: one SQLite file, one server ------------------------------------------------------


def test_second_server_on_one_sqlite_file_is_refused(server_factory):
    first = server_factory("sqlite")
    task = create(first.stub("alice"))
    second = server_factory(store_url=first.store_url, tokens=first.tokens, start=False)
    err = refused_start(second)
    assert f"is in use by another taskstate-server (pid {first.pid})" in err, err
    assert "use a redis:// or dynamodb:// store" in err, err
    serves_on_new_connections(first, task)

    # The lock lives as long as the first server, however it ends: even kill -9.
    first.kill()
    second.start()
    assert get(second.stub("alice"), task.task_id) == task


# -- item 10: --version, --help, the version in the log ---------------------------------------


def installed_version() -> str:
    from taskstate_server.version import server_version

    return server_version()


def test_version_flag():
    done = run_cli("--version")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"taskstate-server {installed_version()}"
    assert re.fullmatch(r"\d+\.\d+\.\d+\S*", installed_version())


def test_version_in_the_start_up_line(live_server):
    line = next(ln for ln in live_server.stderr_text().splitlines() if "listening on" in ln)
    assert f"taskstate-server {installed_version()} listening on {live_server.address}" in line


def test_help_lists_stores_commands_and_defaults():
    done = run_cli("--help")
    assert done.returncode == 0, done.stderr
    text = done.stdout
    for scheme in (
        "memory://",
        "sqlite:///",
        "sqlite:////",
        "redis://",
        "rediss://",
        "dynamodb://",
    ):
        assert scheme in text, scheme
    for command in ("init-dynamodb", "backup"):
        assert command in text, command
    defaults = {
        "--listen": "127.0.0.1:50051",
        "--store": "sqlite:///./taskstate.db",
        "--default-ttl": "1h",
        "--max-ttl": "24h",
        "--default-poll-interval": "1s",
        "--max-active-tasks": "100",
        "--max-variables-bytes": "1048576",
        "--default-lease": "30s",
        "--max-lease": "1h",
        "--default-max-attempts": "3",
        "--log-level": "INFO",
        "--allow-anonymous": "false",
        "--feed-retention": "1h",
    }
    flags = re.findall(r"^  (--[a-z-]+)", text, re.MULTILINE)
    assert set(defaults) <= set(flags)
    for flag in flags:
        if flag in ("--help", "--version"):
            continue
        env = "TASKSTATE_" + flag[2:].upper().replace("-", "_")
        entry = text.split(f"\n  {flag}", 1)[1].split("\n  --", 1)[0]
        assert f"[env {env}; default: " in " ".join(entry.split()), (flag, entry)
        if flag in defaults:
            assert f"default: {defaults[flag]}]" in " ".join(entry.split()), (flag, entry)


@pytest.mark.parametrize("command", ["backup", "init-dynamodb"])
def test_each_command_has_its_own_help(command):
    done = run_cli(command, "--help")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"usage: taskstate-server {command}")
    assert "--store URL" in done.stdout and "TASKSTATE_STORE" in done.stdout


def test_unknown_command_is_a_usage_error():
    done = run_cli("bakcup")
    assert done.returncode == 2
    assert "invalid choice: 'bakcup'" in done.stderr and "backup" in done.stderr


@pytest.mark.parametrize("store", [s for s in selected_stores() if s == "dynamodb"])
def test_init_dynamodb_creates_the_table(tmp_path, store):
    from taskstate_server.backends.dynamodb import DynamoDBBackend

    url = build_store_url(store, tmp_path)
    table = url.split("?", 1)[0]
    try:
        for _ in range(2):  # idempotent
            done = run_cli("init-dynamodb", "--store", url)
            assert (done.returncode, done.stdout.strip()) == (0, f"table ready: {table}")
    finally:
        asyncio.run(drop_table(DynamoDBBackend.from_url(url)))


async def drop_table(backend: Any) -> None:
    try:
        await backend.delete_table()
    finally:
        await backend.close()


def test_init_dynamodb_needs_a_dynamodb_url():
    done = run_cli("init-dynamodb", "--store", "sqlite:///x.db")
    assert done.returncode == 2
    assert "init-dynamodb needs a dynamodb:// store URL" in done.stderr


# -- item 4: --max-string-bytes ---------------------------------------------------------------


def string_outcome(server: ServerProcess, size: int):
    stub = server.stub("alice")
    request = pb.CreateTaskRequest(variables={"image": value("x" * size)})
    return rpc(stub.CreateTask, request, timeout=10)


def test_strings_may_fill_the_variables_cap_by_default(server_factory):
    """The issue's MCP tool result: a 70,000-character base64 image, under 1 MiB."""
    server = server_factory("memory")
    assert string_outcome(server, 70_000).ok


@pytest.mark.parametrize("how", ["flag", "env"])
def test_max_string_bytes(server_factory, how):
    if how == "flag":
        server = server_factory("memory", args=["--max-string-bytes", "1000"])
    else:
        server = server_factory("memory", env={"TASKSTATE_MAX_STRING_BYTES": "1000"})
    assert string_outcome(server, 1000).ok
    out = check_outcome(string_outcome(server, 1001), SC.INVALID_ARGUMENT)
    assert "--max-string-bytes" in out.describe()
    assert "max-string-bytes 1000" in server.stderr_text()  # the limits line


def test_max_string_bytes_must_be_positive(server_factory):
    server = server_factory("memory", args=["--max-string-bytes", "0"], start=False)
    with pytest.raises(ServerStartError, match="must be > 0"):
        server.start()


# -- item 8 (server side): mutual TLS ---------------------------------------------------------

needs_openssl = pytest.mark.skipif(not openssl_available(), reason="needs the openssl command")


@contextlib.contextmanager
def tls_stub(server: ServerProcess, creds: grpc.ChannelCredentials) -> Iterator[Any]:
    with grpc.secure_channel(server.address, creds) as ch:
        yield pb_grpc.TaskServiceStub(ch)


def bearer(server: ServerProcess, owner: str) -> tuple[tuple[str, str]]:
    return (("authorization", f"Bearer {server.token(owner)}"),)


def tls_call(server: ServerProcess, creds: grpc.ChannelCredentials, owner: str, task_id: str):
    with tls_stub(server, creds) as stub:
        request = pb.GetTaskRequest(task_id=task_id)
        return rpc(stub.GetTask, request, metadata=bearer(server, owner), timeout=10)


def tls_create(server: ServerProcess, creds: grpc.ChannelCredentials, owner: str) -> pb.Task:
    with tls_stub(server, creds) as stub:
        request = pb.CreateTaskRequest()
        return stub.CreateTask(request, metadata=bearer(server, owner), timeout=10).task


@needs_openssl
def test_mutual_tls(server_factory, tmp_path):
    pki = make_pki(tmp_path / "pki")
    stranger = make_pki(tmp_path / "other", name="other-ca")
    server = server_factory("memory", args=pki.server_args(mutual=True))
    assert "tls on, client certificates required" in server.stderr_text()

    task = tls_create(server, pki.channel_credentials(), "alice")
    assert tls_call(server, pki.channel_credentials(), "alice", task.task_id).ok
    # The certificate admits; the bearer token still decides the owner.
    check_outcome(
        tls_call(server, pki.channel_credentials(), "bob", task.task_id),
        SC.NOT_FOUND,
        "TASK_NOT_FOUND",
    )
    # No client certificate, or one from another CA: the handshake fails.
    for creds in (
        pki.channel_credentials(without_client_cert=True),
        pki.channel_credentials(client=stranger.client),
    ):
        out = tls_call(server, creds, "alice", task.task_id)
        assert out.code == SC.UNAVAILABLE, out.describe()


@needs_openssl
def test_tls_without_client_ca_accepts_any_client(server_factory, tmp_path):
    pki = make_pki(tmp_path / "pki")
    server = server_factory("memory", args=pki.server_args())
    task = tls_create(server, pki.channel_credentials(without_client_cert=True), "alice")
    assert tls_call(server, pki.channel_credentials(), "alice", task.task_id).ok


def test_client_ca_needs_a_server_certificate(server_factory, tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text("not used")
    server = server_factory("memory", args=["--tls-client-ca", str(ca)], start=False)
    err = refused_start(server)
    assert "--tls-client-ca (mutual TLS) needs --tls-cert and --tls-key" in err, err


def test_unreadable_tls_file_is_named(server_factory, tmp_path):
    missing = tmp_path / "missing.pem"
    args = ["--tls-cert", str(missing), "--tls-key", str(missing)]
    server = server_factory("memory", args=args, start=False)
    err = refused_start(server)
    assert f"{missing}: cannot read it" in err, err


@needs_openssl
def test_healthcheck_speaks_mutual_tls(server_factory, tmp_path):
    pki = make_pki(tmp_path / "pki")
    server = server_factory("memory", args=pki.server_args(mutual=True))
    env = {
        "TASKSTATE_TLS_CERT": str(pki.ca.cert),  # what the healthcheck trusts
        "TASKSTATE_TLS_CLIENT_CA": str(pki.ca.cert),
    }
    check = [sys.executable, "-m", "taskstate_server.healthcheck", server.address]
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TASKSTATE_")}

    def run(extra: dict[str, str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            check, env=clean | env | extra, capture_output=True, text=True, timeout=30
        )

    ok = run(
        {"TASKSTATE_CLIENT_CERT": str(pki.client.cert), "TASKSTATE_CLIENT_KEY": str(pki.client.key)}
    )
    assert (ok.returncode, ok.stdout.strip()) == (0, "SERVING"), ok.stderr
    no_cert = run({})
    assert no_cert.returncode == 1
    assert "set TASKSTATE_CLIENT_CERT and TASKSTATE_CLIENT_KEY" in no_cert.stderr


def test_sigterm_still_stops_cleanly(server_factory):
    """The start-up order changed (port before store); shutdown must not have."""
    server = server_factory("sqlite")
    create(server.stub("alice"))
    assert server.stop(signal.SIGTERM) == 0
