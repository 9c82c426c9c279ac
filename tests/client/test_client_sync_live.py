"""The blocking client against a real server: every RPC, typed errors, waits and watches."""

from __future__ import annotations

import queue
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import grpc
import pytest
import taskstate_client as tc
from _harness import ServerProcess
from taskstate_client import Task, TaskClient, TaskError, TaskStatus


def test_round_trip(client: TaskClient) -> None:
    task = client.create(
        request_method="tools/call",
        ttl=timedelta(minutes=5),
        poll_interval=0.5,
        variables={"n": 1, "nested": {"xs": [1, 2.5, None, True]}, "s": "héllo"},
    )
    assert task.status is TaskStatus.WORKING
    assert task.version == 1
    assert task.request_method == "tools/call"
    assert task.ttl == timedelta(minutes=5)
    assert task.poll_interval == timedelta(milliseconds=500)
    assert task.expire_time == task.create_time + timedelta(minutes=5)
    assert task.create_time.tzinfo is not None
    assert task.variables == {"n": 1, "nested": {"xs": [1, 2.5, None, True]}, "s": "héllo"}
    assert type(task.variables["n"]) is int
    assert not task.has_result and task.error is None
    assert client.get(task.task_id) == task

    task = client.set_variables(task.task_id, {"n": None, "added": [1]})
    assert task.version == 2
    assert task.variables == {"nested": {"xs": [1, 2.5, None, True]}, "s": "héllo", "added": [1]}

    task = client.update_status(task.task_id, "input_required", "need a name")
    assert (task.status, task.status_message, task.version) == (
        TaskStatus.INPUT_REQUIRED,
        "need a name",
        3,
    )
    task = client.update_status(task.task_id, TaskStatus.WORKING, expected_version=3)
    assert task.status is TaskStatus.WORKING and task.status_message == ""

    task = client.put_if_version(
        task.task_id, task.version, status_message="renewed", ttl=60, variables={"only": 1}
    )
    assert task.ttl == timedelta(seconds=60)
    assert task.expire_time is not None
    renewed_from = task.expire_time - timedelta(seconds=60)  # "now" at the write, roughly
    assert abs(renewed_from - task.update_time) < timedelta(seconds=1)
    assert task.variables == {"only": 1} and task.status_message == "renewed"

    task = client.complete(task.task_id, {"ok": True}, message="done", variables={"final": 2})
    assert task.status is TaskStatus.COMPLETED and task.terminal
    assert task.has_result and task.result == {"ok": True}
    assert task.variables == {"only": 1, "final": 2}
    assert task.status_message == "done"
    assert client.wait(task.task_id) == task

    client.delete(task.task_id)
    with pytest.raises(tc.TaskNotFoundError):
        client.get(task.task_id)


def test_null_result_is_a_result(client: TaskClient) -> None:
    task = client.complete(client.create().task_id, None)
    assert task.has_result and task.result is None
    bare = client.complete(client.create().task_id)
    assert not bare.has_result


def test_fail_and_cancel(client: TaskClient) -> None:
    failed = client.fail(client.create().task_id, "boom", code=7, data={"why": [1]})
    assert failed.status is TaskStatus.FAILED
    assert failed.error == TaskError(7, "boom", {"why": [1]})
    assert failed.status_message == "boom"
    default = client.fail(client.create().task_id, "x", status_message="custom")
    assert default.error is not None and default.error.code == -32000
    assert default.status_message == "custom"
    cancelled = client.cancel(client.create().task_id, "user asked")
    assert cancelled.status is TaskStatus.CANCELLED
    assert cancelled.status_message == "user asked"


def test_request_id_makes_create_idempotent(client: TaskClient) -> None:
    first = client.create(request_id="call-1", variables={"a": 1})
    again = client.create(request_id="call-1", variables={"a": 2})
    assert again.task_id == first.task_id and again.variables == {"a": 1}


def test_list_and_iter_tasks(client: TaskClient) -> None:
    ids = [client.create(request_method=f"m{i}").task_id for i in range(5)]
    client.complete(ids[1])
    page = client.list(page_size=2)
    assert [t.task_id for t in page.tasks] == ids[::-1][:2]
    assert page.next_page_token
    assert [t.task_id for t in client.iter_tasks(page_size=2)] == ids[::-1]
    completed = list(client.iter_tasks(statuses="completed"))
    assert [t.task_id for t in completed] == [ids[1]]
    working = client.list(statuses=[TaskStatus.WORKING, "input_required"])
    assert {t.task_id for t in working.tasks} == set(ids) - {ids[1]}


def test_wait_returns_when_the_status_arrives(client: TaskClient) -> None:
    task = client.create()
    with ThreadPoolExecutor(1) as pool:
        waiting = pool.submit(client.wait, task.task_id, 30, statuses=["input_required"])
        client.update_status(task.task_id, "input_required", "need input")
        got = waiting.result(timeout=30)
    assert got.status is TaskStatus.INPUT_REQUIRED


def test_wait_times_out_with_the_current_task(client: TaskClient) -> None:
    task = client.create()
    got = client.wait(task.task_id, timeout=0.2)
    assert got.status is TaskStatus.WORKING and got.version == 1


def test_wait_stops_on_a_terminal_task_outside_the_targets(client: TaskClient) -> None:
    task = client.cancel(client.create().task_id)
    got = client.wait(task.task_id, timeout=30, statuses="input_required")
    assert got.status is TaskStatus.CANCELLED


def test_update_read_modify_write(client: TaskClient) -> None:
    task = client.create(variables={"n": 1, "keep": "x"})

    def bump(variables: dict[str, object]) -> None:
        variables["n"] = int(variables["n"]) + 1  # type: ignore[call-overload]

    assert client.update(task.task_id, bump).variables == {"n": 2, "keep": "x"}
    replaced = client.update(task.task_id, lambda v: {"fresh": True})
    assert replaced.variables == {"fresh": True} and replaced.version == 3
    unchanged = client.update(task.task_id, lambda v: None)
    assert unchanged.version == 3


def test_watch_sees_every_version_once_in_order(client: TaskClient) -> None:
    task = client.create()
    seen: queue.Queue[Task | BaseException] = queue.Queue()

    def watch() -> None:
        try:
            for t in client.watch(task.task_id):
                seen.put(t)
        except BaseException as exc:  # surfaced to the test thread below
            seen.put(exc)
        seen.put(StopIteration())

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    first = seen.get(timeout=30)
    assert isinstance(first, Task) and first.version == 1  # the stream is open
    for i in range(4):
        client.set_variables(task.task_id, {"i": i})
    client.complete(task.task_id, "done")
    versions = [1]
    while not isinstance(item := seen.get(timeout=30), StopIteration):
        assert isinstance(item, Task), item
        versions.append(item.version)
        last = item
    thread.join(30)
    assert versions == sorted(set(versions))  # increasing, no duplicates
    assert versions[-1] == 6 and last.status is TaskStatus.COMPLETED


def test_watch_after_version(client: TaskClient) -> None:
    task = client.create()
    client.set_variables(task.task_id, {"a": 1})
    done = client.complete(task.task_id)
    assert [t.version for t in client.watch(task.task_id, after_version=1)] == [3]
    assert list(client.watch(task.task_id, after_version=done.version)) == []


def test_watch_of_a_deleted_task_raises(client: TaskClient) -> None:
    task = client.create()
    watcher = client.watch(task.task_id)
    assert next(watcher).version == 1
    client.delete(task.task_id)
    with pytest.raises(tc.TaskNotFoundError):
        next(watcher)


def test_watch_all_then_list_misses_nothing(client: TaskClient) -> None:
    before = client.create()
    with client.watch_all() as stream:
        known = {t.task_id: t.version for t in client.iter_tasks()}
        after = client.create()
        client.set_variables(before.task_id, {"x": 1})
        events = iter(stream)
        for _ in range(2):
            t = next(events)
            known[t.task_id] = max(known.get(t.task_id, 0), t.version)
    assert known == {before.task_id: 2, after.task_id: 1}


def test_watch_all_status_filter(client: TaskClient) -> None:
    with client.watch_all(statuses="completed") as stream:
        client.create()
        done = client.complete(client.create().task_id)
        assert next(iter(stream)).task_id == done.task_id


# -- typed errors -----------------------------------------------------------------


def test_not_found(client: TaskClient) -> None:
    task = client.create()
    client.delete(task.task_id)
    with pytest.raises(tc.TaskNotFoundError) as info:
        client.set_variables(task.task_id, {"a": 1})
    assert info.value.code == grpc.StatusCode.NOT_FOUND
    assert info.value.reason == "TASK_NOT_FOUND"


def test_other_owners_task_is_not_found(live_server: ServerProcess, client: TaskClient) -> None:
    task = client.create()
    other = live_server.fresh_owner()
    with (
        TaskClient(live_server.address, token=live_server.token(other)) as theirs,
        pytest.raises(tc.TaskNotFoundError),
    ):
        theirs.get(task.task_id)


def test_version_mismatch(client: TaskClient) -> None:
    task = client.create()
    with pytest.raises(tc.VersionMismatchError) as info:
        client.put_if_version(task.task_id, 7, status_message="x")
    err = info.value
    assert err.code == grpc.StatusCode.ABORTED and err.reason == "VERSION_MISMATCH"
    assert (err.expected_version, err.actual_version) == (7, 1)
    with pytest.raises(tc.VersionMismatchError):
        client.set_variables(task.task_id, {"a": 1}, expected_version=2)


def test_failed_preconditions(client: TaskClient) -> None:
    task = client.create()
    with pytest.raises(tc.InvalidTransitionError) as bad_move:
        client.update_status(task.task_id, "working")
    assert bad_move.value.code == grpc.StatusCode.FAILED_PRECONDITION
    assert bad_move.value.reason == "INVALID_TRANSITION"
    client.complete(task.task_id)
    with pytest.raises(tc.TaskTerminalError) as frozen:
        client.set_variables(task.task_id, {"a": 1})
    assert frozen.value.reason == "TASK_TERMINAL"
    assert isinstance(frozen.value, tc.FailedPreconditionError)


def test_invalid_arguments(client: TaskClient) -> None:
    with pytest.raises(tc.InvalidArgumentError) as info:
        client.create(ttl=timedelta(days=30))
    err = info.value
    assert err.code == grpc.StatusCode.INVALID_ARGUMENT and err.reason == "INVALID_ARGUMENT"
    assert [v.field for v in err.field_violations] == ["ttl"]
    with pytest.raises(tc.InvalidArgumentError):
        client.get("not-a-task-id")


def test_client_side_value_errors_never_reach_the_server(client: TaskClient) -> None:
    with pytest.raises(ValueError):
        client.create(variables={"x": float("nan")})
    with pytest.raises(TypeError):
        client.create(variables={"x": object()})
    with pytest.raises(ValueError):
        client.update_status("id", "finished")


def test_unauthenticated(live_server: ServerProcess) -> None:
    with (
        TaskClient(live_server.address, token="not-a-token") as c,
        pytest.raises(tc.UnauthenticatedError) as info,
    ):
        c.list()
    assert info.value.code == grpc.StatusCode.UNAUTHENTICATED


def test_token_from_environment(
    live_server: ServerProcess, token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TASKSTATE_ADDRESS", live_server.address)
    monkeypatch.setenv("TASKSTATE_TOKEN", token)
    with TaskClient.connect() as c:
        assert c.address == live_server.address
        assert c.create().version == 1


def test_unavailable(server_factory: object) -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(tc.UnavailableError):
        TaskClient.connect(f"127.0.0.1:{port}", timeout=0.5)
    with (
        TaskClient(f"127.0.0.1:{port}", token="t", timeout=5) as c,
        pytest.raises(tc.UnavailableError) as info,
    ):
        c.get("x")
    assert info.value.code == grpc.StatusCode.UNAVAILABLE


def test_with_timeout_shares_the_channel(client: TaskClient) -> None:
    quick = client.with_timeout(5)
    assert quick._settings.timeout == 5 and client._settings.timeout == 30
    assert quick._channel is client._channel
    assert quick.get(client.create().task_id).version == 1


def test_limits(server_factory: object) -> None:
    server: ServerProcess = server_factory(  # type: ignore[operator]
        "memory", args=["--max-active-tasks", "2", "--max-variables-bytes", "2048"]
    )
    with TaskClient(server.address, token=server.token("alice")) as c:
        first = c.create()
        c.create()
        with pytest.raises(tc.QuotaExceededError) as quota:
            c.create()
        assert quota.value.reason == "TASK_QUOTA_EXCEEDED"
        assert isinstance(quota.value, tc.ResourceExhaustedError)
        with pytest.raises(tc.VariablesTooLargeError) as big:
            c.set_variables(first.task_id, {"blob": "x" * 4096})
        assert big.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED
