"""Resumable WatchTask bookkeeping, shared by the sync and async iterators."""

from __future__ import annotations

import grpc
from taskstate.v1 import taskstate_pb2 as pb

from taskstate_client._convert import task_from_proto
from taskstate_client.errors import TaskStateError
from taskstate_client.models import Task

# Codes after which reopening the stream can help: the connection dropped or
# the server is draining. Anything else (NOT_FOUND, auth, ...) is final.
_RESUMABLE = frozenset({grpc.StatusCode.UNAVAILABLE})


class WatchCursor:
    """Remembers the last version handed to the caller.

    Reconnecting with after_version=last means the server resends nothing we
    already yielded; the version check here guards against a replica that
    replays anyway, so the caller sees strictly increasing versions.
    """

    def __init__(self, task_id: str, after_version: int) -> None:
        self.task_id = task_id
        self.last_version = after_version
        self.done = False

    def request(self) -> pb.WatchTaskRequest:
        return pb.WatchTaskRequest(task_id=self.task_id, after_version=self.last_version)

    def accept(self, msg: pb.Task) -> Task | None:
        """The task to hand to the caller, or None if it is not newer than the last one."""
        if msg.version <= self.last_version:
            return None
        return self.offer(task_from_proto(msg))

    def offer(self, task: Task) -> Task | None:
        """Like accept() for an already converted task (from a GetTask); notes terminality."""
        if task.terminal:
            self.done = True
        if task.version <= self.last_version:
            return None
        self.last_version = task.version
        return task


def resumable(error: TaskStateError) -> bool:
    return error.code in _RESUMABLE
