"""JSON values <-> google.protobuf.Value.

Value stores every number as a double, so integers come back as floats; we
turn integral floats back into ints on the way out so that a counter written
as 3 reads back as 3, not 3.0. The price is that a float written as 3.0 also
reads back as 3, which JSON itself does not distinguish either.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, MutableMapping
from typing import Any, TypeAlias

from google.protobuf import struct_pb2

JSON: TypeAlias = Any
"""A JSON value: None, bool, int, float, str, list of JSON, dict of str to JSON.

Typed as Any on purpose: a recursive union makes every caller narrow before
doing arithmetic on a variable; `TaskContext.get(..., type=...)` narrows instead.
"""

# Doubles represent every integer up to 2**53 exactly; beyond that a write would
# silently change the number, so we refuse it instead.
_MAX_SAFE_INT = 2**53


def to_value(obj: JSON) -> struct_pb2.Value:
    """Converts a JSON value, raising early (TypeError/ValueError) on what JSON cannot hold."""
    value = struct_pb2.Value()
    _fill(value, obj, depth=0)
    return value


def _fill(value: struct_pb2.Value, obj: JSON, depth: int) -> None:
    if depth > 100:
        raise ValueError("JSON value nested too deeply (or cyclic)")
    if obj is None:
        value.null_value = struct_pb2.NULL_VALUE
    elif isinstance(obj, bool):  # before int: bool is an int subclass
        value.bool_value = obj
    elif isinstance(obj, int):
        if abs(obj) > _MAX_SAFE_INT:
            raise ValueError(f"integer {obj} cannot be stored exactly (|n| > 2**53)")
        value.number_value = float(obj)
    elif isinstance(obj, float):
        if not math.isfinite(obj):
            raise ValueError(f"{obj} is not a JSON number")
        value.number_value = obj
    elif isinstance(obj, str):
        value.string_value = obj
    elif isinstance(obj, Mapping):
        struct = value.struct_value
        struct.Clear()  # an empty dict must still select struct_value
        for key, item in obj.items():
            if not isinstance(key, str):
                raise TypeError(f"JSON object keys must be str, not {type(key).__name__}")
            _fill(struct.fields[key], item, depth + 1)
    elif isinstance(obj, list | tuple):
        lst = value.list_value
        lst.Clear()
        for item in obj:
            _fill(lst.values.add(), item, depth + 1)
    else:
        raise TypeError(f"{type(obj).__name__} is not a JSON value")


def from_value(value: struct_pb2.Value) -> JSON:
    """Converts back to plain Python; an unset Value reads as None."""
    kind = value.WhichOneof("kind")
    if kind is None or kind == "null_value":
        return None
    if kind == "bool_value":
        return value.bool_value
    if kind == "number_value":
        number = value.number_value
        if number.is_integer() and abs(number) <= _MAX_SAFE_INT:
            return int(number)
        return number
    if kind == "string_value":
        return value.string_value
    if kind == "struct_value":
        return {k: from_value(v) for k, v in value.struct_value.fields.items()}
    return [from_value(v) for v in value.list_value.values]


def fill_value_map(target: MutableMapping[str, struct_pb2.Value], obj: Mapping[str, JSON]) -> None:
    """Fills a proto map<string, Value> field (which cannot be assigned directly)."""
    for key, item in obj.items():
        if not isinstance(key, str):
            raise TypeError(f"variable names must be str, not {type(key).__name__}")
        target[key].CopyFrom(to_value(item))


def from_value_map(source: Iterable[tuple[str, struct_pb2.Value]]) -> dict[str, JSON]:
    return {key: from_value(value) for key, value in source}
