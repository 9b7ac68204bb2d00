"""New anonymous sessions are limited per client address (issue 13: minting a fresh
user per turn escaped every per-user limit, 40 of 40 turns accepted).

The address is the peer's, or what a trusted proxy says in ``X-Forwarded-For``;
with a Redis broker every node draws from one bucket.
"""

from __future__ import annotations

import httpx
import pytest
import redis

from tests.conftest import REDIS_URL

LIMIT = {"RILL_SESSIONS_PER_MINUTE": "6", "RILL_SESSIONS_BURST": "3"}


def _mint(url: str, forwarded_for: str | None = None, token: str | None = None) -> httpx.Response:
    headers = {}
    if forwarded_for:
        headers["X-Forwarded-For"] = forwarded_for
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.post(f"{url}/api/session", headers=headers, timeout=10)


def _assert_429(response: httpx.Response) -> None:
    assert response.status_code == 429, response.text
    assert 1 <= int(response.headers["retry-after"]) <= 20
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 429


def test_new_sessions_are_limited_per_address(server_factory) -> None:
    server = server_factory(env=LIMIT)
    minted = [_mint(server.url) for _ in range(3)]
    assert [r.status_code for r in minted] == [200, 200, 200]
    _assert_429(_mint(server.url))
    # Renewing a session creates no user: not limited.
    renewed = _mint(server.url, token=minted[0].json()["token"])
    assert renewed.status_code == 200
    assert renewed.json()["userId"] == minted[0].json()["userId"]


def test_a_trusted_proxy_is_keyed_per_forwarded_client(server_factory) -> None:
    server = server_factory(env=LIMIT)  # default trusted_proxies: loopback
    assert [_mint(server.url, "203.0.113.7").status_code for _ in range(3)] == [200] * 3
    _assert_429(_mint(server.url, "203.0.113.7"))
    _assert_429(_mint(server.url, "198.51.100.1, 203.0.113.7"))  # the proxy appended it
    assert _mint(server.url, "203.0.113.8").status_code == 200
    assert _mint(server.url).status_code == 200, "the proxy itself has its own bucket"


def test_forwarded_for_from_an_untrusted_peer_is_ignored(server_factory) -> None:
    server = server_factory(env={**LIMIT, "RILL_TRUSTED_PROXIES": "[]"})
    statuses = [_mint(server.url, f"203.0.113.{i}").status_code for i in range(4)]
    assert statuses == [200, 200, 200, 429]


@pytest.mark.redis
def test_the_limit_holds_across_nodes_sharing_redis(server_factory) -> None:
    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(match="rill:ratelimit:session:*"):
        client.delete(key)
    client.close()
    env = {**LIMIT, "RILL_BROKER_URL": REDIS_URL}
    nodes = [server_factory(env=env) for _ in range(2)]
    statuses = [_mint(nodes[i % 2].url, "192.0.2.44").status_code for i in range(3)]
    assert statuses == [200] * 3
    _assert_429(_mint(nodes[0].url, "192.0.2.44"))
    _assert_429(_mint(nodes[1].url, "192.0.2.44"))
