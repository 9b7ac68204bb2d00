"""Typed chat events and the Reply accumulator."""

from __future__ import annotations

import orjson
import pytest

from rill.client import (
    ContentBlockStart,
    ContentBlockStop,
    ErrorEvent,
    MessageDelta,
    MessageStart,
    MessageStop,
    Ping,
    Reply,
    TextDelta,
    UnknownEvent,
    Usage,
)
from rill.client.events import parse_chat_event
from rill.sse import ServerSentEvent


def sse(event: str, body: object, id: str = "1-0") -> ServerSentEvent:
    data = body if isinstance(body, str) else orjson.dumps(body).decode()
    return ServerSentEvent(event, data, id)


START = {"type": "message_start", "message": {
    "id": "msg_a", "model": "echo", "usage": {"input_tokens": 4, "output_tokens": 0},
    "conversation_id": "conv_a", "user_message_id": "msg_u", "chatbot_id": "echo"}}


@pytest.mark.parametrize(
    ("event", "body", "expected"),
    [
        ("message_start", START,
         MessageStart("1-0", "msg_a", "conv_a", "msg_u", "echo", "echo", 4)),
        ("content_block_start", {"type": "content_block_start", "index": 0,
                                 "content_block": {"type": "text", "text": ""}},
         ContentBlockStart("1-0", 0)),
        ("content_block_delta", {"type": "content_block_delta", "index": 0,
                                 "delta": {"type": "text_delta", "text": "안녕 "}},
         TextDelta("1-0", 0, "안녕 ")),
        ("content_block_stop", {"type": "content_block_stop", "index": 0},
         ContentBlockStop("1-0", 0)),
        ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "cancelled"},
                           "usage": {"output_tokens": 9}},
         MessageDelta("1-0", "cancelled", 9)),
        ("message_stop", {"type": "message_stop"}, MessageStop("1-0")),
        ("ping", {"type": "ping"}, Ping("1-0")),
        ("error", {"type": "error", "error": {"type": "timeout_error", "message": "slow"}},
         ErrorEvent("1-0", "timeout_error", "slow")),
    ],
)
def test_each_documented_event(event: str, body: object, expected: object) -> None:
    assert parse_chat_event(sse(event, body)) == expected


@pytest.mark.parametrize(
    ("event", "data"),
    [
        ("future_event", '{"type": "future_event"}'),
        ("message_start", "not json"),
        ("message_start", '{"type": "message_start"}'),
        ("message_start", "[1, 2]"),
        ("content_block_delta",
         '{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta"}}'),
    ],
)
def test_unknown_or_malformed_events_are_kept_not_raised(event: str, data: str) -> None:
    parsed = parse_chat_event(sse(event, data))
    assert isinstance(parsed, UnknownEvent)
    assert parsed.event == event


def test_reply_accumulates_in_order() -> None:
    reply = Reply()
    for event in [
        parse_chat_event(sse("message_start", START, "1-0")),
        TextDelta("3-3", 0, "abc"),
        Ping(""),
        TextDelta("4-5", 0, "de"),
        ErrorEvent("5-5", "api_error", "boom"),
        MessageDelta("6-5", "error", 2),
        MessageStop("7-5"),
    ]:
        reply.apply(event)
    assert reply.text == "abcde"
    assert (reply.message_id, reply.conversation_id, reply.model) == ("msg_a", "conv_a", "echo")
    assert reply.usage == Usage(4, 2)
    assert reply.stop_reason == "error"
    assert reply.error == ErrorEvent("5-5", "api_error", "boom")
    # A ping carries no id of its own: it must not reset the resume point.
    assert reply.last_event_id == "7-5"
    assert reply.done
