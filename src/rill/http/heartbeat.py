"""One loop pings every idle chat stream, instead of a timer per connection, and drops
the streams whose client stopped reading.

A client that never reads would otherwise keep its connection, the reply's
buffered bytes and the stream's task for ever (issue 13): a write that has not
completed within ``write_timeout`` seconds aborts the connection, as the hub does
for its subscribers (``hub.write_timeout_seconds``), and so does a finished
stream whose last bytes are still queued for the client that long.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

SendBytes = Callable[[bytes], Awaitable[None]]
Abort = Callable[[], None]


class Transport(Protocol):
    """What is needed of a server's transport (uvloop's is no ``Transport``)."""

    def abort(self) -> None: ...

    def get_write_buffer_size(self) -> int: ...


class Beat:
    """An open stream: when it last began a write, whether that write is still under
    way, how to write to it, and how to drop it."""

    __slots__ = ("abort", "last_write", "payload", "sending", "write")

    def __init__(self, write: SendBytes, abort: Abort, payload: bytes | None = None) -> None:
        self.write = write
        self.abort = abort
        #: This stream's own ping, or None for the heartbeat's.
        self.payload = payload
        self.last_write = time.monotonic()
        self.sending = False


class Heartbeat:
    def __init__(self, interval: float, payload: bytes, write_timeout: float = 30.0) -> None:
        self.interval = interval
        self.payload = payload
        self.write_timeout = write_timeout
        self._beats: set[Beat] = set()
        #: Finished streams' transports with bytes still queued → when to give up on them.
        self._draining: dict[Transport, float] = {}
        self._task: asyncio.Task[None] | None = None
        self._pending: set[asyncio.Task[None]] = set()

    def __len__(self) -> int:
        return len(self._beats)

    def register(self, write: SendBytes, abort: Abort, payload: bytes | None = None) -> Beat:
        beat = Beat(write, abort, payload)
        self._beats.add(beat)
        return beat

    def unregister(self, beat: Beat) -> None:
        self._beats.discard(beat)

    def ended(self, transport: Transport | None) -> None:
        """A stream ended: if its last bytes are still queued, they get ``write_timeout``."""
        if transport is not None and transport.get_write_buffer_size() > 0:
            self._draining[transport] = time.monotonic() + self.write_timeout

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="rill-heartbeat")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _loop(self) -> None:
        tick = min(1.0, self.interval / 2, self.write_timeout / 2)
        while True:
            await asyncio.sleep(tick)
            now = time.monotonic()
            due = now - self.interval
            stalled = now - self.write_timeout
            for beat in list(self._beats):
                if beat.sending and beat.last_write <= stalled:
                    self._beats.discard(beat)
                    beat.abort()
                elif beat.last_write <= due and not beat.sending:
                    beat.last_write = time.monotonic()
                    # Why a task: a client that stopped reading may block its write;
                    # it must not hold up the pings of everyone else.
                    task = asyncio.create_task(self._ping(beat))
                    self._pending.add(task)
                    task.add_done_callback(self._pending.discard)

            self._drop_undrained(now)

    def _drop_undrained(self, now: float) -> None:
        for transport, deadline in list(self._draining.items()):
            if transport.get_write_buffer_size() == 0:
                del self._draining[transport]
            elif now >= deadline:
                del self._draining[transport]
                transport.abort()

    async def _ping(self, beat: Beat) -> None:
        beat.sending = True
        try:
            with contextlib.suppress(Exception):
                await beat.write(self.payload if beat.payload is None else beat.payload)
        finally:
            beat.sending = False
