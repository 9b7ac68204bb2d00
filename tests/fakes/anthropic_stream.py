"""Byte streams as the Anthropic Messages API sends them with ``stream: true``.

``message_start``, then per content block ``content_block_start``, any number of
``content_block_delta`` and ``content_block_stop``, then ``message_delta`` (stop
reason, cumulative usage) and ``message_stop``; ``ping`` may appear anywhere, and
an ``error`` event can interrupt the stream.
"""

from __future__ import annotations

import json

from tests.fakes.upstream import Pause, Reply, Step


def event(name: str, payload: dict[str, object]) -> bytes:
    return f"event: {name}\ndata: {json.dumps(payload)}\n\n".encode()


PING = event("ping", {"type": "ping"})


def message_start(input_tokens: int = 12) -> bytes:
    return event(
        "message_start",
        {
            "type": "message_start",
            "message": {
                "id": "msg_fake01",
                "type": "message",
                "role": "assistant",
                "content": [],
                "model": "claude-fake",
                "stop_reason": None,
                "stop_sequence": None,
                "usage": {"input_tokens": input_tokens, "output_tokens": 1},
            },
        },
    )


def opening(pieces: list[str], *, input_tokens: int = 12) -> list[Step]:
    steps: list[Step] = [
        message_start(input_tokens),
        event(
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            },
        ),
        PING,
    ]
    steps += [
        event(
            "content_block_delta",
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": p}},
        )
        for p in pieces
    ]
    return steps


def closing(stop_reason: str = "end_turn", output_tokens: int = 9) -> list[Step]:
    return [
        event("content_block_stop", {"type": "content_block_stop", "index": 0}),
        event(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                "usage": {"output_tokens": output_tokens},
            },
        ),
        event("message_stop", {"type": "message_stop"}),
    ]


def error_event(type_: str = "overloaded_error", message: str = "Overloaded") -> bytes:
    return event("error", {"type": "error", "error": {"type": type_, "message": message}})


def message(
    pieces: list[str],
    *,
    stop_reason: str = "end_turn",
    input_tokens: int = 12,
    output_tokens: int = 9,
    pace: float = 0.0,
) -> Reply:
    body: list[Step] = []
    for step in opening(pieces, input_tokens=input_tokens):
        body.append(step)
        if pace:
            body.append(Pause(pace))
    body += closing(stop_reason, output_tokens)
    return Reply.sse(body)


def error_body(status: int, type_: str, message: str) -> Reply:
    return Reply.json(status, {"type": "error", "error": {"type": type_, "message": message}})
