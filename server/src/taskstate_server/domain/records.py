"""Canonical JSON records: the one serialization of a task, shared by all backends.

Sorted keys, no insignificant whitespace, raw UTF-8, integral numbers written
as integers: the same logical task is the same bytes on every backend, so
records can be compared, hashed and moved between stores.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from .model import JSON, UNSET, Lease, LeasePolicy, Task, TaskError, TaskStatus

_MAX_SAFE_INT = 2**53


def canonical_value(value: JSON) -> JSON:
    """Normalizes numbers so 1 and 1.0 (indistinguishable in protobuf) encode alike."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, float):
        if value.is_integer() and abs(value) < _MAX_SAFE_INT:
            return int(value)
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, dict):
        return {k: canonical_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [canonical_value(v) for v in value]
    raise TypeError(f"not a JSON value: {type(value).__name__}")


def dumps(value: JSON) -> bytes:
    return json.dumps(
        canonical_value(value),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    ).encode("utf-8")


def to_json(task: Task) -> dict[str, Any]:
    out: dict[str, Any] = {
        "task_id": task.task_id,
        "owner": task.owner,
        "status": task.status.value,
        "status_message": task.status_message,
        "request_method": task.request_method,
        "create_time": task.create_time_ms,
        "update_time": task.update_time_ms,
        "ttl": task.ttl_ms,
        "expire_time": task.expire_time_ms,
        "poll_interval": task.poll_interval_ms,
        "variables": task.variables,
        "version": task.version,
    }
    if task.result is not UNSET:
        out["result"] = task.result
    if task.error is not None:
        err: dict[str, Any] = {"code": task.error.code, "message": task.error.message}
        if task.error.data is not UNSET:
            err["data"] = task.error.data
        out["error"] = err
    if task.request_id is not None:
        out["request_id"] = task.request_id
    # Lease keys are written only when they differ from their defaults, so a record
    # written before leases existed keeps its exact bytes (and decodes unchanged).
    if task.lease is not None:
        lease = task.lease
        out["lease"] = {
            "worker_id": lease.worker_id,
            "token": lease.token,
            "expire_time": lease.expire_time_ms,
            "duration": lease.duration_ms,
        }
    if task.lease_epoch:
        out["lease_epoch"] = task.lease_epoch
    if task.lease_policy is not LeasePolicy.UNSPECIFIED:
        out["lease_policy"] = task.lease_policy.value
    if task.max_attempts:
        out["max_attempts"] = task.max_attempts
    if task.attempt != 1:
        out["attempt"] = task.attempt
    # Likewise the issue-11 keys: absent at their defaults.
    if task.subject:
        out["subject"] = task.subject
    if task.input_requests:
        out["input_requests"] = task.input_requests
    if task.input_responses:
        out["input_responses"] = task.input_responses
    if task.cancel_requested:
        out["cancel_requested"] = True
    return out


def encode(task: Task) -> bytes:
    return dumps(to_json(task))


def decode(data: bytes, owner: str | None = None) -> Task:
    raw = json.loads(data)
    if owner is not None and raw["owner"] != owner:
        raise ValueError("record owner does not match its key")
    error = None
    if "error" in raw:
        e = raw["error"]
        error = TaskError(code=e["code"], message=e["message"], data=e.get("data", UNSET))
    return Task(
        task_id=raw["task_id"],
        owner=raw["owner"],
        status=TaskStatus(raw["status"]),
        version=raw["version"],
        create_time_ms=raw["create_time"],
        update_time_ms=raw["update_time"],
        status_message=raw["status_message"],
        request_method=raw["request_method"],
        ttl_ms=raw["ttl"],
        expire_time_ms=raw["expire_time"],
        poll_interval_ms=raw["poll_interval"],
        variables=raw["variables"],
        result=raw.get("result", UNSET),
        error=error,
        request_id=raw.get("request_id"),
        lease=_lease(raw.get("lease")),
        lease_epoch=raw.get("lease_epoch", 0),
        lease_policy=LeasePolicy(raw.get("lease_policy", LeasePolicy.UNSPECIFIED.value)),
        max_attempts=raw.get("max_attempts", 0),
        attempt=raw.get("attempt", 1),
        subject=raw.get("subject", ""),
        input_requests=raw.get("input_requests", {}),
        input_responses=raw.get("input_responses", {}),
        cancel_requested=raw.get("cancel_requested", False),
    )


def _lease(raw: dict[str, Any] | None) -> Lease | None:
    if raw is None:
        return None
    return Lease(
        worker_id=raw["worker_id"],
        token=raw["token"],
        expire_time_ms=raw["expire_time"],
        duration_ms=raw["duration"],
    )


def claim_group(request_method: str) -> str:
    """The index key of "claimable tasks of this method": short and of fixed size, since
    a method may be up to the string limit and index keys are small (DynamoDB: 1 KiB)."""
    return hashlib.sha256(request_method.encode("utf-8")).hexdigest()[:16]
