"""Signals: the node's one Pub/Sub connection, shared by every listener.

Why signals are logged too: Pub/Sub drops what is published while a listener's
connection is down, and a cancel lost that way lets a reply run on. Each signal
is also appended to a short per-channel log (``signal.lua``) and published as
``"<log id> <payload>"``; after a reconnect the hub reads the log from the last
id it delivered, and skips any message it has already delivered.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio as redis
from redis.asyncio.client import PubSub
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import RedisError

from rill.broker.redis.entries import Position, payload_of, to_position
from rill.broker.redis.errors import BACKOFF_MAX, BACKOFF_MIN, TRANSIENT, fail
from rill.errors import BrokerError

log = logging.getLogger("rill.broker.redis")


class SignalHub:
    """The node's one Pub/Sub connection, shared by every listener."""

    def __init__(self, connect: Callable[[], Awaitable[redis.Redis]], shared: object,
                 reader: redis.Redis | RedisCluster) -> None:
        # Why a callable: on a Cluster the connection goes to one node, which may be
        # gone after an error; each reconnect asks for a node afresh.
        self._connect = connect
        self._shared = shared
        self._reader = reader  # reads the logs (any client of the deployment)
        self._client: redis.Redis | None = None
        self._pubsub: PubSub | None = None
        # Per channel: its log's key, and the last log id delivered.
        self._logs: dict[bytes, bytes] = {}
        self._last: dict[bytes, Position] = {}
        self._listeners: dict[bytes, set[asyncio.Queue[bytes | None]]] = {}
        self._subscribed: set[bytes] = set()
        self._lock = asyncio.Lock()
        self._active = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def add(self, key: bytes, log_key: bytes, queue: asyncio.Queue[bytes | None]) -> None:
        self._logs[key] = log_key
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
                    # The log's newest id before SUBSCRIBE: every signal after it
                    # comes on the subscription, and none before it is replayed.
                    # Any: redis-py types the reply as a union of every RESP shape.
                    newest: Any = await self._reader.xrevrange(self._logs[key], count=1)
                    self._last[key] = to_position(newest[0][0]) if newest else (0, 0)
                    await (await self._open()).subscribe(key)
                except RedisError as exc:
                    fail(exc)
                self._subscribed.add(key)
                self._active.set()
            elif not wanted and key in self._subscribed:
                self._listeners.pop(key, None)
                self._subscribed.discard(key)
                self._last.pop(key, None)
                if self._pubsub is not None:
                    await self._pubsub.unsubscribe(key)

    async def _open(self) -> PubSub:
        """The Pub/Sub connection, made afresh (listening to every channel) if dropped.

        Called with the lock held."""
        if self._pubsub is None:
            client = await self._connect()
            pubsub = client.pubsub()
            self._client, self._pubsub = client, pubsub
            if self._subscribed:
                try:
                    await pubsub.subscribe(*self._subscribed)
                    for key in self._subscribed:
                        await self._catch_up(key)
                except BaseException:
                    await self._drop()
                    raise
        return self._pubsub

    async def _catch_up(self, key: bytes) -> None:
        """Deliver what the channel's log holds after the last signal delivered."""
        last = self._last.get(key, (0, 0))
        rows: Any = await self._reader.xrange(self._logs[key], min=b"(%d-%d" % last)
        for raw_id, fields in rows:
            self._deliver(key, to_position(raw_id), payload_of(fields))

    def _deliver(self, key: bytes, position: Position, payload: bytes) -> None:
        if position <= self._last.get(key, (0, 0)):
            return  # had it already, from the log or the subscription
        self._last[key] = position
        for queue in self._listeners.get(key, ()):
            queue.put_nowait(payload)

    async def _drop(self) -> None:
        pubsub, client, self._pubsub, self._client = self._pubsub, self._client, None, None
        with contextlib.suppress(RedisError, *TRANSIENT):
            if pubsub is not None:
                await pubsub.aclose()  # type: ignore[no-untyped-call]  # untyped upstream
            if client is not None and client is not self._shared:
                await client.aclose()

    async def _run(self) -> None:
        backoff = BACKOFF_MIN
        while True:
            if not self._subscribed:
                self._active.clear()
                await self._active.wait()
                continue
            pubsub: PubSub | None = None
            try:
                async with self._lock:
                    pubsub = await self._open()
                message = await pubsub.get_message(
                    ignore_subscribe_messages=True, timeout=1.0
                )
            except (*TRANSIENT, RedisError) as exc:
                # Why a new Pub/Sub next time: with retries off, redis-py leaves the
                # dead socket in place and every read hits the same EOF; and on a
                # Cluster or after a failover the server to listen on may differ.
                log.warning("redis signal reader lost its connection: %s", exc)
                async with self._lock:
                    if pubsub is not None and self._pubsub is pubsub:
                        await self._drop()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, BACKOFF_MAX)
                continue
            backoff = BACKOFF_MIN
            if message is not None and message["type"] == "message":
                raw_id, _, payload = bytes(message["data"]).partition(b" ")
                self._deliver(message["channel"], to_position(raw_id), payload)

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
        await self._drop()
