"""Storage backends, chosen by store URL (DESIGN.md section 5)."""

from __future__ import annotations

from urllib.parse import urlsplit

from .base import Backend, BackendError, BackendUnavailable, Change, Record


class StoreURLError(ValueError):
    """The store URL names no backend we have, or is malformed."""


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
        from .redis import RedisBackend

        return await RedisBackend.open(url)
    if scheme == "dynamodb":
        from .dynamodb import DynamoDBBackend

        return await DynamoDBBackend.open(url)
    raise StoreURLError(
        f"unknown store URL {url!r}: use memory://, sqlite:///path.db, "
        "redis://host:port/db or dynamodb://table?region=..."
    )


__all__ = [
    "Backend",
    "BackendError",
    "BackendUnavailable",
    "Change",
    "Record",
    "StoreURLError",
    "open_backend",
]
