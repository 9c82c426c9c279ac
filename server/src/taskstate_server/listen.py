"""Binding the server's port, and saying clearly why it could not be bound.

gRPC turns SO_REUSEPORT on by default, which lets a second server bind a port
that one already serves and take half of its connections, silently. We turn it
off, so that second bind fails; gRPC then reports only "Failed to bind", so we
find the reason ourselves by binding a plain socket to the same address.
"""

from __future__ import annotations

import errno
import socket
from pathlib import Path

import grpc

from .config import ConfigError, ServerConfig

NO_REUSEPORT = ("grpc.so_reuseport", 0)
"""The channel option that makes a second server on a bound port fail."""


class ListenError(RuntimeError):
    """The server cannot listen on its address; the message says why."""


def bind(server: grpc.aio.Server, config: ServerConfig) -> int:
    """Adds the (TLS or plaintext) port to `server`; returns the bound port number."""
    creds = server_credentials(config)
    # gRPC is content to bind SOME of a name's addresses (localhost: ::1 when another
    # server has 127.0.0.1), which would split the name's callers between two servers.
    busy = _first_problem(config.listen, only_in_use=True)
    if busy:
        raise ListenError(busy)
    try:
        if creds is not None:
            port: int = server.add_secure_port(config.listen, creds)
        else:
            port = server.add_insecure_port(config.listen)
    except RuntimeError as exc:
        why = _first_problem(config.listen, only_in_use=False)
        raise ListenError(
            why
            or f"cannot listen on {config.listen} (gRPC refused it; GRPC_VERBOSITY=debug tells why)"
        ) from exc
    return port


def server_credentials(config: ServerConfig) -> grpc.ServerCredentials | None:
    """TLS when --tls-cert/--tls-key are set; client certificates required (and verified
    against --tls-client-ca) when that is set too. None: plaintext."""
    if not (config.tls_cert and config.tls_key):
        return None
    key = _read("--tls-key", config.tls_key)
    cert = _read("--tls-cert", config.tls_cert)
    if not config.tls_client_ca:
        return grpc.ssl_server_credentials([(key, cert)])
    return grpc.ssl_server_credentials(
        [(key, cert)],
        root_certificates=_read("--tls-client-ca", config.tls_client_ca),
        require_client_auth=True,
    )


def _read(flag: str, path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"{flag} {path}: cannot read it ({exc.strerror})") from None


def _first_problem(listen: str, *, only_in_use: bool) -> str | None:
    """Binds a plain socket to each address `listen` names, to find why gRPC cannot (or
    must not): the first failure in words a user can act on, None if every bind works.
    `only_in_use`: report only addresses in use (others may fail harmlessly, e.g. ::1 on
    a host without IPv6, which gRPC skips)."""
    host, _, port_text = listen.rpartition(":")
    host = host.strip("[]")
    try:
        port = int(port_text)
        infos = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except ValueError:
        return None if only_in_use else f"cannot listen on {listen}: bad port {port_text!r}"
    except socket.gaierror as exc:
        return None if only_in_use else f"cannot listen on {listen}: {host!r}: {exc.strerror}"
    if port == 0:
        return None  # a free port is picked: never in use
    for family, kind, proto, _, address in infos:
        with socket.socket(family, kind, proto) as probe:
            # As gRPC does: a port whose old connections linger in TIME_WAIT is free.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(address)
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE or not only_in_use:
                    return _explain(listen, host, exc)
    return None


def _explain(listen: str, host: str, exc: OSError) -> str:
    if exc.errno == errno.EADDRINUSE:
        return f"{listen} is already in use (another taskstate-server?)"
    if exc.errno == errno.EACCES:
        return f"cannot listen on {listen}: permission denied (ports below 1024 need privileges)"
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"cannot listen on {listen}: {host} is not an address of this machine"
    return f"cannot listen on {listen}: {exc.strerror}"
