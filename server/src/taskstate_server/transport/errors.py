"""Domain errors -> gRPC status codes with google.rpc rich details (DESIGN.md section 4)."""

from __future__ import annotations

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2

from ..domain import errors as e

DOMAIN = "taskstate.dev"
DETAILS_KEY = "grpc-status-details-bin"

_CODES: dict[type[e.TaskStoreError], grpc.StatusCode] = {
    e.TaskNotFound: grpc.StatusCode.NOT_FOUND,
    e.VersionMismatch: grpc.StatusCode.ABORTED,
    e.InvalidTransition: grpc.StatusCode.FAILED_PRECONDITION,
    e.TaskTerminal: grpc.StatusCode.FAILED_PRECONDITION,
    e.InvalidArgument: grpc.StatusCode.INVALID_ARGUMENT,
    e.QuotaExceeded: grpc.StatusCode.RESOURCE_EXHAUSTED,
    e.VariablesTooLarge: grpc.StatusCode.RESOURCE_EXHAUSTED,
    e.BackendUnavailable: grpc.StatusCode.UNAVAILABLE,
}


def code_for(exc: e.TaskStoreError) -> grpc.StatusCode:
    for cls in type(exc).__mro__:
        if cls in _CODES:
            return _CODES[cls]
    return grpc.StatusCode.INTERNAL


def details_for(code: grpc.StatusCode, exc: e.TaskStoreError) -> bytes:
    """The serialized google.rpc.Status carried in grpc-status-details-bin."""
    status = status_pb2.Status(code=_rpc_code(code), message=exc.message)
    info = error_details_pb2.ErrorInfo(reason=exc.reason, domain=DOMAIN, metadata=exc.metadata)
    packed = any_pb2.Any()
    packed.Pack(info)
    status.details.append(packed)
    if isinstance(exc, e.InvalidArgument):
        bad = error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(
                    field=v.field, description=v.description
                )
                for v in exc.violations
            ]
        )
        packed = any_pb2.Any()
        packed.Pack(bad)
        status.details.append(packed)
    data: bytes = status.SerializeToString()
    return data


def _rpc_code(code: grpc.StatusCode) -> int:
    value: int = code.value[0]
    assert code_pb2.Code.Name(value)
    return value
