"""MCP task wire shapes built from taskstate tasks, shared by the server and client sides.

Both task vocabularies are spelled here once: the tasks extension
`io.modelcontextprotocol/tasks` (2026-07-28, SEP-2663: flat `Task`, `DetailedTask`,
`CreateTaskResult`) and the 2025-11-25 task methods (SEP-1686: `Task` with `ttl`
and `pollInterval`). No SDK server imports, so an MCP client can use it too.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from taskstate_client import Task, TaskStatus

EXTENSION_ID = "io.modelcontextprotocol/tasks"
CLIENT_CAPABILITIES_META = "io.modelcontextprotocol/clientCapabilities"
RELATED_TASK_META = "io.modelcontextprotocol/related-task"
SUBSCRIPTION_ID_META = "io.modelcontextprotocol/subscriptionId"

INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
MISSING_CAPABILITY = -32021
"""Missing Required Client Capability (tasks.md, Capability Negotiation)."""

LEASE_EXPIRED_REASON = "LEASE_EXPIRED"


def tasks_capability_meta() -> dict[str, Any]:
    """The request `_meta` by which a client declares the tasks extension."""
    return {CLIENT_CAPABILITIES_META: {"extensions": {EXTENSION_ID: {}}}}


def missing_capability_data() -> dict[str, Any]:
    """The `data` of a -32021 error: the capability the client failed to declare."""
    return {"requiredCapabilities": {"extensions": {EXTENSION_ID: {}}}}


def declares_tasks(meta: Mapping[str, Any] | None) -> bool:
    """Whether a request's `_meta` declares the tasks extension (per request, not per session)."""
    if not meta:
        return False
    caps = meta.get(CLIENT_CAPABILITIES_META)
    if not isinstance(caps, Mapping):
        return False
    extensions = caps.get("extensions")
    return isinstance(extensions, Mapping) and EXTENSION_ID in extensions


def iso(dt: datetime) -> str:
    """ISO 8601 in UTC with a `Z`, to the millisecond (what `createdAt` and friends carry)."""
    return dt.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _ms(delta: timedelta | None) -> int | None:
    return None if delta is None else int(delta.total_seconds() * 1000)


def ttl_ms(task: Task) -> int | None:
    """`ttlMs`: null means unlimited, as a taskstate task without a ttl is."""
    return _ms(task.ttl)


def poll_ms(task: Task) -> int | None:
    return _ms(task.poll_interval)


def _task(task: Task, ttl_key: str, poll_key: str) -> dict[str, Any]:
    """The Task both vocabularies share; they differ in the ttl and poll interval names."""
    out: dict[str, Any] = {
        "taskId": task.task_id,
        "status": str(task.status),
        "createdAt": iso(task.create_time),
        "lastUpdatedAt": iso(task.update_time),
        ttl_key: ttl_ms(task),
    }
    if task.status_message:
        out["statusMessage"] = task.status_message
    poll = poll_ms(task)
    if poll is not None:
        out[poll_key] = poll
    return out


def task_fields(task: Task) -> dict[str, Any]:
    """The flat extension `Task` (tasks.md, Tasks): `ttlMs` (null = unlimited), `pollIntervalMs`."""
    return _task(task, "ttlMs", "pollIntervalMs")


def outstanding_input(task: Task) -> dict[str, Any]:
    """Input requests not answered yet: what `inputRequests` must list (tasks.md, Task Polling)."""
    return dict(task.outstanding_input)


def task_error(task: Task) -> dict[str, Any]:
    """The JSON-RPC error object of a failed task (a lease expiry becomes -32603)."""
    err = task.error
    if err is None:
        return {"code": INTERNAL_ERROR, "message": task.status_message or "task failed"}
    data = err.data
    if isinstance(data, Mapping) and data.get("reason") == LEASE_EXPIRED_REASON:
        # taskstate's own code 13 is a gRPC-ish number, not a JSON-RPC code.
        return {"code": INTERNAL_ERROR, "message": err.message, "data": dict(data)}
    return err.to_dict()


def detailed_task(task: Task) -> dict[str, Any]:
    """`DetailedTask`: the Task plus what its status carries (tasks.md, Task Status)."""
    out = task_fields(task)
    if task.status is TaskStatus.INPUT_REQUIRED:
        out["inputRequests"] = outstanding_input(task)
    elif task.status is TaskStatus.COMPLETED:
        out["result"] = task.result if isinstance(task.result, dict) else {}
    elif task.status is TaskStatus.FAILED:
        out["error"] = task_error(task)
    return out


def create_task_result(task: Task) -> dict[str, Any]:
    """`CreateTaskResult`: the flat Task with `resultType: "task"` (tasks.md, Task Creation)."""
    return {"resultType": "task", **task_fields(task)}


def legacy_task(task: Task) -> dict[str, Any]:
    """The 2025-11-25 `Task` (SEP-1686): `ttl` and `pollInterval` in milliseconds."""
    return _task(task, "ttl", "pollInterval")


def related_task_meta(task_id: str) -> dict[str, Any]:
    """`_meta` tying a 2025-11-25 result or message to its task."""
    return {RELATED_TASK_META: {"taskId": task_id}}


__all__ = [
    "CLIENT_CAPABILITIES_META",
    "EXTENSION_ID",
    "INTERNAL_ERROR",
    "INVALID_PARAMS",
    "MISSING_CAPABILITY",
    "RELATED_TASK_META",
    "SUBSCRIPTION_ID_META",
    "create_task_result",
    "declares_tasks",
    "detailed_task",
    "iso",
    "legacy_task",
    "missing_capability_data",
    "outstanding_input",
    "poll_ms",
    "related_task_meta",
    "task_error",
    "task_fields",
    "tasks_capability_meta",
    "ttl_ms",
]
