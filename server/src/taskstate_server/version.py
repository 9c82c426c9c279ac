"""The server's version, for `--version` and the start-up log line."""

from __future__ import annotations

from importlib import metadata

DISTRIBUTION = "taskstate-server"
UNKNOWN = "0+unknown"


def server_version() -> str:
    """The installed distribution's version; a source tree that was never installed
    (PYTHONPATH=server/src) has no metadata, and says so rather than failing."""
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return UNKNOWN
