"""Jittered exponential backoff, shared by update() retries and watch resumption."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how patiently to retry.

    Delays use "full jitter" (uniform in [0, capped exponential]): under
    contention it spreads competing writers out better than fixed or
    equal-jitter backoff, which is what makes update() converge when many
    processes hit one task.
    """

    max_attempts: int = 20
    """Total attempts including the first; at least 1."""
    initial_backoff: float = 0.01
    """Cap of the first delay, in seconds."""
    max_backoff: float = 1.0
    """No delay is longer than this, in seconds."""
    multiplier: float = 2.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be >= 1")
        if self.initial_backoff < 0 or self.max_backoff < 0 or self.multiplier < 1:
            raise ValueError("backoffs must be >= 0 and multiplier >= 1")

    def delays(self) -> Iterator[float]:
        """Yields the sleep before each retry: max_attempts - 1 values."""
        cap = self.initial_backoff
        for _ in range(self.max_attempts - 1):
            yield random.uniform(0.0, min(cap, self.max_backoff))
            cap *= self.multiplier


DEFAULT_UPDATE_RETRY = RetryPolicy()
DEFAULT_WATCH_RETRY = RetryPolicy(max_attempts=12, initial_backoff=0.1, max_backoff=5.0)
