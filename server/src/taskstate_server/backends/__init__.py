"""Storage backends, chosen by store URL (docs/design.md §9.2)."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from .base import Backend, BackendError, BackendUnavailable, Change, Record

if TYPE_CHECKING:
    from .dynamodb import DynamoDBBackend
    from .redis import RedisBackend


class StoreURLError(ValueError):
    """The store URL names no backend we have, or is malformed."""


class MissingExtraError(StoreURLError):
    """The store URL is fine, but its libraries are an extra that is not installed.

    A base install (`pip install taskstate-server`) carries SQLite and memory only, so a
    Redis or DynamoDB user must learn which extra to add rather than read an ImportError.
    """


# The top-level modules each extra brings; a missing one of these means "install the extra",
# any other ModuleNotFoundError is a real bug and propagates as is.
_EXTRA_MODULES = {
    "redis": frozenset({"redis", "hiredis"}),
    "dynamodb": frozenset({"aioboto3", "aiobotocore", "botocore", "boto3", "aiohttp"}),
}


def _missing_extra(exc: ModuleNotFoundError, scheme: str, extra: str) -> MissingExtraError:
    top = (exc.name or "").partition(".")[0]
    if top not in _EXTRA_MODULES[extra]:
        raise exc
    return MissingExtraError(
        f"{scheme}:// stores need `pip install 'taskstate-server[{extra}]'` "
        f"(Python module {top!r} is not installed)"
    )


def load_redis_backend(scheme: str = "redis") -> type[RedisBackend]:
    """The Redis backend class, imported on first use: redis is the `[redis]` extra."""
    try:
        from .redis import RedisBackend
    except ModuleNotFoundError as exc:
        raise _missing_extra(exc, scheme, "redis") from exc
    return RedisBackend


def load_dynamodb_backend() -> type[DynamoDBBackend]:
    """The DynamoDB backend class, imported on first use: aioboto3 is the `[dynamodb]` extra."""
    try:
        from .dynamodb import DynamoDBBackend
    except ModuleNotFoundError as exc:
        raise _missing_extra(exc, "dynamodb", "dynamodb") from exc
    return DynamoDBBackend


def sqlite_path(url: str) -> str:
    """SQLAlchemy's convention: sqlite:///relative.db, sqlite:////absolute/path.db."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or len(url) == len(prefix):
        raise StoreURLError(
            f"bad SQLite URL {url!r}: use sqlite:///relative.db or sqlite:////absolute/path.db"
        )
    return url[len(prefix) :]


async def open_backend(url: str) -> Backend:
    scheme = urlsplit(url).scheme
    if scheme == "memory":
        from .memory import MemoryBackend

        return MemoryBackend()
    if scheme == "sqlite":
        from .sqlite import SqliteBackend

        # A server's database: one server per file (see SqliteBackend).
        return await SqliteBackend.open(sqlite_path(url), exclusive=True)
    if scheme in ("redis", "rediss"):
        return await load_redis_backend(scheme).open(url)
    if scheme == "dynamodb":
        return await load_dynamodb_backend().open(url)
    raise StoreURLError(
        f"unknown store URL {url!r}: use memory://, sqlite:///path.db, "
        "redis://host:port/db or dynamodb://table?region=..."
    )


__all__ = [
    "Backend",
    "BackendError",
    "BackendUnavailable",
    "Change",
    "MissingExtraError",
    "Record",
    "StoreURLError",
    "load_dynamodb_backend",
    "load_redis_backend",
    "open_backend",
]
