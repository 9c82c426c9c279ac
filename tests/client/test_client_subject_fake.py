"""The subject option, ProvideInput and RequestCancel against an in-process fake (no store).

The fake records the metadata of every call, so the tests see exactly what the client
sends: the `taskstate-subject` entry on unary calls and on both kinds of stream, and
none on an unscoped client or a view taken back to no subject.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from _fake_service import serving
from google.protobuf import json_format
from taskstate.v1 import taskstate_pb2 as pb
from taskstate.v1 import taskstate_pb2_grpc as pb_grpc
from taskstate_client import AsyncTaskClient, InputAccepted, Task, TaskClient, TaskStatus
from taskstate_client._convert import task_from_proto

SUBJECT = "taskstate-subject"


def _task(**fields: Any) -> pb.Task:
    msg = pb.Task(task_id="t1", status=pb.TASK_STATUS_INPUT_REQUIRED, version=3)
    msg.create_time.FromMilliseconds(1)
    msg.update_time.FromMilliseconds(2)
    json_format.ParseDict(fields, msg)
    return msg


class FakeService(pb_grpc.TaskServiceServicer):
    """Answers with fixed tasks; `calls` is (method, subject metadata or None, request)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str | None, Any]] = []

    def _record(self, method: str, request: Any, context: Any) -> None:
        subject = dict(context.invocation_metadata()).get(SUBJECT)
        self.calls.append((method, subject, request))

    async def GetTask(self, request: pb.GetTaskRequest, context: Any) -> pb.GetTaskResponse:
        self._record("GetTask", request, context)
        return pb.GetTaskResponse(task=_task(subject="ann"))

    async def UpdateTaskStatus(
        self, request: pb.UpdateTaskStatusRequest, context: Any
    ) -> pb.UpdateTaskStatusResponse:
        self._record("UpdateTaskStatus", request, context)
        return pb.UpdateTaskStatusResponse(task=_task())

    async def ProvideInput(
        self, request: pb.ProvideInputRequest, context: Any
    ) -> pb.ProvideInputResponse:
        self._record("ProvideInput", request, context)
        task = _task(
            status="TASK_STATUS_WORKING",
            inputRequests={"a": {"q": 1}, "b": "?"},
            inputResponses={"a": [1, 2], "b": None},
        )
        return pb.ProvideInputResponse(task=task, accepted_keys=["a", "b"])

    async def RequestCancel(
        self, request: pb.RequestCancelRequest, context: Any
    ) -> pb.RequestCancelResponse:
        self._record("RequestCancel", request, context)
        return pb.RequestCancelResponse(task=_task(cancelRequested=True))

    async def WatchTask(self, request: pb.WatchTaskRequest, context: Any) -> Any:
        self._record("WatchTask", request, context)
        yield pb.WatchTaskResponse(task=_task(status="TASK_STATUS_COMPLETED", version=4))

    async def WatchTasks(self, request: pb.WatchTasksRequest, context: Any) -> Any:
        self._record("WatchTasks", request, context)
        yield pb.WatchTasksResponse(kind=pb.WATCH_EVENT_KIND_WRITE, task=_task(), task_id="t1")


@pytest.fixture
async def fake() -> AsyncIterator[tuple[FakeService, str]]:
    service = FakeService()
    async with serving(service) as address:
        yield service, address


def _subjects(service: FakeService) -> list[tuple[str, str | None]]:
    return [(method, subject) for method, subject, _ in service.calls]


async def test_every_call_of_a_subject_view_carries_the_subject(
    fake: tuple[FakeService, str],
) -> None:
    service, address = fake
    async with AsyncTaskClient(address, token="tok", tls=False) as client:
        ann = client.with_subject("ann")
        assert (client.subject, ann.subject) == (None, "ann")
        task = await ann.get("t1")
        assert task.subject == "ann"
        await ann.request_cancel("t1")
        assert [t.version async for t in ann.watch("t1")] == [4]
        async with ann.watch_all() as stream:
            assert (await anext(aiter(stream))).task_id == "t1"
        await client.get("t1")  # the plain client is unchanged
        await ann.with_subject(None).get("t1")  # and a view can drop the subject again
    assert _subjects(service) == [
        ("GetTask", "ann"),
        ("RequestCancel", "ann"),
        ("WatchTask", "ann"),
        ("WatchTasks", "ann"),
        ("GetTask", None),
        ("GetTask", None),
    ]


async def test_the_sync_client_takes_a_subject_at_construction(
    fake: tuple[FakeService, str],
) -> None:
    service, address = fake

    def run() -> None:  # in a thread: the fake serves on this test's event loop
        with TaskClient(address, token="tok", tls=False, subject="ben") as client:
            assert client.subject == "ben"
            client.get("t1")
            assert [t.version for t in client.watch("t1")] == [4]
            with client.watch_all() as stream:
                assert next(iter(stream)).task_id == "t1"
            client.with_subject("cy").get("t1")

    await asyncio.to_thread(run)
    assert _subjects(service) == [
        ("GetTask", "ben"),
        ("WatchTask", "ben"),
        ("WatchTasks", "ben"),
        ("GetTask", "cy"),
    ]


def test_a_subject_must_be_text() -> None:
    with pytest.raises(TypeError):
        TaskClient("127.0.0.1:1", token="", tls=False, subject=7)  # type: ignore[arg-type]


async def test_provide_input_returns_the_task_and_the_accepted_keys(
    fake: tuple[FakeService, str],
) -> None:
    service, address = fake
    async with AsyncTaskClient(address, token="tok", tls=False) as client:
        accepted = await client.provide_input("t1", {"a": [1, 2], "b": None, "x": 1})
    assert isinstance(accepted, InputAccepted)
    assert accepted.accepted_keys == ["a", "b"]
    assert accepted.task.status is TaskStatus.WORKING
    assert accepted.task.input_responses == {"a": [1, 2], "b": None}
    assert accepted.task.outstanding_input == {}
    (_, _, request) = service.calls[0]
    assert json_format.MessageToDict(request)["inputResponses"] == {
        "a": [1, 2],
        "b": None,
        "x": 1,
    }


async def test_update_status_sends_input_requests_and_the_task_shows_them(
    fake: tuple[FakeService, str],
) -> None:
    service, address = fake

    def run() -> Task:
        with TaskClient(address, token="tok", tls=False) as client:
            client.update_status("t1", "input_required", "?", input_requests={"q": {"ask": "ok?"}})
            return client.provide_input("t1", {}).task

    task = await asyncio.to_thread(run)
    (_, _, request) = service.calls[0]
    assert json_format.MessageToDict(request)["inputRequests"] == {"q": {"ask": "ok?"}}
    assert task.input_requests == {"a": {"q": 1}, "b": "?"}
    assert task.to_dict()["input_responses"] == {"a": [1, 2], "b": None}


def test_outstanding_input_is_the_unanswered_requests() -> None:
    task = task_from_proto(_task(inputRequests={"a": 1, "b": 2}, inputResponses={"a": "x"}))
    assert task.outstanding_input == {"b": 2}
    assert (task.subject, task.cancel_requested) == ("", False)
    assert "subject" not in task.to_dict() and "cancel_requested" not in task.to_dict()
