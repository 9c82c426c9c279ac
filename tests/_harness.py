"""Test harness: real taskstate server subprocesses, authenticated stubs, error decoding.

Everything here talks to a *real* server process started with
``[sys.executable, "-m", "taskstate_server", ...]`` on an ephemeral port.

Main pieces (all importable as ``_harness`` from any test module):

* :func:`build_store_url` / :func:`selected_stores` - a store name -> the URL of a fresh database,
  from the one table of stores (``_stores.STORES``). The stores a run uses come from
  ``TASKSTATE_TEST_STORES`` (default ``memory,sqlite``).
* :class:`ServerProcess` - one server: ``.address``, ``.token(owner)``, ``.fresh_owner()``,
  ``.store_url``, ``.stub(owner)``, ``.stop(sig)``, ``.kill()``, ``.restart()``.
* :func:`rpc` / :func:`arpc` / :func:`expect_error` / :func:`aexpect_error` - call an RPC and get
  an :class:`Outcome` (status code, ErrorInfo reason/domain/metadata, BadRequest violations).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import secrets
import shlex
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import grpc.aio
from _stores import STORES, Database
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status
from taskstate.v1 import taskstate_pb2 as pb
from taskstate.v1 import taskstate_pb2_grpc as pb_grpc

# --------------------------------------------------------------------------------------------
# Stores
# --------------------------------------------------------------------------------------------

ERROR_DOMAIN = "taskstate.dev"
STARTUP_TIMEOUT = float(os.environ.get("TASKSTATE_TEST_STARTUP_TIMEOUT", "30"))
LISTENING_RE = re.compile(r"listening on (?P<address>\S+?:\d+)")


def build_store_url(store: str, tmp_dir: Path) -> str:
    """The URL of a fresh database of `store` (the table in _stores.py), files under `tmp_dir`."""
    if store not in STORES:
        raise ValueError(f"unknown store {store!r}; known: {', '.join(STORES)}")
    tmp_dir.mkdir(parents=True, exist_ok=True)
    return STORES[store].url(Database(tmp_dir, uuid.uuid4().hex[:12]))


# --------------------------------------------------------------------------------------------
# Auth interceptors and stubs
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _CallDetails(grpc.ClientCallDetails):
    method: str
    timeout: float | None
    metadata: Any
    credentials: Any
    wait_for_ready: Any
    compression: Any


class _SyncAuth(
    grpc.UnaryUnaryClientInterceptor,
    grpc.UnaryStreamClientInterceptor,
    grpc.StreamUnaryClientInterceptor,
    grpc.StreamStreamClientInterceptor,
):
    def __init__(self, header: str) -> None:
        self._header = header

    def _details(self, d: grpc.ClientCallDetails) -> grpc.ClientCallDetails:
        metadata = [*(d.metadata or ()), ("authorization", self._header)]
        return _CallDetails(
            d.method,
            d.timeout,
            metadata,
            d.credentials,
            getattr(d, "wait_for_ready", None),
            getattr(d, "compression", None),
        )

    def intercept_unary_unary(self, continuation, client_call_details, request):
        return continuation(self._details(client_call_details), request)

    def intercept_unary_stream(self, continuation, client_call_details, request):
        return continuation(self._details(client_call_details), request)

    def intercept_stream_unary(self, continuation, client_call_details, request_iterator):
        return continuation(self._details(client_call_details), request_iterator)

    def intercept_stream_stream(self, continuation, client_call_details, request_iterator):
        return continuation(self._details(client_call_details), request_iterator)


def _aio_details(d: grpc.aio.ClientCallDetails, header: str) -> grpc.aio.ClientCallDetails:
    metadata = grpc.aio.Metadata(*(tuple(d.metadata) if d.metadata else ()))
    metadata.add("authorization", header)
    return d._replace(metadata=metadata)


class _AioUnaryUnaryAuth(grpc.aio.UnaryUnaryClientInterceptor):
    def __init__(self, header: str) -> None:
        self._header = header

    async def intercept_unary_unary(self, continuation, client_call_details, request):
        return await continuation(_aio_details(client_call_details, self._header), request)


class _AioUnaryStreamAuth(grpc.aio.UnaryStreamClientInterceptor):
    def __init__(self, header: str) -> None:
        self._header = header

    async def intercept_unary_stream(self, continuation, client_call_details, request):
        return await continuation(_aio_details(client_call_details, self._header), request)


def auth_header(token: str) -> str:
    return f"Bearer {token}"


def sync_channel(address: str, token: str | None = None, *, header: str | None = None):
    """An insecure sync channel that sends ``authorization: Bearer <token>`` on every call.

    ``header`` overrides the whole authorization value (for malformed-header tests).
    """
    channel = grpc.insecure_channel(address)
    value = header if header is not None else (auth_header(token) if token is not None else None)
    if value is None:
        return channel
    return grpc.intercept_channel(channel, _SyncAuth(value))


def aio_channel(address: str, token: str | None = None, *, header: str | None = None):
    """Like :func:`sync_channel` for ``grpc.aio`` (create it inside the running event loop)."""
    value = header if header is not None else (auth_header(token) if token is not None else None)
    interceptors = [] if value is None else [_AioUnaryUnaryAuth(value), _AioUnaryStreamAuth(value)]
    return grpc.aio.insecure_channel(address, interceptors=interceptors or None)


def sync_stub(address: str, token: str | None = None, **kw: Any) -> pb_grpc.TaskServiceStub:
    """A sync TaskService stub; the channel is ``stub._channel_ref`` (close it when done)."""
    channel = sync_channel(address, token, **kw)
    stub = pb_grpc.TaskServiceStub(channel)
    stub._channel_ref = channel  # type: ignore[attr-defined]
    return stub


def aio_stub(address: str, token: str | None = None, **kw: Any) -> pb_grpc.TaskServiceStub:
    """An aio TaskService stub; close ``stub._channel_ref`` (``await ...close()``) when done."""
    channel = aio_channel(address, token, **kw)
    stub = pb_grpc.TaskServiceStub(channel)
    stub._channel_ref = channel  # type: ignore[attr-defined]
    return stub


# --------------------------------------------------------------------------------------------
# Outcomes and error decoding
# --------------------------------------------------------------------------------------------

OK = grpc.StatusCode.OK
NEVER_CODES = frozenset({grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN})


@dataclass
class Outcome:
    """What an RPC did: OK with a response, or an error with its rich details decoded."""

    code: grpc.StatusCode
    message: str = ""
    reason: str | None = None
    domain: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    violations: list[tuple[str, str]] = field(default_factory=list)
    status: status_pb2.Status | None = None
    response: Any = None

    @property
    def ok(self) -> bool:
        return self.code == OK

    def __iter__(self) -> Iterator[Any]:
        # (code, reason, metadata, violations) unpacking, as the brief's helper shape.
        return iter((self.code, self.reason, self.metadata, self.violations))

    def describe(self) -> str:
        return (
            f"{self.code.name} reason={self.reason!r} domain={self.domain!r} "
            f"message={self.message!r} metadata={self.metadata} violations={self.violations}"
        )


def _decode_status(status: status_pb2.Status | None, out: Outcome) -> Outcome:
    out.status = status
    if status is None:
        return out
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            out.reason = info.reason
            out.domain = info.domain
            out.metadata = dict(info.metadata)
        elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            out.violations.extend((v.field, v.description) for v in bad.field_violations)
    return out


def outcome_from_error(err: grpc.RpcError) -> Outcome:
    """Decodes a sync ``grpc.RpcError`` or an ``grpc.aio.AioRpcError``."""
    code = err.code()
    out = Outcome(code=code, message=err.details() or "")
    if isinstance(err, grpc.aio.AioRpcError):
        raw = None
        for key, value in err.trailing_metadata() or ():
            if key == "grpc-status-details-bin":
                raw = value
        status = None
        if raw is not None:
            status = status_pb2.Status.FromString(raw)
            assert status.code == code.value[0], (
                f"grpc-status-details-bin code {status.code} != call code {code}"
            )
        return _decode_status(status, out)
    # from_call also checks that the details' code and message match the call's.
    return _decode_status(rpc_status.from_call(err), out)


def rpc(method: Callable[..., Any], request: Any, **kw: Any) -> Outcome:
    """Calls a sync unary RPC; returns its Outcome instead of raising."""
    try:
        response = method(request, **kw)
    except grpc.RpcError as err:
        return outcome_from_error(err)
    return Outcome(code=OK, response=response)


async def arpc(call: Awaitable[Any]) -> Outcome:
    """Awaits an aio unary call (``stub.GetTask(req)``); returns its Outcome."""
    try:
        response = await call
    except grpc.aio.AioRpcError as err:
        return outcome_from_error(err)
    return Outcome(code=OK, response=response)


def check_outcome(
    out: Outcome, code: grpc.StatusCode, reason: str | None = None, *, what: str = ""
) -> Outcome:
    """Asserts the contract of docs/design.md §6 on an outcome."""
    prefix = f"{what}: " if what else ""
    assert out.code not in NEVER_CODES, f"{prefix}server bug, got {out.describe()}"
    assert out.code == code, f"{prefix}expected {code.name}/{reason}, got {out.describe()}"
    if code in (OK, grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.UNAVAILABLE) and not reason:
        return out
    assert out.domain == ERROR_DOMAIN, f"{prefix}ErrorInfo domain: {out.describe()}"
    if reason is not None:
        assert out.reason == reason, f"{prefix}expected reason {reason}, got {out.describe()}"
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        assert out.violations, f"{prefix}INVALID_ARGUMENT without BadRequest: {out.describe()}"
    return out


def expect_error(
    method: Callable[..., Any],
    request: Any,
    code: grpc.StatusCode,
    reason: str | None = None,
    **kw: Any,
) -> Outcome:
    """Calls a sync unary RPC and asserts it fails with ``code`` (and ``reason``)."""
    return check_outcome(rpc(method, request, **kw), code, reason)


async def aexpect_error(
    call: Awaitable[Any], code: grpc.StatusCode, reason: str | None = None
) -> Outcome:
    return check_outcome(await arpc(call), code, reason)


def drain_stream(stream: Iterable[Any]) -> tuple[list[Any], Outcome]:
    """Reads a sync server stream to its end: (messages, final outcome)."""
    messages: list[Any] = []
    try:
        for msg in stream:
            messages.append(msg)
    except grpc.RpcError as err:
        return messages, outcome_from_error(err)
    return messages, Outcome(code=OK)


async def adrain_stream(call: Any, limit: int | None = None) -> tuple[list[Any], Outcome]:
    """Reads an aio server stream to its end (or ``limit`` messages): (messages, outcome)."""
    messages: list[Any] = []
    try:
        async for msg in call:
            messages.append(msg)
            if limit is not None and len(messages) >= limit:
                return messages, Outcome(code=OK)
    except grpc.aio.AioRpcError as err:
        return messages, outcome_from_error(err)
    return messages, Outcome(code=OK)


# --------------------------------------------------------------------------------------------
# Server processes
# --------------------------------------------------------------------------------------------

DEFAULT_OWNERS = ("alice", "bob", "carol")
FRESH_OWNER_POOL = 2000


class ServerStartError(AssertionError):
    pass


def _server_env(extra: dict[str, str] | None) -> dict[str, str]:
    # Keep a developer's TASKSTATE_* settings from leaking into the server under test.
    env = {k: v for k, v in os.environ.items() if not k.startswith("TASKSTATE_")}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


class ServerProcess:
    """One real taskstate server subprocess.

    ``tokens``: ``None`` -> a tokens file with alice, bob, carol and a pool of fresh owners;
    a dict -> exactly that tokens file; ``False`` -> no tokens file (anonymous mode).
    """

    def __init__(
        self,
        store_url: str,
        *,
        workdir: Path,
        args: Iterable[str] = (),
        env: dict[str, str] | None = None,
        tokens: dict[str, list[str]] | bool | None = None,
        store_name: str = "",
        listen_host: str = "127.0.0.1",
    ) -> None:
        self.store_url = store_url
        self.store_name = store_name
        self.workdir = workdir
        self.args = list(args)
        self.env = dict(env or {})
        self.listen_host = listen_host
        self.address = ""
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self._stderr: list[str] = []
        self._stdout: list[str] = []
        self._channels: list[Any] = []
        self._owner_seq = itertools.count()
        self._owner_lock = threading.Lock()
        self._stubs: dict[tuple[str | None, str | None], pb_grpc.TaskServiceStub] = {}
        workdir.mkdir(parents=True, exist_ok=True)
        if tokens is False:
            self.tokens: dict[str, list[str]] = {}
            self.tokens_file: Path | None = None
        else:
            if tokens is None or tokens is True:
                names = [*DEFAULT_OWNERS, *(f"user-{i:04d}" for i in range(FRESH_OWNER_POOL))]
                tokens = {n: [f"tok-{n}-{secrets.token_hex(8)}"] for n in names}
            self.tokens = {k: list(v) for k, v in tokens.items()}
            self.tokens_file = workdir / f"tokens-{uuid.uuid4().hex[:8]}.json"
            self.tokens_file.write_text(json.dumps(self.tokens))

    # -- identity --------------------------------------------------------------------------

    def token(self, owner: str) -> str:
        """The (first) bearer token of ``owner``."""
        try:
            return self.tokens[owner][0]
        except (KeyError, IndexError):
            raise KeyError(f"owner {owner!r} has no token on this server") from None

    def fresh_owner(self) -> str:
        """An owner no other test has used on this server (its tasks, list and quota are empty)."""
        with self._owner_lock:
            name = f"user-{next(self._owner_seq):04d}"
        if name not in self.tokens:
            raise KeyError(f"no fresh owner {name} on this server (pool of {FRESH_OWNER_POOL})")
        return name

    # -- stubs -----------------------------------------------------------------------------

    def stub(
        self, owner: str | None = None, *, token: str | None = None
    ) -> pb_grpc.TaskServiceStub:
        """A cached sync stub authenticated as ``owner`` (or with a raw ``token``; neither:
        no authorization header). Channels are closed when the server is stopped."""
        key = (owner, token)
        if key not in self._stubs:
            tok = token if token is not None else (self.token(owner) if owner else None)
            stub = sync_stub(self.address, tok)
            self._channels.append(stub._channel_ref)  # type: ignore[attr-defined]
            self._stubs[key] = stub
        return self._stubs[key]

    def channel(self, owner: str | None = None, **kw: Any) -> grpc.Channel:
        """A new sync channel (closed when the server is stopped)."""
        ch = sync_channel(self.address, self.token(owner) if owner else None, **kw)
        self._channels.append(ch)
        return ch

    def aio_stub(
        self, owner: str | None = None, *, token: str | None = None
    ) -> pb_grpc.TaskServiceStub:
        """A new aio stub (create inside the event loop; ``await stub._channel_ref.close()``)."""
        tok = token if token is not None else (self.token(owner) if owner else None)
        return aio_stub(self.address, tok)

    def _close_channels(self) -> None:
        for ch in self._channels:
            with contextlib.suppress(Exception):
                ch.close()
        self._channels.clear()
        self._stubs.clear()

    # -- lifecycle -------------------------------------------------------------------------

    def command(self, listen: str) -> list[str]:
        cmd = [sys.executable, "-m", "taskstate_server", "--listen", listen]
        cmd += ["--store", self.store_url]
        if self.tokens_file is not None:
            cmd += ["--auth-tokens", str(self.tokens_file)]
        return cmd + self.args

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def stderr_text(self) -> str:
        return "".join(self._stderr)

    def output_text(self) -> str:
        out = "".join(self._stdout)
        return f"--- stderr ---\n{self.stderr_text()}" + (f"\n--- stdout ---\n{out}" if out else "")

    def start(self, *, port: int = 0, timeout: float = STARTUP_TIMEOUT) -> ServerProcess:
        """Starts the server and waits for its ``listening on HOST:PORT`` line."""
        assert not self.running, "server already running"
        self._stderr, self._stdout = [], []
        listen = f"{self.listen_host}:{port}"
        found = threading.Event()
        box: dict[str, str] = {}
        self.proc = subprocess.Popen(
            self.command(listen),
            cwd=self.workdir,
            env=_server_env(self.env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )

        def pump(stream: Any, sink: list[str], watch: bool) -> None:
            for raw in iter(stream.readline, b""):
                line = raw.decode("utf-8", "replace")
                sink.append(line)
                if watch and not found.is_set():
                    m = LISTENING_RE.search(line)
                    if m:
                        box["address"] = m.group("address")
                        found.set()
            stream.close()

        pumps = [
            threading.Thread(target=pump, args=(self.proc.stderr, self._stderr, True), daemon=True),
            threading.Thread(
                target=pump, args=(self.proc.stdout, self._stdout, False), daemon=True
            ),
        ]
        for t in pumps:
            t.start()
        deadline = time.monotonic() + timeout
        while not found.wait(0.05):
            if self.proc.poll() is not None:
                for t in pumps:  # let the pumps read what the process wrote before exiting
                    t.join(2)
                raise ServerStartError(
                    f"server exited with code {self.proc.returncode} before listening\n"
                    f"command: {shlex.join(self.command(listen))}\n{self.output_text()}"
                )
            if time.monotonic() > deadline:
                self._terminate_quietly()
                for t in pumps:
                    t.join(2)
                raise ServerStartError(
                    f"server did not log 'listening on HOST:PORT' within {timeout:.0f}s\n"
                    f"command: {shlex.join(self.command(listen))}\n{self.output_text()}"
                )
        self.address = box["address"]
        self.port = int(self.address.rsplit(":", 1)[1])
        assert self.port > 0, f"server reported port 0: {self.address}"
        return self

    def wait_ready(self, timeout: float = 10.0) -> None:
        """Waits until a channel to the server is connected."""
        ch = grpc.insecure_channel(self.address)
        try:
            grpc.channel_ready_future(ch).result(timeout=timeout)
        finally:
            ch.close()

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        """Sends ``sig`` and waits for the exit; returns the exit code (SIGKILL after timeout)."""
        assert self.proc is not None, "server never started"
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError(
                    f"server did not exit within {timeout}s of signal {sig}\n{self.output_text()}"
                ) from None
        self._close_channels()
        return self.proc.returncode

    def kill(self) -> int:
        """SIGKILL (kill -9): no chance to flush or clean up."""
        return self.stop(signal.SIGKILL)

    def restart(self, *, same_port: bool = True, sig: int = signal.SIGTERM) -> ServerProcess:
        """Stops (if running) and starts again on the same store, on the same port if possible."""
        if self.running:
            self.stop(sig)
        self._close_channels()
        if same_port and self.port:
            try:
                return self.start(port=self.port)
            except ServerStartError:
                pass  # port taken meanwhile: fall back to a fresh one
        return self.start()

    def _terminate_quietly(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def close(self) -> None:
        """Teardown: SIGTERM, then SIGKILL if it does not exit."""
        self._close_channels()
        self._terminate_quietly()

    def __repr__(self) -> str:
        return f"<ServerProcess {self.store_url} at {self.address} running={self.running}>"


# --------------------------------------------------------------------------------------------
# Small helpers for tests
# --------------------------------------------------------------------------------------------


def random_task_id() -> str:
    """A well-formed (UUIDv7, lowercase, hyphenated) id that names no task."""
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(secrets.token_bytes(10), "big")
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= ((rand >> 68) & 0xFFF) << 64
    value |= 0b10 << 62
    value |= rand & ((1 << 62) - 1)
    return str(uuid.UUID(int=value))


UUID7_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def ts_ms(ts: Any) -> int:
    return ts.seconds * 1000 + ts.nanos // 1_000_000


def dur_ms(d: Any) -> int:
    return d.seconds * 1000 + d.nanos // 1_000_000


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    """Bounded polling, for the few cases where nothing else can signal the condition."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)


def pb_status(name: str) -> int:
    return pb.TaskStatus.Value(f"TASK_STATUS_{name.upper()}")
