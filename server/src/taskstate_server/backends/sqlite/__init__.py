"""The SQLite store (`sqlite:///path.db`), in the base install: `backend` has the design,
`backup` the online copy behind `taskstate-server backup`, `file_lock` the one-server lock."""

from .backend import DatabaseInUse, SqliteBackend, lock_path, sqlite_path

__all__ = ["DatabaseInUse", "SqliteBackend", "lock_path", "sqlite_path"]
