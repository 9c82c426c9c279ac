"""Issue 11 over gRPC: the `taskstate-subject` metadata (checked, INVALID_ARGUMENT when bad,
never INTERNAL/UNKNOWN), subject scoping as NOT_FOUND exactly like a missing task, the input
request fields both ways, ProvideInput, RequestCancel, and TASK_VIEW_BASIC."""

from __future__ import annotations

from typing import Any

import pytest
from _grpc_helpers import (
    BY_ID,
    CANCELLED,
    COMPLETED,
    INPUT_REQUIRED,
    SC,
    WORKING,
    call_by_id,
    create,
    get,
    py,
    variables,
)
from _harness import check_outcome, random_task_id, rpc
from taskstate.v1 import taskstate_pb2 as pb
from test_grpc_isolation import normalized

SUBJECT = "taskstate-subject"


class Scoped:
    """A stub whose every call carries `taskstate-subject` (any number of values)."""

    def __init__(self, stub: Any, *subjects: str) -> None:
        self._stub = stub
        self._metadata = tuple((SUBJECT, s) for s in subjects)

    def __getattr__(self, method: str) -> Any:
        target = getattr(self._stub, method)

        def call(request: Any, **kw: Any) -> Any:
            return target(request, metadata=self._metadata, **kw)

        return call


def ask(stub: Any, task_id: str, requests: dict[str, Any], **kw: Any) -> Any:
    req = pb.UpdateTaskStatusRequest(
        task_id=task_id, status=INPUT_REQUIRED, input_requests=variables(requests), **kw
    )
    return rpc(stub.UpdateTaskStatus, req, timeout=10)


def provide(stub: Any, task_id: str, responses: dict[str, Any]) -> Any:
    req = pb.ProvideInputRequest(task_id=task_id, input_responses=variables(responses))
    return rpc(stub.ProvideInput, req, timeout=10)


# -- the metadata -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "subjects",
    [("",), ("x" * 257,), ("a", "b")],
    ids=["empty", "too-long", "twice"],
)
@pytest.mark.parametrize("method", ["CreateTask", "ListTasks", *BY_ID])
def test_a_bad_subject_is_invalid_argument(stub, method, subjects):
    task = create(stub)
    bad = Scoped(stub, *subjects)
    if method == "CreateTask":
        out = rpc(bad.CreateTask, pb.CreateTaskRequest(), timeout=10)
    elif method == "ListTasks":
        out = rpc(bad.ListTasks, pb.ListTasksRequest(), timeout=10)
    else:
        out = call_by_id(bad, method, task.task_id)
    out = check_outcome(out, SC.INVALID_ARGUMENT, "INVALID_ARGUMENT")
    assert any(SUBJECT in f for f, _ in out.violations), out.describe()
    assert get(stub, task.task_id) == task


def test_a_bad_subject_on_watch_tasks_is_invalid_argument(stub):
    call = Scoped(stub, "").WatchTasks(pb.WatchTasksRequest(), timeout=10)
    with pytest.raises(Exception) as e:
        next(iter(call))
    assert e.value.code() == SC.INVALID_ARGUMENT  # type: ignore[attr-defined]


# -- scoping ----------------------------------------------------------------------------


def test_create_records_the_subject_and_unscoped_calls_see_it(stub):
    a = Scoped(stub, "user-a")
    task = create(a)
    assert (task.subject, task.cancel_requested) == ("user-a", False)
    assert get(stub, task.task_id) == task
    assert create(stub).subject == ""


@pytest.mark.parametrize("method", list(BY_ID))
def test_another_subjects_task_looks_missing(stub, method):
    theirs = create(Scoped(stub, "user-a"), variables={"secret": 1})
    intruder = Scoped(stub, "user-b")
    out = check_outcome(
        call_by_id(intruder, method, theirs.task_id), SC.NOT_FOUND, "TASK_NOT_FOUND"
    )
    missing_id = random_task_id()
    missing = call_by_id(intruder, method, missing_id)
    assert normalized(out, theirs.task_id) == normalized(missing, missing_id)
    assert get(stub, theirs.task_id) == theirs


def test_list_and_claim_are_scoped(stub):
    a, b = Scoped(stub, "user-a"), Scoped(stub, "user-b")
    mine = {create(a, lease_policy=pb.LEASE_POLICY_FAIL).task_id for _ in range(3)}
    create(b, lease_policy=pb.LEASE_POLICY_FAIL)
    create(stub)
    listed = a.ListTasks(pb.ListTasksRequest(page_size=1000), timeout=10).tasks
    assert {t.task_id for t in listed} == mine
    assert len(stub.ListTasks(pb.ListTasksRequest(page_size=1000), timeout=10).tasks) == 5
    claimed = b.ClaimTask(pb.ClaimTaskRequest(worker_id="w"), timeout=10)
    assert claimed.task.subject == "user-b"
    assert not b.ClaimTask(pb.ClaimTaskRequest(worker_id="w"), timeout=10).HasField("task")


def test_request_id_is_scoped_to_the_subject(stub):
    a, b = Scoped(stub, "user-a"), Scoped(stub, "user-b")
    first = create(a, request_id="r1")
    assert create(a, request_id="r1") == first
    other = create(b, request_id="r1")
    assert other.task_id != first.task_id and other.subject == "user-b"


def test_watch_tasks_shows_a_subject_only_its_own_changes(stub):
    a, b = Scoped(stub, "user-a"), Scoped(stub, "user-b")
    call = a.WatchTasks(pb.WatchTasksRequest(all_events=True), timeout=30)
    call.initial_metadata()  # the stream is positioned once headers arrive
    try:
        theirs = create(b)
        stub.DeleteTask(pb.DeleteTaskRequest(task_id=theirs.task_id), timeout=10)
        create(stub)
        mine = create(a)
        stub.DeleteTask(pb.DeleteTaskRequest(task_id=mine.task_id), timeout=10)
        stream = iter(call)
        first = next(stream)
        if first.kind == pb.WATCH_EVENT_KIND_WRITE:
            assert first.task_id == mine.task_id
            first = next(stream)
        assert (first.kind, first.task_id) == (pb.WATCH_EVENT_KIND_DELETED, mine.task_id)
    finally:
        call.cancel()


# -- input requests, ProvideInput, RequestCancel ------------------------------------------


def test_input_requests_and_responses_round_trip(stub):
    task = create(stub)
    asked = check_outcome(ask(stub, task.task_id, {"q1": {"message": "?"}, "q2": 2}), SC.OK)
    t = asked.response.task
    assert (t.status, t.version) == (INPUT_REQUIRED, 2)
    assert {k: py(v) for k, v in t.input_requests.items()} == {"q1": {"message": "?"}, "q2": 2}
    out = check_outcome(provide(stub, task.task_id, {"q2": "two", "zz": 0}), SC.OK)
    assert list(out.response.accepted_keys) == ["q2"]
    assert out.response.task.status == INPUT_REQUIRED
    out = check_outcome(provide(stub, task.task_id, {"q1": True}), SC.OK)
    t = out.response.task
    assert (list(out.response.accepted_keys), t.status, t.version) == (["q1"], WORKING, 4)
    assert {k: py(v) for k, v in t.input_responses.items()} == {"q1": True, "q2": "two"}
    assert get(stub, task.task_id) == t


def test_basic_view_omits_the_input_maps(stub):
    task = create(stub)
    check_outcome(ask(stub, task.task_id, {"q": 1}), SC.OK)
    check_outcome(provide(stub, task.task_id, {"q": 2}), SC.OK)
    stub.RequestCancel(pb.RequestCancelRequest(task_id=task.task_id), timeout=10)
    page = stub.ListTasks(pb.ListTasksRequest(view=pb.TASK_VIEW_BASIC), timeout=10)
    (basic,) = [t for t in page.tasks if t.task_id == task.task_id]
    assert (len(basic.input_requests), len(basic.input_responses)) == (0, 0)
    assert basic.cancel_requested
    full = get(stub, task.task_id)
    assert (len(full.input_requests), len(full.input_responses)) == (1, 1)


@pytest.mark.parametrize(
    ("case", "requests", "status"),
    [
        ("with-working", {"q": 1}, WORKING),
        ("with-completed", {"q": 1}, COMPLETED),
        ("empty-key", {"": 1}, INPUT_REQUIRED),
        ("control-key", {"a\tb": 1}, INPUT_REQUIRED),
    ],
)
def test_bad_input_requests_are_invalid_argument(stub, case, requests, status):
    task = create(stub)
    req = pb.UpdateTaskStatusRequest(
        task_id=task.task_id, status=status, input_requests=variables(requests)
    )
    out = check_outcome(
        rpc(stub.UpdateTaskStatus, req, timeout=10), SC.INVALID_ARGUMENT, "INVALID_ARGUMENT"
    )
    assert any("input_requests" in f for f, _ in out.violations), out.describe()
    assert get(stub, task.task_id) == task


def test_a_reused_or_answered_key_is_invalid_argument(stub):
    task = create(stub)
    check_outcome(ask(stub, task.task_id, {"q": 1}), SC.OK)
    check_outcome(ask(stub, task.task_id, {"q": 2}), SC.INVALID_ARGUMENT, "INVALID_ARGUMENT")
    check_outcome(provide(stub, task.task_id, {"q": "a"}), SC.OK)
    check_outcome(ask(stub, task.task_id, {"q": 1}), SC.INVALID_ARGUMENT, "INVALID_ARGUMENT")
    # Nothing new to ask while input_required: the usual self-transition error.
    check_outcome(ask(stub, task.task_id, {"r": 1}), SC.OK)
    check_outcome(ask(stub, task.task_id, {"r": 1}), SC.FAILED_PRECONDITION, "INVALID_TRANSITION")


def test_bad_responses_are_invalid_argument(stub):
    task = create(stub)
    check_outcome(
        provide(stub, task.task_id, {"bad\nkey": 1}), SC.INVALID_ARGUMENT, "INVALID_ARGUMENT"
    )


def test_request_cancel_is_idempotent_and_a_no_op_on_terminal_tasks(stub):
    task = create(stub)
    req = pb.RequestCancelRequest(task_id=task.task_id)
    first = stub.RequestCancel(req, timeout=10).task
    assert (first.cancel_requested, first.version, first.status) == (True, 2, WORKING)
    assert stub.RequestCancel(req, timeout=10).task == first
    done = stub.CancelTask(pb.CancelTaskRequest(task_id=task.task_id), timeout=10).task
    assert done.status == CANCELLED
    assert stub.RequestCancel(req, timeout=10).task == done
