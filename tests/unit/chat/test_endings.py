"""Every way a reply can end other than completing: each still ends its stream with the
fixed finale and leaves the stored reply final, never ``streaming``."""

from __future__ import annotations

import asyncio

from rill.chat.service import TurnRequest
from rill.errors import UpstreamError
from rill.providers.base import Finish, TextDelta
from rill.sse import ServerSentEvent
from tests.unit.chat.conftest import BOT, USER, Chat, ChatFactory

CLOSING = ["content_block_stop", "message_delta", "message_stop"]


def ending(seen: list[ServerSentEvent]) -> tuple[list[str], str]:
    """The names of the last three events, and the stop reason they carry."""
    return [e.event for e in seen[-3:]], seen[-2].json()["delta"]["rill_stop_reason"]


async def test_cancel_stops_the_reply_keeping_its_partial_text(chat: Chat) -> None:
    turn = await chat.service.start_turn(TurnRequest(USER, BOT, "hi"))
    reader = chat.reader(turn.message_id)
    chat.provider.push([TextDelta("partial "), TextDelta("text")])
    await reader.until("content_block_delta")

    answer = await chat.service.cancel(USER, turn.message_id)
    seen = await reader.to_end()

    assert answer.status == "streaming"  # the cancel is asked for, the ending follows
    assert ending(seen) == (CLOSING, "cancelled")
    assert seen[-1].id == "7-12"
    stored = await chat.store.get_message(USER, turn.message_id)
    assert (stored.status, stored.stop_reason, stored.content) == (
        "cancelled", "cancelled", "partial text"
    )
    assert stored.final_event_id == seen[-1].id
    # Cancelling closed the provider's stream (its upstream request) too.
    await asyncio.wait_for(chat.provider.closed.wait(), 5)


async def test_cancel_reaches_the_node_that_generates(chat_factory: ChatFactory) -> None:
    owner = await chat_factory(node_id="node-a")
    other = await chat_factory(broker=owner.broker, node_id="node-b")
    turn = await owner.service.start_turn(TurnRequest(USER, BOT, "hi"))
    reader = owner.reader(turn.message_id)
    owner.provider.push([TextDelta("some")])
    await reader.until("content_block_delta")

    await other.service.cancel(USER, turn.message_id)
    seen = await reader.to_end()

    assert ending(seen) == (CLOSING, "cancelled")
    stored = await owner.store.get_message(USER, turn.message_id)
    assert (stored.status, stored.content) == ("cancelled", "some")


async def test_cancelling_a_finished_reply_changes_nothing(chat: Chat) -> None:
    turn = await chat.service.start_turn(TurnRequest(USER, BOT, "hi"))
    chat.provider.push([TextDelta("done"), Finish()])
    before = await chat.follow_to_end(turn.message_id)

    answer = await chat.service.cancel(USER, turn.message_id)

    assert (answer.status, answer.content) == ("complete", "done")
    assert [e.id for e in await chat.events_of(turn.message_id)] == [e.id for e in before]


async def test_a_provider_error_becomes_an_error_event_and_status_error(chat: Chat) -> None:
    turn = await chat.service.start_turn(TurnRequest(USER, BOT, "hi"))
    chat.provider.push([TextDelta("so far")], UpstreamError("the upstream said no"))

    seen = await chat.follow_to_end(turn.message_id)

    assert [e.event for e in seen] == [
        "message_start", "content_block_start", "content_block_delta", "error", *CLOSING
    ]
    assert seen[3].json() == {
        "type": "error", "error": {"type": "api_error", "message": "the upstream said no"}
    }
    assert ending(seen)[1] == "error"
    assert [e.id for e in seen[3:]] == ["4-6", "5-6", "6-6", "7-6"]
    stored = await chat.store.get_message(USER, turn.message_id)
    assert (stored.status, stored.stop_reason, stored.content, stored.error) == (
        "error", "error", "so far", "the upstream said no"
    )
    assert stored.final_event_id == "7-6"


async def test_a_crashing_provider_fails_the_reply_without_its_details(chat: Chat) -> None:
    turn = await chat.service.start_turn(TurnRequest(USER, BOT, "hi"))
    chat.provider.push(RuntimeError("secret internals"))

    seen = await chat.follow_to_end(turn.message_id)

    error = next(e for e in seen if e.event == "error").json()["error"]
    assert error == {"type": "api_error", "message": "the reply failed unexpectedly"}
    stored = await chat.store.get_message(USER, turn.message_id)
    assert stored.status == "error" and "secret" not in (stored.error or "")


async def test_a_provider_silent_before_its_first_token_times_out(
    chat_factory: ChatFactory,
) -> None:
    chat = await chat_factory(first_token_timeout=0.05)
    turn = await chat.service.start_turn(TurnRequest(USER, BOT, "hi"))

    seen = await chat.follow_to_end(turn.message_id)

    error = next(e for e in seen if e.event == "error").json()["error"]
    assert error["type"] == "timeout_error" and "0.05 s" in error["message"]
    assert ending(seen) == (CLOSING, "error")
    stored = await chat.store.get_message(USER, turn.message_id)
    assert (stored.status, stored.content) == ("error", "")
    await asyncio.wait_for(chat.provider.closed.wait(), 5)


async def test_a_provider_that_stalls_mid_reply_times_out_keeping_the_text(
    chat_factory: ChatFactory,
) -> None:
    chat = await chat_factory(first_token_timeout=5.0, idle_timeout=0.05)
    turn = await chat.service.start_turn(TurnRequest(USER, BOT, "hi"))
    chat.provider.push([TextDelta("half")])

    seen = await chat.follow_to_end(turn.message_id)

    assert next(e for e in seen if e.event == "error").json()["error"]["type"] == "timeout_error"
    stored = await chat.store.get_message(USER, turn.message_id)
    assert (stored.status, stored.content) == ("error", "half")


async def test_a_slow_but_steady_provider_is_not_stalled(chat_factory: ChatFactory) -> None:
    chat = await chat_factory(first_token_timeout=0.6, idle_timeout=0.6)
    turn = await chat.service.start_turn(TurnRequest(USER, BOT, "hi"))
    reader = chat.reader(turn.message_id)
    # Each token comes well within the idle limit, the whole reply well after it.
    for word in ("one ", "two ", "three ", "four"):
        chat.provider.push([TextDelta(word)])
        await reader.until("content_block_delta")
        await asyncio.sleep(0.2)
    chat.provider.push([Finish()])

    seen = await reader.to_end()

    assert ending(seen) == (CLOSING, "end_turn")
    stored = await chat.store.get_message(USER, turn.message_id)
    assert (stored.status, stored.content) == ("complete", "one two three four")


async def test_shutdown_interrupts_replies_after_the_grace(chat: Chat) -> None:
    turn = await chat.service.start_turn(TurnRequest(USER, BOT, "hi"))
    reader = chat.reader(turn.message_id)
    chat.provider.push([TextDelta("cut ")])
    await reader.until("content_block_delta")

    await chat.service.close(grace=0)
    seen = await reader.to_end()

    assert ending(seen) == (CLOSING, "interrupted")
    stored = await chat.store.get_message(USER, turn.message_id)
    assert (stored.status, stored.content) == ("interrupted", "cut ")
    assert chat.service.active_count == 0


async def test_shutdown_lets_a_reply_finish_within_the_grace(chat: Chat) -> None:
    turn = await chat.service.start_turn(TurnRequest(USER, BOT, "hi"))
    reader = chat.reader(turn.message_id)
    chat.provider.push([TextDelta("almost")])
    await reader.until("content_block_delta")

    closing = asyncio.create_task(chat.service.close(grace=5))
    chat.provider.push([TextDelta(" done"), Finish()])
    seen = await reader.to_end()
    await closing

    assert ending(seen) == (CLOSING, "end_turn")
    stored = await chat.store.get_message(USER, turn.message_id)
    assert (stored.status, stored.content) == ("complete", "almost done")
