"""The checkpoint loop saves a streaming reply's text, so a crash loses at most a period."""

from __future__ import annotations

import asyncio

from rill.chat.service import TurnRequest
from rill.providers.base import Finish, TextDelta
from tests.unit.chat.conftest import BOT, USER, Chat, ChatFactory


async def stored_text(chat: Chat, message_id: str, want: str) -> str:
    """The reply's stored text once it is ``want``, polled for at most 5 s."""
    text = ""
    for _ in range(500):
        text = (await chat.store.get_message(USER, message_id)).content
        if text == want:
            break
        await asyncio.sleep(0.01)
    return text


async def test_a_streaming_reply_is_checkpointed_while_it_streams(
    chat_factory: ChatFactory,
) -> None:
    chat = await chat_factory(checkpoint_seconds=0.05)
    turn = await chat.service.start_turn(TurnRequest(USER, BOT, "hi"))
    reader = chat.reader(turn.message_id)
    chat.provider.push([TextDelta("first "), TextDelta("part")])
    await reader.until("content_block_delta")

    assert await stored_text(chat, turn.message_id, "first part") == "first part"
    assert (await chat.store.get_message(USER, turn.message_id)).status == "streaming"

    chat.provider.push([TextDelta(", second")])
    assert await stored_text(chat, turn.message_id, "first part, second") == "first part, second"

    chat.provider.push([Finish()])
    await reader.to_end()
    stored = await chat.store.get_message(USER, turn.message_id)
    assert (stored.status, stored.content) == ("complete", "first part, second")


async def test_without_a_checkpoint_the_store_holds_no_text_until_the_end(chat: Chat) -> None:
    # The fixture's period is a minute: nothing is saved mid-reply.
    turn = await chat.service.start_turn(TurnRequest(USER, BOT, "hi"))
    reader = chat.reader(turn.message_id)
    chat.provider.push([TextDelta("unsaved")])
    await reader.until("content_block_delta")

    assert (await chat.store.get_message(USER, turn.message_id)).content == ""
    chat.provider.push([Finish()])
    await reader.to_end()
    assert (await chat.store.get_message(USER, turn.message_id)).content == "unsaved"
