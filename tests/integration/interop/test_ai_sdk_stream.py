"""``/api/ai-sdk/chat``: the AI SDK's UI message stream protocol on a real server
(the browser test with the real ``@ai-sdk/react`` is web/e2e/ai-sdk.spec.ts)."""

from __future__ import annotations

import json

import httpx

from rill.sse import SSEDecoder


def _chunks(response: httpx.Response) -> list[str]:
    decoder, data = SSEDecoder(), []
    for raw in response.iter_raw():
        data += [e.data for e in decoder.feed(raw)]
    return data


def _conversation(rill: httpx.Client, bot: str = "echo") -> str:
    return str(rill.post("/api/conversations", json={"chatbotId": bot}).json()["id"])


def _ask(chat_id: str, text: str) -> dict:
    return {"id": chat_id, "trigger": "submit-message", "messageId": None, "messages": [
        {"id": "u1", "role": "user", "parts": [{"type": "text", "text": text}]}]}


def test_a_reply_in_the_ui_message_stream_protocol(rill) -> None:
    chat_id = _conversation(rill)
    with rill.stream("POST", "/api/ai-sdk/chat", json=_ask(chat_id, "hello there")) as r:
        assert r.status_code == 200
        assert r.headers["x-vercel-ai-ui-message-stream"] == "v1"
        data = _chunks(r)
    assert data[-1] == "[DONE]"
    chunks = [json.loads(d) for d in data[:-1]]
    types = [c["type"] for c in chunks]
    assert types[:3] == ["start", "start-step", "text-start"]
    assert types[-3:] == ["text-end", "finish-step", "finish"]
    assert "".join(c["delta"] for c in chunks if c["type"] == "text-delta") == "hello there"
    assert chunks[0]["messageId"] == r.headers["x-rill-message-id"]
    assert chunks[0]["messageMetadata"]["conversationId"] == chat_id
    assert chunks[-1]["finishReason"] == "stop"
    # Nothing streaming any more: the SDK's resume gets 204.
    assert rill.get(f"/api/ai-sdk/chat/{chat_id}/stream").status_code == 204


def test_resume_replays_the_streaming_reply_and_cancel_stops_it(rill) -> None:
    chat_id = _conversation(rill, "slow")
    with rill.stream("POST", "/api/ai-sdk/chat", json=_ask(chat_id, "/lorem 200")) as r:
        reply_id = r.headers["x-rill-message-id"]
    with rill.stream("GET", f"/api/ai-sdk/chat/{chat_id}/stream") as r:
        assert r.status_code == 200 and r.headers["x-vercel-ai-ui-message-stream"] == "v1"
        decoder, chunks = SSEDecoder(), []
        for raw in r.iter_raw():
            chunks += [e.data for e in decoder.feed(raw)]
            if len(chunks) == 5:
                assert rill.post(f"/api/chat/{reply_id}/cancel").status_code == 202
    finish = json.loads(chunks[-2])
    assert json.loads(chunks[0])["messageId"] == reply_id  # replayed from its start
    assert finish["finishReason"] == "other"
    assert finish["messageMetadata"]["rillStopReason"] == "cancelled"


def test_bad_requests_are_problems(rill) -> None:
    assert rill.post("/api/ai-sdk/chat", json=_ask("nope", "hi")).status_code == 404
    chat_id = _conversation(rill)
    body = _ask(chat_id, "   ")
    r = rill.post("/api/ai-sdk/chat", json=body)
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    assert rill.get("/api/ai-sdk/chat/nope/stream").status_code == 404
