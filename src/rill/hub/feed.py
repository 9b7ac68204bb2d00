"""The node's one live subscription to the update stream.

Every node, whichever received the publish, learns of an update here: the
entry's head is read, the entry indexed for replay and fanned out to local
connections (its payload is already the framed event, ``update.py``).
At start the retained part of the stream is read into the index first, so a
freshly started node answers ``Last-Event-ID`` for updates published before.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from rill.broker.base import Broker, Entry, StreamMissing, compare_ids, parse_id
from rill.hub.replay import ReplayIndex
from rill.hub.update import MARKER, STREAM, Record, read_head

log = logging.getLogger("rill.hub")

_PAGE = 1000
_BACKOFF = (0.05, 0.2, 1.0, 2.0)


class Feed:
    def __init__(
        self,
        broker: Broker,
        index: ReplayIndex,
        on_record: Callable[[Record, bool], None],
    ) -> None:
        self._broker = broker
        self._index = index
        self._on_record = on_record
        #: Broker id of the last entry this node has seen.
        self.position: str | None = None
        self._advanced = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._ensure_stream()
        await self._load()
        self._task = asyncio.create_task(self._follow(), name="rill-hub-feed")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _ensure_stream(self) -> None:
        try:
            await self._broker.last_id(STREAM)
        except StreamMissing:
            # Why: a stream can only be followed once it exists; the marker is
            # skipped by every reader.
            await self._broker.append(STREAM, MARKER)

    async def _load(self) -> None:
        while True:
            entries = await self._broker.read(STREAM, self.position, _PAGE)
            for entry in entries:
                self._accept(entry, deliver=False)
            if len(entries) < _PAGE:
                return

    async def _follow(self) -> None:
        failures = 0
        while True:
            try:
                async for entry in self._broker.subscribe(STREAM, self.position):
                    self._accept(entry, deliver=True)
                    failures = 0
                return
            except asyncio.CancelledError:
                raise
            except StreamMissing:
                await self._ensure_stream()
            except Exception:
                log.exception("hub feed failed; resuming", extra={"event": "hub.feed_error"})
            await asyncio.sleep(_BACKOFF[min(failures, len(_BACKOFF) - 1)])
            failures += 1

    def _accept(self, entry: Entry, *, deliver: bool) -> None:
        self.position = entry.id
        head = read_head(entry.payload)
        if head is not None:
            # The record keeps the entry's payload object itself: with the memory
            # broker, the broker's copy and this node's are one and the same.
            record = self._index.add(entry.id, parse_id(entry.id)[0], entry.payload, head)
            self._on_record(record, deliver)
        self._advanced.set()
        self._advanced = asyncio.Event()

    async def catch_up(self) -> None:
        """Wait until this node has seen everything the broker holds now.

        Why: an update acknowledged by another node may not have reached this
        one yet; asking before declaring a ``Last-Event-ID`` unknown avoids
        replaying the whole window (duplicates) for an id that was just late.
        """
        target = await self._broker.last_id(STREAM)
        if target is None:
            return
        while self.position is None or compare_ids(self.position, target) < 0:
            await self._advanced.wait()
