"""How error messages name things: JSON paths, durations and the flags behind limits.

A limit error must let the user find the offending value and the knob that
moves the limit, in their own terms: `result.content[0].data`, `24h`,
`--max-string-bytes`. Every message that quotes client input goes through
here, so it stays short: a hostile 1 MB key must not become a 1 MB error
(gRPC carries the message in trailers, which clients cap at a few KiB).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

FLAG_MAX_STRING_BYTES = "--max-string-bytes"
FLAG_MAX_VARIABLES_BYTES = "--max-variables-bytes"
FLAG_MAX_TTL = "--max-ttl"
FLAG_MAX_ACTIVE_TASKS = "--max-active-tasks"
FLAG_MAX_LEASE = "--max-lease"

MAX_QUOTED_CHARS = 32
"""Client text quoted in a message is cut to this many characters."""

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_UNITS_MS = (("h", 3_600_000), ("m", 60_000))

PathPart = str | int
"""An object key (str) or a list index (int) below a path's root."""

MemberSizes = Callable[[Any], Iterable[tuple[PathPart, Any, int]]]
"""(key or index, member, bytes) for each member of a JSON object or list, in some measure."""

MAX_MEMBERS_MEASURED = 1000
"""largest_member stops at a container of more members: measuring each costs a call per
member, and no single member of many small ones is to blame anyway."""


def clip(text: str, limit: int = MAX_QUOTED_CHARS) -> str:
    """`text`, cut to `limit` characters with an ellipsis when longer."""
    return text if len(text) <= limit else text[:limit] + "\u2026"


def quote(text: str) -> str:
    """A JSON string literal of (clipped) client text, safe in any message."""
    clipped = clip(text)
    literal = json.dumps(clipped, ensure_ascii=False)
    try:
        literal.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: escape everything instead
        literal = json.dumps(clipped)
    return literal


def json_path(root: str, parts: Iterable[PathPart] = ()) -> str:
    """`root` followed by `.key`, `["odd key"]` and `[3]` parts (long keys clipped).

    >>> json_path("result", ["content", 0, "data"])
    'result.content[0].data'
    >>> json_path("variables", ["a b"])
    'variables["a b"]'
    """
    out = [root]
    for part in parts:
        if isinstance(part, int):
            out.append(f"[{part}]")
        elif len(part) <= MAX_QUOTED_CHARS and _IDENTIFIER.fullmatch(part):
            out.append(f".{part}")
        else:
            out.append(f"[{quote(part)}]")
    return "".join(out)


def largest_member(root: str, value: Any, size: int, member_sizes: MemberSizes) -> tuple[str, int]:
    """Where an oversized value's bytes are, so the user knows what to shrink.

    Follows the largest member (as `member_sizes` measures it) down from `value`, of
    `size` bytes at `root`, to a scalar or a container of many members: for an MCP
    result that is the image, `result.content[0].data`. Returns its path and size.
    """
    parts: list[PathPart] = []
    while isinstance(value, dict | list) and 0 < len(value) <= MAX_MEMBERS_MEASURED:
        key, value, size = max(member_sizes(value), key=lambda member: member[2])
        parts.append(key)
    return json_path(root, parts), size


def quote_list(items: Sequence[str], shown: int = 5) -> str:
    """A short, comma-separated list of client strings: the first `shown`, then a count."""
    text = ", ".join(quote(item) for item in items[:shown])
    if len(items) > shown:
        text += f" and {len(items) - shown} more"
    return text


def format_duration_ms(ms: int) -> str:
    """Milliseconds as a user writes a duration flag: 24h, 1h30m, 1.5s, 250ms.

    The result parses back with config's duration syntax to the same value.
    """
    if ms < 0:
        return "-" + format_duration_ms(-ms)
    if ms == 0:
        return "0s"
    out: list[str] = []
    rest = ms
    for unit, size in _UNITS_MS:
        if rest >= size:
            out.append(f"{rest // size}{unit}")
            rest %= size
    if rest >= 1000:
        seconds = f"{rest // 1000}.{rest % 1000:03d}".rstrip("0").rstrip(".")
        out.append(f"{seconds}s")
    elif rest:
        out.append(f"{rest}ms")
    return "".join(out)
