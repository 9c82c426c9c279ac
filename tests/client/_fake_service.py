"""An in-process grpc.aio server for a scripted fake of OUR TaskService (client unit tests)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import grpc
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status
from taskstate.v1 import taskstate_pb2_grpc as pb_grpc


@contextlib.asynccontextmanager
async def serving(service: pb_grpc.TaskServiceServicer) -> AsyncIterator[str]:
    """Serves `service` on a free loopback port; yields its address."""
    server = grpc.aio.server()
    pb_grpc.add_TaskServiceServicer_to_server(service, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        await server.stop(None)


def our_status(code: int, reason: str, message: str) -> Any:
    """A status carrying our ErrorInfo reason, as the real server sends it."""
    info = any_pb2.Any()
    info.Pack(error_details_pb2.ErrorInfo(reason=reason, domain="taskstate.dev"))
    return rpc_status.to_status(status_pb2.Status(code=code, message=message, details=[info]))
