"""Chat events: the hand-built text delta is byte-identical to the generic encoding, and
every event validates with the anthropic SDK's own types whatever the outcome (issue 16)."""

from __future__ import annotations

from typing import get_args

import pytest
from anthropic.types import ErrorResponse, RawMessageStreamEvent, StopReason
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter

from rill.chat import events, replay
from rill.sse import SSEDecoder
from rill.store.models import Message, Usage


@given(st.text(), st.integers(1, 10**9), st.integers(0, 10**9))
def test_text_delta_fast_path_matches_the_generic_encoder(text, seq, offset):
    fast = events.text_delta_sse(text, events.event_id(seq, offset))
    assert fast == events.sse(*events.text_delta(text), seq, offset)
    [event] = SSEDecoder().feed(fast)
    assert event.json()["delta"]["text"] == text and event.id == f"{seq}-{offset}"


STREAM_EVENT = TypeAdapter(RawMessageStreamEvent)
RILL_REASONS = ["end_turn", "max_tokens", "cancelled", "error", "interrupted"]


def validate(name: str, data: dict) -> None:
    if name == "error":
        ErrorResponse.model_validate(data, strict=True)
    elif name != "ping":
        assert STREAM_EVENT.validate_python(data).type == name


def test_rill_keeps_anthropic_stop_reasons_in_step_with_the_sdk():
    assert set(get_args(StopReason)) == events.ANTHROPIC_STOP_REASONS


@pytest.mark.parametrize("reason", RILL_REASONS)
@pytest.mark.parametrize("code", ["api_error", "storage_error", "timeout_error", "broker_error"])
def test_every_event_validates_whatever_the_outcome(reason, code):
    start = events.message_start(message_id="m", model="echo", input_tokens=3,
                                 conversation_id="c", user_message_id=None, chatbot_id="echo")
    closing = events.finale(reason, 1, (code, "it broke") if reason == "error" else None,
                            after=3, offset=2)
    ending = SSEDecoder().feed(b"".join(encoded for encoded, _ in closing))
    sent = [start, events.content_block_start(), events.text_delta("hi"),
            *((event.event, event.json()) for event in ending)]
    for name, data in sent:
        validate(name, data)
    delta = next(data for name, data in sent if name == "message_delta")["delta"]
    assert delta["rill_stop_reason"] == reason
    assert delta["stop_reason"] == (reason if reason in ("end_turn", "max_tokens") else "end_turn")


@pytest.mark.parametrize("status", ["complete", "cancelled", "error", "interrupted"])
def test_rebuilt_streams_validate_too(status):
    message = Message(id="m", conversation_id="c", user_id="u", chatbot_id="echo",
                      role="assistant", content="hello there", status=status, created_at=0,
                      updated_at=0, stop_reason=None if status == "complete" else status,
                      usage=Usage(1, 2), final_event_id=None,
                      error="boom" if status == "error" else None)
    decoded = SSEDecoder().feed(b"".join(replay.rebuild(message, "echo", None)))
    assert decoded[0].event == "message_start"
    for event in decoded:
        validate(event.event, event.json())
