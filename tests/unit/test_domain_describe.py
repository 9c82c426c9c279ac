"""How errors name things (domain/describe.py): JSON paths, quoted input, durations."""

from __future__ import annotations

import pytest
from taskstate_server.config import parse_duration_ms
from taskstate_server.domain import describe
from taskstate_server.domain.errors import InvalidArgument, VariablesTooLarge


@pytest.mark.parametrize(
    ("parts", "path"),
    [
        ([], "result"),
        (["content", 0, "data"], "result.content[0].data"),
        (["a b"], 'result["a b"]'),
        (["_x", "X9"], "result._x.X9"),
        (["9x"], 'result["9x"]'),
        ([""], 'result[""]'),
        (["a.b"], 'result["a.b"]'),
        (['q"uote\\'], 'result["q\\"uote\\\\"]'),
        (["\n\x00"], 'result["\\n\\u0000"]'),
        (["\u00e9t\u00e9"], 'result["\u00e9t\u00e9"]'),
        (["\ud800"], 'result["\\ud800"]'),  # a lone surrogate is escaped, never sent raw
        (["k" * 33], 'result["' + "k" * 32 + '\u2026"]'),
        (["k" * 32], "result." + "k" * 32),
        ([3, 4], "result[3][4]"),
    ],
)
def test_json_path(parts, path):
    assert describe.json_path("result", parts) == path


def test_quote_list_is_short_whatever_the_input():
    assert describe.quote_list(["a", "b"]) == '"a", "b"'
    many = describe.quote_list(["x" * 10_000] * 1000)
    assert many.endswith(" and 995 more") and len(many) < 250


@pytest.mark.parametrize(
    ("ms", "text"),
    [
        (0, "0s"),
        (1, "1ms"),
        (999, "999ms"),
        (1000, "1s"),
        (1500, "1.5s"),
        (1250, "1.25s"),
        (1001, "1.001s"),
        (59_000, "59s"),
        (60_000, "1m"),
        (90_000, "1m30s"),
        (3_600_000, "1h"),
        (5_400_000, "1h30m"),
        (3_600_500, "1h500ms"),
        (86_400_000, "24h"),
        (90_061_500, "25h1m1.5s"),
        (-1500, "-1.5s"),
    ],
)
def test_format_duration(ms, text):
    assert describe.format_duration_ms(ms) == text


@pytest.mark.parametrize("ms", [1, 999, 1000, 1001, 61_001, 3_600_001, 86_400_000, 10**12 + 7])
def test_formatted_durations_parse_back_as_flags(ms):
    assert parse_duration_ms(describe.format_duration_ms(ms)) == ms


def test_errors_stay_short_whatever_they_quote():
    """A message crosses gRPC trailers (8 KiB by default): the domain errors cap it."""
    ia = InvalidArgument("f" * 100_000, "\u00e9" * 100_000)
    assert len(ia.message.encode()) <= 768
    (v,) = ia.violations
    assert len(v.field.encode()) <= 256 and len(v.description.encode()) <= 512
    assert v.field.endswith("\u2026") and ia.message.startswith("fff")
    assert len(VariablesTooLarge("x" * 10**6).message.encode()) <= 768
    short = InvalidArgument("ttl", "must be at most 24h")
    assert short.message == "ttl: must be at most 24h"
