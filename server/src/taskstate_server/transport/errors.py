"""Domain errors -> gRPC status codes with google.rpc rich details (docs/design.md §6).

The one place that knows both vocabularies: each domain error class maps to its status code
and to its ErrorInfo reason, a value of the proto's ErrorReason enum (the reason string is the
value's name), so the domain layer stays free of protobuf and no reason is spelled by hand.
"""

from __future__ import annotations

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from taskstate.v1.taskstate_pb2 import ErrorReason

from ..domain import errors as e

DOMAIN = "taskstate.dev"
DETAILS_KEY = "grpc-status-details-bin"

STATUS: dict[type[e.TaskStoreError], tuple[grpc.StatusCode, ErrorReason.ValueType]] = {
    e.TaskNotFound: (grpc.StatusCode.NOT_FOUND, ErrorReason.TASK_NOT_FOUND),
    e.VersionMismatch: (grpc.StatusCode.ABORTED, ErrorReason.VERSION_MISMATCH),
    e.InvalidTransition: (grpc.StatusCode.FAILED_PRECONDITION, ErrorReason.INVALID_TRANSITION),
    e.TaskTerminal: (grpc.StatusCode.FAILED_PRECONDITION, ErrorReason.TASK_TERMINAL),
    e.InvalidArgument: (grpc.StatusCode.INVALID_ARGUMENT, ErrorReason.INVALID_ARGUMENT),
    e.QuotaExceeded: (grpc.StatusCode.RESOURCE_EXHAUSTED, ErrorReason.TASK_QUOTA_EXCEEDED),
    e.VariablesTooLarge: (grpc.StatusCode.RESOURCE_EXHAUSTED, ErrorReason.VARIABLES_TOO_LARGE),
    e.BackendUnavailable: (grpc.StatusCode.UNAVAILABLE, ErrorReason.BACKEND_UNAVAILABLE),
    e.LeaseLost: (grpc.StatusCode.FAILED_PRECONDITION, ErrorReason.LEASE_LOST),
    e.LeaseHeld: (grpc.StatusCode.FAILED_PRECONDITION, ErrorReason.LEASE_HELD),
    e.FeedCompacted: (grpc.StatusCode.OUT_OF_RANGE, ErrorReason.FEED_COMPACTED),
    e.UnsupportedByStore: (grpc.StatusCode.UNIMPLEMENTED, ErrorReason.UNSUPPORTED_BY_STORE),
}
"""Domain error class -> (status code, ErrorInfo reason); subclasses inherit their base's."""


def _status(exc: e.TaskStoreError) -> tuple[grpc.StatusCode, ErrorReason.ValueType] | None:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return None


def code_for(exc: e.TaskStoreError) -> grpc.StatusCode:
    found = _status(exc)
    return found[0] if found else grpc.StatusCode.INTERNAL


def reason_for(exc: e.TaskStoreError) -> str:
    """The ErrorInfo reason clients see for `exc`, e.g. "TASK_NOT_FOUND"."""
    found = _status(exc)
    # An unmapped class is a bug (tests/unit/test_transport_errors.py guards the table).
    return ErrorReason.Name(found[1]) if found else grpc.StatusCode.INTERNAL.name


def details_for(code: grpc.StatusCode, exc: e.TaskStoreError) -> bytes:
    """The serialized google.rpc.Status carried in grpc-status-details-bin."""
    status = status_pb2.Status(code=_rpc_code(code), message=exc.message)
    info = error_details_pb2.ErrorInfo(reason=reason_for(exc), domain=DOMAIN, metadata=exc.metadata)
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
