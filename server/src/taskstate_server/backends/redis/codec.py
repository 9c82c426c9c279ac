"""What the Redis backend sends to and reads from its scripts: owner hash tags, the facts of a
record as script arguments, records and events as the scripts return them, change messages.

The formats themselves are described in `scripts`."""

from __future__ import annotations

import re
from typing import Any, Final

from ..base import Change, Event, EventKind, Record

_MEMBER: Final = re.compile(rb"^\{([^{}]*)\}:(.*)$", re.DOTALL)


def escape_owner(owner: str) -> str:
    """The owner inside its hash tag: no braces (they would end the tag), never empty."""
    if not owner:
        return "%"  # a lone '%' is never produced by escaping a non-empty owner
    return owner.replace("%", "%25").replace("{", "%7B").replace("}", "%7D")


def unescape_owner(escaped: str) -> str:
    if escaped == "%":
        return ""
    return escaped.replace("%7D", "}").replace("%7B", "{").replace("%25", "%")


def owner_tag(owner: str) -> str:
    """`{O}`: the hash tag every key of `owner` carries."""
    return "{" + escape_owner(owner) + "}"


def parse_member(member: bytes) -> tuple[str, str] | None:
    """(owner, task_id) of a global set's member `{O}:<task_id>`; None if not one of ours."""
    m = _MEMBER.match(member)
    if m is None:
        return None
    return unescape_owner(m[1].decode()), m[2].decode()


def record_args(record: Record) -> tuple[Any, ...]:
    """version, data, active, expire_at, status, lease_until, claim_group ('' = none)."""
    return (
        record.version,
        record.data,
        "1" if record.active else "0",
        _opt(record.expire_at_ms),
        record.status,
        _opt(record.lease_until_ms),
        _opt(record.claim_group),
    )


def _opt(value: int | str | None) -> int | str:
    return "" if value is None else value


def to_record(owner: str, task_id: str, fields: list[Any]) -> Record:
    """A record from the scripts' `{v, d, a, e, s, l, g}` (None = absent)."""
    v, d, a, e, s, lease, g = fields
    return Record(
        owner,
        task_id,
        int(v),
        bytes(d or b""),
        a == b"1",
        int(e) if e else None,
        status=s.decode() if s else "",
        lease_until_ms=int(lease) if lease else None,
        claim_group=g.decode() if g else None,
    )


def to_records(owner: str, flat: list[Any]) -> list[Record]:
    """Records from the scripts' `{task_id, {v, d, a, e, s, l, g}, ...}`."""
    return [to_record(owner, flat[i].decode(), flat[i + 1]) for i in range(0, len(flat), 2)]


def to_events(owner: str, after: str, entries: list[Any]) -> list[Event]:
    """Events from read_events.lua's `{position, kind, task_id, version, ms, record, u}`
    entries, read after position `after` (so each one's prev is the one before)."""
    out: list[Event] = []
    prev = after
    for raw_position, kind, raw_task_id, version, ms, fields, subject in entries:
        position, task_id = raw_position.decode(), raw_task_id.decode()
        record = to_record(owner, task_id, fields) if fields else None
        event_kind = EventKind(kind.decode())
        out.append(
            Event(
                position, prev, event_kind, task_id, int(version), int(ms), record, subject.decode()
            )
        )
        prev = position
    return out


_CHANGE_FIELDS: Final = 10


def decode_change(payload: bytes) -> Change:
    """Parses a message published by the scripts (ten `<len>:<bytes>` fields)."""
    fields: list[bytes] = []
    pos = 0
    for _ in range(_CHANGE_FIELDS):
        colon = payload.index(b":", pos)
        size = int(payload[pos:colon])
        start = colon + 1
        if size < 0 or start + size > len(payload):
            raise ValueError("truncated change message")
        fields.append(payload[start : start + size])
        pos = start + size
    if pos != len(payload):
        raise ValueError("trailing bytes in change message")
    owner_b, tid_b, kind_b, version, active, expire, data, position, prev, ms = fields
    owner, task_id, kind = owner_b.decode(), tid_b.decode(), EventKind(kind_b.decode())
    # A removal has no data: the field carries the removed task's subject instead.
    subject = "" if kind is EventKind.WRITE else data.decode()
    event = Event(
        position.decode(), prev.decode(), kind, task_id, int(version), int(ms), None, subject
    )
    if kind is not EventKind.WRITE:
        return Change(owner, task_id, None, kind, event)
    record = Record(
        owner=owner,
        task_id=task_id,
        version=int(version),
        data=data,
        active=active == b"1",
        expire_at_ms=int(expire) if expire else None,
    )
    return Change(owner, task_id, record, kind, event)
