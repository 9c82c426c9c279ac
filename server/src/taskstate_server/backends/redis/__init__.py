"""The Redis store (`redis://`, `rediss://`): the `[redis]` extra; `backend` has the design."""

from .backend import DEFAULT_PREFIX, RedisBackend

__all__ = ["DEFAULT_PREFIX", "RedisBackend"]
