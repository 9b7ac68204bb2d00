"""The official ``anthropic`` SDK against ``/v1/messages`` on a real server (issue 16):
every event it receives validates with its own types; stop and resume go through
Rill's ``/api/chat/{id}`` routes; errors arrive in Anthropic's error shape."""

from __future__ import annotations

from collections.abc import Iterator

import anthropic
import httpx
import pytest
from anthropic.types import ErrorResponse, Message, RawMessageStreamEvent
from httpx_sse import connect_sse
from pydantic import TypeAdapter

from rill.sse import SSEDecoder
from tests.conftest import RunningServer

STREAM_EVENT = TypeAdapter(RawMessageStreamEvent)
ASK = [{"role": "user", "content": "one two three four five"}]


@pytest.fixture
def client(interop_server: RunningServer, token: str) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(base_url=interop_server.url, api_key=token, max_retries=0) as c:
        yield c


def test_messages_stream_gets_the_final_message(client) -> None:
    with client.messages.stream(model="echo", max_tokens=100, messages=ASK) as stream:
        texts = list(stream.text_stream)
        final = stream.get_final_message()
    assert "".join(texts) == "one two three four five" == final.content[0].text
    assert final.stop_reason == "end_turn" and final.usage.output_tokens > 0
    Message.model_validate(final.to_dict())


def test_every_raw_event_validates_with_the_sdk_types(client) -> None:
    events = list(client.messages.create(model="echo", max_tokens=100, messages=ASK, stream=True))
    assert [e.type for e in events][:2] == ["message_start", "content_block_start"]
    assert [e.type for e in events][-2:] == ["message_delta", "message_stop"]
    for event in events:
        STREAM_EVENT.validate_python(event.to_dict())
    assert events[-2].delta.rill_stop_reason == "end_turn"  # type: ignore[attr-defined]


def test_the_whole_conversation_is_what_the_model_sees(client, rill) -> None:
    conversation = [{"role": "user", "content": "first"}, {"role": "assistant", "content": "ok"},
                    {"role": "user", "content": [{"type": "text", "text": "second"}]}]
    message = client.messages.create(model="echo", max_tokens=100, messages=conversation,
                                     system="be brief")
    assert message.content[0].text == "second"
    # Stored as a turn of a conversation of its own, or of the one the client names.
    stored = message.conversation_id  # type: ignore[attr-defined]
    again = client.messages.create(model="echo", max_tokens=100, messages=ASK,
                                   extra_headers={"X-Rill-Conversation-Id": stored})
    assert again.conversation_id == stored  # type: ignore[attr-defined]
    history = rill.get("/api/history", params={"chatbotId": "echo", "conversationId": stored})
    texts = [m["content"] for m in history.json()["messages"]]
    assert texts == ["second", "second", "one two three four five", "one two three four five"]


def test_stop_a_streaming_reply(client, rill) -> None:
    with client.messages.create(model="slow", max_tokens=100, stream=True, messages=[
            {"role": "user", "content": "/lorem 400"}]) as stream:
        events = []
        for event in stream:
            events.append(event)
            if event.type == "content_block_delta" and len(events) == 4:
                reply_id = events[0].message.id  # type: ignore[union-attr]
                assert rill.post(f"/api/chat/{reply_id}/cancel").status_code == 202
    for event in events:
        STREAM_EVENT.validate_python(event.to_dict())
    delta = events[-2]
    assert delta.type == "message_delta" and delta.delta.stop_reason == "end_turn"
    assert delta.delta.rill_stop_reason == "cancelled"  # type: ignore[attr-defined]
    assert len(events) < 400


def test_resume_a_stream_after_a_dropped_connection(interop_server, token, rill) -> None:
    body = {"model": "slow", "max_tokens": 100, "stream": True,
            "messages": [{"role": "user", "content": "a b c d e f g h i j"}]}
    decoder, seen = SSEDecoder(), []
    with httpx.stream("POST", f"{interop_server.url}/v1/messages", json=body, timeout=30,
                      headers={"x-api-key": token, "anthropic-version": "2023-06-01"}) as r:
        assert r.status_code == 200
        for chunk in r.iter_raw():
            seen += [e for e in decoder.feed(chunk) if e.event != "ping"]
            if sum(e.event == "content_block_delta" for e in seen) >= 3:
                break
    reply_id = seen[0].json()["message"]["id"]
    rest = []
    with rill.stream("GET", f"/api/chat/{reply_id}/stream",
                     headers={"Last-Event-ID": seen[-1].id}) as r:
        rest_decoder = SSEDecoder()
        for chunk in r.iter_raw():
            rest += [e for e in rest_decoder.feed(chunk) if e.event != "ping"]
    events = seen + rest
    for event in events:
        STREAM_EVENT.validate_python(event.json())
    text = "".join(e.json()["delta"]["text"] for e in events if e.event == "content_block_delta")
    assert text == "a b c d e f g h i j" and events[-1].event == "message_stop"


@pytest.mark.parametrize("path", ["/v1/messages", "/api/chat"])
def test_no_stream_opens_with_an_empty_event(interop_server, token, path) -> None:
    """httpx-sse and the SDK's own decoder: before issue 16 the bare ``retry:`` block that
    opened every stream was an empty event to both."""
    from anthropic._streaming import SSEDecoder as SdkDecoder

    body = ({"model": "echo", "max_tokens": 100, "stream": True, "messages": ASK}
            if path == "/v1/messages" else {"chatbotId": "echo", "message": "hi"})
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=interop_server.url, headers=headers, timeout=30) as client:
        with connect_sse(client, "POST", path, json=body) as source:
            parsed = list(source.iter_sse())
        with client.stream("POST", path, json=body) as r:
            decoded = list(SdkDecoder().iter_bytes(r.iter_bytes()))
    for events in (parsed, decoded):
        assert events and all(e.data for e in events), path
        assert events[0].event == "message_start" and events[0].retry is not None


@pytest.mark.parametrize(("kwargs", "error"), [
    ({"model": "echo", "max_tokens": 0, "messages": ASK}, anthropic.BadRequestError),
    ({"model": "echo", "max_tokens": 10, "messages": []}, anthropic.BadRequestError),
    ({"model": "echo", "max_tokens": 10, "messages": [{"role": "assistant", "content": "x"}]},
     anthropic.BadRequestError),
    ({"model": "echo", "max_tokens": 10, "messages": [{"role": "user", "content": [
        {"type": "image", "source": {"type": "url", "url": "https://x"}}]}]},
     anthropic.BadRequestError),
    ({"model": "nope", "max_tokens": 10, "messages": ASK}, anthropic.NotFoundError),
])
def test_bad_requests_get_anthropic_errors(client, kwargs, error) -> None:
    with pytest.raises(error) as raised:
        client.messages.create(**kwargs)
    ErrorResponse.model_validate(raised.value.body, strict=True)


def test_a_bad_key_is_an_authentication_error(interop_server) -> None:
    with anthropic.Anthropic(base_url=interop_server.url, api_key="not-a-token",
                             max_retries=0) as bad, \
            pytest.raises(anthropic.AuthenticationError) as raised:
        bad.messages.create(model="echo", max_tokens=10, messages=ASK)
    ErrorResponse.model_validate(raised.value.body, strict=True)
