"""The finale: every reply ends with the same events, whoever writes them.

Three writers end replies — the generation (``_finish``), a node recovering a dead
node's reply, and a resume rebuilt from the store — all through ``events.finale``.
These tests pin its bytes and check that the three write the same ones.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from rill.chat import events, replay
from rill.chat.recovery import NodeRecovery
from rill.chat.service import TurnRequest
from rill.errors import UpstreamError
from rill.providers.base import TextDelta
from rill.sse import SSEDecoder
from tests.unit.chat.conftest import BOT, USER, Chat, ChatFactory


def test_the_finale_bytes() -> None:
    assert events.finale("end_turn", 3, None, after=5, offset=11) == [
        (b'event: content_block_stop\nid: 6-11\n'
         b'data: {"type":"content_block_stop","index":0}\n\n', "6-11"),
        (b'event: message_delta\nid: 7-11\n'
         b'data: {"type":"message_delta","delta":{"stop_reason":"end_turn",'
         b'"stop_sequence":null,"rill_stop_reason":"end_turn"},"usage":{"output_tokens":3}}\n\n',
         "7-11"),
        (b'event: message_stop\nid: 8-11\ndata: {"type":"message_stop"}\n\n', "8-11"),
    ]


def test_a_failure_opens_the_finale_with_an_error_event() -> None:
    closing = events.finale("error", 0, ("api_error", "no"), after=2, offset=0)

    assert closing[0] == (
        b'event: error\nid: 3-0\ndata: {"type":"error","error":{"type":"api_error",'
        b'"message":"no"}}\n\n', "3-0"
    )
    assert closing[1:] == events.finale("error", 0, None, after=3, offset=0)


@given(
    st.sampled_from(["end_turn", "max_tokens", "cancelled", "interrupted", "error"]),
    st.integers(0, 10**6),
    st.none() | st.tuples(st.sampled_from(["api_error", "timeout_error"]), st.text()),
    st.integers(0, 10**9),
    st.integers(0, 10**9),
)
def test_the_finale_is_numbered_after_the_body_at_the_final_offset(
    stop_reason: str, tokens: int, failure: tuple[str, str] | None, after: int, offset: int
) -> None:
    closing = events.finale(stop_reason, tokens, failure, after=after, offset=offset)

    assert len(closing) == events.finale_length(failure)
    assert [eid for _, eid in closing] == [
        events.event_id(after + n, offset) for n in range(1, len(closing) + 1)
    ]
    decoded = SSEDecoder().feed(b"".join(payload for payload, _ in closing))
    assert [e.id for e in decoded] == [eid for _, eid in closing]
    assert [e.event for e in decoded][-3:] == ["content_block_stop", "message_delta",
                                               "message_stop"]
    assert decoded[-2].json()["delta"]["rill_stop_reason"] == stop_reason
    assert decoded[-2].json()["usage"]["output_tokens"] == tokens


async def stalled_reply(chat: Chat, *texts: str) -> str:
    turn = await chat.service.start_turn(TurnRequest(USER, BOT, "hi"))
    reader = chat.reader(turn.message_id)
    chat.provider.push([TextDelta(text) for text in texts])
    for _ in texts:
        await reader.until("content_block_delta")
    return turn.message_id


async def test_generation_recovery_and_rebuild_write_the_same_finale(
    chat_factory: ChatFactory,
) -> None:
    # The generation ends a reply as interrupted (shutdown) ...
    generated = await chat_factory(node_id="node-a")
    first = await stalled_reply(generated, "half a th", "ought")
    await generated.service.close(grace=0)
    by_generation = [e.payload for e in await generated.broker.read(f"chat:{first}")][-3:]

    # ... a recoverer ends the same reply left by a dead node ...
    dead = await chat_factory(node_id="node-x")
    second = await stalled_reply(dead, "half a th", "ought")
    recovery = NodeRecovery(dead.store, dead.broker, node_id="node-y", timeout=1,
                            stream_ttl=60)
    assert await recovery.recover_node("node-x") == 1
    by_recovery = [e.payload for e in await dead.broker.read(f"chat:{second}")][-3:]

    # ... and a resume rebuilds each from the store after its last body event.
    for message_id in (first, second):
        stored = await dead.store.get_message(USER, message_id)
        assert replay.rebuild(stored, "scripted-model", "4-14") == by_recovery

    assert by_generation == by_recovery
    assert SSEDecoder().feed(by_recovery[1])[0].json()["delta"]["rill_stop_reason"] == "interrupted"


async def test_a_failed_reply_rebuilt_from_the_store_ends_as_it_did_live(chat: Chat) -> None:
    turn = await chat.service.start_turn(TurnRequest(USER, BOT, "hi"))
    chat.provider.push([TextDelta("so far")], UpstreamError("the upstream said no"))
    await chat.follow_to_end(turn.message_id)
    live = [e.payload for e in await chat.broker.read(f"chat:{turn.message_id}")][-4:]

    stored = await chat.store.get_message(USER, turn.message_id)

    assert replay.rebuild(stored, "scripted-model", "3-6") == live
