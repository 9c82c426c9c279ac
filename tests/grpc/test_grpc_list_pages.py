"""Large tasks through ListTasks and WatchTasks (issue 8, item 3).

ListTasks pages stay under the 4 MiB every gRPC client accepts by default (cut by bytes,
continued by next_page_token), the BASIC view leaves variables, result and error out,
and the server's message limits fit the largest valid request.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from _grpc_helpers import COMPLETED, FAILED, SC, number_list_value, value, variables
from _harness import (
    ServerProcess,
    _SyncAuth,
    auth_header,
    drain_stream,
    expect_error,
    rpc,
    sync_stub,
    wait_until,
)
from _stores import STORES
from _streams import StreamCollector
from google.protobuf import json_format
from taskstate.v1 import taskstate_pb2 as pb
from taskstate.v1 import taskstate_pb2_grpc as pb_grpc

CLIENT_LIMIT = 4 * 1024 * 1024
"""Every gRPC client's default receive limit."""


def large_stub(server: ServerProcess, owner: str, receive_limit: int = -1) -> Any:
    """A stub whose client accepts responses of any size (to set huge tasks up), or of
    at most `receive_limit` bytes."""
    options = [
        ("grpc.max_receive_message_length", receive_limit),
        ("grpc.max_send_message_length", -1),
    ]
    channel = grpc.insecure_channel(server.address, options=options)
    channel = grpc.intercept_channel(channel, _SyncAuth(auth_header(server.token(owner))))
    stub = pb_grpc.TaskServiceStub(channel)
    stub._channel_ref = channel
    return stub


VIEWS = {"unspecified": pb.TASK_VIEW_UNSPECIFIED, "full": pb.TASK_VIEW_FULL}


def zeros(n: int) -> list[int]:
    """A JSON list of `n` zeros: 2 bytes each as JSON, 11 bytes each as protobuf."""
    return [0] * n


def big_variables(store_name: str) -> dict[str, Any]:
    """~900 KB of variables, the issue's case; where records are smaller (DynamoDB's hold
    350 KB), the same wire size comes from 300 KB of JSON numbers."""
    if (STORES[store_name].max_record_bytes or 900_000) < 900_000:
        return {"numbers": zeros(150_000)}
    return {"blob": "x" * 900_000}


def walk(stub: Any, view: int = pb.TASK_VIEW_UNSPECIFIED) -> list[pb.ListTasksResponse]:
    """Every page of ListTasks(page_size=50), following next_page_token."""
    pages, token = [], ""
    while True:
        req = pb.ListTasksRequest(page_size=50, page_token=token, view=view)
        page = stub.ListTasks(req, timeout=60)
        pages.append(page)
        token = page.next_page_token
        if not token:
            return pages
        assert len(pages) < 20, "next_page_token never ran out"


@pytest.fixture(scope="module")
def six_large(store_name: str, module_server_factory: Any) -> Iterator[tuple[Any, list[pb.Task]]]:
    """A server holding six ~900 KB tasks of one owner (one completed with a result, one
    failed with error data), and a default-configured stub of that owner."""
    server: ServerProcess = module_server_factory(store_name)
    owner = server.fresh_owner()
    stub = large_stub(server, owner)
    tasks = []
    for _ in range(6):
        req = pb.CreateTaskRequest(variables=variables(big_variables(store_name)))
        tasks.append(stub.CreateTask(req, timeout=60).task)
    done = pb.CompleteTaskRequest(task_id=tasks[0].task_id, status=COMPLETED, result=value("r"))
    tasks[0] = stub.CompleteTask(done, timeout=60).task
    error = pb.TaskError(code=7, message="boom", data=value({"why": "x"}))
    failed = pb.CompleteTaskRequest(task_id=tasks[1].task_id, status=FAILED, error=error)
    tasks[1] = stub.CompleteTask(failed, timeout=60).task
    stub._channel_ref.close()
    default_stub = sync_stub(server.address, server.token(owner))
    yield default_stub, tasks
    default_stub._channel_ref.close()


@pytest.mark.parametrize("view", VIEWS.values(), ids=VIEWS.keys())
def test_large_tasks_come_in_pages_under_4_mib(six_large, view):
    stub, tasks = six_large
    assert sum(t.ByteSize() for t in tasks) > CLIENT_LIMIT, "the case needs > 4 MiB of tasks"
    pages = walk(stub, view)  # a default client: any page over 4 MiB would fail here
    assert len(pages) > 1
    assert all(0 < p.ByteSize() < CLIENT_LIMIT for p in pages)
    listed = [t for p in pages for t in p.tasks]
    assert listed == list(reversed(tasks)), "all six, exactly once, newest first, FULL"


def test_unspecified_and_full_views_are_the_same(six_large):
    stub, _ = six_large

    def pages(view):  # the first page's resume_cursor is the feed's head at that time
        return [(list(p.tasks), p.next_page_token) for p in walk(stub, view)]

    assert pages(pb.TASK_VIEW_UNSPECIFIED) == pages(pb.TASK_VIEW_FULL)


def test_basic_view_leaves_out_variables_result_and_error(six_large):
    stub, tasks = six_large
    pages = walk(stub, pb.TASK_VIEW_BASIC)
    assert len(pages) == 1 and pages[0].next_page_token == ""
    listed = list(pages[0].tasks)
    for got, full in zip(listed, reversed(tasks), strict=True):
        assert not got.variables and not got.HasField("result") and not got.HasField("error")
        expected = pb.Task()
        expected.CopyFrom(full)
        for name in ("variables", "result", "error"):
            expected.ClearField(name)
        assert got == expected, "every other field as in the full view"


@pytest.mark.parametrize("bad", [3, 99, -1])
def test_unknown_view_is_invalid_argument(stub, bad):
    expect_error(stub.ListTasks, pb.ListTasksRequest(view=bad), SC.INVALID_ARGUMENT, timeout=10)
    stream = stub.WatchTasks(pb.WatchTasksRequest(view=bad), timeout=10)
    with pytest.raises(grpc.RpcError) as err:
        next(iter(stream))
    assert err.value.code() == SC.INVALID_ARGUMENT


async def watch_version(stub: Any, view: int, change: Any, version: int) -> pb.Task:
    """Opens WatchTasks with `view`, makes `change` once the watcher is registered, and
    returns the task the stream sends at `version` (a store whose change feed lags, like
    Redis, may first send a change made before the watch opened)."""
    call = stub.WatchTasks(pb.WatchTasksRequest(view=view))
    stream = StreamCollector(call)
    try:
        await call.initial_metadata()  # sent once the server has registered the watcher
        await change()
        return (await stream.until_version(version)).task
    finally:
        await stream.close()


@pytest.mark.parametrize("view", [pb.TASK_VIEW_BASIC, *VIEWS.values()])
async def test_watch_tasks_view(live_server, aio_stubs, view):
    stub = aio_stubs(live_server, live_server.fresh_owner())
    payload = {"a": "x" * 1000, "b": [1, 2]}
    task = (await stub.CreateTask(pb.CreateTaskRequest(variables=variables(payload)))).task

    async def complete() -> None:
        req = pb.CompleteTaskRequest(task_id=task.task_id, status=COMPLETED, result=value(5))
        await stub.CompleteTask(req)

    seen = await watch_version(stub, view, complete, 2)
    assert (seen.task_id, seen.version, seen.status) == (task.task_id, 2, COMPLETED)
    if view == pb.TASK_VIEW_BASIC:
        assert not seen.variables and not seen.HasField("result")
    else:
        assert json_format.MessageToDict(seen.result) == 5
        assert {k: json_format.MessageToDict(v) for k, v in seen.variables.items()} == payload


# -- the server's message limits (transport only: one store is enough) ----------------------


MAX_JSON_ZEROS = (1 << 20) // 2 - 64
"""Zeros whose JSON list fills just under the default 1 MiB cap (with its key), 5.5 MiB
as protobuf."""


def test_largest_valid_request_reaches_the_server(server_factory):
    # gRPC's own refusal of a request over the receive limit carries no ErrorInfo: this
    # one reaches TaskStore, which refuses the task it would make (~17 MB on the wire,
    # over the 4 MiB a default client reads back).
    server = server_factory("memory")
    stub = large_stub(server, "alice")
    task = stub.CreateTask(pb.CreateTaskRequest(), timeout=60).task
    big = number_list_value(MAX_JSON_ZEROS)
    req = pb.PutIfVersionRequest(
        task_id=task.task_id,
        expected_version=1,
        task=pb.Task(
            variables={"n": big},
            result=big,
            error=pb.TaskError(code=1, message="m", data=big),
            status_message="s" * ((1 << 20) - 1),
        ),
    )
    req.update_mask.paths.extend(["variables", "result", "error", "status_message"])
    assert req.ByteSize() > 16 * 1024 * 1024
    out = expect_error(
        stub.PutIfVersion, req, SC.RESOURCE_EXHAUSTED, "VARIABLES_TOO_LARGE", timeout=120
    )
    assert "as a gRPC message" in out.message, out.describe()
    stub._channel_ref.close()


SMALL_CLIENT_LIMIT = 1024 * 1024


def test_response_over_the_client_limit_logs_no_traceback(server_factory):
    # The server stores no task over 4 MiB on the wire, so a client with a lower receive
    # limit (1 MiB) stands for one that cannot take a response: a task of ~1.6 MB.
    server = server_factory("memory")
    owner = server.fresh_owner()
    setup = large_stub(server, owner)
    blob = {"blob": value("v" * 800_000)}
    task = setup.CreateTask(pb.CreateTaskRequest(variables=blob), timeout=60).task
    done = pb.CompleteTaskRequest(
        task_id=task.task_id, status=COMPLETED, result=value("r" * 800_000)
    )
    assert setup.CompleteTask(done, timeout=60).task.ByteSize() > SMALL_CLIENT_LIMIT
    setup._channel_ref.close()

    small = large_stub(server, owner, receive_limit=SMALL_CLIENT_LIMIT)
    by_id = pb.GetTaskRequest(task_id=task.task_id)
    for _ in range(10):
        # The client's own limit refuses the task (no ErrorInfo: the server did send it).
        got = rpc(small.GetTask, by_id, timeout=60)
        assert got.code == SC.RESOURCE_EXHAUSTED, got.describe()
        # A page holds at least one task: this one, too large for this client all the same.
        got = rpc(small.ListTasks, pb.ListTasksRequest(), timeout=60)
        assert got.code == SC.RESOURCE_EXHAUSTED, got.describe()
        _, got = drain_stream(small.WatchTask(pb.WatchTaskRequest(task_id=task.task_id)))
        assert got.code == SC.RESOURCE_EXHAUSTED, got.describe()
    basic = small.ListTasks(pb.ListTasksRequest(view=pb.TASK_VIEW_BASIC), timeout=60)
    assert [t.task_id for t in basic.tasks] == [task.task_id]
    small._channel_ref.close()

    assert server.stop() == 0
    assert wait_until(lambda: "stopped" in server.stderr_text(), 10), server.output_text()
    log = server.stderr_text()
    assert "Traceback" not in log and "ExecuteBatchError" not in log, log
