"""Domain errors: what went wrong, in the vocabulary of docs/design.md §6.

The transport maps each class to one gRPC status code and ErrorInfo reason
(transport/errors.py, from the proto's ErrorReason enum); nothing here knows
about gRPC or protobuf.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from .describe import FLAG_MAX_ACTIVE_TASKS

MAX_MESSAGE_BYTES = 768
MAX_FIELD_BYTES = 256
MAX_DESCRIPTION_BYTES = 512
"""An error travels in gRPC trailers (the message percent-encoded, the details in
base64), which clients cap at 8 KiB by default: an error much longer would turn a
clear answer into a transport failure. Messages quote client input only through
`describe`, which clips it; these caps (UTF-8 bytes) are the backstop."""


def _bounded(text: str, max_bytes: int) -> str:
    data = text.encode("utf-8", "replace")
    if len(data) <= max_bytes:
        return text
    return data[: max_bytes - 3].decode("utf-8", "ignore") + "\u2026"


class TaskStoreError(Exception):
    """Base class of every error a client is meant to see; the class says which one."""

    def __init__(self, message: str) -> None:
        message = _bounded(message, MAX_MESSAGE_BYTES)
        super().__init__(message)
        self.message = message

    @property
    def metadata(self) -> dict[str, str]:
        return {}


class TaskNotFound(TaskStoreError):
    def __init__(self, task_id: str) -> None:
        # Same message whether missing, expired, deleted or another owner's.
        super().__init__(f"task {task_id} not found")
        self.task_id = task_id


class VersionMismatch(TaskStoreError):
    def __init__(self, expected: int, actual: int) -> None:
        super().__init__(f"expected version {expected}, but the task is at version {actual}")
        self.expected = expected
        self.actual = actual

    @property
    def metadata(self) -> dict[str, str]:
        return {"expected_version": str(self.expected), "actual_version": str(self.actual)}


class InvalidTransition(TaskStoreError):
    """The state machine forbids moving from the current status to the requested one."""


class TaskTerminal(TaskStoreError):
    """The task is completed, failed or cancelled, and therefore frozen."""


@dataclass(frozen=True, slots=True)
class FieldViolation:
    field: str
    description: str


class InvalidArgument(TaskStoreError):
    def __init__(self, field_name: str, description: str) -> None:
        super().__init__(f"{field_name}: {description}")
        self.violations = [
            FieldViolation(
                _bounded(field_name, MAX_FIELD_BYTES), _bounded(description, MAX_DESCRIPTION_BYTES)
            )
        ]


class QuotaExceeded(TaskStoreError):
    def __init__(self, message: str) -> None:
        # Says which knob sets the quota and how to get under it, wherever it is raised.
        super().__init__(
            f"{message} (the server's {FLAG_MAX_ACTIVE_TASKS}); complete, cancel or delete "
            "one to make room"
        )


class VariablesTooLarge(TaskStoreError):
    """Variables, a string or the whole task would be over a size limit."""


class BackendUnavailable(TaskStoreError):
    """The store cannot be reached; the same call may succeed later."""


class LeaseLost(TaskStoreError):
    """A fenced write or a renewal named a lease that is no longer the task's live lease.

    The metadata tells the worker which lease it named and which one is live (0: none),
    so it can tell "someone else took over" from "nobody holds it any more".
    """

    def __init__(self, task_id: str, fencing_token: int, current_fencing_token: int) -> None:
        now = (
            f"the task's live lease has fencing token {current_fencing_token}"
            if current_fencing_token
            else "the task has no live lease"
        )
        super().__init__(f"task {task_id}: the lease of fencing token {fencing_token} ended; {now}")
        self.fencing_token = fencing_token
        self.current_fencing_token = current_fencing_token

    @property
    def metadata(self) -> dict[str, str]:
        return {
            "fencing_token": str(self.fencing_token),
            "current_fencing_token": str(self.current_fencing_token),
        }


class LeaseHeld(TaskStoreError):
    """A claim met another worker's live lease; the metadata says when it ends unless renewed."""

    def __init__(self, task_id: str, lease_expire_time_ms: int) -> None:
        self.lease_expire_time = rfc3339(lease_expire_time_ms)
        super().__init__(
            f"task {task_id} is leased by another worker until {self.lease_expire_time} "
            "(unless renewed)"
        )

    @property
    def metadata(self) -> dict[str, str]:
        return {"lease_expire_time": self.lease_expire_time}


class FeedCompacted(TaskStoreError):
    """A resume cursor older than the events the store keeps, or of another database: the
    client lists the tasks again and watches from the new cursor."""


class UnsupportedByStore(TaskStoreError):
    """The call needs a store feature (leases, a resumable feed) this server's store lacks."""


def rfc3339(ms: int) -> str:
    """Unix milliseconds as RFC 3339 in UTC with milliseconds, e.g. 2026-12-03T10:00:01.500Z."""
    seconds, millis = divmod(ms, 1000)
    moment = datetime.fromtimestamp(seconds, UTC).replace(microsecond=millis * 1000)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
