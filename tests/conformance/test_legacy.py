"""What Rill keeps from the previous revision, each behind a setting (docs/mercure.md):
on by default unless the setting says otherwise, and gone on the strict hub."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import pytest

from tests.conformance.conftest import PUBLISHER_KEY, SUBSCRIBER_KEY, Hub, detail, start_hub
from tests.integration.hub.conftest import subscribe


def _legacy_token(key: str, ttl: float | None = 600, **mercure: Any) -> str:
    """The previous revision's token: a ``mercure`` claim, no ``typ``."""
    body: dict[str, Any] = {"mercure": mercure}
    if ttl is not None:
        body["exp"] = int(time.time() + ttl)
    return jwt.encode(body, key, algorithm="HS256")


@pytest.fixture(scope="module")
def query_token_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    server, _ = start_hub(tmp_path_factory.mktemp("conformance"), "query", query_token="true")
    yield Hub(server, None, None)
    server.stop()


def test_mercure_claim_publishes_on_default_hub_only(default: Hub, strict: Hub) -> None:
    token = _legacy_token(PUBLISHER_KEY, publish=["*"])
    assert default.publish([("topic", "legacy/t")], token).status_code == 200
    assert strict.publish([("topic", "legacy/t")], token).status_code == 401


def test_a_token_without_exp_is_refused_even_for_legacy_claims(default: Hub) -> None:
    r = default.publish([("topic", "legacy/t")], _legacy_token(PUBLISHER_KEY, None, publish=["*"]))
    assert r.status_code == 401 and 'error="invalid_token"' in r.headers["www-authenticate"]


def test_match_type_camel_case_in_details_on_default_hub(default: Hub) -> None:
    token = default.token([detail(["publish"], {"match": "b/:id", "matchType": "URLPattern"})])
    assert default.publish([("topic", "b/1")], token).status_code == 200


async def test_topic_parameter_last_event_id_and_cookie(default: Hub) -> None:
    publisher = default.publisher()
    first = default.publish([("topic", "legacy/books/1")], publisher).text
    second = default.publish([("topic", "legacy/books/2"), ("private", "on")], publisher).text
    reader = _legacy_token(SUBSCRIBER_KEY, subscribe=["legacy/books/{id}"])
    async with (
        httpx.AsyncClient(base_url=default.url, timeout=10,
                          cookies={"mercureAuthorization": reader}) as c,
        subscribe(c, [("topic", "legacy/books/{id}"), ("lastEventID", first)]) as s,
    ):
        assert s.response.headers["last-event-id"] == first
        assert (await s.next()).id == second
    async with (
        httpx.AsyncClient(base_url=default.url, timeout=10) as c,
        subscribe(c, [("matchURLPattern", "legacy/books/:id"), ("lastEventID", "earliest")]) as s,
    ):
        assert (await s.next()).id == first


def test_query_token_hub_advertises_query(query_token_hub: Hub) -> None:
    hub = query_token_hub
    meta = httpx.get(f"{hub.url}/.well-known/oauth-protected-resource/.well-known/mercure")
    assert meta.json()["bearer_methods_supported"] == ["header", "query"]
    # Publishing never takes a token from the URL.
    r = httpx.post(hub.hub_url, params={"access_token": hub.publisher()}, content="topic=t",
                   headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 401


async def test_query_token_subscribes_when_enabled(query_token_hub: Hub) -> None:
    hub = query_token_hub
    reader = hub.subscriber("legacy/q")
    async with (
        httpx.AsyncClient(base_url=hub.url, timeout=10) as c,
        subscribe(c, [("match", "legacy/q"), ("access_token", reader)]) as s,
    ):
        await asyncio.sleep(0.2)
        r = hub.publish([("topic", "legacy/q"), ("private", "on")], hub.publisher())
        assert (await s.next()).id == r.text
