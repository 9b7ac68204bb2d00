"""Signals: the node's one Pub/Sub connection, shared by every listener."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import redis.asyncio as redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from rill.broker.redis.errors import BACKOFF_MAX, BACKOFF_MIN, TRANSIENT, fail
from rill.errors import BrokerError

log = logging.getLogger("rill.broker.redis")


class SignalHub:
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
                    fail(exc)
                self._subscribed.add(key)
                self._active.set()
            elif not wanted and key in self._subscribed:
                self._listeners.pop(key, None)
                self._subscribed.discard(key)
                await self._pubsub.unsubscribe(key)

    async def _run(self) -> None:
        backoff = BACKOFF_MIN
        while True:
            if not self._subscribed:
                self._active.clear()
                await self._active.wait()
                continue
            try:
                message = await self._pubsub.get_message(
                    ignore_subscribe_messages=True, timeout=1.0
                )
            except TRANSIENT as exc:
                log.warning("redis signal reader lost its connection: %s", exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, BACKOFF_MAX)
                await self._reconnect()
                continue
            backoff = BACKOFF_MIN
            if message is not None and message["type"] == "message":
                for queue in self._listeners.get(message["channel"], ()):
                    queue.put_nowait(message["data"])

    async def _reconnect(self) -> None:
        # Why disconnect first: with retries off, redis-py leaves the dead socket in
        # place and every read hits the same EOF. A fresh connection re-subscribes
        # every channel by itself (redis-py's on_connect hook).
        connection = self._pubsub.connection
        with contextlib.suppress(*TRANSIENT):
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
