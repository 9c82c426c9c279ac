"""In-process change feed, for backends whose replicas share one process."""

from __future__ import annotations

from .base import Change, ChangeListener, ResyncListener


class LocalFeed:
    """Delivers changes synchronously to the single registered listener."""

    def __init__(self) -> None:
        self._on_change: ChangeListener | None = None

    def subscribe(self, on_change: ChangeListener, on_resync: ResyncListener) -> None:
        # An in-process feed never loses changes, so on_resync is never called.
        self._on_change = on_change

    def publish(self, change: Change) -> None:
        if self._on_change is not None:
            self._on_change(change)
