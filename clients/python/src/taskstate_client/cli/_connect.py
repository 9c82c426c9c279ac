"""The CLI's connection side: TLS flags -> the client's `tls`, and hints when it cannot connect."""

from __future__ import annotations

import argparse

from taskstate_client._config import ADDRESS_ENV
from taskstate_client._tls import CA_CERT_ENV, TLS, TLSConfig
from taskstate_client.cli._usage import UsageError
from taskstate_client.errors import UnavailableError


def tls_option(args: argparse.Namespace) -> TLS:
    """Flags become the explicit part of the shared rule; the client adds the environment."""
    files = TLSConfig(args.ca_cert, args.client_cert, args.client_key)
    given = bool(files.ca_cert or files.client_cert or files.client_key)
    if args.tls_mode is False:
        if given:
            raise UsageError("--plaintext excludes --ca-cert, --client-cert and --client-key")
        return False
    if given:
        return files
    return True if args.tls_mode else None


def unreachable_hint(exc: UnavailableError, address: str, *, tls: bool) -> str | None:
    """What to try when no server answered (None: a server did answer, or we cannot tell).

    gRPC reports every connection failure as UNAVAILABLE with a free-text
    message; the words it uses tell a stopped server from a TLS mismatch.
    """
    if exc.reason is not None:  # ErrorInfo came back: a server answered (its backend is down)
        return None
    text = exc.message.lower()
    if "wrong_version_number" in text:
        return f"taskstate: the server at {address} does not speak TLS: use --plaintext"
    if any(word in text for word in ("handshake", "certificate", "ssl")):
        return (
            f"taskstate: TLS handshake with {address} failed: "
            f"trust the server's CA with --ca-cert (or {CA_CERT_ENV})"
        )
    if "socket closed" in text or "connection reset" in text:
        if tls:
            return (
                f"taskstate: the server at {address} closed the TLS connection: if it requires "
                "client certificates, give --client-cert and --client-key"
            )
        return (
            f"taskstate: the server at {address} closed the connection: "
            "if it serves TLS, use --tls or --ca-cert"
        )
    if "resolv" in text or "domain name not found" in text:
        return f"taskstate: cannot resolve the host of {address}: set {ADDRESS_ENV} or --address"
    if "connect" in text:
        return (
            f"taskstate: cannot reach a server at {address}: is a server running there? "
            f"set {ADDRESS_ENV} or --address"
        )
    return None
