"""watch_all(resume=True) against an in-process fake of OUR WatchTasks/ListTasks (no store).

Each WatchTasks call plays the next scripted stream (messages, then an error or a
clean end), so reconnects, resumes and the compaction fallback are exact.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from _fake_service import our_status, serving
from google.rpc import code_pb2
from taskstate.v1 import taskstate_pb2 as pb
from taskstate.v1 import taskstate_pb2_grpc as pb_grpc
from taskstate_client import (
    AsyncTaskClient,
    EventKind,
    FeedCompactedError,
    RetryPolicy,
    TaskClient,
    TaskEvent,
    UnauthenticatedError,
    UnavailableError,
)

NO_WAIT = RetryPolicy(max_attempts=5, initial_backoff=0.0, max_backoff=0.0)
COMPACTED = "compacted"


def _task(task_id: str, version: int) -> pb.Task:
    msg = pb.Task(task_id=task_id, status=pb.TASK_STATUS_WORKING, version=version)
    msg.create_time.FromMilliseconds(1)
    msg.update_time.FromMilliseconds(version)
    return msg


def _write(task_id: str, version: int, cursor: str) -> pb.WatchTasksResponse:
    return pb.WatchTasksResponse(
        kind=pb.WATCH_EVENT_KIND_WRITE,
        task=_task(task_id, version),
        task_id=task_id,
        resume_cursor=cursor,
    )


def _gone(kind: int, task_id: str, version: int, cursor: str) -> pb.WatchTasksResponse:
    return pb.WatchTasksResponse(
        kind=kind,  # type: ignore[arg-type]
        task_id=task_id,
        version=version,
        resume_cursor=cursor,
    )


def _progress(cursor: str) -> pb.WatchTasksResponse:
    return pb.WatchTasksResponse(kind=pb.WATCH_EVENT_KIND_PROGRESS, resume_cursor=cursor)


class FakeFeed(pb_grpc.TaskServiceServicer):
    def __init__(self) -> None:
        self.streams: list[tuple[list[pb.WatchTasksResponse], Any]] = []
        self.cursors: list[str] = []
        self.pages: dict[str, pb.ListTasksResponse] = {}
        self.list_tokens: list[str] = []

    async def WatchTasks(self, request: pb.WatchTasksRequest, context: Any) -> Any:
        self.cursors.append(request.resume_cursor)
        assert request.all_events
        messages, end = self.streams.pop(0)
        for msg in messages:
            yield msg
        if end == COMPACTED:
            await context.abort_with_status(
                our_status(code_pb2.OUT_OF_RANGE, "FEED_COMPACTED", "gone")
            )
        elif end is not None:
            await context.abort(end, "scripted")

    async def ListTasks(self, request: pb.ListTasksRequest, context: Any) -> pb.ListTasksResponse:
        self.list_tokens.append(request.page_token)
        return self.pages[request.page_token]


@pytest.fixture
async def feed() -> AsyncIterator[tuple[FakeFeed, AsyncTaskClient]]:
    service = FakeFeed()
    async with (
        serving(service) as address,
        AsyncTaskClient(address, timeout=10, watch_retry=NO_WAIT) as client,
    ):
        yield service, client


async def _take(client: AsyncTaskClient, count: int, cursor: str = "") -> list[TaskEvent]:
    out: list[TaskEvent] = []
    async with contextlib.aclosing(client.watch_all(resume=True, cursor=cursor)) as events:
        async for event in events:
            out.append(event)
            if len(out) == count:
                break
    return out


async def test_starts_from_a_listed_cursor_and_resumes_after_unavailable(
    feed: tuple[FakeFeed, AsyncTaskClient],
) -> None:
    service, client = feed
    service.pages[""] = pb.ListTasksResponse(resume_cursor="c0")
    service.streams = [
        ([_write("a", 1, "c1"), _progress("c2")], grpc.StatusCode.UNAVAILABLE),
        ([], None),  # a polite close: reopen too
        ([_gone(pb.WATCH_EVENT_KIND_DELETED, "a", 1, "c3")], grpc.StatusCode.UNAVAILABLE),
        ([_gone(pb.WATCH_EVENT_KIND_EXPIRED, "b", 4, "c4")], None),
    ]
    events = await _take(client, 3)
    assert [(e.kind, e.task_id, e.version, e.cursor) for e in events] == [
        (EventKind.WRITE, "a", 1, "c1"),
        (EventKind.DELETED, "a", 1, "c3"),
        (EventKind.EXPIRED, "b", 4, "c4"),
    ]
    assert events[0].task is not None and events[1].task is None
    assert service.cursors == ["c0", "c2", "c2", "c3"]  # PROGRESS moved the cursor


async def test_compacted_relists_with_the_first_page_cursor(
    feed: tuple[FakeFeed, AsyncTaskClient],
) -> None:
    service, client = feed
    service.pages[""] = pb.ListTasksResponse(
        tasks=[_task("x", 3)], next_page_token="p2", resume_cursor="L1"
    )
    service.pages["p2"] = pb.ListTasksResponse(tasks=[_task("y", 5)], resume_cursor="")
    service.streams = [([], COMPACTED), ([_write("x", 4, "L2")], None)]
    events = await _take(client, 4, cursor="old")
    assert [(e.kind, e.task_id, e.version, e.cursor) for e in events] == [
        (EventKind.RESET, "", 0, "L1"),
        (EventKind.WRITE, "x", 3, "L1"),
        (EventKind.WRITE, "y", 5, "L1"),
        (EventKind.WRITE, "x", 4, "L2"),
    ]
    assert service.cursors == ["old", "L1"]  # the first page's cursor, not the last page's
    assert service.list_tokens == ["", "p2"]


async def test_final_errors_are_raised(feed: tuple[FakeFeed, AsyncTaskClient]) -> None:
    service, client = feed
    service.streams = [([], grpc.StatusCode.UNAUTHENTICATED)]
    with pytest.raises(UnauthenticatedError):
        await _take(client, 1, cursor="c")


async def test_outage_budget_runs_out(feed: tuple[FakeFeed, AsyncTaskClient]) -> None:
    service, client = feed
    service.streams = [([], grpc.StatusCode.UNAVAILABLE)] * 10
    with pytest.raises(UnavailableError):
        await _take(client, 1, cursor="c")
    assert len(service.cursors) == NO_WAIT.max_attempts


async def test_sync_twin_resumes_and_relists(feed: tuple[FakeFeed, AsyncTaskClient]) -> None:
    service, client = feed
    service.pages[""] = pb.ListTasksResponse(tasks=[_task("x", 3)], resume_cursor="L1")
    service.streams = [
        ([_write("a", 1, "c1")], grpc.StatusCode.UNAVAILABLE),
        ([], COMPACTED),
        ([_gone(pb.WATCH_EVENT_KIND_DELETED, "x", 3, "L2")], None),
    ]

    def run() -> list[TaskEvent]:
        with TaskClient(client.address, timeout=10, watch_retry=NO_WAIT) as sync:
            events = sync.watch_all(resume=True, cursor="c0")
            try:
                return [next(events) for _ in range(4)]
            finally:
                events.close()

    events = await asyncio.to_thread(run)
    assert [(e.kind, e.task_id, e.cursor) for e in events] == [
        (EventKind.WRITE, "a", "c1"),
        (EventKind.RESET, "", "L1"),
        (EventKind.WRITE, "x", "L1"),
        (EventKind.DELETED, "x", "L2"),
    ]
    assert service.cursors == ["c0", "c1", "L1"]


async def test_a_plain_stream_shows_every_message_then_its_error(
    feed: tuple[FakeFeed, AsyncTaskClient],
) -> None:
    service, client = feed
    unknown = pb.WatchTasksResponse(kind=99, task_id="x", resume_cursor="c3")  # type: ignore[arg-type]
    kindless = pb.WatchTasksResponse(task=_task("b", 2))  # a server older than event kinds
    service.streams = [([_write("a", 1, "c1"), _progress("c2"), unknown, kindless], COMPACTED)]
    got: list[TaskEvent] = []
    async with client.watch_all(all_events=True) as stream:
        with pytest.raises(FeedCompactedError) as caught:
            async for event in stream.events():
                got.append(event)
    assert caught.value.reason == "FEED_COMPACTED"
    assert [(e.kind, e.task_id, e.version, e.cursor) for e in got] == [
        (EventKind.WRITE, "a", 1, "c1"),
        (EventKind.PROGRESS, "", 0, "c2"),
        (EventKind.WRITE, "b", 2, ""),
    ]
    assert service.cursors == [""]  # never reopened


async def test_a_plain_sync_stream_ends_with_the_call(
    feed: tuple[FakeFeed, AsyncTaskClient],
) -> None:
    service, client = feed
    service.streams = [([_progress("c1"), _write("a", 1, "c2")], None)]

    def run() -> list[str]:
        with (
            TaskClient(client.address, timeout=10) as sync,
            sync.watch_all(all_events=True) as stream,
        ):
            return [task.task_id for task in stream]

    assert await asyncio.to_thread(run) == ["a"]
