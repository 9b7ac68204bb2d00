"""An update as stored in the broker, and as written to subscribers.

The broker payload is compact JSON; each node decodes it once and encodes the
SSE bytes once, which every matching connection then shares.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from rill.sse.encoder import encode_event

#: One broker stream holds every update; each node follows it once.
STREAM = "hub:updates"


@dataclass(frozen=True, slots=True)
class Update:
    id: str
    topics: tuple[str, ...]
    data: str
    private: bool = False
    type: str | None = None
    retry: int | None = None

    def to_payload(self) -> bytes:
        body: dict[str, object] = {"i": self.id, "t": list(self.topics), "d": self.data}
        if self.private:
            body["p"] = 1
        if self.type is not None:
            body["e"] = self.type
        if self.retry is not None:
            body["r"] = self.retry
        return orjson.dumps(body)

    @classmethod
    def from_payload(cls, payload: bytes) -> Update | None:
        """None for entries that are not updates (the stream's creation marker)."""
        body = orjson.loads(payload)
        if not isinstance(body, dict) or "i" not in body:
            return None
        return cls(
            id=body["i"],
            topics=tuple(body["t"]),
            data=body["d"],
            private=bool(body.get("p")),
            type=body.get("e"),
            retry=body.get("r"),
        )

    def wire(self) -> bytes:
        return encode_event(self.data, event=self.type, id=self.id, retry=self.retry)


#: Appended once when a node finds the stream missing, so it can be followed.
MARKER = orjson.dumps({"marker": "hub"})


class Record:
    """An update as one node holds it for fan-out and replay."""

    __slots__ = ("seq", "position", "update", "wire", "ms")

    def __init__(self, seq: int, position: str, update: Update, wire: bytes, ms: int) -> None:
        #: Node-local, dense, increasing: index arithmetic for O(1) replay lookups.
        self.seq = seq
        #: The broker's entry id.
        self.position = position
        self.update = update
        self.wire = wire
        self.ms = ms
