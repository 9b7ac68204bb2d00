"""The decoded event, as the WHATWG EventSource hands it to a listener."""

from __future__ import annotations

from dataclasses import dataclass

import orjson


@dataclass(frozen=True, slots=True)
class ServerSentEvent:
    event: str = "message"
    data: str = ""
    #: The stream's last event id at dispatch time (it persists across events, per spec).
    id: str = ""
    #: The reconnection time the stream set most recently, if any.
    retry: int | None = None

    def json(self) -> object:
        return orjson.loads(self.data)
