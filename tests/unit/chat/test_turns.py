"""Starting a turn, and the events of a reply that completes: order, ids, what is stored."""

from __future__ import annotations

import pytest

from rill.chat import events
from rill.chat.service import TurnRequest
from rill.errors import InvalidInput, ServiceUnavailable, TooManyRequests
from rill.providers.base import Finish, TextDelta
from tests.unit.chat.conftest import BOT, USER, Chat, ChatFactory


async def test_start_turn_stores_the_question_and_a_streaming_reply(chat: Chat) -> None:
    turn = await chat.service.start_turn(TurnRequest(USER, BOT, "hello there"))

    reply = await chat.store.get_message(USER, turn.message_id)
    assert (reply.role, reply.status, reply.content) == ("assistant", "streaming", "")
    assert reply.node_id == "node-a" and reply.conversation_id == turn.conversation_id
    assert turn.user_message_id is not None
    question = await chat.store.get_message(USER, turn.user_message_id)
    assert (question.role, question.content) == ("user", "hello there")
    assert question.conversation_id == turn.conversation_id
    assert chat.service.active_count == 1


async def test_message_start_is_published_before_start_turn_returns(chat: Chat) -> None:
    turn = await chat.service.start_turn(TurnRequest(USER, BOT, "hi"))

    start = (await chat.events_of(turn.message_id))[0]
    assert (start.event, start.id) == ("message_start", "1-0")
    message = start.json()["message"]
    assert message["id"] == turn.message_id
    assert message["conversation_id"] == turn.conversation_id
    assert message["user_message_id"] == turn.user_message_id
    assert message["chatbot_id"] == BOT and message["model"] == "scripted-model"
    assert message["usage"] == {"input_tokens": 1, "output_tokens": 0}
    assert message["role"] == "assistant" and message["content"] == []


async def test_the_model_sees_the_question_in_its_conversation(chat: Chat) -> None:
    first = await chat.service.start_turn(TurnRequest(USER, BOT, "first question"))
    chat.provider.push([TextDelta("first answer"), Finish()])
    await chat.follow_to_end(first.message_id)

    second = await chat.service.start_turn(
        TurnRequest(USER, BOT, "second question", conversation_id=first.conversation_id)
    )
    chat.provider.push([Finish()])
    await chat.follow_to_end(second.message_id)

    assert second.conversation_id == first.conversation_id
    request = chat.provider.requests[-1]
    assert [(m.role, m.content) for m in request.messages] == [
        ("user", "first question"), ("assistant", "first answer"), ("user", "second question")
    ]
    assert request.model == "scripted-model"


async def test_a_reply_streams_in_order_with_ids_counting_events_and_text(chat: Chat) -> None:
    turn = await chat.service.start_turn(TurnRequest(USER, BOT, "hi"))
    reader = chat.reader(turn.message_id)
    chat.provider.push([TextDelta("Hel"), TextDelta(""), TextDelta("lo")], [TextDelta(" wörld")])
    chat.provider.push([Finish("end_turn", input_tokens=7, output_tokens=3)])

    seen = await reader.to_end()

    assert [(e.event, e.id) for e in seen] == [
        ("message_start", "1-0"),
        ("content_block_start", "2-0"),
        ("content_block_delta", "3-3"),
        ("content_block_delta", "4-5"),
        ("content_block_delta", "5-11"),
        ("content_block_stop", "6-11"),
        ("message_delta", "7-11"),
        ("message_stop", "8-11"),
    ]
    assert "".join(e.json()["delta"]["text"] for e in seen[2:5]) == "Hello wörld"
    assert seen[6].json()["delta"]["rill_stop_reason"] == "end_turn"
    assert seen[6].json()["usage"] == {"output_tokens": 3}
    # The stream a reader relays is exactly what the broker holds.
    assert [e.id for e in await chat.events_of(turn.message_id)] == [e.id for e in seen]

    stored = await chat.store.get_message(USER, turn.message_id)
    assert (stored.status, stored.content, stored.stop_reason) == ("complete", "Hello wörld",
                                                                   "end_turn")
    assert stored.final_event_id == "8-11"
    assert stored.usage is not None
    assert (stored.usage.input_tokens, stored.usage.output_tokens) == (7, 3)
    assert await chat.broker.is_ended(events.stream_name(turn.message_id))


async def test_output_tokens_default_to_the_number_of_deltas(chat: Chat) -> None:
    turn = await chat.service.start_turn(TurnRequest(USER, BOT, "hi"))
    chat.provider.push([TextDelta("a"), TextDelta("b")], [TextDelta("c"), Finish()])

    seen = await chat.follow_to_end(turn.message_id)

    assert seen[-2].json()["usage"] == {"output_tokens": 3}
    stored = await chat.store.get_message(USER, turn.message_id)
    assert stored.usage is not None and stored.usage.output_tokens == 3


async def test_a_provider_that_stops_without_finish_completes_the_reply(chat: Chat) -> None:
    turn = await chat.service.start_turn(TurnRequest(USER, BOT, "hi"))
    chat.provider.push([TextDelta("all")], None)

    seen = await chat.follow_to_end(turn.message_id)

    assert [e.event for e in seen[-3:]] == ["content_block_stop", "message_delta", "message_stop"]
    assert seen[-2].json()["delta"]["rill_stop_reason"] == "end_turn"
    stored = await chat.store.get_message(USER, turn.message_id)
    assert (stored.status, stored.content, stored.stop_reason) == ("complete", "all", "end_turn")


async def test_an_unknown_bot_is_invalid_input_and_stores_nothing(chat: Chat) -> None:
    with pytest.raises(InvalidInput):
        await chat.service.start_turn(TurnRequest(USER, "nobody", "hi"))
    assert chat.service.active_count == 0


async def test_the_generation_limit_is_per_user(chat_factory: ChatFactory) -> None:
    chat = await chat_factory(max_concurrent_generations=1)
    await chat.service.start_turn(TurnRequest(USER, BOT, "one"))

    with pytest.raises(TooManyRequests):
        await chat.service.start_turn(TurnRequest(USER, BOT, "two"))
    other = await chat.service.start_turn(TurnRequest("user-2", BOT, "mine"))
    assert other.message_id


async def test_no_turn_starts_once_the_service_is_closing(chat: Chat) -> None:
    await chat.service.close(grace=0)

    assert chat.service.closing
    with pytest.raises(ServiceUnavailable):
        await chat.service.start_turn(TurnRequest(USER, BOT, "too late"))


async def test_regenerate_asks_the_last_question_again_without_a_new_one(chat: Chat) -> None:
    first = await chat.service.start_turn(TurnRequest(USER, BOT, "the question"))
    chat.provider.push([TextDelta("a poor answer"), Finish()])
    await chat.follow_to_end(first.message_id)

    again = await chat.service.start_turn(TurnRequest(
        USER, BOT, None, conversation_id=first.conversation_id, regenerate=True))
    chat.provider.push([TextDelta("a better one"), Finish()])
    seen = await chat.follow_to_end(again.message_id)

    assert again.user_message_id is None and again.message_id != first.message_id
    assert seen[0].json()["message"]["user_message_id"] is None
    assert [(m.role, m.content) for m in chat.provider.requests[-1].messages] == [
        ("user", "the question")
    ]
    stored = await chat.store.get_message(USER, again.message_id)
    assert (stored.status, stored.content) == ("complete", "a better one")
