"""Typed errors, so callers catch what they can handle instead of parsing status codes.

Every error raised for a failed call is a `TaskStateError` carrying the gRPC
status code and, when the server sent one, the ErrorInfo reason and metadata
from docs/design.md §6. The subclass is picked by reason first and code
second, so an old server without details still maps to the right class.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import grpc
from taskstate.v1.taskstate_pb2 import ErrorReason

ERROR_DOMAIN = "taskstate.dev"


@dataclass(frozen=True, slots=True)
class FieldViolation:
    """One entry of a google.rpc.BadRequest: which request field was wrong, and why."""

    field: str
    description: str


class TaskStateError(Exception):
    """A call to the task service failed."""

    def __init__(
        self,
        message: str,
        *,
        code: grpc.StatusCode = grpc.StatusCode.UNKNOWN,
        reason: str | None = None,
        metadata: Mapping[str, str] | None = None,
        field_violations: Sequence[FieldViolation] = (),
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.reason = reason
        self.metadata: dict[str, str] = dict(metadata or {})
        self.field_violations: list[FieldViolation] = list(field_violations)

    def __str__(self) -> str:
        head = self.code.name if isinstance(self.code, grpc.StatusCode) else str(self.code)
        if self.reason:
            head = f"{head} {self.reason}"
        return f"{head}: {self.message}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only arguments defeat Exception's default pickling, and these
        # errors cross process boundaries (multiprocessing, concurrent.futures).
        return (
            _rebuild,
            (
                type(self),
                self.message,
                self.code,
                self.reason,
                self.metadata,
                self.field_violations,
            ),
        )


def _rebuild(
    cls: type[TaskStateError],
    message: str,
    code: grpc.StatusCode,
    reason: str | None,
    metadata: dict[str, str],
    field_violations: list[FieldViolation],
) -> TaskStateError:
    return cls(
        message,
        code=code,
        reason=reason,
        metadata=metadata,
        field_violations=field_violations,
    )


class TaskNotFoundError(TaskStateError):
    """Unknown, deleted, expired, or another owner's task (deliberately indistinguishable)."""


class VersionMismatchError(TaskStateError):
    """A compare-and-swap write lost: someone else wrote the task first."""

    @property
    def expected_version(self) -> int | None:
        return _int_or_none(self.metadata.get("expected_version"))

    @property
    def actual_version(self) -> int | None:
        return _int_or_none(self.metadata.get("actual_version"))


class FailedPreconditionError(TaskStateError):
    """The task is not in a state that allows this write."""


class InvalidTransitionError(FailedPreconditionError):
    """The state machine forbids moving from the current status to the requested one."""


class TaskTerminalError(FailedPreconditionError):
    """The task is completed, failed or cancelled, and therefore frozen."""


class LeaseLostError(FailedPreconditionError):
    """A fenced write or a renewal named a lease that is no longer the task's live lease.

    The worker no longer owns the task (another claimed it, the lease expired, or the
    task left `working`) and should stop working on it.
    """

    @property
    def fencing_token(self) -> int | None:
        return _int_or_none(self.metadata.get("fencing_token"))

    @property
    def current_fencing_token(self) -> int | None:
        """The token of the task's live lease; 0 when it has none."""
        return _int_or_none(self.metadata.get("current_fencing_token"))


class LeaseHeldError(FailedPreconditionError):
    """Another worker holds a live lease on the task."""

    @property
    def lease_expire_time(self) -> str | None:
        """When that lease ends unless renewed (RFC 3339), as the server sent it."""
        return self.metadata.get("lease_expire_time")


class InvalidArgumentError(TaskStateError):
    """The request itself is wrong; `field_violations` says where."""


class ValueNotRepresentableError(InvalidArgumentError, ValueError):
    """A JSON value the wire cannot carry exactly, refused locally before any call.

    An integer beyond ±(2**53-1) or a NaN/Infinity. `path` names the value
    (`variables.count`, `result.items[2]`). It is also a ValueError, as the
    client raised before this class existed.
    """

    REASON = ErrorReason.Name(ErrorReason.VALUE_NOT_REPRESENTABLE)

    def __init__(self, path: str, description: str) -> None:
        super().__init__(
            f"{path}: {description}",
            code=grpc.StatusCode.INVALID_ARGUMENT,
            reason=self.REASON,
            metadata={"path": path},
            field_violations=[FieldViolation(path, description)],
        )
        self.path = path
        self.description = description

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.path, self.description))


class ResourceExhaustedError(TaskStateError):
    """A server limit was hit."""


class QuotaExceededError(ResourceExhaustedError):
    """The owner already has the maximum number of active tasks."""


class VariablesTooLargeError(ResourceExhaustedError):
    """The write would push the serialized variables over the server's size cap."""


class FeedCompactedError(TaskStateError):
    """The resume cursor is older than the server keeps events for (OUT_OF_RANGE): list
    the tasks again and watch from the new cursor."""


class UnsupportedByStoreError(TaskStateError):
    """The server's store cannot serve the call (UNIMPLEMENTED), e.g. leases."""


class UnauthenticatedError(TaskStateError):
    """No token, or one the server does not know."""


class UnavailableError(TaskStateError):
    """The server or its backend cannot be reached; retrying later may succeed."""


class DeadlineExceededError(TaskStateError):
    """The call's deadline passed before the server answered."""


def _int_or_none(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


LEASE_EXPIRED = ErrorReason.Name(ErrorReason.LEASE_EXPIRED)
"""Never the reason of a call's error: the `reason` in the error data of a task that
failed because its lease expired."""

# Keyed by the reason strings, which are the names of the proto's ErrorReason values.
BY_REASON: dict[str, type[TaskStateError]] = {
    ErrorReason.Name(reason): cls
    for reason, cls in (
        (ErrorReason.TASK_NOT_FOUND, TaskNotFoundError),
        (ErrorReason.VERSION_MISMATCH, VersionMismatchError),
        (ErrorReason.INVALID_TRANSITION, InvalidTransitionError),
        (ErrorReason.TASK_TERMINAL, TaskTerminalError),
        (ErrorReason.INVALID_ARGUMENT, InvalidArgumentError),
        (ErrorReason.TASK_QUOTA_EXCEEDED, QuotaExceededError),
        (ErrorReason.VARIABLES_TOO_LARGE, VariablesTooLargeError),
        (ErrorReason.BACKEND_UNAVAILABLE, UnavailableError),
        (ErrorReason.LEASE_LOST, LeaseLostError),
        (ErrorReason.LEASE_HELD, LeaseHeldError),
        (ErrorReason.FEED_COMPACTED, FeedCompactedError),
        (ErrorReason.UNSUPPORTED_BY_STORE, UnsupportedByStoreError),
    )
}

BY_CODE: dict[grpc.StatusCode, type[TaskStateError]] = {
    grpc.StatusCode.NOT_FOUND: TaskNotFoundError,
    grpc.StatusCode.ABORTED: VersionMismatchError,
    grpc.StatusCode.FAILED_PRECONDITION: FailedPreconditionError,
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgumentError,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ResourceExhaustedError,
    grpc.StatusCode.UNAUTHENTICATED: UnauthenticatedError,
    grpc.StatusCode.UNAVAILABLE: UnavailableError,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceededError,
}
