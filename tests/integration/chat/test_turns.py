"""A chat turn over real HTTP: the Anthropic event sequence, ids, headers, storage."""

from __future__ import annotations

import time

from rill.broker.base import parse_id

from .helpers import authed, chat, problem


def test_turn_streams_anthropic_events_in_order(rill_server):
    with authed(rill_server.url) as client:
        stream = chat(client, "echo", "Hello there, streaming world! 안녕하세요")
    assert stream.status == 200
    assert stream.headers["content-type"].startswith("text/event-stream")
    assert stream.headers["cache-control"] == "no-cache"
    assert stream.headers["x-accel-buffering"] == "no"
    assert stream.raw.startswith(b"retry: ")
    assert stream.names[:2] == ["message_start", "content_block_start"]
    assert stream.names[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert set(stream.names[2:-3]) == {"content_block_delta"}
    assert stream.text == "Hello there, streaming world! 안녕하세요"
    start = stream.data("message_start")["message"]
    assert start["role"] == "assistant" and start["id"].startswith("msg_")
    assert start["conversation_id"].startswith("conv_")
    assert start["user_message_id"].startswith("msg_")
    assert stream.data("message_delta")["delta"]["stop_reason"] == "end_turn"
    ids = [parse_id(e.id) for e in stream.events]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    # The id's offset is the text length so far.
    last_delta = [e for e in stream.events if e.event == "content_block_delta"][-1]
    assert parse_id(last_delta.id)[1] == len(stream.text)


def test_finished_turn_is_stored_with_its_question(rill_server):
    with authed(rill_server.url) as client:
        stream = chat(client, "echo", "remember this")
        page = client.get("/api/history", params={"chatbotId": "echo"}).json()
    roles = [(m["role"], m["content"], m["status"]) for m in page["messages"][-2:]]
    assert roles == [("user", "remember this", "complete"),
                     ("assistant", "remember this", "complete")]
    reply = page["messages"][-1]
    assert reply["id"] == stream.message_id
    assert reply["stopReason"] == "end_turn"
    assert reply["usage"]["outputTokens"] > 0


def test_client_disconnect_does_not_stop_generation(rill_server):
    with authed(rill_server.url) as client:
        words = " ".join(f"w{i}" for i in range(60))
        with client.stream("POST", "/api/chat", json={"chatbotId": "slow", "message": words}) as r:
            first = b""
            for chunk in r.iter_raw():
                first += chunk
                if b"message_start" in first and first.endswith(b"\n\n"):
                    break
        assert b"message_start" in first
        message_id = first.split(b'"id":"')[1].split(b'"')[0].decode()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            page = client.get("/api/history", params={"chatbotId": "slow"}).json()
            reply = next(m for m in page["messages"] if m["id"] == message_id)
            if reply["status"] != "streaming":
                break
            time.sleep(0.2)
    assert reply["status"] == "complete"
    assert reply["content"] == words


def test_turn_continues_latest_conversation_unless_told(rill_server):
    with authed(rill_server.url) as client:
        a = chat(client, "echo", "one").data("message_start")["message"]["conversation_id"]
        b = chat(client, "echo", "two").data("message_start")["message"]["conversation_id"]
        new = client.post("/api/conversations", json={"chatbotId": "echo"}).json()
        c = chat(client, "echo", "three", conversationId=new["id"])
        d = chat(client, "echo", "four").data("message_start")["message"]["conversation_id"]
    assert a == b
    assert c.data("message_start")["message"]["conversation_id"] == new["id"]
    assert d == new["id"]


def test_regenerate_replaces_the_last_reply(rill_server):
    with authed(rill_server.url) as client:
        first = chat(client, "echo", "again please")
        conv = first.data("message_start")["message"]["conversation_id"]
        second = chat(client, "echo", None, conversationId=conv, regenerate=True)
        page = client.get("/api/history", params={"chatbotId": "echo", "conversationId": conv})
    assert second.status == 200 and second.text == "again please"
    messages = page.json()["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant"]
    assert messages[1]["id"] == second.message_id != first.message_id


def test_guide_bot_answers_offline(rill_server):
    with authed(rill_server.url) as client:
        stream = chat(client, "guide", "How do I resume a stream after the connection drops?")
    assert stream.status == 200
    assert "Last-Event-ID" in stream.text


def test_bad_requests_get_problem_json(rill_server):
    with authed(rill_server.url) as client:
        cases = [
            (chat(client, "nope", "hi"), 422),
            (chat(client, "echo", "   "), 422),
            (chat(client, "echo", "x", userId="someone-else"), 403),
            (chat(client, "echo", "x", conversationId="conv_missing"), 404),
            (chat(client, "echo", None, regenerate=True), 422),
        ]
        for stream, status in cases:
            assert stream.status == status, stream.raw
            assert problem(stream)["status"] == status
        r = client.post("/api/chat", content=b"{not json", headers={"Content-Type": "application/json"})
        assert r.status_code == 400 and problem(r)["status"] == 400
        r = client.post("/api/chat", json={"chatbotId": "echo", "message": "x" * 70_000})
        assert r.status_code == 413 and problem(r)["status"] == 413
        r = client.post("/api/chat", json={"message": "no bot"})
        assert r.status_code == 422 and problem(r)["errors"]


def test_requests_without_identity_are_401(rill_server):
    with rill_server.client() as anonymous:
        for method, path in [("POST", "/api/chat"), ("GET", "/api/history?chatbotId=echo"),
                             ("GET", "/api/conversations"), ("GET", "/api/me"),
                             ("GET", "/api/chat/msg_x/stream"), ("POST", "/api/chat/msg_x/cancel")]:
            r = anonymous.request(method, path, json={} if method == "POST" else None)
            assert r.status_code == 401, (method, path, r.text)
            assert problem(r)["status"] == 401
            assert r.headers["www-authenticate"].startswith("Bearer")
        r = anonymous.get("/api/me", headers={"Authorization": "Bearer not.a.jwt"})
        assert r.status_code == 401
