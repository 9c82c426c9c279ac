"""Domain errors: what went wrong, in the vocabulary of DESIGN.md section 4.

The transport maps each class to one gRPC status code and ErrorInfo reason;
nothing here knows about gRPC.
"""

from __future__ import annotations

from dataclasses import dataclass


class TaskStoreError(Exception):
    """Base class; `reason` is the ErrorInfo reason the transport reports."""

    reason: str = "INTERNAL"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    @property
    def metadata(self) -> dict[str, str]:
        return {}


class TaskNotFound(TaskStoreError):
    reason = "TASK_NOT_FOUND"

    def __init__(self, task_id: str) -> None:
        # Same message whether missing, expired, deleted or another owner's.
        super().__init__(f"task {task_id} not found")
        self.task_id = task_id


class VersionMismatch(TaskStoreError):
    reason = "VERSION_MISMATCH"

    def __init__(self, expected: int, actual: int) -> None:
        super().__init__(f"expected version {expected}, but the task is at version {actual}")
        self.expected = expected
        self.actual = actual

    @property
    def metadata(self) -> dict[str, str]:
        return {"expected_version": str(self.expected), "actual_version": str(self.actual)}


class InvalidTransition(TaskStoreError):
    reason = "INVALID_TRANSITION"


class TaskTerminal(TaskStoreError):
    reason = "TASK_TERMINAL"


@dataclass(frozen=True, slots=True)
class FieldViolation:
    field: str
    description: str


class InvalidArgument(TaskStoreError):
    reason = "INVALID_ARGUMENT"

    def __init__(self, field_name: str, description: str) -> None:
        super().__init__(f"{field_name}: {description}")
        self.violations = [FieldViolation(field_name, description)]


class QuotaExceeded(TaskStoreError):
    reason = "TASK_QUOTA_EXCEEDED"


class VariablesTooLarge(TaskStoreError):
    reason = "VARIABLES_TOO_LARGE"


class BackendUnavailable(TaskStoreError):
    reason = "BACKEND_UNAVAILABLE"
