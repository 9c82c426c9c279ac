"""The one TLS default rule every taskstate client shares (see clients/python/README.md).

First that applies wins:
1. explicit: TLS asked for (tls=True, a CA cert, a client cert/key) -> TLS; tls=False -> plaintext;
2. the address's scheme: https:// -> TLS, http:// -> plaintext;
3. the host: loopback (localhost, 127.0.0.0/8, ::1) or a unix socket -> plaintext, else TLS.

So a local `make run` server needs no flags, and a token sent to a remote host is
never sent in the clear by accident. Everything here is I/O-free except reading
the PEM files, so the decision is unit-testable.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

TLS_ENV = "TASKSTATE_TLS"
CA_CERT_ENV = "TASKSTATE_CA_CERT"
CLIENT_CERT_ENV = "TASKSTATE_CLIENT_CERT"
CLIENT_KEY_ENV = "TASKSTATE_CLIENT_KEY"

PemPath = str | os.PathLike[str]

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


@dataclass(frozen=True, slots=True)
class TLSConfig:
    """TLS with optional PEM files: a CA replacing the system roots, a client cert + key (mTLS)."""

    ca_cert: PemPath | None = None
    client_cert: PemPath | None = None
    client_key: PemPath | None = None


TLS = bool | PemPath | TLSConfig | None
"""None: decide by the rule (and the TASKSTATE_TLS* environment). False: plaintext.
True: TLS with the system roots. A path: TLS trusting that CA (PEM). TLSConfig: TLS, its files."""


@dataclass(frozen=True, slots=True)
class Transport:
    """What the channel is built from: the gRPC target (scheme removed) and TLS or not."""

    target: str
    tls: bool
    config: TLSConfig


def parse_bool(text: str, name: str) -> bool:
    value = text.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"{name}={text!r}: expected true or false")


def explicit_choice(tls: TLS, env: Mapping[str, str]) -> tuple[bool | None, TLSConfig]:
    """The explicit part of the rule: (True/False/None = undecided, the PEM files).

    The argument wins field by field over the environment, so `tls=True` with
    TASKSTATE_CA_CERT set trusts that CA, and `tls=False` ignores every file.
    """
    if tls is False:
        return False, TLSConfig()
    if tls is True:
        given = TLSConfig()
    elif isinstance(tls, TLSConfig):
        given = tls
    elif tls is None:
        given = TLSConfig()
    else:
        given = TLSConfig(ca_cert=tls)
    files = TLSConfig(
        ca_cert=given.ca_cert or env.get(CA_CERT_ENV) or None,
        client_cert=given.client_cert or env.get(CLIENT_CERT_ENV) or None,
        client_key=given.client_key or env.get(CLIENT_KEY_ENV) or None,
    )
    if tls is not None:
        return True, files
    raw = env.get(TLS_ENV, "").strip()
    if raw:
        on = parse_bool(raw, TLS_ENV)
        return on, files if on else TLSConfig()
    if files.ca_cert or files.client_cert or files.client_key:
        return True, files
    return None, files


def split_scheme(address: str) -> tuple[str | None, str]:
    """("https" | "http" | None, the gRPC target); a bare https://host gets port 443."""
    for scheme, port in (("https", 443), ("http", 80)):
        prefix = f"{scheme}://"
        if address[: len(prefix)].lower() == prefix:
            rest = address[len(prefix) :].rstrip("/")
            if "/" in rest:
                raise ValueError(f"address {address!r}: expected {scheme}://host[:port], no path")
            host, port_text = _split_host_port(rest)
            if not host:
                raise ValueError(f"address {address!r} has no host")
            shown = f"[{host}]" if ":" in host else host
            return scheme, f"{shown}:{port_text or port}"
    return None, address


def is_loopback(target: str) -> bool:
    """Whether a gRPC target names this machine: localhost, 127.0.0.0/8, ::1 or a unix socket."""
    if target.startswith(("unix:", "unix-abstract:")):
        return True
    if target.startswith("dns:"):
        target = target[4:]
        if target.startswith("//"):  # dns://[resolver]/host:port
            target = target[2:].partition("/")[2]
    elif target.startswith(("ipv4:", "ipv6:")):
        target = target[5:].split(",")[0]
    host, _ = _split_host_port(target)
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _split_host_port(hostport: str) -> tuple[str, str]:
    if hostport.startswith("["):  # [v6]:port
        host, _, rest = hostport[1:].partition("]")
        return host, rest.removeprefix(":")
    if hostport.count(":") == 1:
        host, _, port = hostport.partition(":")
        return host, port
    return hostport, ""  # no port, or a bare IPv6 address


def decide(address: str, tls: TLS = None, env: Mapping[str, str] | None = None) -> Transport:
    """Applies the rule; `env` defaults to os.environ (tests pass a dict)."""
    on, files = explicit_choice(tls, os.environ if env is None else env)
    scheme, target = split_scheme(address)
    if on is None:
        on = scheme == "https" if scheme else not is_loopback(target)
    if bool(files.client_cert) != bool(files.client_key):
        raise ValueError(
            "a client certificate and its key go together "
            f"(client_cert / client_key, {CLIENT_CERT_ENV} / {CLIENT_KEY_ENV})"
        )
    return Transport(target=target, tls=on, config=files if on else TLSConfig())


def credentials(config: TLSConfig) -> Any:
    """grpc.ChannelCredentials for the files (None fields: system roots, no client cert)."""
    return grpc.ssl_channel_credentials(
        root_certificates=_read(config.ca_cert, "CA certificate"),
        private_key=_read(config.client_key, "client key"),
        certificate_chain=_read(config.client_cert, "client certificate"),
    )


def _read(path: PemPath | None, what: str) -> bytes | None:
    if path is None:
        return None
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ValueError(f"cannot read the {what} {os.fspath(path)!r}: {exc.strerror}") from None
    if b"-----BEGIN" not in data:
        raise ValueError(f"the {what} {os.fspath(path)!r} is not a PEM file")
    return data
