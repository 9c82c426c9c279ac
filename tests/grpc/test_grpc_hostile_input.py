"""Hostile input, through a real server on every store: each request is built to make Python
itself fail (recursion, huge numbers, huge durations, megabyte keys) and must come back as a
clear INVALID_ARGUMENT that names the offending field by its path, in a message short enough
to cross gRPC's trailers, and change nothing. INTERNAL or UNKNOWN is a server bug.
"""

from __future__ import annotations

import base64

import pytest
from _grpc_helpers import (
    COMPLETED,
    FAILED,
    INPUT_REQUIRED,
    SC,
    create,
    get,
    list_all,
    mask,
    py,
    value,
)
from _harness import check_outcome, rpc
from google.protobuf import duration_pb2, struct_pb2
from taskstate.v1 import taskstate_pb2 as pb

MiB = 1024 * 1024
LONG = MiB + 1
"""One byte over the default string limit (the default variables cap, 1 MiB)."""
MAX_DURATION_S = 315_576_000_000
INT64_MAX = 2**63 - 1
MAX_MESSAGE_BYTES = 1024
"""Every error message stays this short, whatever the input (trailers are capped at 8 KiB)."""
QUOTED = 32
"""Characters of a client's key that a path quotes before an ellipsis."""


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def d(seconds: int, nanos: int = 0) -> duration_pb2.Duration:
    return duration_pb2.Duration(seconds=seconds, nanos=nanos)


def nest(depth: int, leaf: object = 1) -> object:
    v = leaf
    for _ in range(depth):
        v = [v]
    return v


def deep_path(root: str, depth: int) -> str:
    """The path of the list at ``depth`` inside ``nest(...)``: root[0][0]..."""
    return root + "[0]" * depth


PAGE_TOKENS = {
    "nested-arrays-1000": b64(b"[" * 1000 + b"]" * 1000),
    "nested-arrays-100000": b64(b"[" * 100_000 + b"]" * 100_000),
    "nested-objects-900": b64(b'{"a":' * 900 + b"0" + b"}" * 900),
    "nested-arrays-300": b64(b"[" * 300 + b"]" * 300),
    "huge-integer": b64(b'{"a":' + b"9" * 600 + b',"f":"x"}'),
    "huge-exponent": b64(b'{"a":1e999999,"f":"00000000"}'),
    "json-string": b64(b'"a"'),
    "json-null": b64(b"null"),
    "not-utf8": b64(b"\xff\xfe\xfd"),
    "nul": "\x00",
    "non-ascii": "\u00e9" * 10,
    "one-char": "A",
    "one-megabyte": "A" * MiB,
}


def hostile_requests(tid: str) -> dict[str, tuple[str, object, str]]:
    """case -> (method, request, the exact field path the violation must name)."""

    def put(paths: list[str], **task: object) -> pb.PutIfVersionRequest:
        return pb.PutIfVersionRequest(
            task_id=tid, expected_version=1, task=pb.Task(**task), update_mask=mask(*paths)
        )

    def complete(**kw: object) -> pb.CompleteTaskRequest:
        return pb.CompleteTaskRequest(task_id=tid, **kw)

    cases: dict[str, tuple[str, object, str]] = {
        f"token-{name}": ("ListTasks", pb.ListTasksRequest(page_token=tok), "page_token")
        for name, tok in PAGE_TOKENS.items()
    }
    cases |= {
        # Durations outside what protobuf allows, and valid ones far over the max ttl.
        "ttl-int64-max": ("CreateTask", pb.CreateTaskRequest(ttl=d(INT64_MAX)), "ttl"),
        "ttl-int64-min": ("CreateTask", pb.CreateTaskRequest(ttl=d(-(2**63))), "ttl"),
        "ttl-past-duration-range": (
            "CreateTask",
            pb.CreateTaskRequest(ttl=d(MAX_DURATION_S + 1)),
            "ttl",
        ),
        "ttl-max-duration": ("CreateTask", pb.CreateTaskRequest(ttl=d(MAX_DURATION_S)), "ttl"),
        "ttl-nanos-1e9": ("CreateTask", pb.CreateTaskRequest(ttl=d(0, 10**9)), "ttl"),
        "ttl-nanos-int32-min": ("CreateTask", pb.CreateTaskRequest(ttl=d(5, -(2**31))), "ttl"),
        "poll-int64-max": (
            "CreateTask",
            pb.CreateTaskRequest(poll_interval=d(INT64_MAX)),
            "poll_interval",
        ),
        "poll-max-duration": (
            "CreateTask",
            pb.CreateTaskRequest(poll_interval=d(MAX_DURATION_S)),
            "poll_interval",
        ),
        "put-ttl-int64-max": ("PutIfVersion", put(["ttl"], ttl=d(INT64_MAX)), "task.ttl"),
        "put-ttl-max-duration": (
            "PutIfVersion",
            put(["ttl"], ttl=d(MAX_DURATION_S)),
            "task.ttl",
        ),
        "put-poll-int64-max": (
            "PutIfVersion",
            put(["poll_interval"], poll_interval=d(INT64_MAX)),
            "task.poll_interval",
        ),
        "wait-timeout-int64-max": (
            "WaitTask",
            pb.WaitTaskRequest(task_id=tid, timeout=d(INT64_MAX)),
            "timeout",
        ),
        "wait-timeout-int64-min": (
            "WaitTask",
            pb.WaitTaskRequest(task_id=tid, timeout=d(-(2**63))),
            "timeout",
        ),
        "wait-timeout-nanos-1e9": (
            "WaitTask",
            pb.WaitTaskRequest(task_id=tid, timeout=d(1, 10**9)),
            "timeout",
        ),
        # Values: depth, megabyte keys, numbers, each named by its JSON path.
        "var-depth-11": (
            "CreateTask",
            pb.CreateTaskRequest(variables={"k": value(nest(11))}),
            deep_path("variables.k", 10),
        ),
        "var-depth-30": (
            "SetVariables",
            pb.SetVariablesRequest(task_id=tid, variables={"a b": value(nest(30))}),
            deep_path('variables["a b"]', 10),
        ),
        "result-depth-30": (
            "CompleteTask",
            complete(status=COMPLETED, result=value({"x": nest(30)})),
            deep_path("result.x", 9),
        ),
        "var-key-1MB": (
            "CreateTask",
            pb.CreateTaskRequest(variables={"k" * MiB: value(1)}),
            'variables["' + "k" * QUOTED + '\u2026"]',
        ),
        "setvars-key-1MB-nonprintable": (
            "SetVariables",
            pb.SetVariablesRequest(task_id=tid, variables={"\x01" * MiB: value(1)}),
            'variables["' + "\\u0001" * QUOTED + '\u2026"]',
        ),
        "var-key-control": (
            "CreateTask",
            pb.CreateTaskRequest(variables={"a\nb": value(1)}),
            'variables["a\\nb"]',
        ),
        "var-nan-nested": (
            "SetVariables",
            pb.SetVariablesRequest(
                task_id=tid,
                variables={
                    "n": struct_pb2.Value(
                        list_value=struct_pb2.ListValue(
                            values=[value(0), struct_pb2.Value(number_value=float("nan"))]
                        )
                    )
                },
            ),
            "variables.n[1]",
        ),
        # Strings outside JSON values: the string limit (default: the variables cap).
        "error-message-long": (
            "CompleteTask",
            complete(status=FAILED, error=pb.TaskError(code=1, message="m" * LONG)),
            "error.message",
        ),
        "status-message-long": (
            "UpdateTaskStatus",
            pb.UpdateTaskStatusRequest(
                task_id=tid, status=INPUT_REQUIRED, status_message="s" * LONG
            ),
            "status_message",
        ),
        "put-status-message-long": (
            "PutIfVersion",
            put(["status_message"], status_message="s" * LONG),
            "task.status_message",
        ),
        "request-method-long": (
            "CreateTask",
            pb.CreateTaskRequest(request_method="m" * LONG),
            "request_method",
        ),
        "request-id-1MB": ("CreateTask", pb.CreateTaskRequest(request_id="r" * MiB), "request_id"),
        "request-id-nul": ("CreateTask", pb.CreateTaskRequest(request_id="a\x00b"), "request_id"),
        # Field masks: client strings quoted in the message, so bounded.
        "mask-10000-paths": (
            "PutIfVersion",
            put([f"bogus{i}" for i in range(10_000)]),
            "update_mask",
        ),
        "mask-1MB-path": ("PutIfVersion", put(["p" * MiB]), "update_mask"),
    }
    return cases


CASES = list(hostile_requests("x"))


@pytest.mark.parametrize("case", CASES)
def test_hostile_input_is_invalid_argument(stub, case):
    task = create(stub)
    method, request, field = hostile_requests(task.task_id)[case]
    out = rpc(getattr(stub, method), request, timeout=20)
    check_outcome(out, SC.INVALID_ARGUMENT, "INVALID_ARGUMENT", what=case)
    assert [f for f, _ in out.violations] == [field], f"{case}: {out.describe()[:2000]}"
    assert out.message.startswith(field + ": "), f"{case}: {out.message[:2000]!r}"
    assert len(out.message.encode()) <= MAX_MESSAGE_BYTES, f"{case}: {len(out.message)} chars"
    assert get(stub, task.task_id) == task, "a refused request changes nothing"
    assert [t.task_id for t in list_all(stub)] == [task.task_id], "no task was created"


def oversized_requests(tid: str) -> dict[str, tuple[str, object, str, str]]:
    """case -> (method, request, the value's root, the path of its largest part)."""
    image = {"content": [{"type": "text", "text": "hi"}, {"type": "image", "data": "A" * LONG}]}
    return {
        "create-vars": (
            "CreateTask",
            pb.CreateTaskRequest(variables={"progress": value({"items": [1, 2, "x" * LONG]})}),
            "variables",
            "variables.progress.items[2]",
        ),
        "setvars-long-key": (
            "SetVariables",
            pb.SetVariablesRequest(task_id=tid, variables={"m": value({"k" * LONG: 1})}),
            "variables",
            'variables.m["' + "k" * QUOTED + '\u2026"]',
        ),
        "complete-result": (
            "CompleteTask",
            pb.CompleteTaskRequest(task_id=tid, status=COMPLETED, result=value(image)),
            "result",
            "result.content[1].data",
        ),
        "complete-error-data": (
            "CompleteTask",
            pb.CompleteTaskRequest(
                task_id=tid,
                status=FAILED,
                error=pb.TaskError(code=1, data=value({"trace": "t" * LONG})),
            ),
            "error.data",
            "error.data.trace",
        ),
        "put-result": (
            "PutIfVersion",
            pb.PutIfVersionRequest(
                task_id=tid,
                expected_version=1,
                task=pb.Task(result=value(image)),
                update_mask=mask("result"),
            ),
            "task.result",
            "task.result.content[1].data",
        ),
        "put-vars": (
            "PutIfVersion",
            pb.PutIfVersionRequest(
                task_id=tid,
                expected_version=1,
                task=pb.Task(variables={"a b": value(["x" * LONG])}),
                update_mask=mask("variables"),
            ),
            "task.variables",
            'task.variables["a b"][0]',
        ),
    }


@pytest.mark.parametrize("case", list(oversized_requests("x")))
def test_oversized_value_names_its_largest_part_and_the_flag(stub, case):
    """A string over the variables cap inside a value: RESOURCE_EXHAUSTED that says where the
    bytes are and which flag raises the cap (the string limit follows the cap by default)."""
    task = create(stub)
    method, request, root, largest = oversized_requests(task.task_id)[case]
    out = rpc(getattr(stub, method), request, timeout=20)
    check_outcome(out, SC.RESOURCE_EXHAUSTED, "VARIABLES_TOO_LARGE", what=case)
    assert out.message.startswith(root + ": serializes to "), out.message
    assert "--max-variables-bytes" in out.message, out.message
    assert f"the largest part is {largest} at " in out.message, out.message
    assert len(out.message.encode()) <= MAX_MESSAGE_BYTES, out.message
    assert get(stub, task.task_id) == task, "a refused request changes nothing"


EXTREME_NUMBERS = {
    "max": 1.7976931348623157e308,
    "min": -1.7976931348623157e308,
    "subnormal": 5e-324,
    "tiny": 2.2250738585072014e-308,
    "2^53": 2.0**53,
    "2^53+2": 2.0**53 + 2,
    "2^63": 2.0**63,
    "2^64": 2.0**64,
    "1e21": 1e21,
    "pi": 3.141592653589793,
    "0.1": 0.1,
}


def test_extreme_numbers_round_trip(stub):
    """Doubles at the edges of the format are stored and read back exactly on every store."""
    nums = {k: struct_pb2.Value(number_value=v) for k, v in EXTREME_NUMBERS.items()}
    task = stub.CreateTask(pb.CreateTaskRequest(variables=nums), timeout=10).task
    done = stub.CompleteTask(
        pb.CompleteTaskRequest(
            task_id=task.task_id, status=COMPLETED, result=value(list(EXTREME_NUMBERS.values()))
        ),
        timeout=10,
    ).task
    for t in (task, done, get(stub, task.task_id)):
        assert {k: v.number_value for k, v in t.variables.items()} == EXTREME_NUMBERS
    assert [v.number_value for v in get(stub, task.task_id).result.list_value.values] == list(
        EXTREME_NUMBERS.values()
    )


def test_odd_but_legal_values_round_trip(stub):
    """Keys and strings that are awkward in JSON, SQL or key-value stores are data, not errors."""
    awkward = {
        "": "empty key inside an object",
        "a b": "\x00 nul, \u2028 separator, \U0001f600 emoji",
        '"quoted"': "\\ backslash",
        "__proto__": {"constructor": "x"},
        "$where": "{'$gt': ''}",
        "x" * 1000: "a 1000-character key inside an object",
    }
    task = create(stub, variables={"v": awkward})
    assert py(task.variables["v"]) == awkward
    assert get(stub, task.task_id) == task
