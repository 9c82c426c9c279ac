"""UUIDv7 task ids: time-ordered, so key order is creation order on every backend."""

from __future__ import annotations

import os
import re
import threading

from .errors import InvalidArgument

_TASK_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


class TaskIdGenerator:
    """Makes UUIDv7 ids that increase within this generator.

    Within one millisecond a 12-bit counter (RFC 9562 method 1) keeps ids
    increasing; when it overflows the timestamp is advanced, so an id's time
    never goes backwards. Each TaskStore owns one, fed by its own clock.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last_ms = -1
        self._counter = 0

    def new(self, now_ms: int) -> tuple[str, int]:
        """A new id and the millisecond it encodes (used as create_time)."""
        with self._lock:
            if now_ms > self._last_ms:
                self._last_ms = now_ms
                # Start low in the counter space so there is room to count up.
                self._counter = int.from_bytes(os.urandom(2), "big") & 0x3FF
            else:
                self._counter += 1
                if self._counter > 0xFFF:
                    self._last_ms += 1
                    self._counter = 0
            ms, counter = self._last_ms, self._counter
        rand_b = int.from_bytes(os.urandom(8), "big") & ((1 << 62) - 1)
        value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | counter << 64 | 0b10 << 62 | rand_b
        h = f"{value:032x}"
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}", ms


def validate_task_id(task_id: str) -> None:
    if not _TASK_ID.fullmatch(task_id):
        raise InvalidArgument("task_id", "must be a lowercase UUIDv7 as returned by CreateTask")
