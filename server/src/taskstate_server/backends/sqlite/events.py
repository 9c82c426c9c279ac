"""The SQLite store's event log (`Feature.EVENT_LOG`): the `events` table.

A position is an entry's `seq` in decimal; "0" is the start of every owner's log. One
AUTOINCREMENT counter serves every owner, so positions increase within each owner's log
and are never reused. Entries are appended inside the write's own transaction, which holds
the database's write lock: the owner's previous seq is read and the entry inserted with no
other writer in between, on any connection or process.

Trimming deletes entries older than the retention and records, per owner, the newest seq
it deleted (`event_trims`). A position is compacted only when an entry of ITS owner after
it is gone, so a quiet owner's cursor survives other owners' trims, and its own old
entry's when nothing followed it.
"""

from __future__ import annotations

import re
import sqlite3
from typing import Final

from ..base import Event, EventKind, EventPage
from .rows import to_record

START: Final = 0
DEFAULT_RETENTION_MS: Final = 3_600_000
SLACK_MS: Final = 600_000
"""Kept beyond the retention, so replicas' clocks may disagree by that much (proposal 4.2)."""
TRIM_BATCH: Final = 500
"""Entries deleted per transaction: a trim never holds the write lock for long."""
TRIM_MAX_BATCHES: Final = 20
"""Per sweep: with a sweep a second, trimming keeps up with 10,000 writes a second."""

_POSITION: Final = re.compile(r"0|[1-9][0-9]{0,18}")
_MAX_SEQ: Final = 2**63 - 1

_BOUNDS: Final = (
    "SELECT (SELECT MAX(seq) FROM events WHERE owner = ?1),"
    " (SELECT through FROM event_trims WHERE owner = ?1)"
)
_READ: Final = """
    SELECT e.seq, e.prev, e.kind, e.task_id, e.version, e.time, e.subject,
           t.version, t.data, t.active, t.expire_at, t.status, t.lease_until, t.claim_group
    FROM events AS e
    LEFT JOIN tasks AS t
        ON e.kind = 'w' AND t.owner = e.owner AND t.task_id = e.task_id
        AND (t.expire_at IS NULL OR t.expire_at > ?)
    WHERE e.owner = ? AND e.seq > ?
    ORDER BY e.seq LIMIT ?
"""


def parse_position(text: str) -> int | None:
    """The seq a position names, or None when it cannot be one of ours."""
    if _POSITION.fullmatch(text) is None:
        return None
    seq = int(text)
    return seq if seq <= _MAX_SEQ else None


def _bounds(conn: sqlite3.Connection, owner: str) -> tuple[int, int]:
    """(head, low watermark) of the owner's log. Once all its entries are trimmed, the
    newest trimmed seq is still its head: the chain goes on from there."""
    newest, trimmed = conn.execute(_BOUNDS, (owner,)).fetchone()
    low = START if trimmed is None else int(trimmed)
    return max(START if newest is None else int(newest), low), low


class Appender:
    """Appends the entries of ONE write transaction, remembering each owner's head."""

    def __init__(self, conn: sqlite3.Connection, now_ms: int) -> None:
        self._conn = conn
        self._now_ms = now_ms
        self._heads: dict[str, int] = {}

    def append(
        self, owner: str, kind: EventKind, task_id: str, version: int, subject: str = ""
    ) -> Event:
        """`subject`: the removed task's, for DELETED and EXPIRED ("" for WRITE)."""
        prev = self._heads.get(owner)
        if prev is None:
            prev, _ = _bounds(self._conn, owner)
        cur = self._conn.execute(
            "INSERT INTO events (owner, task_id, version, kind, time, prev, subject)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (owner, task_id, version, kind.value, self._now_ms, prev, subject),
        )
        seq = cur.lastrowid
        assert seq is not None
        self._heads[owner] = seq
        return Event(str(seq), str(prev), kind, task_id, version, self._now_ms, None, subject)


def read(conn: sqlite3.Connection, owner: str, *, after: str, limit: int, now_ms: int) -> EventPage:
    """`EventLogBackend.read_events`; run inside one read transaction (a consistent head)."""
    (epoch,) = conn.execute("SELECT value FROM meta WHERE key = 'epoch'").fetchone()
    head, low = _bounds(conn, owner)
    if limit <= 0:
        return EventPage(epoch, str(head), [])
    position = parse_position(after)
    # Below the watermark: entries after it were trimmed. Beyond the head: not a position
    # of this log (a database restored from an older backup, say).
    if position is None or not low <= position <= head:
        return EventPage(epoch, str(head), [], compacted=True)
    events = []
    for row in conn.execute(_READ, (now_ms, owner, position, limit)):
        seq, prev, kind, task_id, version, time_ms, subject = row[:7]
        current = None if row[7] is None else to_record((owner, task_id, *row[7:]))
        events.append(
            Event(str(seq), str(prev), EventKind(kind), task_id, version, time_ms, current, subject)
        )
    return EventPage(epoch, str(head), events)


def trim(conn: sqlite3.Connection, older_than_ms: int) -> int:
    """Deletes up to TRIM_BATCH entries with time < older_than_ms, raising their owners'
    watermarks first. Run inside a write transaction; returns how many went."""
    rows = conn.execute(
        "SELECT seq, owner FROM events WHERE time < ? ORDER BY time LIMIT ?",
        (older_than_ms, TRIM_BATCH),
    ).fetchall()
    through: dict[str, int] = {}
    for seq, owner in rows:
        through[owner] = max(through.get(owner, START), seq)
    conn.executemany(
        "INSERT INTO event_trims (owner, through) VALUES (?, ?)"
        " ON CONFLICT (owner) DO UPDATE SET through = MAX(through, excluded.through)",
        through.items(),
    )
    conn.executemany("DELETE FROM events WHERE seq = ?", [(seq,) for seq, _ in rows])
    return len(rows)
