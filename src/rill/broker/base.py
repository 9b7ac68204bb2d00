"""The ``Broker`` contract.

A broker holds *streams*: append-only logs of opaque byte payloads, each entry
with a position id in Redis stream format ``"<a>-<b>"`` (two non-negative
integers, ordered as a pair). Both implementations use the same format, so an
id handed to a client by one node means the same thing on every other node.

Readers either ``read`` a slice after a position, or ``subscribe``: replay from a
position, then follow live entries until the writer ``end``s the stream.
Appends may carry an explicit id (the chat layer encodes its own sequence and
text offset there) or let the broker assign ``<unix-ms>-<n>``.

Signals (``publish``/``listen``) are fire-and-forget fan-out to every node, for
things that need no replay, such as "cancel message X".

Why this shape: it is exactly what Redis Streams and Pub/Sub give, so the Redis
implementation is a thin mapping, and the memory one is a few lists.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from dataclasses import dataclass

from rill.errors import InvalidInput


class StreamMissing(LookupError):
    """The stream does not exist (never created, or expired)."""


# Why not frozen: one is built per token; see ``providers.base.TextDelta``.
@dataclass(slots=True)
class Entry:
    id: str
    payload: bytes


def parse_id(entry_id: str) -> tuple[int, int]:
    """Parse ``"<a>-<b>"``; a bare ``"<a>"`` means ``"<a>-0"``. Raises InvalidInput."""
    head, sep, tail = entry_id.partition("-")
    try:
        first = int(head)
        second = int(tail) if sep else 0
    except ValueError:
        raise InvalidInput(f"not a stream position: {entry_id!r}") from None
    if first < 0 or second < 0 or not head.isdigit() or (sep and not tail.isdigit()):
        raise InvalidInput(f"not a stream position: {entry_id!r}")
    return first, second


def compare_ids(a: str, b: str) -> int:
    pa, pb = parse_id(a), parse_id(b)
    return (pa > pb) - (pa < pb)


class Broker(ABC):
    """Ordered, replayable streams and ephemeral signals; see the module docstring."""

    #: True when several processes may share this broker (Redis), False for in-process.
    shared: bool = False

    async def start(self) -> None:  # noqa: B027 - optional hook
        """Open connections. Called once before use."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections; live subscriptions end."""

    @abstractmethod
    async def ping(self) -> None:
        """Raise ``BrokerError`` if the broker cannot be reached."""

    @abstractmethod
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
        """Append one entry and return its id.

        ``id``, when given, must be greater than the stream's last id, else
        ``InvalidInput``. ``maxlen`` (entries), ``max_age`` (seconds, against
        the ms part of ids) and ``max_bytes`` (the sum of the payloads' lengths)
        bound what the stream retains: after the append, the oldest entries are
        dropped until every given bound holds, except the entry just appended,
        which is always kept, so that a live subscriber still receives it
        whatever the bounds.
        Entries appended without any bound may be left out of the count and the
        bytes (Redis keeps a ledger of bounded entries only); they go when the
        age bound or a bounded entry appended after them is dropped.
        Appending to a stream that was ended raises ``InvalidInput``.
        """

    async def append_many(self, stream: str, entries: list[tuple[bytes, str]]) -> None:
        """Append ``(payload, id)`` entries in order, each id greater than the last.

        Why: a model's tokens arrive several to a network read, and one broker call
        for all of them (one round trip to Redis) is what keeps the relay's cost per
        token low (docs/performance.md). Readers may see them as one batch. Errors
        as ``append``; entries before the one that failed stay appended.
        """
        for payload, entry_id in entries:
            await self.append(stream, payload, id=entry_id)

    @abstractmethod
    async def read(self, stream: str, after: str | None = None, limit: int = 1000) -> list[Entry]:
        """Entries strictly after ``after`` (from the start when None), oldest first.

        Raises ``StreamMissing`` when the stream does not exist.
        """

    @abstractmethod
    def subscribe(self, stream: str, after: str | None = None) -> AsyncIterator[Entry]:
        """Replay entries after ``after``, then yield live ones until the stream ends.

        Raises ``StreamMissing`` (on first iteration) when the stream does not exist.
        Never yields an entry twice nor skips one, even if appends race the replay.
        """

    async def subscribe_batches(
        self, stream: str, after: str | None = None
    ) -> AsyncIterator[list[Entry]]:
        """``subscribe``, but everything already available comes as one non-empty list.

        Why: a reader that is behind (a slow client, a burst of tokens) can then write
        all it owes in one go instead of once per entry. The default yields one entry
        per list; implementations that can see their backlog override it.
        """
        async for entry in self.subscribe(stream, after):
            yield [entry]

    @abstractmethod
    async def end(self, stream: str, ttl: float) -> None:
        """Mark the stream finished: subscribers stop after its last entry, and the
        stream disappears ``ttl`` seconds later."""

    @abstractmethod
    async def is_ended(self, stream: str) -> bool:
        """True once ``end`` was called. Raises ``StreamMissing``."""

    @abstractmethod
    async def last_id(self, stream: str) -> str | None:
        """The id of the newest entry, or None for an empty stream. Raises ``StreamMissing``."""

    @abstractmethod
    async def publish(self, channel: str, payload: bytes) -> None:
        """Deliver a signal to every current listener of ``channel`` on every node."""

    @abstractmethod
    def listen(self, channel: str) -> AsyncIterator[bytes]:
        """Signals published on ``channel`` from now on, until the broker closes."""
