"""The `taskstate` command driven through main([...]) against a real server."""

from __future__ import annotations

import json
import threading

import pytest
from _cli import run, run_json
from _harness import ServerProcess
from taskstate_client import TaskClient
from taskstate_client.cli import main


def test_lifecycle(cli_env: ServerProcess, capsys: pytest.CaptureFixture[str]) -> None:
    task = run_json(
        capsys,
        "create",
        "--ttl",
        "5m",
        "--poll-interval",
        "500ms",
        "--method",
        "tools/call",
        "--var",
        "n=1",
        "--var",
        'o={"a":[true,null]}',
        "--request-id",
        "req-1",
    )
    tid = task["task_id"]
    assert task["status"] == "working" and task["version"] == 1
    assert task["ttl"] == "300s" and task["poll_interval"] == "0.5s"
    assert task["variables"] == {"n": 1, "o": {"a": [True, None]}}
    assert run_json(capsys, "create", "--request-id", "req-1")["task_id"] == tid

    assert run_json(capsys, "get", tid) == task
    updated = run_json(capsys, "set-var", tid, "n=2", "o=null", 's="text"')
    assert updated["variables"] == {"n": 2, "s": "text"} and updated["version"] == 2

    listed = run_json(capsys, "list", "--status", "working")
    assert [t["task_id"] for t in listed["tasks"]] == [tid]

    done = run_json(capsys, "complete", tid, "--result", '{"ok": true}', "--message", "fine")
    assert done["status"] == "completed" and done["result"] == {"ok": True}
    assert done["status_message"] == "fine"
    assert run_json(capsys, "wait", tid)["version"] == 3

    code, out, _ = run(capsys, "watch", tid)
    lines = [json.loads(line) for line in out.splitlines()]
    assert [t["version"] for t in lines] == [3]

    code, out, err = run(capsys, "delete", tid)
    assert (code, out) == (0, "")
    code, out, err = run(capsys, "get", tid)
    assert code == 1 and out == ""
    assert err.startswith("error: NOT_FOUND TASK_NOT_FOUND: ")


def test_human_output(cli_env: ServerProcess, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "create", "--method", "demo")
    assert code == 0
    task = json.loads(out)  # pretty JSON, still JSON
    assert "\n  " in out
    code, out, _ = run(capsys, "list")
    header, row = out.splitlines()
    assert header.split() == ["TASK_ID", "STATUS", "VERSION", "UPDATED", "METHOD"]
    assert row.startswith(task["task_id"]) and "working" in row and row.endswith("demo")


def test_list_pages(cli_env: ServerProcess, capsys: pytest.CaptureFixture[str]) -> None:
    ids = [run_json(capsys, "create")["task_id"] for _ in range(3)]
    first = run_json(capsys, "list", "--page-size", "2")
    assert len(first["tasks"]) == 2 and first["next_page_token"]
    rest = run_json(capsys, "list", "--page-size", "2", "--page-token", first["next_page_token"])
    assert [t["task_id"] for t in first["tasks"] + rest["tasks"]] == ids[::-1]
    every = run_json(capsys, "list", "--all", "--page-size", "1")
    assert [t["task_id"] for t in every["tasks"]] == ids[::-1]
    code, _, err = run(capsys, "list", "--page-size", "1")
    assert code == 0 and "more: --page-token" in err


def test_fail_and_cancel(cli_env: ServerProcess, capsys: pytest.CaptureFixture[str]) -> None:
    tid = run_json(capsys, "create")["task_id"]
    failed = run_json(
        capsys, "complete", tid, "--fail", "--code", "42", "--message", "bad", "--data", "[1]"
    )
    assert failed["status"] == "failed"
    assert failed["error"] == {"code": 42, "message": "bad", "data": [1]}
    code, _, err = run(capsys, "cancel", tid)
    assert code == 1 and err.startswith("error: FAILED_PRECONDITION TASK_TERMINAL: ")

    tid = run_json(capsys, "create")["task_id"]
    cancelled = run_json(capsys, "cancel", tid, "--message", "stop")
    assert cancelled["status"] == "cancelled" and cancelled["status_message"] == "stop"


def test_wait(cli_env: ServerProcess, capsys: pytest.CaptureFixture[str]) -> None:
    tid = run_json(capsys, "create")["task_id"]
    code, out, _ = run(capsys, "--json", "wait", tid, "--timeout", "100ms")
    assert code == 3 and json.loads(out)["status"] == "working"  # gave up: exit 3
    run_json(capsys, "complete", tid)
    code, out, _ = run(capsys, "wait", tid, "--status", "input_required", "--timeout", "5s")
    assert code == 3 and json.loads(out)["status"] == "completed"  # can never get there
    assert run_json(capsys, "wait", tid, "--status", "completed")["status"] == "completed"


def test_watch_prints_one_line_per_version(
    cli_env: ServerProcess, token: str, capsys: pytest.CaptureFixture[str]
) -> None:
    tid = run_json(capsys, "create")["task_id"]
    result: list[int] = []
    watcher = threading.Thread(
        target=lambda: result.append(main(["watch", tid, "--after-version", "1"]))
    )
    watcher.start()
    with TaskClient(cli_env.address, token=token) as client:
        client.set_variables(tid, {"a": 1})
        client.set_variables(tid, {"a": 2})
        client.complete(tid, "ok")
    watcher.join(30)
    assert result == [0]
    versions = [json.loads(line)["version"] for line in capsys.readouterr().out.splitlines()]
    assert versions and versions == sorted(set(versions)) and versions[-1] == 4
    assert min(versions) > 1


def test_errors(cli_env: ServerProcess, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "create", "--ttl", "100h")
    assert code == 1 and err.startswith("error: INVALID_ARGUMENT INVALID_ARGUMENT: ")
    code, _, err = run(capsys, "--token", "wrong", "list")
    assert code == 1 and err.startswith("error: UNAUTHENTICATED")
    code, _, err = run(capsys, "get", "not-an-id")
    assert code == 1 and "INVALID_ARGUMENT" in err
    tid = run_json(capsys, "create")["task_id"]
    code, _, err = run(capsys, "complete", tid, "--code", "1")
    assert code == 2 and "--fail" in err


def test_explicit_address_and_token_win(
    live_server: ServerProcess,
    token: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TASKSTATE_ADDRESS", "127.0.0.1:1")
    monkeypatch.setenv("TASKSTATE_TOKEN", "wrong")
    task = run_json(capsys, "--address", live_server.address, "create", "--token", token)
    assert task["version"] == 1
