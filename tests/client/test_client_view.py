"""TaskView on list() and watch_all(), and list-all helpers that follow short pages."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from _harness import ServerProcess
from taskstate.v1 import taskstate_pb2 as pb
from taskstate_client import AsyncTaskClient, TaskClient, TaskStatus, TaskView
from taskstate_client import _requests as rq
from taskstate_client.cli import build_parser, main

# -- requests (no server) -------------------------------------------------------


@pytest.mark.parametrize("spelling", [TaskView.BASIC, "basic", "BASIC", "TASK_VIEW_BASIC"])
def test_view_spellings(spelling: TaskView | str) -> None:
    assert rq.list_tasks(0, "", None, spelling).view == pb.TASK_VIEW_BASIC
    assert rq.watch_all(None, spelling).view == pb.TASK_VIEW_BASIC


def test_unknown_view_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown task view 'tiny' \\(one of basic, full\\)"):
        rq.list_tasks(0, "", None, "tiny")


def test_cli_view_option() -> None:
    assert build_parser().parse_args(["list", "--view", "basic"]).view is TaskView.BASIC
    assert build_parser().parse_args(["list"]).view is TaskView.FULL
    assert build_parser().parse_args(["watch-all", "--view", "full"]).view is TaskView.FULL


# -- list-all helpers against a scripted stub: short pages are not the last ----------


def _page(ids: list[str], token: str) -> pb.ListTasksResponse:
    resp = pb.ListTasksResponse(next_page_token=token)
    for task_id in ids:
        task = resp.tasks.add(task_id=task_id, status=pb.TASK_STATUS_WORKING, version=1)
        task.create_time.FromMilliseconds(1)
        task.update_time.FromMilliseconds(1)
    return resp


class _PagingStub:
    """Pages far shorter than page_size (as the server's 4 MiB cut makes them), then the end."""

    def __init__(self) -> None:
        self.pages = {"": _page(["t1", "t2"], "p2"), "p2": _page([], "p3"), "p3": _page(["t3"], "")}
        self.requests: list[pb.ListTasksRequest] = []

    def ListTasks(self, request: pb.ListTasksRequest, **_: Any) -> pb.ListTasksResponse:
        self.requests.append(request)
        return self.pages[request.page_token]


class _AsyncPagingStub(_PagingStub):
    async def ListTasks(self, request: pb.ListTasksRequest, **_: Any) -> pb.ListTasksResponse:  # type: ignore[override]
        return super().ListTasks(request)


def test_iter_tasks_follows_short_pages() -> None:
    stub = _PagingStub()
    with TaskClient("127.0.0.1:1") as client:
        client._stub = stub
        ids = [t.task_id for t in client.iter_tasks(page_size=50, view="basic")]
    assert ids == ["t1", "t2", "t3"]
    assert [r.page_token for r in stub.requests] == ["", "p2", "p3"]
    assert {(r.page_size, r.view) for r in stub.requests} == {(50, pb.TASK_VIEW_BASIC)}


async def test_async_iter_tasks_follows_short_pages() -> None:
    stub = _AsyncPagingStub()
    async with AsyncTaskClient("127.0.0.1:1") as client:
        client._stub = stub
        ids = [t.task_id async for t in client.iter_tasks(page_size=50)]
    assert ids == ["t1", "t2", "t3"]
    assert {r.view for r in stub.requests} == {pb.TASK_VIEW_FULL}


# -- live -----------------------------------------------------------------------


@pytest.fixture
def two_tasks(client: TaskClient) -> Iterator[tuple[str, str]]:
    done = client.create(variables={"big": "x" * 1000})
    client.complete(done.task_id, {"answer": 42})
    failed = client.create(variables={"n": 1})
    client.fail(failed.task_id, "boom", data={"why": "test"})
    yield done.task_id, failed.task_id


def test_list_basic_leaves_out_variables_result_and_error(
    client: TaskClient, two_tasks: tuple[str, str]
) -> None:
    basic = client.list(view=TaskView.BASIC).tasks
    assert {t.task_id for t in basic} == set(two_tasks)
    for task in basic:
        assert task.variables == {} and not task.has_result and task.error is None
        assert task.status in (TaskStatus.COMPLETED, TaskStatus.FAILED) and task.version == 2
    full = {t.task_id: t for t in client.iter_tasks(view="full")}
    assert full[two_tasks[0]].result == {"answer": 42}
    assert full[two_tasks[1]].error is not None


async def test_async_list_basic(aclient: AsyncTaskClient) -> None:
    task = await aclient.create(variables={"v": 1})
    [basic] = (await aclient.list(view="basic")).tasks
    assert basic.task_id == task.task_id and basic.variables == {}


def test_watch_all_basic(client: TaskClient) -> None:
    with client.watch_all(view=TaskView.BASIC) as stream:
        task = client.create(variables={"secret": "s"})
        event = next(iter(stream))
    assert event.task_id == task.task_id and event.variables == {}


def test_cli_list_basic(
    cli_env: ServerProcess, two_tasks: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--json", "list", "--view", "basic", "--all"]) == 0
    tasks = json.loads(capsys.readouterr().out)["tasks"]
    assert {t["task_id"] for t in tasks} == set(two_tasks)
    assert all("variables" not in t and "result" not in t and "error" not in t for t in tasks)
