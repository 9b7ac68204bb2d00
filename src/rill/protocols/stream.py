"""Read a reply's encoded chat events back as ``(name, data)`` pairs, and sum them up."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from rill.sse import SSEDecoder

ChatEvent = tuple[str, dict[str, Any]]


async def chat_events(chunks: AsyncIterator[bytes]) -> AsyncGenerator[ChatEvent, None]:
    """The events of a reply's stream (``ChatService.relay``), pings left out.

    Closing this closes ``chunks``. Why: a relay leaves the broker's reader only
    when its generator closes, which must not wait for the garbage collector.
    """
    decoder = SSEDecoder()
    try:
        async for chunk in chunks:
            for event in decoder.feed(chunk):
                if event.event == "ping":
                    continue
                data = event.json()
                if isinstance(data, dict):
                    yield event.event, data
    finally:
        aclose = getattr(chunks, "aclose", None)
        if aclose is not None:
            await aclose()


@dataclass
class Reply:
    """A whole reply, summed up from its events (for the protocols' non-streaming answers)."""

    id: str = ""
    model: str = ""
    conversation_id: str = ""
    parts: list[str] = field(default_factory=list)
    input_tokens: int = 0
    output_tokens: int = 0
    #: Anthropic's stop reason, and Rill's own (``cancelled``, ``error``, ``interrupted``...).
    stop_reason: str | None = None
    rill_stop_reason: str | None = None
    #: ``(type, message)`` of the stream's ``error`` event, if it failed.
    error: tuple[str, str] | None = None

    @property
    def text(self) -> str:
        return "".join(self.parts)

    def add(self, name: str, data: dict[str, Any]) -> None:
        if name == "message_start":
            message = data["message"]
            self.id, self.model = message["id"], message["model"]
            self.conversation_id = message.get("conversation_id", "")
            self.input_tokens = message["usage"]["input_tokens"]
        elif name == "content_block_delta":
            self.parts.append(data["delta"]["text"])
        elif name == "message_delta":
            delta = data["delta"]
            self.stop_reason = delta["stop_reason"]
            self.rill_stop_reason = delta.get("rill_stop_reason", self.stop_reason)
            self.output_tokens = data["usage"]["output_tokens"]
        elif name == "error":
            self.error = (data["error"]["type"], data["error"]["message"])


async def whole_reply(chunks: AsyncIterator[bytes]) -> Reply:
    reply = Reply()
    async with contextlib.aclosing(chat_events(chunks)) as events:
        async for name, data in events:
            reply.add(name, data)
    return reply
