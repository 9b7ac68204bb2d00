"""Resending an edited message: a normal turn whose question is a new version."""

from __future__ import annotations

import json

import pytest

from rill.chat.service import TurnRequest
from rill.chat.sync import ChatSync
from rill.errors import Conflict
from rill.providers.base import Finish, TextDelta
from tests.unit.chat.conftest import BOT, USER, Chat


async def answer(chat: Chat, request: TurnRequest, text: str) -> str:
    turn = await chat.service.start_turn(request)
    chat.provider.push([TextDelta(text), Finish()])
    await chat.follow_to_end(turn.message_id)
    return turn.conversation_id


async def test_an_edit_streams_a_new_reply_to_the_edited_question(chat: Chat) -> None:
    sent: list[tuple[str, dict[str, object]]] = []

    async def publish(topic: str, data: str, kind: str) -> str:
        sent.append((kind, json.loads(data)))
        return "urn:uuid:1"

    chat.service.sync = ChatSync(publish)
    conv = await answer(chat, TurnRequest(USER, BOT, "first"), "one")
    await answer(chat, TurnRequest(USER, BOT, "secnod", conversation_id=conv), "two?")
    page = await chat.store.history(USER, BOT, conversation_id=conv)
    typo = page.messages[2]

    edit = await chat.service.start_turn(
        TurnRequest(USER, BOT, "second", conversation_id=conv, edit_of=typo.id))
    reader = chat.reader(edit.message_id)
    start = await reader.until("message_start")
    chat.provider.push([TextDelta("two"), Finish()])
    seen = await reader.to_end()

    assert start.json()["message"]["user_message_id"] == edit.user_message_id
    assert [e.event for e in seen][-1] == "message_stop"
    # The model sees the edited question, never the one it replaces nor its reply.
    assert [(m.role, m.content) for m in chat.provider.requests[-1].messages] == [
        ("user", "first"), ("assistant", "one"), ("user", "second")]
    page = await chat.store.history(USER, BOT, conversation_id=conv)
    assert [m.content for m in page.messages] == ["first", "one", "second", "two"]
    assert page.messages[2].versions == (typo.id, edit.user_message_id)
    assert ("turn_started", typo.id) in [(k, d.get("edit_of")) for k, d in sent]

    # While the reply of the conversation streams, another edit waits its turn.
    busy = await chat.service.start_turn(TurnRequest(USER, BOT, "third", conversation_id=conv))
    with pytest.raises(Conflict):
        await chat.service.start_turn(
            TurnRequest(USER, BOT, "first!", conversation_id=conv, edit_of=page.messages[0].id))
    chat.provider.push([Finish()])
    await chat.follow_to_end(busy.message_id)
