"""No input, however malformed, may produce INTERNAL or UNKNOWN (docs/design.md §6).

Requests are sent as raw bytes through ``channel.unary_unary``/``unary_stream`` with identity
serializers, so the server sees exactly what we built: garbage, truncated fields, bad UTF-8,
hand-built deeply nested Values, NaN numbers, out-of-range durations.
"""

from __future__ import annotations

import math
import random

import grpc
import pytest
from _grpc_helpers import (
    COMPLETED,
    INPUT_REQUIRED,
    SC,
    create,
    dur,
    ld,
    map_entry,
    mask,
    nested_list_value,
    nested_struct_value,
    vi,
)
from _harness import NEVER_CODES, Outcome, check_outcome, outcome_from_error
from google.protobuf import duration_pb2, struct_pb2
from google.protobuf.message import DecodeError
from taskstate.v1 import taskstate_pb2 as pb
from taskstate_server.app import MAX_METADATA_BYTES

SERVICE = "/taskstate.v1.TaskService/"
STREAMS = {"WatchTask", "WatchTasks"}
REQUEST_TYPES = {
    "CreateTask": pb.CreateTaskRequest,
    "GetTask": pb.GetTaskRequest,
    "ListTasks": pb.ListTasksRequest,
    "UpdateTaskStatus": pb.UpdateTaskStatusRequest,
    "SetVariables": pb.SetVariablesRequest,
    "PutIfVersion": pb.PutIfVersionRequest,
    "CompleteTask": pb.CompleteTaskRequest,
    "CancelTask": pb.CancelTaskRequest,
    "DeleteTask": pb.DeleteTaskRequest,
    "WaitTask": pb.WaitTaskRequest,
    "WatchTask": pb.WatchTaskRequest,
    "WatchTasks": pb.WatchTasksRequest,
    "ClaimTask": pb.ClaimTaskRequest,
    "RenewLease": pb.RenewLeaseRequest,
}
IA = SC.INVALID_ARGUMENT


def raw_call(channel: grpc.Channel, method: str, payload: bytes, deadline: float = 5.0) -> Outcome:
    """Sends ``payload`` as the request bytes; a stream is read until it ends or errs."""
    path = SERVICE + method
    try:
        if method in STREAMS:
            call = channel.unary_stream(path)(payload, timeout=deadline)
            messages = list(call)
            return Outcome(code=SC.OK, response=messages)
        return Outcome(code=SC.OK, response=channel.unary_unary(path)(payload, timeout=deadline))
    except grpc.RpcError as err:
        return outcome_from_error(err)


def parses(method: str, payload: bytes) -> bool:
    try:
        REQUEST_TYPES[method].FromString(payload)
    except DecodeError:
        return False
    return True


GARBAGE = {
    "ff": b"\xff\xff\xff\xff",
    "len-overflow": b"\x0a\xff\xff\xff\xff\x0f",
    "truncated-string": b"\x0a\x05ab",
    "bad-utf8-field1": ld(1, b"\xc3\x28"),
    "surrogate-utf8-field1": ld(1, b"\xed\xa0\x80"),
    "wire-type-7": b"\x0f\x01",
    "field-zero": b"\x02\x01a",
    "open-group": b"\x0b",
    "varint-too-long": b"\x08" + b"\xff" * 11,
    "huge-tag": b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01",
}


@pytest.mark.parametrize("garbage", list(GARBAGE))
@pytest.mark.parametrize("method", list(REQUEST_TYPES))
def test_garbage_bytes(raw_channel, method, garbage):
    payload = GARBAGE[garbage]
    out = raw_call(raw_channel, method, payload)
    assert out.code not in NEVER_CODES, out.describe()
    if not parses(method, payload):
        check_outcome(out, IA, "INVALID_ARGUMENT", what=f"{method}/{garbage}")


@pytest.mark.parametrize("method", list(REQUEST_TYPES))
def test_random_bytes_never_internal(raw_channel, method):
    rng = random.Random(f"taskstate-{method}")
    for _ in range(25):
        payload = rng.randbytes(rng.randint(1, 64))
        out = raw_call(raw_channel, method, payload, deadline=2.0)
        assert out.code not in NEVER_CODES, f"{payload!r}: {out.describe()}"
        if not parses(method, payload):
            check_outcome(out, IA, "INVALID_ARGUMENT", what=repr(payload))


def deep_payloads(tid: str) -> dict[str, tuple[str, bytes]]:
    tid_b = tid.encode()
    out: dict[str, tuple[str, bytes]] = {}
    for depth in (11, 60, 200, 5000):
        lst, obj = nested_list_value(depth), nested_struct_value(depth)
        out[f"create-vars-list-{depth}"] = ("CreateTask", ld(4, map_entry(b"k", lst)))
        out[f"create-vars-struct-{depth}"] = ("CreateTask", ld(4, map_entry(b"k", obj)))
        out[f"setvars-{depth}"] = ("SetVariables", ld(1, tid_b) + ld(2, map_entry(b"k", lst)))
        out[f"complete-result-{depth}"] = (
            "CompleteTask",
            ld(1, tid_b) + vi(2, COMPLETED) + ld(4, lst),
        )
        out[f"complete-error-data-{depth}"] = (
            "CompleteTask",
            ld(1, tid_b) + vi(2, pb.TASK_STATUS_FAILED) + ld(5, vi(1, 1) + ld(3, obj)),
        )
        out[f"put-vars-{depth}"] = (
            "PutIfVersion",
            ld(1, tid_b)
            + vi(2, 1)
            + ld(3, ld(10, map_entry(b"k", lst)))
            + ld(4, ld(1, b"variables")),
        )
    return out


DEEP_CASES = list(deep_payloads("x"))


@pytest.mark.parametrize("case", DEEP_CASES)
def test_deeply_nested_values(stub, raw_channel, case):
    task = create(stub)
    method, payload = deep_payloads(task.task_id)[case]
    out = raw_call(raw_channel, method, payload)
    check_outcome(out, IA, "INVALID_ARGUMENT", what=case)
    assert stub.GetTask(pb.GetTaskRequest(task_id=task.task_id), timeout=5).task == task


def bad_utf8_payloads(tid: str) -> dict[str, tuple[str, bytes]]:
    tid_b = tid.encode()
    one = b"\x11" + b"\x00" * 7 + b"\xf0\x3f"  # Value.number_value = 1.0
    return {
        "create-var-key": ("CreateTask", ld(4, map_entry(b"\xff\xfe", one))),
        "create-var-string": ("CreateTask", ld(4, map_entry(b"k", ld(3, b"\xc3\x28")))),
        "create-request-method": ("CreateTask", ld(3, b"\x80abc")),
        "create-request-id": ("CreateTask", ld(5, b"\xe2\x82")),
        "setvars-key": ("SetVariables", ld(1, tid_b) + ld(2, map_entry(b"a\xff", one))),
        "status-message": (
            "UpdateTaskStatus",
            ld(1, tid_b) + vi(2, INPUT_REQUIRED) + ld(3, b"\xc0\xaf"),
        ),
        "struct-key": (
            "CompleteTask",
            ld(1, tid_b) + vi(2, COMPLETED) + ld(4, ld(5, ld(1, ld(1, b"\xfe") + ld(2, one)))),
        ),
        "mask-path": (
            "PutIfVersion",
            ld(1, tid_b) + vi(2, 1) + ld(3, b"") + ld(4, ld(1, b"\xff")),
        ),
        "page-token": ("ListTasks", ld(2, b"\xff\xff")),
    }


@pytest.mark.parametrize("case", list(bad_utf8_payloads("x")))
def test_bad_utf8(stub, raw_channel, case):
    task = create(stub)
    method, payload = bad_utf8_payloads(task.task_id)[case]
    out = raw_call(raw_channel, method, payload)
    check_outcome(out, IA, "INVALID_ARGUMENT", what=case)


def nan_requests(tid: str) -> dict[str, tuple[str, object]]:
    out: dict[str, tuple[str, object]] = {}
    for label, number in (("nan", math.nan), ("inf", math.inf), ("-inf", -math.inf)):
        v = struct_pb2.Value(number_value=number)
        nested = struct_pb2.Value(list_value=struct_pb2.ListValue(values=[v]))
        out[f"create-{label}"] = ("CreateTask", pb.CreateTaskRequest(variables={"n": v}))
        out[f"create-nested-{label}"] = (
            "CreateTask",
            pb.CreateTaskRequest(variables={"n": nested}),
        )
        out[f"setvars-{label}"] = (
            "SetVariables",
            pb.SetVariablesRequest(task_id=tid, variables={"n": v}),
        )
        out[f"put-{label}"] = (
            "PutIfVersion",
            pb.PutIfVersionRequest(
                task_id=tid,
                expected_version=1,
                task=pb.Task(variables={"n": v}),
                update_mask=mask("variables"),
            ),
        )
        out[f"put-result-{label}"] = (
            "PutIfVersion",
            pb.PutIfVersionRequest(
                task_id=tid, expected_version=1, task=pb.Task(result=v), update_mask=mask("result")
            ),
        )
        out[f"complete-result-{label}"] = (
            "CompleteTask",
            pb.CompleteTaskRequest(task_id=tid, status=COMPLETED, result=nested),
        )
        out[f"complete-error-data-{label}"] = (
            "CompleteTask",
            pb.CompleteTaskRequest(
                task_id=tid, status=pb.TASK_STATUS_FAILED, error=pb.TaskError(code=1, data=v)
            ),
        )
    return out


@pytest.mark.parametrize("case", list(nan_requests("x")))
def test_non_finite_numbers(stub, raw_channel, case):
    task = create(stub)
    method, request = nan_requests(task.task_id)[case]
    out = raw_call(raw_channel, method, request.SerializeToString())
    check_outcome(out, IA, "INVALID_ARGUMENT", what=case)
    assert stub.GetTask(pb.GetTaskRequest(task_id=task.task_id), timeout=5).task == task


def odd_requests(tid: str) -> dict[str, tuple[str, object, frozenset]]:
    """Odd but well-formed requests: case -> (method, request, allowed codes)."""
    ok_or_ia = frozenset({SC.OK, IA})
    ia = frozenset({IA})

    def d(seconds: int, nanos: int = 0) -> duration_pb2.Duration:
        return duration_pb2.Duration(seconds=seconds, nanos=nanos)

    def put(paths, **t):
        return pb.PutIfVersionRequest(
            task_id=tid, expected_version=1, task=pb.Task(**t), update_mask=mask(*paths)
        )

    return {
        "ttl-max-int64": ("CreateTask", pb.CreateTaskRequest(ttl=d(2**63 - 1)), ia),
        "ttl-min-int64": ("CreateTask", pb.CreateTaskRequest(ttl=d(-(2**63))), ia),
        "ttl-nanos-only-negative": ("CreateTask", pb.CreateTaskRequest(ttl=d(0, -5)), ia),
        "ttl-nanos-overflow": (
            "CreateTask",
            pb.CreateTaskRequest(ttl=d(1, 2_000_000_000)),
            ok_or_ia,
        ),
        "ttl-sign-mismatch": ("CreateTask", pb.CreateTaskRequest(ttl=d(10, -1)), ok_or_ia),
        "ttl-1ns": ("CreateTask", pb.CreateTaskRequest(ttl=d(0, 1)), ok_or_ia),
        "poll-zero": ("CreateTask", pb.CreateTaskRequest(poll_interval=d(0)), ok_or_ia),
        "poll-negative": ("CreateTask", pb.CreateTaskRequest(poll_interval=d(-1)), ok_or_ia),
        "poll-huge": ("CreateTask", pb.CreateTaskRequest(poll_interval=d(2**62)), ok_or_ia),
        "put-ttl-max-int64": ("PutIfVersion", put(["ttl"], ttl=d(2**63 - 1)), ia),
        "put-poll-huge": ("PutIfVersion", put(["poll_interval"], poll_interval=d(2**62)), ok_or_ia),
        "put-mask-empty-path": ("PutIfVersion", put([""]), ia),
        "put-mask-duplicate": (
            "PutIfVersion",
            put(["status_message", "status_message"], status_message="x"),
            ok_or_ia,
        ),
        "put-mask-subpath": ("PutIfVersion", put(["variables.a"]), ia),
        "put-mask-dotted-task": ("PutIfVersion", put(["task.status_message"]), ok_or_ia),
        "put-mask-upper": ("PutIfVersion", put(["STATUS_MESSAGE"]), ok_or_ia),
        "put-mask-camel": ("PutIfVersion", put(["statusMessage"]), ok_or_ia),
        "put-error-empty-value": (
            "PutIfVersion",
            put(["result"], result=struct_pb2.Value()),
            ok_or_ia,
        ),
        "create-empty-value": (
            "CreateTask",
            pb.CreateTaskRequest(variables={"e": struct_pb2.Value()}),
            ok_or_ia,
        ),
        "create-many-keys": (
            "CreateTask",
            pb.CreateTaskRequest(
                variables={f"k{i}": struct_pb2.Value(bool_value=True) for i in range(5000)}
            ),
            frozenset({SC.OK, IA, SC.RESOURCE_EXHAUSTED}),
        ),
        "create-request-id-long": (
            "CreateTask",
            pb.CreateTaskRequest(request_id="r" * 100_000),
            ok_or_ia,
        ),
        "create-request-id-control": (
            "CreateTask",
            pb.CreateTaskRequest(request_id="a\x00b"),
            ok_or_ia,
        ),
        "create-request-method-long": (
            "CreateTask",
            pb.CreateTaskRequest(request_method="m" * 1_000_000),
            ok_or_ia,
        ),
        "status-message-long": (
            "UpdateTaskStatus",
            pb.UpdateTaskStatusRequest(
                task_id=tid, status=INPUT_REQUIRED, status_message="s" * 1_000_000
            ),
            ok_or_ia,
        ),
        "list-page-size-max-int": ("ListTasks", pb.ListTasksRequest(page_size=2**31 - 1), ok_or_ia),
        "list-page-size-min-int": ("ListTasks", pb.ListTasksRequest(page_size=-(2**31)), ia),
        "list-token-long": ("ListTasks", pb.ListTasksRequest(page_token="A" * 100_000), ia),
        "list-status-unspecified": (
            "ListTasks",
            pb.ListTasksRequest(statuses=[pb.TASK_STATUS_UNSPECIFIED]),
            ok_or_ia,
        ),
        "list-status-negative": ("ListTasks", pb.ListTasksRequest(statuses=[-7]), ia),
        "wait-timeout-negative": (
            "WaitTask",
            pb.WaitTaskRequest(task_id=tid, timeout=d(-1)),
            ok_or_ia,
        ),
        "wait-timeout-huge": (
            "WaitTask",
            pb.WaitTaskRequest(task_id=tid, timeout=d(2**62)),
            ok_or_ia,
        ),
        "wait-timeout-nanos-bad": (
            "WaitTask",
            pb.WaitTaskRequest(task_id=tid, timeout=d(0, 1_500_000_000)),
            ok_or_ia,
        ),
        "wait-status-unspecified": (
            "WaitTask",
            pb.WaitTaskRequest(task_id=tid, timeout=dur(0.1), statuses=[0]),
            ok_or_ia,
        ),
        "watch-after-max": (
            "WatchTask",
            pb.WatchTaskRequest(task_id=tid, after_version=2**64 - 1),
            frozenset({SC.OK, IA, SC.DEADLINE_EXCEEDED}),
        ),
        "watch-tasks-negative-status": ("WatchTasks", pb.WatchTasksRequest(statuses=[-1]), ia),
        "unknown-fields": (
            "GetTask",
            pb.GetTaskRequest(task_id=tid).SerializeToString() + vi(99, 1),
            frozenset({SC.OK}),
        ),
        "complete-error-code-min": (
            "CompleteTask",
            pb.CompleteTaskRequest(
                task_id=tid, status=pb.TASK_STATUS_FAILED, error=pb.TaskError(code=-(2**31))
            ),
            frozenset({SC.OK}),
        ),
    }


@pytest.mark.parametrize("case", list(odd_requests("x")))
def test_odd_requests_never_internal(stub, raw_channel, case):
    task = create(stub)
    method, request, allowed = odd_requests(task.task_id)[case]
    payload = request if isinstance(request, bytes) else request.SerializeToString()
    out = raw_call(raw_channel, method, payload, deadline=1.0 if method in STREAMS else 5.0)
    assert out.code not in NEVER_CODES, f"{case}: {out.describe()}"
    assert out.code in allowed, f"{case}: {out.describe()}"
    if out.code == IA:
        check_outcome(out, IA, "INVALID_ARGUMENT", what=case)


# The server allows MAX_METADATA_BYTES of request metadata (soft limit = hard limit), so
# the answer depends on the header's size alone: a bad token under the limit is
# UNAUTHENTICATED, any header over it RESOURCE_EXHAUSTED. The other headers of a call
# (:path, user-agent, ...) take ~600 bytes, hence the 1 KiB margin below the limit.
ODD_HEADERS = {
    "huge": ("Bearer " + "x" * 8000, SC.UNAUTHENTICATED),
    "just-under-limit": ("Bearer " + "x" * (MAX_METADATA_BYTES - 1024), SC.UNAUTHENTICATED),
    "just-over-limit": ("Bearer " + "x" * MAX_METADATA_BYTES, SC.RESOURCE_EXHAUSTED),
    "far-over-limit": ("Bearer " + "x" * (4 * MAX_METADATA_BYTES), SC.RESOURCE_EXHAUSTED),
    "two-words": ("Bearer tok tok", SC.UNAUTHENTICATED),
    "double-space": ("Bearer  spaced", SC.UNAUTHENTICATED),
    "upper-scheme": ("BEARER x", SC.UNAUTHENTICATED),
}


@pytest.mark.parametrize("case", list(ODD_HEADERS))
def test_odd_authorization_headers(live_server, case):
    header, expected = ODD_HEADERS[case]
    ch = grpc.insecure_channel(live_server.address)
    try:
        call = ch.unary_unary(SERVICE + "ListTasks")
        try:
            call(b"", timeout=5, metadata=(("authorization", header),))
            out = Outcome(code=SC.OK)
        except grpc.RpcError as err:
            out = outcome_from_error(err)
    finally:
        ch.close()
    if expected == SC.RESOURCE_EXHAUSTED:  # gRPC's own answer: no ErrorInfo of ours
        assert out.code == expected and "metadata size" in out.message, out.describe()
    else:
        check_outcome(out, expected)
