"""The node's one ``XREAD`` loop, fanning entries out to its subscribers' queues."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from typing import Any, Protocol

import redis.asyncio as redis
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import RedisError

from rill.broker.base import Entry
from rill.broker.redis.entries import BATCH, Item, Position, is_end, payload_of, to_position
from rill.broker.redis.errors import BACKOFF_MAX, BACKOFF_MIN, TRANSIENT

log = logging.getLogger("rill.broker.redis")

#: How long the reader's XREAD blocks. New streams interrupt it (see ``_wake``),
#: so this only bounds how long a silently dead connection goes unnoticed.
BLOCK_MS = 2000


class Subscription:
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


Client = redis.Redis | RedisCluster


class Reset(Protocol):
    async def __call__(self, client: Client, /) -> None: ...


class StreamReaders:
    """The node's XREAD loops: one per shard tag in use, or one in all.

    Why per shard on a Cluster: one XREAD may only name keys of one hash slot, and
    every stream of a shard tag lives in that tag's slot (see ``streams``). On one
    server every stream goes to a single loop, as one XREAD can name them all.
    """

    def __init__(self, connect: Callable[[], Client], wake_client: Client, prefix: str, *,
                 sharded: bool, reset: Reset) -> None:
        self._args = (connect, wake_client, prefix, reset)
        self._sharded = sharded
        self._loops: dict[str, StreamReader] = {}

    def _loop(self, tag: str) -> StreamReader:
        tag = tag if self._sharded else "0"
        loop = self._loops.get(tag)
        if loop is None:
            connect, wake_client, prefix, reset = self._args
            wake_key = f"{prefix}{{{tag}}}w:{uuid.uuid4().hex}".encode()
            # Why a client per loop: a Cluster client that hits an error re-reads
            # the slot map and drops its connections, which would cut every other
            # loop's blocked XREAD too, and under load each cut caused the next.
            loop = self._loops[tag] = StreamReader(connect(), wake_client, wake_key, reset)
        return loop

    def register(self, tag: str, key: bytes, sub: Subscription, position: Position) -> Position:
        return self._loop(tag).register(key, sub, position)

    def unregister(self, tag: str, key: bytes, sub: Subscription) -> None:
        self._loop(tag).unregister(key, sub)

    async def close(self) -> None:
        for loop in self._loops.values():
            await loop.close()
        self._loops.clear()


class StreamReader:
    """One XREAD loop over the streams of one shard tag with a local subscriber."""

    def __init__(self, client: Client, wake_client: Client, wake_key: bytes,
                 reset: Reset) -> None:
        self._client = client
        self._wake_client = wake_client
        self._reset = reset
        self._wake_key = wake_key
        self._wake_cursor = b"0-0"
        # Held so the task is not garbage-collected mid-flight; None when idle.
        self._wake_task: asyncio.Task[None] | None = None
        self._cursors: dict[bytes, Position] = {}
        self._subs: dict[bytes, set[Subscription]] = {}
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    def register(self, key: bytes, sub: Subscription, position: Position) -> Position:
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

    def unregister(self, key: bytes, sub: Subscription) -> None:
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
        # Why a flag beside the cancel: on Python 3.11 redis-py can swallow a cancel
        # that lands as a reply arrives (see RedisBroker._call); the loop then sees
        # the flag instead of waiting forever for a stream to follow.
        self._closed = True
        self._changed.set()
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
        with contextlib.suppress(RedisError):
            await self._client.aclose()

    async def _run(self) -> None:
        backoff = BACKOFF_MIN
        while not self._closed:
            if not self._cursors:
                self._changed.clear()
                await self._changed.wait()
                continue
            sent = dict(self._cursors)
            streams: dict[Any, Any] = {k: b"%d-%d" % pos for k, pos in sent.items()}
            streams[self._wake_key] = self._wake_cursor
            try:
                # Any: redis-py types the reply as a union of every RESP shape.
                response: Any = await self._client.xread(streams, count=BATCH, block=BLOCK_MS)
            except (*TRANSIENT, RedisError) as exc:
                # Why every RedisError: a primary demoted by a failover answers
                # UNBLOCKED or READONLY, not a dropped connection; the reader must
                # reconnect (to the new primary) rather than die.
                log.warning("redis stream reader lost its connection: %s", exc)
                await self._reset(self._client)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, BACKOFF_MAX)
                continue
            backoff = BACKOFF_MIN
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
            pos = to_position(raw_id)
            entry = None if is_end(fields) else Entry(raw_id.decode(), payload_of(fields))
            batch.append((pos, entry))
        self._cursors[key] = batch[-1][0]
        for sub in self._subs.get(key, ()):
            sub.queue.put_nowait(batch)
