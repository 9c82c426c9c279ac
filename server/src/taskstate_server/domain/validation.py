"""Input limits of docs/design.md §7, checked before anything is written."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator

from . import describe, records
from .errors import InvalidArgument, VariablesTooLarge
from .model import (
    JSON,
    PATCH_FIELDS,
    UNSET,
    LeasePolicy,
    Limits,
    TaskError,
    TaskPatch,
    TaskStatus,
    _Unset,
)

MAX_WORKER_ID_BYTES = 256
MAX_ATTEMPTS = 100
"""The most attempts a RELEASE task may have (and --default-max-attempts may say)."""


def check_ttl(ttl_ms: int, limits: Limits, field_name: str = "ttl") -> int:
    if ttl_ms <= 0:
        raise InvalidArgument(field_name, "must be greater than zero")
    if ttl_ms > limits.max_ttl_ms:
        raise InvalidArgument(field_name, _at_most(limits.max_ttl_ms, describe.FLAG_MAX_TTL))
    return ttl_ms


def check_poll_interval(
    poll_ms: int | None, limits: Limits, field_name: str = "poll_interval"
) -> int:
    if poll_ms is None:
        return limits.default_poll_interval_ms
    if poll_ms <= 0:
        raise InvalidArgument(field_name, "must be greater than zero")
    if poll_ms > limits.max_ttl_ms:
        raise InvalidArgument(field_name, _at_most(limits.max_ttl_ms, describe.FLAG_MAX_TTL))
    return poll_ms


def check_lease_duration(lease_ms: int, limits: Limits, field_name: str = "lease_duration") -> int:
    if lease_ms <= 0:
        raise InvalidArgument(field_name, "must be greater than zero")
    if lease_ms > limits.max_lease_ms:
        raise InvalidArgument(field_name, _at_most(limits.max_lease_ms, describe.FLAG_MAX_LEASE))
    return lease_ms


def check_worker_id(worker_id: str) -> None:
    """1 to MAX_WORKER_ID_BYTES printable characters: it names the holder in errors and tasks."""
    size = _utf8_len("worker_id", worker_id)
    if not 1 <= size <= MAX_WORKER_ID_BYTES:
        raise InvalidArgument(
            "worker_id",
            f"is {size} bytes; it must be 1 to {MAX_WORKER_ID_BYTES} bytes (a fixed limit)",
        )
    if not _printable(worker_id):
        raise InvalidArgument("worker_id", "has non-printable characters")


def check_max_attempts(max_attempts: int, policy: LeasePolicy, limits: Limits) -> int:
    """What a create records: 0 (the server's default) becomes --default-max-attempts,
    and only LEASE_POLICY_RELEASE takes attempts at all."""
    if policy is not LeasePolicy.RELEASE:
        if max_attempts:
            raise InvalidArgument("max_attempts", "is only allowed with LEASE_POLICY_RELEASE")
        return 0
    if max_attempts == 0:
        return limits.default_max_attempts
    if not 1 <= max_attempts <= MAX_ATTEMPTS:
        raise InvalidArgument("max_attempts", f"must be 1 to {MAX_ATTEMPTS} (a fixed limit)")
    return max_attempts


def _at_most(limit_ms: int, flag: str) -> str:
    return f"must be at most {describe.format_duration_ms(limit_ms)} (the server's {flag})"


def _utf8_len(field_name: str, text: str) -> int:
    try:
        return len(text.encode("utf-8"))
    except UnicodeEncodeError:
        raise InvalidArgument(field_name, "is not valid UTF-8 (lone surrogate)") from None


def _string_too_long(size: int, limits: Limits, what: str = "is") -> str:
    return (
        f"{what} {size} bytes, over the limit of {limits.string_bytes} bytes per string "
        f"(raise it with {describe.FLAG_MAX_STRING_BYTES})"
    )


def check_text(field_name: str, value: str, limits: Limits) -> None:
    size = _utf8_len(field_name, value)
    if size > limits.string_bytes:
        raise InvalidArgument(field_name, _string_too_long(size, limits))


def _printable(text: str) -> bool:
    # Control, format, surrogate, unassigned and private-use characters are not printable keys.
    return all(unicodedata.category(ch)[0] != "C" for ch in text)


def check_key(field_name: str, key: str, limits: Limits) -> None:
    """A variable name or request id: 1 to max_key_bytes printable characters."""
    size = _utf8_len(field_name, key)
    if not 1 <= size <= limits.max_key_bytes:
        raise InvalidArgument(
            field_name,
            f"is {size} bytes; it must be 1 to {limits.max_key_bytes} bytes (a fixed limit)",
        )
    if not _printable(key):
        raise InvalidArgument(field_name, "has non-printable characters")


def check_request_id(request_id: str, limits: Limits) -> None:
    check_key("request_id", request_id, limits)


MAX_SUBJECT_BYTES = 256


def check_subject(subject: str) -> None:
    """The `taskstate-subject` metadata: 1 to 256 printable ASCII characters (what a gRPC
    metadata value can carry unchanged)."""
    if not 1 <= len(subject) <= MAX_SUBJECT_BYTES:
        raise InvalidArgument(
            "taskstate-subject",
            f"is {len(subject)} characters; it must be 1 to {MAX_SUBJECT_BYTES} (a fixed limit)",
        )
    if not all(" " <= ch <= "~" for ch in subject):
        raise InvalidArgument("taskstate-subject", "must be printable ASCII")


def require_status(status: TaskStatus | None, field_name: str = "status") -> TaskStatus:
    if status is None:
        raise InvalidArgument(field_name, "is required")
    return status


class _ValueChecker:
    """Walks one JSON value, keeping the path to where it is, for the error message.

    The path is a stack of keys and indexes, formatted only when a check fails,
    so a large valid value costs no string building.
    """

    def __init__(self, root: str, limits: Limits) -> None:
        self.root = root
        self.limits = limits
        self.parts: list[describe.PathPart] = []
        # A string limit at or above the variables cap never binds first inside a value:
        # a longer string makes the value too large, and check_size says so, naming
        # the flag that actually helps (--max-variables-bytes).
        strict = limits.string_bytes < limits.max_variables_bytes
        self.string_cap: int | None = limits.string_bytes if strict else None

    def fail(self, description: str) -> InvalidArgument:
        return InvalidArgument(describe.json_path(self.root, self.parts), description)

    def walk(self, v: JSON, depth: int) -> None:
        """A scalar is depth 0; each list or object around it adds one level."""
        if isinstance(v, str):
            self.text(v, "is")
        elif isinstance(v, float):
            if v != v or v in (float("inf"), float("-inf")):
                raise self.fail(f"numbers must be finite, not {v}")
        elif isinstance(v, dict | list):
            if depth >= self.limits.max_depth:
                raise self.fail(
                    f"is nested deeper than {self.limits.max_depth} levels (a fixed limit)"
                )
            if isinstance(v, dict):
                for k, item in v.items():
                    self.parts.append(k)
                    self.text(k, "its key is")
                    self.walk(item, depth + 1)
                    self.parts.pop()
                return
            cap = self.string_cap
            for i, item in enumerate(v):
                # The bulk of a large list (nulls, bools, ints, short ASCII strings) is
                # passed over here, without growing the path or a call.
                if item is None or isinstance(item, bool | int):
                    continue
                if isinstance(item, str) and item.isascii() and (cap is None or len(item) <= cap):
                    continue
                self.parts.append(i)
                self.walk(item, depth + 1)
                self.parts.pop()

    def text(self, s: str, what: str) -> None:
        if s.isascii():
            size = len(s)
        else:
            try:
                size = len(s.encode("utf-8"))
            except UnicodeEncodeError:
                raise self.fail("is not valid UTF-8 (lone surrogate)") from None
        if self.string_cap is not None and size > self.string_cap:
            raise self.fail(_string_too_long(size, self.limits, what))


def check_value(field_name: str, value: JSON, limits: Limits) -> None:
    """Nesting depth, string sizes (keys included) and finite numbers, anywhere in `value`."""
    _ValueChecker(field_name, limits).walk(value, 0)


def check_variable_values(
    variables: dict[str, JSON], limits: Limits, root: str = "variables"
) -> None:
    for key, value in variables.items():
        path = describe.json_path(root, [key])
        check_key(path, key, limits)
        check_value(path, value, limits)


def check_size(field_name: str, value: JSON, limits: Limits) -> None:
    size = len(records.dumps(value))
    if size > limits.max_variables_bytes:
        raise VariablesTooLarge(
            f"{field_name}: serializes to {size} bytes of JSON, over the limit of "
            f"{limits.max_variables_bytes} bytes (raise it with "
            f"{describe.FLAG_MAX_VARIABLES_BYTES}){_largest_part(field_name, value)}"
        )


def _largest_part(field_name: str, value: JSON) -> str:
    """The largest part of an oversized value, by JSON bytes; costs a few serializations,
    on failure only."""
    path, size = describe.largest_member(field_name, value, 0, _json_member_sizes)
    if path == field_name:
        return ""
    return f"; the largest part is {path} at {size} bytes"


def _json_member_sizes(value: JSON) -> Iterator[tuple[describe.PathPart, JSON, int]]:
    if isinstance(value, dict):  # a member's key counts: it may be the large part
        for k, item in value.items():
            yield k, item, len(records.dumps(k)) + 1 + len(records.dumps(item))
    else:
        for i, item in enumerate(value):
            yield i, item, len(records.dumps(item))


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


def check_result(
    result: JSON | _Unset, error: TaskError | None, limits: Limits, prefix: str = ""
) -> None:
    """`prefix` is where the request holds result and error ("task." in PutIfVersion)."""
    if result is not UNSET:
        check_value(prefix + "result", result, limits)
        check_size(prefix + "result", result, limits)
    if error is not None:
        check_text(prefix + "error.message", error.message, limits)
        if error.data is not UNSET:
            check_value(prefix + "error.data", error.data, limits)
            check_size(prefix + "error.data", error.data, limits)


def check_patch(patch: TaskPatch, limits: Limits) -> None:
    """Checks the masked fields of PutIfVersion's `task`; paths name them as `task.<field>`."""
    if not patch.mask:
        raise InvalidArgument("update_mask", "must name at least one field")
    unknown = sorted(patch.mask - PATCH_FIELDS)
    if unknown:
        raise InvalidArgument(
            "update_mask",
            f"unknown path(s) {describe.quote_list(unknown)}; "
            f"allowed: {', '.join(sorted(PATCH_FIELDS))}",
        )
    if "status" in patch.mask:
        require_status(patch.status, "task.status")
    if "status_message" in patch.mask:
        check_text("task.status_message", patch.status_message, limits)
    if "variables" in patch.mask:
        check_variable_values(patch.variables, limits, "task.variables")
        check_size("task.variables", patch.variables, limits)
    check_result(
        patch.result if "result" in patch.mask else UNSET,
        patch.error if "error" in patch.mask else None,
        limits,
        prefix="task.",
    )
    if "ttl" in patch.mask and patch.ttl_ms is not None:
        check_ttl(patch.ttl_ms, limits, "task.ttl")
    if "poll_interval" in patch.mask:
        check_poll_interval(patch.poll_interval_ms, limits, "task.poll_interval")
