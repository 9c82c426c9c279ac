"""Proto <-> model conversion, kept apart so the models stay free of protobuf."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from google.protobuf import timestamp_pb2
from taskstate.v1 import taskstate_pb2 as pb

from taskstate_client._json import JSON, from_value, from_value_map, to_value
from taskstate_client.models import Lease, LeasePolicy, Task, TaskError, TaskStatus, TaskView

_TO_PROTO: dict[TaskStatus, pb.TaskStatus.ValueType] = {
    TaskStatus.WORKING: pb.TASK_STATUS_WORKING,
    TaskStatus.INPUT_REQUIRED: pb.TASK_STATUS_INPUT_REQUIRED,
    TaskStatus.COMPLETED: pb.TASK_STATUS_COMPLETED,
    TaskStatus.FAILED: pb.TASK_STATUS_FAILED,
    TaskStatus.CANCELLED: pb.TASK_STATUS_CANCELLED,
}
_FROM_PROTO = {v: k for k, v in _TO_PROTO.items()}


def coerce_status(status: TaskStatus | str) -> TaskStatus:
    """Accepts "working", "WORKING" and "TASK_STATUS_WORKING": all three occur in the wild."""
    if isinstance(status, TaskStatus):
        return status
    name = status.strip().lower().removeprefix("task_status_")
    try:
        return TaskStatus(name)
    except ValueError:
        choices = ", ".join(s.value for s in TaskStatus)
        raise ValueError(f"unknown task status {status!r} (one of {choices})") from None


def status_to_proto(status: TaskStatus | str) -> pb.TaskStatus.ValueType:
    return _TO_PROTO[coerce_status(status)]


def statuses_to_proto(
    statuses: Iterable[TaskStatus | str] | TaskStatus | str | None,
) -> list[pb.TaskStatus.ValueType]:
    if statuses is None:
        return []
    if isinstance(statuses, str):  # TaskStatus is a str too; a lone status is a common slip
        statuses = [statuses]
    return [status_to_proto(s) for s in statuses]


_VIEWS: dict[TaskView, pb.TaskView.ValueType] = {
    TaskView.BASIC: pb.TASK_VIEW_BASIC,
    TaskView.FULL: pb.TASK_VIEW_FULL,
}


def coerce_view(view: TaskView | str) -> TaskView:
    """Accepts TaskView.BASIC, "basic", "BASIC" and "TASK_VIEW_BASIC", like statuses."""
    if isinstance(view, TaskView):
        return view
    try:
        return TaskView(view.strip().lower().removeprefix("task_view_"))
    except ValueError:
        choices = ", ".join(v.value for v in TaskView)
        raise ValueError(f"unknown task view {view!r} (one of {choices})") from None


def view_to_proto(view: TaskView | str) -> pb.TaskView.ValueType:
    return _VIEWS[coerce_view(view)]


_POLICIES: dict[LeasePolicy, pb.LeasePolicy.ValueType] = {
    LeasePolicy.FAIL: pb.LEASE_POLICY_FAIL,
    LeasePolicy.RELEASE: pb.LEASE_POLICY_RELEASE,
}
_POLICY_FROM_PROTO = {v: k for k, v in _POLICIES.items()}


def lease_policy_to_proto(policy: LeasePolicy | str | None) -> pb.LeasePolicy.ValueType:
    """Accepts LeasePolicy.FAIL, "fail", "FAIL" and "LEASE_POLICY_FAIL"; None is unspecified."""
    if policy is None:
        return pb.LEASE_POLICY_UNSPECIFIED
    if not isinstance(policy, LeasePolicy):
        try:
            policy = LeasePolicy(policy.strip().lower().removeprefix("lease_policy_"))
        except ValueError:
            choices = ", ".join(p.value for p in LeasePolicy)
            raise ValueError(f"unknown lease policy {policy!r} (one of {choices})") from None
    return _POLICIES[policy]


def status_from_proto(status: pb.TaskStatus.ValueType) -> TaskStatus:
    try:
        return _FROM_PROTO[status]
    except KeyError:
        raise ValueError(f"server sent an unknown task status {status}") from None


def _time(ts: timestamp_pb2.Timestamp) -> datetime:
    return ts.ToDatetime(tzinfo=UTC)


def lease_from_proto(msg: pb.Lease) -> Lease:
    return Lease(
        worker_id=msg.worker_id,
        fencing_token=msg.fencing_token,
        expire_time=_time(msg.expire_time),
        duration=msg.duration.ToTimedelta(),
    )


def task_from_proto(msg: pb.Task) -> Task:
    error = None
    if msg.HasField("error"):
        error = TaskError(
            code=msg.error.code,
            message=msg.error.message,
            data=from_value(msg.error.data) if msg.error.HasField("data") else None,
        )
    return Task(
        task_id=msg.task_id,
        status=status_from_proto(msg.status),
        version=msg.version,
        create_time=_time(msg.create_time),
        update_time=_time(msg.update_time),
        status_message=msg.status_message,
        request_method=msg.request_method,
        ttl=msg.ttl.ToTimedelta() if msg.HasField("ttl") else None,
        expire_time=_time(msg.expire_time) if msg.HasField("expire_time") else None,
        poll_interval=msg.poll_interval.ToTimedelta() if msg.HasField("poll_interval") else None,
        variables=from_value_map(msg.variables.items()),
        result=from_value(msg.result) if msg.HasField("result") else None,
        has_result=msg.HasField("result"),
        error=error,
        lease=lease_from_proto(msg.lease) if msg.HasField("lease") else None,
        # An unknown (newer) policy reads as None rather than failing the whole read.
        lease_policy=_POLICY_FROM_PROTO.get(msg.lease_policy),
        max_attempts=msg.max_attempts,
        attempt=msg.attempt,
        subject=msg.subject,
        input_requests=from_value_map(msg.input_requests.items()),
        input_responses=from_value_map(msg.input_responses.items()),
        cancel_requested=msg.cancel_requested,
    )


def task_error_to_proto(code: int, message: str, data: JSON, *, has_data: bool) -> pb.TaskError:
    err = pb.TaskError(code=code, message=message)
    if has_data:
        err.data.CopyFrom(to_value(data, "error.data"))
    return err
