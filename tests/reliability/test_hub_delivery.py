"""Nothing lost on the hub: concurrent publishers, subscribers that drop and reconnect
with ``Last-Event-ID`` at random; every acknowledged update arrives exactly once per
matching subscriber, in the hub's one order (so in publish order per topic).

With the memory broker on one node; with Redis on two nodes, subscribers reconnecting
to either. A subscriber whose id fell out of the retention window is told
(``Last-Event-ID: earliest``, the spec's answer) instead of being silently skipped.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field
from urllib.parse import urlencode

import httpx
import pytest

from rill.auth.tokens import TokenIssuer
from rill.sse import SSEDecoder
from tests.reliability.support import REDIS_URL, SOAK, clean_redis, scaled

SECRET = "hub-delivery-test-secret-0123456789abcdef"
PUBLISHERS = 4
TOPICS = [f"https://example.com/d/{i}" for i in range(4)]
#: Each subscriber: the topics it asks for.
SUBSCRIBERS = [TOPICS, TOPICS[:2], TOPICS[2:3], [TOPICS[3], TOPICS[0]]]
DEADLINE = 240 if SOAK else 90
#: A subscriber that already has everything notices the end on its next chunk; a
#: heartbeat every half second bounds that wait.
QUICK_HEARTBEAT = {"RILL_HUB__HEARTBEAT_SECONDS": "0.5"}


def _publisher_token() -> str:
    return TokenIssuer(SECRET).mint("publisher", ttl=3600, mercure={"publish": ["*"]})


@dataclass
class Subscriber:
    topics: list[str]
    urls: list[str]
    rng: random.Random
    ids: list[str] = field(default_factory=list)
    reconnects: int = 0
    unknown_resumes: int = 0


async def _follow(sub: Subscriber, ready: asyncio.Event, expected: asyncio.Future[set[str]]
                  ) -> None:
    """Read, drop after a random number of events, reconnect from the last id; until done."""
    params = [("match", t) for t in sub.topics]
    async with httpx.AsyncClient(timeout=httpx.Timeout(10, read=30)) as client:
        while True:
            headers = {"Last-Event-ID": sub.ids[-1]} if sub.ids else {}
            budget = sub.rng.randint(1, 80)
            url = sub.rng.choice(sub.urls)
            async with client.stream("GET", f"{url}/.well-known/mercure", params=params,
                                     headers=headers) as response:
                assert response.status_code == 200
                if sub.ids and response.headers.get("last-event-id") != sub.ids[-1]:
                    sub.unknown_resumes += 1
                ready.set()
                decoder = SSEDecoder()
                async for chunk in response.aiter_raw():
                    for event in decoder.feed(chunk):
                        if event.id:
                            sub.ids.append(event.id)
                            budget -= 1
                    if expected.done() and len(set(sub.ids)) >= len(expected.result()):
                        return
                    if budget <= 0:
                        break
            sub.reconnects += 1
            if sub.rng.random() < 0.5:
                # Offline for a moment while publishing goes on: the replay path.
                await asyncio.sleep(sub.rng.random() * 0.05)


async def _publish_all(url: str, publisher: int, count: int, rng: random.Random,
                       acked: list[tuple[int, int, str, str]]) -> None:
    token = _publisher_token()
    async with httpx.AsyncClient(base_url=url, timeout=30, headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/x-www-form-urlencoded"}) as client:
        for i in range(count):
            topic = rng.choice(TOPICS)
            r = await client.post("/.well-known/mercure",
                                  content=urlencode({"topic": topic, "data": f"{publisher}:{i}"}))
            assert r.status_code == 200, r.text
            acked.append((publisher, i, topic, r.text))


async def _run(urls: list[str], total: int) -> None:
    rng = random.Random(7)
    subscribers = [Subscriber(topics, urls, random.Random(rng.random()))
                   for topics in SUBSCRIBERS]
    readies = [asyncio.Event() for _ in subscribers]
    expected_all: asyncio.Future[set[str]] = asyncio.get_running_loop().create_future()
    per_sub = [asyncio.get_running_loop().create_future() for _ in subscribers]
    followers = [asyncio.create_task(_follow(s, r, f))
                 for s, r, f in zip(subscribers, readies, per_sub, strict=True)]
    started = time.monotonic()
    async with asyncio.timeout(DEADLINE):
        for ready in readies:
            await ready.wait()
        acked: list[tuple[int, int, str, str]] = []
        await asyncio.gather(*(
            _publish_all(urls[p % len(urls)], p, total // PUBLISHERS, random.Random(p), acked)
            for p in range(PUBLISHERS)))
        published = time.monotonic() - started
        expected_all.set_result({a[3] for a in acked})
        for sub, future in zip(subscribers, per_sub, strict=True):
            future.set_result({a[3] for a in acked if a[2] in sub.topics})
        await asyncio.gather(*followers)
    elapsed = time.monotonic() - started

    # The reference order: everything retained, replayed from the start.
    async with httpx.AsyncClient(timeout=30) as client, client.stream(
            "GET", f"{urls[-1]}/.well-known/mercure",
            params={"match": "*", "lastEventID": "earliest"}) as response:
        order: list[str] = []
        decoder = SSEDecoder()
        async for chunk in response.aiter_raw():
            order += [e.id for e in decoder.feed(chunk) if e.id]
            if len(order) >= len(acked):
                break
    assert set(order) == expected_all.result()
    position = {update_id: i for i, update_id in enumerate(order)}
    # Each publisher's own updates are in the order it published them.
    for p in range(PUBLISHERS):
        mine = [a[3] for a in sorted(a for a in acked if a[0] == p)]
        assert [position[i] for i in mine] == sorted(position[i] for i in mine)
    for sub, future in zip(subscribers, per_sub, strict=True):
        assert len(sub.ids) == len(set(sub.ids)), "an update was delivered twice"
        assert set(sub.ids) == future.result(), "an acknowledged update was lost"
        assert [position[i] for i in sub.ids] == sorted(position[i] for i in sub.ids), \
            "delivered out of the hub's order"
        assert sub.unknown_resumes == 0, "a retained id was not recognised"
    reconnects = sum(s.reconnects for s in subscribers)
    delivered = sum(len(s.ids) for s in subscribers)
    print(f"hub delivery on {len(urls)} node(s): {len(acked)} updates, {delivered} deliveries, "
          f"{reconnects} reconnects, 0 lost, 0 duplicated, published in {published:.1f}s, "
          f"all delivered in {elapsed:.1f}s")


async def test_delivery_exactly_once_through_random_reconnects(server_factory) -> None:
    total = scaled(2000, 10_000)
    env = {"RILL_JWT_SECRET": SECRET, "RILL_HUB__PUBLISHES_PER_SECOND": "0",
           "RILL_HUB__RETENTION_COUNT": str(total * 2), **QUICK_HEARTBEAT}
    server = await asyncio.to_thread(server_factory, env=env)
    await _run([server.url], total)


@pytest.mark.redis
async def test_delivery_exactly_once_across_two_nodes_on_redis(server_factory) -> None:
    clean_redis()
    total = scaled(1000, 10_000)
    env = {"RILL_JWT_SECRET": SECRET, "RILL_HUB__PUBLISHES_PER_SECOND": "0",
           "RILL_BROKER_URL": REDIS_URL, "RILL_HUB__RETENTION_COUNT": str(total * 2),
           **QUICK_HEARTBEAT}
    nodes = [await asyncio.to_thread(server_factory, env=env) for _ in range(2)]
    await _run([n.url for n in nodes], total)


async def test_an_id_out_of_retention_is_reported_not_skipped(server_factory) -> None:
    env = {"RILL_JWT_SECRET": SECRET, "RILL_HUB__RETENTION_COUNT": "20"}
    server = await asyncio.to_thread(server_factory, env=env)
    acked: list[tuple[int, int, str, str]] = []
    await _publish_all(server.url, 0, 60, random.Random(1), acked)
    gone, kept = acked[5][3], [a[3] for a in acked[-20:]]
    async with httpx.AsyncClient(timeout=10) as client, client.stream(
            "GET", f"{server.url}/.well-known/mercure", params={"match": "*"},
            headers={"Last-Event-ID": gone}) as response:
        assert response.headers["last-event-id"] == "earliest"
        assert response.headers["mercure-last-event-id"] == "earliest"
        got: list[str] = []
        decoder = SSEDecoder()
        async with asyncio.timeout(10):
            async for chunk in response.aiter_raw():
                got += [e.id for e in decoder.feed(chunk) if e.id]
                if len(got) >= len(kept):
                    break
        assert got == kept
