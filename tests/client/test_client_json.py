"""JSON <-> google.protobuf.Value: what callers store must read back the same."""

from __future__ import annotations

import math
from typing import Any

import pytest
from google.protobuf import struct_pb2
from taskstate_client._json import fill_value_map, from_value, from_value_map, to_value

ROUND_TRIPS: list[Any] = [
    None,
    True,
    False,
    0,
    1,
    -7,
    2**53,
    -(2**53),
    1.5,
    -0.25,
    1e-9,
    "",
    "héllo ✓",
    [],
    {},
    [1, "a", None, False, [2, [3]], {"k": []}],
    {"a": {"b": {"c": [1, 2, {"d": None}]}}, "empty": {}, "list": []},
]


@pytest.mark.parametrize("value", ROUND_TRIPS, ids=repr)
def test_round_trip(value: Any) -> None:
    assert from_value(to_value(value)) == value


def test_ints_come_back_as_ints_not_floats() -> None:
    out = from_value(to_value({"n": 3, "xs": [1, 2]}))
    assert type(out["n"]) is int
    assert all(type(x) is int for x in out["xs"])


def test_integral_float_reads_as_int_and_fraction_stays_float() -> None:
    assert type(from_value(to_value(3.0))) is int
    assert type(from_value(to_value(3.25))) is float


def test_bool_is_not_a_number() -> None:
    value = to_value(True)
    assert value.WhichOneof("kind") == "bool_value"
    assert from_value(value) is True


def test_null_and_empty_containers_select_their_kind() -> None:
    assert to_value(None).WhichOneof("kind") == "null_value"
    assert to_value({}).WhichOneof("kind") == "struct_value"
    assert to_value([]).WhichOneof("kind") == "list_value"
    assert to_value(()).WhichOneof("kind") == "list_value"


def test_unset_value_reads_as_none() -> None:
    assert from_value(struct_pb2.Value()) is None


def test_huge_float_beyond_safe_integers_stays_float() -> None:
    assert from_value(to_value(1e300)) == 1e300
    assert type(from_value(to_value(1e300))) is float


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_numbers_are_refused(bad: float) -> None:
    with pytest.raises(ValueError, match="not a JSON number"):
        to_value(bad)


def test_integers_that_doubles_cannot_hold_are_refused() -> None:
    with pytest.raises(ValueError, match="2\\*\\*53"):
        to_value(2**53 + 1)


@pytest.mark.parametrize("bad", [object(), {1: "x"}, b"bytes", {1, 2}])
def test_non_json_values_are_refused(bad: Any) -> None:
    with pytest.raises(TypeError):
        to_value(bad)


def test_cycles_are_refused_not_recursed_forever() -> None:
    cyclic: list[Any] = []
    cyclic.append(cyclic)
    with pytest.raises(ValueError, match="deeply"):
        to_value(cyclic)


def test_value_maps() -> None:
    msg = struct_pb2.Struct()
    fill_value_map(msg.fields, {"a": 1, "b": None, "c": {"d": [True]}})
    assert msg.fields["b"].WhichOneof("kind") == "null_value"
    assert from_value_map(msg.fields.items()) == {"a": 1, "b": None, "c": {"d": [True]}}
    with pytest.raises(TypeError):
        fill_value_map(msg.fields, {1: "x"})  # type: ignore[dict-item]
