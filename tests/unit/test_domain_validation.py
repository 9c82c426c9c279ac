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
    assert (d.max_depth, d.max_key_bytes) == (10, 256)
    # A string may fill the variables cap unless --max-string-bytes says otherwise.
    assert d.max_string_bytes is None and d.string_bytes == 1024 * 1024
    assert Limits(max_variables_bytes=5000).string_bytes == 5000
    assert Limits(max_variables_bytes=5000, max_string_bytes=70).string_bytes == 70


# -- where and why: paths, limits and flags in the messages ----------------------------


def violation(exc: InvalidArgument) -> tuple[str, str]:
    (v_,) = exc.violations
    assert exc.message == f"{v_.field}: {v_.description}"
    return v_.field, v_.description


@pytest.mark.parametrize(
    ("value", "path"),
    [
        ({"content": [{"type": "image", "data": "x" * 9}]}, "result.content[0].data"),
        ({"progress": {"items": [1, 2, 3, "x" * 9]}}, "result.progress.items[3]"),
        ({"a b": ["x" * 9]}, 'result["a b"][0]'),
        ({"\u00e9": "x" * 9}, 'result["\u00e9"]'),
        ({"_ok9": {"0": "x" * 9}}, 'result._ok9["0"]'),
        ({"x" * 9: 1}, "result.xxxxxxxxx"),  # the key itself is too long
        ({"x y" * 3: 1}, 'result["x yx yx y"]'),
        (nested(4), "result[0][0][0]"),
        ({"n": [1, float("nan")]}, "result.n[1]"),
    ],
)
def test_errors_name_the_json_path_of_the_value(value, path):
    with pytest.raises(InvalidArgument) as e:
        v.check_result(value, None, L)
    assert violation(e.value)[0] == path


def test_string_limit_error_names_size_limit_and_flag():
    with pytest.raises(InvalidArgument) as e:
        v.check_result({"content": [{"data": "\u00e9" * 5}]}, None, L)
    field, description = violation(e.value)
    assert field == "result.content[0].data"
    assert description == (
        "is 10 bytes, over the limit of 8 bytes per string (raise it with --max-string-bytes)"
    )


def test_string_limit_at_the_variables_cap_defers_to_the_size_check():
    # Not told otherwise, a string may fill the cap: a longer one makes the value too large,
    # and the error names the flag that helps and the part to shrink.
    follows = Limits(max_variables_bytes=40)
    v.check_value("result", "x" * 38, follows)
    with pytest.raises(VariablesTooLarge) as e:
        v.check_result({"content": [{"t": "hi"}, {"data": "x" * 41}]}, None, follows)
    assert e.value.message == (
        "result: serializes to 77 bytes of JSON, over the limit of 40 bytes (raise it with "
        "--max-variables-bytes); the largest part is result.content[1].data at 50 bytes"
    )
    # Outside JSON values the string limit still applies, and names its own flag.
    with pytest.raises(InvalidArgument) as e2:
        v.check_text("status_message", "x" * 41, follows)
    assert "--max-string-bytes" in e2.value.message


def test_size_error_counts_a_member_key_in_its_part():
    with pytest.raises(VariablesTooLarge) as e:
        v.check_size("variables", {"a": 1, "k" * 40: 1}, L)
    assert e.value.message.endswith(
        '; the largest part is variables["' + "k" * 32 + '\u2026"] at 44 bytes'
    )


def test_patch_paths_are_under_task():
    cases = {
        "task.result.a": TaskPatch(mask=frozenset({"result"}), result={"a": "x" * 9}),
        "task.variables.k[0][0][0]": TaskPatch(
            mask=frozenset({"variables"}), variables={"k": nested(4)}
        ),
        "task.error.message": TaskPatch(mask=frozenset({"error"}), error=TaskError(1, "x" * 9)),
        "task.status_message": TaskPatch(
            mask=frozenset({"status_message"}), status_message="x" * 9
        ),
        "task.ttl": TaskPatch(mask=frozenset({"ttl"}), ttl_ms=1001),
        "task.poll_interval": TaskPatch(mask=frozenset({"poll_interval"}), poll_interval_ms=0),
        "task.status": TaskPatch(mask=frozenset({"status"})),
    }
    for path, patch in cases.items():
        with pytest.raises(InvalidArgument) as e:
            v.check_patch(patch, L)
        assert violation(e.value)[0] == path


def test_durations_speak_the_users_units():
    day = Limits()
    for check, name in ((v.check_ttl, "ttl"), (v.check_poll_interval, "poll_interval")):
        with pytest.raises(InvalidArgument) as e:
            check(day.max_ttl_ms + 1, day)
        assert violation(e.value) == (name, "must be at most 24h (the server's --max-ttl)")
    with pytest.raises(InvalidArgument) as e:
        v.check_ttl(5_400_001, Limits(max_ttl_ms=5_400_000))
    assert "at most 1h30m " in e.value.message


def test_key_errors_quote_the_key_short_and_escaped():
    with pytest.raises(InvalidArgument) as e:
        v.check_variable_values({"a\x01b": 1}, L)
    assert violation(e.value) == ('variables["a\\u0001b"]', "has non-printable characters")
    with pytest.raises(InvalidArgument) as e:
        v.check_variable_values({"k" * 100_000: 1}, L)
    field, description = violation(e.value)
    assert field == 'variables["' + "k" * 32 + '\u2026"]'
    assert description == "is 100000 bytes; it must be 1 to 4 bytes (a fixed limit)"


def test_unknown_mask_paths_are_listed_briefly():
    paths = frozenset({f"p{i:05d}" for i in range(10_000)} | {"q" * 100_000})
    with pytest.raises(InvalidArgument) as e:
        v.check_patch(TaskPatch(mask=paths), L)
    field, description = violation(e.value)
    assert field == "update_mask"
    assert description.startswith('unknown path(s) "p00000", "p00001", "p00002", "p00003"')
    assert "and 9996 more; allowed: error, poll_interval," in description
    assert len(e.value.message) < 300
