"""Python client for taskstate, the durable task-state service for tool handlers.

    from taskstate_client import TaskClient

    with TaskClient() as client:                 # TASKSTATE_ADDRESS / TASKSTATE_TOKEN
        task = client.create(request_method="tools/call", ttl=600)
        client.update(task.task_id, lambda v: v.update(n=v.get("n", 0) + 1))
        done = client.wait(task.task_id, timeout=30)

AsyncTaskClient is the asyncio twin; TaskContext wraps one task for a tool
handler (ask() for input, cancel_requested for a requester's stop); a client
acting for an end user takes `subject=` or `with_subject()`; the `taskstate`
command line tool lives in taskstate_client.cli.
"""

from taskstate_client._async_client import AsyncTaskClient, AsyncTaskStream
from taskstate_client._duration import parse_duration
from taskstate_client._json import JSON
from taskstate_client._retry import RetryPolicy
from taskstate_client._sentinel import MISSING
from taskstate_client._sync_client import TaskClient, TaskStream
from taskstate_client._tls import TLSConfig
from taskstate_client._version import client_version
from taskstate_client.context import CancelRequestedError, SyncTaskContext, TaskContext
from taskstate_client.errors import (
    DeadlineExceededError,
    FailedPreconditionError,
    FeedCompactedError,
    FieldViolation,
    InvalidArgumentError,
    InvalidTransitionError,
    LeaseHeldError,
    LeaseLostError,
    QuotaExceededError,
    ResourceExhaustedError,
    TaskNotFoundError,
    TaskStateError,
    TaskTerminalError,
    UnauthenticatedError,
    UnavailableError,
    UnsupportedByStoreError,
    ValueNotRepresentableError,
    VariablesTooLargeError,
    VersionMismatchError,
)
from taskstate_client.models import (
    TERMINAL_STATUSES,
    EventKind,
    InputAccepted,
    Lease,
    LeasePolicy,
    Task,
    TaskError,
    TaskEvent,
    TaskPage,
    TaskStatus,
    TaskView,
)
from taskstate_client.sync_worker import LeasedSyncTaskContext, SyncWorker
from taskstate_client.worker import LeasedTaskContext, Worker

__version__ = client_version()

__all__ = [
    "JSON",
    "MISSING",
    "TERMINAL_STATUSES",
    "AsyncTaskClient",
    "AsyncTaskStream",
    "CancelRequestedError",
    "DeadlineExceededError",
    "EventKind",
    "FailedPreconditionError",
    "FeedCompactedError",
    "FieldViolation",
    "InputAccepted",
    "InvalidArgumentError",
    "InvalidTransitionError",
    "Lease",
    "LeaseHeldError",
    "LeaseLostError",
    "LeasePolicy",
    "LeasedSyncTaskContext",
    "LeasedTaskContext",
    "QuotaExceededError",
    "ResourceExhaustedError",
    "RetryPolicy",
    "SyncTaskContext",
    "SyncWorker",
    "TLSConfig",
    "Task",
    "TaskClient",
    "TaskContext",
    "TaskError",
    "TaskEvent",
    "TaskNotFoundError",
    "TaskPage",
    "TaskStateError",
    "TaskStatus",
    "TaskStream",
    "TaskTerminalError",
    "TaskView",
    "UnauthenticatedError",
    "UnavailableError",
    "UnsupportedByStoreError",
    "ValueNotRepresentableError",
    "VariablesTooLargeError",
    "VersionMismatchError",
    "Worker",
    "__version__",
    "parse_duration",
]
