"""Canonical JSON records (domain/records.py)."""

from __future__ import annotations

import json
import math

import pytest
from taskstate_server.domain import records
from taskstate_server.domain.model import UNSET, Task, TaskError, TaskStatus

TASK = Task(
    task_id="018f3c1e-7b2a-7c3d-8abc-0123456789ab",
    owner="alice",
    status=TaskStatus.INPUT_REQUIRED,
    version=3,
    create_time_ms=1000,
    update_time_ms=2000,
    status_message="caf\u00e9?",
    request_method="tools/call",
    ttl_ms=60000,
    expire_time_ms=61000,
    poll_interval_ms=500,
    variables={"z": 1.0, "a": [True, None, 2.5]},
)


def test_encoding_of_a_fixed_task_is_exactly_these_bytes():
    expected = (
        '{"create_time":1000,"expire_time":61000,"owner":"alice","poll_interval":500,'
        '"request_method":"tools/call","status":"input_required","status_message":"caf\u00e9?",'
        '"task_id":"018f3c1e-7b2a-7c3d-8abc-0123456789ab","ttl":60000,"update_time":2000,'
        '"variables":{"a":[true,null,2.5],"z":1},"version":3}'
    ).encode()
    assert records.encode(TASK) == expected


def test_optional_fields_round_trip_and_null_result_differs_from_unset():
    full = Task(
        **{
            **{f: getattr(TASK, f) for f in TASK.__slots__},
            "status": TaskStatus.FAILED,
            "result": None,
            "error": TaskError(code=-1, message="m", data={"d": [1]}),
            "request_id": "req-1",
            "ttl_ms": None,
            "expire_time_ms": None,
        }
    )
    data = records.encode(full)
    assert b'"result":null' in data
    back = records.decode(data)
    assert back.result is None and back.error == full.error and back.request_id == "req-1"
    assert (back.ttl_ms, back.expire_time_ms) == (None, None)
    assert records.decode(records.encode(TASK)).result is UNSET
    assert b"result" not in records.encode(TASK)
    assert records.decode(records.encode(back)) == back
    no_data = TaskError(code=1, message="x")
    assert records.decode(records.encode(_with_error(no_data))).error == no_data


def _with_error(error: TaskError) -> Task:
    return Task(**{**{f: getattr(TASK, f) for f in TASK.__slots__}, "error": error})


def test_decode_then_encode_is_identity_on_canonical_bytes():
    data = records.encode(TASK)
    assert records.encode(records.decode(data)) == data


def test_decode_checks_the_owner():
    data = records.encode(TASK)
    assert records.decode(data, "alice").owner == "alice"
    with pytest.raises(ValueError):
        records.decode(data, "bob")


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        ({"b": 1, "a": {"d": 2, "c": 3}}, b'{"a":{"c":3,"d":2},"b":1}'),
        ([1.0, -2.0, 0.5, -0.0], b"[1,-2,0.5,0]"),
        (1e20, b"1e+20"),
        (2.0**53, b"9007199254740992.0"),  # beyond 2**53 a float is left a float
        ("\u00e9\u2603\U0001f600", '"\u00e9\u2603\U0001f600"'.encode()),
        ('\x00\n"\\', b'"\\u0000\\n\\"\\\\"'),
        ((1, 2), b"[1,2]"),
        (True, b"true"),
    ],
)
def test_dumps_is_canonical(value, encoded):
    assert records.dumps(value) == encoded


def test_dumps_keeps_bool_distinct_from_int():
    assert records.dumps([True, 1, False, 0]) == b"[true,1,false,0]"


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_dumps_refuses_non_finite_numbers(bad):
    with pytest.raises(ValueError):
        records.dumps({"x": bad})


def test_canonical_value_refuses_non_json_types():
    with pytest.raises(TypeError):
        records.canonical_value({"s": {1, 2}})


def test_output_parses_back_to_the_same_value():
    value = {"k": [1, 2.5, "x", None, {"n": {}}]}
    assert json.loads(records.dumps(value)) == value
