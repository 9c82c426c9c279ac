"""Exit codes and the usage error, shared by every command module."""

from __future__ import annotations

EXIT_OK = 0
EXIT_ERROR = 1
"""The server refused the call, or could not be reached."""
EXIT_USAGE = 2
"""Bad arguments or input, refused locally before any call."""
EXIT_WAIT_TIMEOUT = 3
"""`wait` gave up before the task reached the wanted status."""
EXIT_INTERRUPTED = 130
"""Ctrl-C (128 + SIGINT, as shells report it)."""

EXIT_CODES_HELP = (
    "Exit codes: 0 ok; 1 the server refused the call or cannot be reached; 2 usage or\n"
    "input error (nothing was sent); 3 wait timed out or claim found nothing; 130 interrupted."
)


class UsageError(Exception):
    """A combination of arguments argparse cannot express; reported like argparse's own."""
