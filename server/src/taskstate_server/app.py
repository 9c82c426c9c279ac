"""Assembles and runs the server: store, gRPC services, health, sweeper, signals."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Final

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer
from grpc_reflection.v1alpha import reflection

from .backends import Backend, DatabaseUnavailable, Feature, has_feature, open_backend
from .config import ServerConfig, anonymous_allowed
from .domain.describe import format_duration_ms
from .domain.errors import BackendUnavailable
from .domain.model import Limits
from .domain.store import TaskStore
from .listen import NO_REUSEPORT, bind
from .transport import sizes
from .transport.auth import Authenticator, load_tokens
from .transport.grpc_logging import quiet_undelivered_responses
from .transport.handlers import SERVICE, task_service_handler
from .transport.servicer import TaskServicer
from .version import server_version

log = logging.getLogger("taskstate.server")

HEALTH_INTERVAL_S = 2.0
SWEEP_INTERVAL_S = 1.0
"""Expired tasks are removed (and logged as EXPIRED) within about this long."""
LEASE_SWEEP_INTERVAL_S = 1.0
"""The backstop of lease expiry (a lease whose granting replica is gone), over the lease index."""
SHUTDOWN_GRACE_S = 10.0
FEED_READY_S = 30.0

MAX_METADATA_BYTES: Final = 16 * 1024
"""Request metadata a call may carry: every header counted as name + value + 32 bytes (HPACK).
One limit, soft = hard: between a soft and a hard limit gRPC refuses calls at random. With one,
the answer depends on the size alone: up to it the call goes on (a bad token is
UNAUTHENTICATED), over it gRPC answers RESOURCE_EXHAUSTED, every time."""


@dataclass
class Server:
    """A started server; `port` is the bound port (useful with --listen host:0)."""

    grpc_server: grpc.aio.Server
    store: TaskStore
    health: HealthServicer
    port: int
    draining: asyncio.Event
    background: list[asyncio.Task[None]] = field(default_factory=list)

    async def _set_health(self, serving: bool) -> None:
        status = (
            health_pb2.HealthCheckResponse.SERVING
            if serving
            else health_pb2.HealthCheckResponse.NOT_SERVING
        )
        for name in ("", SERVICE.full_name):
            await self.health.set(name, status)

    async def _watch_health(self) -> None:
        """NOT_SERVING while the backend is unreachable, SERVING again once it is back."""
        healthy: bool | None = None
        while not self.draining.is_set():
            try:
                await asyncio.wait_for(self.store.ping(), HEALTH_INTERVAL_S)
                ok = True
            except (BackendUnavailable, TimeoutError) as exc:
                ok = False
                if healthy is not False:
                    log.warning("store unreachable: %s", exc)
            if ok != healthy and not self.draining.is_set():
                healthy = ok
                await self._set_health(ok)
                if ok:
                    log.info("store reachable")
            await _sleep_unless(self.draining, HEALTH_INTERVAL_S)

    async def _periodically(
        self, what: str, work: Callable[[], Awaitable[int]], interval_s: float
    ) -> None:
        """Runs a sweep every `interval_s` until the drain; an unreachable store skips a round."""
        while not self.draining.is_set():
            try:
                done = await work()
                if done:
                    log.debug("%s: %d", what, done)
            except BackendUnavailable as exc:
                log.debug("%s skipped: %s", what, exc)
            await _sleep_unless(self.draining, interval_s)

    def start_background(self) -> None:
        self.background = [
            asyncio.create_task(self._watch_health(), name="health"),
            asyncio.create_task(
                self._periodically(
                    "expired tasks swept", self.store.sweep_expired, SWEEP_INTERVAL_S
                ),
                name="sweeper",
            ),
        ]
        if has_feature(self.store.backend, Feature.INDEXES):
            leases = self._periodically(
                "leases expired", self.store.expire_due_leases, LEASE_SWEEP_INTERVAL_S
            )
            self.background.append(asyncio.create_task(leases, name="lease-sweeper"))

    async def stop(self, grace: float = SHUTDOWN_GRACE_S) -> None:
        """Drain: NOT_SERVING, end watch streams (UNAVAILABLE), finish in-flight calls."""
        if self.draining.is_set():
            return
        self.draining.set()
        await self.health.enter_graceful_shutdown()
        await self.grpc_server.stop(grace)
        for task in self.background:
            task.cancel()
        for task in self.background:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.store.close()


async def _sleep_unless(event: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), seconds)


def grpc_options(limits: Limits) -> list[tuple[str, int]]:
    """The gRPC server's options; each limit is documented here, not a library default.

    Messages: a request may be as large as the limits let a valid call be (see
    sizes.max_request_bytes: gRPC's 4 MiB default refused, e.g., 1 MiB of JSON numbers,
    5.5 MiB on the wire); responses have no limit (sizes.MAX_SEND_BYTES)."""
    return [
        NO_REUSEPORT,
        ("grpc.max_metadata_size", MAX_METADATA_BYTES),
        ("grpc.absolute_max_metadata_size", MAX_METADATA_BYTES),
        ("grpc.max_receive_message_length", sizes.max_request_bytes(limits)),
        ("grpc.max_send_message_length", sizes.MAX_SEND_BYTES),
    ]


async def start(config: ServerConfig) -> Server:
    allow_anonymous = anonymous_allowed(config)
    tokens = load_tokens(config.auth_tokens) if config.auth_tokens else {}
    quiet_undelivered_responses()
    server = grpc.aio.server(options=grpc_options(config.limits))
    # The port first: a second server on it fails at once, before touching the store.
    port = bind(server, config)
    try:
        store = await _open_store(config)
    except BaseException:
        await server.stop(None)  # releases the port
        raise
    draining = asyncio.Event()
    server.add_generic_rpc_handlers(
        (
            task_service_handler(
                TaskServicer(store, draining), Authenticator(tokens, allow_anonymous)
            ),
        )
    )
    health = HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    reflection.enable_server_reflection(
        (
            SERVICE.full_name,
            health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
            reflection.SERVICE_NAME,
        ),
        server,
    )
    await server.start()
    running = Server(server, store, health, port, draining)
    await running._set_health(True)
    running.start_background()
    host = config.listen.rsplit(":", 1)[0]
    tls = "off"
    if config.tls_cert:
        tls = "on, client certificates required" if config.tls_client_ca else "on"
    log.info(
        "taskstate-server %s listening on %s:%d (store %s, anonymous %s, tls %s)",
        server_version(),
        host,
        port,
        _redact(config.store),
        "on" if allow_anonymous else "off",
        tls,
    )
    log.info("limits: %s", describe_limits(store.limits))
    return running


async def _open_store(config: ServerConfig) -> TaskStore:
    backend = await open_backend(config.store)
    store = TaskStore(backend, config.limits)
    try:
        await _wait_for_change_feed(backend)
    except BaseException:
        await store.close()
        raise
    _warn_about_capped_limits(config, store, backend)
    return store


def describe_limits(limits: Limits) -> str:
    """The limits in force, one line for the start-up log."""
    return (
        f"max-active-tasks {limits.max_active_tasks}, "
        f"max-variables-bytes {limits.max_variables_bytes}, "
        f"max-string-bytes {limits.string_bytes}, "
        f"default-ttl {format_duration_ms(limits.default_ttl_ms)}, "
        f"max-ttl {format_duration_ms(limits.max_ttl_ms)}, "
        f"default-poll-interval {format_duration_ms(limits.default_poll_interval_ms)}, "
        f"default-lease {format_duration_ms(limits.default_lease_ms)}, "
        f"max-lease {format_duration_ms(limits.max_lease_ms)}, "
        f"default-max-attempts {limits.default_max_attempts}, "
        f"feed-retention {format_duration_ms(limits.feed_retention_ms)}, "
        f"request messages up to {sizes.max_request_bytes(limits)} bytes, "
        f"request metadata up to {MAX_METADATA_BYTES} bytes"
    )


def _warn_about_capped_limits(config: ServerConfig, store: TaskStore, backend: Backend) -> None:
    if store.limits.max_variables_bytes < config.limits.max_variables_bytes:
        log.warning(
            "this store holds at most %d bytes per record: variables are capped at %d bytes "
            "(not %d)",
            backend.max_record_bytes,
            store.limits.max_variables_bytes,
            config.limits.max_variables_bytes,
        )
    if store.limits.max_active_tasks < config.limits.max_active_tasks:
        log.warning(
            "this store holds at most %d active tasks per owner: the quota is %d (not %d)",
            backend.max_active_limit,
            store.limits.max_active_tasks,
            config.limits.max_active_tasks,
        )


async def _wait_for_change_feed(backend: Backend) -> None:
    """A replica must not answer before its change feed follows the shared store:
    a watch opened in that window would silently miss other replicas' changes."""
    if not has_feature(backend, Feature.SHARED_FEED):
        return
    if not await backend.wait_feed_ready(FEED_READY_S):
        raise DatabaseUnavailable(f"the store's change feed did not start within {FEED_READY_S:g}s")


def _redact(url: str) -> str:
    """Store URLs may carry passwords (redis://:pw@host); never log them."""
    scheme, sep, rest = url.partition("://")
    if "@" in rest:
        rest = "***@" + rest.split("@", 1)[1]
    return scheme + sep + rest


async def serve(config: ServerConfig) -> int:
    server = await start(config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("shutting down")
    await server.stop()
    log.info("stopped")
    return 0
