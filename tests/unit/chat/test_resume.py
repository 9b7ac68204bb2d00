"""Resuming a reply from a ``Last-Event-ID``: from the live stream while the broker has it,
rebuilt from the stored reply once the broker has forgotten it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from rill.chat.service import TurnRequest
from rill.errors import InvalidInput, NotFound, UpstreamError
from rill.providers.base import Finish, TextDelta
from rill.sse import ServerSentEvent
from tests.unit.chat.conftest import BOT, USER, Chat, ChatFactory, Reader, decode


async def finished_reply(chat: Chat) -> tuple[str, list[ServerSentEvent]]:
    """A complete reply "Hello world" in three deltas, and all its events."""
    turn = await chat.service.start_turn(TurnRequest(USER, BOT, "hi"))
    chat.provider.push([TextDelta("Hello"), TextDelta(" wor")], [TextDelta("ld"), Finish()])
    return turn.message_id, await chat.follow_to_end(turn.message_id)


async def read_all(chunks: AsyncIterator[bytes] | None) -> bytes:
    assert chunks is not None
    return b"".join([chunk async for chunk in chunks])


async def test_resume_sends_exactly_the_events_after_the_id(chat: Chat) -> None:
    message_id, everything = await finished_reply(chat)
    entries = await chat.broker.read(f"chat:{message_id}", None, 100)

    for index, entry in enumerate(entries[:-1]):
        rest = await read_all(await chat.service.resume(USER, message_id, entry.id))
        assert rest == b"".join(e.payload for e in entries[index + 1:])
    whole = await read_all(await chat.service.resume(USER, message_id, None))
    assert [(e.event, e.id) for e in decode(whole)] == [(e.event, e.id) for e in everything]


async def test_resume_after_the_last_event_has_nothing_to_send(chat: Chat) -> None:
    message_id, everything = await finished_reply(chat)

    assert await chat.service.resume(USER, message_id, everything[-1].id) is None


async def test_resume_follows_a_reply_still_being_generated(chat: Chat) -> None:
    turn = await chat.service.start_turn(TurnRequest(USER, BOT, "hi"))
    first = chat.reader(turn.message_id)
    chat.provider.push([TextDelta("live ")])
    delta = await first.until("content_block_delta")

    resumed = Reader(await _resumed(chat, turn.message_id, delta.id))
    chat.provider.push([TextDelta("and "), TextDelta("well")], [Finish()])
    rest = await resumed.to_end()
    everything = await first.to_end()

    assert [(e.event, e.id, e.data) for e in rest] == [
        (e.event, e.id, e.data) for e in everything[everything.index(delta) + 1:]
    ]
    assert rest[-1].event == "message_stop"


async def _resumed(chat: Chat, message_id: str, after: str) -> AsyncIterator[bytes]:
    chunks = await chat.service.resume(USER, message_id, after)
    assert chunks is not None
    return chunks


async def test_a_forgotten_stream_is_rebuilt_from_the_stored_reply(
    chat_factory: ChatFactory,
) -> None:
    before = await chat_factory()
    message_id, everything = await finished_reply(before)
    # A new process (its memory broker empty) over the same store.
    after = await chat_factory()

    rebuilt = decode(await read_all(await after.service.resume(USER, message_id, "3-5")))

    # The text the client misses arrives as one delta; the finale is the one it would
    # have seen live, byte for byte, at the same ids.
    assert [(e.event, e.id) for e in rebuilt] == [
        ("content_block_delta", "4-11"), *((e.event, e.id) for e in everything[-3:])
    ]
    assert rebuilt[0].json()["delta"]["text"] == " world"
    assert [e.data for e in rebuilt[1:]] == [e.data for e in everything[-3:]]

    whole = decode(await read_all(await after.service.resume(USER, message_id, None)))
    assert [e.event for e in whole] == [
        "message_start", "content_block_start", "content_block_delta",
        "content_block_stop", "message_delta", "message_stop",
    ]
    assert whole[0].json()["message"]["id"] == message_id
    assert whole[2].json()["delta"]["text"] == "Hello world"
    assert whole[-1].id == everything[-1].id
    assert await after.service.resume(USER, message_id, everything[-1].id) is None


async def test_a_forgotten_stream_of_a_failed_reply_is_rebuilt_with_its_error(
    chat_factory: ChatFactory,
) -> None:
    before = await chat_factory()
    turn = await before.service.start_turn(TurnRequest(USER, BOT, "hi"))
    before.provider.push([TextDelta("so far")], UpstreamError("the upstream said no"))
    everything = await before.follow_to_end(turn.message_id)
    after = await chat_factory()

    rebuilt = decode(await read_all(await after.service.resume(USER, turn.message_id, "3-6")))

    assert [(e.event, e.id, e.data) for e in rebuilt] == [
        (e.event, e.id, e.data) for e in everything[3:]
    ]


async def test_resume_checks_the_id_the_owner_and_the_role(chat: Chat) -> None:
    message_id, _ = await finished_reply(chat)
    question = (await chat.events_of(message_id))[0].json()["message"]["user_message_id"]

    with pytest.raises(InvalidInput):
        await chat.service.resume(USER, message_id, "not-an-id")
    with pytest.raises(NotFound):
        await chat.service.resume("someone-else", message_id, None)
    with pytest.raises(NotFound):
        await chat.service.resume(USER, question, None)
