"""Recovering the replies of a node that died mid-reply (``chat/recovery.py``).

The "dead" node is a real chat core whose provider has gone silent: its reply is
``streaming`` in the store with some deltas in the broker, exactly what a node
that stopped leaves behind; its generation task is simply never woken.
"""

from __future__ import annotations

import asyncio

from rill.chat import events
from rill.chat.recovery import NodeRecovery
from rill.chat.service import TurnRequest
from rill.providers.base import TextDelta
from tests.unit.chat.conftest import BOT, USER, Chat, ChatFactory


async def half_a_reply(chat: Chat) -> str:
    """A reply left streaming with two deltas ("half a thought") in the broker."""
    turn = await chat.service.start_turn(TurnRequest(USER, BOT, "hi"))
    reader = chat.reader(turn.message_id)
    chat.provider.push([TextDelta("half a th"), TextDelta("ought")])
    await reader.until("content_block_delta")
    await reader.until("content_block_delta")
    return turn.message_id


def recoverer(chat: Chat, node_id: str = "node-b", timeout: float = 1.0) -> NodeRecovery:
    return NodeRecovery(chat.store, chat.broker, node_id=node_id, timeout=timeout, stream_ttl=60)


async def test_a_dead_nodes_reply_is_ended_as_interrupted_from_its_stream(
    chat_factory: ChatFactory,
) -> None:
    dead = await chat_factory(node_id="node-a")
    message_id = await half_a_reply(dead)
    reader = dead.reader(message_id)

    assert await recoverer(dead).recover_node("node-a") == 1
    seen = await reader.to_end()

    stored = await dead.store.get_message(USER, message_id)
    assert (stored.status, stored.stop_reason, stored.content) == (
        "interrupted", "interrupted", "half a thought"
    )
    assert stored.usage is not None
    assert (stored.usage.input_tokens, stored.usage.output_tokens) == (1, 2)
    assert [(e.event, e.id) for e in seen[-3:]] == [
        ("content_block_stop", "5-14"), ("message_delta", "6-14"), ("message_stop", "7-14")
    ]
    assert seen[-2].json()["delta"]["rill_stop_reason"] == "interrupted"
    assert stored.final_event_id == "7-14"
    assert await dead.broker.is_ended(events.stream_name(message_id))


async def test_two_recoverers_end_a_reply_once(chat_factory: ChatFactory) -> None:
    dead = await chat_factory(node_id="node-a")
    message_id = await half_a_reply(dead)
    [orphan] = await dead.store.streaming_replies("node-a")

    first, second = recoverer(dead, "node-b"), recoverer(dead, "node-c")
    results = await asyncio.gather(first.recover_reply(orphan), second.recover_reply(orphan))

    # Both compute the same ending at the same ids, so whichever appends second
    # finds each id taken and skips it: the stream carries the finale once.
    assert any(results)
    seen = await dead.events_of(message_id)
    assert [e.event for e in seen] == [
        "message_start", "content_block_start", "content_block_delta", "content_block_delta",
        "content_block_stop", "message_delta", "message_stop",
    ]
    assert (await dead.store.get_message(USER, message_id)).final_event_id == seen[-1].id


async def test_a_slow_owner_finishing_after_recovery_adds_no_second_ending(
    chat_factory: ChatFactory,
) -> None:
    slow = await chat_factory(node_id="node-a")
    message_id = await half_a_reply(slow)
    await recoverer(slow).recover_node("node-a")

    await slow.service.close(grace=0)  # the "dead" node wakes up and ends its reply

    names = [e.event for e in await slow.events_of(message_id)]
    assert names.count("message_stop") == 1
    stored = await slow.store.get_message(USER, message_id)
    assert (stored.status, stored.final_event_id) == ("interrupted", "7-14")


async def test_a_reply_without_a_stream_keeps_its_checkpointed_text(chat: Chat) -> None:
    await chat.store.ensure_user(USER)
    started = await chat.store.start_turn(
        user_id=USER, chatbot_id=BOT, conversation_id=None, user_text="hi",
        max_concurrent=3, node_id="gone",
    )
    await chat.store.checkpoint(started.reply.id, "saved")
    [orphan] = await chat.store.streaming_replies("gone")

    assert await recoverer(chat).recover_reply(orphan)

    stored = await chat.store.get_message(USER, started.reply.id)
    assert (stored.status, stored.content, stored.final_event_id) == ("interrupted", "saved", None)


async def test_a_node_recovers_its_previous_incarnation_at_start(
    chat_factory: ChatFactory,
) -> None:
    previous = await chat_factory(node_id="node-a")
    message_id = await half_a_reply(previous)
    again = recoverer(previous, node_id="node-a")

    await again.start()
    try:
        stored = await previous.store.get_message(USER, message_id)
        assert (stored.status, stored.content) == ("interrupted", "half a thought")
    finally:
        await again.close()


async def test_the_watch_finds_a_silent_node_and_spares_a_beating_one(
    chat_factory: ChatFactory,
) -> None:
    silent = await chat_factory(node_id="node-a")
    orphan_id = await half_a_reply(silent)
    alive = await chat_factory(broker=silent.broker, node_id="node-c")
    # Started before its node serves, as the service does: at start a node ends what
    # its previous incarnation left streaming.
    beating = recoverer(alive, node_id="node-c", timeout=1.0)
    await beating.start()
    kept_id = await half_a_reply(alive)
    watcher = recoverer(silent, node_id="node-b", timeout=1.0)
    await watcher.start()
    try:
        # The watch ends the orphan's stream: a reader sees it close.
        seen = await silent.reader(orphan_id).to_end()
        assert seen[-1].event == "message_stop"
        orphan = await silent.store.get_message(USER, orphan_id)
        assert (orphan.status, orphan.content) == ("interrupted", "half a thought")
        kept = await alive.store.get_message(USER, kept_id)
        assert kept.status == "streaming"
    finally:
        await watcher.close()
        await beating.close()
