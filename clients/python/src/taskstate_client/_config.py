"""Connection settings shared by the sync and async clients."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from taskstate_client._duration import Seconds, to_seconds
from taskstate_client._sentinel import DEFAULT, Default
from taskstate_client._tls import TLS, credentials, decide
from taskstate_client._version import client_version

DEFAULT_ADDRESS = "127.0.0.1:50051"
DEFAULT_TIMEOUT = 30.0
ADDRESS_ENV = "TASKSTATE_ADDRESS"
TOKEN_ENV = "TASKSTATE_TOKEN"
SUBJECT_METADATA = "taskstate-subject"
"""The metadata key naming the end user a call acts for (docs/design.md, subjects)."""

Timeout = Seconds | None | Default
"""A per-call deadline in seconds; None = no deadline; DEFAULT = the client's default."""

_USER_AGENT = f"taskstate-client-python/{client_version()}"

__all__ = ["TLS", "Settings", "Timeout", "resolve"]


@dataclass(frozen=True, slots=True)
class Settings:
    address: str
    metadata: tuple[tuple[str, str], ...]
    credentials: Any  # grpc.ChannelCredentials | None (grpc ships no type hints)
    timeout: float | None
    options: tuple[tuple[str, Any], ...]
    subject: str | None = None

    def scoped(self, subject: str | None) -> Settings:
        """The same settings acting for `subject` (None: for no subject, seeing every task).

        The subject travels in the metadata every call sends (unary and streams alike), so no
        call can forget it; the server validates it, the client sends it as given.
        """
        if subject is not None and not isinstance(subject, str):
            raise TypeError(f"subject must be a str or None, not {type(subject).__name__}")
        metadata = tuple(m for m in self.metadata if m[0] != SUBJECT_METADATA)
        if subject is not None:
            metadata += ((SUBJECT_METADATA, subject),)
        return replace(self, metadata=metadata, subject=subject)

    def deadline(self, timeout: Timeout) -> float | None:
        if timeout is DEFAULT:
            return self.timeout
        return None if timeout is None else to_seconds(timeout)


def resolve(
    address: str | None,
    token: str | None,
    tls: TLS,
    timeout: Seconds | None,
    options: Sequence[tuple[str, Any]] | None,
    subject: str | None = None,
) -> Settings:
    """Applies the environment defaults, so that scripts and the CLI agree on them.

    TLS follows the shared rule of _tls.decide; the address given to gRPC is the
    target without its http:// or https:// scheme.
    """
    address = address or os.environ.get(ADDRESS_ENV) or DEFAULT_ADDRESS
    transport = decide(address, tls)
    if token is None:
        token = os.environ.get(TOKEN_ENV) or None
    metadata: tuple[tuple[str, str], ...] = ()
    if token:
        metadata = (("authorization", f"Bearer {token}"),)
    opts: list[tuple[str, Any]] = [("grpc.primary_user_agent", _USER_AGENT)]
    opts.extend(options or ())
    return Settings(
        address=transport.target,
        metadata=metadata,
        credentials=credentials(transport.config) if transport.tls else None,
        timeout=None if timeout is None else to_seconds(timeout),
        options=tuple(opts),
    ).scoped(subject)
