"""The installed package's version, for `taskstate --version`, __version__ and the user agent."""

from __future__ import annotations

from importlib import metadata

DISTRIBUTION = "taskstate-client"
FALLBACK_VERSION = "0.0.0+unknown"
"""Used when the package runs from a source tree without being installed (no metadata)."""


def client_version() -> str:
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return FALLBACK_VERSION
