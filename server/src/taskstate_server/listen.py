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
    try:
        if creds is not None:
            port: int = server.add_secure_port(config.listen, creds)
        else:
            port = server.add_insecure_port(config.listen)
    except RuntimeError as exc:
        raise ListenError(why_unbindable(config.listen)) from exc
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


def why_unbindable(listen: str) -> str:
    """Why `listen` (host:port) cannot be bound, in words a user can act on."""
    host, _, port_text = listen.rpartition(":")
    host = host.strip("[]")
    try:
        port = int(port_text)
        infos = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except ValueError:
        return f"cannot listen on {listen}: {port_text!r} is not a port number"
    except socket.gaierror as exc:
        return f"cannot listen on {listen}: cannot resolve {host!r} ({exc.strerror})"
    for family, kind, proto, _, address in infos:
        with socket.socket(family, kind, proto) as probe:
            # As gRPC does: a port whose old connections linger in TIME_WAIT is free.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(address)
            except OSError as exc:
                return _explain(listen, host, exc)
    return f"cannot listen on {listen} (gRPC refused it; GRPC_VERBOSITY=debug tells why)"


def _explain(listen: str, host: str, exc: OSError) -> str:
    if exc.errno == errno.EADDRINUSE:
        return f"{listen} is already in use (another taskstate-server?)"
    if exc.errno == errno.EACCES:
        return f"cannot listen on {listen}: permission denied (ports below 1024 need privileges)"
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"cannot listen on {listen}: {host} is not an address of this machine"
    return f"cannot listen on {listen}: {exc.strerror}"
