"""Helpers for the gRPC integration tests: JSON <-> Value, task builders, raw wire bytes."""

from __future__ import annotations

import struct
from typing import Any

import grpc
import grpc.aio
from _harness import drain_stream, rpc
from _streams import END, StreamCollector
from google.protobuf import duration_pb2, field_mask_pb2, json_format, struct_pb2
from taskstate.v1 import taskstate_pb2 as pb

WORKING = pb.TASK_STATUS_WORKING
INPUT_REQUIRED = pb.TASK_STATUS_INPUT_REQUIRED
COMPLETED = pb.TASK_STATUS_COMPLETED
FAILED = pb.TASK_STATUS_FAILED
CANCELLED = pb.TASK_STATUS_CANCELLED
UNSPECIFIED = pb.TASK_STATUS_UNSPECIFIED

ALL_STATUSES = (WORKING, INPUT_REQUIRED, COMPLETED, FAILED, CANCELLED)
TERMINAL = (COMPLETED, FAILED, CANCELLED)
LEGAL = {
    WORKING: {INPUT_REQUIRED, COMPLETED, FAILED, CANCELLED},
    INPUT_REQUIRED: {WORKING, COMPLETED, FAILED, CANCELLED},
    COMPLETED: set(),
    FAILED: set(),
    CANCELLED: set(),
}

SC = grpc.StatusCode


def name(status: int) -> str:
    return pb.TaskStatus.Name(status).removeprefix("TASK_STATUS_").lower()


def value(py: Any) -> struct_pb2.Value:
    return json_format.ParseDict(py, struct_pb2.Value())


def number_list_value(n: int) -> struct_pb2.Value:
    """value([0] * n), built without json_format's per-item Python (many times faster):
    2n bytes of JSON, 11n on the wire."""
    out = struct_pb2.Value()
    out.list_value.values.extend([struct_pb2.Value(number_value=0)] * n)
    return out


def null() -> struct_pb2.Value:
    return struct_pb2.Value(null_value=struct_pb2.NULL_VALUE)


def variables(d: dict[str, Any]) -> dict[str, struct_pb2.Value]:
    return {k: (v if isinstance(v, struct_pb2.Value) else value(v)) for k, v in d.items()}


def py(v: struct_pb2.Value) -> Any:
    return json_format.MessageToDict(v)


def vars_of(task: pb.Task) -> dict[str, Any]:
    return {k: py(v) for k, v in task.variables.items()}


def dur(seconds: float) -> duration_pb2.Duration:
    d = duration_pb2.Duration()
    d.FromNanoseconds(round(seconds * 1e9))
    return d


def create(stub: Any, **kw: Any) -> pb.Task:
    if "variables" in kw and isinstance(kw["variables"], dict):
        kw["variables"] = variables(kw["variables"])
    return stub.CreateTask(pb.CreateTaskRequest(**kw), timeout=10).task


def get(stub: Any, task_id: str) -> pb.Task:
    return stub.GetTask(pb.GetTaskRequest(task_id=task_id), timeout=10).task


def set_status(stub: Any, task_id: str, status: int, message: str = "", **kw: Any) -> pb.Task:
    req = pb.UpdateTaskStatusRequest(task_id=task_id, status=status, status_message=message, **kw)
    return stub.UpdateTaskStatus(req, timeout=10).task


def set_vars(stub: Any, task_id: str, d: dict[str, Any], **kw: Any) -> pb.Task:
    req = pb.SetVariablesRequest(task_id=task_id, variables=variables(d), **kw)
    return stub.SetVariables(req, timeout=10).task


def task_in(stub: Any, status: int, **create_kw: Any) -> pb.Task:
    """A new task brought to ``status`` through the API."""
    task = create(stub, **create_kw)
    if status == WORKING:
        return task
    if status == INPUT_REQUIRED:
        return set_status(stub, task.task_id, INPUT_REQUIRED, "need input")
    if status == COMPLETED:
        req = pb.CompleteTaskRequest(task_id=task.task_id, status=COMPLETED, result=value("done"))
        return stub.CompleteTask(req, timeout=10).task
    if status == FAILED:
        req = pb.CompleteTaskRequest(
            task_id=task.task_id, status=FAILED, error=pb.TaskError(code=-1, message="boom")
        )
        return stub.CompleteTask(req, timeout=10).task
    if status == CANCELLED:
        return stub.CancelTask(pb.CancelTaskRequest(task_id=task.task_id), timeout=10).task
    raise ValueError(status)


def list_all(stub: Any, page_size: int = 1000, statuses: tuple[int, ...] = ()) -> list[pb.Task]:
    out: list[pb.Task] = []
    token = ""
    while True:
        resp = stub.ListTasks(
            pb.ListTasksRequest(page_size=page_size, page_token=token, statuses=statuses),
            timeout=30,
        )
        out.extend(resp.tasks)
        token = resp.next_page_token
        if not token:
            return out


# -- raw protobuf wire format (for requests the generated classes refuse to build) ---------


def varint(n: int) -> bytes:
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def ld(field_no: int, payload: bytes) -> bytes:
    """A length-delimited field."""
    return varint((field_no << 3) | 2) + varint(len(payload)) + payload


def vi(field_no: int, n: int) -> bytes:
    return varint(field_no << 3) + varint(n)


def fixed64(field_no: int, f: float) -> bytes:
    return varint((field_no << 3) | 1) + struct.pack("<d", f)


def nested_list_value(depth: int) -> bytes:
    """A google.protobuf.Value that is ``depth`` nested list_values around a number."""
    v = fixed64(2, 1.0)  # Value.number_value
    for _ in range(depth):
        v = ld(6, ld(1, v))  # Value.list_value { ListValue.values = v }
    return v


def nested_struct_value(depth: int) -> bytes:
    """A Value that is ``depth`` nested struct_values {"k": ...}."""
    v = fixed64(2, 1.0)
    for _ in range(depth):
        v = ld(5, ld(1, ld(1, b"k") + ld(2, v)))  # Value.struct_value{fields{key, value}}
    return v


def map_entry(key: bytes, value_bytes: bytes) -> bytes:
    return ld(1, key) + ld(2, value_bytes)


# -- async helpers -------------------------------------------------------------------------


async def open_watch_tasks(
    stub: Any, statuses: tuple[int, ...] = (), attempts: int = 40
) -> StreamCollector:
    """Opens WatchTasks and returns once the server is provably delivering to it.

    Nothing in the API says when the server has subscribed, so: create and complete a sentinel
    task, and wait for its terminal version on the stream; repeat a bounded number of times.
    Sentinel messages seen here are consumed; later ones (of earlier attempts) are possible,
    so callers skip tasks whose request_method is "sentinel".
    """
    stream = StreamCollector(stub.WatchTasks(pb.WatchTasksRequest(statuses=statuses)))
    for _ in range(attempts):
        created = (await stub.CreateTask(pb.CreateTaskRequest(request_method="sentinel"))).task
        done = (
            await stub.CompleteTask(
                pb.CompleteTaskRequest(task_id=created.task_id, status=COMPLETED)
            )
        ).task
        while True:
            msg = await stream.poll(0.5)
            if msg is None:
                break
            assert msg is not END, f"WatchTasks ended early: {stream.outcome}"
            if msg.task.task_id == done.task_id and msg.task.version == done.version:
                return stream
    await stream.close()
    raise AssertionError("WatchTasks never delivered a sentinel change")


async def next_real(stream: StreamCollector, within: float = 10.0) -> Any:
    """The next WatchTasks message that is not a sentinel."""
    while True:
        msg = await stream.next(within)
        if msg is END or msg.task.request_method != "sentinel":
            return msg


# -- every RPC that takes a task id ---------------------------------------------------------


def mask(*paths: str) -> field_mask_pb2.FieldMask:
    return field_mask_pb2.FieldMask(paths=list(paths))


BY_ID: dict[str, Any] = {
    "GetTask": lambda tid: pb.GetTaskRequest(task_id=tid),
    "UpdateTaskStatus": lambda tid: pb.UpdateTaskStatusRequest(task_id=tid, status=INPUT_REQUIRED),
    "SetVariables": lambda tid: pb.SetVariablesRequest(task_id=tid, variables=variables({"a": 1})),
    "PutIfVersion": lambda tid: pb.PutIfVersionRequest(
        task_id=tid,
        expected_version=1,
        task=pb.Task(status_message="x"),
        update_mask=mask("status_message"),
    ),
    "CompleteTask": lambda tid: pb.CompleteTaskRequest(
        task_id=tid, status=COMPLETED, result=value(1)
    ),
    "CancelTask": lambda tid: pb.CancelTaskRequest(task_id=tid),
    "DeleteTask": lambda tid: pb.DeleteTaskRequest(task_id=tid),
    "WaitTask": lambda tid: pb.WaitTaskRequest(task_id=tid, timeout=dur(0.2)),
    "WatchTask": lambda tid: pb.WatchTaskRequest(task_id=tid),
    "ProvideInput": lambda tid: pb.ProvideInputRequest(
        task_id=tid, input_responses=variables({"q": 1})
    ),
    "RequestCancel": lambda tid: pb.RequestCancelRequest(task_id=tid),
}
"""RPC name -> request builder for a task id (valid for a fresh working task at version 1)."""


def call_by_id(stub: Any, method: str, task_id: str, deadline: float = 10.0) -> Any:
    """Calls one of BY_ID; a stream is drained (its messages are in ``.response``)."""
    request = BY_ID[method](task_id)
    if method == "WatchTask":
        messages, out = drain_stream(stub.WatchTask(request, timeout=deadline))
        out.response = messages
        return out
    return rpc(getattr(stub, method), request, timeout=deadline)
