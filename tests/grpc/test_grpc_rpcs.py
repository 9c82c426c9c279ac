"""Happy paths of every unary RPC through a real server (raw generated stubs)."""

from __future__ import annotations

import time

import pytest
from _grpc_helpers import (
    CANCELLED,
    COMPLETED,
    FAILED,
    INPUT_REQUIRED,
    SC,
    WORKING,
    create,
    dur,
    get,
    list_all,
    null,
    py,
    set_status,
    set_vars,
    task_in,
    value,
    variables,
    vars_of,
)
from _harness import UUID7_RE, check_outcome, dur_ms, expect_error, rpc, ts_ms
from google.protobuf import field_mask_pb2
from taskstate.v1 import taskstate_pb2 as pb


def now_ms() -> int:
    return time.time_ns() // 1_000_000


# -- CreateTask -------------------------------------------------------------------------------


def test_create_defaults(stub):
    before = now_ms()
    task = create(stub)
    after = now_ms()
    assert UUID7_RE.match(task.task_id), task.task_id
    assert task.status == WORKING
    assert task.version == 1
    assert task.status_message == ""
    assert task.request_method == ""
    assert dict(task.variables) == {}
    assert not task.HasField("result")
    assert not task.HasField("error")
    assert task.HasField("ttl") and dur_ms(task.ttl) == 3_600_000
    assert task.HasField("poll_interval") and dur_ms(task.poll_interval) == 1000
    created = ts_ms(task.create_time)
    assert before - 2000 <= created <= after + 2000, "create_time far from the local clock"
    assert task.create_time.nanos % 1_000_000 == 0, "create_time has millisecond precision"
    assert ts_ms(task.update_time) >= created
    assert task.HasField("expire_time")
    assert ts_ms(task.expire_time) == created + 3_600_000
    assert get(stub, task.task_id) == task


def test_create_with_values(stub):
    vars_in = {"n": 1.5, "s": "text", "b": True, "l": [1, "two", None, {"x": []}], "o": {"k": {}}}
    task = create(
        stub,
        ttl=dur(90),
        poll_interval=dur(0.5),
        request_method="tools/call",
        variables=vars_in,
    )
    assert dur_ms(task.ttl) == 90_000
    assert ts_ms(task.expire_time) == ts_ms(task.create_time) + 90_000
    assert dur_ms(task.poll_interval) == 500
    assert task.request_method == "tools/call"
    assert vars_of(task) == vars_in
    assert get(stub, task.task_id) == task


def test_create_ignores_null_variables(stub):
    task = create(stub, variables={"keep": 1, "gone": None})
    assert vars_of(task) == {"keep": 1}


def test_create_ids_are_time_ordered(stub):
    ids = [create(stub).task_id for _ in range(20)]
    assert ids == sorted(ids), "sequential creates must give increasing UUIDv7 ids"
    assert len(set(ids)) == 20


def test_create_idempotent_request_id(stub, other_stub):
    first = create(stub, request_id="req-1", request_method="m")
    again = create(stub, request_id="req-1", request_method="m")
    assert again.task_id == first.task_id
    assert again.version == first.version
    assert [t.task_id for t in list_all(stub)] == [first.task_id], "a retry creates nothing"
    # Another request id is another task.
    second = create(stub, request_id="req-2")
    assert second.task_id != first.task_id
    # Scoped per owner: the other owner's same request id is its own task.
    theirs = create(other_stub, request_id="req-1")
    assert theirs.task_id != first.task_id
    assert get(other_stub, theirs.task_id).task_id == theirs.task_id


# -- GetTask / ListTasks ----------------------------------------------------------------------


def test_get_returns_latest(stub):
    task = create(stub)
    updated = set_vars(stub, task.task_id, {"a": 1})
    assert get(stub, task.task_id) == updated
    assert updated.version == 2


def test_list_newest_first_with_pages(stub):
    ids = [create(stub).task_id for _ in range(7)]
    newest_first = list(reversed(ids))
    pages = []
    token = ""
    while True:
        resp = stub.ListTasks(pb.ListTasksRequest(page_size=3, page_token=token), timeout=10)
        pages.append([t.task_id for t in resp.tasks])
        token = resp.next_page_token
        if not token:
            break
    assert pages == [newest_first[0:3], newest_first[3:6], newest_first[6:7]]


def test_list_empty_owner(stub):
    resp = stub.ListTasks(pb.ListTasksRequest(), timeout=10)
    assert list(resp.tasks) == []
    assert resp.next_page_token == ""


def test_list_exact_page_boundary(stub):
    ids = [create(stub).task_id for _ in range(4)]
    first = stub.ListTasks(pb.ListTasksRequest(page_size=2), timeout=10)
    assert [t.task_id for t in first.tasks] == ids[::-1][:2]
    second = stub.ListTasks(
        pb.ListTasksRequest(page_size=2, page_token=first.next_page_token), timeout=10
    )
    assert [t.task_id for t in second.tasks] == ids[::-1][2:]
    if second.next_page_token:  # allowed: a last page may still carry a token, then be empty
        third = stub.ListTasks(
            pb.ListTasksRequest(page_size=2, page_token=second.next_page_token), timeout=10
        )
        assert list(third.tasks) == [] and third.next_page_token == ""


def test_list_default_and_max_page_size(stub):
    ids = [create(stub).task_id for _ in range(55)]
    resp = stub.ListTasks(pb.ListTasksRequest(), timeout=10)
    assert len(resp.tasks) == 50, "default page size is 50"
    assert resp.next_page_token
    rest = stub.ListTasks(pb.ListTasksRequest(page_token=resp.next_page_token), timeout=10)
    got = [t.task_id for t in resp.tasks] + [t.task_id for t in rest.tasks]
    assert got == ids[::-1]
    assert rest.next_page_token == ""
    big = stub.ListTasks(pb.ListTasksRequest(page_size=1000), timeout=10)
    assert [t.task_id for t in big.tasks] == ids[::-1]
    assert big.next_page_token == ""


def test_list_tasks_are_full_and_current(stub):
    task = create(stub, variables={"a": [1, 2]}, request_method="m")
    task = set_status(stub, task.task_id, INPUT_REQUIRED, "msg")
    (listed,) = list_all(stub)
    assert listed == task


def test_list_status_filter(stub):
    by_status = {s: [task_in(stub, s).task_id for _ in range(2)] for s in (WORKING, COMPLETED)}
    by_status[FAILED] = [task_in(stub, FAILED).task_id]
    by_status[CANCELLED] = [task_in(stub, CANCELLED).task_id]
    by_status[INPUT_REQUIRED] = [task_in(stub, INPUT_REQUIRED).task_id]
    for status, expected in by_status.items():
        got = list_all(stub, statuses=(status,))
        assert {t.task_id for t in got} == set(expected), f"filter {status}"
        assert all(t.status == status for t in got)
    both = list_all(stub, statuses=(COMPLETED, FAILED))
    assert {t.task_id for t in both} == set(by_status[COMPLETED] + by_status[FAILED])
    ids_desc = [t.task_id for t in both]
    assert ids_desc == sorted(ids_desc, reverse=True), "filtered lists are newest first too"
    # Filter with pagination.
    paged = list_all(stub, page_size=1, statuses=(COMPLETED, FAILED))
    assert [t.task_id for t in paged] == ids_desc


def test_list_page_token_stays_valid_while_adding(stub):
    old = [create(stub).task_id for _ in range(6)]
    first = stub.ListTasks(pb.ListTasksRequest(page_size=3), timeout=10)
    assert [t.task_id for t in first.tasks] == old[::-1][:3]
    new = [create(stub).task_id for _ in range(3)]
    rest = []
    token = first.next_page_token
    while token:
        resp = stub.ListTasks(pb.ListTasksRequest(page_size=3, page_token=token), timeout=10)
        rest += [t.task_id for t in resp.tasks]
        token = resp.next_page_token
    assert rest == old[::-1][3:], "the cursor continues past the first page only"
    assert not set(new) & set(rest)
    assert [t.task_id for t in list_all(stub)] == (old + new)[::-1]


def test_list_excludes_deleted(stub):
    a, b = create(stub), create(stub)
    stub.DeleteTask(pb.DeleteTaskRequest(task_id=a.task_id), timeout=10)
    assert [t.task_id for t in list_all(stub)] == [b.task_id]


# -- UpdateTaskStatus -------------------------------------------------------------------------


def test_update_status_sets_and_clears_message(stub):
    task = create(stub)
    t2 = set_status(stub, task.task_id, INPUT_REQUIRED, "please confirm")
    assert (t2.status, t2.status_message, t2.version) == (INPUT_REQUIRED, "please confirm", 2)
    assert ts_ms(t2.update_time) > ts_ms(task.update_time)
    assert t2.create_time == task.create_time
    t3 = set_status(stub, task.task_id, WORKING)
    assert (t3.status, t3.status_message, t3.version) == (WORKING, "", 3)
    assert ts_ms(t3.update_time) > ts_ms(t2.update_time)
    assert get(stub, task.task_id) == t3


def test_update_status_with_expected_version(stub):
    task = create(stub)
    t2 = set_status(stub, task.task_id, INPUT_REQUIRED, expected_version=1)
    assert t2.version == 2
    out = expect_error(
        stub.UpdateTaskStatus,
        pb.UpdateTaskStatusRequest(task_id=task.task_id, status=WORKING, expected_version=1),
        SC.ABORTED,
        "VERSION_MISMATCH",
    )
    assert out.metadata.get("expected_version") == "1"
    assert out.metadata.get("actual_version") == "2"


def test_update_to_terminal_status(stub):
    task = create(stub)
    done = set_status(stub, task.task_id, COMPLETED, "finished")
    assert (done.status, done.status_message, done.version) == (COMPLETED, "finished", 2)


# -- SetVariables -----------------------------------------------------------------------------


def test_set_variables_merge_and_delete(stub):
    task = create(stub, variables={"a": 1, "b": 2})
    t2 = set_vars(stub, task.task_id, {"b": 3, "c": "x"})
    assert vars_of(t2) == {"a": 1, "b": 3, "c": "x"}
    assert t2.version == 2
    t3 = stub.SetVariables(
        pb.SetVariablesRequest(
            task_id=task.task_id, variables={"a": null(), "missing": null(), "d": value([True])}
        ),
        timeout=10,
    ).task
    assert vars_of(t3) == {"b": 3, "c": "x", "d": [True]}
    assert t3.version == 3
    assert t3.status == WORKING
    assert get(stub, task.task_id) == t3


def test_set_variables_replaces_values_wholesale(stub):
    task = create(stub, variables={"obj": {"x": 1, "y": 2}})
    t2 = set_vars(stub, task.task_id, {"obj": {"z": 3}})
    assert vars_of(t2) == {"obj": {"z": 3}}, "merge is per top-level key, values are replaced"


def test_set_variables_on_input_required(stub):
    task = task_in(stub, INPUT_REQUIRED)
    t2 = set_vars(stub, task.task_id, {"answer": 42})
    assert t2.status == INPUT_REQUIRED and vars_of(t2) == {"answer": 42}


def test_set_variables_expected_version(stub):
    task = create(stub)
    assert set_vars(stub, task.task_id, {"a": 1}, expected_version=1).version == 2
    out = expect_error(
        stub.SetVariables,
        pb.SetVariablesRequest(
            task_id=task.task_id, variables=variables({"a": 2}), expected_version=1
        ),
        SC.ABORTED,
        "VERSION_MISMATCH",
    )
    assert out.metadata.get("expected_version") == "1"
    assert out.metadata.get("actual_version") == "2"
    assert vars_of(get(stub, task.task_id)) == {"a": 1}


def test_variables_boundaries_accepted(stub):
    key256 = "k" * 256
    deep = 1
    for _ in range(10):
        deep = [deep]
    big = "x" * (64 * 1024)
    task = create(stub, variables={key256: 1, "deep": deep, "big": big, "ünïcødé ✓": "ok"})
    assert vars_of(task) == {key256: 1, "deep": deep, "big": big, "ünïcødé ✓": "ok"}


# -- PutIfVersion -----------------------------------------------------------------------------


def put(stub, task_id, expected, paths, **task_fields):
    req = pb.PutIfVersionRequest(
        task_id=task_id,
        expected_version=expected,
        task=pb.Task(**task_fields),
        update_mask=field_mask_pb2.FieldMask(paths=paths),
    )
    return rpc(stub.PutIfVersion, req, timeout=10)


def test_put_variables_replaces_whole_map(stub):
    task = create(stub, variables={"a": 1, "b": 2})
    task = set_status(stub, task.task_id, INPUT_REQUIRED, "keep me")
    out = check_outcome(
        put(
            stub,
            task.task_id,
            2,
            ["variables"],
            variables=variables({"c": 3}),
            status=WORKING,
            status_message="ignored",
            request_method="ignored",
        ),
        SC.OK,
    )
    t = out.response.task
    assert vars_of(t) == {"c": 3}
    assert t.version == 3
    assert t.status == INPUT_REQUIRED and t.status_message == "keep me", "unmasked fields kept"
    assert t.request_method == task.request_method
    assert t.ttl == task.ttl and t.expire_time == task.expire_time
    assert t.poll_interval == task.poll_interval
    assert get(stub, task.task_id) == t


def test_put_ttl_renews_expire_time(stub):
    task = create(stub, ttl=dur(60))
    before = now_ms()
    t = check_outcome(put(stub, task.task_id, 1, ["ttl"], ttl=dur(7200)), SC.OK).response.task
    after = now_ms()
    assert dur_ms(t.ttl) == 7_200_000
    assert before + 7_200_000 - 2000 <= ts_ms(t.expire_time) <= after + 7_200_000 + 2000
    assert t.create_time == task.create_time
    assert vars_of(t) == {} and t.status == WORKING


def test_put_several_fields(stub):
    task = create(stub, variables={"x": 1})
    t = check_outcome(
        put(
            stub,
            task.task_id,
            1,
            ["status", "status_message", "poll_interval", "result"],
            status=INPUT_REQUIRED,
            status_message="waiting",
            poll_interval=dur(5),
            result=value({"partial": True}),
        ),
        SC.OK,
    ).response.task
    assert t.status == INPUT_REQUIRED and t.status_message == "waiting"
    assert dur_ms(t.poll_interval) == 5000
    assert t.result == value({"partial": True})
    assert vars_of(t) == {"x": 1}
    assert t.version == 2


def test_put_to_terminal_with_error(stub):
    task = create(stub)
    err = pb.TaskError(code=-32000, message="bad", data=value({"why": "x"}))
    t = check_outcome(
        put(stub, task.task_id, 1, ["status", "error"], status=FAILED, error=err), SC.OK
    ).response.task
    assert t.status == FAILED and t.error == err


def test_put_version_mismatch(stub):
    task = create(stub)
    set_vars(stub, task.task_id, {"a": 1})
    out = check_outcome(
        put(stub, task.task_id, 1, ["variables"], variables=variables({"b": 1})),
        SC.ABORTED,
        "VERSION_MISMATCH",
    )
    assert out.metadata.get("expected_version") == "1"
    assert out.metadata.get("actual_version") == "2"
    assert vars_of(get(stub, task.task_id)) == {"a": 1}
    future = check_outcome(
        put(stub, task.task_id, 5, ["status_message"], status_message="x"),
        SC.ABORTED,
        "VERSION_MISMATCH",
    )
    assert future.metadata.get("expected_version") == "5"
    assert future.metadata.get("actual_version") == "2"


# -- CompleteTask / CancelTask / DeleteTask ---------------------------------------------------


def test_complete_with_result(stub):
    task = create(stub, variables={"a": 1, "b": 2})
    resp = stub.CompleteTask(
        pb.CompleteTaskRequest(
            task_id=task.task_id,
            status=COMPLETED,
            status_message="all done",
            result=value({"answer": [42]}),
            variables=variables({"b": None, "c": 3}),
        ),
        timeout=10,
    )
    t = resp.task
    assert t.status == COMPLETED and t.status_message == "all done"
    assert py(t.result) == {"answer": [42]}
    assert vars_of(t) == {"a": 1, "c": 3}
    assert t.version == 2, "one atomic write"
    assert not t.HasField("error")
    assert get(stub, task.task_id) == t


def test_complete_failed_with_error(stub):
    task = task_in(stub, INPUT_REQUIRED)
    err = pb.TaskError(code=-32603, message="tool crashed", data=value({"trace": ["a", "b"]}))
    t = stub.CompleteTask(
        pb.CompleteTaskRequest(task_id=task.task_id, status=FAILED, error=err), timeout=10
    ).task
    assert t.status == FAILED
    assert t.error == err
    assert t.version == task.version + 1


def test_complete_with_expected_version(stub):
    task = create(stub)
    out = expect_error(
        stub.CompleteTask,
        pb.CompleteTaskRequest(task_id=task.task_id, status=COMPLETED, expected_version=2),
        SC.ABORTED,
        "VERSION_MISMATCH",
    )
    assert out.metadata.get("expected_version") == "2"
    assert out.metadata.get("actual_version") == "1"
    t = stub.CompleteTask(
        pb.CompleteTaskRequest(task_id=task.task_id, status=COMPLETED, expected_version=1),
        timeout=10,
    ).task
    assert t.status == COMPLETED and t.version == 2


@pytest.mark.parametrize("source", [WORKING, INPUT_REQUIRED])
def test_cancel(stub, source):
    task = task_in(stub, source)
    t = stub.CancelTask(
        pb.CancelTaskRequest(task_id=task.task_id, status_message="user cancelled"), timeout=10
    ).task
    assert (t.status, t.status_message, t.version) == (
        CANCELLED,
        "user cancelled",
        task.version + 1,
    )
    assert get(stub, task.task_id) == t


@pytest.mark.parametrize("source", [WORKING, INPUT_REQUIRED, COMPLETED, FAILED, CANCELLED])
def test_delete_any_status(stub, source):
    task = task_in(stub, source)
    resp = stub.DeleteTask(pb.DeleteTaskRequest(task_id=task.task_id), timeout=10)
    assert resp == pb.DeleteTaskResponse()
    expect_error(
        stub.GetTask, pb.GetTaskRequest(task_id=task.task_id), SC.NOT_FOUND, "TASK_NOT_FOUND"
    )
    expect_error(
        stub.DeleteTask,
        pb.DeleteTaskRequest(task_id=task.task_id),
        SC.NOT_FOUND,
        "TASK_NOT_FOUND",
    )


def test_terminal_task_is_readable(stub):
    task = task_in(stub, COMPLETED)
    assert get(stub, task.task_id) == task
    assert task.task_id in {t.task_id for t in list_all(stub)}
    waited = stub.WaitTask(
        pb.WaitTaskRequest(task_id=task.task_id, timeout=dur(5)), timeout=10
    ).task
    assert waited == task


def test_put_masked_unset_fields_clear(stub):
    task = create(stub)
    set_ = check_outcome(
        put(
            stub,
            task.task_id,
            1,
            ["result", "error", "status_message"],
            result=value({"r": 1}),
            error=pb.TaskError(code=3, message="partial"),
            status_message="m",
        ),
        SC.OK,
    ).response.task
    assert set_.HasField("result") and set_.HasField("error")
    cleared = check_outcome(
        put(stub, task.task_id, 2, ["result", "error", "status_message"]), SC.OK
    ).response.task
    assert not cleared.HasField("result"), "a masked, unset result is cleared"
    assert not cleared.HasField("error"), "a masked, unset error is cleared"
    assert cleared.status_message == ""


def test_put_masked_unset_ttl_means_never_expires(stub):
    # docs/design.md §4.4 / Task.ttl: "unset = never expires"; PutIfVersion applies exactly the
    # masked fields, so a masked ttl left unset clears it (CreateTask alone maps unset to the
    # server default).
    task = create(stub, ttl=dur(60))
    t = check_outcome(put(stub, task.task_id, 1, ["ttl"]), SC.OK).response.task
    assert not t.HasField("ttl"), f"ttl should be unset, got {t.ttl}"
    assert not t.HasField("expire_time"), "no ttl, no expire_time"
    assert get(stub, task.task_id) == t


def test_request_id_reusable_after_delete(stub):
    first = create(stub, request_id="again")
    stub.DeleteTask(pb.DeleteTaskRequest(task_id=first.task_id), timeout=10)
    second = create(stub, request_id="again")
    assert second.task_id != first.task_id, "the request id names the task only while it exists"
    assert second.version == 1


def test_values_roundtrip_exactly(stub):
    tricky = {
        "float": 0.1 + 0.2,
        "big": 1e300,
        "tiny": 5e-324,
        "int53": float(2**53),
        "neg": -123456.789,
        "text": 'nul\x00 tab\t line\u2028 emoji 🙂 quote" backslash\\',
        "empty": "",
        "list": [[], {}, [None, False, 0.0]],
        "obj": {"": "not a variable key, so empty is fine", "ключ": "значение"},
    }
    task = create(stub, variables=tricky)
    for got in (task, get(stub, task.task_id)):
        assert vars_of(got) == tricky
        assert got.variables["float"].number_value == 0.1 + 0.2
    done = stub.CompleteTask(
        pb.CompleteTaskRequest(task_id=task.task_id, status=COMPLETED, result=value(tricky)),
        timeout=10,
    ).task
    assert py(done.result) == tricky
