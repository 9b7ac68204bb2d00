"""Rate limits: chat turns per user and hub publishes per token, 429 with Retry-After.

In-process buckets on one node; with a Redis broker the bucket is shared, so the
limit holds across nodes (two servers, one Redis).
"""

from __future__ import annotations

import threading
import time
from urllib.parse import urlencode

import httpx
import pytest

from rill.auth.tokens import TokenIssuer
from rill.ratelimit import MemoryLimiter, Rate, token_key
from tests.reliability.support import REDIS_URL, clean_redis, session

ECHO = '[[bots]]\nid = "echo"\nname = "Echo"\nprovider = "echo"\npace = 0\n'
SECRET = "rate-limit-test-secret-0123456789abcdef"


def test_token_bucket_refills_at_its_rate() -> None:
    now = [100.0]
    limiter = MemoryLimiter("t", Rate(per_second=2, burst=3), "things", clock=lambda: now[0])
    assert [limiter.take_now("a") for _ in range(3)] == [0, 0, 0]
    assert limiter.take_now("a") == pytest.approx(0.5)
    assert limiter.take_now("b") == 0, "buckets are per key"
    now[0] += 0.5
    assert limiter.take_now("a") == 0
    now[0] += 100
    assert [limiter.take_now("a") for _ in range(3)] == [0, 0, 0], "refills only up to the burst"
    assert limiter.take_now("a") > 0


def test_in_process_buckets_are_bounded() -> None:
    limiter = MemoryLimiter("t", Rate(1, 1), "things", max_keys=100)
    for i in range(1000):
        limiter.take_now(f"user{i}")
    assert len(limiter) == 100


def test_token_key_does_not_contain_the_token() -> None:
    assert "secret" not in token_key("secret-token") and len(token_key("x")) == 32


def _turn(client: httpx.Client) -> httpx.Response:
    with client.stream("POST", "/api/chat", json={"chatbotId": "echo", "message": "hi"}) as r:
        r.read()
        return r


def _assert_429(response: httpx.Response) -> None:
    assert response.status_code == 429, response.text
    assert int(response.headers["retry-after"]) >= 1
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["status"] == 429


def test_chat_turns_are_limited_per_user(server_factory) -> None:
    server = server_factory(config=ECHO, env={"RILL_CHAT_TURNS_PER_MINUTE": "6",
                                              "RILL_CHAT_TURNS_BURST": "3"})
    _, alice = session(server.url)
    _, bob = session(server.url)
    with alice, bob:
        assert [_turn(alice).status_code for _ in range(3)] == [200, 200, 200]
        refused = _turn(alice)
        _assert_429(refused)
        assert 1 <= int(refused.headers["retry-after"]) <= 10
        assert _turn(bob).status_code == 200, "another user has a bucket of their own"
        # A refused turn stored nothing.
        history = alice.get("/api/history", params={"chatbotId": "echo"}).json()["messages"]
        assert len(history) == 6


def _publish(url: str, token: str, data: str = "x") -> httpx.Response:
    return httpx.post(
        f"{url}/.well-known/mercure",
        content=urlencode({"topic": "rl/t", "data": data}),
        headers={"Authorization": f"Bearer {token}",
                 "Content-Type": "application/x-www-form-urlencoded"},
        timeout=10,
    )


def _hub_token(subject: str | None, **claims: object) -> str:
    return TokenIssuer(SECRET).mint(subject, ttl=3600, mercure={"publish": ["*"]}, **claims)


def test_hub_publishes_are_limited_per_subject(server_factory) -> None:
    server = server_factory(config=ECHO, env={
        "RILL_JWT_SECRET": SECRET, "RILL_HUB__PUBLISHES_PER_SECOND": "0.5",
        "RILL_HUB__PUBLISH_BURST": "3"})
    first, second = _hub_token("pub-1"), _hub_token("pub-2")
    assert [_publish(server.url, first).status_code for _ in range(3)] == [200] * 3
    _assert_429(_publish(server.url, first))
    assert _publish(server.url, second).status_code == 200
    # Issue 13: a second token for the same subject draws from the same bucket.
    again = _hub_token("pub-1", jti="another-token")
    assert again != first
    _assert_429(_publish(server.url, again))
    # Tokens without a subject have nothing to share: a bucket per token.
    anonymous = [_hub_token(None, jti=f"t{i}") for i in range(2)]
    assert [_publish(server.url, anonymous[0]).status_code for _ in range(3)] == [200] * 3
    _assert_429(_publish(server.url, anonymous[0]))
    assert _publish(server.url, anonymous[1]).status_code == 200


@pytest.mark.redis
def test_limits_hold_across_nodes_sharing_redis(server_factory) -> None:
    clean_redis()
    env = {"RILL_JWT_SECRET": SECRET, "RILL_BROKER_URL": REDIS_URL,
           "RILL_CHAT_TURNS_PER_MINUTE": "2", "RILL_CHAT_TURNS_BURST": "4",
           "RILL_HUB__PUBLISHES_PER_SECOND": "0.2", "RILL_HUB__PUBLISH_BURST": "4"}
    nodes = [server_factory(config=ECHO, env=env) for _ in range(2)]
    user = TokenIssuer(SECRET).mint("carol", ttl=3600)
    clients = [n.client(headers={"Authorization": f"Bearer {user}"}) for n in nodes]
    try:
        statuses = [_turn(clients[i % 2]).status_code for i in range(4)]
        assert statuses == [200] * 4
        _assert_429(_turn(clients[0]))
        _assert_429(_turn(clients[1]))
    finally:
        for c in clients:
            c.close()
    token = _hub_token("pub-shared")
    assert [_publish(nodes[i % 2].url, token).status_code for i in range(4)] == [200] * 4
    _assert_429(_publish(nodes[0].url, token))
    _assert_429(_publish(nodes[1].url, token))


def test_concurrent_turns_cannot_overdraw_the_bucket(server_factory) -> None:
    """Eight turns at once against a burst of three: exactly three get in."""
    server = server_factory(config=ECHO, env={"RILL_CHAT_TURNS_PER_MINUTE": "1",
                                              "RILL_CHAT_TURNS_BURST": "3",
                                              "RILL_MAX_CONCURRENT_GENERATIONS": "20"})
    token, client = session(server.url)
    client.close()
    statuses: list[int] = []
    barrier = threading.Barrier(8)

    def one() -> None:
        with httpx.Client(base_url=server.url, timeout=30,
                          headers={"Authorization": f"Bearer {token}"}) as c:
            barrier.wait(timeout=10)
            statuses.append(_turn(c).status_code)

    threads = [threading.Thread(target=one) for _ in range(8)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert time.monotonic() - started < 30
    assert sorted(statuses) == [200] * 3 + [429] * 5
