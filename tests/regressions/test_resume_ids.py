"""Issue 13: a resume must start from an id the reply really sent, and must not be cut
when the broker forgets the stream between the check and the read.

``Last-Event-ID`` is ``"<seq>-<offset>"``. An id the stream never sent (``3-2`` when
the event was ``3-6``, ``4-99``, numbers past any broker position) used to re-send
text or, on Redis, start a 200 and cut it ("stream position out of range"); it is
now refused with ``InvalidInput`` (422) before anything is sent, while the broker
holds the stream and after it expired alike. A stream that expires between
``resume``'s check and its first read used to abort the body with ``StreamMissing``;
the rest now comes from the store. In-process: the chat service on SQLite with the
memory broker and with Redis.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from rill.broker.base import Entry, StreamMissing
from rill.chat.service import TurnRequest, stream_name
from rill.config import BotConfig, Settings
from rill.errors import InvalidInput
from rill.http.app import build_services
from rill.http.services import Services
from tests.conftest import REDIS_URL

_ID = re.compile(rb"^id: (.+)$", re.M)
_TEXT = re.compile(rb'"text":"([^"]*)"')
QUESTION = "the quick brown fox jumps over the lazy dog"


@pytest.fixture(params=["memory", "redis"])
async def services(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Services]:
    broker = "memory://" if request.param == "memory" else REDIS_URL
    settings = Settings(
        data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'rill.db'}", broker_url=broker,
        bots=[BotConfig(id="echo", name="Echo", provider="echo", pace=0)],
        stream_ttl_seconds=60, node_id=f"test-{uuid.uuid4().hex[:8]}")
    built = await build_services(settings)
    await built.chat.start()
    try:
        yield built
    finally:
        await built.chat.close(0)
        await built.broker.close()
        await built.store.close()


async def collect(chunks: AsyncIterator[bytes] | None) -> bytes:
    assert chunks is not None
    return b"".join([chunk async for chunk in chunks])


async def finished_turn(services: Services) -> tuple[str, bytes]:
    turn = await services.chat.start_turn(TurnRequest("alice", "echo", QUESTION))
    return turn.message_id, await collect(services.chat.relay("alice", turn.message_id))


def ids_of(body: bytes) -> list[str]:
    return [m.decode() for m in _ID.findall(body)]


def text_of(body: bytes) -> str:
    return "".join(m.decode() for m in _TEXT.findall(body))


def unsent_ids(sent: list[str], *, streamed: bool) -> list[str]:
    pairs = [tuple(int(p) for p in i.split("-")) for i in sent]
    first_delta = next((s, o) for s, o in pairs if s >= 3)
    last_seq, length = pairs[-1]
    # Only the broker's stream knows each event's offset; the stored reply knows
    # the bounds (seq 1 and 2 at offset 0, the text's length, the final event).
    exact = [f"{first_delta[0]}-{first_delta[1] - 1}"] if streamed else []
    return [
        *exact,
        f"{first_delta[0] + 1}-{length + 50}",     # past the text
        "0-99999999999999999999",
        "99999999999999999999-0",
        "0-0",
        f"{last_seq + 1}-{length}",                # after the last event
        f"1-{length}",
    ]


async def check_every_id(
    services: Services, message_id: str, body: bytes, *, streamed: bool
) -> None:
    sent = ids_of(body)
    for unsent in unsent_ids(sent, streamed=streamed):
        with pytest.raises(InvalidInput, match="not an id this reply sent"):
            await services.chat.resume("alice", message_id, unsent)
    full = text_of(body)
    for sent_id in sent[:-1]:
        rest = await collect(await services.chat.resume("alice", message_id, sent_id))
        upto = int(sent_id.split("-")[1])
        assert full[:upto] + text_of(rest) == full, sent_id
        assert rest.rstrip().endswith(b'{"type":"message_stop"}')
    assert await services.chat.resume("alice", message_id, sent[-1]) is None


async def test_resume_refuses_ids_the_stream_never_sent(services: Services) -> None:
    message_id, body = await finished_turn(services)
    await check_every_id(services, message_id, body, streamed=True)


async def test_after_the_stream_expired_the_stored_reply_decides(services: Services) -> None:
    message_id, body = await finished_turn(services)
    await services.broker.end(stream_name(message_id), ttl=0.05)
    for _ in range(100):
        try:
            await services.broker.last_id(stream_name(message_id))
        except StreamMissing:
            break
        await asyncio.sleep(0.05)
    else:
        pytest.fail("the stream did not expire")
    await check_every_id(services, message_id, body, streamed=False)


async def test_a_stream_gone_between_check_and_read_is_rebuilt(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    message_id, body = await finished_turn(services)
    sent = ids_of(body)
    # ``resume`` has found the stream (it exists and its end is behind the client's
    # id); it expires just before the first read, as at the TTL boundary.
    read = services.broker.subscribe_batches

    async def expired(stream: str, after: str | None = None) -> AsyncIterator[list[Entry]]:
        monkeypatch.setattr(services.broker, "subscribe_batches", read)
        raise StreamMissing(stream)
        yield []  # pragma: no cover - makes this an async generator, as the real one

    monkeypatch.setattr(services.broker, "subscribe_batches", expired)
    rest = await collect(await services.chat.resume("alice", message_id, sent[2]))
    upto = int(sent[2].split("-")[1])
    assert text_of(body)[:upto] + text_of(rest) == text_of(body)
    assert ids_of(rest)[-1] == sent[-1]
    assert rest.rstrip().endswith(b'{"type":"message_stop"}')
