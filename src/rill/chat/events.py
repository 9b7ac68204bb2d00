"""Chat events in the Anthropic Messages streaming format, encoded once as SSE bytes.

Each event's SSE id is ``"<seq>-<offset>"``: ``seq`` counts the reply's events
from 1 and ``offset`` is how many characters of reply text were sent up to and
including the event. The pair is a valid broker position (ordered, strictly
increasing), and the offset lets a resume be rebuilt from the stored text alone
once the broker has forgotten the stream (see ``rill.chat.replay``).

Every event validates as the ``anthropic`` SDK's ``RawMessageStreamEvent`` (or,
for ``error``, its ``ErrorResponse``): ``stop_reason`` is always one of
Anthropic's values. Rill's own outcome travels in the extension field
``delta.rill_stop_reason`` of ``message_delta`` (docs/api.md): Anthropic's
reason, or ``cancelled`` / ``error`` / ``interrupted``, which Anthropic's types
reject (issue 16) and which all read as ``end_turn``.
"""

from __future__ import annotations

from typing import Any

import orjson

from rill.errors import InvalidInput
from rill.sse.encoder import encode_event

PING = encode_event('{"type": "ping"}', event="ping")


def event_id(seq: int, offset: int) -> str:
    return f"{seq}-{offset}"


def parse_event_id(value: str) -> tuple[int, int]:
    """Parse a chat ``Last-Event-ID``; anything else is ``InvalidInput``."""
    head, sep, tail = value.partition("-")
    if not (sep and head.isdigit() and tail.isdigit() and head.isascii() and tail.isascii()):
        raise InvalidInput(f"Last-Event-ID {value!r} is not an id this stream sent")
    return int(head), int(tail)


def sse(name: str, data: dict[str, Any], seq: int, offset: int) -> bytes:
    return encode_event(orjson.dumps(data).decode(), event=name, id=event_id(seq, offset))


_DELTA_HEAD = b'event: content_block_delta\nid: '
_DELTA_DATA = (
    b'\ndata: {"type":"content_block_delta","index":0,'
    b'"delta":{"type":"text_delta","text":'
)


def text_delta_sse(text: str, eid: str) -> bytes:
    """The same bytes as ``sse(*text_delta(text), seq, offset)`` for ``eid == event_id(seq,
    offset)``, built directly.

    Why by hand: this runs once per token and is the relay's hottest encode; JSON
    from orjson never holds a raw line break (it escapes them), so the data is one
    line and needs neither a dict nor the encoder's line splitting. A test keeps the
    two byte-identical. The caller passes the id it also gives the broker.
    """
    return b"".join((_DELTA_HEAD, eid.encode(), _DELTA_DATA, orjson.dumps(text), b"}}\n\n"))


def message_start(
    *,
    message_id: str,
    model: str,
    input_tokens: int,
    conversation_id: str,
    user_message_id: str | None,
    chatbot_id: str,
) -> tuple[str, dict[str, Any]]:
    return "message_start", {
        "type": "message_start",
        "message": {
            "id": message_id,
            "type": "message",
            "role": "assistant",
            "content": [],
            "model": model,
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": input_tokens, "output_tokens": 0},
            "conversation_id": conversation_id,
            "user_message_id": user_message_id,
            "chatbot_id": chatbot_id,
        },
    }


def content_block_start() -> tuple[str, dict[str, Any]]:
    return "content_block_start", {
        "type": "content_block_start",
        "index": 0,
        "content_block": {"type": "text", "text": ""},
    }


def text_delta(text: str) -> tuple[str, dict[str, Any]]:
    return "content_block_delta", {
        "type": "content_block_delta",
        "index": 0,
        "delta": {"type": "text_delta", "text": text},
    }


def content_block_stop() -> tuple[str, dict[str, Any]]:
    return "content_block_stop", {"type": "content_block_stop", "index": 0}


#: Anthropic's stop reasons (``anthropic.types.StopReason``); a test keeps them in step.
ANTHROPIC_STOP_REASONS = frozenset({
    "end_turn", "max_tokens", "stop_sequence", "tool_use", "pause_turn", "refusal",
    "model_context_window_exceeded",
})
#: Anthropic's error types (``anthropic.types.ErrorObject``); Rill's others are ``api_error``.
ANTHROPIC_ERROR_TYPES = frozenset({
    "invalid_request_error", "authentication_error", "billing_error", "permission_error",
    "not_found_error", "rate_limit_error", "timeout_error", "api_error", "overloaded_error",
})


def anthropic_stop_reason(rill_stop_reason: str) -> str:
    """The Anthropic ``stop_reason`` for Rill's: a reply Rill ended early still ended its turn."""
    return rill_stop_reason if rill_stop_reason in ANTHROPIC_STOP_REASONS else "end_turn"


def anthropic_error_type(code: str) -> str:
    return code if code in ANTHROPIC_ERROR_TYPES else "api_error"


def message_delta(stop_reason: str, output_tokens: int) -> tuple[str, dict[str, Any]]:
    return "message_delta", {
        "type": "message_delta",
        "delta": {"stop_reason": anthropic_stop_reason(stop_reason), "stop_sequence": None,
                  "rill_stop_reason": stop_reason},
        "usage": {"output_tokens": output_tokens},
    }


def message_stop() -> tuple[str, dict[str, Any]]:
    return "message_stop", {"type": "message_stop"}


def error(kind: str, message: str) -> tuple[str, dict[str, Any]]:
    return "error", {"type": "error",
                     "error": {"type": anthropic_error_type(kind), "message": message}}


def stream_name(message_id: str) -> str:
    """The broker stream holding a reply's events."""
    return f"chat:{message_id}"


def finale(
    stop_reason: str,
    output_tokens: int,
    failure: tuple[str, str] | None,
    *,
    after: int,
    offset: int,
) -> list[tuple[bytes, str]]:
    """The closing events, encoded with their ids, numbered from ``after + 1``.

    Every reply ends with them in this order, whoever writes the ending: the
    generation, a node recovering a dead node's reply, or a resume rebuilt from
    the store. ``failure`` (``(kind, message)``) adds an ``error`` event first.

    Why a fixed shape: a resume rebuilt from the store must know which of these
    a client already has from the sequence number alone.
    """
    closing = [content_block_stop(), message_delta(stop_reason, output_tokens), message_stop()]
    if failure is not None:
        closing.insert(0, error(*failure))
    return [
        (sse(name, data, seq, offset), event_id(seq, offset))
        for seq, (name, data) in enumerate(closing, start=after + 1)
    ]


def finale_length(failure: tuple[str, str] | None) -> int:
    """How many events ``finale`` writes: what a rebuild counts back from the final id."""
    return 3 if failure is None else 4
