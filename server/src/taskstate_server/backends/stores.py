"""The store table: which URL schemes open which store, and what a base install lacks for it.

One line per store. Everything a store says about itself (`features`, `max_record_bytes`, its
URL's options) lives on its backend class, in its own package; this table only finds that class,
so `open_backend`, the CLI's help and the test harnesses (tests/_stores.py) all read the stores
from here. Adding a store is its package, one line here, one entry in tests/_stores.py and its
service script (tools/services/).
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Final, Protocol

from .base import Backend, Feature, StoreURLError


class MissingExtraError(StoreURLError):
    """The store URL is fine, but its libraries are an extra that is not installed.

    A base install (`pip install taskstate-server`) carries SQLite and memory only, so a
    Redis or DynamoDB user must learn which extra to add rather than read an ImportError.
    """


class BackendClass(Protocol):
    """A store's backend class as the table loads it: its declarations and its way in."""

    features: frozenset[Feature]
    max_record_bytes: int | None
    max_active_limit: int | None

    def open_url(self, url: str) -> Awaitable[Backend]:
        """A ready backend on the store a server's `--store` URL names."""
        ...


@dataclass(frozen=True)
class Store:
    name: str
    schemes: tuple[str, ...]
    module: str
    """The store's package (or module), relative to `taskstate_server.backends`."""
    class_name: str
    example: str
    """The URL shape an unknown-scheme message lists."""
    help: tuple[tuple[str, str], ...]
    """(URL, what it is) lines of `taskstate-server --help`; a description may span lines."""
    extra: str | None = None
    """The pip extra that brings its libraries; None when the base install has them."""
    extra_modules: frozenset[str] = frozenset()
    """The top-level modules the extra brings: a missing one of these means "install the
    extra"; any other ModuleNotFoundError is a real bug and propagates as is."""

    def load(self, scheme: str | None = None) -> BackendClass:
        """The backend class, imported on first use (an extra's libraries may be absent)."""
        try:
            module = importlib.import_module(self.module, __package__)
        except ModuleNotFoundError as exc:
            raise self._missing_extra(exc, scheme or self.schemes[0]) from exc
        cls: BackendClass = getattr(module, self.class_name)
        return cls

    def _missing_extra(self, exc: ModuleNotFoundError, scheme: str) -> MissingExtraError:
        top = (exc.name or "").partition(".")[0]
        if self.extra is None or top not in self.extra_modules:
            raise exc
        return MissingExtraError(
            f"{scheme}:// stores need `pip install 'taskstate-server[{self.extra}]'` "
            f"(Python module {top!r} is not installed)"
        )


STORES: Final = (
    Store(
        "memory",
        ("memory",),
        ".memory",
        "MemoryBackend",
        "memory://",
        (("memory://", "in this process only; lost on exit (tests, demos)"),),
    ),
    Store(
        "sqlite",
        ("sqlite",),
        ".sqlite",
        "SqliteBackend",
        "sqlite:///path.db",
        (
            ("sqlite:///taskstate.db", "a file relative to the working directory"),
            (
                "sqlite:////var/lib/taskstate/ts.db",
                "an absolute path (four slashes). One server per\n"
                "file; back it up with `taskstate-server backup`",
            ),
        ),
    ),
    Store(
        "redis",
        ("redis", "rediss"),
        ".redis",
        "RedisBackend",
        "redis://host:port/db",
        (
            (
                "redis://localhost:6379/0",
                "Redis, shared by any number of servers\n(?prefix=taskstate: for the key prefix)",
            ),
            ("rediss://:PASSWORD@redis.example:6380/0", "Redis over TLS"),
        ),
        extra="redis",
        extra_modules=frozenset({"redis", "hiredis"}),
    ),
    Store(
        "dynamodb",
        ("dynamodb",),
        ".dynamodb",
        "DynamoDBBackend",
        "dynamodb://table?region=...",
        (
            (
                "dynamodb://taskstate?region=eu-west-1",
                "DynamoDB, shared by any number of servers\n"
                "(&endpoint=http://localhost:8000 for DynamoDB\n"
                "Local; create the table with init-dynamodb or\n"
                "&create_table=true)",
            ),
        ),
        extra="dynamodb",
        extra_modules=frozenset({"aioboto3", "aiobotocore", "botocore", "boto3", "aiohttp"}),
    ),
)

_BY_NAME: Final = {s.name: s for s in STORES}
_BY_SCHEME: Final = {scheme: s for s in STORES for scheme in s.schemes}


def store_named(name: str) -> Store:
    """The store called `name` (KeyError if there is none)."""
    return _BY_NAME[name]


def store_for_scheme(scheme: str, url: str) -> Store:
    """The store a URL's scheme names; StoreURLError, listing the stores, for any other."""
    store = _BY_SCHEME.get(scheme)
    if store is None:
        *most, last = (s.example for s in STORES)
        raise StoreURLError(f"unknown store URL {url!r}: use {', '.join(most)} or {last}")
    return store


def stores_help() -> str:
    """The stores part of `taskstate-server --help`: every store's URL shapes, aligned."""
    lines = []
    for store in STORES:
        for url, what in store.help:
            first, *more = what.split("\n")
            lines.append(f"  {url:<39} {first}")
            lines.extend(" " * 42 + line for line in more)
    return "\n".join(lines)
