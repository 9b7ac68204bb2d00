"""Spec § Subscribers (a maximum connection lifetime independent of ``exp``) and
§ Authorization Details (concurrent subscriptions per token, refused with 429).

One hub with a short lifetime (2 s) and two subscriptions per token.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conformance.conftest import SUBSCRIBER_KEY, Hub, detail, start_hub
from tests.integration.hub.conftest import subscribe

LIFETIME = 2.0
TIMER_STEP = 0.25  # min(1, heartbeat / 2), the hub's timer step


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    server, _ = start_hub(
        Path(tmp_path_factory.mktemp("conformance")),
        "limited",
        max_connection_seconds=str(LIFETIME),
        max_subscriptions_per_token="2",
    )
    yield Hub(server, None, None)
    server.stop()


def _client(hub: Hub) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=hub.url, timeout=10)


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_a_connection_ends_after_the_lifetime_though_its_token_is_valid(
    limited: Hub,
) -> None:
    reader = limited.token([detail(["subscribe"], "*")], key=SUBSCRIBER_KEY, ttl=3600)
    for headers in ({}, _auth(reader)):  # anonymous, and with a token an hour from exp
        started = time.monotonic()
        async with _client(limited) as c, subscribe(c, [("match", "life/a")], headers) as s:
            await s.ended(within=LIFETIME + 4)
        took = time.monotonic() - started
        # Closed at a random point in the lifetime's last tenth, by the hub's timer, which
        # closes up to one step early (never late): the fixture's heartbeat of 0.5 s makes
        # that step 0.25 s.
        assert LIFETIME * 0.9 - TIMER_STEP <= took < LIFETIME + 2.5, took


async def test_reconnecting_after_the_lifetime_loses_nothing(limited: Hub) -> None:
    publisher = limited.publisher()
    async with _client(limited) as c:
        async with subscribe(c, [("match", "life/b")]) as s:
            await asyncio.sleep(0.2)
            first = limited.publish([("topic", "life/b"), ("data", "1")], publisher).text
            assert (await s.next()).id == first
            await s.ended(within=LIFETIME + 4)
        # Published while no connection was open: the reconnect replays it.
        missed = limited.publish([("topic", "life/b"), ("data", "2")], publisher).text
        async with subscribe(c, [("match", "life/b")], {"Last-Event-ID": first}) as s:
            event = await s.next()
            assert (event.id, event.data) == (missed, "2")


async def test_subscriptions_per_token_are_limited_with_429(limited: Hub) -> None:
    token = limited.token([detail(["subscribe"], "*")], key=SUBSCRIBER_KEY, ttl=600)
    other = limited.token([detail(["subscribe"], "*")], key=SUBSCRIBER_KEY, ttl=600,
                          sub="urn:uuid:other")
    async with _client(limited) as c:
        async with subscribe(c, [("match", "lim/1")], _auth(token)), \
                subscribe(c, [("match", "lim/2")], _auth(token)):
            refused = await c.get("/.well-known/mercure", params={"match": "lim/3"},
                                  headers=_auth(token))
            assert refused.status_code == 429, refused.text
            assert refused.headers["content-type"] == "application/problem+json"
            assert int(refused.headers["retry-after"]) >= 1
            assert refused.json()["status"] == 429
            # Another token, and anonymous subscribers, are not counted against it.
            async with subscribe(c, [("match", "lim/4")], _auth(other)) as s:
                assert s.response.status_code == 200
            async with subscribe(c, [("match", "lim/5")]) as s:
                assert s.response.status_code == 200
        # Both closed: the token may subscribe again (the count follows closes).
        async def reopened() -> int:
            async with subscribe(c, [("match", "lim/6")], _auth(token)) as s:
                return s.response.status_code

        # The hub hears of the closes from the sockets: allow it a moment.
        statuses = []
        for _ in range(50):
            statuses.append(await reopened())
            if statuses[-1] == 200:
                break
            await asyncio.sleep(0.1)
        assert statuses[-1] == 200, statuses
