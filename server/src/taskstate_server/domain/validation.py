"""Input limits of DESIGN.md section 4, checked before anything is written."""

from __future__ import annotations

import unicodedata

from . import records
from .errors import InvalidArgument, VariablesTooLarge
from .model import JSON, PATCH_FIELDS, UNSET, Limits, TaskError, TaskPatch, TaskStatus, _Unset


def check_ttl(ttl_ms: int, limits: Limits) -> int:
    if ttl_ms <= 0:
        raise InvalidArgument("ttl", "must be greater than zero")
    if ttl_ms > limits.max_ttl_ms:
        raise InvalidArgument(
            "ttl", f"must be at most {limits.max_ttl_ms} ms (the server's max ttl)"
        )
    return ttl_ms


def check_poll_interval(poll_ms: int | None, limits: Limits) -> int:
    if poll_ms is None:
        return limits.default_poll_interval_ms
    if poll_ms <= 0:
        raise InvalidArgument("poll_interval", "must be greater than zero")
    if poll_ms > limits.max_ttl_ms:
        raise InvalidArgument("poll_interval", "must not exceed the server's max ttl")
    return poll_ms


def _utf8_len(field_name: str, text: str) -> int:
    try:
        return len(text.encode("utf-8"))
    except UnicodeEncodeError:
        raise InvalidArgument(field_name, "is not valid UTF-8 (lone surrogate)") from None


def check_text(field_name: str, value: str, limits: Limits) -> None:
    if _utf8_len(field_name, value) > limits.max_string_bytes:
        raise InvalidArgument(field_name, f"is longer than {limits.max_string_bytes} bytes")


def _printable(text: str) -> bool:
    # Control, format, surrogate, unassigned and private-use characters are not printable keys.
    return all(unicodedata.category(ch)[0] != "C" for ch in text)


def check_key(field_name: str, key: str, limits: Limits) -> None:
    size = _utf8_len(field_name, key)
    if not 1 <= size <= limits.max_key_bytes:
        raise InvalidArgument(field_name, f"keys must be 1 to {limits.max_key_bytes} bytes")
    if not _printable(key):
        raise InvalidArgument(field_name, f"key {key!r} has non-printable characters")


def check_request_id(request_id: str, limits: Limits) -> None:
    check_key("request_id", request_id, limits)


def require_status(status: TaskStatus | None) -> TaskStatus:
    if status is None:
        raise InvalidArgument("status", "is required")
    return status


def check_value(field_name: str, value: JSON, limits: Limits) -> None:
    """Nesting depth and string length; a scalar is depth 0, each list/object adds one."""

    def walk(v: JSON, depth: int) -> None:
        if isinstance(v, str):
            check_text(field_name, v, limits)
        elif isinstance(v, dict | list):
            if depth >= limits.max_depth:
                raise InvalidArgument(
                    field_name, f"is nested deeper than {limits.max_depth} levels"
                )
            items = v.values() if isinstance(v, dict) else v
            if isinstance(v, dict):
                for k in v:
                    check_text(field_name, k, limits)
            for item in items:
                walk(item, depth + 1)
        elif isinstance(v, float) and (v != v or v in (float("inf"), float("-inf"))):
            raise InvalidArgument(field_name, "numbers must be finite")

    walk(value, 0)


def check_variable_values(variables: dict[str, JSON], limits: Limits) -> None:
    for key, value in variables.items():
        check_key(f"variables[{key!r}]", key, limits)
        check_value(f"variables[{key!r}]", value, limits)


def check_size(field_name: str, value: JSON, limits: Limits) -> None:
    size = len(records.dumps(value))
    if size > limits.max_variables_bytes:
        raise VariablesTooLarge(
            f"{field_name} serialize to {size} bytes, over the limit of "
            f"{limits.max_variables_bytes} bytes"
        )


def merge_variables(
    current: dict[str, JSON], updates: dict[str, JSON], limits: Limits
) -> dict[str, JSON]:
    """Each key is set; a None (JSON null) value deletes the key."""
    check_variable_values(updates, limits)
    merged = dict(current)
    for key, value in updates.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = records.canonical_value(value)
    check_size("variables", merged, limits)
    return merged


def check_result(result: JSON | _Unset, error: TaskError | None, limits: Limits) -> None:
    if result is not UNSET:
        check_value("result", result, limits)
        check_size("result", result, limits)
    if error is not None:
        check_text("error.message", error.message, limits)
        if error.data is not UNSET:
            check_value("error.data", error.data, limits)
            check_size("error.data", error.data, limits)


def check_patch(patch: TaskPatch, limits: Limits) -> None:
    if not patch.mask:
        raise InvalidArgument("update_mask", "must name at least one field")
    unknown = sorted(patch.mask - PATCH_FIELDS)
    if unknown:
        raise InvalidArgument(
            "update_mask",
            f"unknown path(s) {', '.join(unknown)}; allowed: {', '.join(sorted(PATCH_FIELDS))}",
        )
    if "status" in patch.mask:
        require_status(patch.status)
    if "status_message" in patch.mask:
        check_text("task.status_message", patch.status_message, limits)
    if "variables" in patch.mask:
        check_variable_values(patch.variables, limits)
        check_size("variables", patch.variables, limits)
    check_result(
        patch.result if "result" in patch.mask else UNSET,
        patch.error if "error" in patch.mask else None,
        limits,
    )
    if "ttl" in patch.mask and patch.ttl_ms is not None:
        check_ttl(patch.ttl_ms, limits)
    if "poll_interval" in patch.mask:
        check_poll_interval(patch.poll_interval_ms, limits)
