"""Request building and call planning shared by the sync and async clients.

Everything here is I/O-free, so the two clients differ only in how they
send and sleep, and their behaviour cannot drift apart.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TypeAlias

from google.protobuf import field_mask_pb2
from taskstate.v1 import taskstate_pb2 as pb

from taskstate_client._convert import (
    coerce_status,
    lease_policy_to_proto,
    status_to_proto,
    statuses_to_proto,
    task_error_to_proto,
    task_from_proto,
    view_to_proto,
)
from taskstate_client._duration import Seconds, to_proto, to_seconds
from taskstate_client._json import JSON, fill_value_map, to_value
from taskstate_client._sentinel import MISSING, Missing
from taskstate_client.models import (
    TERMINAL_STATUSES,
    LeasePolicy,
    Task,
    TaskError,
    TaskStatus,
    TaskView,
)

StatusFilter: TypeAlias = Iterable[TaskStatus | str] | TaskStatus | str | None
"""Statuses to filter on: one status, several, or None for "no filter"."""

Variables: TypeAlias = Mapping[str, JSON]

DEFAULT_FAIL_CODE = -32000
"""JSON-RPC's first implementation-defined server error: a tool failure is not a protocol error."""


def create(
    *,
    ttl: Seconds | None,
    poll_interval: Seconds | None,
    request_method: str,
    variables: Variables | None,
    request_id: str | None,
    lease_policy: LeasePolicy | str | None = None,
    max_attempts: int = 0,
) -> pb.CreateTaskRequest:
    req = pb.CreateTaskRequest(
        request_method=request_method,
        request_id=request_id or "",
        lease_policy=lease_policy_to_proto(lease_policy),
        max_attempts=max_attempts,
    )
    if ttl is not None:
        req.ttl.CopyFrom(to_proto(ttl))
    if poll_interval is not None:
        req.poll_interval.CopyFrom(to_proto(poll_interval))
    if variables:
        fill_value_map(req.variables, variables)
    return req


def get(task_id: str) -> pb.GetTaskRequest:
    return pb.GetTaskRequest(task_id=task_id)


def cancel(task_id: str, message: str) -> pb.CancelTaskRequest:
    return pb.CancelTaskRequest(task_id=task_id, status_message=message)


def delete(task_id: str) -> pb.DeleteTaskRequest:
    return pb.DeleteTaskRequest(task_id=task_id)


def list_tasks(
    page_size: int, page_token: str, statuses: StatusFilter, view: TaskView | str
) -> pb.ListTasksRequest:
    return pb.ListTasksRequest(
        page_size=page_size,
        page_token=page_token,
        statuses=statuses_to_proto(statuses),
        view=view_to_proto(view),
    )


def update_status(
    task_id: str,
    status: TaskStatus | str,
    message: str,
    expected_version: int | None,
    fencing_token: int | None = None,
    input_requests: Variables | None = None,
) -> pb.UpdateTaskStatusRequest:
    req = pb.UpdateTaskStatusRequest(
        task_id=task_id, status=status_to_proto(status), status_message=message
    )
    if input_requests:
        fill_value_map(req.input_requests, input_requests, "input_requests")
    if expected_version is not None:
        req.expected_version = expected_version
    if fencing_token is not None:
        req.fencing_token = fencing_token
    return req


def set_variables(
    task_id: str,
    variables: Variables,
    expected_version: int | None,
    fencing_token: int | None = None,
) -> pb.SetVariablesRequest:
    req = pb.SetVariablesRequest(task_id=task_id)
    fill_value_map(req.variables, variables)
    if expected_version is not None:
        req.expected_version = expected_version
    if fencing_token is not None:
        req.fencing_token = fencing_token
    return req


def put_if_version(
    task_id: str,
    expected_version: int,
    *,
    status: TaskStatus | str | Missing = MISSING,
    status_message: str | Missing = MISSING,
    variables: Variables | Missing = MISSING,
    result: JSON | Missing = MISSING,
    error: TaskError | Missing | None = MISSING,
    ttl: Seconds | Missing | None = MISSING,
    poll_interval: Seconds | Missing | None = MISSING,
    fencing_token: int | None = None,
) -> pb.PutIfVersionRequest:
    """Only the fields given end up in the mask; a masked None clears that field."""
    new = pb.Task()
    paths: list[str] = []
    if status is not MISSING:
        new.status = status_to_proto(status)
        paths.append("status")
    if status_message is not MISSING:
        new.status_message = status_message
        paths.append("status_message")
    if variables is not MISSING:
        fill_value_map(new.variables, variables)
        paths.append("variables")
    if result is not MISSING:
        new.result.CopyFrom(to_value(result, "result"))
        paths.append("result")
    if error is not MISSING:
        if error is not None:
            new.error.CopyFrom(
                task_error_to_proto(
                    error.code, error.message, error.data, has_data=error.data is not None
                )
            )
        paths.append("error")
    if ttl is not MISSING:
        if ttl is not None:
            new.ttl.CopyFrom(to_proto(ttl))
        paths.append("ttl")
    if poll_interval is not MISSING:
        if poll_interval is not None:
            new.poll_interval.CopyFrom(to_proto(poll_interval))
        paths.append("poll_interval")
    if not paths:
        raise ValueError("put_if_version needs at least one field to write")
    req = pb.PutIfVersionRequest(
        task_id=task_id,
        expected_version=expected_version,
        task=new,
        update_mask=field_mask_pb2.FieldMask(paths=paths),
    )
    if fencing_token is not None:
        req.fencing_token = fencing_token
    return req


def complete(
    task_id: str,
    result: JSON | Missing,
    message: str,
    variables: Variables | None,
    expected_version: int | None,
    fencing_token: int | None = None,
) -> pb.CompleteTaskRequest:
    req = pb.CompleteTaskRequest(
        task_id=task_id, status=pb.TASK_STATUS_COMPLETED, status_message=message
    )
    if result is not MISSING:
        req.result.CopyFrom(to_value(result, "result"))
    return _finish(req, variables, expected_version, fencing_token)


def fail(
    task_id: str,
    message: str,
    code: int,
    data: JSON | Missing,
    status_message: str | None,
    result: JSON | Missing,
    variables: Variables | None,
    expected_version: int | None,
    fencing_token: int | None = None,
) -> pb.CompleteTaskRequest:
    req = pb.CompleteTaskRequest(
        task_id=task_id,
        status=pb.TASK_STATUS_FAILED,
        status_message=message if status_message is None else status_message,
        error=task_error_to_proto(code, message, data, has_data=data is not MISSING),
    )
    if result is not MISSING:
        req.result.CopyFrom(to_value(result, "result"))
    return _finish(req, variables, expected_version, fencing_token)


def _finish(
    req: pb.CompleteTaskRequest,
    variables: Variables | None,
    expected_version: int | None,
    fencing_token: int | None,
) -> pb.CompleteTaskRequest:
    if variables:
        fill_value_map(req.variables, variables)
    if expected_version is not None:
        req.expected_version = expected_version
    if fencing_token is not None:
        req.fencing_token = fencing_token
    return req


def provide_input(task_id: str, responses: Variables) -> pb.ProvideInputRequest:
    req = pb.ProvideInputRequest(task_id=task_id)
    fill_value_map(req.input_responses, responses, "input_responses")
    return req


def request_cancel(task_id: str) -> pb.RequestCancelRequest:
    return pb.RequestCancelRequest(task_id=task_id)


def watch(task_id: str, after_version: int) -> pb.WatchTaskRequest:
    return pb.WatchTaskRequest(task_id=task_id, after_version=after_version)


def watch_all(
    statuses: StatusFilter,
    view: TaskView | str,
    resume_cursor: str = "",
    all_events: bool = False,
) -> pb.WatchTasksRequest:
    return pb.WatchTasksRequest(
        statuses=statuses_to_proto(statuses),
        view=view_to_proto(view),
        resume_cursor=resume_cursor,
        all_events=all_events,
    )


def claim(
    task_id: str | None,
    worker_id: str,
    lease: Seconds | None,
    request_method: str | None,
    wait: Seconds | None,
) -> pb.ClaimTaskRequest:
    """By id, or (task_id None) the oldest claimable task, optionally waiting for one."""
    if not worker_id:
        raise ValueError("claim needs a worker_id")
    if task_id is not None and (request_method is not None or wait is not None):
        raise ValueError("request_method and wait only apply to a claim without task_id")
    req = pb.ClaimTaskRequest(task_id=task_id or "", worker_id=worker_id)
    if lease is not None:
        req.lease_duration.CopyFrom(to_proto(lease))
    if request_method is not None:
        req.request_method = request_method
    if wait is not None:
        req.wait_timeout.CopyFrom(to_proto(wait))
    return req


def claim_deadline(wait: Seconds | None, margin: float | None) -> float | None:
    """A waiting claim may take `wait` on the server: the deadline adds the usual margin."""
    if wait is None or margin is None:
        return margin
    return to_seconds(wait) + margin


def renew_lease(
    task_id: str, fencing_token: int, lease: Seconds | None, status_message: str | None
) -> pb.RenewLeaseRequest:
    req = pb.RenewLeaseRequest(task_id=task_id, fencing_token=fencing_token)
    if lease is not None:
        req.lease_duration.CopyFrom(to_proto(lease))
    if status_message is not None:
        req.status_message = status_message
    return req


UpdateFn: TypeAlias = Callable[[dict[str, JSON]], Mapping[str, JSON] | None]


def plan_update(
    task: Task,
    outcome: Mapping[str, JSON] | None,
    scratch: dict[str, JSON],
    fencing_token: int | None = None,
) -> pb.PutIfVersionRequest | None:
    """The CAS write for one update() attempt, or None when fn changed nothing."""
    new = dict(outcome) if outcome is not None else scratch
    if new == task.variables:
        return None
    return put_if_version(task.task_id, task.version, variables=new, fencing_token=fencing_token)


def scratch_copy(task: Task) -> dict[str, JSON]:
    """fn gets a deep copy, so mutating nested values cannot corrupt the Task it was read from."""
    return copy.deepcopy(task.variables)


# Long waits are split into chunks so that no single call outlives proxies'
# idle timeouts, and a server restart costs one chunk, not the whole wait.
_WAIT_CHUNK = 300.0


@dataclass
class WaitPlan:
    """The client side of WaitTask: a possibly unbounded wait made of bounded calls."""

    task_id: str
    targets: frozenset[TaskStatus]
    end: float | None
    margin: float

    @classmethod
    def start(
        cls,
        task_id: str,
        timeout: Seconds | None,
        statuses: StatusFilter,
        margin: float | None,
    ) -> WaitPlan:
        if statuses is None:
            targets = TERMINAL_STATUSES
        else:
            if isinstance(statuses, str):
                statuses = [statuses]
            targets = frozenset(coerce_status(s) for s in statuses) or TERMINAL_STATUSES
        end = None if timeout is None else time.monotonic() + max(0.0, to_seconds(timeout))
        return cls(task_id, targets, end, 10.0 if margin is None else margin)

    def next_call(self) -> tuple[pb.WaitTaskRequest, float]:
        """The request for the next chunk and the gRPC deadline for it."""
        remaining = math.inf if self.end is None else max(0.0, self.end - time.monotonic())
        chunk = min(remaining, _WAIT_CHUNK)
        req = pb.WaitTaskRequest(
            task_id=self.task_id,
            timeout=to_proto(chunk),
            statuses=statuses_to_proto(sorted(self.targets)),
        )
        return req, chunk + self.margin

    def finished(self, msg: pb.Task) -> Task | None:
        """The task to return, or None to keep waiting."""
        task = task_from_proto(msg)
        if task.status in self.targets or task.terminal:  # a terminal task never changes again
            return task
        if self.end is not None and time.monotonic() >= self.end:
            return task
        return None
