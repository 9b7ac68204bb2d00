"""Renaming a conversation (issue 17): ``PATCH /api/conversations/{id}``."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from rill.http.routes.conversation_rename import ConversationRename


def test_rename_own_conversation_only(rill_server):
    with rill_server.client() as alice, rill_server.client() as mallory:
        alice.post("/api/session")
        mallory.post("/api/session")
        conv = alice.post("/api/conversations", json={"chatbotId": "echo"}).json()
        r = alice.patch(f"/api/conversations/{conv['id']}", json={"title": "  Trip \n to  Busan "})
        assert r.status_code == 200, r.text
        assert r.json()["title"] == "Trip to Busan"
        listed = alice.get("/api/conversations", params={"chatbotId": "echo"}).json()
        assert {c["id"]: c["title"] for c in listed["conversations"]}[conv["id"]] == "Trip to Busan"

        r = mallory.patch(f"/api/conversations/{conv['id']}", json={"title": "mine"})
        assert r.status_code == 404
        assert r.headers["content-type"].startswith("application/problem+json")
        for bad in ({"title": "   "}, {"title": ""}, {"title": "x" * 201}, {}, {"title": 5}):
            r = alice.patch(f"/api/conversations/{conv['id']}", json=bad)
            assert r.status_code == 422, bad
            assert r.headers["content-type"].startswith("application/problem+json")


@given(st.text(max_size=250))
def test_a_valid_title_is_one_trimmed_line(title: str) -> None:
    try:
        cleaned = ConversationRename(title=title).title
    except ValidationError:
        assert not title.split() or len(title) > 200
        return
    assert cleaned and cleaned == cleaned.strip() and "  " not in cleaned
    assert not any(c in cleaned for c in "\n\r\t")
    assert len(cleaned) <= 200


def test_rename_needs_a_user(rill_server):
    with rill_server.client() as anonymous:
        r = anonymous.patch("/api/conversations/conv_x", json={"title": "x"})
        assert r.status_code in (401, 404)


