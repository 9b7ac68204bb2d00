"""The hot path: which connections an update goes to, and writing it to them.

Each subscriber is a ``Connection``: a few slots, no task or timer of its own.
An update is encoded and framed once, when published (``update.py``); the
fan-out appends views of those same bytes to every matching connection's
pending list, and a connection whose pending bytes pass the bound is dropped
rather than allowed to grow.

Who writes the pending bytes depends on who serves the connection:

- **Direct** (``rill serve``'s HTTP/1.1, ``direct.py``; ``Connection.owner`` and
  ``transport`` set): the bytes are already framed as HTTP/1.1 chunks, and one
  ``flush`` callback per event-loop iteration writes each dirty connection's
  pending bytes straight to its transport. Why hand-written: profiling 10k
  subscribers (see docs/performance.md) put 36% of a burst in waking each
  connection's writer task and 59% in the per-update ``send``; writing from the
  fan-out removes the wake-ups, and flushing once per loop iteration coalesces
  a burst into one write (one syscall) per connection instead of one per
  update. While the transport is paused (its write buffer is past the
  high-water mark) the bytes stay pending, growing toward the bound, and the
  owner writes them when it resumes. The owner also replays, and ends the
  response when the connection is dropped.
- **ASGI** (any other server: HTTP/2 under granian, a wrapped app, another
  uvicorn release): the connection's request task is its writer
  (``subscribe.py``); the fan-out resolves its waiter, and whatever piled up
  meanwhile goes in one ``send``.

Routing: exact matchers are a dict lookup by topic; ``*`` subscribers are one
set; every other distinct matcher (URL pattern, URI template) is evaluated
once per update, whatever the number of connections sharing it.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from typing import Any, Protocol

from rill.hub.grants import Grants
from rill.hub.matchers import Matcher
from rill.hub.update import Record
from rill.metrics import HUB_DELIVERIES

log = logging.getLogger("rill.hub")


class StreamOwner(Protocol):
    """What serves a connection without a writer task (``direct.HubStreamProtocol``)."""

    def dropped(self) -> None:
        """The hub ended the connection (``Connection.closed`` says why): end the response."""


#: A delivery this soon (seconds) after the last flush is part of a burst, and its
#: flush waits ``COALESCE_DELAY`` for the rest of the burst. A lone update, or the
#: first of a burst, is flushed in the same loop iteration as before.
BURST_GAP = 0.005
COALESCE_DELAY = 0.002


#: Bytes waiting for a connection: shared bytes, or a view of a record's payload.
Pending = bytes | memoryview


class Connection:
    __slots__ = (
        "matchers",
        "grants",
        "pending",
        "pending_bytes",
        "waiter",
        "cursor",
        "stamp",
        "closed",
        "wrote",
        "poll",
        "blocked_since",
        "abort",
        "subscriber",
        "transport",
        "owner",
        "close_at",
        "token_key",
        "__weakref__",
    )

    def __init__(self, matchers: tuple[Matcher, ...], grants: Grants, subscriber: str) -> None:
        self.matchers = matchers
        self.grants = grants
        #: Encoded events waiting to be written; None when empty. One event is held
        #: as the shared bytes object itself, several as a list: an update to 10k
        #: idle connections then allocates no container per connection, which
        #: measurement showed matters (each allocation pushed the collector toward
        #: full collections of every connection's objects: 140-260 ms pauses).
        #: Views of a record's payload (``Record.framed``) are held as they are:
        #: no copy of an update is made per delivery.
        self.pending: Pending | list[Pending] | None = None
        self.pending_bytes = 0
        #: Resolved to wake the writer; set only while it waits.
        self.waiter: asyncio.Future[None] | None = None
        #: While replaying: the next index seq the writer must send; None once live.
        self.cursor: int | None = None
        #: Seq of the last update offered, so a connection with several matching
        #: matchers gets each update once.
        self.stamp = -1
        #: Why the connection ends (None while open).
        self.closed: str | None = None
        #: Something was written since the last heartbeat tick.
        self.wrote = False
        #: The writer should check whether the peer went away (ASGI only: a direct
        #: connection's owner hears of it from its transport).
        self.poll = False
        #: Monotonic time the writer entered ``send``, or a direct connection's
        #: transport paused writing (0 when neither).
        self.blocked_since = 0.0
        #: Ends the connection at once when the writer is stuck in ``send``.
        self.abort: Callable[[], None] | None = None
        self.subscriber = subscriber
        #: Direct mode (both set, or neither): the socket's transport, which ``flush``
        #: writes to, and the protocol serving it, told when the hub drops it.
        #: Pending bytes are then HTTP/1.1 chunks, framed by ``chunk()``.
        self.transport: asyncio.WriteTransport | None = None
        self.owner: StreamOwner | None = None
        #: Unix time by which the hub closes it: the token's ``exp`` or the connection
        #: lifetime, whichever comes first (``math.inf``: never).
        self.close_at = math.inf
        #: The token it was opened with, as ``Registry.per_token`` counts it (None: no token).
        self.token_key: bytes | None = None

    def wake(self) -> None:
        waiter = self.waiter
        if waiter is not None:
            self.waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def push(self, data: Pending) -> None:
        self.append(data)
        self.wake()

    def append(self, data: Pending) -> None:
        pending = self.pending
        if pending is None:
            self.pending = data
        elif isinstance(pending, list):
            pending.append(data)
        else:
            self.pending = [pending, data]
        self.pending_bytes += len(data)

    def take(self) -> Pending:
        """Everything pending, in one buffer (a record's view as is when it is alone)."""
        pending = self.pending
        self.pending = None
        self.pending_bytes = 0
        if pending is None:
            return b""
        return b"".join(pending) if isinstance(pending, list) else pending


def chunk(data: bytes) -> bytes:
    """``data`` as one HTTP/1.1 chunk (what uvicorn's ``send`` would write)."""
    return b"%x\r\n%b\r\n" % (len(data), data)


class Registry:
    """Every open subscription on this node, indexed for routing."""

    def __init__(self, max_buffer_bytes: int) -> None:
        self.max_buffer_bytes = max_buffer_bytes
        self.connections: set[Connection] = set()
        self._exact: dict[str, set[Connection]] = {}
        self._everything: set[Connection] = set()
        self._patterns: dict[Matcher, set[Connection]] = {}
        #: Direct connections with pending bytes, written by the next ``flush``.
        self._dirty: list[Connection] = []
        self._flush_scheduled = False
        #: Loop time the last ``flush`` ended (see ``_schedule_flush``).
        self._flushed_at = 0.0
        #: Open connections per token (``Connection.token_key``), for the per-token limit.
        self.per_token: dict[bytes, int] = {}

    def __len__(self) -> int:
        return len(self.connections)

    def add(self, conn: Connection) -> None:
        self.connections.add(conn)
        if conn.token_key is not None:
            self.per_token[conn.token_key] = self.per_token.get(conn.token_key, 0) + 1
        for m in conn.matchers:
            if m.wildcard:
                self._everything.add(conn)
            elif m.kind == "Exact":
                self._exact.setdefault(m.value, set()).add(conn)
            else:
                self._patterns.setdefault(m, set()).add(conn)

    def remove(self, conn: Connection) -> None:
        if conn not in self.connections:
            return
        self.connections.discard(conn)
        token_key = conn.token_key
        if token_key is not None:
            left = self.per_token[token_key] - 1
            if left:
                self.per_token[token_key] = left
            else:
                del self.per_token[token_key]
        for m in conn.matchers:
            if m.wildcard:
                self._everything.discard(conn)
                continue
            table: dict[Any, set[Connection]] = self._exact if m.kind == "Exact" else self._patterns
            key: Any = m.value if m.kind == "Exact" else m
            group = table.get(key)
            if group is not None:
                group.discard(conn)
                if not group:
                    del table[key]

    def deliver(self, record: Record) -> None:
        """Queue ``record`` for every live connection that matches and may read it."""
        topics = record.topics
        groups: list[set[Connection]] = []
        for topic in topics:
            group = self._exact.get(topic)
            if group:
                groups.append(group)
        if self._everything:
            groups.append(self._everything)
        for matcher, group in self._patterns.items():
            for topic in topics:
                if matcher.matches(topic):
                    groups.append(group)
                    break
        if not groups:
            return
        seq = record.seq
        framed = record.framed
        # Why bytes for ASGI connections: servers that hide the transport expect a
        # ``bytes`` body. Made once per update, and only if such a connection matches.
        wire: bytes | None = None
        size = len(record.wire)
        limit = self.max_buffer_bytes
        private = record.private
        dirty = self._dirty
        overflow: list[Connection] = []
        queued = 0
        for group in groups:
            for conn in group:
                # Replaying connections read this record from the index themselves.
                if conn.stamp == seq or conn.cursor is not None:
                    continue
                conn.stamp = seq
                if private and not conn.grants.can_subscribe_any(topics):
                    continue
                queued += 1
                direct = conn.transport is not None
                if direct:
                    data: Pending = framed
                else:
                    if wire is None:
                        wire = bytes(record.wire)
                    data = wire
                if conn.pending is None:
                    conn.pending = data
                    conn.pending_bytes = size
                    if direct:
                        dirty.append(conn)
                else:
                    conn.append(data)
                if conn.pending_bytes > limit:
                    overflow.append(conn)
                    continue
                if direct:
                    continue  # written by ``flush``, at the end of this loop iteration
                waiter = conn.waiter
                if waiter is not None:
                    conn.waiter = None
                    if not waiter.done():
                        waiter.set_result(None)
        HUB_DELIVERIES.inc(queued)
        for conn in overflow:
            self.drop(conn, "slow")
        self._schedule_flush()

    def _schedule_flush(self) -> None:
        if self._dirty and not self._flush_scheduled:
            self._flush_scheduled = True
            loop = asyncio.get_running_loop()
            if loop.time() - self._flushed_at < BURST_GAP:
                # In a burst: the publishes behind this one are still on their way
                # through the loop, and waiting for them turns N writes per connection
                # into one. Measured on the 20-update burst: without this, half the runs
                # wrote each update separately (~120k deliveries/s, 1.3× Nchan).
                loop.call_later(COALESCE_DELAY, self.flush)
            else:
                loop.call_soon(self.flush)

    def flush(self) -> None:
        """Write every dirty direct connection's pending bytes to its transport.

        Runs once per loop iteration after deliveries, so every update the feed
        handed over in that iteration reaches a connection in one write.
        """
        self._flush_scheduled = False
        dirty = self._dirty
        self._dirty = []
        for conn in dirty:
            pending = conn.pending
            if pending is None or conn.closed is not None:
                continue
            if conn.blocked_since:
                # The socket is full: its owner writes the pending bytes (in
                # order) when the transport resumes writing.
                continue
            transport = conn.transport
            assert transport is not None  # only direct connections are dirty
            if transport.is_closing():
                self.drop(conn, "gone")
                continue
            transport.write(conn.take())
            conn.wrote = True
        self._flushed_at = asyncio.get_running_loop().time()

    def broadcast(self, data: bytes, *, only_idle: bool) -> None:
        """Heartbeats: queue ``data`` for connections (idle ones only, if asked)."""
        framed = chunk(data)
        dirty = self._dirty
        for conn in self.connections:
            if only_idle and conn.wrote:
                conn.wrote = False
                continue
            conn.wrote = False
            if conn.transport is None:
                conn.poll = True
                conn.push(data)
                continue
            # Direct: written by ``flush`` (such a connection has no writer task).
            if conn.pending is None:
                dirty.append(conn)
            conn.append(framed)
        self._schedule_flush()

    def drop(self, conn: Connection, reason: str) -> None:
        """End a connection now: it stops receiving, and its writer finishes."""
        if conn.closed is not None:
            return
        conn.closed = reason
        self.remove(conn)
        conn.pending = None
        conn.pending_bytes = 0
        if reason == "slow":
            log.warning("hub subscriber dropped", extra={"event": "hub.drop", "reason": reason})
        # A writer stuck in a write (its closing ``send`` would wait for the drain)
        # ends at once; a direct connection's owner does the same in ``dropped``.
        if conn.blocked_since and conn.abort is not None:
            conn.abort()
        if conn.owner is not None:
            conn.owner.dropped()
        conn.wake()

    def stalled(self, timeout: float) -> list[Connection]:
        now = time.monotonic()
        return [c for c in self.connections if c.blocked_since and now - c.blocked_since > timeout]
