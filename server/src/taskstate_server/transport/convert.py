"""Proto <-> domain conversion. Malformed input becomes InvalidArgument here,
before the domain sees it; nothing here decides domain rules."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from google.protobuf import duration_pb2, struct_pb2, timestamp_pb2
from taskstate.v1 import taskstate_pb2 as pb

from ..domain import describe
from ..domain.errors import InvalidArgument
from ..domain.model import (
    JSON,
    UNSET,
    Lease,
    LeasePolicy,
    Task,
    TaskError,
    TaskPatch,
    TaskStatus,
    _Unset,
)
from ..domain.watch import FeedKind, FeedMessage

_PAIRS: tuple[tuple[pb.TaskStatus.ValueType, TaskStatus], ...] = (
    (pb.TASK_STATUS_WORKING, TaskStatus.WORKING),
    (pb.TASK_STATUS_INPUT_REQUIRED, TaskStatus.INPUT_REQUIRED),
    (pb.TASK_STATUS_COMPLETED, TaskStatus.COMPLETED),
    (pb.TASK_STATUS_FAILED, TaskStatus.FAILED),
    (pb.TASK_STATUS_CANCELLED, TaskStatus.CANCELLED),
)
_TO_DOMAIN: dict[int, TaskStatus] = {int(k): v for k, v in _PAIRS}
_TO_PROTO: dict[TaskStatus, pb.TaskStatus.ValueType] = {v: k for k, v in _PAIRS}
_POLICIES: dict[LeasePolicy, pb.LeasePolicy.ValueType] = {
    LeasePolicy.UNSPECIFIED: pb.LEASE_POLICY_UNSPECIFIED,
    LeasePolicy.FAIL: pb.LEASE_POLICY_FAIL,
    LeasePolicy.RELEASE: pb.LEASE_POLICY_RELEASE,
}
_POLICIES_IN: dict[int, LeasePolicy] = {int(v): k for k, v in _POLICIES.items()}
_MAX_DURATION_SECONDS = 315_576_000_000


def status_in(field: str, value: int) -> TaskStatus | None:
    """None for TASK_STATUS_UNSPECIFIED; unknown numbers are rejected."""
    if value == pb.TASK_STATUS_UNSPECIFIED:
        return None
    try:
        return _TO_DOMAIN[value]
    except KeyError:
        raise InvalidArgument(field, f"unknown TaskStatus value {value}") from None


def statuses_in(field: str, values: Iterable[int]) -> frozenset[TaskStatus]:
    out = set()
    for v in values:
        s = status_in(field, v)
        if s is None:
            raise InvalidArgument(field, "TASK_STATUS_UNSPECIFIED is not a status")
        out.add(s)
    return frozenset(out)


def lease_policy_in(field: str, value: int) -> LeasePolicy:
    """Unknown numbers are rejected: a policy the server does not know cannot be applied."""
    try:
        return _POLICIES_IN[value]
    except KeyError:
        raise InvalidArgument(field, f"unknown LeasePolicy value {value}") from None


def duration_ms(field: str, d: duration_pb2.Duration) -> int:
    """Whole milliseconds, rounding a positive remainder up so a tiny ttl stays > 0."""
    if abs(d.seconds) > _MAX_DURATION_SECONDS:
        raise InvalidArgument(
            field,
            f"is not a valid Duration: seconds must be within +-{_MAX_DURATION_SECONDS} "
            "(10,000 years)",
        )
    if abs(d.nanos) >= 1_000_000_000:
        raise InvalidArgument(field, "is not a valid Duration: nanos must be within +-999999999")
    if (d.seconds > 0 and d.nanos < 0) or (d.seconds < 0 and d.nanos > 0):
        raise InvalidArgument(field, "is not a valid Duration (mixed signs)")
    total_ns = d.seconds * 1_000_000_000 + d.nanos
    return -((-total_ns) // 1_000_000)


def duration_s(field: str, d: duration_pb2.Duration) -> float:
    return duration_ms(field, d) / 1000


def value_in(field: str, v: struct_pb2.Value) -> JSON:
    """A Value as JSON; `field` is the request field, used to name a bad number's path.

    Recursion is bounded by protobuf's own nesting limit, enforced when the
    request was parsed (see handlers.py); the domain then applies max_depth.
    """
    return _ValueReader(field).read(v)


class _ValueReader:
    """Converts one Value, keeping the path to where it is for the error message."""

    def __init__(self, root: str, parts: list[describe.PathPart] | None = None) -> None:
        self.root = root
        self.parts: list[describe.PathPart] = parts or []

    def read(self, v: struct_pb2.Value) -> JSON:
        kind = v.WhichOneof("kind")
        if kind is None or kind == "null_value":
            return None
        if kind == "bool_value":
            return v.bool_value
        if kind == "string_value":
            return v.string_value
        if kind == "number_value":
            n = v.number_value
            if n != n or n in (float("inf"), float("-inf")):
                path = describe.json_path(self.root, self.parts)
                raise InvalidArgument(path, f"numbers must be finite, not {n}")
            return n
        if kind == "list_value":
            return [self.child(i, item) for i, item in enumerate(v.list_value.values)]
        return {k: self.child(k, item) for k, item in v.struct_value.fields.items()}

    def child(self, part: describe.PathPart, v: struct_pb2.Value) -> JSON:
        self.parts.append(part)
        try:
            return self.read(v)
        finally:
            self.parts.pop()


def variables_in(field: str, m: Mapping[str, struct_pb2.Value]) -> dict[str, JSON]:
    return {k: _ValueReader(field, [k]).read(v) for k, v in m.items()}


def value_out(value: JSON, out: struct_pb2.Value) -> None:
    if value is None:
        out.null_value = struct_pb2.NULL_VALUE
    elif isinstance(value, bool):
        out.bool_value = value
    elif isinstance(value, int | float):
        out.number_value = float(value)
    elif isinstance(value, str):
        out.string_value = value
    elif isinstance(value, list):
        lv = out.list_value
        lv.SetInParent()
        for item in value:
            value_out(item, lv.values.add())
    else:
        sv = out.struct_value
        sv.SetInParent()
        for k, item in value.items():
            value_out(item, sv.fields[k])


def error_in(field: str, e: pb.TaskError) -> TaskError:
    data: JSON | _Unset = value_in(f"{field}.data", e.data) if e.HasField("data") else UNSET
    return TaskError(code=e.code, message=e.message, data=data)


def result_in(field: str, holder: pb.CompleteTaskRequest | pb.Task) -> JSON | _Unset:
    return value_in(field, holder.result) if holder.HasField("result") else UNSET


def _timestamp(ms: int) -> timestamp_pb2.Timestamp:
    return timestamp_pb2.Timestamp(seconds=ms // 1000, nanos=(ms % 1000) * 1_000_000)


def _duration(ms: int) -> duration_pb2.Duration:
    return duration_pb2.Duration(seconds=ms // 1000, nanos=(ms % 1000) * 1_000_000)


def view_in(field: str, value: int) -> pb.TaskView.ValueType:
    """TASK_VIEW_UNSPECIFIED is TASK_VIEW_FULL (AIP-157); unknown numbers are rejected."""
    if value == pb.TASK_VIEW_UNSPECIFIED:
        return pb.TASK_VIEW_FULL
    if value not in pb.TaskView.values():
        raise InvalidArgument(field, f"unknown TaskView value {value}")
    return pb.TaskView.ValueType(value)


def task_out(task: Task, view: pb.TaskView.ValueType = pb.TASK_VIEW_FULL) -> pb.Task:
    """The task as sent; TASK_VIEW_BASIC leaves out variables, input requests and
    responses, result and error."""
    msg = pb.Task(
        task_id=task.task_id,
        status=_TO_PROTO[task.status],
        status_message=task.status_message,
        request_method=task.request_method,
        create_time=_timestamp(task.create_time_ms),
        update_time=_timestamp(task.update_time_ms),
        poll_interval=_duration(task.poll_interval_ms),
        version=task.version,
    )
    if task.ttl_ms is not None:
        msg.ttl.CopyFrom(_duration(task.ttl_ms))
    if task.expire_time_ms is not None:
        msg.expire_time.CopyFrom(_timestamp(task.expire_time_ms))
    if task.lease is not None:
        msg.lease.CopyFrom(lease_out(task.lease))
    # Small, and what a worker scanning for work needs: in every view.
    msg.lease_policy = _POLICIES[task.lease_policy]
    msg.max_attempts = task.max_attempts
    msg.attempt = task.attempt
    msg.subject = task.subject
    msg.cancel_requested = task.cancel_requested
    if view != pb.TASK_VIEW_BASIC:
        _payload_out(task, msg)
    return msg


def lease_out(lease: Lease) -> pb.Lease:
    """The lease as sent; its token is the fencing token a worker's writes name."""
    return pb.Lease(
        worker_id=lease.worker_id,
        fencing_token=lease.token,
        expire_time=_timestamp(lease.expire_time_ms),
        duration=_duration(lease.duration_ms),
    )


def _payload_out(task: Task, msg: pb.Task) -> None:
    """The fields TASK_VIEW_BASIC leaves out: they are what makes a task large."""
    for k, v in task.variables.items():
        value_out(v, msg.variables[k])
    for k, v in task.input_requests.items():
        value_out(v, msg.input_requests[k])
    for k, v in task.input_responses.items():
        value_out(v, msg.input_responses[k])
    if task.result is not UNSET:
        value_out(task.result, msg.result)
    if task.error is not None:
        msg.error.code = task.error.code
        msg.error.message = task.error.message
        if task.error.data is not UNSET:
            value_out(task.error.data, msg.error.data)


def patch_in(request: pb.PutIfVersionRequest) -> TaskPatch:
    """Converts only the masked fields: unmasked ones are ignored, even if malformed."""
    t = request.task
    mask = frozenset(request.update_mask.paths)
    return TaskPatch(
        mask=mask,
        status=status_in("task.status", t.status) if "status" in mask else None,
        status_message=t.status_message,
        variables=variables_in("task.variables", t.variables) if "variables" in mask else {},
        result=result_in("task.result", t) if "result" in mask else UNSET,
        error=error_in("task.error", t.error) if "error" in mask and t.HasField("error") else None,
        ttl_ms=duration_ms("task.ttl", t.ttl) if "ttl" in mask and t.HasField("ttl") else None,
        poll_interval_ms=(
            duration_ms("task.poll_interval", t.poll_interval)
            if "poll_interval" in mask and t.HasField("poll_interval")
            else None
        ),
    )


_KINDS: dict[FeedKind, pb.WatchEventKind.ValueType] = {
    FeedKind.WRITE: pb.WATCH_EVENT_KIND_WRITE,
    FeedKind.DELETED: pb.WATCH_EVENT_KIND_DELETED,
    FeedKind.EXPIRED: pb.WATCH_EVENT_KIND_EXPIRED,
    FeedKind.PROGRESS: pb.WATCH_EVENT_KIND_PROGRESS,
}


def watch_message_out(
    message: FeedMessage, view: pb.TaskView.ValueType = pb.TASK_VIEW_FULL
) -> pb.WatchTasksResponse:
    """One WatchTasks message: its kind, task id, version and cursor; the task on a WRITE."""
    out = pb.WatchTasksResponse(
        kind=_KINDS[message.kind],
        task_id=message.task_id,
        resume_cursor=message.cursor,
        version=message.version,
    )
    if message.task is not None:
        out.task.CopyFrom(task_out(message.task, view))
    return out
