"""An update as stored in the broker, and as written to subscribers.

The broker payload is the update in the one form every later step needs: a
line of compact JSON with what routing reads (id, topics, private), then the
event already SSE-encoded *and* framed as an HTTP/1.1 chunk::

    {"i":"urn:uuid:…","t":["topic"]}\\n<hex size>\\r\\nid: …\\ndata: …\\n\\n\\r\\n

Why: a node used to decode the payload into an ``Update`` (its data as a
``str``), encode SSE bytes from it, and frame those per delivery, while the
memory broker kept the payload too: three copies of every retained update
(issue 12 measured 1.8 GiB of RSS for 600 MiB published). Now the payload is
encoded and framed once, by the publisher, and a ``Record`` keeps that one
bytes object (the memory broker's entry is the same object), handing out
zero-copy views of it: ``framed`` for connections written directly, ``wire``
(without the chunk framing) for everything else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import orjson

from rill.sse.encoder import encode_event

#: One broker stream holds every update; each node follows it once.
STREAM = "hub:updates"


@dataclass(frozen=True, slots=True)
class Update:
    """An update being published (validated, not yet stored)."""

    id: str
    topics: tuple[str, ...]
    data: str
    private: bool = False
    type: str | None = None
    retry: int | None = None

    def to_payload(self) -> bytes:
        head: dict[str, object] = {"i": self.id, "t": list(self.topics)}
        if self.private:
            head["p"] = 1
        event = encode_event(self.data, event=self.type, id=self.id, retry=self.retry)
        return b"%b\n%x\r\n%b\r\n" % (orjson.dumps(head), len(event), event)


#: Appended once when a node finds the stream missing, so it can be followed.
MARKER = orjson.dumps({"marker": "hub"})


class Head(NamedTuple):
    """What routing reads from a stored update, and where its event starts."""

    id: str
    topics: tuple[str, ...]
    private: bool
    framed_at: int


def read_head(payload: bytes) -> Head | None:
    """The routing head of a stored update; None for anything else (the marker)."""
    end = payload.find(b"\n")
    if end < 0:
        return None
    try:
        head = orjson.loads(payload[:end])
    except orjson.JSONDecodeError:
        return None  # not ours: skipped, rather than stopping the feed on it
    if not isinstance(head, dict) or not isinstance(head.get("i"), str):
        return None
    topics = head.get("t")
    if not isinstance(topics, list) or not all(isinstance(t, str) for t in topics):
        return None
    return Head(head["i"], tuple(topics), bool(head.get("p")), end + 1)


class Record:
    """A stored update as one node holds it for fan-out and replay."""

    __slots__ = ("seq", "position", "ms", "id", "topics", "private", "payload", "_framed_at",
                 "_wire_at")

    def __init__(self, seq: int, position: str, ms: int, payload: bytes, head: Head) -> None:
        #: Node-local, dense, increasing: index arithmetic for O(1) replay lookups.
        self.seq = seq
        #: The broker's entry id, and its milliseconds part (for age retention).
        self.position = position
        self.ms = ms
        self.id = head.id
        self.topics = head.topics
        self.private = head.private
        #: The broker payload: the only copy of the event's bytes on this node.
        self.payload = payload
        self._framed_at = head.framed_at
        self._wire_at = payload.index(b"\r\n", head.framed_at) + 2

    @property
    def size(self) -> int:
        """Bytes this record holds (what ``hub.retention_bytes`` counts)."""
        return len(self.payload)

    @property
    def framed(self) -> memoryview:
        """The event as one HTTP/1.1 chunk (what ``fanout.chunk(wire)`` would build)."""
        return memoryview(self.payload)[self._framed_at :]

    @property
    def wire(self) -> memoryview:
        """The SSE-encoded event."""
        return memoryview(self.payload)[self._wire_at : -2]

    def data(self) -> str:
        """The event's data as a subscriber decodes it (its lines joined with LF).

        Decodes on every call: only the hub's own subscription documents need it.
        """
        lines = bytes(self.wire).decode().split("\n")
        return "\n".join(line[6:] for line in lines if line.startswith("data: "))
