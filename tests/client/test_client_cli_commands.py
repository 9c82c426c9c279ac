"""The CLI's newer surface: JSON from @FILE or stdin, a command per RPC, -q, hints, --version."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from _cli import run, run_json
from _harness import ServerProcess
from taskstate_client import TaskClient, TaskStatus
from taskstate_client._version import FALLBACK_VERSION, client_version

RPC_COMMANDS = {
    "create": "CreateTask",
    "get": "GetTask",
    "list": "ListTasks",
    "status": "UpdateTaskStatus",
    "set-var": "SetVariables",
    "put": "PutIfVersion",
    "complete": "CompleteTask",
    "fail": "CompleteTask",
    "cancel": "CancelTask",
    "delete": "DeleteTask",
    "wait": "WaitTask",
    "watch": "WatchTask",
    "watch-all": "WatchTasks",
}


def new_task(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    code, out, err = run(capsys, "create", "-q", *argv)
    assert code == 0, err
    return out.strip()


def test_create_quiet_prints_only_the_id(
    cli_env: ServerProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "create", "-q", "--method", "tools/call")
    assert code == 0 and out.count("\n") == 1
    task_id = out.strip()
    assert run_json(capsys, "get", task_id)["request_method"] == "tools/call"


def test_json_arguments_from_files(
    cli_env: ServerProcess, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    result = {"content": [{"type": "text", "text": "x" * 100_000}], "n": [1, 2.5, None]}
    (tmp_path / "result.json").write_text(json.dumps(result))
    (tmp_path / "config.json").write_text('{"depth": 3}\n')
    task_id = new_task(capsys, "--var", f"config=@{tmp_path / 'config.json'}")
    assert run_json(capsys, "get", task_id)["variables"] == {"config": {"depth": 3}}
    done = run_json(capsys, "complete", task_id, "--result", f"@{tmp_path / 'result.json'}")
    assert done["result"] == result

    task_id = new_task(capsys)
    (tmp_path / "data.json").write_text('{"why": "disk full"}')
    failed = run_json(capsys, "fail", task_id, "--data", f"@{tmp_path / 'data.json'}")
    assert failed["error"]["data"] == {"why": "disk full"}


def test_json_arguments_from_stdin(
    cli_env: ServerProcess, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    task_id = new_task(capsys)
    monkeypatch.setattr(sys, "stdin", io.StringIO('{"rows": [1, 2, 3]}'))
    assert run_json(capsys, "set-var", task_id, "report=-")["variables"] == {
        "report": {"rows": [1, 2, 3]}
    }
    monkeypatch.setattr(sys, "stdin", io.StringIO('"all done"'))
    assert run_json(capsys, "complete", task_id, "--result", "-")["result"] == "all done"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["set-var", "ID", "a=-", "b=-"], "only one argument can be read from stdin"),
        (["complete", "ID", "--result", "@/nonexistent/r.json"], "cannot read @/nonexistent"),
        (["create", "--var", "n=9007199254740993"], "variables.n: integer 9007199254740993"),
        (["complete", "ID", "--result", "[1, NaN]"], "result[1]: nan is not a JSON number"),
        (["put", "ID", "--expected-version", "1"], "nothing to write"),
        (["put", "ID", "--expected-version", "1", "--variables", "[1]"], "must be a JSON object"),
        (["put", "ID", "--expected-version", "1", "--error", '{"code": "x"}'], "--error: code"),
        (["put", "ID", "--status", "working"], "--expected-version"),
        (["status", "ID", "done"], "unknown task status 'done'"),
    ],
)
def test_input_errors_exit_2_before_any_call(
    argv: list[str],
    message: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TASKSTATE_ADDRESS", "127.0.0.1:1")  # nothing listens: no call may be made
    monkeypatch.setattr(sys, "stdin", io.StringIO("1"))
    code, out, err = run(capsys, *argv)
    assert (code, out) == (2, "") and message in err, err


def test_invalid_json_says_where(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO('{"a": 1,\n "b": }'))
    code, _, err = run(capsys, "complete", "ID", "--result", "-")
    assert code == 2 and "invalid JSON in stdin at line 2 column 7" in err
    (tmp_path / "r.json").write_text("[1, 2")
    code, _, err = run(capsys, "set-var", "ID", f"r=@{tmp_path / 'r.json'}")
    assert code == 2 and f"invalid JSON for 'r' in @{tmp_path / 'r.json'} at line 1" in err
    code, _, err = run(capsys, "complete", "ID", "--result", "{")
    assert code == 2 and "invalid JSON: '{'" in err


def test_status_moves_between_working_and_input_required(
    cli_env: ServerProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    task_id = new_task(capsys)
    asked = run_json(capsys, "status", task_id, "input_required", "--message", "which file?")
    assert asked["status"] == "input_required" and asked["status_message"] == "which file?"
    code, out, _ = run(capsys, "list")
    assert "input_required" in out and "TASK_STATUS" not in out
    back = run_json(capsys, "status", task_id, "working", "--expected-version", "2")
    assert back["status"] == "working" and back["version"] == 3
    code, _, err = run(capsys, "status", task_id, "input_required", "--expected-version", "2")
    assert code == 1 and err.startswith("error: ABORTED VERSION_MISMATCH: ")


def test_put_writes_exactly_the_fields_given(
    cli_env: ServerProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    task_id = new_task(capsys, "--var", "keep=1", "--ttl", "1h")
    put = run_json(
        capsys,
        "put",
        task_id,
        "--expected-version",
        "1",
        "--variables",
        '{"fresh": true}',
        "--message",
        "swapped",
        "--ttl",
        "none",
    )
    assert put["variables"] == {"fresh": True} and put["status_message"] == "swapped"
    assert "ttl" not in put and "expire_time" not in put and put["status"] == "working"
    code, _, err = run(capsys, "put", task_id, "--expected-version", "1", "--result", "1")
    assert code == 1 and err.startswith("error: ABORTED VERSION_MISMATCH: ")
    failed = run_json(
        capsys,
        "put",
        task_id,
        "--expected-version",
        "2",
        "--status",
        "failed",
        "--error",
        '{"code": 7, "message": "no", "data": [1]}',
    )
    assert failed["status"] == "failed"
    assert failed["error"] == {"code": 7, "message": "no", "data": [1]}


def test_fail_command(cli_env: ServerProcess, capsys: pytest.CaptureFixture[str]) -> None:
    task_id = new_task(capsys)
    failed = run_json(
        capsys, "fail", task_id, "--message", "boom", "--code", "5", "--var", "step=3"
    )
    assert failed["status"] == "failed" and failed["error"] == {"code": 5, "message": "boom"}
    assert failed["variables"] == {"step": 3} and failed["status_message"] == "boom"


def _cli_process(env: dict[str, str], *argv: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "taskstate_client.cli", *argv],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_watch_all_prints_one_line_per_change(live_server: ServerProcess, token: str) -> None:
    env = {"TASKSTATE_ADDRESS": live_server.address, "TASKSTATE_TOKEN": token}
    proc = _cli_process(env, "watch-all", "--status", "completed", "--count", "1")
    try:
        assert proc.stderr is not None and proc.stdout is not None
        assert proc.stderr.readline().startswith("taskstate: watching")  # registered
        with TaskClient(live_server.address, token=token) as client:
            task = client.create(variables={"a": 1})  # working: filtered out
            client.complete(task.task_id, {"ok": True})
        line = proc.stdout.readline()
        assert proc.wait(30) == 0, proc.stderr.read()
    finally:
        proc.kill()
        proc.wait()
    event = json.loads(line)
    assert event["task_id"] == task.task_id and event["status"] == "completed"
    assert event["result"] == {"ok": True}


def test_connection_refused_hint(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TASKSTATE_ADDRESS", raising=False)
    code, _, err = run(capsys, "--address", "127.0.0.1:1", "list")
    assert code == 1
    assert err.startswith(
        "taskstate: cannot reach a server at 127.0.0.1:1: is a server running there? "
        "set TASKSTATE_ADDRESS or --address\n"
    )


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--version")
    assert code == 0 and out == f"taskstate {metadata.version('taskstate-client')}\n"
    done = subprocess.run(
        [sys.executable, "-m", "taskstate_client.cli", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and done.stdout.startswith("taskstate ")


def test_version_without_package_metadata(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(name: str) -> str:
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "version", missing)
    assert client_version() == FALLBACK_VERSION


def test_a_command_for_every_rpc_and_exit_codes_in_help(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(capsys, "--help")
    assert code == 0
    for command in RPC_COMMANDS:
        assert f"    {command} " in out or f"    {command}\n" in out, command
    assert "Exit codes: 0 ok; 1 the server refused the call or cannot be reached; 2 " in out
    assert "@FILE or - (stdin)" in out


def test_status_names_are_mcp_names() -> None:
    assert [str(s) for s in TaskStatus] == [
        "working",
        "input_required",
        "completed",
        "failed",
        "cancelled",
    ]
    assert f"{TaskStatus.COMPLETED}" == "completed"
