"""Watch resumption and update() retries against a scripted stub: exact, no server, no timing."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import grpc
import pytest
from taskstate.v1 import taskstate_pb2 as pb
from taskstate_client import (
    AsyncTaskClient,
    RetryPolicy,
    TaskClient,
    TaskNotFoundError,
    UnavailableError,
    VersionMismatchError,
)

NO_WAIT = RetryPolicy(max_attempts=5, initial_backoff=0.0, max_backoff=0.0)
TASK_ID = "01a20f79-db4f-733b-b60b-ff9f3411fba2"


class _RpcError(grpc.RpcError):  # type: ignore[misc]
    def __init__(self, code: grpc.StatusCode) -> None:
        self._code = code

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return str(self._code.name).lower()

    def trailing_metadata(self) -> Any:
        return ()


def _task(version: int, status: int = pb.TASK_STATUS_WORKING) -> pb.Task:
    msg = pb.Task(task_id=TASK_ID, status=status, version=version)  # type: ignore[arg-type]
    msg.create_time.FromMilliseconds(1)
    msg.update_time.FromMilliseconds(version)
    return msg


DONE = pb.TASK_STATUS_COMPLETED


class _Stream:
    """One scripted server stream: some versions, then an error or a clean end."""

    def __init__(self, versions: list[pb.Task], error: grpc.StatusCode | None) -> None:
        self.versions = versions
        self.error = error
        self.cancelled = False

    def __iter__(self) -> Iterator[pb.WatchTaskResponse]:
        for task in self.versions:
            yield pb.WatchTaskResponse(task=task)
        if self.error is not None:
            raise _RpcError(self.error)

    async def __aiter__(self) -> AsyncIterator[pb.WatchTaskResponse]:
        for item in self:
            yield item

    def cancel(self) -> None:
        self.cancelled = True


class _FakeStub:
    def __init__(self, streams: list[_Stream], current: pb.Task | None = None) -> None:
        self.streams = streams
        self.current = current
        self.after_versions: list[int] = []

    def WatchTask(self, request: pb.WatchTaskRequest, metadata: Any = None) -> _Stream:
        self.after_versions.append(request.after_version)
        return self.streams.pop(0)

    def GetTask(self, request: Any, timeout: Any = None, metadata: Any = None) -> Any:
        assert self.current is not None, "unexpected GetTask"
        return pb.GetTaskResponse(task=self.current)


class _AsyncFakeStub(_FakeStub):
    async def GetTask(self, request: Any, **options: Any) -> Any:  # type: ignore[override]
        return super().GetTask(request)


UNAVAILABLE = grpc.StatusCode.UNAVAILABLE


def _script() -> list[_Stream]:
    return [
        _Stream([_task(1), _task(2)], UNAVAILABLE),
        _Stream([_task(2), _task(4)], UNAVAILABLE),  # a replica replaying v2
        _Stream([], UNAVAILABLE),  # reconnect refused once
        _Stream([_task(5, DONE), _task(6)], None),  # nothing after terminal is read
    ]


def test_sync_watch_resumes_from_last_version() -> None:
    stub = _FakeStub(_script())
    with TaskClient("127.0.0.1:1") as client:
        client._stub = stub
        versions = [t.version for t in client.watch(TASK_ID, retry=NO_WAIT)]
    assert versions == [1, 2, 4, 5]
    assert stub.after_versions == [0, 2, 4, 4]


async def test_async_watch_resumes_from_last_version() -> None:
    stub = _AsyncFakeStub(_script())
    async with AsyncTaskClient("127.0.0.1:1") as client:
        client._stub = stub
        versions = [t.version async for t in client.watch(TASK_ID, retry=NO_WAIT)]
    assert versions == [1, 2, 4, 5]
    assert stub.after_versions == [0, 2, 4, 4]


def test_watch_not_found_is_final() -> None:
    stub = _FakeStub([_Stream([_task(1)], grpc.StatusCode.NOT_FOUND)])
    with TaskClient("127.0.0.1:1") as client:
        client._stub = stub
        seen = []
        with pytest.raises(TaskNotFoundError):
            for task in client.watch(TASK_ID, retry=NO_WAIT):
                seen.append(task.version)
    assert seen == [1]


def test_watch_gives_up_after_the_retry_budget() -> None:
    stub = _FakeStub([_Stream([], UNAVAILABLE) for _ in range(5)])
    with TaskClient("127.0.0.1:1") as client:
        client._stub = stub
        with pytest.raises(UnavailableError):
            list(client.watch(TASK_ID, retry=NO_WAIT))
    assert len(stub.after_versions) == 5


def test_progress_renews_the_retry_budget() -> None:
    # 3 attempts allowed, but every outage follows progress: never gives up.
    streams = [_Stream([_task(v)], UNAVAILABLE) for v in range(1, 8)]
    streams.append(_Stream([_task(8, DONE)], None))
    stub = _FakeStub(streams)
    with TaskClient("127.0.0.1:1") as client:
        client._stub = stub
        policy = RetryPolicy(max_attempts=2, initial_backoff=0.0)
        assert [t.version for t in client.watch(TASK_ID, retry=policy)] == list(range(1, 9))


def test_clean_end_on_an_already_terminal_task() -> None:
    # after_version is the terminal version: the server sends nothing and ends OK.
    stub = _FakeStub([_Stream([], None)], current=_task(3, DONE))
    with TaskClient("127.0.0.1:1") as client:
        client._stub = stub
        assert list(client.watch(TASK_ID, after_version=3, retry=NO_WAIT)) == []
    # ... and if the terminal version is new to us, it is delivered.
    stub = _FakeStub([_Stream([], None)], current=_task(3, DONE))
    with TaskClient("127.0.0.1:1") as client:
        client._stub = stub
        assert [t.version for t in client.watch(TASK_ID, 1, retry=NO_WAIT)] == [3]


def test_clean_end_before_terminal_reads_then_resumes() -> None:
    # The server closed politely mid-task; the read finds v3, which must not be skipped.
    stub = _FakeStub([_Stream([_task(1)], None), _Stream([_task(4, DONE)], None)], _task(3))
    with TaskClient("127.0.0.1:1") as client:
        client._stub = stub
        assert [t.version for t in client.watch(TASK_ID, retry=NO_WAIT)] == [1, 3, 4]
    assert stub.after_versions == [0, 3]


async def test_async_clean_end_before_terminal_reads_then_resumes() -> None:
    stub = _AsyncFakeStub([_Stream([_task(1)], None), _Stream([_task(4, DONE)], None)], _task(3))
    async with AsyncTaskClient("127.0.0.1:1") as client:
        client._stub = stub
        assert [t.version async for t in client.watch(TASK_ID, retry=NO_WAIT)] == [1, 3, 4]
    assert stub.after_versions == [0, 3]


def test_breaking_out_cancels_the_stream() -> None:
    stream = _Stream([_task(1), _task(2)], None)
    with TaskClient("127.0.0.1:1") as client:
        client._stub = _FakeStub([stream])
        watcher = client.watch(TASK_ID)
        assert next(watcher).version == 1
        watcher.close()
    assert stream.cancelled


class _CasStub:
    """GetTask returns the stored version; PutIfVersion loses the race `losses` times."""

    def __init__(self, losses: int) -> None:
        self.losses = losses
        self.version = 1
        self.puts = 0

    def GetTask(self, request: Any, timeout: Any = None, metadata: Any = None) -> Any:
        task = _task(self.version)
        task.variables["n"].number_value = self.version
        return pb.GetTaskResponse(task=task)

    def PutIfVersion(self, request: Any, timeout: Any = None, metadata: Any = None) -> Any:
        self.puts += 1
        if self.losses:
            self.losses -= 1
            self.version += 1  # someone else wrote meanwhile
            raise _RpcError(grpc.StatusCode.ABORTED)
        assert request.expected_version == self.version
        self.version += 1
        task = _task(self.version)
        for key, value in request.task.variables.items():
            task.variables[key].CopyFrom(value)
        return pb.PutIfVersionResponse(task=task)


def _increment(variables: dict[str, Any]) -> None:
    variables["n"] += 100


def test_update_retries_until_it_wins() -> None:
    stub = _CasStub(losses=3)
    with TaskClient("127.0.0.1:1") as client:
        client._stub = stub
        task = client.update(TASK_ID, _increment, retry=NO_WAIT)
    assert stub.puts == 4
    assert task.variables["n"] == 4 + 100  # based on the version read last


def test_update_gives_up_after_max_attempts() -> None:
    stub = _CasStub(losses=100)
    with TaskClient("127.0.0.1:1") as client:
        client._stub = stub
        with pytest.raises(VersionMismatchError):
            client.update(TASK_ID, _increment, retry=NO_WAIT)
    assert stub.puts == NO_WAIT.max_attempts


def test_update_without_change_writes_nothing() -> None:
    stub = _CasStub(losses=0)
    with TaskClient("127.0.0.1:1") as client:
        client._stub = stub
        task = client.update(TASK_ID, lambda v: None)
    assert stub.puts == 0 and task.version == 1
