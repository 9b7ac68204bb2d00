"""Cancel, the per-user generation limit, and conversations."""

from __future__ import annotations

import threading
import time

from .helpers import authed, chat, problem, read_stream, resume

LONG = " ".join(f"t{i}" for i in range(200))


def test_cancel_stops_the_reply_and_keeps_partial_text(rill_server):
    with authed(rill_server.url) as client:
        with client.stream("POST", "/api/chat", json={"chatbotId": "slow", "message": LONG}) as r:
            head = read_stream(r, stop_after_bytes=1200)
        message_id = head.message_id
        r = client.post(f"/api/chat/{message_id}/cancel")
        assert r.status_code == 202
        rest = resume(client, message_id, head.last_id)
        assert rest.names[-2:] == ["message_delta", "message_stop"]
        assert rest.data("message_delta")["delta"]["rill_stop_reason"] == "cancelled"
        partial = head.text + rest.text
        assert 0 < len(partial) < len(LONG) and LONG.startswith(partial)
        page = client.get("/api/history", params={"chatbotId": "slow"}).json()
        stored = next(m for m in page["messages"] if m["id"] == message_id)
        assert stored["status"] == "cancelled" and stored["content"] == partial
        # Cancelling again is a no-op answering the final status.
        assert client.post(f"/api/chat/{message_id}/cancel").json()["status"] == "cancelled"


def test_concurrent_generation_limit(server_factory):
    config = """
[[bots]]
id = "slow"
name = "Slow"
provider = "echo"
pace = 0.05
"""
    server = server_factory(config=config, env={"RILL_MAX_CONCURRENT_GENERATIONS": "2"})
    with authed(server.url) as client:
        started = []
        for _ in range(2):
            with client.stream("POST", "/api/chat", json={"chatbotId": "slow", "message": LONG}) as r:
                started.append(read_stream(r, stop_after_bytes=900).message_id)
        third = chat(client, "slow", "one too many")
        assert third.status == 429
        assert problem(third)["status"] == 429 and int(third.headers["retry-after"]) >= 1
        for message_id in started:
            client.post(f"/api/chat/{message_id}/cancel")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if chat(client, "slow", "now it fits").status == 200:
                break
            time.sleep(0.1)
        else:
            raise AssertionError("the limit did not free up after cancelling")


def test_limit_is_per_user_not_global(server_factory):
    config = '[[bots]]\nid = "slow"\nname = "Slow"\nprovider = "echo"\npace = 0.05\n'
    server = server_factory(config=config, env={"RILL_MAX_CONCURRENT_GENERATIONS": "1"})
    with authed(server.url) as alice, authed(server.url) as bob:
        results: dict[str, int] = {}

        def go(name, client):
            results[name] = chat(client, "slow", "a b c d e f").status

        threads = [threading.Thread(target=go, args=(n, c)) for n, c in (("a", alice), ("b", bob))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert results == {"a": 200, "b": 200}


def test_conversations_are_private_and_deletable(rill_server):
    with authed(rill_server.url) as alice, authed(rill_server.url) as bob:
        conv = alice.post("/api/conversations", json={"chatbotId": "echo", "title": "Plans"}).json()
        chat(alice, "echo", "first words", conversationId=conv["id"])
        listed = alice.get("/api/conversations", params={"chatbotId": "echo"}).json()
        assert listed["conversations"][0]["id"] == conv["id"]
        assert bob.get("/api/conversations").json()["conversations"] == []
        assert bob.delete(f"/api/conversations/{conv['id']}").status_code == 404
        assert chat(bob, "echo", "x", conversationId=conv["id"]).status == 404
        assert alice.delete(f"/api/conversations/{conv['id']}").status_code == 204
        page = alice.get("/api/history", params={"chatbotId": "echo", "conversationId": conv["id"]})
        assert page.json()["messages"] == []
        assert alice.post("/api/conversations", json={"chatbotId": "nope"}).status_code == 422


def test_conversation_of_another_bot_is_a_conflict(rill_server):
    with authed(rill_server.url) as client:
        conv = client.post("/api/conversations", json={"chatbotId": "echo"}).json()
        assert chat(client, "guide", "hi", conversationId=conv["id"]).status == 409
