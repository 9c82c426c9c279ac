"""A task's size as a gRPC message, computed from the domain model.

Why: every read of a task (GetTask, WatchTask, WaitTask, WatchTasks, a ListTasks page)
sends it as one protobuf message, and every gRPC client refuses messages over 4 MiB
by default. The limits count JSON bytes, and JSON grows on the wire: a number in a
list is 2 bytes of JSON (`0,`) but 11 of protobuf (a google.protobuf.Value holds a
double). So a task within every JSON limit could be stored and then be unreadable by
a default client, which only says RESOURCE_EXHAUSTED "received message larger than
max". TaskStore refuses such a write instead (check_task_size).

The domain does not import protobuf: this mirrors the encoding of taskstate.v1.Task
and of google.protobuf.Value/Struct/ListValue by hand (a tag, a length varint, the
body). tests/unit/test_domain_wire.py holds it equal to the transport's serialized bytes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Final

from . import describe
from .errors import VariablesTooLarge
from .model import JSON, UNSET, Lease, LeasePolicy, Task

CLIENT_DEFAULT_MAX_MESSAGE_BYTES: Final = 4 * 1024 * 1024
"""The largest message every gRPC client (Python, Go, Node, Rust/tonic) accepts by default."""

MAX_TASK_WIRE_BYTES: Final = CLIENT_DEFAULT_MAX_MESSAGE_BYTES - 64 * 1024
"""The most a stored task may take as a serialized taskstate.v1.Task. The 64 KiB left
hold the response around it (a few bytes of framing, a ListTasks page token) with a
wide margin. It is also the byte budget of a ListTasks page (transport/sizes.py), so a
page can always hold the largest task."""

PROTO_BYTES_PER_JSON_BYTE: Final = 11 / 2
"""A task's wire size is at most this many times the bytes of its JSON record
(records.encode): every part of the message is bounded by 11/2 times the record bytes
that hold it, the worst being a number in a list (`0,`: 2 bytes; 11 on the wire)."""

_STATUS: Final = 2  # Task.status: tag + one-byte enum (1 to 5)

_POLICY_NUMBERS: Final = {LeasePolicy.UNSPECIFIED: 0, LeasePolicy.FAIL: 1, LeasePolicy.RELEASE: 2}
"""Task.lease_policy's enum numbers (the proto's LeasePolicy)."""


def varint_bytes(n: int) -> int:
    """Bytes of `n` as a protobuf varint; a negative int32/int64 takes all 10."""
    if n < 0:
        return 10
    return max(1, (n.bit_length() + 6) // 7)


def framed(body: int) -> int:
    """A length-delimited field of number <= 15 (one tag byte), holding `body` bytes."""
    return body + 2 if body < 128 else body + 1 + varint_bytes(body)


def _utf8_bytes(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def _text_field(text: str) -> int:
    """A proto3 string field: absent when empty."""
    return framed(_utf8_bytes(text)) if text else 0


def _int_field(n: int, tag_bytes: int = 1) -> int:
    """A proto3 varint field: absent when zero. Fields 16 and above take a 2-byte tag."""
    return tag_bytes + varint_bytes(n) if n else 0


_FRAMED_SCALARS: Final[dict[type, int]] = {int: 11, float: 11, bool: 4, type(None): 4}
"""A number (tag + double), a bool or a null (tag + one-byte varint) as a framed Value.
Looked up by exact type: anything else (a str, a container, a subclass) is measured."""

_SHORT: Final = 125
"""An ASCII string of up to this many characters takes 4 bytes more as a framed Value
(its lengths, n + 2 and n, are one-byte varints)."""


def value_bytes(value: JSON) -> int:
    """The body of a google.protobuf.Value holding `value` (unframed)."""
    if value is None or isinstance(value, bool):
        return 2  # null_value or bool_value: tag + one-byte varint
    if isinstance(value, int | float):
        return 9  # number_value: tag + 8-byte double
    if isinstance(value, str):
        return framed(_utf8_bytes(value))
    if isinstance(value, list):  # list_value: a ListValue of framed Values
        return framed(_list_body(value))
    return framed(_struct_body(value))  # struct_value: a Struct of map entries


def _framed_value(value: JSON) -> int:
    """A Value as a field of its parent (a list element, a map entry's value)."""
    size = _FRAMED_SCALARS.get(type(value))
    return size if size is not None else framed(value_bytes(value))


_COUNTED: Final = frozenset([str, *_FRAMED_SCALARS])


def _list_body(items: list[JSON]) -> int:
    """The bulk of a large list is numbers, bools, nulls or short strings: counted in C
    (by type, then by length), so only the rest costs a call each."""
    by_type = Counter(map(type, items))
    body = sum(size * by_type[t] for t, size in _FRAMED_SCALARS.items())
    if by_type[str]:
        body += _texts_bytes(items if by_type[str] == len(items) else _texts(items))
    if len(items) > by_type[str] + sum(by_type[t] for t in _FRAMED_SCALARS):
        body += sum(_framed_value(v) for v in items if type(v) not in _COUNTED)
    return body


def _texts(items: list[JSON]) -> list[str]:
    return [v for v in items if type(v) is str]


def _texts_bytes(texts: list[str]) -> int:
    """Strings as framed Values."""
    if max(map(len, texts)) <= _SHORT and all(map(str.isascii, texts)):
        return sum(map(len, texts)) + 4 * len(texts)
    return sum(framed(framed(_utf8_bytes(t))) for t in texts)


def _struct_body(fields: dict[str, JSON]) -> int:
    """The map entries of a Struct (or of Task.variables), framing included; upb writes
    an entry's key and value even when empty."""
    body = 0
    for key, item in fields.items():
        body += framed(framed(_utf8_bytes(key)) + _framed_value(item))
    return body


def _entry(key: str, item: JSON) -> int:
    """One map<string, Value> entry, framing included."""
    return _struct_body({key: item})


def _time_bytes(ms: int) -> int:
    """A Timestamp or Duration message (framed) of `ms` milliseconds, as the transport
    converts it: seconds = ms // 1000, nanos = (ms % 1000) * 10**6."""
    return framed(_int_field(ms // 1000) + _int_field((ms % 1000) * 1_000_000))


def _lease_bytes(lease: Lease) -> int:
    """Task.lease (field 14), framed: a Lease with both of its times always set."""
    body = _text_field(lease.worker_id) + _int_field(lease.token)
    body += _time_bytes(lease.expire_time_ms) + _time_bytes(lease.duration_ms)
    return framed(body)


def _parts(task: Task) -> Iterator[tuple[str, JSON, int]]:
    """The task's fields, each with its size on the wire, framing included: (JSON path,
    the value to look into for the largest part or None, bytes). The fixed-size fields
    are one part, "task"."""
    size = _text_field(task.task_id) + _STATUS + _int_field(task.version)
    size += _time_bytes(task.create_time_ms) + _time_bytes(task.update_time_ms)
    size += _time_bytes(task.poll_interval_ms)
    if task.ttl_ms is not None:
        size += _time_bytes(task.ttl_ms)
    if task.expire_time_ms is not None:
        size += _time_bytes(task.expire_time_ms)
    if task.lease is not None:
        size += _lease_bytes(task.lease)
    size += _int_field(_POLICY_NUMBERS[task.lease_policy])
    size += _int_field(task.max_attempts, tag_bytes=2) + _int_field(task.attempt, tag_bytes=2)
    if task.subject:  # field 18: a 2-byte tag
        size += 1 + _text_field(task.subject)
    size += _int_field(int(task.cancel_requested), tag_bytes=2)
    yield "task", None, size
    yield "status_message", None, _text_field(task.status_message)
    yield "request_method", None, _text_field(task.request_method)
    for key, item in task.variables.items():
        yield describe.json_path("variables", [key]), item, _entry(key, item)
    # Fields 19 and 20: each entry takes one tag byte more than _entry counts.
    for key, item in task.input_requests.items():
        yield describe.json_path("input_requests", [key]), item, _entry(key, item) + 1
    for key, item in task.input_responses.items():
        yield describe.json_path("input_responses", [key]), item, _entry(key, item) + 1
    if task.result is not UNSET:
        yield "result", task.result, framed(value_bytes(task.result))
    if task.error is not None:
        code = _int_field(task.error.code)
        message = _text_field(task.error.message)
        yield "error.message", None, message
        data = 0
        if task.error.data is not UNSET:
            data = framed(value_bytes(task.error.data))
            yield "error.data", task.error.data, data
        yield "error", None, framed(code + message + data) - message - data


def task_bytes(task: Task) -> int:
    """Bytes of the task serialized as a taskstate.v1.Task (TASK_VIEW_FULL)."""
    return sum(size for _, _, size in _parts(task))


def check_task_size(task: Task, record_bytes: int) -> None:
    """Refuses (VariablesTooLarge) a task no default gRPC client could read.

    `record_bytes` is the size of the task's JSON record, which every write builds
    anyway: a record of up to MAX_TASK_WIRE_BYTES / PROTO_BYTES_PER_JSON_BYTE bytes (~720
    KiB) cannot make a task too large, so only larger ones are walked.
    """
    if record_bytes * PROTO_BYTES_PER_JSON_BYTE <= MAX_TASK_WIRE_BYTES:
        return
    size = task_bytes(task)
    if size <= MAX_TASK_WIRE_BYTES:
        return
    grown = ""
    if size > record_bytes:
        grown = (
            f" (the task is {record_bytes} bytes as JSON: a number in a list takes 2 bytes of JSON "
            "and 11 of protobuf)"
        )
    raise VariablesTooLarge(
        f"the task would be {size} bytes as a gRPC message, over the 4 MiB every gRPC "
        f"client accepts by default (a task may take up to {MAX_TASK_WIRE_BYTES} bytes)"
        f"{_largest_part(task)}{grown}; keep large data elsewhere and a reference to it "
        "in the task"
    )


def _largest_part(task: Task) -> str:
    path, value, size = max(_parts(task), key=lambda part: part[2])
    if value is not None:
        path, size = describe.largest_member(path, value, size, _member_sizes)
    return f"; the largest part is {path} at {size} bytes on the wire"


def _member_sizes(
    value: dict[str, JSON] | list[JSON],
) -> Iterator[tuple[describe.PathPart, JSON, int]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield key, item, _entry(key, item)
    else:
        for i, item in enumerate(value):
            yield i, item, _framed_value(item)
