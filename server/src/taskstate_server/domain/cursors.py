"""Opaque WatchTasks resume cursors: a position in an owner's event log.

A cursor is "c1_" + base64url(JSON {"e": epoch, "p": position, "t": time_ms}); "c1_" is the
format version. Unlike a page token it is not bound to a filter: any watch of the owner may
resume from it. The checks, in order (docs/proposals/issue-10.md section 4.2): a text that is
not one of ours is InvalidArgument; another epoch (another database, a recreated log) or a time
older than the feed retention is FeedCompacted (the store's own "trimmed" answer comes later,
from `read_events`). The time rule is the one every store shares: stores keep entries a while
longer than the retention, so a cursor the rule accepts is one the store can still serve.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass

from .errors import FeedCompacted, InvalidArgument

PREFIX = "c1_"
MAX_CURSOR_CHARS = 512
"""Checked before decoding, so a crafted cursor cannot make the JSON parser work hard."""

FIELD = "resume_cursor"


@dataclass(frozen=True, slots=True)
class Cursor:
    epoch: str
    """The incarnation of the log the position belongs to (`EventPage.epoch`)."""
    position: str
    """The last log entry the holder has consumed (delivered or passed over)."""
    time_ms: int
    """When that entry was written, or when the log was known to have nothing after it."""


def encode_cursor(cursor: Cursor) -> str:
    body = json.dumps(
        {"e": cursor.epoch, "p": cursor.position, "t": cursor.time_ms},
        separators=(",", ":"),
        ensure_ascii=True,
    )
    text = PREFIX + base64.urlsafe_b64encode(body.encode()).decode().rstrip("=")
    if len(text) > MAX_CURSOR_CHARS:
        # Epochs and positions are short store-made strings: this is a store bug.
        raise ValueError(f"a cursor of {len(text)} characters: epoch or position too long")
    return text


def decode_cursor(text: str) -> Cursor:
    """The cursor, or InvalidArgument when `text` is not one WatchTasks or ListTasks gave."""
    if len(text) > MAX_CURSOR_CHARS or not text.startswith(PREFIX):
        raise InvalidArgument(FIELD, "is not a cursor returned by WatchTasks or ListTasks")
    try:
        raw = text[len(PREFIX) :]
        body = json.loads(base64.urlsafe_b64decode((raw + "=" * (-len(raw) % 4)).encode("ascii")))
        if not isinstance(body, dict) or set(body) != {"e", "p", "t"}:
            raise ValueError
        epoch, position, time_ms = body["e"], body["p"], body["t"]
        if not (isinstance(epoch, str) and epoch and isinstance(position, str)):
            raise ValueError
        if type(time_ms) is not int or time_ms < 0:
            raise ValueError
    except (ValueError, TypeError, UnicodeError, binascii.Error, RecursionError):
        raise InvalidArgument(
            FIELD, "is not a cursor returned by WatchTasks or ListTasks"
        ) from None
    return Cursor(epoch, position, time_ms)


RELIST = "list the tasks again and watch from the list's resume_cursor"


def check_cursor(cursor: Cursor, *, epoch: str, now_ms: int, retention_ms: int) -> None:
    """Raises FeedCompacted when the log named by `epoch` cannot serve `cursor`."""
    if cursor.epoch != epoch:
        raise FeedCompacted(
            "resume_cursor belongs to another incarnation of the event log (a different "
            f"database, or one recreated since): {RELIST}"
        )
    if cursor.time_ms < now_ms - retention_ms:
        raise FeedCompacted(
            f"resume_cursor is older than the server's feed retention (--feed-retention): {RELIST}"
        )
