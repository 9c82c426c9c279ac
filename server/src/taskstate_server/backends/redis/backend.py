"""`redis://host:port/db?prefix=...` (`rediss://` for TLS): a store shared by several replicas.

Every mutation is ONE atomic Lua script (`scripts`, read from `lua/*.lua`), loaded with SCRIPT
LOAD and run by EVALSHA (reloaded on NOSCRIPT, e.g. after Redis restarted); a read is one HMGET
or one script. The key layout is described in `scripts`: every key of an owner carries the hash
tag `{owner}`. Needs Redis >= 6.2 (ZRANGE ... BYLEX REV, XADD MINID, exclusive XRANGE).

Expiry: every read checks `expire_at` against the caller's clock. The record key also gets a key
expiry, relative (PEXPIRE with the time left by the caller's `now_ms`, so the servers' and Redis'
clocks need not agree), `EXPIRY_GRACE_MS` past `expire_at`: the sweeper (`sweep_expired`, over
the global `Pexpiring` set) removes an expired task first and logs EXPIRED with its last version;
the key expiry only reclaims memory if no server swept for that long (the sweep then logs version
0). Create drops expired tasks from the quota set before counting.

Indexes (`Feature.INDEXES`): the write scripts keep a task's status set, claim sets and the global
lease set in step with the facts in its hash. Event log (`Feature.EVENT_LOG`): each write script
appends to the owner's stream `P{O}:ev` and trims entries older than the feed retention plus
`LOG_SLACK_MS` in the same step; `read_events` is one script (XRANGE plus the tasks' records).
The layout of the keys is versioned (`scripts.LAYOUT` in `Playout`): `open` refuses another.

Change feed: the scripts PUBLISH every committed change, with its kind and log entry, on
`<prefix>changes` (a non-key operation, allowed in cluster mode); a background listener delivers
them to `on_change` on the event loop. Pub/sub loses what is published while the listener is
disconnected, so the listener calls `on_resync` when it loses its subscription and again once it
has subscribed anew (a reader then catches up from the log).

Outages: every call raises `DatabaseUnavailable` within about `OP_TIMEOUT_S` (connect and read
timeouts of 2 s; a write is never retried, so it never runs twice; a read is retried once on a
dead connection), and works again once Redis is back: redis-py drops a broken connection, and
the pool checks a pooled one before handing it out (with redis-py's maintenance notifications
off, which would skip that check), so a restarted Redis costs no failed call.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import functools
import logging
import secrets
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Final, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import redis.asyncio as aioredis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, RedisError
from redis.maint_notifications import MaintNotificationsConfig

from ..base import (
    BackendError,
    ChangeListener,
    DatabaseUnavailable,
    EventPage,
    Feature,
    QuotaFull,
    Record,
    RecordMissing,
    ResyncListener,
    StoreURLError,
    VersionConflict,
)
from . import codec, scripts
from .codec import owner_tag

log = logging.getLogger("taskstate_server.backends.redis")

T = TypeVar("T")

DEFAULT_PREFIX: Final = "taskstate:"
SOCKET_TIMEOUT_S: Final = 2.0
"""Connect and read timeouts of one command."""
OP_TIMEOUT_S: Final = 3.0
"""Upper bound of one backend call's wait on Redis, whatever redis-py does."""
FEED_PING_S: Final = 1.0
"""The listener pings an idle subscription this often..."""
FEED_DEAD_S: Final = 3.5
"""...and reconnects when it has heard nothing for this long."""
FEED_BACKOFF_MAX_S: Final = 1.0
MAX_CONNECTIONS: Final = 64
"""Pool size per backend (URL query `max_connections` overrides it)."""
EXPIRY_GRACE_MS: Final = 300_000
"""A record key lives this long past `expire_at`, so that the sweeper removes it (logging
EXPIRED with its version) before Redis does."""
DEFAULT_FEED_RETENTION_MS: Final = 3_600_000
"""How long log entries are kept until `set_feed_retention` says otherwise (the server's
default `--feed-retention`)."""
LOG_SLACK_MS: Final = 600_000
"""Entries are kept this much longer than the retention, so clock skew under it loses none."""


class LayoutMismatch(BackendError):
    """The keys under the prefix were written with another key layout than this server's."""


def _split_url(url: str, prefix: str | None = None) -> tuple[str, str]:
    """(the URL for redis-py, the key prefix): `prefix` is ours, every other query is redis-py's.

    An explicit `prefix` wins over the URL's."""
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss"):
        raise StoreURLError(
            f"not a Redis URL (scheme {parts.scheme!r}): use redis://host:port/db or rediss://..."
        )
    db = parts.path.strip("/")
    if db and not db.isdigit():
        raise StoreURLError(f"bad Redis URL: the path must be a database number, not {db!r}")
    url_prefix = DEFAULT_PREFIX
    query: list[tuple[str, str]] = []
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if name == "prefix":
            url_prefix = value
        else:
            query.append((name, value))
    if prefix is None:
        prefix = url_prefix
    if "{" in prefix or "}" in prefix:
        raise StoreURLError(f"the Redis key prefix must not contain braces: {prefix!r}")
    return urlunsplit(parts._replace(query=urlencode(query))), prefix


class RedisBackend:
    """Construct with `RedisBackend.from_url(url)` (connects lazily, on first use) or
    `await RedisBackend.open(url)`, which also checks that Redis answers and the key layout,
    loads the scripts and waits for the change feed's subscription. `close()` stops the
    listener and the pool."""

    features: frozenset[Feature] = frozenset(
        {
            Feature.DURABLE,
            Feature.SHARED,
            Feature.SHARED_FEED,
            Feature.SWEEPS,
            Feature.INDEXES,
            Feature.EVENT_LOG,
        }
    )
    max_record_bytes: int | None = None  # Redis holds values up to 512 MB
    max_active_limit: int | None = None

    def __init__(self, client: aioredis.Redis, prefix: str, where: str) -> None:
        self._client = client
        self.prefix = prefix
        self._where = where  # host:port/db, for messages (never the password)
        self._channel = (prefix + "changes").encode()
        self._on_change: ChangeListener | None = None
        self._on_resync: ResyncListener | None = None
        self._listener: asyncio.Task[None] | None = None
        self._feed_up = asyncio.Event()
        self._feed_lost = False
        self._closed = False
        self._keep_ms = DEFAULT_FEED_RETENTION_MS + LOG_SLACK_MS

    @classmethod
    def from_url(cls, url: str, *, prefix: str | None = None) -> RedisBackend:
        """Parses `redis://[[user]:password@]host:port/db?prefix=...` (`rediss://` for TLS;
        other query parameters go to redis-py). Connects lazily, on first use."""
        redis_url, prefix = _split_url(url, prefix)
        try:
            # A blocking pool: past `max_connections` (settable in the URL) a call waits for
            # a free connection instead of failing at once ("Too many connections").
            pool = aioredis.BlockingConnectionPool.from_url(
                redis_url,
                max_connections=MAX_CONNECTIONS,
                timeout=OP_TIMEOUT_S,
                socket_timeout=SOCKET_TIMEOUT_S,
                socket_connect_timeout=SOCKET_TIMEOUT_S,
                retry=Retry(NoBackoff(), 0),
                health_check_interval=0,
                # With maintenance notifications on, the pool skips its check that a pooled
                # connection is still alive, so the first call after Redis restarted would fail.
                maint_notifications_config=MaintNotificationsConfig(enabled=False),
            )
            # Connections are made lazily: build one now (no I/O) so that a bad query
            # parameter is reported here rather than on the first call.
            pool.connection_class(**pool.connection_kwargs)
        except (ValueError, TypeError) as exc:
            raise StoreURLError(f"bad Redis URL: {exc}") from exc
        client = aioredis.Redis.from_pool(pool)  # owns the pool: aclose() closes it
        kwargs = pool.connection_kwargs
        where = f"{kwargs.get('host', '?')}:{kwargs.get('port', '?')}/{kwargs.get('db', 0)}"
        if "path" in kwargs:
            where = f"unix:{kwargs['path']}"
        return cls(client, prefix, where)

    @classmethod
    async def open(cls, url: str, *, prefix: str | None = None) -> RedisBackend:
        """`from_url`, then checks that Redis answers (DatabaseUnavailable if not) and that
        the keys have this server's layout (LayoutMismatch if not), loads the scripts and
        waits (bounded) for the change feed's subscription."""
        backend = cls.from_url(url, prefix=prefix)
        try:
            await backend.ping()
            await backend._check_layout()
            for script in scripts.ALL:
                load = functools.partial(backend._cmd, "SCRIPT LOAD", script.source)
                await backend._run(load, read_only=True)
            backend._start_listener(force=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(backend._feed_up.wait(), OP_TIMEOUT_S)
        except BaseException:
            await backend.close()
            raise
        return backend

    @classmethod
    async def open_url(cls, url: str) -> RedisBackend:
        """A server's store: `open` with the URL's own prefix."""
        return await cls.open(url)

    # -- keys ------------------------------------------------------------

    def _base(self, owner: str) -> str:
        return f"{self.prefix}{owner_tag(owner)}:"

    def _context(self, owner: str, now_ms: int) -> tuple[Any, ...]:
        """ARGV[1..8] of every owner script (see `scripts`)."""
        return (
            self.prefix,
            owner_tag(owner),
            owner,
            now_ms,
            self._channel,
            secrets.token_hex(8),  # the owner's log epoch, if it has none yet
            self._keep_ms,
            EXPIRY_GRACE_MS,
        )

    async def _check_layout(self) -> None:
        """Records this server's key layout under a fresh prefix; refuses another one."""
        key = self.prefix + "layout"
        if await self._run(lambda: self._cmd("SET", key, scripts.LAYOUT, "NX")):
            return
        stored = await self._run(lambda: self._cmd("GET", key), read_only=True)
        found = stored.decode(errors="replace") if stored is not None else None
        if found == scripts.LAYOUT:
            return
        raise LayoutMismatch(
            f"redis {self._where}: the keys under prefix {self.prefix!r} have layout {found!r}, "
            f"this server reads layout {scripts.LAYOUT!r} only; use an empty prefix or "
            "database (or the server that wrote them)"
        )

    # -- plumbing --------------------------------------------------------

    def _cmd(self, *args: Any) -> Awaitable[Any]:
        """One command (redis-py's execute_command is untyped)."""
        return self._client.execute_command(*args)  # type: ignore[no-untyped-call]

    async def _run(self, call: Callable[[], Awaitable[T]], *, read_only: bool = False) -> T:
        """Runs `call` (one round trip), bounded in time, mapping every failure to
        DatabaseUnavailable.

        A read whose connection turns out dead (Redis restarted since the pool last used it)
        is tried once more on a fresh one. A write never is: it may have run before the
        connection broke, and running it twice could answer wrongly (e.g. a CAS conflict with
        its own write)."""
        if self._closed:
            raise DatabaseUnavailable("the redis backend is closed")
        self._start_listener()
        try:
            async with asyncio.timeout(OP_TIMEOUT_S):
                try:
                    return await call()
                except RedisConnectionError:
                    if not read_only:
                        raise
                return await call()
        except TimeoutError as exc:
            raise DatabaseUnavailable(f"redis {self._where}: timed out") from exc
        except (RedisError, OSError) as exc:
            raise DatabaseUnavailable(f"redis {self._where}: {exc}") from exc

    async def _eval(
        self,
        script: scripts.LuaScript,
        keys: Sequence[str],
        args: Sequence[Any],
        *,
        read_only: bool = False,
    ) -> Any:
        """EVALSHA, loading the script first if Redis does not know it (NOSCRIPT)."""

        async def call() -> Any:
            try:
                return await self._cmd("EVALSHA", script.sha, len(keys), *keys, *args)
            except NoScriptError:
                # Not run at all: safe to load and run it now.
                await self._cmd("SCRIPT LOAD", script.source)
                return await self._cmd("EVALSHA", script.sha, len(keys), *keys, *args)

        return await self._run(call, read_only=read_only)

    # -- Backend protocol ------------------------------------------------

    async def get(self, owner: str, task_id: str, now_ms: int) -> Record | None:
        key = f"{self._base(owner)}t:{task_id}"
        fields = await self._run(
            lambda: self._cmd("HMGET", key, "v", "d", "a", "e", "s", "l", "g"), read_only=True
        )
        if fields[0] is None:
            return None
        record = codec.to_record(owner, task_id, fields)
        return None if record.expired(now_ms) else record

    async def create(
        self, record: Record, *, request_id: str | None, max_active: int, now_ms: int
    ) -> tuple[Record, bool]:
        owner = record.owner
        base = self._base(owner)
        key = f"{base}t:{record.task_id}"
        rkey = f"{base}req:{request_id}" if request_id is not None else key
        reply = await self._eval(
            scripts.CREATE,
            (key, rkey),
            (
                *self._context(owner, now_ms),
                record.task_id,
                *codec.record_args(record),
                max_active,
                "" if request_id is None else request_id,
            ),
        )
        kind = reply[0]
        if kind == b"created":
            return record, True
        if kind == b"exists":
            return codec.to_record(owner, reply[1].decode(), reply[2]), False
        if kind == b"quota":
            raise QuotaFull()
        raise DatabaseUnavailable(f"redis {self._where}: unexpected create reply {kind!r}")

    async def compare_and_swap(
        self,
        record: Record,
        *,
        expected_version: int,
        now_ms: int,
        previous: Record | None = None,  # one write either way: no use for the hint
    ) -> None:
        base = self._base(record.owner)
        reply = await self._eval(
            scripts.COMPARE_AND_SWAP,
            (f"{base}t:{record.task_id}",),
            (
                *self._context(record.owner, now_ms),
                record.task_id,
                expected_version,
                *codec.record_args(record),
            ),
        )
        kind = reply[0]
        if kind == b"ok":
            return
        if kind == b"missing":
            raise RecordMissing()
        if kind == b"conflict":
            raise VersionConflict(int(reply[1]))
        raise DatabaseUnavailable(f"redis {self._where}: unexpected CAS reply {kind!r}")

    async def delete(self, owner: str, task_id: str, now_ms: int) -> bool:
        deleted = await self._eval(
            scripts.DELETE,
            (f"{self._base(owner)}t:{task_id}",),
            (*self._context(owner, now_ms), task_id),
        )
        return bool(deleted)

    async def list(
        self, owner: str, *, before_task_id: str | None, limit: int, now_ms: int
    ) -> list[Record]:
        if limit <= 0:
            return []
        base = self._base(owner)
        flat = await self._eval(
            scripts.LIST,
            (f"{base}idx",),
            (base, _upper_bound(before_task_id), limit, now_ms),
            read_only=True,
        )
        return codec.to_records(owner, flat)

    async def sweep_expired(self, now_ms: int, limit: int) -> int:
        """Purges expired tasks of every owner (from `Pexpiring`), logging EXPIRED for each."""
        removed = 0
        while removed < limit:
            want = limit - removed
            purged, examined = await self._eval(
                scripts.SWEEP,
                (self.prefix + "expiring",),
                (
                    self.prefix,
                    now_ms,
                    want,
                    self._channel,
                    secrets.token_hex(8),
                    self._keep_ms,
                    EXPIRY_GRACE_MS,
                ),
            )
            removed += int(purged)
            if int(examined) < want:
                break  # nothing more is due (a repaired entry is not due again)
        return removed

    # -- IndexedBackend --------------------------------------------------

    async def list_by_status(
        self,
        owner: str,
        statuses: frozenset[str],
        *,
        before_task_id: str | None,
        limit: int,
        now_ms: int,
    ) -> builtins.list[Record]:
        wanted = sorted(s for s in statuses if s)
        if limit <= 0 or not wanted:
            return []
        base = self._base(owner)
        flat = await self._eval(
            scripts.LIST_BY_STATUS,
            [f"{base}s:{status}" for status in wanted],
            (base, _upper_bound(before_task_id), limit, now_ms),
            read_only=True,
        )
        return codec.to_records(owner, flat)

    async def claimable(
        self, owner: str, *, group: str | None, limit: int, now_ms: int
    ) -> builtins.list[Record]:
        if limit <= 0:
            return []
        base = self._base(owner)
        key = f"{base}claim" if group is None else f"{base}claim:{group}"
        flat = await self._eval(scripts.CLAIMABLE, (key,), (base, limit, now_ms), read_only=True)
        return codec.to_records(owner, flat)

    async def due_leases(self, now_ms: int, limit: int) -> builtins.list[tuple[str, str]]:
        if limit <= 0:
            return []
        members = await self._eval(
            scripts.DUE_LEASES,
            (self.prefix + "leases",),
            (self.prefix, now_ms, limit),
            read_only=True,
        )
        return [key for key in map(codec.parse_member, members) if key is not None]

    # -- EventLogBackend -------------------------------------------------

    def set_feed_retention(self, retention_ms: int) -> None:
        self._keep_ms = retention_ms + LOG_SLACK_MS

    async def read_events(self, owner: str, *, after: str, limit: int, now_ms: int) -> EventPage:
        base = self._base(owner)
        reply = await self._eval(
            scripts.READ_EVENTS,
            (f"{base}ev",),
            (base, after, max(limit, 0), now_ms, secrets.token_hex(8)),
            read_only=True,
        )
        epoch, head, compacted = reply[0].decode(), reply[1].decode(), reply[2] == 1
        return EventPage(epoch, head, codec.to_events(owner, after, reply[3:]), compacted)

    # -- change feed -----------------------------------------------------

    def subscribe(self, on_change: ChangeListener, on_resync: ResyncListener) -> None:
        self._on_change = on_change
        self._on_resync = on_resync
        self._start_listener()

    def _start_listener(self, *, force: bool = False) -> None:
        """Starts the feed's listener once someone subscribed (or `open` asks for it)."""
        if self._listener is not None or self._closed:
            return
        if self._on_change is None and not force:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop yet: the first call on the loop starts it
        self._listener = loop.create_task(self._listen(), name=f"redis-feed {self._where}")

    async def wait_feed_ready(self, timeout_s: float) -> bool:
        """Waits until the change feed is subscribed; False if it is not within `timeout_s`."""
        self._start_listener(force=True)
        try:
            await asyncio.wait_for(self._feed_up.wait(), timeout_s)
        except TimeoutError:
            return False
        return True

    @property
    def feed_connected(self) -> bool:
        return self._feed_up.is_set()

    def _resync(self) -> None:
        if self._on_resync is not None:
            try:
                self._on_resync()
            except Exception:
                log.exception("the change feed's resync listener failed")

    def _deliver(self, payload: bytes) -> None:
        try:
            change = codec.decode_change(payload)
        except (ValueError, UnicodeDecodeError):
            log.warning("ignoring a malformed change message on %s", self._channel.decode())
            return
        if self._on_change is not None:
            try:
                self._on_change(change)
            except Exception:
                log.exception("the change feed's listener failed")

    async def _listen(self) -> None:
        backoff = 0.05
        while not self._closed:
            pubsub: PubSub = self._client.pubsub()
            try:
                await self._subscribe(pubsub)
                self._feed_up.set()
                backoff = 0.05
                if self._feed_lost:
                    self._feed_lost = False
                    log.info("change feed on redis %s resubscribed", self._where)
                    self._resync()
                await self._pump(pubsub)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # RedisError, OSError, TimeoutError, a dead feed
                if not self._feed_lost:
                    log.warning("change feed on redis %s lost: %s", self._where, exc)
            finally:
                self._feed_up.clear()
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
            if self._closed:
                break
            if not self._feed_lost:
                # Changes may be missed until we are back: watchers must not trust the feed.
                self._feed_lost = True
                self._resync()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, FEED_BACKOFF_MAX_S)

    async def _subscribe(self, pubsub: PubSub) -> None:
        async with asyncio.timeout(OP_TIMEOUT_S):
            await pubsub.subscribe(self._channel)
            while True:
                msg = await pubsub.get_message(timeout=OP_TIMEOUT_S)
                if msg is not None and msg.get("type") == "subscribe":
                    return

    async def _pump(self, pubsub: PubSub) -> None:
        loop = asyncio.get_running_loop()
        last_heard = last_ping = loop.time()
        while not self._closed:
            msg = await pubsub.get_message(timeout=FEED_PING_S)
            now = loop.time()
            if msg is None:
                if now - last_heard > FEED_DEAD_S:
                    raise TimeoutError(f"no answer on the subscription for {FEED_DEAD_S}s")
                if now - last_ping >= FEED_PING_S:
                    last_ping = now
                    async with asyncio.timeout(OP_TIMEOUT_S):
                        await pubsub.ping()
                continue
            last_heard = now
            if msg.get("type") == "message":
                self._deliver(msg["data"])

    # -- lifecycle -------------------------------------------------------

    async def ping(self) -> None:
        await self._run(lambda: self._cmd("PING"), read_only=True)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await listener
        with contextlib.suppress(Exception):
            await self._client.aclose()


def _upper_bound(before_task_id: str | None) -> str:
    """The BYLEX bound of a descending page: everything, or strictly below the cursor."""
    return "+" if before_task_id is None else "(" + before_task_id


__all__ = ["DEFAULT_PREFIX", "LayoutMismatch", "RedisBackend"]
