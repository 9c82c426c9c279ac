"""Backend proxies for TaskStore tests: forward everything, watch or change one thing."""

from __future__ import annotations

from typing import Any

from taskstate_server.backends.base import (
    Backend,
    Change,
    ChangeListener,
    DatabaseUnavailable,
    EventLogBackend,
    EventPage,
    Feature,
    ResyncListener,
)


class Proxy:
    """Forwards every attribute to `inner`; `features` may be narrowed (a store without one)."""

    def __init__(self, inner: Backend, features: frozenset[Feature] | None = None) -> None:
        self._inner = inner
        self.features = inner.features if features is None else features

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class Deafened(Proxy):
    """Drops the changes published while `deaf` is set (a feed that lost them), lets a test
    signal the resync such a feed would send, and fails `read_events` while `failing`."""

    def __init__(self, inner: Backend) -> None:
        super().__init__(inner)
        self.deaf = False
        self.failing = False
        self._on_resync: ResyncListener | None = None

    async def read_events(self, owner: str, *, after: str, limit: int, now_ms: int) -> EventPage:
        if self.failing:
            raise DatabaseUnavailable("cut off by the test")
        log: EventLogBackend = self._inner  # type: ignore[assignment]
        return await log.read_events(owner, after=after, limit=limit, now_ms=now_ms)

    def subscribe(self, on_change: ChangeListener, on_resync: ResyncListener) -> None:
        def hear(change: Change) -> None:
            if not self.deaf:
                on_change(change)

        self._on_resync = on_resync
        self._inner.subscribe(hear, on_resync)

    def resync(self) -> None:
        assert self._on_resync is not None
        self._on_resync()


class Counting(Proxy):
    """Records what each listing call returned to the domain: (method, records)."""

    def __init__(self, inner: Backend) -> None:
        super().__init__(inner)
        self.calls: list[tuple[str, int]] = []

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._inner, name)
        if name not in ("list", "list_by_status"):
            return method

        async def counted(*args: Any, **kwargs: Any) -> Any:
            records = await method(*args, **kwargs)
            self.calls.append((name, len(records)))
            return records

        return counted
