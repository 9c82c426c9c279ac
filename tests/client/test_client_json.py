"""JSON <-> google.protobuf.Value: what callers store must read back the same."""

from __future__ import annotations

import math
import pickle
from typing import Any

import grpc
import pytest
from google.protobuf import struct_pb2
from taskstate_client import MISSING, InvalidArgumentError, ValueNotRepresentableError
from taskstate_client import _requests as rq
from taskstate_client._json import fill_value_map, from_value, from_value_map, to_value

ROUND_TRIPS: list[Any] = [
    None,
    True,
    False,
    0,
    1,
    -7,
    2**53 - 1,
    -(2**53 - 1),
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
    with pytest.raises(ValueNotRepresentableError, match="not a JSON number") as caught:
        to_value(bad, "result")
    assert caught.value.path == "result"


@pytest.mark.parametrize("n", [2**53 - 1, -(2**53 - 1)])
def test_the_largest_safe_integers_round_trip_as_ints(n: int) -> None:
    out = from_value(to_value(n))
    assert out == n and type(out) is int


@pytest.mark.parametrize("n", [2**53, 2**53 + 1, -(2**53), -(2**53 + 1), 2**63 - 1, 2**64])
def test_integers_beyond_the_safe_range_are_refused(n: int) -> None:
    """2**53 itself is refused too: 2**53 + 1 would be stored as it, so it is ambiguous."""
    with pytest.raises(ValueNotRepresentableError, match="2\\*\\*53-1") as caught:
        to_value(n, "result")
    err = caught.value
    assert isinstance(err, InvalidArgumentError) and isinstance(err, ValueError)
    assert err.code == grpc.StatusCode.INVALID_ARGUMENT
    assert err.reason == "VALUE_NOT_REPRESENTABLE"
    assert err.field_violations[0].field == "result"


@pytest.mark.parametrize(
    ("obj", "path"),
    [
        ({"count": 2**60}, "variables.count"),
        ({"items": [0, 1, math.nan]}, "variables.items[2]"),
        ({"a b": {"c": [math.inf]}}, 'variables["a b"].c[0]'),
    ],
)
def test_the_error_names_the_path_of_the_bad_value(obj: dict[str, Any], path: str) -> None:
    msg = struct_pb2.Struct()
    with pytest.raises(ValueNotRepresentableError) as caught:
        fill_value_map(msg.fields, obj)
    assert caught.value.path == path
    assert str(caught.value).startswith(f"INVALID_ARGUMENT VALUE_NOT_REPRESENTABLE: {path}: ")


def test_refused_before_any_call() -> None:
    """No server at all: the request builders refuse, so nothing is ever sent."""
    with pytest.raises(ValueNotRepresentableError) as caught:
        rq.complete("t", {"items": [1, 2, 2**53 + 1]}, "", None, None)
    assert caught.value.path == "result.items[2]"
    with pytest.raises(ValueNotRepresentableError) as caught:
        rq.fail("t", "m", 1, {"n": math.nan}, None, MISSING, None, None)
    assert caught.value.path == "error.data.n"
    with pytest.raises(ValueNotRepresentableError) as caught:
        rq.put_if_version("t", 1, variables={"v": [-(2**53)]})
    assert caught.value.path == "variables.v[0]"


def test_the_error_pickles() -> None:
    err = pickle.loads(pickle.dumps(ValueNotRepresentableError("result", "too big")))
    assert (err.path, err.reason, str(err)) == (
        "result",
        "VALUE_NOT_REPRESENTABLE",
        "INVALID_ARGUMENT VALUE_NOT_REPRESENTABLE: result: too big",
    )


def test_an_integral_double_beyond_the_safe_range_reads_as_float() -> None:
    """Another client may have stored 2**53 as a double: it reads back as that double."""
    out = from_value(struct_pb2.Value(number_value=float(2**53)))
    assert out == 2**53 and type(out) is float


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
