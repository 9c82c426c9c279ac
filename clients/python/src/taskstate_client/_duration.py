"""Durations: what callers pass (seconds, timedelta, "5m") and what the wire wants."""

from __future__ import annotations

import math
import re
from datetime import timedelta
from typing import TypeAlias

from google.protobuf import duration_pb2

Seconds: TypeAlias = float | timedelta
"""A duration as seconds (int or float) or a timedelta."""

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ms|s|m|h|d)")
_BARE = re.compile(r"\d+(?:\.\d*)?|\.\d+")


def parse_duration(text: str) -> timedelta:
    """Parses the same spellings as the server flags ("500ms", "90s", "5m", "1h", "1h30m").

    A bare number is seconds, because that is what every other argument of
    the client means by a number.
    """
    spec = text.strip().lower()
    if not spec:
        raise ValueError("empty duration")
    if _BARE.fullmatch(spec):
        return timedelta(seconds=float(spec))
    total = 0.0
    pos = 0
    for match in _PART.finditer(spec):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if pos != len(spec) or pos == 0:
        raise ValueError(f"invalid duration {text!r} (use e.g. 500ms, 90s, 5m, 1h)")
    return timedelta(seconds=total)


def to_seconds(value: Seconds) -> float:
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    if not math.isfinite(seconds):
        raise ValueError(f"duration {value!r} is not finite")
    return seconds


def to_timedelta(value: Seconds) -> timedelta:
    return value if isinstance(value, timedelta) else timedelta(seconds=to_seconds(value))


def to_proto(value: Seconds) -> duration_pb2.Duration:
    duration = duration_pb2.Duration()
    duration.FromTimedelta(to_timedelta(value))
    return duration


def format_duration(value: timedelta) -> str:
    """The proto JSON spelling ("3600s", "0.500s"), which every language parses."""
    micros = round(value.total_seconds() * 1_000_000)
    seconds, frac = divmod(abs(micros), 1_000_000)
    sign = "-" if micros < 0 else ""
    if frac == 0:
        return f"{sign}{seconds}s"
    return f"{sign}{seconds}.{frac:06d}".rstrip("0") + "s"
