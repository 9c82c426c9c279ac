"""`redis://host:port/db?prefix=...` (`rediss://` for TLS): a store shared by several replicas.

Every mutation is ONE atomic Lua script (`scripts`, read from `lua/*.lua`), loaded with SCRIPT
LOAD and run by EVALSHA (reloaded on NOSCRIPT, e.g. after Redis restarted); a read is one HMGET.
The key layout is described in `scripts`: every key of an owner carries the hash tag `{owner}`,
so each script touches one Redis Cluster slot. Needs Redis >= 6.2 (ZRANGE ... BYLEX REV).

Expiry: the record key gets a key expiry, so Redis deletes it by itself; every read also checks
`expire_at` against the caller's clock, since Redis deletes lazily. The key expiry is relative
(PEXPIRE with the time left by the caller's `now_ms`) rather than PEXPIREAT, so the servers' and
Redis' clocks need not agree (an injected clock works too): `expire_at` decides, Redis only
reclaims the memory about then. Listing skips expired members of the owner's index, create
drops them from the quota set before counting, and `sweep_expired` purges them from every index,
publishing a deletion for each (a backstop: the domain layer already ends watches at expiry).

Change feed: the scripts PUBLISH every committed change on `<prefix>changes` (a non-key
operation, allowed in cluster mode); a background listener delivers them to `on_change` on the
event loop. Pub/sub loses what is published while the listener is disconnected, so the listener
calls `on_resync` when it loses its subscription and again once it has subscribed anew.

Outages: every call raises `DatabaseUnavailable` within about `OP_TIMEOUT_S` (connect and read
timeouts of 2 s; a write is never retried, so it never runs twice; a read is retried once on a
dead connection), and works again once Redis is back: redis-py drops a broken connection, and
the pool checks a pooled one before handing it out (with redis-py's maintenance notifications
off, which would skip that check), so a restarted Redis costs no failed call.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections import deque
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
    Change,
    ChangeListener,
    DatabaseUnavailable,
    Feature,
    QuotaFull,
    Record,
    RecordMissing,
    ResyncListener,
    StoreURLError,
    VersionConflict,
)
from . import scripts

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
SCAN_COUNT: Final = 1000
MAX_SCANS_PER_SWEEP: Final = 100

_GLOB_SPECIAL: Final = frozenset("*?[]\\")


def _escape_owner(owner: str) -> str:
    """The owner inside its hash tag: no braces (they would end the tag), never empty."""
    if not owner:
        return "%"  # a lone '%' is never produced by escaping a non-empty owner
    return owner.replace("%", "%25").replace("{", "%7B").replace("}", "%7D")


def _unescape_owner(escaped: str) -> str:
    if escaped == "%":
        return ""
    return escaped.replace("%7D", "}").replace("%7B", "{").replace("%25", "%")


def _glob_escape(text: str) -> str:
    return "".join("\\" + c if c in _GLOB_SPECIAL else c for c in text)


def _decode_change(payload: bytes) -> Change:
    """Parses a message published by the scripts (six `<len>:<bytes>` fields)."""
    fields: list[bytes] = []
    pos = 0
    for _ in range(6):
        colon = payload.index(b":", pos)
        size = int(payload[pos:colon])
        start = colon + 1
        if size < 0 or start + size > len(payload):
            raise ValueError("truncated change message")
        fields.append(payload[start : start + size])
        pos = start + size
    if pos != len(payload):
        raise ValueError("trailing bytes in change message")
    owner_b, tid_b, version, active, expire, data = fields
    owner, task_id = owner_b.decode(), tid_b.decode()
    if not version:
        return Change(owner, task_id, None)
    record = Record(
        owner=owner,
        task_id=task_id,
        version=int(version),
        data=data,
        active=active == b"1",
        expire_at_ms=int(expire) if expire else None,
    )
    return Change(owner, task_id, record)


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
    `await RedisBackend.open(url)`, which also checks that Redis answers, loads the scripts and
    waits for the change feed's subscription. `close()` stops the listener and the pool."""

    features: frozenset[Feature] = frozenset(
        {Feature.DURABLE, Feature.SHARED, Feature.SHARED_FEED, Feature.SWEEPS}
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
        self._sweep_cursor = 0
        self._sweep_queue: deque[tuple[str, str]] = deque()  # (base, owner) to sweep next

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
        """`from_url`, then checks that Redis answers (DatabaseUnavailable if not), loads the
        scripts and waits (bounded) for the change feed's subscription."""
        backend = cls.from_url(url, prefix=prefix)
        try:
            await backend.ping()
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
        return f"{self.prefix}{{{_escape_owner(owner)}}}:"

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
        v, d, a, e = await self._run(
            lambda: self._cmd("HMGET", key, "v", "d", "a", "e"), read_only=True
        )
        if v is None:
            return None
        expire_at = int(e) if e is not None else None
        if expire_at is not None and expire_at <= now_ms:
            return None
        return Record(owner, task_id, int(v), bytes(d or b""), a == b"1", expire_at)

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
                base,
                owner,
                record.task_id,
                record.version,
                record.data,
                "1" if record.active else "0",
                "" if record.expire_at_ms is None else record.expire_at_ms,
                now_ms,
                max_active,
                "" if request_id is None else request_id,
                self._channel,
            ),
        )
        kind = reply[0]
        if kind == b"created":
            return record, True
        if kind == b"exists":
            tid, v, d, a, e = reply[1:6]
            existing = Record(
                owner, tid.decode(), int(v), bytes(d), a == b"1", int(e) if e else None
            )
            return existing, False
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
                base,
                record.owner,
                record.task_id,
                expected_version,
                record.version,
                record.data,
                "1" if record.active else "0",
                "" if record.expire_at_ms is None else record.expire_at_ms,
                now_ms,
                self._channel,
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
        base = self._base(owner)
        deleted = await self._eval(
            scripts.DELETE,
            (f"{base}t:{task_id}",),
            (base, owner, task_id, now_ms, self._channel),
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
            (base, "+" if before_task_id is None else "(" + before_task_id, limit, now_ms),
            read_only=True,
        )
        out: list[Record] = []
        for i in range(0, len(flat), 5):
            tid, v, d, a, e = flat[i : i + 5]
            out.append(
                Record(owner, tid.decode(), int(v), bytes(d), a == b"1", int(e) if e else None)
            )
        return out

    async def sweep_expired(self, now_ms: int, limit: int) -> int:
        """Purges expired tasks from the owners' indexes, publishing their deletions.

        Redis deletes the records themselves; this finds owners through a SCAN of their expiry
        indexes, resumed across calls, so one call does bounded work.
        """
        if limit <= 0:
            return 0
        removed = 0
        scans = 0
        pass_done = False
        while removed < limit:
            if not self._sweep_queue:
                if pass_done or scans >= MAX_SCANS_PER_SWEEP:
                    break
                cursor, keys = await self._run(
                    lambda: self._cmd(
                        "SCAN",
                        self._sweep_cursor,
                        "MATCH",
                        _glob_escape(self.prefix) + "{*}:exp",
                        "COUNT",
                        SCAN_COUNT,
                        "TYPE",
                        "zset",
                    ),
                    read_only=True,
                )
                scans += 1
                self._sweep_cursor = int(cursor)
                pass_done = self._sweep_cursor == 0
                for key in keys:
                    owner = self._owner_of_exp_key(key)
                    if owner is not None:
                        self._sweep_queue.append((self._base(owner), owner))
                continue
            base, owner = self._sweep_queue[0]
            want = limit - removed
            purged, examined = await self._eval(
                scripts.SWEEP, (f"{base}exp",), (base, owner, now_ms, want, self._channel)
            )
            removed += int(purged)
            if int(examined) < want:
                self._sweep_queue.popleft()  # nothing more expired for this owner
        return removed

    def _owner_of_exp_key(self, key: bytes) -> str | None:
        try:
            text = key.decode()
        except UnicodeDecodeError:
            return None
        head, tail = self.prefix + "{", "}:exp"
        if not text.startswith(head) or not text.endswith(tail):
            return None
        escaped = text[len(head) : -len(tail)]
        if "{" in escaped or "}" in escaped:
            return None  # not one of ours (e.g. a task id that ends in "}:exp")
        return _unescape_owner(escaped)

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
            change = _decode_change(payload)
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


__all__ = ["DEFAULT_PREFIX", "RedisBackend"]
