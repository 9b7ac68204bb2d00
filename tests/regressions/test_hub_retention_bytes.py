"""The hub's memory is bounded in bytes, not only in update count (issue 12, item 6).

Found by publishing 1,200 updates of 512 KiB to one topic with the default
settings: the server's RSS grew by 1.8 GiB, three times what was published,
because each retained update was held as the broker payload, as a decoded
string and as SSE bytes, with 10,000 of them retained whatever their size.
Here at a small scale: ``hub.retention_bytes`` of 1 MiB, 40 updates of 256 KiB,
with the memory broker and with Redis (whose stream must be trimmed in bytes too).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx
import pytest
import redis

from rill.auth.tokens import TokenIssuer
from rill.broker.redis.streams import shard_of
from rill.sse.decoder import SSEDecoder
from rill.sse.event import ServerSentEvent
from tests.conftest import REDIS_URL
from tests.reliability.support import clean_redis

SECRET = "retention-bytes-regression-secret-0123456789"
RETAINED = 1 << 20
SIZE = 256 * 1024
COUNT = 40


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


@contextlib.asynccontextmanager
async def events(
    client: httpx.AsyncClient, last_event_id: str | None = None
) -> AsyncIterator[tuple[httpx.Response, AsyncIterator[ServerSentEvent]]]:
    headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
    async with client.stream(
        "GET", "/.well-known/mercure", params={"match": "big"}, headers=headers
    ) as response:

        async def decoded() -> AsyncIterator[ServerSentEvent]:
            decoder = SSEDecoder()
            async for chunk in response.aiter_bytes():
                for event in decoder.feed(chunk):
                    if event.data:
                        yield event

        yield response, decoded()


async def take(stream: AsyncIterator[ServerSentEvent], count: int) -> list[ServerSentEvent]:
    got: list[ServerSentEvent] = []
    async with asyncio.timeout(60):
        async for event in stream:
            got.append(event)
            if len(got) == count:
                return got
    raise AssertionError(f"stream ended after {len(got)} of {count} events")


@pytest.mark.parametrize("broker", ["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def test_retention_is_bounded_in_bytes_and_live_subscribers_get_everything(
    server_factory, broker: str
) -> None:
    env = {"RILL_JWT_SECRET": SECRET, "RILL_HUB__RETENTION_BYTES": str(RETAINED)}
    if broker == "redis":
        clean_redis()
        env["RILL_BROKER_URL"] = REDIS_URL
    server = server_factory(env=env)
    token = TokenIssuer(SECRET).mint("p", ttl=600, mercure={"publish": ["*"]})
    pid = server.process.pid
    async with (
        httpx.AsyncClient(base_url=server.url, timeout=30) as publisher,
        httpx.AsyncClient(base_url=server.url, timeout=30) as a,
        httpx.AsyncClient(base_url=server.url, timeout=30) as b,
        events(a) as (_, first),
        events(b) as (_, second),
    ):

        async def publish(data: str) -> str:
            answer = await publisher.post(
                "/.well-known/mercure",
                data={"topic": "big", "data": data},
                headers={"Authorization": f"Bearer {token}"},
            )
            assert answer.status_code == 200, answer.text
            return answer.text

        await publish("warm-up")
        for stream in (first, second):
            await take(stream, 1)
        await asyncio.sleep(0.5)
        before = rss_kib(pid)
        readers = [asyncio.create_task(take(stream, COUNT)) for stream in (first, second)]
        datas = [f"{i:04d}".ljust(SIZE, "x") for i in range(COUNT)]
        ids = [await publish(data) for data in datas]
        # Every live subscriber gets every update, whatever retention keeps.
        for reader in readers:
            got = await reader
            assert [e.id for e in got] == ids
            assert [e.data for e in got] == datas
        await asyncio.sleep(0.5)
        grown_mib = (rss_kib(pid) - before) / 1024
    # 10 MiB were published; holding each update even once would grow RSS past
    # that (it grew by three times that before the fix). Loose: allocator noise.
    assert grown_mib < COUNT * SIZE / (1 << 20) / 2, f"RSS grew by {grown_mib:.1f} MiB"

    async with httpx.AsyncClient(base_url=server.url, timeout=30) as c:
        # A dropped id: answered ``earliest``, then the window retention kept.
        async with events(c, ids[0]) as (response, replay):
            assert response.headers["last-event-id"] == "earliest"
            kept = await take(replay, RETAINED // SIZE - 1)
        kept_ids = [e.id for e in kept]
        # Each update is stored as 256 KiB and a few hundred bytes: 3 fit in 1 MiB.
        assert kept_ids == ids[-3:]
        # An id still inside the window resumes right after it.
        async with events(c, kept_ids[0]) as (response, replay):
            assert response.headers["last-event-id"] == kept_ids[0]
            assert [e.id for e in await take(replay, 2)] == kept_ids[1:]
    if broker == "redis":
        with redis.Redis.from_url(REDIS_URL) as client:
            stream = client.xrange(f"rill:{{{shard_of('hub:updates')}}}s:hub:updates")
        assert [fields[b"d"][:4] for _, fields in stream[-3:]] == [b'{"i"'] * 3
        assert sum(len(fields[b"d"]) for _, fields in stream) <= RETAINED
