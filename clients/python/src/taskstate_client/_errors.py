"""Turns grpc.RpcError (sync or aio) into the typed errors of `errors`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import grpc
from google.protobuf.message import DecodeError
from google.rpc import error_details_pb2, status_pb2

from taskstate_client.errors import (
    BY_CODE,
    BY_REASON,
    ERROR_DOMAIN,
    FieldViolation,
    TaskStateError,
)

_DETAILS_KEY = "grpc-status-details-bin"


def error_from_parts(
    code: grpc.StatusCode,
    message: str,
    trailing_metadata: Iterable[tuple[str, str | bytes]] | None,
) -> TaskStateError:
    """Builds the typed error; split from `error_from_rpc` so tests need no live call."""
    reason: str | None = None
    metadata: dict[str, str] = {}
    violations: list[FieldViolation] = []
    status = _status_details(trailing_metadata)
    if status is not None:
        message = status.message or message
        for detail in status.details:
            if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                info = error_details_pb2.ErrorInfo()
                detail.Unpack(info)
                # Only our domain's reasons select a subclass; a proxy's
                # ErrorInfo must not be mistaken for ours.
                if info.domain == ERROR_DOMAIN or reason is None:
                    reason = info.reason or None
                    metadata = dict(info.metadata)
            elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                bad = error_details_pb2.BadRequest()
                detail.Unpack(bad)
                violations.extend(
                    FieldViolation(v.field, v.description) for v in bad.field_violations
                )
    cls = (BY_REASON.get(reason) if reason else None) or BY_CODE.get(code, TaskStateError)
    return cls(
        message,
        code=code,
        reason=reason,
        metadata=metadata,
        field_violations=violations,
    )


def error_from_rpc(exc: grpc.RpcError) -> TaskStateError:
    """Works for both grpc.Call errors and grpc.aio.AioRpcError (same accessors)."""
    call: Any = exc
    try:
        code = call.code()
        message = call.details() or ""
        trailers = call.trailing_metadata()
    except AttributeError:  # an RpcError that is not a call (rare; channel-level)
        return TaskStateError(str(exc), code=grpc.StatusCode.UNKNOWN)
    if not isinstance(code, grpc.StatusCode):
        code = grpc.StatusCode.UNKNOWN
    return error_from_parts(code, message, trailers)


def _status_details(
    trailing_metadata: Iterable[tuple[str, str | bytes]] | None,
) -> status_pb2.Status | None:
    if trailing_metadata is None:
        return None
    for key, value in trailing_metadata:
        if key == _DETAILS_KEY and isinstance(value, bytes):
            status = status_pb2.Status()
            try:
                status.ParseFromString(value)
            except DecodeError:
                return None
            return status
    return None
