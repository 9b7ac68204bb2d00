"""The shared broker: Redis Streams for streams, Redis Pub/Sub for signals.

Keys, under a configurable prefix: ``<prefix>s:<stream>`` is a Redis stream whose
entries carry the payload in field ``d``; ``end`` appends one entry with field
``end`` instead, so every node's subscribers learn of it from the stream itself
and nothing else needs to expire with it. Signals use channel
``<prefix>c:<channel>``.

Subscriptions are multiplexed: each node runs one reader task with one
connection doing ``XREAD BLOCK`` over every stream that has a local subscriber,
and fans entries out to per-subscriber queues, so a thousand live replies cost
one blocked connection, not a thousand. A subscriber replays with ``XRANGE``
and then joins the reader; see ``_Subscription`` for why it never misses or
repeats an entry. Listeners share one Pub/Sub connection the same way.

Both background tasks survive Redis going away: they back off, reconnect, and
carry on from the last delivered ids. Everything else fails fast with
``BrokerError`` while Redis is down, and never retries a write (a retried XADD
could land twice).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, NoReturn, TypeVar

import redis.asyncio as redis
from redis.asyncio.client import PubSub
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

from rill.broker.base import Broker, Entry, StreamMissing, parse_id
from rill.errors import BrokerError, InvalidInput

log = logging.getLogger(__name__)

T = TypeVar("T")
Position = tuple[int, int]
#: What the reader hands a subscriber: (position, entry), entry None for the end marker.
Item = tuple[Position, Entry | None]

_DATA = b"d"
_END = b"end"
_MAX_PART = 2**64 - 1
#: Entries per XRANGE round trip during replay, and per stream per XREAD.
_BATCH = 500
#: How long the reader's XREAD blocks. New streams interrupt it (see ``_wake``),
#: so this only bounds how long a silently dead connection goes unnoticed.
_BLOCK_MS = 2000
_BACKOFF_MIN = 0.05
_BACKOFF_MAX = 2.0
_TRANSIENT = (RedisConnectionError, RedisTimeoutError, OSError)

# Why a script: the ended check and the XADD (plus the MINID trim, which XADD
# cannot combine with MAXLEN) must be one atomic step, else an append could
# slip in behind the end marker on another node.
_APPEND = """
local top = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
if top[1] and top[1][2][1] == 'end' then return redis.error_reply('RILL_ENDED') end
local id
if ARGV[3] ~= '' then
  id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[3], ARGV[1], 'd', ARGV[2])
else
  id = redis.call('XADD', KEYS[1], ARGV[1], 'd', ARGV[2])
end
if ARGV[4] ~= '' then redis.call('XTRIM', KEYS[1], 'MINID', '~', ARGV[4]) end
return id
"""
# ARGV: id, payload, id, payload, ... Stops at the first id that is not greater
# than the last (XADD's error), keeping what it appended before it.
_APPEND_MANY = """
local top = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
if top[1] and top[1][2][1] == 'end' then return redis.error_reply('RILL_ENDED') end
for i = 1, #ARGV, 2 do
  redis.call('XADD', KEYS[1], ARGV[i], 'd', ARGV[i + 1])
end
return #ARGV / 2
"""
# Returns false for a missing stream (XRANGE alone cannot tell missing from empty),
# else {ended, entries}: a reader positioned past the end marker must still learn
# that the stream has ended.
_READ = """
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local top = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local ended = (top[1] and top[1][2][1] == 'end') and 1 or 0
return {ended, redis.call('XRANGE', KEYS[1], ARGV[1], '+', 'COUNT', ARGV[2])}
"""
# The newest two entries: enough to see the end marker and the last real id behind it.
_TAIL = """
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
return redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 2)
"""
_END_SCRIPT = """
if redis.call('EXISTS', KEYS[1]) == 0 then return redis.error_reply('RILL_MISSING') end
local top = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
if not (top[1] and top[1][2][1] == 'end') then
  redis.call('XADD', KEYS[1], '*', 'end', '1')
end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
"""


def _position(raw: bytes) -> Position:
    a, _, b = raw.partition(b"-")
    return int(a), int(b)


def _checked(entry_id: str) -> Position:
    pos = parse_id(entry_id)
    if pos[0] > _MAX_PART or pos[1] > _MAX_PART:
        raise InvalidInput(f"stream position out of range: {entry_id!r}")
    return pos


def _is_end(fields: Any) -> bool:
    # XREAD answers fields as a dict through redis-py's parser, scripts as a flat list.
    if isinstance(fields, dict):
        return _END in fields
    return bool(fields) and fields[0] == _END


def _fail(exc: RedisError, stream: str | None = None) -> NoReturn:
    message = str(exc)
    if "RILL_ENDED" in message:
        raise InvalidInput(f"stream {stream!r} has ended") from None
    if "RILL_MISSING" in message:
        raise StreamMissing(stream) from None
    if isinstance(exc, ResponseError) and ("XADD" in message or "stream ID" in message):
        raise InvalidInput(f"id is not greater than the stream's last id: {message}") from None
    raise BrokerError(f"redis: {message}") from exc


class _Subscription:
    """One subscriber's queue on the node's reader.

    Why it cannot miss or repeat an entry: it replays with XRANGE up to P, then
    registers with the reader, which answers the stream's read cursor C. Every
    entry after C will be put on the queue; every entry up to C already existed,
    so when C > P a second XRANGE from P catches up. Queue items at or before
    the position already yielded are dropped.
    """

    __slots__ = ("queue",)

    def __init__(self) -> None:
        self.queue: asyncio.Queue[list[Item] | None] = asyncio.Queue()


class _StreamReader:
    """The node's one XREAD loop over every stream with a local subscriber."""

    def __init__(self, client: redis.Redis, wake_client: redis.Redis, prefix: str) -> None:
        self._client = client
        self._wake_client = wake_client
        self._wake_key = f"{prefix}wake:{uuid.uuid4().hex}".encode()
        self._wake_cursor = b"0-0"
        # Held so the task is not garbage-collected mid-flight; None when idle.
        self._wake_task: asyncio.Task[None] | None = None
        self._cursors: dict[bytes, Position] = {}
        self._subs: dict[bytes, set[_Subscription]] = {}
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def register(self, key: bytes, sub: _Subscription, position: Position) -> Position:
        """Add a subscriber that has seen everything up to ``position``; return the cursor."""
        subs = self._subs.setdefault(key, set())
        subs.add(sub)
        cursor = self._cursors.get(key)
        if cursor is None:
            cursor = self._cursors[key] = position
            self._changed.set()
            self._wake()
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="rill-redis-stream-reader")
        return cursor

    def unregister(self, key: bytes, sub: _Subscription) -> None:
        subs = self._subs.get(key)
        if subs is None:
            return
        subs.discard(sub)
        if not subs:
            del self._subs[key]
            del self._cursors[key]

    def _wake(self) -> None:
        # Why: a blocked XREAD only watches the streams it was sent with; an entry
        # on the wake stream returns it at once, so a new stream is read without
        # waiting out the block. One wake in flight covers any number of changes.
        if self._wake_task is None and self._task is not None:
            self._wake_task = asyncio.create_task(self._send_wake())

    async def _send_wake(self) -> None:
        try:
            await self._wake_client.xadd(self._wake_key, {b"w": b""}, maxlen=1, approximate=False)
            await self._wake_client.expire(self._wake_key, 60)
        except RedisError:
            pass  # Redis is down: the reader is reconnecting and will see the change anyway.
        finally:
            self._wake_task = None

    async def close(self) -> None:
        for task in (self._task, self._wake_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._task = self._wake_task = None
        for subs in self._subs.values():
            for sub in subs:
                sub.queue.put_nowait(None)
        self._subs.clear()
        self._cursors.clear()
        with contextlib.suppress(RedisError):
            await self._wake_client.delete(self._wake_key)

    async def _run(self) -> None:
        backoff = _BACKOFF_MIN
        while True:
            if not self._cursors:
                self._changed.clear()
                await self._changed.wait()
                continue
            sent = dict(self._cursors)
            streams: dict[Any, Any] = {k: b"%d-%d" % pos for k, pos in sent.items()}
            streams[self._wake_key] = self._wake_cursor
            try:
                # Any: redis-py types the reply as a union of every RESP shape.
                response: Any = await self._client.xread(streams, count=_BATCH, block=_BLOCK_MS)
            except _TRANSIENT as exc:
                log.warning("redis stream reader lost its connection: %s", exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, _BACKOFF_MAX)
                continue
            backoff = _BACKOFF_MIN
            for key, entries in response or ():
                if key == self._wake_key:
                    self._wake_cursor = entries[-1][0]
                else:
                    self._deliver(key, sent[key], entries)

    def _deliver(self, key: bytes, sent: Position, entries: list[Any]) -> None:
        # Why the check: a stream dropped and re-registered while this XREAD was in
        # flight has a new cursor; entries read from the old one may not join up.
        if self._cursors.get(key) != sent or not entries:
            return
        batch: list[Item] = []
        for raw_id, fields in entries:
            pos = _position(raw_id)
            entry = None if _is_end(fields) else Entry(raw_id.decode(), _payload(fields))
            batch.append((pos, entry))
        self._cursors[key] = batch[-1][0]
        for sub in self._subs.get(key, ()):
            sub.queue.put_nowait(batch)


def _payload(fields: Any) -> bytes:
    if isinstance(fields, dict):
        return bytes(fields.get(_DATA, b""))
    return bytes(fields[1]) if len(fields) > 1 else b""


class _SignalHub:
    """The node's one Pub/Sub connection, shared by every listener."""

    def __init__(self, client: redis.Redis) -> None:
        self._pubsub: PubSub = client.pubsub()
        self._listeners: dict[bytes, set[asyncio.Queue[bytes | None]]] = {}
        self._subscribed: set[bytes] = set()
        self._lock = asyncio.Lock()
        self._active = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def add(self, key: bytes, queue: asyncio.Queue[bytes | None]) -> None:
        self._listeners.setdefault(key, set()).add(queue)
        try:
            await self._sync(key)
        except BaseException:
            self._listeners[key].discard(queue)
            raise
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="rill-redis-signal-reader")

    async def remove(self, key: bytes, queue: asyncio.Queue[bytes | None]) -> None:
        queues = self._listeners.get(key)
        if queues is not None:
            queues.discard(queue)
        with contextlib.suppress(RedisError, BrokerError):
            await self._sync(key)

    async def _sync(self, key: bytes) -> None:
        # Why a lock: SUBSCRIBE and UNSUBSCRIBE for one channel must reach Redis in
        # the order the listener set changed, or a new listener could end up deaf.
        async with self._lock:
            wanted = bool(self._listeners.get(key))
            if wanted and key not in self._subscribed:
                try:
                    await self._pubsub.subscribe(key)
                except RedisError as exc:
                    _fail(exc)
                self._subscribed.add(key)
                self._active.set()
            elif not wanted and key in self._subscribed:
                self._listeners.pop(key, None)
                self._subscribed.discard(key)
                await self._pubsub.unsubscribe(key)

    async def _run(self) -> None:
        backoff = _BACKOFF_MIN
        while True:
            if not self._subscribed:
                self._active.clear()
                await self._active.wait()
                continue
            try:
                message = await self._pubsub.get_message(
                    ignore_subscribe_messages=True, timeout=1.0
                )
            except _TRANSIENT as exc:
                log.warning("redis signal reader lost its connection: %s", exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, _BACKOFF_MAX)
                await self._reconnect()
                continue
            backoff = _BACKOFF_MIN
            if message is not None and message["type"] == "message":
                for queue in self._listeners.get(message["channel"], ()):
                    queue.put_nowait(message["data"])

    async def _reconnect(self) -> None:
        # Why disconnect first: with retries off, redis-py leaves the dead socket in
        # place and every read hits the same EOF. A fresh connection re-subscribes
        # every channel by itself (redis-py's on_connect hook).
        connection = self._pubsub.connection
        with contextlib.suppress(*_TRANSIENT):
            if connection is not None:
                await connection.disconnect()
            await self._pubsub.connect()  # type: ignore[no-untyped-call]  # untyped upstream

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for queues in self._listeners.values():
            for queue in queues:
                queue.put_nowait(None)
        self._listeners.clear()
        with contextlib.suppress(RedisError):
            await self._pubsub.aclose()  # type: ignore[no-untyped-call]  # untyped upstream


class RedisBroker(Broker):
    shared = True

    def __init__(self, url: str, *, prefix: str = "rill:", max_connections: int = 50) -> None:
        self.url = url
        self.prefix = prefix
        common: dict[str, Any] = {
            "protocol": 2,
            "socket_connect_timeout": 2.0,
            # Why no retries: a write retried after a lost reply may land twice.
            "retry": Retry(NoBackoff(), 0),
        }
        # Why blocking: a burst of commands (hundreds of subscribers replaying at
        # once) waits its turn for a connection instead of failing outright.
        pool = redis.BlockingConnectionPool.from_url(
            url, max_connections=max_connections, timeout=5.0, socket_timeout=5.0, **common
        )
        self._client = redis.Redis.from_pool(pool)
        reader = redis.Redis.from_url(
            url, socket_timeout=_BLOCK_MS / 1000 + 5.0, single_connection_client=True, **common
        )
        self._reader_client = reader
        self._reader = _StreamReader(reader, self._client, prefix)
        self._signals = _SignalHub(self._client)
        self._append = self._client.register_script(_APPEND)
        self._append_many = self._client.register_script(_APPEND_MANY)
        self._read = self._client.register_script(_READ)
        self._tail = self._client.register_script(_TAIL)
        self._end = self._client.register_script(_END_SCRIPT)
        self._closed = False

    def _key(self, stream: str) -> bytes:
        return f"{self.prefix}s:{stream}".encode()

    async def _call(self, op: Callable[[], Awaitable[T]], stream: str | None = None) -> T:
        task = asyncio.current_task()
        requested = task.cancelling() if task is not None else 0
        try:
            result = await op()
        except RedisError as exc:
            _fail(exc, stream)
        # Why: redis-py wraps socket writes in asyncio.wait_for, which on Python 3.11
        # drops a cancellation that arrives just as the write completes (CPython
        # gh-86296, fixed in 3.12). A cancel asked for during the command that never
        # surfaced was lost there; raise it, or a cancelled reply would run on.
        if task is not None and task.cancelling() > requested:
            raise asyncio.CancelledError
        return result

    async def start(self) -> None:
        await self.ping()
        info = await self._call(lambda: self._client.info("cluster"))
        if info.get("cluster_enabled"):
            # Why refuse: the scripts and the reader touch keys in several hash slots,
            # which a cluster rejects (CROSSSLOT) only once traffic arrives.
            raise BrokerError("redis: Redis Cluster is not supported; use a standalone Redis")

    async def close(self) -> None:
        self._closed = True
        await self._reader.close()
        await self._signals.close()
        for client in (self._reader_client, self._client):
            with contextlib.suppress(RedisError):
                await client.aclose()

    async def ping(self) -> None:
        await self._call(self._client.ping)

    async def append(
        self,
        stream: str,
        payload: bytes,
        *,
        id: str | None = None,
        maxlen: int | None = None,
        max_age: float | None = None,
    ) -> str:
        if id is None:
            entry_id = "*"
        else:
            a, b = _checked(id)
            entry_id = f"{a}-{b}"
        min_id = "" if max_age is None else str(max(0, int((time.time() - max_age) * 1000)))
        args: list[str | bytes] = [entry_id, payload, "" if maxlen is None else str(maxlen), min_id]
        raw = await self._call(lambda: self._append(keys=[self._key(stream)], args=args), stream)
        return bytes(raw).decode()

    async def append_many(self, stream: str, entries: list[tuple[bytes, str]]) -> None:
        if not entries:
            return
        args: list[str | bytes] = []
        for payload, entry_id in entries:
            a, b = _checked(entry_id)
            args += (f"{a}-{b}", payload)
        await self._call(lambda: self._append_many(keys=[self._key(stream)], args=args), stream)

    async def _range(self, stream: str, start: str, count: int) -> tuple[bool, list[Any]]:
        """(ended, up to ``count`` raw entries from ``start``)."""
        key = self._key(stream)
        reply = await self._call(lambda: self._read(keys=[key], args=[start, count]), stream)
        if reply is None:
            raise StreamMissing(stream)
        return bool(reply[0]), list(reply[1])

    @staticmethod
    def _start(after: str | None) -> str:
        if after is None:
            return "-"
        a, b = _checked(after)
        return f"({a}-{b}"

    async def read(self, stream: str, after: str | None = None, limit: int = 1000) -> list[Entry]:
        if limit <= 0:
            await self._range(stream, "-", 1)
            return []
        _, rows = await self._range(stream, self._start(after), limit)
        return [Entry(rid.decode(), _payload(f)) for rid, f in rows if not _is_end(f)]

    async def subscribe(self, stream: str, after: str | None = None) -> AsyncIterator[Entry]:
        position: Position = _checked(after) if after is not None else (0, 0)
        start = self._start(after)
        # Replay: batches until one comes back short (caught up) or shows the end.
        while True:
            ended, rows = await self._range(stream, start, _BATCH)
            for raw_id, fields in rows:
                if _is_end(fields):
                    return
                position = _position(raw_id)
                yield Entry(raw_id.decode(), _payload(fields))
            if len(rows) < _BATCH:
                if ended:  # positioned after the end marker: nothing more will come
                    return
                break
            start = f"({position[0]}-{position[1]}"
        if self._closed:
            return
        key = self._key(stream)
        sub = _Subscription()
        cursor = self._reader.register(key, sub, position)
        try:
            if cursor > position:
                async for entry in self._catch_up(stream, position):
                    if entry is None:
                        return
                    position = _checked(entry.id)
                    yield entry
            while (batch := await sub.queue.get()) is not None:
                for pos, item in batch:
                    if pos <= position:
                        continue
                    if item is None:
                        return
                    position = pos
                    yield item
        finally:
            self._reader.unregister(key, sub)

    async def _catch_up(self, stream: str, position: Position) -> AsyncIterator[Entry | None]:
        """Entries after ``position`` already in Redis; None for the end marker."""
        while True:
            ended, rows = await self._range(stream, f"({position[0]}-{position[1]}", _BATCH)
            for raw_id, fields in rows:
                if _is_end(fields):
                    yield None
                    return
                position = _position(raw_id)
                yield Entry(raw_id.decode(), _payload(fields))
            if len(rows) < _BATCH:
                if ended:
                    yield None
                return

    async def end(self, stream: str, ttl: float) -> None:
        ttl_ms = max(1, int(ttl * 1000))
        await self._call(lambda: self._end(keys=[self._key(stream)], args=[ttl_ms]), stream)

    async def _newest(self, stream: str) -> list[Any]:
        rows = await self._call(lambda: self._tail(keys=[self._key(stream)]), stream)
        if rows is None:
            raise StreamMissing(stream)
        return list(rows)

    async def is_ended(self, stream: str) -> bool:
        rows = await self._newest(stream)
        return bool(rows) and _is_end(rows[0][1])

    async def last_id(self, stream: str) -> str | None:
        for raw_id, fields in await self._newest(stream):
            if not _is_end(fields):
                return bytes(raw_id).decode()
        return None

    async def publish(self, channel: str, payload: bytes) -> None:
        key = f"{self.prefix}c:{channel}".encode()
        await self._call(lambda: self._client.publish(key, payload))

    async def listen(self, channel: str) -> AsyncIterator[bytes]:
        key = f"{self.prefix}c:{channel}".encode()
        queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        await self._signals.add(key, queue)
        try:
            while (item := await queue.get()) is not None:
                yield item
        finally:
            await self._signals.remove(key, queue)
