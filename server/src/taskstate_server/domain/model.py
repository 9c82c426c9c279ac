"""The task as the domain sees it: plain data, JSON values, integer milliseconds."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, TypeAlias

JSON: TypeAlias = Any
"""A JSON value: None, bool, int, float, str, list of JSON, dict of str to JSON."""


class TaskStatus(enum.Enum):
    WORKING = "working"
    INPUT_REQUIRED = "input_required"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL_STATUSES


TERMINAL_STATUSES = frozenset({TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED})


class _Unset(enum.Enum):
    UNSET = "UNSET"

    def __repr__(self) -> str:
        return "UNSET"


UNSET = _Unset.UNSET
"""Marks an absent optional value where None (JSON null) is a real value."""


@dataclass(frozen=True, slots=True)
class TaskError:
    code: int = 0
    message: str = ""
    data: JSON | _Unset = UNSET


class LeasePolicy(enum.Enum):
    """What happens to a task whose lease ends without renewal (docs/design.md §4.10)."""

    UNSPECIFIED = "unspecified"
    """Not offered to ClaimTask-next; a lease taken by id expires as FAIL."""
    FAIL = "fail"
    """The task fails with reason LEASE_EXPIRED."""
    RELEASE = "release"
    """Back to unclaimed `working` with attempt + 1; FAIL once attempt = max_attempts."""


@dataclass(frozen=True, slots=True)
class Lease:
    """A worker's hold on a task, recorded in the task while it lasts."""

    worker_id: str
    token: int
    """The fencing token: the task's lease epoch when this lease was granted."""
    expire_time_ms: int
    duration_ms: int


@dataclass(frozen=True, slots=True)
class Task:
    """One version of a task. Times are Unix milliseconds, durations milliseconds."""

    task_id: str
    owner: str
    status: TaskStatus
    version: int
    create_time_ms: int
    update_time_ms: int
    status_message: str = ""
    request_method: str = ""
    ttl_ms: int | None = None
    expire_time_ms: int | None = None
    poll_interval_ms: int = 1000
    variables: dict[str, JSON] = field(default_factory=dict)
    result: JSON | _Unset = UNSET
    error: TaskError | None = None
    request_id: str | None = None
    lease: Lease | None = None
    lease_epoch: int = 0
    """The last fencing token handed out; only grows, also after the lease ends."""
    lease_policy: LeasePolicy = LeasePolicy.UNSPECIFIED
    max_attempts: int = 0
    """0 unless lease_policy is RELEASE."""
    attempt: int = 1
    """1 at create, + 1 per release."""
    subject: str = ""
    """The end user the task belongs to (the CreateTask's subject); "" for none."""
    input_requests: dict[str, JSON] = field(default_factory=dict)
    """Requests by key, unique over the task's lifetime (domain/inputs.py)."""
    input_responses: dict[str, JSON] = field(default_factory=dict)
    """Answers by the key of their request; never overwritten."""
    cancel_requested: bool = False
    """RequestCancel was called: the requester wants the work stopped."""

    @property
    def outstanding_input(self) -> list[str]:
        """Keys of requests without a response, sorted."""
        return sorted(k for k in self.input_requests if k not in self.input_responses)


@dataclass(frozen=True, slots=True)
class Limits:
    """Server limits (docs/design.md §7); all durations in milliseconds."""

    default_ttl_ms: int = 3_600_000
    max_ttl_ms: int = 86_400_000
    default_poll_interval_ms: int = 1000
    max_active_tasks: int = 100
    max_variables_bytes: int = 1 << 20
    max_depth: int = 10
    max_string_bytes: int | None = None
    """UTF-8 bytes of one string; None means "as large as max_variables_bytes"."""
    max_key_bytes: int = 256
    default_lease_ms: int = 30_000
    """A ClaimTask without lease_duration gets this lease."""
    max_lease_ms: int = 3_600_000
    default_max_attempts: int = 3
    """max_attempts of a LEASE_POLICY_RELEASE task created without one."""
    feed_retention_ms: int = 3_600_000
    """How long the event log keeps entries: WatchTasks resumes from cursors this recent."""

    @property
    def string_bytes(self) -> int:
        """The string limit in force: a string may fill the variables cap unless told otherwise.

        Resolved here, not when the Limits are built, so a store that lowers
        max_variables_bytes (DynamoDB's item size) lowers the default string limit too.
        """
        if self.max_string_bytes is None:
            return self.max_variables_bytes
        return self.max_string_bytes


PATCH_FIELDS = frozenset(
    {"status", "status_message", "variables", "result", "error", "ttl", "poll_interval"}
)


@dataclass(frozen=True, slots=True)
class TaskPatch:
    """What a PutIfVersion writes: exactly the fields named in `mask`.

    A masked field takes the value here, unset included: `result=UNSET` clears
    the result, `error=None` the error, `ttl_ms=None` makes the task never
    expire (docs/design.md §4.4: ttl unset = never expires), `poll_interval_ms=None`
    restores the default, and `status=None` is an error (a masked status is required).
    """

    mask: frozenset[str]
    status: TaskStatus | None = None
    status_message: str = ""
    variables: dict[str, JSON] = field(default_factory=dict)
    result: JSON | _Unset = UNSET
    error: TaskError | None = None
    ttl_ms: int | None = None
    poll_interval_ms: int | None = None


@dataclass(frozen=True, slots=True)
class Page:
    tasks: list[Task]
    next_page_token: str
    resume_cursor: str = ""
    """First page on a store with an event log: the feed position read before the page."""
