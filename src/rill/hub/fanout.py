"""The hot path: which connections an update goes to, and queuing it for them.

Each subscriber is a ``Connection``: a few slots, no task or timer of its own.
Its ASGI request task is its writer (``subscribe.py``); the fan-out only appends
the update's shared, pre-encoded bytes to the connection's pending list and
resolves the writer's waiter, so whatever piles up while the writer is busy is
coalesced into one ``send``. A connection whose pending bytes pass the bound is
dropped rather than allowed to grow.

Routing: exact matchers are a dict lookup by topic; ``*`` subscribers are one
set; every other distinct matcher (URL pattern, URI template) is evaluated
once per update, whatever the number of connections sharing it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from rill.hub.grants import Grants
from rill.hub.matchers import Matcher
from rill.hub.update import Record
from rill.metrics import HUB_DELIVERIES

log = logging.getLogger("rill.hub")


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
        "__weakref__",
    )

    def __init__(self, matchers: tuple[Matcher, ...], grants: Grants, subscriber: str) -> None:
        self.matchers = matchers
        self.grants = grants
        #: Encoded events waiting for the writer; None when empty (saves a list per idle conn).
        self.pending: list[bytes] | None = None
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
        #: The writer should check whether the peer went away.
        self.poll = False
        #: Monotonic time the writer entered ``send`` (0 when not in it).
        self.blocked_since = 0.0
        #: Ends the connection at once when the writer is stuck in ``send``.
        self.abort: Callable[[], None] | None = None
        self.subscriber = subscriber

    def wake(self) -> None:
        waiter = self.waiter
        if waiter is not None:
            self.waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def push(self, data: bytes) -> None:
        pending = self.pending
        if pending is None:
            self.pending = [data]
        else:
            pending.append(data)
        self.pending_bytes += len(data)
        self.wake()

    def take(self) -> bytes:
        pending = self.pending
        self.pending = None
        self.pending_bytes = 0
        if not pending:
            return b""
        return pending[0] if len(pending) == 1 else b"".join(pending)


class Registry:
    """Every open subscription on this node, indexed for routing."""

    def __init__(self, max_buffer_bytes: int) -> None:
        self.max_buffer_bytes = max_buffer_bytes
        self.connections: set[Connection] = set()
        self._exact: dict[str, set[Connection]] = {}
        self._everything: set[Connection] = set()
        self._patterns: dict[Matcher, set[Connection]] = {}

    def __len__(self) -> int:
        return len(self.connections)

    def add(self, conn: Connection) -> None:
        self.connections.add(conn)
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
        topics = record.update.topics
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
        wire = record.wire
        size = len(wire)
        limit = self.max_buffer_bytes
        private = record.update.private
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
                pending = conn.pending
                if pending is None:
                    conn.pending = [wire]
                else:
                    pending.append(wire)
                conn.pending_bytes += size
                queued += 1
                if conn.pending_bytes > limit:
                    overflow.append(conn)
                    continue
                waiter = conn.waiter
                if waiter is not None:
                    conn.waiter = None
                    if not waiter.done():
                        waiter.set_result(None)
        HUB_DELIVERIES.inc(queued)
        for conn in overflow:
            self.drop(conn, "slow")

    def broadcast(self, data: bytes, *, only_idle: bool) -> None:
        """Heartbeats: queue ``data`` for connections (idle ones only, if asked)."""
        for conn in self.connections:
            if only_idle and conn.wrote:
                conn.wrote = False
                continue
            conn.wrote = False
            conn.poll = True
            conn.push(data)

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
        if conn.blocked_since and conn.abort is not None:
            conn.abort()
        conn.wake()

    def stalled(self, timeout: float) -> list[Connection]:
        now = time.monotonic()
        return [c for c in self.connections if c.blocked_since and now - c.blocked_since > timeout]
