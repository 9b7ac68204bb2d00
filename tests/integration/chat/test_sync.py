"""Chat sync (issue 17): each user's chat events reach that user's private hub topic,
over real HTTP and a real hub subscription, and never another user."""

from __future__ import annotations

from collections.abc import Iterator

import httpx

from rill.sse import ServerSentEvent, SSEDecoder
from tests.integration.chat.helpers import read_stream


def _events(response: httpx.Response) -> Iterator[ServerSentEvent]:
    decoder = SSEDecoder()
    for chunk in response.iter_bytes():
        yield from decoder.feed(chunk)


def _subscribe(client: httpx.Client, topic: str):
    return client.stream("GET", "/.well-known/mercure", params={"match": topic})


def test_chat_events_reach_only_their_user(rill_server) -> None:
    with rill_server.client() as alice, rill_server.client() as bob:
        alice_id = alice.post("/api/session").json()["userId"]
        bob_id = bob.post("/api/session").json()["userId"]
        with (
            _subscribe(alice, f"users/{alice_id}/chat") as ours,
            # Bob asks for Alice's topic and his own: only his own may arrive.
            bob.stream(
                "GET", "/.well-known/mercure",
                params=[("match", f"users/{alice_id}/chat"), ("match", f"users/{bob_id}/chat")],
            ) as theirs,
        ):
            assert ours.status_code == 200 and theirs.status_code == 200
            with alice.stream("POST", "/api/chat", json={"chatbotId": "echo", "message": "hi"}) as r:
                turn = read_stream(r)
            conversation = turn.data("message_start")["message"]["conversation_id"]
            alice.patch(f"/api/conversations/{conversation}", json={"title": "Renamed"})
            assert alice.delete(f"/api/conversations/{conversation}").status_code == 204

            seen = _events(ours)
            got = [next(seen) for _ in range(4)]
            assert [e.event for e in got] == [
                "turn_started", "reply_finished", "conversation_renamed", "conversation_deleted",
            ]
            started, finished, renamed, deleted = (e.json() for e in got)
            assert all(isinstance(e.pop("ts"), int) for e in (started, finished, renamed, deleted))
            assert started["message_id"] == turn.message_id == finished["message_id"]
            assert started["conversation_id"] == conversation and started["chatbot_id"] == "echo"
            assert finished["status"] == "complete"
            assert renamed == {"conversation_id": conversation, "chatbot_id": "echo",
                               "title": "Renamed"}
            assert deleted == {"conversation_id": conversation}

            # Bob's first event is his own turn: nothing of Alice's came before it.
            with bob.stream("POST", "/api/chat", json={"chatbotId": "echo", "message": "yo"}) as r:
                own = read_stream(r)
            first = next(_events(theirs))
            assert first.event == "turn_started"
            assert first.json()["message_id"] == own.message_id


def test_a_stopped_reply_says_so(rill_server) -> None:
    with rill_server.client() as alice:
        alice_id = alice.post("/api/session").json()["userId"]
        with _subscribe(alice, f"users/{alice_id}/chat") as ours:
            seen = _events(ours)
            with alice.stream(
                "POST", "/api/chat", json={"chatbotId": "slow", "message": "word " * 200}
            ) as r:
                first = next(_events(r))
                message_id = first.json()["message"]["id"]
                assert alice.post(f"/api/chat/{message_id}/cancel").status_code == 202
            assert next(seen).event == "turn_started"
            stopped = next(seen)
            assert stopped.event == "reply_stopped"
            assert stopped.json()["message_id"] == message_id
            assert stopped.json()["status"] == "cancelled"
