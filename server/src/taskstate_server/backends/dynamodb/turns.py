"""Turn-taking on an owner's log between replicas, and the retry delays of its writes.

Every write of an owner appends at the log item's seq, on the condition that the seq is the
one the writer knows (events.py). A replica with writes of the owner queued sends them back
to back and knows the seq each time, having written last; another replica learns the seq
only from its refused write (ALL_OLD) and sends again, by when the first has moved it on
once more. So the second can lose every round for as long as the first has a queue: measured
on DynamoDB Local with two replicas and eight lease workers, one replica committed 8-20% of
its attempts on a fresh instance, and on a slowed one (150 ms transactions) none at all, its
workers' calls running past their deadlines.

Hence turns. A replica that lost `TURN_AFTER` rounds in a row asks for a turn: it sets
`turn` (its origin) and `turn_until` (ms, wall clock) on the log item. Every append is
conditioned on there being no live request of another replica, and clears the request; a
writer refused by one waits until it ends (at most `MAX_WAIT_S`), and from then on no longer
counts it. The requester's next append passes. A request lasts a few of the requester's
measured transaction times, so a requester that died costs the others one short wait.

This module is the bookkeeping and the arithmetic, without I/O: `EventLog` and `Committer`
send what it decides.
"""

from __future__ import annotations

import random
from collections import OrderedDict
from dataclasses import dataclass
from typing import Final

TURN_AFTER: Final = 2
"""Rounds lost in a row (the seq moved by another replica) before asking for a turn."""
TURN_TRANSACTIONS: Final = 6
"""A turn lasts this many transaction times: the requester's ask, a resend that may still
meet a write sent before the ask landed, and its own write, with room to spare."""
MIN_TURN_S: Final = 0.1
MAX_WAIT_S: Final = 3.0
"""The longest a turn lasts, and so the longest a writer waits for another's (whatever the
clocks say)."""
FIRST_LATENCY_S: Final = 0.02
"""The transaction time assumed before any was measured."""
LATENCY_WEIGHT: Final = 0.2
"""Of the newest sample in the moving average of transaction times."""
BACKOFF_FLOOR_S: Final = 0.005
BACKOFF_CAP_S: Final = 2.0
OWNERS_KEPT: Final = 10_000
"""Owners whose turn state a process keeps (least recently touched go first)."""


@dataclass(slots=True)
class _Owner:
    lost: int = 0  # rounds lost in a row
    asked_until_ms: int = 0  # our own request's end, while it may be live
    honoured_ms: int = 0  # the end of another's request we waited for: no longer counted


class Turns:
    """One process's turn state over every owner it writes, and its transaction time."""

    def __init__(self, origin: str, rng: random.Random | None = None) -> None:
        self.origin = origin
        self.latency_s = FIRST_LATENCY_S
        self._rng = rng or random.Random()
        self._owners: OrderedDict[str, _Owner] = OrderedDict()

    def _state(self, owner: str) -> _Owner:
        state = self._owners.get(owner)
        if state is None:
            state = self._owners[owner] = _Owner()
            while len(self._owners) > OWNERS_KEPT:
                self._owners.popitem(last=False)
        self._owners.move_to_end(owner)
        return state

    def observe(self, seconds: float) -> None:
        """One transaction's round trip (whatever its outcome)."""
        self.latency_s += LATENCY_WEIGHT * (seconds - self.latency_s)

    def turn_s(self) -> float:
        """How long a turn we ask for lasts."""
        return min(MAX_WAIT_S, max(MIN_TURN_S, TURN_TRANSACTIONS * self.latency_s))

    def backoff_s(self, attempt: int) -> float:
        """The wait before retrying a transaction cancelled for a transient reason (a
        conflict in flight, throttling): jittered, exponential from about half a
        transaction time, bounded."""
        base = max(BACKOFF_FLOOR_S, self.latency_s / 2)
        return self._rng.uniform(0, min(BACKOFF_CAP_S, base * 2 ** min(attempt, 8)))

    # -- one owner's rounds ----------------------------------------------------------

    def won(self, owner: str) -> None:
        """An append committed: any request on the log item is gone (the append cleared it)."""
        self._owners.pop(owner, None)

    def lost(self, owner: str, now_ms: int) -> int | None:
        """Another replica moved the seq first. Returns the end (ms) of the turn to ask for
        now, or None (not yet; or our request is still live)."""
        state = self._state(owner)
        state.lost += 1
        if state.lost < TURN_AFTER or now_ms < state.asked_until_ms:
            return None
        state.asked_until_ms = now_ms + round(self.turn_s() * 1000)
        return state.asked_until_ms

    def cut_ms(self, owner: str, now_ms: int) -> int:
        """An append passes when no request of another replica ends at or after this."""
        state = self._owners.get(owner)
        return max(now_ms, state.honoured_ms + 1) if state else now_ms

    def refused(self, owner: str, turn: str | None, until_ms: int, now_ms: int) -> float | None:
        """Our append was refused with the seq we sent still stored: when the log item
        holds another replica's live request, how long to wait (seconds; the request is not
        counted after that). None when it holds none: the refusal is not a turn's."""
        if turn is None or turn == self.origin or until_ms < self.cut_ms(owner, now_ms):
            return None
        self._state(owner).honoured_ms = until_ms
        return min(MAX_WAIT_S, max(0.0, (until_ms - now_ms) / 1000))
