"""The task as Python code wants to see it: plain, immutable, timezone-aware."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from taskstate_client._duration import format_duration
from taskstate_client._json import JSON


class TaskStatus(enum.StrEnum):
    """A task's status; the values are what MCP and the CLI spell."""

    WORKING = "working"
    INPUT_REQUIRED = "input_required"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        """Terminal tasks are frozen: they can be read, waited on and deleted, nothing else."""
        return self in TERMINAL_STATUSES


class TaskView(enum.StrEnum):
    """How much of each task list() and watch_all() return (AIP-157 partial responses).

    BASIC leaves out variables, result and error, so a dashboard or a worker
    scanning for work does not pull megabytes; FULL (the default) is everything.
    A BASIC task reads as if those fields were empty: get() the task for them.
    """

    BASIC = "basic"
    FULL = "full"


class LeasePolicy(enum.StrEnum):
    """What happens to a task whose lease ends without renewal (set at create).

    A task created without a policy is not offered to claim-next; a lease taken
    on it by id fails it on expiry, as FAIL does.
    """

    FAIL = "fail"
    RELEASE = "release"


TERMINAL_STATUSES: frozenset[TaskStatus] = frozenset(
    {TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED}
)


@dataclass(frozen=True, slots=True)
class TaskError:
    """Why a task failed, in the JSON-RPC error shape so MCP can pass it through."""

    code: int = 0
    message: str = ""
    data: JSON = None

    def to_dict(self) -> dict[str, JSON]:
        out: dict[str, JSON] = {"code": self.code, "message": self.message}
        if self.data is not None:
            out["data"] = self.data
        return out


@dataclass(frozen=True, slots=True)
class Lease:
    """A worker's hold on a task; writes carrying `fencing_token` succeed only while it lives."""

    worker_id: str
    fencing_token: int
    expire_time: datetime
    duration: timedelta

    def to_dict(self) -> dict[str, Any]:
        return {
            "worker_id": self.worker_id,
            "fencing_token": self.fencing_token,
            "expire_time": _rfc3339(self.expire_time),
            "duration": format_duration(self.duration),
        }


@dataclass(frozen=True, slots=True)
class Task:
    """One committed version of a task.

    `result` is None both when no result was set and when the result is JSON
    null; `has_result` tells the two apart.

    `subject` is the end user the task was created for ("" when none). A worker
    that needs answers puts them in `input_requests` (moving to input_required);
    the requester's answers land in `input_responses` under the same keys, once
    each; `outstanding_input` is what is still unanswered. `cancel_requested` is
    the requester asking the worker to stop: the task stays as it is until the
    worker cancels (or finishes) it.
    """

    task_id: str
    status: TaskStatus
    version: int
    create_time: datetime
    update_time: datetime
    status_message: str = ""
    request_method: str = ""
    ttl: timedelta | None = None
    expire_time: datetime | None = None
    poll_interval: timedelta | None = None
    variables: dict[str, JSON] = field(default_factory=dict)
    result: JSON = None
    has_result: bool = False
    error: TaskError | None = None
    lease: Lease | None = None
    lease_policy: LeasePolicy | None = None
    max_attempts: int = 0
    attempt: int = 0
    subject: str = ""
    input_requests: dict[str, JSON] = field(default_factory=dict)
    input_responses: dict[str, JSON] = field(default_factory=dict)
    cancel_requested: bool = False

    @property
    def terminal(self) -> bool:
        return self.status.terminal

    @property
    def outstanding_input(self) -> dict[str, JSON]:
        """The input requests without a response yet: what the requester still has to answer."""
        return {k: v for k, v in self.input_requests.items() if k not in self.input_responses}

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (proto JSON field names, RFC 3339 times, "1.5s" durations)."""
        out: dict[str, Any] = {
            "task_id": self.task_id,
            "status": self.status.value,
            "status_message": self.status_message,
            "request_method": self.request_method,
            "create_time": _rfc3339(self.create_time),
            "update_time": _rfc3339(self.update_time),
        }
        if self.ttl is not None:
            out["ttl"] = format_duration(self.ttl)
        if self.expire_time is not None:
            out["expire_time"] = _rfc3339(self.expire_time)
        if self.poll_interval is not None:
            out["poll_interval"] = format_duration(self.poll_interval)
        out["variables"] = self.variables
        if self.has_result:
            out["result"] = self.result
        if self.error is not None:
            out["error"] = self.error.to_dict()
        if self.lease is not None:
            out["lease"] = self.lease.to_dict()
        if self.lease_policy is not None:
            out["lease_policy"] = self.lease_policy.value
        if self.max_attempts:
            out["max_attempts"] = self.max_attempts
        if self.attempt:
            out["attempt"] = self.attempt
        if self.subject:
            out["subject"] = self.subject
        if self.input_requests:
            out["input_requests"] = self.input_requests
        if self.input_responses:
            out["input_responses"] = self.input_responses
        if self.cancel_requested:
            out["cancel_requested"] = True
        out["version"] = self.version
        return out


@dataclass(frozen=True, slots=True)
class InputAccepted:
    """What provide_input() did: the task after the call, and the keys it recorded (sorted).

    Keys without an outstanding request (never asked, or answered before) are left
    out: an answer is recorded once, so a retried or raced call cannot overwrite
    one. No key accepted means no write: `task` is the unchanged current version.
    """

    task: Task
    accepted_keys: list[str]


@dataclass(frozen=True, slots=True)
class TaskPage:
    """One page of `list`; pass `next_page_token` back to get the next ("" = last page).

    On a first page, `resume_cursor` is the feed position read before the page:
    watch_all(resume=True, cursor=...) from it after listing every page misses nothing.
    """

    tasks: list[Task]
    next_page_token: str
    resume_cursor: str = ""


class EventKind(enum.StrEnum):
    """What a watch_all event reports."""

    WRITE = "write"
    """A committed version: `task` is set."""
    DELETED = "deleted"
    """DeleteTask removed the task."""
    EXPIRED = "expired"
    """The task reached its expire_time and no longer exists."""
    PROGRESS = "progress"
    """No change, only a newer `cursor`: seen on a plain stream's events() only (a resuming
    watch_all moves its cursor and yields nothing)."""
    RESET = "reset"
    """Client-side: the feed was compacted past our cursor; forget every task, a WRITE per
    current task follows (a fresh listing), then the feed continues."""


@dataclass(frozen=True, slots=True)
class TaskEvent:
    """One event of watch_all(resume=True) or of a plain stream's events(); `cursor` resumes
    right after it ("" only from a server whose store keeps no event log)."""

    kind: EventKind
    task_id: str
    task: Task | None
    cursor: str
    version: int = 0
    """The task's version: for DELETED/EXPIRED the last one the store knew (0 if none)."""


def _rfc3339(when: datetime) -> str:
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")
