"""RESOURCE_EXHAUSTED limits and server configuration (flags, env vars, auth modes)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from _grpc_helpers import (
    CANCELLED,
    COMPLETED,
    FAILED,
    INPUT_REQUIRED,
    SC,
    create,
    dur,
    get,
    list_all,
    mask,
    py,
    set_vars,
    task_in,
    value,
    variables,
    vars_of,
)
from _harness import (
    ServerStartError,
    check_outcome,
    drain_stream,
    dur_ms,
    expect_error,
    rpc,
    sync_stub,
)
from taskstate.v1 import taskstate_pb2 as pb

MAX_VARS = 1024


@pytest.fixture(scope="module")
def limits_server(store_name, module_server_factory):
    return module_server_factory(
        store_name,
        args=["--max-active-tasks", "3", "--max-variables-bytes", str(MAX_VARS)],
    )


@pytest.fixture
def lstub(limits_server):
    if not limits_server.running:
        limits_server.restart()
    return limits_server.stub(limits_server.fresh_owner())


def quota_error(stub, **kw):
    return expect_error(
        stub.CreateTask,
        pb.CreateTaskRequest(**kw),
        SC.RESOURCE_EXHAUSTED,
        "TASK_QUOTA_EXCEEDED",
        timeout=10,
    )


# -- TASK_QUOTA_EXCEEDED ----------------------------------------------------------------------


def test_quota_counts_active_tasks(limits_server, lstub):
    a = create(lstub)
    b = task_in(lstub, INPUT_REQUIRED)  # input_required is active too
    c = create(lstub)
    quota_error(lstub)
    assert len(list_all(lstub)) == 3, "a refused create leaves nothing behind"
    # Another owner has its own quota.
    other = limits_server.stub(limits_server.fresh_owner())
    for _ in range(3):
        create(other)
    quota_error(other)
    # Terminal tasks do not count.
    lstub.CompleteTask(pb.CompleteTaskRequest(task_id=a.task_id, status=COMPLETED), timeout=10)
    d = create(lstub)
    quota_error(lstub)
    lstub.CancelTask(pb.CancelTaskRequest(task_id=b.task_id), timeout=10)
    e = create(lstub)
    quota_error(lstub)
    lstub.CompleteTask(
        pb.CompleteTaskRequest(task_id=c.task_id, status=FAILED, error=pb.TaskError(code=1)),
        timeout=10,
    )
    create(lstub)
    quota_error(lstub)
    # Deleting an active task frees its slot.
    lstub.DeleteTask(pb.DeleteTaskRequest(task_id=d.task_id), timeout=10)
    create(lstub)
    quota_error(lstub)
    statuses = sorted(t.status for t in list_all(lstub))
    assert statuses.count(COMPLETED) + statuses.count(FAILED) + statuses.count(CANCELLED) == 3
    assert e.task_id in {t.task_id for t in list_all(lstub)}


def test_expired_tasks_do_not_count(lstub):
    # The short ttl comes once the quota is seen full: created with it, a task could expire
    # while a slow server made the others, and the fourth create would fit.
    short = [create(lstub) for _ in range(3)]
    quota_error(lstub)
    for t in short:
        req = pb.PutIfVersionRequest(
            task_id=t.task_id,
            expected_version=1,
            task=pb.Task(ttl=dur(0.3)),
            update_mask=mask("ttl"),
        )
        lstub.PutIfVersion(req, timeout=10)
    for t in short:
        _, out = drain_stream(lstub.WatchTask(pb.WatchTaskRequest(task_id=t.task_id), timeout=15))
        check_outcome(out, SC.NOT_FOUND, "TASK_NOT_FOUND")
    for _ in range(3):
        create(lstub)
    quota_error(lstub)


def test_idempotent_retry_at_quota_returns_first_task(lstub):
    first = create(lstub, request_id="job-1")
    create(lstub)
    create(lstub)
    again = create(lstub, request_id="job-1")
    assert again.task_id == first.task_id
    quota_error(lstub, request_id="job-2")


# -- VARIABLES_TOO_LARGE ----------------------------------------------------------------------


def too_large(method, request):
    return expect_error(method, request, SC.RESOURCE_EXHAUSTED, "VARIABLES_TOO_LARGE", timeout=10)


def test_variables_size_cap(lstub):
    big = {"blob": "x" * (MAX_VARS + 10)}
    too_large(lstub.CreateTask, pb.CreateTaskRequest(variables=variables(big)))
    assert list_all(lstub) == []
    half = "y" * (MAX_VARS // 2)
    task = create(lstub, variables={"a": half})
    # A merge is measured on the merged map.
    too_large(
        lstub.SetVariables,
        pb.SetVariablesRequest(task_id=task.task_id, variables=variables({"b": half})),
    )
    too_large(
        lstub.CompleteTask,
        pb.CompleteTaskRequest(
            task_id=task.task_id, status=COMPLETED, variables=variables({"b": half})
        ),
    )
    too_large(
        lstub.PutIfVersion,
        pb.PutIfVersionRequest(
            task_id=task.task_id,
            expected_version=1,
            task=pb.Task(variables=variables(big)),
            update_mask=mask("variables"),
        ),
    )
    assert get(lstub, task.task_id) == task, "refused writes change nothing"
    # Replacing the big value with a small one fits.
    t2 = set_vars(lstub, task.task_id, {"a": None, "b": "small"})
    assert vars_of(t2) == {"b": "small"}
    # And a replacing PutIfVersion just under the cap is fine.
    fits = {"c": "z" * (MAX_VARS - 100)}
    out = rpc(
        lstub.PutIfVersion,
        pb.PutIfVersionRequest(
            task_id=task.task_id,
            expected_version=2,
            task=pb.Task(variables=variables(fits)),
            update_mask=mask("variables"),
        ),
        timeout=10,
    )
    assert vars_of(check_outcome(out, SC.OK).response.task) == fits


# -- what a limit error says: the path, the limit and the flag --------------------------------


def test_limit_errors_name_the_path_the_limit_and_the_flag(lstub):
    task = create(lstub, variables={"small": 1})
    out = too_large(
        lstub.SetVariables,
        pb.SetVariablesRequest(
            task_id=task.task_id,
            variables=variables({"progress": {"items": [1, 2, 3, "x" * MAX_VARS]}}),
        ),
    )
    assert out.message.startswith("variables: serializes to "), out.message
    assert f"over the limit of {MAX_VARS} bytes (raise it with --max-variables-bytes)" in (
        out.message
    )
    assert "the largest part is variables.progress.items[3] at " in out.message, out.message
    for _ in range(2):
        create(lstub)
    out = quota_error(lstub)
    assert "3 active tasks (the server's --max-active-tasks)" in out.message, out.message


def test_ttl_errors_speak_durations(stub, server_factory):
    out = expect_error(
        stub.CreateTask, pb.CreateTaskRequest(ttl=dur(24 * 3600 + 1)), SC.INVALID_ARGUMENT
    )
    assert out.message == "ttl: must be at most 24h (the server's --max-ttl)"
    assert out.violations == [("ttl", "must be at most 24h (the server's --max-ttl)")]
    short = server_factory("memory", args=["--max-ttl", "90m"]).stub("alice")
    out = expect_error(
        short.CreateTask, pb.CreateTaskRequest(poll_interval=dur(5401)), SC.INVALID_ARGUMENT
    )
    assert out.message == "poll_interval: must be at most 1h30m (the server's --max-ttl)"


def mcp_image(data: str) -> dict:
    return {"content": [{"type": "image", "mimeType": "image/png", "data": data}]}


def test_mcp_image_over_64_kib_is_stored(stub):
    """Issue 8: strings may fill the variables cap (1 MiB) unless --max-string-bytes says less."""
    image = mcp_image("iVBORw0KGgo" + "A" * 69_989)  # 70,000 characters of base64
    task = create(stub, variables={"thumbnail": "B" * 70_000})
    done = stub.CompleteTask(
        pb.CompleteTaskRequest(task_id=task.task_id, status=COMPLETED, result=value(image)),
        timeout=10,
    ).task
    assert py(done.result) == image
    assert py(get(stub, task.task_id).result) == image
    assert vars_of(done) == {"thumbnail": "B" * 70_000}


STRING_LIMIT = 64 * 1024


@pytest.fixture(scope="module")
def string_server(store_name, module_server_factory):
    return module_server_factory(store_name, args=["--max-string-bytes", str(STRING_LIMIT)])


@pytest.fixture
def sstub(string_server):
    if not string_server.running:
        string_server.restart()
    return string_server.stub(string_server.fresh_owner())


LONG_STRINGS = {
    "plain": ({"s": "x" * (STRING_LIMIT + 1)}, "s", STRING_LIMIT + 1),
    "multibyte": ({"s": "\u00e9" * (STRING_LIMIT // 2 + 1)}, "s", STRING_LIMIT + 2),
    "nested": ({"s": [{"t": "x" * (STRING_LIMIT + 1)}]}, "s[0].t", STRING_LIMIT + 1),
    "odd-key": ({"a b": {"c-d": "x" * (STRING_LIMIT + 1)}}, '["a b"]["c-d"]', STRING_LIMIT + 1),
}


@pytest.mark.parametrize("case", list(LONG_STRINGS))
def test_max_string_bytes_flag(sstub, case):
    """A string over --max-string-bytes is refused by every write, naming its path and the flag."""
    bad, tail, size = LONG_STRINGS[case]
    task = create(sstub)
    tid = task.task_id
    requests = [
        ("variables", sstub.CreateTask, pb.CreateTaskRequest(variables=variables(bad))),
        (
            "variables",
            sstub.SetVariables,
            pb.SetVariablesRequest(task_id=tid, variables=variables(bad)),
        ),
        (
            "task.variables",
            sstub.PutIfVersion,
            pb.PutIfVersionRequest(
                task_id=tid,
                expected_version=1,
                task=pb.Task(variables=variables(bad)),
                update_mask=mask("variables"),
            ),
        ),
        (
            "result",
            sstub.CompleteTask,
            pb.CompleteTaskRequest(task_id=tid, status=COMPLETED, result=value(bad)),
        ),
        (
            "error.data",
            sstub.CompleteTask,
            pb.CompleteTaskRequest(
                task_id=tid, status=FAILED, error=pb.TaskError(code=1, data=value(bad))
            ),
        ),
    ]
    description = (
        f"is {size} bytes, over the limit of {STRING_LIMIT} bytes per string "
        "(raise it with --max-string-bytes)"
    )
    for root, method, request in requests:
        out = expect_error(method, request, SC.INVALID_ARGUMENT, "INVALID_ARGUMENT", timeout=10)
        path = root + ("" if tail.startswith("[") else ".") + tail
        assert out.violations == [(path, description)], out.describe()[:500]
        assert out.message == f"{path}: {description}"
    assert get(sstub, tid) == task
    assert len(list_all(sstub)) == 1


def test_max_string_bytes_boundary(sstub):
    at_limit = mcp_image("A" * STRING_LIMIT)
    task = create(sstub, variables={"u": "\u00e9" * (STRING_LIMIT // 2)})
    done = sstub.CompleteTask(
        pb.CompleteTaskRequest(task_id=task.task_id, status=COMPLETED, result=value(at_limit)),
        timeout=10,
    ).task
    assert py(done.result) == at_limit
    out = expect_error(
        sstub.CompleteTask,
        pb.CompleteTaskRequest(
            task_id=create(sstub).task_id,
            status=COMPLETED,
            result=value(mcp_image("A" * (STRING_LIMIT + 1))),
        ),
        SC.INVALID_ARGUMENT,
        "INVALID_ARGUMENT",
    )
    assert [f for f, _ in out.violations] == ["result.content[0].data"]
    working = create(sstub)
    out = expect_error(
        sstub.UpdateTaskStatus,
        pb.UpdateTaskStatusRequest(
            task_id=working.task_id,
            status=INPUT_REQUIRED,
            status_message="m" * (STRING_LIMIT + 1),
        ),
        SC.INVALID_ARGUMENT,
        "INVALID_ARGUMENT",
    )
    assert [f for f, _ in out.violations] == ["status_message"]
    assert get(sstub, working.task_id) == working


# -- page size cap --------------------------------------------------------------------------


@pytest.mark.slow
def test_page_size_is_capped_at_1000(store_name, server_factory):
    server = server_factory(store_name, args=["--max-active-tasks", "5000"])
    stub = server.stub("alice")
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: create(stub), range(1001)))
    out = rpc(stub.ListTasks, pb.ListTasksRequest(page_size=5000), timeout=30)
    if out.code == SC.OK:  # capped, AIP-158 style
        assert len(out.response.tasks) == 1000
        assert out.response.next_page_token
        rest = stub.ListTasks(
            pb.ListTasksRequest(page_size=5000, page_token=out.response.next_page_token),
            timeout=30,
        )
        assert len(rest.tasks) == 1 and rest.next_page_token == ""
    else:  # or refused
        check_outcome(out, SC.INVALID_ARGUMENT, "INVALID_ARGUMENT")
    assert len(list_all(stub)) == 1001


# -- configuration ----------------------------------------------------------------------------


def test_limits_from_environment(server_factory):
    server = server_factory(
        "memory",
        env={
            "TASKSTATE_DEFAULT_TTL": "90s",
            "TASKSTATE_MAX_TTL": "2h",
            "TASKSTATE_DEFAULT_POLL_INTERVAL": "500ms",
            "TASKSTATE_MAX_ACTIVE_TASKS": "2",
        },
    )
    stub = server.stub("alice")
    task = create(stub)
    assert dur_ms(task.ttl) == 90_000
    assert dur_ms(task.poll_interval) == 500
    assert dur_ms(create(stub, ttl=dur(7200)).ttl) == 7_200_000
    quota_error(stub)
    expect_error(
        server.stub("bob").CreateTask,
        pb.CreateTaskRequest(ttl=dur(7201)),
        SC.INVALID_ARGUMENT,
        "INVALID_ARGUMENT",
    )


def test_limits_from_flags(server_factory):
    server = server_factory(
        "memory",
        args=["--default-ttl", "5m", "--max-ttl", "10m", "--default-poll-interval", "250ms"],
    )
    stub = server.stub("alice")
    task = create(stub)
    assert dur_ms(task.ttl) == 300_000
    assert dur_ms(task.poll_interval) == 250
    expect_error(
        stub.CreateTask, pb.CreateTaskRequest(ttl=dur(601)), SC.INVALID_ARGUMENT, "INVALID_ARGUMENT"
    )


def test_token_rotation_and_tokens_never_logged(server_factory):
    tokens = {"alice": ["alice-old-s3cr3t", "alice-new-s3cr3t"], "bob": ["bob-s3cr3t"]}
    server = server_factory("memory", tokens=tokens)
    old = server.stub(token="alice-old-s3cr3t")
    new = server.stub(token="alice-new-s3cr3t")
    bob = server.stub(token="bob-s3cr3t")
    task = create(old)
    assert get(new, task.task_id) == task, "every token of an owner is the same owner"
    expect_error(
        bob.GetTask, pb.GetTaskRequest(task_id=task.task_id), SC.NOT_FOUND, "TASK_NOT_FOUND"
    )
    wrong = server.stub(token="wrong-guess-s3cr3t")
    check_outcome(rpc(wrong.ListTasks, pb.ListTasksRequest(), timeout=10), SC.UNAUTHENTICATED)
    server.stop()
    log = server.output_text()
    for secret in ["alice-old-s3cr3t", "alice-new-s3cr3t", "bob-s3cr3t", "wrong-guess-s3cr3t"]:
        assert secret not in log, f"a token was logged: {secret}"


def test_anonymous_on_loopback_without_tokens(server_factory):
    server = server_factory("memory", tokens=False)
    anon = server.stub()
    task = create(anon)
    assert get(anon, task.task_id) == task
    assert [t.task_id for t in list_all(anon)] == [task.task_id]


def test_allow_anonymous_with_tokens(server_factory):
    server = server_factory("memory", args=["--allow-anonymous"])
    anon = server.stub()
    alice = server.stub("alice")
    mine = create(anon)
    hers = create(alice)
    assert [t.task_id for t in list_all(anon)] == [mine.task_id]
    assert [t.task_id for t in list_all(alice)] == [hers.task_id]
    expect_error(
        anon.GetTask, pb.GetTaskRequest(task_id=hers.task_id), SC.NOT_FOUND, "TASK_NOT_FOUND"
    )


def test_non_loopback_without_auth_is_refused(server_factory):
    server = server_factory("memory", tokens=False, listen_host="0.0.0.0", start=False)
    with pytest.raises(ServerStartError) as info:
        server.start(timeout=20)
    assert server.proc is not None and server.proc.returncode not in (0, None)
    text = str(info.value).lower()
    assert "anonymous" in text or "auth-tokens" in text or "token" in text, str(info.value)


def test_non_loopback_with_allow_anonymous_starts(server_factory):
    server = server_factory(
        "memory", tokens=False, listen_host="0.0.0.0", args=["--allow-anonymous"]
    )
    port = server.port
    stub = sync_stub(f"127.0.0.1:{port}")
    try:
        assert create(stub).version == 1
    finally:
        stub._channel_ref.close()


def test_sqlite_relative_url_is_relative_to_cwd(server_factory):
    server = server_factory(store_url="sqlite:///relative-store.db")
    task = create(server.stub("alice"))
    assert (server.workdir / "relative-store.db").exists()
    server.restart()
    assert get(server.stub("alice"), task.task_id) == task
