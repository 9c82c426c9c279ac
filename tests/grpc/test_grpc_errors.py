"""Every error code and ErrorInfo reason of docs/design.md §6, through a real server."""

from __future__ import annotations

import time

import pytest
from _grpc_helpers import (
    BY_ID,
    CANCELLED,
    COMPLETED,
    FAILED,
    INPUT_REQUIRED,
    SC,
    TERMINAL,
    WORKING,
    call_by_id,
    create,
    dur,
    get,
    list_all,
    mask,
    name,
    set_vars,
    task_in,
    value,
    variables,
)
from _harness import (
    check_outcome,
    drain_stream,
    expect_error,
    random_task_id,
    rpc,
    sync_stub,
    wait_until,
)
from google.protobuf import struct_pb2
from taskstate.v1 import taskstate_pb2 as pb

MUTATIONS = ("UpdateTaskStatus", "SetVariables", "PutIfVersion", "CompleteTask", "CancelTask")

# -- NOT_FOUND --------------------------------------------------------------------------------


@pytest.mark.parametrize("method", list(BY_ID))
def test_unknown_task_not_found(stub, method):
    tid = random_task_id()
    out = check_outcome(call_by_id(stub, method, tid), SC.NOT_FOUND, "TASK_NOT_FOUND")
    if method == "WatchTask":
        assert out.response == []


@pytest.mark.parametrize("method", list(BY_ID))
def test_deleted_task_not_found(stub, method):
    task = create(stub)
    stub.DeleteTask(pb.DeleteTaskRequest(task_id=task.task_id), timeout=10)
    check_outcome(call_by_id(stub, method, task.task_id), SC.NOT_FOUND, "TASK_NOT_FOUND")


def wait_expired_via_watch(stub, task_id: str, limit: float = 15.0) -> None:
    """Blocks until the server ends a WatchTask stream on the task with NOT_FOUND (expiry)."""
    _, out = drain_stream(stub.WatchTask(pb.WatchTaskRequest(task_id=task_id), timeout=limit))
    check_outcome(out, SC.NOT_FOUND, "TASK_NOT_FOUND", what="watch of an expiring task")


def test_expired_task_not_found_everywhere(stub):
    task = create(stub, ttl=dur(0.3), variables={"a": 1})
    keep = create(stub)
    wait_expired_via_watch(stub, task.task_id)
    for method in BY_ID:
        check_outcome(
            call_by_id(stub, method, task.task_id), SC.NOT_FOUND, "TASK_NOT_FOUND", what=method
        )
    assert [t.task_id for t in list_all(stub)] == [keep.task_id], "expired tasks are not listed"


def test_expiry_by_polling_get(stub):
    started = time.monotonic()  # before the create: the task is at most this old
    task = create(stub, ttl=dur(0.2))
    assert wait_until(
        lambda: rpc(stub.GetTask, pb.GetTaskRequest(task_id=task.task_id)).code == SC.NOT_FOUND,
        timeout=10,
    ), "a task past its expire_time must read as NOT_FOUND"
    assert time.monotonic() - started >= 0.19, "expired before its ttl"


def test_ttl_renewal_via_put_if_version(stub):
    task = create(stub, ttl=dur(3600))
    renewed = rpc(
        stub.PutIfVersion,
        pb.PutIfVersionRequest(
            task_id=task.task_id,
            expected_version=1,
            task=pb.Task(ttl=dur(0.3)),
            update_mask=mask("ttl"),
        ),
    )
    check_outcome(renewed, SC.OK)
    wait_expired_via_watch(stub, task.task_id)
    expect_error(
        stub.GetTask, pb.GetTaskRequest(task_id=task.task_id), SC.NOT_FOUND, "TASK_NOT_FOUND"
    )


def test_not_found_message_is_the_same_for_missing_and_deleted(stub):
    task = create(stub)
    stub.DeleteTask(pb.DeleteTaskRequest(task_id=task.task_id), timeout=10)
    deleted = call_by_id(stub, "GetTask", task.task_id)
    other = random_task_id()
    missing = call_by_id(stub, "GetTask", other)
    assert deleted.message.replace(task.task_id, "<id>") == missing.message.replace(other, "<id>")


# -- ABORTED ----------------------------------------------------------------------------------


CAS_REQUESTS = {
    "UpdateTaskStatus": lambda tid, v: pb.UpdateTaskStatusRequest(
        task_id=tid, status=INPUT_REQUIRED, expected_version=v
    ),
    "SetVariables": lambda tid, v: pb.SetVariablesRequest(
        task_id=tid, variables=variables({"z": 1}), expected_version=v
    ),
    "PutIfVersion": lambda tid, v: pb.PutIfVersionRequest(
        task_id=tid,
        expected_version=v,
        task=pb.Task(status_message="m"),
        update_mask=mask("status_message"),
    ),
    "CompleteTask": lambda tid, v: pb.CompleteTaskRequest(
        task_id=tid, status=COMPLETED, expected_version=v
    ),
}


@pytest.mark.parametrize("method", list(CAS_REQUESTS))
@pytest.mark.parametrize("expected", [1, 2, 4, 2**64 - 1])
def test_version_mismatch(stub, method, expected):
    task = create(stub)
    task = set_vars(stub, task.task_id, {"a": 1})
    task = set_vars(stub, task.task_id, {"a": 2})
    assert task.version == 3
    out = expect_error(
        getattr(stub, method),
        CAS_REQUESTS[method](task.task_id, expected),
        SC.ABORTED,
        "VERSION_MISMATCH",
    )
    assert out.metadata.get("expected_version") == str(expected), out.describe()
    assert out.metadata.get("actual_version") == "3", out.describe()
    assert get(stub, task.task_id) == task, "an aborted write changes nothing"
    # The right version goes through.
    ok = rpc(getattr(stub, method), CAS_REQUESTS[method](task.task_id, 3))
    assert check_outcome(ok, SC.OK).response.task.version == 4


# -- FAILED_PRECONDITION: frozen terminal tasks ------------------------------------------------


def terminal_mutations(tid: str, version: int) -> dict[str, tuple[str, object]]:
    put = lambda paths, **t: pb.PutIfVersionRequest(  # noqa: E731
        task_id=tid, expected_version=version, task=pb.Task(**t), update_mask=mask(*paths)
    )
    return {
        "UpdateTaskStatus": (
            "UpdateTaskStatus",
            pb.UpdateTaskStatusRequest(task_id=tid, status=WORKING),
        ),
        "SetVariables": (
            "SetVariables",
            pb.SetVariablesRequest(task_id=tid, variables=variables({"a": 1})),
        ),
        "SetVariables-delete": (
            "SetVariables",
            pb.SetVariablesRequest(task_id=tid, variables={"k": struct_pb2.Value(null_value=0)}),
        ),
        "Put-status_message": ("PutIfVersion", put(["status_message"], status_message="x")),
        "Put-variables": ("PutIfVersion", put(["variables"], variables=variables({"a": 1}))),
        "Put-result": ("PutIfVersion", put(["result"], result=value(2))),
        "Put-error": ("PutIfVersion", put(["error"], error=pb.TaskError(code=1, message="m"))),
        "Put-ttl": ("PutIfVersion", put(["ttl"], ttl=dur(60))),
        "Put-poll_interval": ("PutIfVersion", put(["poll_interval"], poll_interval=dur(2))),
        "CompleteTask": ("CompleteTask", pb.CompleteTaskRequest(task_id=tid, status=COMPLETED)),
        "CompleteTask-failed": (
            "CompleteTask",
            pb.CompleteTaskRequest(task_id=tid, status=FAILED, error=pb.TaskError(code=1)),
        ),
        "CancelTask": ("CancelTask", pb.CancelTaskRequest(task_id=tid)),
    }


TERMINAL_CASES = list(terminal_mutations("x", 1))


@pytest.mark.parametrize("source", TERMINAL, ids=name)
def test_terminal_task_is_frozen(stub, source):
    task = task_in(stub, source, variables={"k": "v"})
    for case, (method, request) in terminal_mutations(task.task_id, task.version).items():
        out = rpc(getattr(stub, method), request, timeout=10)
        check_outcome(out, SC.FAILED_PRECONDITION, "TASK_TERMINAL", what=f"{name(source)}/{case}")
    assert get(stub, task.task_id) == task
    # Still readable, waitable, watchable, listable and deletable.
    assert stub.WaitTask(pb.WaitTaskRequest(task_id=task.task_id), timeout=10).task == task
    msgs, out = drain_stream(stub.WatchTask(pb.WatchTaskRequest(task_id=task.task_id), timeout=10))
    check_outcome(out, SC.OK)
    assert [m.task for m in msgs] == [task]
    assert task.task_id in {t.task_id for t in list_all(stub, statuses=(source,))}
    stub.DeleteTask(pb.DeleteTaskRequest(task_id=task.task_id), timeout=10)


def test_put_if_version_illegal_transition(stub):
    task = task_in(stub, INPUT_REQUIRED)
    done = task_in(stub, COMPLETED)
    expect_error(
        stub.PutIfVersion,
        pb.PutIfVersionRequest(
            task_id=done.task_id,
            expected_version=done.version,
            task=pb.Task(status=WORKING),
            update_mask=mask("status"),
        ),
        SC.FAILED_PRECONDITION,
        "TASK_TERMINAL",
    )
    assert get(stub, task.task_id) == task


# -- INVALID_ARGUMENT -------------------------------------------------------------------------


def nest_list(depth: int, leaf: object = 1) -> object:
    v = leaf
    for _ in range(depth):
        v = [v]
    return v


def nest_dict(depth: int, leaf: object = 1) -> object:
    v = leaf
    for _ in range(depth):
        v = {"k": v}
    return v


BAD_VARIABLES = {
    "too-deep-list": ({"deep": nest_list(11)}, "variables"),
    "too-deep-dict": ({"deep": nest_dict(11)}, "variables"),
    "too-deep-mixed": ({"deep": [{"a": nest_list(10)}]}, "variables"),
    # Strings over --max-string-bytes: test_grpc_limits.py (a server that sets it).
    "key-empty": ({"": 1}, "variables"),
    "key-257": ({"k" * 257: 1}, "variables"),
    "key-258-multibyte": ({"é" * 129: 1}, "variables"),
    "key-nul": ({"a\x00b": 1}, "variables"),
    "key-newline": ({"a\nb": 1}, "variables"),
    "key-escape": ({"\x1b[31m": 1}, "variables"),
    "key-del": ({"a\x7f": 1}, "variables"),
}


def bad_variables_requests(tid: str, bad: dict) -> dict[str, tuple[str, object]]:
    return {
        "CreateTask": ("CreateTask", pb.CreateTaskRequest(variables=variables(bad))),
        "SetVariables": (
            "SetVariables",
            pb.SetVariablesRequest(task_id=tid, variables=variables(bad)),
        ),
        "PutIfVersion": (
            "PutIfVersion",
            pb.PutIfVersionRequest(
                task_id=tid,
                expected_version=1,
                task=pb.Task(variables=variables(bad)),
                update_mask=mask("variables"),
            ),
        ),
        "CompleteTask": (
            "CompleteTask",
            pb.CompleteTaskRequest(task_id=tid, status=COMPLETED, variables=variables(bad)),
        ),
    }


@pytest.mark.parametrize("case", list(BAD_VARIABLES))
def test_bad_variables_invalid_argument(stub, case):
    bad, field = BAD_VARIABLES[case]
    task = create(stub)
    for rpc_name, (method, request) in bad_variables_requests(task.task_id, bad).items():
        out = rpc(getattr(stub, method), request, timeout=10)
        check_outcome(out, SC.INVALID_ARGUMENT, "INVALID_ARGUMENT", what=f"{case}/{rpc_name}")
        assert any(field in f for f, _ in out.violations), f"{case}/{rpc_name}: {out.describe()}"
    assert get(stub, task.task_id) == task
    assert len(list_all(stub)) == 1, "no task was created"


def test_variables_depth_boundary(stub):
    create(stub, variables={"ok": nest_list(10), "ok2": nest_dict(10)})
    expect_error(
        stub.CreateTask,
        pb.CreateTaskRequest(variables=variables({"bad": nest_dict(11)})),
        SC.INVALID_ARGUMENT,
        "INVALID_ARGUMENT",
    )


@pytest.mark.parametrize(
    "task_id", ["", "not-a-uuid", "../etc/passwd", "x" * 10_000, "0" * 36, "🙂"]
)
@pytest.mark.parametrize("method", list(BY_ID))
def test_malformed_task_id(stub, method, task_id):
    out = check_outcome(call_by_id(stub, method, task_id), SC.INVALID_ARGUMENT, "INVALID_ARGUMENT")
    assert any("task_id" in f for f, _ in out.violations), out.describe()


def invalid_requests(tid: str) -> dict[str, tuple[str, object, str]]:
    """case -> (method, request, a substring of the violated field's path)."""

    def put(paths, expected=1, **t):
        return pb.PutIfVersionRequest(
            task_id=tid, expected_version=expected, task=pb.Task(**t), update_mask=mask(*paths)
        )

    return {
        "create-ttl-zero": ("CreateTask", pb.CreateTaskRequest(ttl=dur(0)), "ttl"),
        "create-ttl-negative": ("CreateTask", pb.CreateTaskRequest(ttl=dur(-5)), "ttl"),
        "create-ttl-over-max": ("CreateTask", pb.CreateTaskRequest(ttl=dur(24 * 3600 + 1)), "ttl"),
        "create-ttl-huge": ("CreateTask", pb.CreateTaskRequest(ttl=dur(10**9)), "ttl"),
        "put-ttl-zero": ("PutIfVersion", put(["ttl"], ttl=dur(0)), "ttl"),
        "put-ttl-over-max": ("PutIfVersion", put(["ttl"], ttl=dur(24 * 3600 + 1)), "ttl"),
        "put-mask-empty": ("PutIfVersion", put([], status_message="x"), "update_mask"),
        "put-mask-unknown": ("PutIfVersion", put(["nope"]), "update_mask"),
        "put-mask-task_id": ("PutIfVersion", put(["task_id"], task_id=tid), "update_mask"),
        "put-mask-version": ("PutIfVersion", put(["version"], version=9), "update_mask"),
        "put-mask-create_time": ("PutIfVersion", put(["create_time"]), "update_mask"),
        "put-mask-expire_time": ("PutIfVersion", put(["expire_time"]), "update_mask"),
        "put-mask-request_method": ("PutIfVersion", put(["request_method"]), "update_mask"),
        "put-mask-mixed": ("PutIfVersion", put(["status_message", "bogus"]), "update_mask"),
        "put-expected-version-0": (
            "PutIfVersion",
            put(["status_message"], expected=0, status_message="x"),
            "expected_version",
        ),
        "put-status-unspecified": ("PutIfVersion", put(["status"]), "status"),
        "put-status-99": ("PutIfVersion", put(["status"], status=99), "status"),
        "update-expected-version-0": (
            "UpdateTaskStatus",
            pb.UpdateTaskStatusRequest(task_id=tid, status=INPUT_REQUIRED, expected_version=0),
            "expected_version",
        ),
        "complete-working": (
            "CompleteTask",
            pb.CompleteTaskRequest(task_id=tid, status=WORKING),
            "status",
        ),
        "complete-input-required": (
            "CompleteTask",
            pb.CompleteTaskRequest(task_id=tid, status=INPUT_REQUIRED),
            "status",
        ),
        "complete-cancelled": (
            "CompleteTask",
            pb.CompleteTaskRequest(task_id=tid, status=CANCELLED),
            "status",
        ),
        "complete-unspecified": ("CompleteTask", pb.CompleteTaskRequest(task_id=tid), "status"),
        "complete-99": ("CompleteTask", pb.CompleteTaskRequest(task_id=tid, status=99), "status"),
        "complete-result-too-deep": (
            "CompleteTask",
            pb.CompleteTaskRequest(task_id=tid, status=COMPLETED, result=value(nest_list(11))),
            "result",
        ),
        "complete-error-message-long": (
            "CompleteTask",
            pb.CompleteTaskRequest(
                task_id=tid,
                status=FAILED,
                error=pb.TaskError(code=1, message="x" * (1 << 20) + "x"),
            ),
            "error.message",
        ),
        "update-status-99": (
            "UpdateTaskStatus",
            pb.UpdateTaskStatusRequest(task_id=tid, status=99),
            "status",
        ),
        "list-page-size-negative": ("ListTasks", pb.ListTasksRequest(page_size=-1), "page_size"),
        "list-bad-token": ("ListTasks", pb.ListTasksRequest(page_token="garbage"), "page_token"),
        "list-bad-token-b64": (
            "ListTasks",
            pb.ListTasksRequest(page_token="eyJhIjogMX0="),  # base64 of {"a": 1}
            "page_token",
        ),
        "list-status-99": ("ListTasks", pb.ListTasksRequest(statuses=[99]), "statuses"),
        "wait-status-99": ("WaitTask", pb.WaitTaskRequest(task_id=tid, statuses=[99]), "statuses"),
    }


INVALID_CASES = list(invalid_requests("x"))


@pytest.mark.parametrize("case", INVALID_CASES)
def test_invalid_argument(stub, case):
    task = create(stub)
    method, request, field = invalid_requests(task.task_id)[case]
    out = expect_error(
        getattr(stub, method), request, SC.INVALID_ARGUMENT, "INVALID_ARGUMENT", timeout=10
    )
    assert any(field in f for f, _ in out.violations), out.describe()
    assert get(stub, task.task_id) == task, "a refused request changes nothing"


def test_watch_tasks_bad_status_filter(stub):
    msgs, out = drain_stream(stub.WatchTasks(pb.WatchTasksRequest(statuses=[99]), timeout=10))
    check_outcome(out, SC.INVALID_ARGUMENT, "INVALID_ARGUMENT")
    assert msgs == []


def test_page_token_variants_never_internal(stub):
    for _ in range(3):
        create(stub)
    first = stub.ListTasks(pb.ListTasksRequest(page_size=1), timeout=10)
    token = first.next_page_token
    assert token
    variants = {
        "tampered": token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1],
        "suffix": token + "!!",
        "truncated": token[: len(token) // 2],
        "other-filter": token,
    }
    for case, tok in variants.items():
        statuses = [COMPLETED] if case == "other-filter" else []
        req = pb.ListTasksRequest(page_size=1, page_token=tok, statuses=statuses)
        out = rpc(stub.ListTasks, req, timeout=10)
        assert out.code in (SC.OK, SC.INVALID_ARGUMENT), f"{case}: {out.describe()}"
        if out.code == SC.INVALID_ARGUMENT:
            check_outcome(out, SC.INVALID_ARGUMENT, "INVALID_ARGUMENT", what=case)


def test_ttl_max_is_accepted(stub):
    task = create(stub, ttl=dur(24 * 3600))
    assert task.ttl.seconds == 24 * 3600


# -- UNAUTHENTICATED --------------------------------------------------------------------------

ALL_METHODS = [*BY_ID, "CreateTask", "ListTasks", "WatchTasks"]


def any_call(stub, method: str, tid: str):
    if method == "CreateTask":
        return rpc(stub.CreateTask, pb.CreateTaskRequest(), timeout=10)
    if method == "ListTasks":
        return rpc(stub.ListTasks, pb.ListTasksRequest(), timeout=10)
    if method == "WatchTasks":
        # An authenticated WatchTasks would block: a short deadline tells them apart.
        _, out = drain_stream(stub.WatchTasks(pb.WatchTasksRequest(), timeout=5))
        return out
    return call_by_id(stub, method, tid)


@pytest.mark.parametrize(
    "header",
    [None, "Bearer wrong-token", "Bearer ", "Basic YWxpY2U6cHc=", "bearer", "token-without-scheme"],
    ids=["none", "wrong", "empty", "basic", "scheme-only", "no-scheme"],
)
@pytest.mark.parametrize("method", ALL_METHODS)
def test_unauthenticated(live_server, stub, method, header):
    task = create(stub)
    bad = (
        sync_stub(live_server.address, header=header) if header else sync_stub(live_server.address)
    )
    try:
        out = any_call(bad, method, task.task_id)
    finally:
        bad._channel_ref.close()
    check_outcome(out, SC.UNAUTHENTICATED)
    assert get(stub, task.task_id) == task


def test_unauthenticated_with_token_of_alice_raw_value(live_server, stub):
    # The token itself (no "Bearer " scheme) is not accepted as a credential.
    raw = sync_stub(live_server.address, header=live_server.token("alice"))
    try:
        out = rpc(raw.ListTasks, pb.ListTasksRequest(), timeout=10)
    finally:
        raw._channel_ref.close()
    check_outcome(out, SC.UNAUTHENTICATED)


# -- UNIMPLEMENTED ----------------------------------------------------------------------------

LEASE_CALLS = {
    "ClaimTask": lambda tid: pb.ClaimTaskRequest(task_id=tid, worker_id="w"),
    "RenewLease": lambda tid: pb.RenewLeaseRequest(task_id=tid, fencing_token=1),
}


# The lease RPCs are authenticated like every other (what they answer on a store without
# indexes: test_grpc_leases.py::test_claims_on_a_store_without_indexes).
@pytest.mark.parametrize("method", list(LEASE_CALLS))
def test_lease_rpcs_need_a_caller(live_server, stub, method):
    task = create(stub)
    anonymous = sync_stub(live_server.address)
    try:
        out = rpc(getattr(anonymous, method), LEASE_CALLS[method](task.task_id), timeout=10)
    finally:
        anonymous._channel_ref.close()
    check_outcome(out, SC.UNAUTHENTICATED)
    assert get(stub, task.task_id) == task
