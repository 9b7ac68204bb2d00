"""An in-process broker: streams are lists, subscribers wait on one future per stream.

Serves a single process (``rill serve`` with one worker). Every subscriber of a
stream waits on one ``asyncio.Event``, so an append costs one ``set()`` however
many readers wait; each reader then finds its place again by bisection, which
keeps it correct while old entries are trimmed underneath it.

Why an Event and not one shared future: cancelling a task that awaits a future
cancels the future itself, so one reader going away would wake every other
reader with a ``CancelledError``. ``Event.wait()`` gives each waiter its own.
The Event is replaced only when a reader armed it (is about to wait): a chat
reply appends once per token, and a new Event per append (it allocates a
deque) was ~7% of the relay's CPU when nobody was waiting yet.

Retention (``maxlen``, ``max_age``, ``max_bytes``) is exact, and never drops
an entry a live subscriber has not been handed yet: each subscriber's position
is registered on its stream, so a burst of appends bounded to a few entries
still reaches every subscriber in full (the hub relies on it: its stream is
bounded by ``hub.retention_*``, its live delivery must not be).
"""

from __future__ import annotations

import asyncio
import bisect
import time
from collections.abc import AsyncIterator

from rill.broker.base import Broker, Entry, StreamMissing, parse_id
from rill.errors import InvalidInput

Position = tuple[int, int]
#: ``maxlen``, ``max_age``, ``max_bytes``.
Bounds = tuple[int | None, float | None, int | None]


class _Reader:
    """A live subscriber's position: what retention must not drop yet."""

    __slots__ = ("position",)

    def __init__(self, position: Position | None) -> None:
        self.position = position


class _Stream:
    __slots__ = (
        "keys", "entries", "bytes", "readers", "bounds", "overdue", "ended", "wake", "armed",
        "expiry",
    )

    def __init__(self) -> None:
        self.keys: list[Position] = []
        self.entries: list[Entry] = []
        #: Sum of the entries' payload lengths.
        self.bytes = 0
        self.readers: set[_Reader] = set()
        #: The last append's bounds, and whether a reader held back their trim.
        self.bounds: Bounds = (None, None, None)
        self.overdue = False
        self.ended = False
        self.wake = asyncio.Event()
        #: Some reader waits (or is about to) on ``wake``.
        self.armed = False
        self.expiry: asyncio.TimerHandle | None = None

    def notify(self) -> None:
        if self.armed:
            self.armed = False
            self.wake.set()
            self.wake = asyncio.Event()

    async def wait(self) -> None:
        self.armed = True
        await self.wake.wait()

    def index_after(self, after: Position | None) -> int:
        return 0 if after is None else bisect.bisect_right(self.keys, after)


class MemoryBroker(Broker):
    shared = False

    def __init__(self) -> None:
        self._streams: dict[str, _Stream] = {}
        self._listeners: dict[str, set[asyncio.Queue[bytes | None]]] = {}
        self._closed = False

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        self._closed = True
        for stream in self._streams.values():
            if stream.expiry:
                stream.expiry.cancel()
            stream.ended = True
            stream.notify()
        for queues in self._listeners.values():
            for queue in queues:
                queue.put_nowait(None)

    def _get(self, name: str) -> _Stream:
        try:
            return self._streams[name]
        except KeyError:
            raise StreamMissing(name) from None

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
        s = self._streams.get(stream)
        if s is None:
            s = self._streams[stream] = _Stream()
        if s.ended:
            raise InvalidInput(f"stream {stream!r} has ended")
        last = s.keys[-1] if s.keys else (0, 0)
        if id is None:
            now_ms = int(time.time() * 1000)
            key = (now_ms, 0) if now_ms > last[0] else (last[0], last[1] + 1)
        else:
            key = parse_id(id)
            if key <= last:
                raise InvalidInput(f"id {id!r} is not greater than the stream's last id")
        entry = Entry(f"{key[0]}-{key[1]}", payload)
        s.keys.append(key)
        s.entries.append(entry)
        s.bytes += len(payload)
        if maxlen is not None or max_age is not None or max_bytes is not None:
            s.bounds = (maxlen, max_age, max_bytes)
            self._trim(s)
        s.notify()
        return entry.id

    async def append_many(self, stream: str, entries: list[tuple[bytes, str]]) -> None:
        s = self._streams.get(stream)
        if s is None:
            s = self._streams[stream] = _Stream()
        if s.ended:
            raise InvalidInput(f"stream {stream!r} has ended")
        last = s.keys[-1] if s.keys else (0, 0)
        try:
            for payload, entry_id in entries:
                key = parse_id(entry_id)
                if key <= last:
                    raise InvalidInput(f"id {entry_id!r} is not greater than the stream's last id")
                s.keys.append(key)
                s.entries.append(Entry(f"{key[0]}-{key[1]}", payload))
                s.bytes += len(payload)
                last = key
        finally:
            s.notify()

    @staticmethod
    def _trim(s: _Stream) -> None:
        maxlen, max_age, max_bytes = s.bounds
        # The newest entry stays, and so does everything a subscriber has yet to
        # read: the trim is then ``overdue``, done again as soon as readers advance.
        keep = newest = len(s.keys) - 1
        for reader in s.readers:
            keep = min(keep, s.index_after(reader.position))
        s.overdue = keep < newest
        drop = 0
        if maxlen is not None:
            drop = len(s.keys) - maxlen
        if max_age is not None:
            oldest_ms = int((time.time() - max_age) * 1000)
            drop = max(drop, bisect.bisect_left(s.keys, (oldest_ms, 0)))
        drop = max(0, min(drop, keep))
        entries = s.entries
        freed = sum(len(entry.payload) for entry in entries[:drop])
        if max_bytes is not None:
            while drop < keep and s.bytes - freed > max_bytes:
                freed += len(entries[drop].payload)
                drop += 1
        if drop:
            del s.keys[:drop]
            del entries[:drop]
            s.bytes -= freed

    async def read(self, stream: str, after: str | None = None, limit: int = 1000) -> list[Entry]:
        s = self._get(stream)
        start = s.index_after(parse_id(after) if after is not None else None)
        return s.entries[start : start + limit]

    async def subscribe(self, stream: str, after: str | None = None) -> AsyncIterator[Entry]:
        async for batch in self.subscribe_batches(stream, after):
            for entry in batch:
                yield entry

    async def subscribe_batches(
        self, stream: str, after: str | None = None
    ) -> AsyncIterator[list[Entry]]:
        s = self._get(stream)
        reader = _Reader(parse_id(after) if after is not None else None)
        s.readers.add(reader)
        try:
            while True:
                start = s.index_after(reader.position)
                if start < len(s.entries):
                    batch = s.entries[start:]
                    reader.position = s.keys[-1]
                    if s.overdue:
                        self._trim(s)
                    yield batch
                    continue
                if s.ended or self._closed:
                    return
                await s.wait()
        finally:
            s.readers.discard(reader)

    async def end(self, stream: str, ttl: float) -> None:
        s = self._get(stream)
        s.ended = True
        s.notify()
        if s.expiry:
            s.expiry.cancel()
        s.expiry = asyncio.get_running_loop().call_later(ttl, self._expire, stream, s)

    def _expire(self, name: str, s: _Stream) -> None:
        if self._streams.get(name) is s:
            del self._streams[name]

    async def is_ended(self, stream: str) -> bool:
        return self._get(stream).ended

    async def last_id(self, stream: str) -> str | None:
        s = self._get(stream)
        return s.entries[-1].id if s.entries else None

    async def publish(self, channel: str, payload: bytes) -> None:
        for queue in self._listeners.get(channel, ()):
            queue.put_nowait(payload)

    async def listen(self, channel: str) -> AsyncIterator[bytes]:
        queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._listeners.setdefault(channel, set()).add(queue)
        try:
            while (item := await queue.get()) is not None:
                yield item
        finally:
            self._listeners[channel].discard(queue)
