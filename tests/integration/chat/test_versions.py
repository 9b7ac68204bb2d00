"""Versions over real HTTP (issue 17): ``POST /api/chat`` with ``editOf``, regenerate
keeping the old reply, ``POST /api/conversations/{id}/versions``, and their refusals."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx

from rill.sse import ServerSentEvent, SSEDecoder
from tests.integration.chat.helpers import Stream, chat, problem, read_stream

UNKNOWN_MESSAGE = "msg_01JAAAAAAAAAAAAAAAAAAAAAAA"
UNKNOWN_CONVERSATION = "conv_01JAAAAAAAAAAAAAAAAAAAAAAA"


def start(stream: Stream) -> dict[str, Any]:
    assert stream.status == 200, stream.raw
    assert stream.names[-1] == "message_stop"
    message: dict[str, Any] = stream.data("message_start")["message"]
    return message


def history(client: httpx.Client, conversation: str) -> dict[str, Any]:
    r = client.get("/api/history", params={"chatbotId": "echo", "conversationId": conversation,
                                           "limit": 50})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def shown(client: httpx.Client, conversation: str) -> list[str]:
    return [m["content"] for m in history(client, conversation)["messages"]]


def show(client: httpx.Client, conversation: str, message_id: Any) -> httpx.Response:
    return client.post(f"/api/conversations/{conversation}/versions",
                       json={"messageId": message_id})


def _events(response: httpx.Response) -> Iterator[ServerSentEvent]:
    decoder = SSEDecoder()
    for chunk in response.iter_bytes():
        yield from decoder.feed(chunk)


def test_edit_resends_and_the_versions_endpoint_switches_back(rill_server) -> None:
    with rill_server.client() as alice:
        alice.post("/api/session")
        first = start(chat(alice, "echo", "first"))
        conversation = first["conversation_id"]
        typo = start(chat(alice, "echo", "secnod", conversationId=conversation))

        edited = chat(alice, "echo", "second", conversationId=conversation,
                      editOf=typo["user_message_id"])
        fixed = start(edited)
        assert edited.text == "second"
        assert edited.headers["X-Rill-Conversation-Id"] == conversation
        assert fixed["user_message_id"] != typo["user_message_id"]

        page = history(alice, conversation)
        assert [m["content"] for m in page["messages"]] == ["first", "first", "second", "second"]
        ids = [m["id"] for m in page["messages"]]
        assert [m["parentId"] for m in page["messages"]] == [None, *ids[:-1]]
        assert page["messages"][2]["versions"] == [typo["user_message_id"],
                                                   fixed["user_message_id"]]
        assert [len(m["versions"]) for m in page["messages"]] == [1, 1, 2, 1]

        back = show(alice, conversation, typo["user_message_id"])
        assert back.status_code == 200, back.text
        assert back.json() == history(alice, conversation)
        assert [m["content"] for m in back.json()["messages"]] == [
            "first", "first", "secnod", "secnod"]
        assert back.json()["messages"][3]["id"] == typo["id"]

        forth = show(alice, conversation, fixed["user_message_id"])
        assert forth.status_code == 200, forth.text
        assert [m["content"] for m in forth.json()["messages"]] == [
            "first", "first", "second", "second"]


def test_regenerate_keeps_the_old_reply_as_a_version(rill_server) -> None:
    with rill_server.client() as alice:
        alice.post("/api/session")
        first = start(chat(alice, "echo", "hello"))
        conversation = first["conversation_id"]
        with alice.stream("POST", "/api/chat", json={
            "chatbotId": "echo", "conversationId": conversation, "regenerate": True,
        }) as r:
            again = start(read_stream(r))
        replies = history(alice, conversation)["messages"]
        assert [m["id"] for m in replies] == [first["user_message_id"], again["id"]]
        assert replies[1]["versions"] == [first["id"], again["id"]]
        back = show(alice, conversation, first["id"])
        assert back.status_code == 200, back.text
        assert [m["id"] for m in back.json()["messages"]] == [first["user_message_id"],
                                                              first["id"]]


def test_other_tabs_hear_of_edits_and_switches(rill_server) -> None:
    with rill_server.client() as alice:
        alice_id = alice.post("/api/session").json()["userId"]
        first = start(chat(alice, "echo", "one"))
        conversation = first["conversation_id"]
        with alice.stream("GET", "/.well-known/mercure",
                          params={"match": f"users/{alice_id}/chat"}) as tab:
            assert tab.status_code == 200
            edit = start(chat(alice, "echo", "uno", conversationId=conversation,
                              editOf=first["user_message_id"]))
            assert show(alice, conversation, first["user_message_id"]).status_code == 200
            seen = _events(tab)
            got = [next(seen) for _ in range(3)]
        assert [e.event for e in got] == ["turn_started", "reply_finished", "versions"]
        assert got[0].json()["edit_of"] == first["user_message_id"]
        assert got[0].json()["message_id"] == edit["id"]
        switched = got[2].json()
        assert isinstance(switched.pop("ts"), int)
        assert switched == {"conversation_id": conversation, "chatbot_id": "echo",
                            "message_id": first["user_message_id"]}


def test_edit_refusals_are_problems(rill_server) -> None:
    with rill_server.client() as alice, rill_server.client() as mallory:
        alice.post("/api/session")
        mallory.post("/api/session")
        first = start(chat(alice, "echo", "mine"))
        conversation = first["conversation_id"]
        question = first["user_message_id"]
        theirs = start(chat(mallory, "echo", "theirs"))
        other = start(chat(alice, "echo", "elsewhere",
                           conversationId=alice.post("/api/conversations", json={
                               "chatbotId": "echo"}).json()["id"]))

        def refused(status: int, **body: Any) -> dict[str, Any]:
            body.setdefault("conversationId", conversation)
            stream = chat(alice, "echo", body.pop("message", "edited"), **body)
            assert stream.status == status, (body, stream.raw)
            found = problem(stream)
            assert found["status"] == status
            return found

        refused(422, editOf=question, regenerate=True)
        refused(422, editOf=question, message=None)
        refused(422, editOf=first["id"])  # a reply is regenerated, not edited
        refused(422, editOf=question, message="bad \x00 text")
        refused(404, editOf="not-an-id")
        refused(404, editOf=UNKNOWN_MESSAGE)
        refused(404, editOf=theirs["user_message_id"])  # another user's message
        refused(404, editOf=theirs["user_message_id"], conversationId=None)
        refused(404, editOf=other["user_message_id"])  # another conversation's
        refused(404, editOf=question, conversationId=theirs["conversation_id"])
        assert shown(alice, conversation) == ["mine", "mine"]


def test_versions_refusals_are_problems(rill_server) -> None:
    with rill_server.client() as alice, rill_server.client() as mallory:
        alice.post("/api/session")
        mallory.post("/api/session")
        first = start(chat(alice, "echo", "mine"))
        conversation = first["conversation_id"]
        question = first["user_message_id"]
        theirs = start(chat(mallory, "echo", "theirs"))

        def refused(status: int, response: httpx.Response) -> None:
            assert response.status_code == status, response.text
            assert problem(response)["status"] == status

        refused(404, show(mallory, conversation, question))  # another user's conversation
        refused(404, show(alice, theirs["conversation_id"], theirs["user_message_id"]))
        refused(404, show(mallory, theirs["conversation_id"], question))  # another's message
        refused(404, show(alice, conversation, theirs["user_message_id"]))
        refused(404, show(alice, conversation, UNKNOWN_MESSAGE))
        refused(404, show(alice, UNKNOWN_CONVERSATION, question))
        refused(404, show(alice, "not-an-id", question))
        for bad in ("not-an-id", "", 5, None, "msg_\x00"):
            refused(422, show(alice, conversation, bad))
        refused(422, alice.post(f"/api/conversations/{conversation}/versions", json={}))
        with rill_server.client() as nobody:
            refused(401, show(nobody, conversation, question))
        assert shown(alice, conversation) == ["mine", "mine"]


def test_while_a_reply_streams_edits_and_switches_are_conflicts(rill_server) -> None:
    with rill_server.client() as alice:
        alice.post("/api/session")
        first = start(chat(alice, "echo", "one"))
        conversation = first["conversation_id"]
        question = first["user_message_id"]
        body = {"chatbotId": "slow", "message": "word " * 200}
        slow = alice.post("/api/conversations", json={"chatbotId": "slow"}).json()["id"]
        earlier = start(chat(alice, "slow", "short", conversationId=slow))
        with alice.stream("POST", "/api/chat", json={**body, "conversationId": slow}) as r:
            message_id = next(_events(r)).json()["message"]["id"]
            for response in (
                show(alice, slow, earlier["user_message_id"]),
                alice.post("/api/chat", json={"chatbotId": "slow", "message": "edited",
                                              "conversationId": slow,
                                              "editOf": earlier["user_message_id"]}),
            ):
                assert response.status_code == 409, response.text
                assert problem(response)["status"] == 409
            # Another conversation is not held up.
            assert show(alice, conversation, question).status_code == 200
            assert alice.post(f"/api/chat/{message_id}/cancel").status_code == 202
        assert show(alice, slow, earlier["user_message_id"]).status_code == 200
