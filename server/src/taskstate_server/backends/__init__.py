"""Storage backends, chosen by store URL (docs/design.md §9.2).

`base` is the contract (the Backend protocol, its errors, `Feature` and `has_feature`); `stores`
is the table of stores; each store is a package (`memory`, `sqlite`, `redis`, `dynamodb`)
that only `stores` names.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from .base import (
    Backend,
    BackendError,
    Change,
    DatabaseUnavailable,
    Feature,
    Record,
    StoreURLError,
    has_feature,
)
from .stores import MissingExtraError, store_for_scheme


async def open_backend(url: str) -> Backend:
    """A ready backend on the store `url` names, opened as a server opens it."""
    scheme = urlsplit(url).scheme
    return await store_for_scheme(scheme, url).load(scheme).open_url(url)


__all__ = [
    "Backend",
    "BackendError",
    "Change",
    "DatabaseUnavailable",
    "Feature",
    "MissingExtraError",
    "Record",
    "StoreURLError",
    "has_feature",
    "open_backend",
]
