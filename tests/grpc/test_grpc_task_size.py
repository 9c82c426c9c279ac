"""Every stored task is readable by a default gRPC client (4 MiB receive limit).

JSON numbers grow on the wire (`0,` is 2 bytes of JSON, 11 of protobuf), so a task
within every JSON limit could be over 4 MiB as a message: the server refuses the write
(RESOURCE_EXHAUSTED, VARIABLES_TOO_LARGE) instead of storing a task that GetTask,
WatchTask and WaitTask could then never return to a default client.
"""

from __future__ import annotations

from typing import Any

import pytest
from _grpc_helpers import COMPLETED, FAILED, INPUT_REQUIRED, SC, WORKING, mask, number_list_value
from _harness import check_outcome, expect_error, rpc, sync_stub
from _stores import STORES
from taskstate.v1 import taskstate_pb2 as pb

CLIENT_LIMIT = 4 * 1024 * 1024
"""Every gRPC client's default receive limit."""

MAX_TASK_BYTES = CLIENT_LIMIT - 64 * 1024
"""The largest task the server stores (domain/wire.py MAX_TASK_WIRE_BYTES)."""


@pytest.fixture
def default_stub(live_server, store_name):
    """A stub on a channel with gRPC's default options (4 MiB receive limit)."""
    if STORES[store_name].max_record_bytes is not None:
        # DynamoDB's: its 400 KB items keep every task under 2.2 MB on the wire.
        pytest.skip(f"{store_name}'s record limit keeps every task far under 4 MiB on the wire")
    stub = sync_stub(live_server.address, live_server.token(live_server.fresh_owner()))
    yield stub
    stub._channel_ref.close()


def zeros(n: int) -> Any:
    """A JSON list of n zeros: 2n bytes as JSON, 11n as protobuf."""
    return number_list_value(n)


def refused(method: Any, request: Any) -> None:
    out = expect_error(method, request, SC.RESOURCE_EXHAUSTED, "VARIABLES_TOO_LARGE", timeout=60)
    assert "as a gRPC message, over the 4 MiB every gRPC client accepts" in out.message, (
        out.describe()
    )


def test_task_over_4_mib_on_the_wire_is_refused_and_nothing_changes(default_stub):
    stub = default_stub
    # 800 KB of JSON (under the 1 MiB cap), 4.4 MB as protobuf.
    big = pb.CreateTaskRequest(variables={"nums": zeros(400_000)})
    assert big.ByteSize() > CLIENT_LIMIT
    refused(stub.CreateTask, big)
    assert not stub.ListTasks(pb.ListTasksRequest(), timeout=60).tasks, "nothing was created"

    # 600 KB of JSON, 3.3 MB as protobuf: stored; each write below would take it over.
    task = stub.CreateTask(pb.CreateTaskRequest(variables={"nums": zeros(300_000)}), timeout=60)
    task = task.task
    tid = task.task_id
    refused(stub.SetVariables, pb.SetVariablesRequest(task_id=tid, variables={"m": zeros(80_000)}))
    refused(
        stub.CompleteTask,
        pb.CompleteTaskRequest(task_id=tid, status=COMPLETED, result=zeros(80_000)),
    )
    error = pb.TaskError(code=1, message="m", data=zeros(80_000))
    refused(stub.CompleteTask, pb.CompleteTaskRequest(task_id=tid, status=FAILED, error=error))
    status = pb.UpdateTaskStatusRequest(task_id=tid, status=INPUT_REQUIRED)
    status.status_message = "s" * 1_000_000
    refused(stub.UpdateTaskStatus, status)
    put = pb.PutIfVersionRequest(
        task_id=tid,
        expected_version=1,
        task=pb.Task(result=zeros(80_000)),
        update_mask=mask("result"),
    )
    refused(stub.PutIfVersion, put)

    got = stub.GetTask(pb.GetTaskRequest(task_id=tid), timeout=60).task
    assert got == task, "version 1, unchanged"


def fill_to_the_limit(stub: Any) -> pb.Task:
    """A task of at most MAX_TASK_BYTES and at least MAX_TASK_BYTES - 16 on the wire:
    3.8 MB of numbers, topped up with a status message."""
    task = stub.CreateTask(pb.CreateTaskRequest(variables={"n": zeros(345_000)}), timeout=60).task
    room = MAX_TASK_BYTES - task.ByteSize()
    # The message adds 1 + 3 + n bytes (n >= 16384); update_time may grow up to 6 bytes.
    for n in range(room - 4, room - 16, -1):
        req = pb.UpdateTaskStatusRequest(task_id=task.task_id, status=INPUT_REQUIRED)
        req.status_message = "s" * n
        out = rpc(stub.UpdateTaskStatus, req, timeout=60)
        if out.ok:
            updated: pb.Task = out.response.task
            assert MAX_TASK_BYTES - 16 <= updated.ByteSize() <= MAX_TASK_BYTES
            return updated
        check_outcome(out, SC.RESOURCE_EXHAUSTED, "VARIABLES_TOO_LARGE")  # a few bytes over
    raise AssertionError("no update near the limit was accepted")


def test_largest_task_is_readable_by_a_default_client(default_stub):
    stub = default_stub
    task = fill_to_the_limit(stub)
    tid = task.task_id

    # A default-configured channel reads it back through every RPC that returns it.
    assert stub.GetTask(pb.GetTaskRequest(task_id=tid), timeout=60).task == task
    waited = stub.WaitTask(pb.WaitTaskRequest(task_id=tid, statuses=[INPUT_REQUIRED]), timeout=60)
    assert waited.task == task
    watch = stub.WatchTask(pb.WatchTaskRequest(task_id=tid), timeout=60)
    assert next(watch).task == task
    watch.cancel()
    page = stub.ListTasks(pb.ListTasksRequest(), timeout=60)
    assert list(page.tasks) == [task] and page.ByteSize() < CLIENT_LIMIT

    # 20 bytes more is over the limit (update_time varies by up to 6 bytes).
    longer = pb.UpdateTaskStatusRequest(task_id=tid, status=WORKING)
    longer.status_message = task.status_message + "s" * 20
    refused(stub.UpdateTaskStatus, longer)
    assert stub.GetTask(pb.GetTaskRequest(task_id=tid), timeout=60).task == task
