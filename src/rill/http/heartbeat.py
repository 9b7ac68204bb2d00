"""One loop pings every idle chat stream, instead of a timer per connection."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable

SendBytes = Callable[[bytes], Awaitable[None]]


class Beat:
    """An open stream: when it last wrote, and how to write to it."""

    __slots__ = ("last_write", "payload", "sending", "write")

    def __init__(self, write: SendBytes, payload: bytes | None = None) -> None:
        self.write = write
        #: This stream's own ping, or None for the heartbeat's.
        self.payload = payload
        self.last_write = time.monotonic()
        self.sending = False


class Heartbeat:
    def __init__(self, interval: float, payload: bytes) -> None:
        self.interval = interval
        self.payload = payload
        self._beats: set[Beat] = set()
        self._task: asyncio.Task[None] | None = None
        self._pending: set[asyncio.Task[None]] = set()

    def __len__(self) -> int:
        return len(self._beats)

    def register(self, write: SendBytes, payload: bytes | None = None) -> Beat:
        beat = Beat(write, payload)
        self._beats.add(beat)
        return beat

    def unregister(self, beat: Beat) -> None:
        self._beats.discard(beat)

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="rill-heartbeat")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _loop(self) -> None:
        tick = min(1.0, self.interval / 2)
        while True:
            await asyncio.sleep(tick)
            due = time.monotonic() - self.interval
            for beat in list(self._beats):
                if beat.last_write <= due and not beat.sending:
                    beat.last_write = time.monotonic()
                    # Why a task: a client that stopped reading may block its write;
                    # it must not hold up the pings of everyone else.
                    task = asyncio.create_task(self._ping(beat))
                    self._pending.add(task)
                    task.add_done_callback(self._pending.discard)

    async def _ping(self, beat: Beat) -> None:
        with contextlib.suppress(Exception):
            await beat.write(self.payload if beat.payload is None else beat.payload)
