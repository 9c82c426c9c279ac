"""The lease arithmetic both workers share: I/O-free, on a monotonic clock the caller reads."""

from __future__ import annotations

import os
import socket
import uuid

import grpc

from taskstate_client.errors import LeaseHeldError, LeaseLostError, TaskStateError
from taskstate_client.models import Task, TaskStatus

_RETRY_PAUSE = 0.2
"""Pause between renewal retries after UNAVAILABLE (at most a tenth of the lease)."""


def default_worker_id() -> str:
    """host:pid:random: unique per process, readable in a task's lease."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class LeaseClock:
    """When to renew and when to give up.

    The local deadline counts from when the last successful claim or renewal was
    *sent*: the server started its clock no earlier, so the worker stops no later
    than the server could hand the task to someone else.
    """

    def __init__(self, lease: float, sent: float) -> None:
        self.lease = lease
        self.deadline = sent + lease

    def until_renewal(self, now: float) -> float:
        return max(0.0, min(self.lease / 3, self.deadline - now))

    def left(self, now: float) -> float:
        return self.deadline - now

    def retry_pause(self, now: float) -> float:
        return max(0.0, min(_RETRY_PAUSE, self.lease / 10, self.deadline - now))

    def renewed(self, sent: float) -> None:
        self.deadline = sent + self.lease


def claimed_lease(task: Task, asked: float) -> tuple[float, int]:
    """The lease duration granted and its fencing token, from a claim's answer."""
    if task.lease is None:
        raise TaskStateError(f"server answered a claim of {task.task_id} without a lease")
    return task.lease.duration.total_seconds() or asked, task.lease.fencing_token


def needs_fresh_start(sent: float, now: float, lease: float) -> bool:
    """A claim that waited was granted at some unknown point of the wait: renew at once."""
    return now - sent > lease / 3


def missed_deadline(task_id: str, token: int | None) -> LeaseLostError:
    return LeaseLostError(
        f"lease on task {task_id} not renewed before its local deadline",
        code=grpc.StatusCode.FAILED_PRECONDITION,
        reason="LEASE_LOST",
        metadata={"fencing_token": str(token)},
    )


def still_leased(task: Task, token: int | None, lost: LeaseLostError | None) -> bool:
    """Whether the worker still holds the lease it had (an ask() that wrote nothing)."""
    return (
        lost is None
        and task.status is TaskStatus.WORKING
        and task.lease is not None
        and task.lease.fencing_token == token
    )


def reclaim_lost(task_id: str, err: LeaseHeldError) -> LeaseLostError:
    """Another worker claimed the task between its last answer and our claim: it is theirs."""
    return LeaseLostError(
        f"task {task_id} was claimed by another worker after its input arrived",
        code=grpc.StatusCode.FAILED_PRECONDITION,
        reason="LEASE_LOST",
        metadata=err.metadata,
    )
