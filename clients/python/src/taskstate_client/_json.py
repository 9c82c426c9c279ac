"""JSON values <-> google.protobuf.Value.

Value stores every number as a double, so integers come back as floats; we
turn integral floats back into ints on the way out so that a counter written
as 3 reads back as 3, not 3.0. The price is that a float written as 3.0 also
reads back as 3, which JSON itself does not distinguish either.

A double carries every integer in [-(2**53-1), 2**53-1] exactly (JavaScript's
safe integers); beyond that a write would silently store another number, so
the client refuses it before any call, as it refuses NaN and Infinity, with a
ValueNotRepresentableError naming the value's path (`variables.count`).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping, MutableMapping
from typing import Any, TypeAlias

from google.protobuf import struct_pb2

from taskstate_client.errors import ValueNotRepresentableError

JSON: TypeAlias = Any
"""A JSON value: None, bool, int, float, str, list of JSON, dict of str to JSON.

Typed as Any on purpose: a recursive union makes every caller narrow before
doing arithmetic on a variable; `TaskContext.get(..., type=...)` narrows instead.
"""

MAX_SAFE_INTEGER = 2**53 - 1
"""The largest integer n such that n and n+1 are both doubles: every client's limit."""

_MAX_DEPTH = 100
_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*\Z")


def to_value(obj: JSON, path: str = "value") -> struct_pb2.Value:
    """Converts a JSON value, raising early (TypeError/ValueError) on what JSON cannot hold.

    `path` names the value in errors (`result`, `variables.n`).
    """
    value = struct_pb2.Value()
    _fill(value, obj, path, depth=0)
    return value


def child_path(path: str, key: str | int) -> str:
    """`variables.count`, `result.items[2]`; keys that are not plain names are JSON-quoted."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    if _PLAIN_KEY.match(key):
        return f"{path}.{key}"
    return f"{path}[{json.dumps(key, ensure_ascii=False)}]"


def _fill(value: struct_pb2.Value, obj: JSON, path: str, depth: int) -> None:
    if depth > _MAX_DEPTH:
        raise ValueError(f"{path}: JSON value nested too deeply (or cyclic)")
    if obj is None:
        value.null_value = struct_pb2.NULL_VALUE
    elif isinstance(obj, bool):  # before int: bool is an int subclass
        value.bool_value = obj
    elif isinstance(obj, int):
        if abs(obj) > MAX_SAFE_INTEGER:
            raise ValueNotRepresentableError(
                path,
                f"integer {obj} cannot be stored exactly: JSON numbers are doubles, "
                "which hold integers only up to ±(2**53-1); send it as a string",
            )
        value.number_value = float(obj)
    elif isinstance(obj, float):
        if not math.isfinite(obj):
            raise ValueNotRepresentableError(
                path, f"{obj} is not a JSON number (NaN and ±Infinity cannot be stored)"
            )
        value.number_value = obj
    elif isinstance(obj, str):
        value.string_value = obj
    elif isinstance(obj, Mapping):
        struct = value.struct_value
        struct.Clear()  # an empty dict must still select struct_value
        for key, item in obj.items():
            if not isinstance(key, str):
                raise TypeError(f"{path}: JSON object keys must be str, not {type(key).__name__}")
            _fill(struct.fields[key], item, child_path(path, key), depth + 1)
    elif isinstance(obj, list | tuple):
        lst = value.list_value
        lst.Clear()
        for index, item in enumerate(obj):
            _fill(lst.values.add(), item, child_path(path, index), depth + 1)
    else:
        raise TypeError(f"{path}: {type(obj).__name__} is not a JSON value")


def from_value(value: struct_pb2.Value) -> JSON:
    """Converts back to plain Python; an unset Value reads as None."""
    kind = value.WhichOneof("kind")
    if kind is None or kind == "null_value":
        return None
    if kind == "bool_value":
        return value.bool_value
    if kind == "number_value":
        number = value.number_value
        if number.is_integer() and abs(number) <= MAX_SAFE_INTEGER:
            return int(number)
        return number
    if kind == "string_value":
        return value.string_value
    if kind == "struct_value":
        return {k: from_value(v) for k, v in value.struct_value.fields.items()}
    return [from_value(v) for v in value.list_value.values]


def fill_value_map(
    target: MutableMapping[str, struct_pb2.Value],
    obj: Mapping[str, JSON],
    path: str = "variables",
) -> None:
    """Fills a proto map<string, Value> field (which cannot be assigned directly)."""
    for key, item in obj.items():
        if not isinstance(key, str):
            raise TypeError(f"variable names must be str, not {type(key).__name__}")
        target[key].CopyFrom(to_value(item, child_path(path, key)))


def from_value_map(source: Iterable[tuple[str, struct_pb2.Value]]) -> dict[str, JSON]:
    return {key: from_value(value) for key, value in source}
