"""Registers TaskServicer with grpc.aio around three cross-cutting concerns.

1. Parsing: requests are deserialized here, not by grpc, so bytes that are not
   a valid message (or nest deeper than protobuf allows) become
   INVALID_ARGUMENT instead of grpc's INTERNAL.
2. Authentication: the owner comes from the bearer token, never the request.
3. Errors: domain errors become status codes with ErrorInfo details; anything
   unexpected is logged and reported as INTERNAL (a bug, by definition).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, NoReturn

import grpc
from google.protobuf.message import Message
from taskstate.v1 import taskstate_pb2 as pb

from ..domain import validation
from ..domain.errors import InvalidArgument, TaskStoreError
from .auth import Authenticator, AuthError
from .errors import DETAILS_KEY, code_for, details_for
from .servicer import Call, Draining, TaskServicer

log = logging.getLogger("taskstate.server")

SERVICE = pb.DESCRIPTOR.services_by_name["TaskService"]
SUBJECT_KEY = "taskstate-subject"


class _Unparsable:
    """Stands in for a request whose bytes could not be parsed."""

    def __init__(self, reason: str) -> None:
        self.reason = reason


def _deserializer(cls: type[Message]) -> Callable[[bytes], Message | _Unparsable]:
    def parse(data: bytes) -> Message | _Unparsable:
        try:
            return cls.FromString(data)
        except Exception as exc:  # DecodeError, recursion limit, anything protobuf raises
            return _Unparsable(str(exc) or type(exc).__name__)

    return parse


async def _abort(context: grpc.aio.ServicerContext, exc: Exception) -> NoReturn:
    if isinstance(exc, AuthError):
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, str(exc))
    if isinstance(exc, Draining):
        await context.abort(grpc.StatusCode.UNAVAILABLE, "the server is shutting down; reconnect")
    if isinstance(exc, TaskStoreError):
        code = code_for(exc)
        await context.abort(
            code, exc.message, trailing_metadata=((DETAILS_KEY, details_for(code, exc)),)
        )
    log.exception("unexpected error (a bug)", exc_info=exc)
    await context.abort(grpc.StatusCode.INTERNAL, "internal error")
    raise AssertionError("unreachable")


class _Guard:
    """Turns a servicer method into a grpc handler: parse, authenticate, map errors."""

    def __init__(self, auth: Authenticator) -> None:
        self.auth = auth

    def _call(self, request: object, context: grpc.aio.ServicerContext) -> Call:
        if isinstance(request, _Unparsable):
            raise InvalidArgument("request", f"is not a valid message: {request.reason}")
        metadata = context.invocation_metadata()
        owner = self.auth.owner(metadata)
        subject = subject_of(metadata)

        async def send_headers() -> None:
            await context.send_initial_metadata(())

        return Call(
            owner=owner,
            time_remaining=context.time_remaining(),
            send_headers=send_headers,
            subject=subject,
        )

    def unary(
        self, impl: Callable[[Any, Call], Awaitable[Message]]
    ) -> Callable[[Any, grpc.aio.ServicerContext], Awaitable[Message]]:
        async def handle(request: Any, context: grpc.aio.ServicerContext) -> Message:
            try:
                return await impl(request, self._call(request, context))
            except Exception as exc:
                if _is_abort(exc):
                    raise
                await _abort(context, exc)

        return handle

    def stream(
        self, impl: Callable[[Any, Call], AsyncIterator[Message]]
    ) -> Callable[[Any, grpc.aio.ServicerContext], AsyncIterator[Message]]:
        async def handle(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Message]:
            try:
                async for message in impl(request, self._call(request, context)):
                    yield message
            except Exception as exc:
                if _is_abort(exc):
                    raise
                await _abort(context, exc)

        return handle


def subject_of(metadata: Sequence[tuple[str, str | bytes]] | None) -> str | None:
    """The call's `taskstate-subject`, checked; None when the call has none. Sent twice,
    or present but empty, it is INVALID_ARGUMENT: a scope must never be guessed."""
    values = [v for k, v in metadata or () if k.lower() == SUBJECT_KEY]
    if not values:
        return None
    if len(values) > 1:
        raise InvalidArgument(SUBJECT_KEY, "must be sent at most once")
    value = values[0]
    if isinstance(value, bytes):
        try:
            value = value.decode("ascii")
        except UnicodeDecodeError:
            raise InvalidArgument(SUBJECT_KEY, "must be printable ASCII") from None
    validation.check_subject(value)
    return value


def _is_abort(exc: Exception) -> bool:
    # grpc.aio raises its own AbortError out of context.abort(); let it through.
    return type(exc).__name__ == "AbortError"


def task_service_handler(servicer: TaskServicer, auth: Authenticator) -> grpc.GenericRpcHandler:
    guard = _Guard(auth)
    handlers: dict[str, grpc.RpcMethodHandler] = {}
    for method in SERVICE.methods:
        impl = getattr(servicer, method.name)
        request_cls = getattr(pb, method.input_type.name)
        response_cls = getattr(pb, method.output_type.name)
        if method.server_streaming:
            handlers[method.name] = grpc.unary_stream_rpc_method_handler(
                guard.stream(impl),
                request_deserializer=_deserializer(request_cls),
                response_serializer=response_cls.SerializeToString,
            )
        else:
            handlers[method.name] = grpc.unary_unary_rpc_method_handler(
                guard.unary(impl),
                request_deserializer=_deserializer(request_cls),
                response_serializer=response_cls.SerializeToString,
            )
    return grpc.method_handlers_generic_handler(SERVICE.full_name, handlers)
