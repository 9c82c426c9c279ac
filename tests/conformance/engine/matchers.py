"""Paths into outcomes, deep equality, the ``$`` matchers and ``expect`` checking.

This is the only implementation of README section 3: drivers report plain JSON and never match.
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass
from typing import Any, Final

from .vectors import ScenarioError, is_matcher, text_of


class _Absent:
    """The value of a path that does not resolve (distinct from JSON null)."""

    def __repr__(self) -> str:
        return "<absent>"


ABSENT: Final = _Absent()


@dataclass(frozen=True)
class Outcome:
    """What a step produced: ``ok`` and its value, or not ok and the error view."""

    ok: bool
    value: Any


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def deep_eq(a: Any, b: Any) -> bool:
    """JSON equality: numbers by value (3 == 3.0), booleans are not numbers, absent never equal."""
    if _is_number(a) and _is_number(b):
        return bool(a == b)
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(deep_eq(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(deep_eq(x, y) for x, y in zip(a, b, strict=True))
    if type(a) is not type(b):
        return False
    return bool(a == b)


def resolve_path(value: Any, path: str) -> Any:
    """The value at a dot path (``tasks.-1.version``), or ABSENT."""
    if path == "":
        return value
    for seg in path.split("."):
        if isinstance(value, dict):
            value = value.get(seg, ABSENT)
        elif isinstance(value, list) and re.fullmatch(r"-?\d+", seg):
            idx = int(seg)
            if not -len(value) <= idx < len(value):
                return ABSENT
            value = value[idx]
        else:
            return ABSENT
        if value is ABSENT:
            return ABSENT
    return value


def show(v: Any) -> str:
    """A short one-line rendering for failure messages."""
    if v is ABSENT:
        return "<absent>"
    text = json.dumps(v, sort_keys=True, default=str)
    return text if len(text) <= 600 else text[:600] + "..."


def mismatch(actual: Any, matcher: Any) -> str | None:
    """None if ``actual`` satisfies ``matcher``, else why not."""
    if not is_matcher(matcher):
        if actual is ABSENT or not deep_eq(actual, matcher):
            return f"got {show(actual)}, want {show(matcher)}"
        return None
    for op, arg in matcher.items():
        why = _check(op, arg, actual)
        if why:
            return f"{op}: {why} (got {show(actual)})"
    return None


def _check(op: str, arg: Any, actual: Any) -> str | None:
    present = actual is not ABSENT
    if op == "$exists":
        return None if present == bool(arg) else ("absent" if arg else "present")
    if not present:
        return "absent"
    if op == "$eq":
        return None if deep_eq(actual, arg) else f"not equal to {show(arg)}"
    if op == "$ne":
        return None if not deep_eq(actual, arg) else f"equal to {show(arg)}"
    if op in ("$gt", "$gte", "$lt", "$lte"):
        return _compare(op, arg, actual)
    if op == "$len":
        if not isinstance(actual, list | dict | str):
            return "has no length"
        return None if len(actual) == arg else f"length {len(actual)}, want {arg}"
    if op == "$regex":
        if not isinstance(actual, str):
            return "not a string"
        return None if re.search(arg, actual) else f"does not match {arg!r}"
    if not isinstance(actual, list):
        return "not an array"
    return _check_array(op, arg, actual)


def _compare(op: str, arg: Any, actual: Any) -> str | None:
    if not (_is_number(actual) and _is_number(arg)):
        return f"not numbers (want {show(arg)})"
    ok = {
        "$gt": actual > arg,
        "$gte": actual >= arg,
        "$lt": actual < arg,
        "$lte": actual <= arg,
    }[op]
    return None if ok else f"want {op} {arg}"


def _check_array(op: str, arg: Any, actual: list[Any]) -> str | None:
    if op == "$contains":
        return None if any(deep_eq(x, arg) for x in actual) else f"lacks {show(arg)}"
    if op == "$not_contains":
        return None if not any(deep_eq(x, arg) for x in actual) else f"has {show(arg)}"
    if op == "$subsequence":
        it = iter(actual)
        for want in arg:
            if not any(deep_eq(x, want) for x in it):
                return f"{show(want)} missing or out of order in {show(arg)}"
        return None
    if op == "$increasing":
        if not all(_is_number(x) for x in actual):
            return "not all numbers"
        ok = all(a < b for a, b in itertools.pairwise(actual))
        return None if ok == bool(arg) else "not strictly increasing"
    if op == "$unique":
        dupes = [x for i, x in enumerate(actual) if any(deep_eq(x, y) for y in actual[:i])]
        return None if not dupes or not arg else f"duplicates {show(dupes)}"
    if op == "$each":
        for i, x in enumerate(actual):
            why = mismatch(x, arg)
            if why:
                return f"element {i}: {why}"
        return None
    return f"unknown matcher {op}"


def check_expect(outcome: Outcome, expect: dict[str, Any] | None) -> None:
    """Raises ScenarioError unless the outcome meets ``expect`` (absent: must succeed)."""
    if expect is None or "ok" in expect:
        if not outcome.ok:
            raise ScenarioError(f"want success, got error {show(outcome.value)}")
        for path, matcher in (expect or {}).get("ok", {}).items():
            why = mismatch(resolve_path(outcome.value, path), matcher)
            if why:
                raise ScenarioError(f"{path or '<outcome>'}: {why}")
        return
    want = expect["error"]
    if outcome.ok:
        raise ScenarioError(f"want error {show(want)}, got success {show(outcome.value)}")
    got = outcome.value
    if got["code"] != want["code"]:
        raise ScenarioError(f"want code {want['code']}, got error {show(got)}")
    if "reason" in want and got["reason"] != want["reason"]:
        raise ScenarioError(f"want reason {want['reason']}, got error {show(got)}")
    if "message" in want and got["message"] != want["message"]:
        raise ScenarioError(f"want message {want['message']!r}, got {got['message']!r}")
    for key, value in (want.get("metadata") or {}).items():
        actual = got["metadata"].get(key, ABSENT)
        why = (
            mismatch(actual, value)  # a matcher, e.g. $regex for a timestamp
            if is_matcher(value)
            else None
            if actual == text_of(value)
            else f"want {text_of(value)!r}"
        )
        if why:
            raise ScenarioError(f"metadata {key}: {why}, got metadata {show(got['metadata'])}")
