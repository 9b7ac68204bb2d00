"""Resume: a reply cut at any byte continues from Last-Event-ID to exactly the full text."""

from __future__ import annotations

import random

import httpx

from rill.sse import SSEDecoder
from tests.reliability.support import poll

from .helpers import authed, chat, problem, read_stream, resume

WORDS = " ".join(f"word{i}" for i in range(40)) + " 끝."


def _cut_and_resume(client: httpx.Client, bot: str, cut_at: int) -> tuple[str, str]:
    """Send, drop the connection after ``cut_at`` bytes, resume; return (text, message_id)."""
    with client.stream("POST", "/api/chat", json={"chatbotId": bot, "message": WORDS}) as r:
        first = read_stream(r, stop_after_bytes=cut_at)
    assert first.events, "the cut must fall after message_start"
    rest = resume(client, first.message_id, first.last_id)
    assert rest.status == 200, rest.raw
    assert rest.names[-1] == "message_stop"
    ids = [e.id for e in first.events + rest.events]
    assert len(ids) == len(set(ids)), "an event arrived twice"
    return first.text + rest.text, first.message_id


def test_resume_mid_generation_at_random_bytes(rill_server):
    rng = random.Random(7)
    with authed(rill_server.url) as client:
        probe = chat(client, "slow", WORDS)
        size = len(probe.raw)
        start_len = probe.raw.index(b"\n\n", probe.raw.index(b"message_start")) + 2
        for _ in range(4):
            text, _ = _cut_and_resume(client, "slow", rng.randrange(start_len, size - 1))
            assert text == WORDS


def test_resume_after_finish_at_every_event(rill_server):
    with authed(rill_server.url) as client:
        full = chat(client, "echo", WORDS)
        for index, event in enumerate(full.events[:-1]):
            rest = resume(client, full.message_id, event.id)
            assert rest.status == 200
            before = "".join(
                e.json()["delta"]["text"] for e in full.events[: index + 1]
                if e.event == "content_block_delta"
            )
            assert before + rest.text == WORDS
            assert rest.names == full.names[index + 1:]


def test_resume_from_start_and_nothing_left(rill_server):
    with authed(rill_server.url) as client:
        full = chat(client, "echo", "short one")
        again = resume(client, full.message_id, None)
        assert again.text == "short one" and again.names == full.names
        done = resume(client, full.message_id, full.last_id)
        assert done.status == 204


def test_resume_via_query_parameter_for_eventsource(rill_server):
    with authed(rill_server.url) as client:
        full = chat(client, "echo", "query param resume")
        cut = full.events[3].id
        r = client.get(f"/api/chat/{full.message_id}/stream", params={"lastEventId": cut})
        decoder = SSEDecoder()
        events = decoder.feed(r.content)
        assert [e.event for e in events] == full.names[4:]


def test_resume_rejects_foreign_and_malformed(rill_server):
    with authed(rill_server.url) as alice, authed(rill_server.url) as bob:
        mine = chat(alice, "echo", "private words")
        stolen = resume(bob, mine.message_id, None)
        assert stolen.status == 404 and problem(stolen)["status"] == 404
        assert bob.post(f"/api/chat/{mine.message_id}/cancel").status_code == 404
        bad = resume(alice, mine.message_id, "garbage")
        assert bad.status == 400 or bad.status == 422
        assert resume(alice, "msg_unknown", None).status == 404


def test_resume_after_broker_forgot_the_stream(server_factory):
    server = server_factory(env={"RILL_STREAM_TTL_SECONDS": "0.3"})
    with authed(server.url) as client:
        full = chat(client, "echo", WORDS)
        # Once the stream has expired, a resume is rebuilt: its missing text in one delta.
        poll(lambda: resume(client, full.message_id, full.events[0].id)
             .names.count("content_block_delta") == 1, within=10, what="the stream to expire")
        for event in (full.events[0], full.events[5], full.events[-3]):
            index = full.events.index(event)
            rest = resume(client, full.message_id, event.id)
            before = "".join(
                e.json()["delta"]["text"] for e in full.events[: index + 1]
                if e.event == "content_block_delta"
            )
            assert before + rest.text == WORDS
            # The rebuilt stream folds the missing deltas into one; the rest matches.
            expected = [n for n in full.names[index + 1:] if n != "content_block_delta"]
            assert [n for n in rest.names if n != "content_block_delta"] == expected
            # Ids of a rebuilt stream resume consistently too.
            again = resume(client, full.message_id, rest.events[0].id)
            assert again.names == rest.names[1:]
        assert resume(client, full.message_id, full.last_id).status == 204
