"""Durations, proto conversion, request building, retry policy, CLI parsing: no server."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from google.protobuf import struct_pb2
from taskstate.v1 import taskstate_pb2 as pb
from taskstate_client import (
    MISSING,
    RetryPolicy,
    Task,
    TaskError,
    TaskStatus,
    parse_duration,
)
from taskstate_client import _requests as rq
from taskstate_client._convert import coerce_status, statuses_to_proto, task_from_proto
from taskstate_client._duration import format_duration, to_proto
from taskstate_client._watch import WatchCursor
from taskstate_client.cli import build_parser, main

# -- durations ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("500ms", 0.5),
        ("90s", 90),
        ("5m", 300),
        ("1h", 3600),
        ("2d", 172800),
        ("1h30m", 5400),
        ("1.5s", 1.5),
        ("10", 10),
        (" 2M ", 120),
        ("0s", 0),
    ],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "5x", "m", "1h 30m", "-5s", "1.2.3s", "s5"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_duration_to_proto_and_back() -> None:
    assert to_proto(1.5).ToTimedelta() == timedelta(seconds=1.5)
    assert to_proto(timedelta(minutes=2)).seconds == 120
    assert format_duration(timedelta(seconds=3600)) == "3600s"
    assert format_duration(timedelta(milliseconds=500)) == "0.5s"


# -- statuses and conversion -------------------------------------------------------


@pytest.mark.parametrize("spelling", ["working", "WORKING", "TASK_STATUS_WORKING", " Working "])
def test_status_spellings(spelling: str) -> None:
    assert coerce_status(spelling) is TaskStatus.WORKING


def test_status_errors_and_filters() -> None:
    with pytest.raises(ValueError, match="one of"):
        coerce_status("done")
    assert statuses_to_proto(None) == []
    assert statuses_to_proto("completed") == [pb.TASK_STATUS_COMPLETED]
    assert statuses_to_proto([TaskStatus.FAILED, "cancelled"]) == [
        pb.TASK_STATUS_FAILED,
        pb.TASK_STATUS_CANCELLED,
    ]
    assert TaskStatus.COMPLETED.terminal and not TaskStatus.INPUT_REQUIRED.terminal
    assert f"{TaskStatus.WORKING}" == "working" and TaskStatus("failed") is TaskStatus.FAILED


def _proto_task(**kw: Any) -> pb.Task:
    msg = pb.Task(task_id="01a20f79-db4f-733b-b60b-ff9f3411fba2", status=pb.TASK_STATUS_WORKING)
    msg.version = kw.pop("version", 1)
    msg.create_time.FromMilliseconds(1_700_000_000_000)
    msg.update_time.FromMilliseconds(1_700_000_001_500)
    for key, value in kw.items():
        setattr(msg, key, value)
    return msg


def test_task_from_proto_minimal() -> None:
    task = task_from_proto(_proto_task())
    assert task.status is TaskStatus.WORKING
    assert task.create_time == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
    assert task.update_time.tzinfo is UTC
    assert task.ttl is None and task.expire_time is None and task.poll_interval is None
    assert task.variables == {}
    assert task.result is None and not task.has_result
    assert task.error is None
    assert not task.terminal


def test_task_from_proto_full() -> None:
    msg = _proto_task(status=pb.TASK_STATUS_FAILED, version=7, status_message="boom")
    msg.ttl.FromSeconds(60)
    msg.expire_time.FromMilliseconds(1_700_000_060_000)
    msg.poll_interval.FromMilliseconds(250)
    msg.variables["n"].number_value = 4
    msg.result.null_value = struct_pb2.NULL_VALUE
    msg.error.code = -32000
    msg.error.message = "bad"
    msg.error.data.string_value = "detail"
    task = task_from_proto(msg)
    assert task.status is TaskStatus.FAILED and task.terminal
    assert task.version == 7
    assert task.ttl == timedelta(seconds=60)
    assert task.poll_interval == timedelta(milliseconds=250)
    assert task.expire_time == task.create_time + timedelta(seconds=60)
    assert task.variables == {"n": 4}
    assert task.has_result and task.result is None  # JSON null, not absent
    assert task.error == TaskError(-32000, "bad", "detail")
    data = task.to_dict()
    assert data["status"] == "failed"
    assert data["ttl"] == "60s" and data["poll_interval"] == "0.25s"
    assert data["create_time"] == "2023-11-14T22:13:20.000Z"
    assert data["result"] is None
    assert data["error"] == {"code": -32000, "message": "bad", "data": "detail"}


def test_task_is_frozen() -> None:
    task = task_from_proto(_proto_task())
    with pytest.raises(AttributeError):
        task.version = 2  # type: ignore[misc]


# -- request building ------------------------------------------------------------


def test_create_request() -> None:
    req = rq.create(
        ttl=timedelta(minutes=5),
        poll_interval=0.5,
        request_method="tools/call",
        variables={"a": [1]},
        request_id="r1",
    )
    assert req.ttl.seconds == 300
    assert req.poll_interval.nanos == 500_000_000
    assert req.request_id == "r1"
    assert req.variables["a"].list_value.values[0].number_value == 1
    bare = rq.create(
        ttl=None, poll_interval=None, request_method="", variables=None, request_id=None
    )
    assert not bare.HasField("ttl") and not bare.HasField("poll_interval")


def test_put_if_version_builds_exactly_the_mask() -> None:
    req = rq.put_if_version("t", 3, status="completed", result={"ok": True}, ttl=None)
    assert list(req.update_mask.paths) == ["status", "result", "ttl"]
    assert req.expected_version == 3
    assert req.task.status == pb.TASK_STATUS_COMPLETED
    assert not req.task.HasField("ttl")  # masked and unset: the server picks
    req = rq.put_if_version("t", 1, variables={}, error=None, poll_interval=2)
    assert list(req.update_mask.paths) == ["variables", "error", "poll_interval"]
    assert not req.task.HasField("error")
    req = rq.put_if_version("t", 1, error=TaskError(7, "m", {"x": 1}), result=None)
    assert req.task.error.data.struct_value.fields["x"].number_value == 1
    assert req.task.result.WhichOneof("kind") == "null_value"
    with pytest.raises(ValueError, match="at least one"):
        rq.put_if_version("t", 1)


def test_complete_and_fail_requests() -> None:
    req = rq.complete("t", MISSING, "", None, None)
    assert not req.HasField("result") and not req.HasField("expected_version")
    req = rq.complete("t", None, "done", {"k": 1}, 4)
    assert req.result.WhichOneof("kind") == "null_value"
    assert req.expected_version == 4 and req.status == pb.TASK_STATUS_COMPLETED
    req = rq.fail("t", "broke", rq.DEFAULT_FAIL_CODE, MISSING, None, MISSING, None, None)
    assert req.status == pb.TASK_STATUS_FAILED
    assert req.status_message == "broke"
    assert req.error.code == -32000 and not req.error.HasField("data")
    req = rq.fail("t", "broke", 5, None, "custom", MISSING, None, None)
    assert req.status_message == "custom"
    assert req.error.data.WhichOneof("kind") == "null_value"


def test_update_plan() -> None:
    task = task_from_proto(_proto_task(version=4))
    task = Task(**{**_fields(task), "variables": {"n": 1, "nested": {"a": [1]}}})
    scratch = rq.scratch_copy(task)
    scratch["nested"]["a"].append(2)
    assert task.variables["nested"]["a"] == [1]  # deep copy: the snapshot is untouched
    req = rq.plan_update(task, None, scratch)
    assert req is not None and req.expected_version == 4
    assert list(req.update_mask.paths) == ["variables"]
    assert rq.plan_update(task, {"n": 1, "nested": {"a": [1]}}, scratch) is None
    returned = rq.plan_update(task, {"only": True}, scratch)
    assert returned is not None and set(returned.task.variables) == {"only"}


def _fields(task: Task) -> dict[str, Any]:
    return {name: getattr(task, name) for name in Task.__slots__}


# -- retry policy and watch cursor -------------------------------------------------


def test_retry_policy_delays_are_bounded_and_jittered() -> None:
    policy = RetryPolicy(max_attempts=6, initial_backoff=0.1, max_backoff=0.3)
    delays = list(policy.delays())
    assert len(delays) == 5
    caps = [0.1, 0.2, 0.3, 0.3, 0.3]
    assert all(0 <= d <= cap for d, cap in zip(delays, caps, strict=True))
    assert list(RetryPolicy(max_attempts=1).delays()) == []
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)


def test_watch_cursor_deduplicates_and_spots_terminal() -> None:
    cursor = WatchCursor("t", 2)
    assert cursor.accept(_proto_task(version=2)) is None
    got = cursor.accept(_proto_task(version=3))
    assert got is not None and got.version == 3 and not cursor.done
    assert cursor.accept(_proto_task(version=3)) is None
    assert cursor.request().after_version == 3
    final = cursor.accept(_proto_task(version=5, status=pb.TASK_STATUS_COMPLETED))
    assert final is not None and cursor.done


# -- CLI parsing -------------------------------------------------------------------


def _parse(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(list(argv))


def test_cli_create_arguments() -> None:
    args = _parse(
        "--address",
        "h:1",
        "--timeout",
        "500ms",
        "create",
        "--ttl",
        "5m",
        "--poll-interval",
        "2s",
        "--method",
        "tools/call",
        "--var",
        "n=1",
        "--var",
        'o={"a":[true,null]}',
        "--request-id",
        "abc",
    )
    assert args.address == "h:1"
    assert args.timeout == timedelta(milliseconds=500)
    assert args.ttl == timedelta(minutes=5)
    assert args.poll_interval == timedelta(seconds=2)
    assert dict(args.var) == {"n": 1, "o": {"a": [True, None]}}
    assert args.request_id == "abc" and args.method == "tools/call"


def test_cli_global_options_also_after_the_command() -> None:
    args = _parse("--timeout", "2s", "get", "ID", "--json", "--token", "t")
    assert args.json is True and args.token == "t" and args.task_id == "ID"
    assert args.timeout == timedelta(seconds=2)  # not reset by the subcommand
    args = _parse("get", "ID")
    assert args.json is False and args.timeout == timedelta(seconds=30)


def test_cli_wait_timeout_is_the_wait_not_the_deadline() -> None:
    args = _parse("wait", "ID", "--timeout", "1m", "--status", "input_required")
    assert args.wait_timeout == timedelta(minutes=1)
    assert args.timeout == timedelta(seconds=30)
    assert args.status == [TaskStatus.INPUT_REQUIRED]


def test_cli_other_commands() -> None:
    args = _parse("list", "--status", "working", "--status", "failed", "--all", "--page-size", "5")
    assert args.status == [TaskStatus.WORKING, TaskStatus.FAILED] and args.all
    args = _parse("set-var", "ID", "a=1", "b=null")
    assert dict(args.vars) == {"a": 1, "b": None}
    args = _parse("complete", "ID", "--result", "null")
    assert args.result is None and not args.fail
    args = _parse("complete", "ID", "--fail", "--code", "7", "--message", "m", "--data", "[1]")
    assert args.fail and args.code == 7 and args.data == [1]
    args = _parse("watch", "ID", "--after-version", "4")
    assert args.after_version == 4
    assert _parse("cancel", "ID", "--message", "bye").message == "bye"
    assert _parse("delete", "ID").command == "delete"


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["frobnicate"],
        ["get"],
        ["create", "--ttl", "soon"],
        ["create", "--var", "novalue"],
        ["create", "--var", "name=alice"],  # strings must be JSON-quoted
        ["list", "--status", "done"],
        ["complete", "ID", "--result", "1", "--fail"],
        ["complete", "ID", "--code", "3"],  # --code needs --fail
        ["watch", "ID", "--after-version", "-1"],
    ],
)
def test_cli_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert capsys.readouterr().err


def test_cli_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    assert "set-var" in capsys.readouterr().out
