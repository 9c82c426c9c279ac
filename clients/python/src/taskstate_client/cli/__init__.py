"""`taskstate`: the command-line face of the client, for shells, scripts and debugging.

One subcommand per RPC (create, get, list, status, set-var, put, complete,
fail, cancel, delete, wait, watch, watch-all, claim, renew). Errors go to stderr as
`error: CODE REASON: message`, so scripts can match on the reason.

Exit codes: 0 success; 1 the server refused the call or cannot be reached;
2 usage or input errors (nothing was sent); 3 `claim` found nothing, or `wait`
gave up before the task reached the wanted status; 130 interrupted.

Modules: _parser (options), _read/_write (commands), _args (argument types,
JSON from @FILE or stdin), _connect (TLS flags, connection hints), _output.
"""

from taskstate_client.cli._main import main
from taskstate_client.cli._parser import build_parser
from taskstate_client.cli._usage import (
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    EXIT_WAIT_TIMEOUT,
)

__all__ = [
    "EXIT_ERROR",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "EXIT_WAIT_TIMEOUT",
    "build_parser",
    "main",
]
