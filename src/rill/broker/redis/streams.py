"""``RedisBroker``: streams as Redis Streams, through the Lua scripts beside it."""

from __future__ import annotations

import asyncio
import contextlib
import time
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from importlib.resources import files
from typing import Any, TypeVar

import redis.asyncio as redis
from redis.commands.core import AsyncScript
from redis.exceptions import RedisError

from rill.broker.base import Broker, Entry, StreamMissing
from rill.broker.redis.entries import BATCH, Position, checked, is_end, payload_of, to_position
from rill.broker.redis.errors import fail
from rill.broker.redis.reader import BLOCK_MS, StreamReaders, Subscription
from rill.broker.redis.signals import SignalHub
from rill.broker.redis.topology import topology
from rill.errors import BrokerError

T = TypeVar("T")

#: Shard tags a stream's keys are hashed into (see ``RedisBroker._keys``). Fixed:
#: every node must compute the same key for a stream. On a Cluster a node runs up
#: to this many XREAD loops; the tags' slots spread over the primaries.
SHARDS = 16


#: A channel's signal log keeps about this many signals, for at most this long: a
#: listener disconnected longer than that may miss signals (a cancel, for one).
SIGNAL_LOG_LENGTH = 1000
SIGNAL_LOG_MS = 10 * 60 * 1000


def shard_of(stream: str) -> str:
    """The stream's shard tag: a stable hash of its name (``hash()`` is salted)."""
    return str(zlib.crc32(stream.encode()) % SHARDS)


def _script(name: str) -> str:
    """A Lua script shipped beside this module (``<name>.lua``)."""
    return files(__package__).joinpath(f"{name}.lua").read_text(encoding="utf-8")


class RedisBroker(Broker):
    """``wait_replicas``: after each write (append, append_many, end), ``WAIT`` on
    the same connection until that many replicas acknowledge it, at most
    ``wait_timeout`` seconds; fewer in time is a ``BrokerError`` (the entry is on
    the primary, but a failover could lose it). 0 acknowledges on the primary
    alone, as Redis replication is asynchronous."""

    shared = True

    def __init__(self, url: str, *, prefix: str = "rill:", max_connections: int = 50,
                 wait_replicas: int = 0, wait_timeout: float = 1.0) -> None:
        self.url = url
        self.prefix = prefix
        self._topology = where = topology(url)
        if wait_replicas and where.sharded:
            # Why: WAIT counts the writes of its own connection, and redis-py's
            # cluster pipeline cannot pin WAIT to the connection of a key's node.
            raise ValueError("broker_wait_replicas is not supported on a Redis Cluster")
        self._wait = (wait_replicas, max(1, int(wait_timeout * 1000)))
        # Why a semaphore, not a blocking pool: a burst of commands (hundreds of
        # subscribers replaying at once) must wait its turn for a connection rather
        # than fail, and neither RedisCluster nor the Sentinel pool can block.
        self._slots = asyncio.Semaphore(max_connections)
        # The headroom is for what runs outside the semaphore: a Pub/Sub connection
        # and each reader loop's wake-up (one per shard tag at most).
        self._client = where.client(max_connections + SHARDS + 4)
        self._reader = StreamReaders(lambda: where.blocking_client(BLOCK_MS / 1000 + 5.0),
                                     self._client, prefix, sharded=where.sharded,
                                     reset=where.reset)
        self._signals = SignalHub(lambda: where.signal_client(self._client), self._client,
                                  self._client)
        self._append = self._client.register_script(_script("append"))
        self._append_many = self._client.register_script(_script("append_many"))
        self._read = self._client.register_script(_script("read"))
        self._tail = self._client.register_script(_script("tail"))
        self._end = self._client.register_script(_script("end"))
        self._signal = self._client.register_script(_script("signal"))
        self._closed = False

    def _key(self, stream: str) -> bytes:
        return self._keys(stream)[0]

    def _keys(self, stream: str) -> list[bytes]:
        """The stream's key, and its retention ledger's (see the module docstring).

        Why the ``{tag}``: on a Cluster, keys sharing a hash tag share a slot, so a
        script may touch all three, and one XREAD may name every stream of a tag.
        """
        head = f"{self.prefix}{{{shard_of(stream)}}}"
        return [f"{head}{k}:{stream}".encode() for k in "slb"]

    async def _call(self, op: Callable[[], Awaitable[T]], stream: str | None = None) -> T:
        task = asyncio.current_task()
        requested = task.cancelling() if task is not None else 0
        try:
            async with self._slots:
                result = await op()
        except RedisError as exc:
            fail(exc, stream)
        # Why: redis-py wraps socket writes in asyncio.wait_for, which on Python 3.11
        # drops a cancellation that arrives just as the write completes (CPython
        # gh-86296, fixed in 3.12). A cancel asked for during the command that never
        # surfaced was lost there; raise it, or a cancelled reply would run on.
        if task is not None and task.cancelling() > requested:
            raise asyncio.CancelledError
        return result

    async def _write(self, script: AsyncScript, keys: list[bytes], args: list[Any],
                     stream: str) -> Any:
        """Run a writing script; with ``wait_replicas``, then WAIT on its connection."""
        replicas, timeout_ms = self._wait
        if not replicas:
            return await self._call(lambda: script(keys=keys, args=args), stream)

        async def written() -> Any:
            client = self._client
            assert isinstance(client, redis.Redis)  # not a Cluster (see __init__)
            # Why a pipeline: WAIT counts the writes sent on its own connection.
            async with client.pipeline(transaction=False) as pipe:
                await script(keys=keys, args=args, client=pipe)
                pipe.wait(replicas, timeout_ms)
                result, acked = await pipe.execute()
            if acked < replicas:
                raise BrokerError(f"redis: the write reached {acked} of {replicas} replicas "
                                  f"within {timeout_ms} ms")
            return result

        return await self._call(written, stream)

    async def start(self) -> None:
        await self.ping()
        if not self._topology.sharded:
            info = await self._call(lambda: self._client.info("cluster"))
            if info.get("cluster_enabled"):
                # Why refuse: a redis:// URL makes a single-server client, whose scripts
                # and reader a cluster rejects (MOVED, CROSSSLOT) only once traffic comes.
                raise BrokerError("redis: this is a Redis Cluster node: use a "
                                  "redis+cluster:// URL")

    async def close(self) -> None:
        self._closed = True
        await self._reader.close()
        await self._signals.close()
        with contextlib.suppress(RedisError):
            await self._client.aclose()
        await self._topology.close()

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
        max_bytes: int | None = None,
    ) -> str:
        if id is None:
            entry_id = "*"
        else:
            a, b = checked(id)
            entry_id = f"{a}-{b}"
        min_ms = "" if max_age is None else str(max(0, int((time.time() - max_age) * 1000)))
        args: list[str | bytes] = [
            entry_id,
            payload,
            "" if maxlen is None else str(maxlen),
            min_ms,
            "" if max_bytes is None else str(max_bytes),
        ]
        raw = await self._write(self._append, self._keys(stream), args, stream)
        return bytes(raw).decode()

    async def append_many(self, stream: str, entries: list[tuple[bytes, str]]) -> None:
        if not entries:
            return
        args: list[str | bytes] = []
        for payload, entry_id in entries:
            a, b = checked(entry_id)
            args += (f"{a}-{b}", payload)
        await self._write(self._append_many, [self._key(stream)], args, stream)

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
        a, b = checked(after)
        return f"({a}-{b}"

    async def read(self, stream: str, after: str | None = None, limit: int = 1000) -> list[Entry]:
        if limit <= 0:
            await self._range(stream, "-", 1)
            return []
        _, rows = await self._range(stream, self._start(after), limit)
        return [Entry(rid.decode(), payload_of(f)) for rid, f in rows if not is_end(f)]

    async def subscribe(self, stream: str, after: str | None = None) -> AsyncIterator[Entry]:
        position: Position = checked(after) if after is not None else (0, 0)
        start = self._start(after)
        # Replay: batches until one comes back short (caught up) or shows the end.
        while True:
            ended, rows = await self._range(stream, start, BATCH)
            for raw_id, fields in rows:
                if is_end(fields):
                    return
                position = to_position(raw_id)
                yield Entry(raw_id.decode(), payload_of(fields))
            if len(rows) < BATCH:
                if ended:  # positioned after the end marker: nothing more will come
                    return
                break
            start = f"({position[0]}-{position[1]}"
        if self._closed:
            return
        key, tag = self._key(stream), shard_of(stream)
        sub = Subscription()
        cursor = self._reader.register(tag, key, sub, position)
        try:
            if cursor > position:
                async for entry in self._catch_up(stream, position):
                    if entry is None:
                        return
                    position = checked(entry.id)
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
            self._reader.unregister(tag, key, sub)

    async def _catch_up(self, stream: str, position: Position) -> AsyncIterator[Entry | None]:
        """Entries after ``position`` already in Redis; None for the end marker."""
        while True:
            ended, rows = await self._range(stream, f"({position[0]}-{position[1]}", BATCH)
            for raw_id, fields in rows:
                if is_end(fields):
                    yield None
                    return
                position = to_position(raw_id)
                yield Entry(raw_id.decode(), payload_of(fields))
            if len(rows) < BATCH:
                if ended:
                    yield None
                return

    async def end(self, stream: str, ttl: float) -> None:
        ttl_ms = max(1, int(ttl * 1000))
        await self._write(self._end, self._keys(stream), [ttl_ms], stream)

    async def _newest(self, stream: str) -> list[Any]:
        rows = await self._call(lambda: self._tail(keys=[self._key(stream)]), stream)
        if rows is None:
            raise StreamMissing(stream)
        return list(rows)

    async def is_ended(self, stream: str) -> bool:
        rows = await self._newest(stream)
        return bool(rows) and is_end(rows[0][1])

    async def last_id(self, stream: str) -> str | None:
        for raw_id, fields in await self._newest(stream):
            if not is_end(fields):
                return bytes(raw_id).decode()
        return None

    def _signal_keys(self, channel: str) -> tuple[bytes, bytes]:
        """The channel's Pub/Sub name, and its log's key (see ``signals``)."""
        return (f"{self.prefix}c:{channel}".encode(),
                f"{self.prefix}{{{shard_of(channel)}}}g:{channel}".encode())

    async def publish(self, channel: str, payload: bytes) -> None:
        key, log_key = self._signal_keys(channel)
        args: list[bytes | int] = [key, payload, SIGNAL_LOG_LENGTH, SIGNAL_LOG_MS]
        await self._call(lambda: self._signal(keys=[log_key], args=args))

    async def listen(self, channel: str) -> AsyncIterator[bytes]:
        key, log_key = self._signal_keys(channel)
        queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        await self._signals.add(key, log_key, queue)
        try:
            while (item := await queue.get()) is not None:
                yield item
        finally:
            await self._signals.remove(key, queue)
