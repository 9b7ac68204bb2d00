"""The load client: thousands of SSE subscribers on raw sockets, costing little.

Written to cost less than any server it measures: one ``BufferedProtocol`` per
connection reading into one shared buffer (no bytes object per read), counting
events by a marker with ``bytearray.count`` instead of parsing SSE, and taking
one timestamp per read. The servers' own per-event work (matching, encoding,
HTTP chunking, one write per connection) is larger than this.
"""

from __future__ import annotations

import asyncio
import time
from typing import cast

_BUFFER = bytearray(256 * 1024)
_VIEW = memoryview(_BUFFER)
_HEADERS_END = b"\r\n\r\n"


class Tally:
    """How many subscribers have seen ``target`` markers; a future for "all"."""

    def __init__(self) -> None:
        self.target = 0
        self.reached = 0
        self.expected = 0
        self.done: asyncio.Future[None] | None = None

    def arm(self, target: int, expected: int) -> asyncio.Future[None]:
        self.target = target
        self.reached = 0
        self.expected = expected
        self.done = asyncio.get_running_loop().create_future()
        return self.done


class Subscriber(asyncio.BufferedProtocol):
    __slots__ = ("marker", "tally", "count", "reached_at", "tail", "ready", "closed", "transport",
                 "head")

    def __init__(self, marker: bytes, tally: Tally, ready: asyncio.Future[None] | None) -> None:
        self.marker = marker
        self.tally = tally
        self.count = 0
        #: monotonic time of the read that brought ``count`` to the tally's target.
        self.reached_at = 0.0
        #: Last bytes of the previous read, so a marker split across reads is counted.
        self.tail = b""
        self.ready = ready
        self.closed = False
        self.head = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio.Transport; they behave as one.
        self.transport = cast(asyncio.Transport, transport)

    def get_buffer(self, sizehint: int) -> memoryview:
        return _VIEW

    def buffer_updated(self, nbytes: int) -> None:
        if self.ready is not None:
            # Still in the response head: wait for its end before counting.
            self.head += bytes(_BUFFER[:nbytes])
            if _HEADERS_END not in self.head:
                return
            if not self.head.startswith(b"HTTP/1.1 200"):
                self.ready.set_exception(RuntimeError(self.head[:200].decode(errors="replace")))
                self.ready = None
                return
            self.ready.set_result(None)
            self.ready = None
            body = self.head.split(_HEADERS_END, 1)[1]
            self.head = b""
            self._count(body.count(self.marker), body)
            return
        found = _BUFFER.count(self.marker, 0, nbytes)
        marker_len = len(self.marker)
        if self.tail:
            found += (self.tail + bytes(_BUFFER[: marker_len - 1])).count(self.marker)
        self.tail = bytes(_BUFFER[max(0, nbytes - marker_len + 1) : nbytes])
        if found:
            self.count += found
            tally = self.tally
            if self.count >= tally.target > self.count - found:
                self.reached_at = time.monotonic()
                tally.reached += 1
                if tally.reached >= tally.expected and tally.done and not tally.done.done():
                    tally.done.set_result(None)

    def _count(self, found: int, data: bytes) -> None:
        self.tail = data[-(len(self.marker) - 1) :] if data else b""
        self.count += found

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.ready is not None and not self.ready.done():
            self.ready.set_exception(ConnectionError("closed before the response"))


async def open_subscribers(
    port: int,
    path: str,
    count: int,
    marker: bytes,
    tally: Tally,
    *,
    headers: dict[str, str] | None = None,
    parallel: int = 128,
    deadline_s: float = 120.0,
    into: list[Subscriber] | None = None,
) -> list[Subscriber]:
    """Open ``count`` subscriptions, each answered with its 200 head, ``parallel`` at a time."""
    loop = asyncio.get_running_loop()
    extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
    request = (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
               f"Accept: text/event-stream\r\n{extra}\r\n").encode()
    subs = into if into is not None else []
    gate = asyncio.Semaphore(parallel)

    async def one() -> None:
        async with gate:
            ready = loop.create_future()
            sub = Subscriber(marker, tally, ready)
            await loop.create_connection(lambda: sub, "127.0.0.1", port)
            assert sub.transport is not None
            sub.transport.write(request)
            subs.append(sub)
            await ready

    async with asyncio.timeout(deadline_s):
        await asyncio.gather(*(one() for _ in range(count)))
    return subs


def close_all(subs: list[Subscriber]) -> None:
    for sub in subs:
        if sub.transport is not None:
            sub.transport.abort()
    subs.clear()


def arrival_latencies(subs: list[Subscriber], sent_at: float) -> list[float]:
    """Per-subscriber ms from ``sent_at`` to the read that reached the target."""
    return [(s.reached_at - sent_at) * 1000 for s in subs if s.reached_at >= sent_at]
