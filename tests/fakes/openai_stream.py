"""Byte streams as an OpenAI Chat Completions server sends them with ``stream: true``.

Each event is ``data: <chat.completion.chunk JSON>`` and a blank line; with
``stream_options.include_usage`` a last chunk has empty ``choices`` and the usage;
the stream ends with ``data: [DONE]``.
"""

from __future__ import annotations

import json

from tests.fakes.upstream import Pause, Reply, Step

_ID = "chatcmpl-fake123"


def chunk(delta: dict[str, str], finish_reason: str | None = None, usage: object = None) -> bytes:
    payload = {
        "id": _ID,
        "object": "chat.completion.chunk",
        "created": 1_700_000_000,
        "model": "fake-model",
        "system_fingerprint": None,
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
        "usage": usage,
    }
    return b"data: " + json.dumps(payload).encode() + b"\n\n"


def usage_chunk(prompt_tokens: int, completion_tokens: int) -> bytes:
    payload = {
        "id": _ID,
        "object": "chat.completion.chunk",
        "created": 1_700_000_000,
        "model": "fake-model",
        "choices": [],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }
    return b"data: " + json.dumps(payload).encode() + b"\n\n"


DONE = b"data: [DONE]\n\n"


def opening(pieces: list[str]) -> list[Step]:
    """The role chunk and one content chunk per piece, without an ending."""
    steps: list[Step] = [chunk({"role": "assistant", "content": ""})]
    steps += [chunk({"content": piece}) for piece in pieces]
    return steps


def completion(
    pieces: list[str],
    *,
    finish_reason: str = "stop",
    usage: tuple[int, int] | None = (11, 7),
    pace: float = 0.0,
) -> Reply:
    body: list[Step] = []
    for step in opening(pieces):
        body.append(step)
        if pace:
            body.append(Pause(pace))
    body.append(chunk({}, finish_reason))
    if usage is not None:
        body.append(usage_chunk(*usage))
    body.append(DONE)
    return Reply.sse(body)


def error_body(status: int, message: str, type_: str, code: str | None = None) -> Reply:
    return Reply.json(
        status, {"error": {"message": message, "type": type_, "param": None, "code": code}}
    )
