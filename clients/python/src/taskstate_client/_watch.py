"""WatchTask and WatchTasks messages and resume bookkeeping, shared by both clients."""

from __future__ import annotations

from dataclasses import replace

import grpc
from taskstate.v1 import taskstate_pb2 as pb

from taskstate_client._convert import task_from_proto
from taskstate_client._requests import StatusFilter
from taskstate_client._requests import watch_all as watch_all_request
from taskstate_client.errors import FeedCompactedError, TaskStateError
from taskstate_client.models import EventKind, Task, TaskEvent, TaskView

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


_KINDS = {
    pb.WATCH_EVENT_KIND_WRITE: EventKind.WRITE,
    pb.WATCH_EVENT_KIND_DELETED: EventKind.DELETED,
    pb.WATCH_EVENT_KIND_EXPIRED: EventKind.EXPIRED,
    pb.WATCH_EVENT_KIND_PROGRESS: EventKind.PROGRESS,
}


def event_from_proto(msg: pb.WatchTasksResponse) -> TaskEvent | None:
    """The event one WatchTasks message reports, None for a kind this client does not know.

    A message without a kind but with a task is a write: servers older than event kinds
    sent only writes.
    """
    has_task = msg.HasField("task")
    kind = _KINDS.get(msg.kind)
    if kind is None and msg.kind == pb.WATCH_EVENT_KIND_UNSPECIFIED and has_task:
        kind = EventKind.WRITE
    if kind is None:
        return None
    task = task_from_proto(msg.task) if has_task else None
    task_id = msg.task_id or (task.task_id if task is not None else "")
    version = task.version if task is not None else msg.version
    return TaskEvent(kind, task_id, task, msg.resume_cursor, version)


class FeedCursor:
    """The position of a resumable watch_all, and what each message means to the caller.

    Shared by the sync and async streams: they only open calls, list, and sleep.
    """

    def __init__(self, statuses: StatusFilter, view: TaskView | str, cursor: str) -> None:
        self.statuses = statuses
        self.view = view
        self.cursor = cursor

    def request(self) -> pb.WatchTasksRequest:
        return watch_all_request(self.statuses, self.view, self.cursor, all_events=True)

    def accept(self, msg: pb.WatchTasksResponse) -> TaskEvent | None:
        """The event to yield, or None (PROGRESS, or a kind this client does not know)."""
        if msg.resume_cursor:
            self.cursor = msg.resume_cursor
        event = event_from_proto(msg)
        if event is None or event.kind is EventKind.PROGRESS:
            return None
        return replace(event, cursor=self.cursor)

    def reset(self, cursor: str, tasks: list[Task]) -> list[TaskEvent]:
        """After a compaction: a RESET, a WRITE per listed task, then the feed from `cursor`."""
        self.cursor = cursor
        events = [TaskEvent(EventKind.RESET, "", None, cursor)]
        events.extend(TaskEvent(EventKind.WRITE, t.task_id, t, cursor, t.version) for t in tasks)
        return events


def compacted(error: TaskStateError) -> bool:
    return isinstance(error, FeedCompactedError)
