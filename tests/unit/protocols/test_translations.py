"""The protocol translations are pure: Rill's chat events in, each protocol's shapes out."""

from __future__ import annotations

import pytest
from anthropic.types import Message
from hypothesis import given
from hypothesis import strategies as st
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from rill.chat import events
from rill.errors import InvalidInput
from rill.protocols import ai_sdk, anthropic, openai
from rill.protocols.stream import Reply
from rill.sse import SSEDecoder

REASONS = ["end_turn", "max_tokens", "cancelled", "error", "interrupted"]


def reply_events(reason: str, texts: tuple[str, ...] = ("he", "llo")) -> list[tuple[str, dict]]:
    start = events.message_start(message_id="m1", model="echo", input_tokens=3,
                                 conversation_id="c1", user_message_id="u1", chatbot_id="echo")
    failure = ("storage_error", "it broke") if reason == "error" else None
    closing = events.finale(reason, len(texts), failure, after=2 + len(texts),
                            offset=len("".join(texts)))
    ending = SSEDecoder().feed(b"".join(encoded for encoded, _ in closing))
    return [start, events.content_block_start(), *(events.text_delta(t) for t in texts),
            *((event.event, event.json()) for event in ending)]


@pytest.mark.parametrize("reason", REASONS)
@pytest.mark.parametrize("include_usage", [False, True])
def test_openai_chunks_validate_and_carry_rills_reason(reason, include_usage):
    writer = openai.ChunkWriter(created=1, include_usage=include_usage)
    out = [c for e in reply_events(reason) for c in writer.translate(e)]
    errors = [c for c in out if "error" in c]
    assert (len(errors) == 1) == (reason == "error")
    chunks = [ChatCompletionChunk.model_validate(c, strict=True) for c in out if "error" not in c]
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "hello"
    last = next(c for c in reversed(chunks) if c.choices)
    assert last.choices[0].finish_reason == ("length" if reason == "max_tokens" else "stop")
    assert last.choices[0].rill_stop_reason == reason  # type: ignore[attr-defined]
    assert (chunks[-1].usage is not None) == include_usage


@pytest.mark.parametrize("reason", REASONS)
def test_whole_replies_validate_as_each_sdks_message(reason):
    reply = Reply()
    for name, data in reply_events(reason):
        reply.add(name, data)
    assert reply.text == "hello" and reply.rill_stop_reason == reason
    assert (reply.error is not None) == (reason == "error")
    Message.model_validate(anthropic.message_body(reply), strict=True)
    ChatCompletion.model_validate(openai.completion_body(reply, 1), strict=True)


@pytest.mark.parametrize("reason", REASONS)
def test_ai_sdk_chunks_in_protocol_order(reason):
    out = [c for e in reply_events(reason) for c in ai_sdk.translate(e)]
    types = [c["type"] for c in out]
    head = ["start", "start-step", "text-start", "text-delta", "text-delta"]
    tail = ["text-end", "finish-step", "finish"]
    assert types == head + (["error"] if reason == "error" else []) + tail
    finish = out[-1]
    assert finish["finishReason"] in {"stop", "length", "error", "interrupted", "other"}
    assert finish["messageMetadata"] == {"rillStopReason": reason}
    assert out[0]["messageId"] == "m1"


turns = st.lists(st.tuples(st.sampled_from(["user", "assistant"]), st.text(max_size=5)),
                 max_size=8)


def _trailing_user_text(pairs: list[tuple[str, str]]) -> str:
    texts = []
    for role, text in reversed(pairs):
        if role != "user":
            break
        texts.append(text)
    return "".join(texts)


@given(turns)
def test_prompts_alternate_and_end_with_the_users_text(pairs):
    if not _trailing_user_text(pairs).strip():
        with pytest.raises(InvalidInput):
            anthropic.prompt_of(pairs)
        return
    prompt = anthropic.prompt_of(pairs)
    roles = [m.role for m in prompt]
    assert all(a != b for a, b in zip(roles, roles[1:], strict=False))
    assert roles[-1] == "user"
    assert [m.content for m in prompt] == ["\n\n".join(t for _, t in run) for run in _runs(pairs)]


def _runs(pairs: list[tuple[str, str]]) -> list[list[tuple[str, str]]]:
    runs: list[list[tuple[str, str]]] = []
    for pair in pairs:
        if runs and runs[-1][0][0] == pair[0]:
            runs[-1].append(pair)
        else:
            runs.append([pair])
    return runs


def test_error_bodies_use_each_protocols_types():
    assert anthropic.error_body(413, "request_too_large", "big")["error"]["type"] == (
        "invalid_request_error")
    assert anthropic.error_body(503, "storage_error", "down")["error"]["type"] == (
        "overloaded_error")
    assert anthropic.error_body(429, "rate_limit_error", "slow")["error"]["type"] == (
        "rate_limit_error")
    body = openai.error_body(400, "invalid_request_error", "bad", "messages")["error"]
    assert body == {"message": "bad", "type": "invalid_request_error", "param": "messages",
                    "code": "invalid_request_error"}


def test_long_texts_are_not_capped_by_the_block_count():
    """Regression: the bound on content blocks once also capped a string at 1,000 characters."""
    long = "x" * 5000
    assert anthropic.InputMessage(role="user", content=long).content == long
    assert openai.ChatMessage(role="user", content=long).content == long
    with pytest.raises(ValueError):
        anthropic.InputMessage(role="user", content=[{"type": "text", "text": "x"}] * 1001)
