"""Typed errors from grpc-status-details-bin, built without a server."""

from __future__ import annotations

import pickle
from typing import Any

import grpc
import pytest
import taskstate_client as tc
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2
from taskstate.v1.taskstate_pb2 import ErrorReason
from taskstate_client._errors import error_from_parts, error_from_rpc
from taskstate_client.errors import BY_REASON, LEASE_EXPIRED


def _details(
    code: grpc.StatusCode,
    message: str,
    *,
    reason: str | None = None,
    metadata: dict[str, str] | None = None,
    violations: list[tuple[str, str]] | None = None,
    domain: str = "taskstate.dev",
) -> list[tuple[str, str | bytes]]:
    status = status_pb2.Status(code=code.value[0], message=message)
    if reason is not None:
        info = error_details_pb2.ErrorInfo(reason=reason, domain=domain, metadata=metadata or {})
        packed = any_pb2.Any()
        packed.Pack(info)
        status.details.append(packed)
    if violations:
        bad = error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(field=f, description=d)
                for f, d in violations
            ]
        )
        packed = any_pb2.Any()
        packed.Pack(bad)
        status.details.append(packed)
    return [("some-header", "x"), ("grpc-status-details-bin", status.SerializeToString())]


CASES = [
    (grpc.StatusCode.NOT_FOUND, "TASK_NOT_FOUND", tc.TaskNotFoundError),
    (grpc.StatusCode.ABORTED, "VERSION_MISMATCH", tc.VersionMismatchError),
    (grpc.StatusCode.FAILED_PRECONDITION, "INVALID_TRANSITION", tc.InvalidTransitionError),
    (grpc.StatusCode.FAILED_PRECONDITION, "TASK_TERMINAL", tc.TaskTerminalError),
    (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT", tc.InvalidArgumentError),
    (grpc.StatusCode.RESOURCE_EXHAUSTED, "TASK_QUOTA_EXCEEDED", tc.QuotaExceededError),
    (grpc.StatusCode.RESOURCE_EXHAUSTED, "VARIABLES_TOO_LARGE", tc.VariablesTooLargeError),
    (grpc.StatusCode.UNAVAILABLE, "BACKEND_UNAVAILABLE", tc.UnavailableError),
    (grpc.StatusCode.FAILED_PRECONDITION, "LEASE_LOST", tc.LeaseLostError),
    (grpc.StatusCode.FAILED_PRECONDITION, "LEASE_HELD", tc.LeaseHeldError),
    (grpc.StatusCode.OUT_OF_RANGE, "FEED_COMPACTED", tc.FeedCompactedError),
    (grpc.StatusCode.UNIMPLEMENTED, "UNSUPPORTED_BY_STORE", tc.UnsupportedByStoreError),
]


@pytest.mark.parametrize(("code", "reason", "cls"), CASES, ids=lambda c: getattr(c, "name", c))
def test_reason_picks_the_class(
    code: grpc.StatusCode, reason: str, cls: type[tc.TaskStateError]
) -> None:
    err = error_from_parts(code, "grpc message", _details(code, "rich message", reason=reason))
    assert type(err) is cls
    assert isinstance(err, tc.TaskStateError)
    assert err.code == code
    assert err.reason == reason
    assert err.message == "rich message"
    assert str(err) == f"{code.name} {reason}: rich message"


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        (grpc.StatusCode.NOT_FOUND, tc.TaskNotFoundError),
        (grpc.StatusCode.ABORTED, tc.VersionMismatchError),
        (grpc.StatusCode.FAILED_PRECONDITION, tc.FailedPreconditionError),
        (grpc.StatusCode.INVALID_ARGUMENT, tc.InvalidArgumentError),
        (grpc.StatusCode.RESOURCE_EXHAUSTED, tc.ResourceExhaustedError),
        (grpc.StatusCode.UNAUTHENTICATED, tc.UnauthenticatedError),
        (grpc.StatusCode.UNAVAILABLE, tc.UnavailableError),
        (grpc.StatusCode.DEADLINE_EXCEEDED, tc.DeadlineExceededError),
        (grpc.StatusCode.INTERNAL, tc.TaskStateError),
    ],
)
def test_code_alone_picks_the_class(code: grpc.StatusCode, cls: type[tc.TaskStateError]) -> None:
    err = error_from_parts(code, "plain", None)
    assert type(err) is cls
    assert err.reason is None
    assert err.metadata == {}
    assert err.field_violations == []
    assert str(err) == f"{code.name}: plain"


def test_version_mismatch_metadata() -> None:
    code = grpc.StatusCode.ABORTED
    trailers = _details(
        code,
        "expected 3, at 5",
        reason="VERSION_MISMATCH",
        metadata={"expected_version": "3", "actual_version": "5"},
    )
    err = error_from_parts(code, "expected 3, at 5", trailers)
    assert isinstance(err, tc.VersionMismatchError)
    assert err.expected_version == 3
    assert err.actual_version == 5
    assert err.metadata == {"expected_version": "3", "actual_version": "5"}


def test_field_violations() -> None:
    code = grpc.StatusCode.INVALID_ARGUMENT
    trailers = _details(
        code,
        "ttl: too long",
        reason="INVALID_ARGUMENT",
        violations=[("ttl", "too long"), ("variables.x", "too deep")],
    )
    err = error_from_parts(code, "ttl: too long", trailers)
    assert isinstance(err, tc.InvalidArgumentError)
    assert err.field_violations == [
        tc.FieldViolation("ttl", "too long"),
        tc.FieldViolation("variables.x", "too deep"),
    ]


def test_foreign_domain_does_not_override_ours() -> None:
    code = grpc.StatusCode.NOT_FOUND
    ours = _details(code, "m", reason="TASK_NOT_FOUND")[1][1]
    theirs = _details(code, "m", reason="SOMETHING_ELSE", domain="proxy.example")[1][1]
    assert isinstance(ours, bytes) and isinstance(theirs, bytes)
    status = status_pb2.Status.FromString(ours)
    status.details.extend(status_pb2.Status.FromString(theirs).details)
    err = error_from_parts(code, "m", [("grpc-status-details-bin", status.SerializeToString())])
    assert err.reason == "TASK_NOT_FOUND"


def test_garbage_details_fall_back_to_the_code() -> None:
    code = grpc.StatusCode.NOT_FOUND
    err = error_from_parts(code, "m", [("grpc-status-details-bin", b"\xff\xff\xff")])
    assert type(err) is tc.TaskNotFoundError
    assert err.message == "m"


class _FakeCall(grpc.RpcError):  # type: ignore[misc]
    def __init__(self, code: grpc.StatusCode, details: str, trailers: Any) -> None:
        self._code, self._details, self._trailers = code, details, trailers

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details

    def trailing_metadata(self) -> Any:
        return self._trailers


def test_error_from_rpc_reads_the_call() -> None:
    code = grpc.StatusCode.FAILED_PRECONDITION
    err = error_from_rpc(
        _FakeCall(code, "frozen", _details(code, "frozen", reason="TASK_TERMINAL"))
    )
    assert isinstance(err, tc.TaskTerminalError)
    assert isinstance(err, tc.FailedPreconditionError)


def test_error_from_rpc_without_call_accessors() -> None:
    err = error_from_rpc(grpc.RpcError("channel closed"))
    assert type(err) is tc.TaskStateError
    assert err.code == grpc.StatusCode.UNKNOWN


def test_errors_pickle_across_processes() -> None:
    code = grpc.StatusCode.ABORTED
    err = error_from_parts(
        code,
        "m",
        _details(
            code,
            "m",
            reason="VERSION_MISMATCH",
            metadata={"expected_version": "1", "actual_version": "2"},
        ),
    )
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is tc.VersionMismatchError
    assert (back.code, back.reason, back.message) == (err.code, err.reason, err.message)
    assert back.actual_version == 2


def test_the_client_knows_every_reason_of_the_proto_and_no_other() -> None:
    known = {*BY_REASON, tc.ValueNotRepresentableError.REASON, LEASE_EXPIRED}
    assert known == set(ErrorReason.keys()) - {"ERROR_REASON_UNSPECIFIED"}
    assert tc.ValueNotRepresentableError.REASON == "VALUE_NOT_REPRESENTABLE"
    assert LEASE_EXPIRED == "LEASE_EXPIRED"


def test_lease_errors_read_their_metadata() -> None:
    code = grpc.StatusCode.FAILED_PRECONDITION
    meta = {"fencing_token": "3", "current_fencing_token": "0"}
    lost = error_from_parts(code, "m", _details(code, "m", reason="LEASE_LOST", metadata=meta))
    assert isinstance(lost, tc.LeaseLostError)
    assert isinstance(lost, tc.FailedPreconditionError)
    assert (lost.fencing_token, lost.current_fencing_token) == (3, 0)
    meta = {"lease_expire_time": "2026-12-03T10:00:01.500Z"}
    held = error_from_parts(code, "m", _details(code, "m", reason="LEASE_HELD", metadata=meta))
    assert isinstance(held, tc.LeaseHeldError)
    assert held.lease_expire_time == "2026-12-03T10:00:01.500Z"
