"""Opaque WatchTasks resume cursors (domain/cursors.py)."""

from __future__ import annotations

import base64
import json
import re

import pytest
from taskstate_server.domain.cursors import (
    MAX_CURSOR_CHARS,
    Cursor,
    check_cursor,
    decode_cursor,
    encode_cursor,
)
from taskstate_server.domain.errors import FeedCompacted, InvalidArgument

HOUR = 3_600_000
NOW = 1_800_000_000_000


def _raw(body: object) -> str:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return "c1_" + base64.urlsafe_b64encode(data).decode().rstrip("=")


def test_round_trip_is_url_safe_and_versioned():
    cursor = Cursor("9f3a0c1d2e4b5a69", "18446744073709551615", NOW)
    text = encode_cursor(cursor)
    assert re.fullmatch(r"c1_[A-Za-z0-9_-]+", text)
    assert decode_cursor(text) == cursor


def test_any_store_string_survives():
    cursor = Cursor("épöch", '{"p": "1-0"}\n', 0)
    assert decode_cursor(encode_cursor(cursor)) == cursor


def test_a_store_position_too_long_for_a_cursor_is_a_bug_not_a_cursor():
    with pytest.raises(ValueError):
        encode_cursor(Cursor("e", "p" * MAX_CURSOR_CHARS, NOW))


@pytest.mark.parametrize(
    "text",
    [
        "",
        "c1_",
        "c2_" + _raw({"e": "x", "p": "1", "t": 1})[3:],
        _raw({"e": "x", "p": "1", "t": 1})[3:],  # no prefix
        "c1_!!!!",
        _raw(b"\xff\xfe"),
        _raw([1, 2]),
        _raw({"e": "x", "p": "1"}),
        _raw({"e": "x", "p": "1", "t": 1, "extra": 0}),
        _raw({"e": "", "p": "1", "t": 1}),
        _raw({"e": 5, "p": "1", "t": 1}),
        _raw({"e": "x", "p": 1, "t": 1}),
        _raw({"e": "x", "p": "1", "t": "1"}),
        _raw({"e": "x", "p": "1", "t": True}),
        _raw({"e": "x", "p": "1", "t": -1}),
        _raw({"e": "x", "p": "1", "t": 1.5}),
        "c1_" + "A" * MAX_CURSOR_CHARS,
        "c1_\u00e9\u00e9",
        _raw(b"[" * 100_000)[:MAX_CURSOR_CHARS],
    ],
)
def test_anything_not_ours_is_invalid_argument(text):
    with pytest.raises(InvalidArgument) as e:
        decode_cursor(text)
    assert e.value.violations[0].field == "resume_cursor"


def test_a_fresh_cursor_of_this_log_passes():
    check_cursor(Cursor("e1", "7", NOW - HOUR), epoch="e1", now_ms=NOW, retention_ms=HOUR)


def test_another_epoch_is_compacted():
    with pytest.raises(FeedCompacted, match="another incarnation"):
        check_cursor(Cursor("e0", "7", NOW), epoch="e1", now_ms=NOW, retention_ms=HOUR)


def test_older_than_the_retention_is_compacted():
    with pytest.raises(FeedCompacted, match="--feed-retention"):
        check_cursor(Cursor("e1", "7", NOW - HOUR - 1), epoch="e1", now_ms=NOW, retention_ms=HOUR)
