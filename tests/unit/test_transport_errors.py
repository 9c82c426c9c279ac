"""Domain errors -> ErrorInfo reasons (transport/errors.py): the proto's ErrorReason enum is the
one list of reasons, and the server's table covers it exactly."""

from __future__ import annotations

import grpc
import pytest
import taskstate_server.app  # noqa: F401  (loads every module that may define a domain error)
from taskstate.v1.taskstate_pb2 import ErrorReason
from taskstate_server.domain import errors as e
from taskstate_server.transport.errors import STATUS, code_for, reason_for

# Never sent by the server: the zero value, and the reason clients raise locally.
NOT_FROM_THE_SERVER = {"ERROR_REASON_UNSPECIFIED", "VALUE_NOT_REPRESENTABLE"}

ONE_OF_EACH: list[tuple[e.TaskStoreError, grpc.StatusCode, str]] = [
    (e.TaskNotFound("t1"), grpc.StatusCode.NOT_FOUND, "TASK_NOT_FOUND"),
    (e.VersionMismatch(1, 2), grpc.StatusCode.ABORTED, "VERSION_MISMATCH"),
    (e.InvalidTransition("no"), grpc.StatusCode.FAILED_PRECONDITION, "INVALID_TRANSITION"),
    (e.TaskTerminal("frozen"), grpc.StatusCode.FAILED_PRECONDITION, "TASK_TERMINAL"),
    (e.InvalidArgument("ttl", "bad"), grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT"),
    (e.QuotaExceeded("full"), grpc.StatusCode.RESOURCE_EXHAUSTED, "TASK_QUOTA_EXCEEDED"),
    (e.VariablesTooLarge("big"), grpc.StatusCode.RESOURCE_EXHAUSTED, "VARIABLES_TOO_LARGE"),
    (e.BackendUnavailable("down"), grpc.StatusCode.UNAVAILABLE, "BACKEND_UNAVAILABLE"),
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
