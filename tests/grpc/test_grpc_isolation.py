"""Owner isolation: another owner's task is indistinguishable from a missing one."""

from __future__ import annotations

import pytest
from _grpc_helpers import (
    BY_ID,
    COMPLETED,
    INPUT_REQUIRED,
    SC,
    call_by_id,
    create,
    get,
    list_all,
    next_real,
    open_watch_tasks,
    set_vars,
    task_in,
    variables,
)
from _harness import check_outcome, random_task_id
from _streams import END
from taskstate.v1 import taskstate_pb2 as pb


def normalized(out, task_id: str) -> tuple:
    """An error outcome with the task id masked, for comparison across ids."""
    return (
        out.code,
        out.reason,
        out.domain,
        out.message.replace(task_id, "<id>"),
        sorted((k, v.replace(task_id, "<id>")) for k, v in out.metadata.items()),
        sorted((f, d.replace(task_id, "<id>")) for f, d in out.violations),
    )


@pytest.mark.parametrize("method", list(BY_ID))
def test_other_owner_task_is_not_found(stub, other_stub, method):
    theirs = task_in(stub, INPUT_REQUIRED, variables={"secret": 1})
    out = check_outcome(
        call_by_id(other_stub, method, theirs.task_id), SC.NOT_FOUND, "TASK_NOT_FOUND"
    )
    missing_id = random_task_id()
    missing = call_by_id(other_stub, method, missing_id)
    assert normalized(out, theirs.task_id) == normalized(missing, missing_id), (
        "another owner's task must look exactly like a missing one"
    )
    assert get(stub, theirs.task_id) == theirs, "the intruder changed nothing"
    if method == "WatchTask":
        assert out.response == []


def test_other_owner_same_as_deleted_same_id(stub, other_stub):
    task = create(stub)
    intruder = call_by_id(other_stub, "GetTask", task.task_id)
    stub.DeleteTask(pb.DeleteTaskRequest(task_id=task.task_id), timeout=10)
    deleted = call_by_id(stub, "GetTask", task.task_id)
    assert normalized(intruder, "") == normalized(deleted, "")


def test_intruder_writes_do_nothing(stub, other_stub):
    task = create(stub, variables={"a": 1})
    for method in BY_ID:
        call_by_id(other_stub, method, task.task_id)
    assert get(stub, task.task_id) == task
    assert [t.task_id for t in list_all(stub)] == [task.task_id]


def test_list_is_scoped_to_owner(stub, other_stub):
    mine = [create(stub).task_id for _ in range(3)]
    mine.append(task_in(stub, COMPLETED).task_id)
    theirs = [create(other_stub).task_id for _ in range(2)]
    assert {t.task_id for t in list_all(stub)} == set(mine)
    assert {t.task_id for t in list_all(other_stub)} == set(theirs)
    assert list_all(other_stub, statuses=(COMPLETED,)) == []
    # A page token of one owner gives another owner nothing of the first's.
    page = stub.ListTasks(pb.ListTasksRequest(page_size=1), timeout=10)
    assert page.next_page_token
    resp = other_stub.ListTasks(
        pb.ListTasksRequest(page_size=10, page_token=page.next_page_token), timeout=10
    )
    assert not {t.task_id for t in resp.tasks} & set(mine)


async def test_watch_tasks_sees_only_own_changes(live_server, owner, other, aio_stubs):
    alice = aio_stubs(live_server, owner)
    bob = aio_stubs(live_server, other)
    stream = await open_watch_tasks(bob)
    try:
        # Alice is busy: creates, updates, completes, deletes.
        for i in range(10):
            t = (await alice.CreateTask(pb.CreateTaskRequest(request_method=f"a{i}"))).task
            await alice.SetVariables(
                pb.SetVariablesRequest(task_id=t.task_id, variables=variables({"i": i}))
            )
            if i % 2:
                await alice.CompleteTask(
                    pb.CompleteTaskRequest(task_id=t.task_id, status=COMPLETED)
                )
            else:
                await alice.DeleteTask(pb.DeleteTaskRequest(task_id=t.task_id))
        # Then Bob changes one task: it must be the next thing Bob's stream delivers.
        mine = (await bob.CreateTask(pb.CreateTaskRequest(request_method="bob-1"))).task
        msg = await next_real(stream)
        assert msg is not END, stream.outcome
        assert msg.task.task_id == mine.task_id, f"bob saw a foreign change: {msg.task}"
        assert msg.task == mine
        # Once more, after more of Alice's changes.
        await alice.CreateTask(pb.CreateTaskRequest(request_method="a-late"))
        upd = (
            await bob.SetVariables(
                pb.SetVariablesRequest(task_id=mine.task_id, variables=variables({"x": 1}))
            )
        ).task
        msg = await next_real(stream)
        assert msg is not END, stream.outcome
        assert msg.task == upd
    finally:
        await stream.close()


def test_watch_and_wait_on_foreign_task_not_found(stub, other_stub):
    task = create(stub)
    set_vars(stub, task.task_id, {"v": 1})
    for method in ("WatchTask", "WaitTask"):
        check_outcome(call_by_id(other_stub, method, task.task_id), SC.NOT_FOUND, "TASK_NOT_FOUND")
