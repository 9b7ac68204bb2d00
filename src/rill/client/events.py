"""Typed chat stream events: the Anthropic Messages streaming format, as Rill sends it.

Each event keeps its SSE ``event_id`` (what a resume sends back). Events of a type
this client does not know become :class:`UnknownEvent`, so a newer server never
breaks an older client.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from rill.sse import ServerSentEvent

__all__ = [
    "ChatEvent",
    "ContentBlockStart",
    "ContentBlockStop",
    "ErrorEvent",
    "MessageDelta",
    "MessageStart",
    "MessageStop",
    "Ping",
    "TextDelta",
    "UnknownEvent",
    "parse_chat_event",
]


@dataclass(frozen=True, slots=True)
class MessageStart:
    event_id: str
    message_id: str
    conversation_id: str | None
    user_message_id: str | None
    chatbot_id: str | None
    model: str
    input_tokens: int


@dataclass(frozen=True, slots=True)
class ContentBlockStart:
    event_id: str
    index: int


@dataclass(frozen=True, slots=True)
class TextDelta:
    event_id: str
    index: int
    text: str


@dataclass(frozen=True, slots=True)
class ContentBlockStop:
    event_id: str
    index: int


@dataclass(frozen=True, slots=True)
class MessageDelta:
    event_id: str
    stop_reason: str | None
    output_tokens: int | None


@dataclass(frozen=True, slots=True)
class MessageStop:
    event_id: str


@dataclass(frozen=True, slots=True)
class Ping:
    event_id: str


@dataclass(frozen=True, slots=True)
class ErrorEvent:
    event_id: str
    type: str
    message: str


@dataclass(frozen=True, slots=True)
class UnknownEvent:
    event_id: str
    event: str
    data: str


ChatEvent = (
    MessageStart
    | ContentBlockStart
    | TextDelta
    | ContentBlockStop
    | MessageDelta
    | MessageStop
    | Ping
    | ErrorEvent
    | UnknownEvent
)


def _message_start(eid: str, body: dict[str, Any]) -> MessageStart:
    message = body["message"]
    usage = message.get("usage") or {}
    return MessageStart(
        eid,
        message_id=message["id"],
        conversation_id=message.get("conversation_id"),
        user_message_id=message.get("user_message_id"),
        chatbot_id=message.get("chatbot_id"),
        model=message.get("model", ""),
        input_tokens=int(usage.get("input_tokens") or 0),
    )


def _delta(eid: str, body: dict[str, Any]) -> TextDelta | UnknownEvent:
    delta = body.get("delta") or {}
    if delta.get("type") != "text_delta":
        # Why: tool-use or thinking deltas are not text; keep them visible, unparsed.
        return UnknownEvent(eid, "content_block_delta", orjson.dumps(body).decode())
    return TextDelta(eid, int(body.get("index", 0)), str(delta.get("text", "")))


def _message_delta(eid: str, body: dict[str, Any]) -> MessageDelta:
    usage = body.get("usage") or {}
    tokens = usage.get("output_tokens")
    delta = body.get("delta") or {}
    return MessageDelta(
        eid,
        # Rill's own reason (``cancelled``...) rides in an extension field (docs/api.md).
        stop_reason=delta.get("rill_stop_reason") or delta.get("stop_reason"),
        output_tokens=None if tokens is None else int(tokens),
    )


def _error(eid: str, body: dict[str, Any]) -> ErrorEvent:
    error = body.get("error") or {}
    return ErrorEvent(eid, str(error.get("type", "api_error")), str(error.get("message", "")))


def parse_chat_event(sse: ServerSentEvent) -> ChatEvent:
    """Turn one SSE event into its typed form; malformed data becomes ``UnknownEvent``."""
    eid = sse.id
    try:
        body = orjson.loads(sse.data) if sse.data else {}
    except orjson.JSONDecodeError:
        return UnknownEvent(eid, sse.event, sse.data)
    if not isinstance(body, dict):
        return UnknownEvent(eid, sse.event, sse.data)
    kind = body.get("type", sse.event)
    try:
        match kind:
            case "message_start":
                return _message_start(eid, body)
            case "content_block_start":
                return ContentBlockStart(eid, int(body.get("index", 0)))
            case "content_block_delta":
                return _delta(eid, body)
            case "content_block_stop":
                return ContentBlockStop(eid, int(body.get("index", 0)))
            case "message_delta":
                return _message_delta(eid, body)
            case "message_stop":
                return MessageStop(eid)
            case "ping":
                return Ping(eid)
            case "error":
                return _error(eid, body)
    except (KeyError, TypeError, ValueError):
        pass
    return UnknownEvent(eid, sse.event, sse.data)
