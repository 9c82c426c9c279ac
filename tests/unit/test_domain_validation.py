"""Input limits (domain/validation.py), on small limits so the edges are cheap."""

from __future__ import annotations

import pytest
from taskstate_server.domain import validation as v
from taskstate_server.domain.errors import InvalidArgument, VariablesTooLarge
from taskstate_server.domain.model import Limits, TaskError, TaskPatch, TaskStatus

L = Limits(
    max_ttl_ms=1000, max_depth=3, max_string_bytes=8, max_key_bytes=4, max_variables_bytes=32
)


def nested(depth: int):
    x: object = 0
    for _ in range(depth):
        x = [x]
    return x


def test_ttl_bounds():
    assert v.check_ttl(1, L) == 1 and v.check_ttl(1000, L) == 1000
    for bad in (0, -1, 1001):
        with pytest.raises(InvalidArgument):
            v.check_ttl(bad, L)


def test_poll_interval():
    assert v.check_poll_interval(None, L) == L.default_poll_interval_ms
    assert v.check_poll_interval(7, L) == 7
    for bad in (0, -1):
        with pytest.raises(InvalidArgument):
            v.check_poll_interval(bad, L)


def test_depth_counts_containers_around_a_scalar():
    v.check_value("x", nested(3), L)
    v.check_value("x", {"a": {"b": {"c": "s"}}}, L)
    for bad in (nested(4), {"a": {"b": {"c": {}}}}, [[[[]]]]):
        with pytest.raises(InvalidArgument):
            v.check_value("x", bad, L)


def test_string_limit_is_in_utf8_bytes_and_covers_object_keys():
    v.check_value("x", "12345678", L)
    v.check_value("x", "\u00e9" * 4, L)
    for bad in ("123456789", "\u00e9" * 4 + "x", ["123456789"], {"123456789": 1}):
        with pytest.raises(InvalidArgument):
            v.check_value("x", bad, L)


@pytest.mark.parametrize("key", ["a", "abcd", "\u00e9\u00e9", "a b"])
def test_good_keys(key):
    v.check_key("k", key, L)


@pytest.mark.parametrize("key", ["", "abcde", "\u00e9\u00e9x", "a\n", "\x00", "\x7f", "\u200b"])
def test_bad_keys(key):
    with pytest.raises(InvalidArgument):
        v.check_key("k", key, L)


def test_merge_sets_deletes_and_normalizes():
    merged = v.merge_variables({"a": 1, "b": 2}, {"b": None, "c": 3.0, "d": [None]}, L)
    assert merged == {"a": 1, "c": 3, "d": [None]}
    assert type(merged["c"]) is int


def test_merge_does_not_touch_its_input():
    current = {"a": 1}
    v.merge_variables(current, {"a": None}, L)
    assert current == {"a": 1}


def test_merge_enforces_the_size_of_the_merged_map():
    # {"a":"xxxxxxxx"} is 16 bytes, {"b":"yyyyyyyy","c":"zzzzzzzz"} 31, all three 46.
    one = {"a": "x" * 8}
    v.merge_variables({}, one, L)
    with pytest.raises(VariablesTooLarge):
        v.merge_variables({"b": "y" * 8, "c": "z" * 8}, one, L)
    # Deleting keys can bring a map back under the cap.
    assert v.merge_variables({"b": "y" * 8, "c": "z" * 8}, {"b": None, "a": 1}, L) == {
        "c": "z" * 8,
        "a": 1,
    }


def test_check_size_boundary():
    at_cap = {"k": "x" * (L.max_variables_bytes - 8)}  # {"k":"..."} is n + 8 bytes
    big = Limits(max_variables_bytes=L.max_variables_bytes)
    v.check_size("variables", at_cap, big)
    with pytest.raises(VariablesTooLarge):
        v.check_size("variables", {"k": "x" * (L.max_variables_bytes - 7)}, big)


def test_result_and_error_are_checked():
    v.check_result([1], TaskError(1, "m", data={"d": 1}), L)
    with pytest.raises(InvalidArgument):
        v.check_result(nested(4), None, L)
    with pytest.raises(InvalidArgument):
        v.check_result([1], TaskError(1, "123456789"), L)
    with pytest.raises(InvalidArgument):
        v.check_result([1], TaskError(1, "m", data=nested(4)), L)


def test_patch_masks():
    v.check_patch(TaskPatch(mask=frozenset({"status"}), status=TaskStatus.FAILED), L)
    bad_patches = [
        TaskPatch(mask=frozenset()),
        TaskPatch(mask=frozenset({"owner"})),
        TaskPatch(mask=frozenset({"status"})),  # masked status must be given
        TaskPatch(mask=frozenset({"ttl"}), ttl_ms=0),
        TaskPatch(mask=frozenset({"variables"}), variables={"": 1}),
        TaskPatch(mask=frozenset({"status_message"}), status_message="123456789"),
    ]
    for patch in bad_patches:
        with pytest.raises(InvalidArgument):
            v.check_patch(patch, L)
    # Unmasked fields are not validated: they are not written.
    v.check_patch(TaskPatch(mask=frozenset({"result"}), result=1, ttl_ms=0), L)


def test_default_limits_are_the_documented_ones():
    d = Limits()
    assert (d.default_ttl_ms, d.max_ttl_ms, d.default_poll_interval_ms) == (
        3_600_000,
        86_400_000,
        1000,
    )
    assert (d.max_active_tasks, d.max_variables_bytes) == (100, 1024 * 1024)
    assert (d.max_depth, d.max_string_bytes, d.max_key_bytes) == (10, 64 * 1024, 256)
