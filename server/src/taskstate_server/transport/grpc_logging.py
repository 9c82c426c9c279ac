"""Keeps gRPC's log free of tracebacks for responses a client did not take.

When a client ends a call while the server is still sending the response (most
often because the response is over the client's receive limit: 4 MiB by default),
grpc.aio logs an ERROR with an `ExecuteBatchError` traceback. Nothing failed on the
server (the write was committed; only the reply was refused), so that becomes one
INFO line naming the method.
"""

from __future__ import annotations

import logging

log = logging.getLogger("taskstate.server")

GRPC_LOGGER = "grpc._cython.cygrpc"


class UndeliveredResponseFilter(logging.Filter):
    """Replaces grpc.aio's ExecuteBatchError traceback with one line."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc_type = record.exc_info[0] if record.exc_info else None
        if exc_type is None or exc_type.__name__ != "ExecuteBatchError":
            return True
        args = record.args if isinstance(record.args, tuple) else ()
        method = args[0] if args else "a call"
        log.info(
            "%s: the response was not delivered, the client had ended the call "
            "(clients end it on a response over their receive limit, 4 MiB by default)",
            method,
        )
        return False


def quiet_undelivered_responses() -> None:
    """Installs the filter on grpc's logger (once, however often it is called)."""
    grpc_log = logging.getLogger(GRPC_LOGGER)
    if not any(isinstance(f, UndeliveredResponseFilter) for f in grpc_log.filters):
        grpc_log.addFilter(UndeliveredResponseFilter())
