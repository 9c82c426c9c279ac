"""Domain errors -> ErrorInfo reasons (transport/errors.py): the proto's ErrorReason enum is the
one list of reasons, and the server's table covers it exactly."""

from __future__ import annotations

import grpc
import pytest
import taskstate_server.app  # noqa: F401  (loads every module that may define a domain error)
from google.rpc import error_details_pb2, status_pb2
from taskstate.v1.taskstate_pb2 import ErrorReason
from taskstate_server.domain import errors as e
from taskstate_server.transport.errors import STATUS, code_for, details_for, reason_for

# Never sent by the server as an RPC error: the zero value, the reason clients raise locally,
# and the reason a lease expiry writes into the failed task's error data.
NOT_FROM_THE_SERVER = {"ERROR_REASON_UNSPECIFIED", "VALUE_NOT_REPRESENTABLE", "LEASE_EXPIRED"}

ONE_OF_EACH: list[tuple[e.TaskStoreError, grpc.StatusCode, str]] = [
    (e.TaskNotFound("t1"), grpc.StatusCode.NOT_FOUND, "TASK_NOT_FOUND"),
    (e.VersionMismatch(1, 2), grpc.StatusCode.ABORTED, "VERSION_MISMATCH"),
    (e.InvalidTransition("no"), grpc.StatusCode.FAILED_PRECONDITION, "INVALID_TRANSITION"),
    (e.TaskTerminal("frozen"), grpc.StatusCode.FAILED_PRECONDITION, "TASK_TERMINAL"),
    (e.InvalidArgument("ttl", "bad"), grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT"),
    (e.QuotaExceeded("full"), grpc.StatusCode.RESOURCE_EXHAUSTED, "TASK_QUOTA_EXCEEDED"),
    (e.VariablesTooLarge("big"), grpc.StatusCode.RESOURCE_EXHAUSTED, "VARIABLES_TOO_LARGE"),
    (e.BackendUnavailable("down"), grpc.StatusCode.UNAVAILABLE, "BACKEND_UNAVAILABLE"),
    (e.LeaseLost("t1", 3, 4), grpc.StatusCode.FAILED_PRECONDITION, "LEASE_LOST"),
    (e.LeaseHeld("t1", 0), grpc.StatusCode.FAILED_PRECONDITION, "LEASE_HELD"),
    (e.FeedCompacted("old"), grpc.StatusCode.OUT_OF_RANGE, "FEED_COMPACTED"),
    (e.UnsupportedByStore("no"), grpc.StatusCode.UNIMPLEMENTED, "UNSUPPORTED_BY_STORE"),
]


def _subclasses(cls: type[e.TaskStoreError]) -> set[type[e.TaskStoreError]]:
    found = set(cls.__subclasses__())
    for sub in list(found):
        found |= _subclasses(sub)
    return found


def test_every_server_reason_is_produced_by_a_domain_error_and_vice_versa() -> None:
    produced = {ErrorReason.Name(reason) for _, reason in STATUS.values()}
    assert produced == set(ErrorReason.keys()) - NOT_FROM_THE_SERVER
    assert len(produced) == len(STATUS), "two domain errors share a reason"


def test_every_domain_error_class_has_a_status() -> None:
    unmapped = [
        cls
        for cls in _subclasses(e.TaskStoreError)
        if not any(base in STATUS for base in cls.__mro__)
    ]
    assert unmapped == []


@pytest.mark.parametrize(("exc", "code", "reason"), ONE_OF_EACH, ids=lambda v: type(v).__name__)
def test_code_and_reason_of_each_domain_error(
    exc: e.TaskStoreError, code: grpc.StatusCode, reason: str
) -> None:
    assert (code_for(exc), reason_for(exc)) == (code, reason)


def _error_info(exc: e.TaskStoreError) -> error_details_pb2.ErrorInfo:
    status = status_pb2.Status.FromString(details_for(code_for(exc), exc))
    info = error_details_pb2.ErrorInfo()
    assert status.details[0].Unpack(info)
    return info


def test_lease_lost_names_both_tokens() -> None:
    info = _error_info(e.LeaseLost("t1", 3, 4))
    assert dict(info.metadata) == {"fencing_token": "3", "current_fencing_token": "4"}
    assert "live lease has fencing token 4" in e.LeaseLost("t1", 3, 4).message
    nobody = e.LeaseLost("t1", 3, 0)
    assert _error_info(nobody).metadata["current_fencing_token"] == "0"
    assert "the task has no live lease" in nobody.message


@pytest.mark.parametrize(
    ("ms", "text"),
    [
        (0, "1970-01-01T00:00:00.000Z"),
        (1_796_292_001_500, "2026-12-03T10:00:01.500Z"),
        (1_796_292_001_007, "2026-12-03T10:00:01.007Z"),
    ],
)
def test_lease_held_says_when_the_lease_ends_in_rfc_3339(ms: int, text: str) -> None:
    info = _error_info(e.LeaseHeld("t1", ms))
    assert dict(info.metadata) == {"lease_expire_time": text}
    assert text in e.LeaseHeld("t1", ms).message
