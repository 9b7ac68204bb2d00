"""CORS on every hub path, with the API's ``cors_origins`` policy, and one access-log line
per hub request (without its query string: it may carry the token)."""

from __future__ import annotations

import logging
from urllib.parse import urlencode

import httpx
import pytest

from tests.integration.hub.conftest import (
    PUBLISHER,
    HubServer,
    hub_token,
    subscribe,
    wait_until,
)

APP = "http://app.example"
EVIL = "http://evil.example"
FORM = "application/x-www-form-urlencoded"


def _cors(response: httpx.Response) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k.startswith("access-control-")}


async def _preflight(
    server: HubServer, origin: str, method: str = "POST", headers: str = "authorization",
    path: str = "/.well-known/mercure",
) -> httpx.Response:
    async with server.client() as c:
        return await c.options(path, headers={
            "Origin": origin, "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": headers})


async def test_preflight_from_a_listed_origin(hub_factory) -> None:
    server: HubServer = await hub_factory(cors_origins=[APP])
    r = await _preflight(server, APP, headers="Authorization, Content-Type, last-event-id")
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == APP
    assert r.headers["access-control-allow-credentials"] == "true"
    assert set(r.headers["access-control-allow-methods"].split(", ")) == {"GET", "POST", "OPTIONS"}
    allowed = {h.lower() for h in r.headers["access-control-allow-headers"].split(", ")}
    assert {"authorization", "content-type", "last-event-id", "cache-control"} <= allowed
    assert r.headers["access-control-max-age"] == "600"
    assert "Origin" in r.headers["vary"]
    # Every hub path answers preflights: the subscriptions API and the metadata too.
    for path in ("/.well-known/mercure/subscriptions",
                 "/.well-known/oauth-protected-resource/.well-known/mercure"):
        r = await _preflight(server, APP, method="GET", path=path)
        assert (r.status_code, r.headers["access-control-allow-origin"]) == (200, APP)


async def test_refused_preflights_get_no_grant(hub_factory) -> None:
    server: HubServer = await hub_factory(cors_origins=[APP])
    for origin, method, headers, failure in (
        (EVIL, "POST", "authorization", "origin"),
        (APP, "DELETE", "authorization", "method"),
        (APP, "POST", "x-secret", "headers"),
    ):
        r = await _preflight(server, origin, method, headers)
        assert r.status_code == 400, failure
        assert r.text == f"Disallowed CORS {failure}"
        assert _cors(r) == {}


async def test_without_cors_origins_the_hub_is_unchanged(hub_factory) -> None:
    server: HubServer = await hub_factory()
    r = await _preflight(server, APP)
    assert r.status_code == 405  # OPTIONS is no hub method: as before
    assert _cors(r) == {} and "vary" not in r.headers
    async with server.client() as c:
        r = await c.post("/.well-known/mercure", content=urlencode({"topic": "t", "data": "x"}),
                         headers={"Authorization": f"Bearer {PUBLISHER}", "Content-Type": FORM,
                                  "Origin": APP})
    assert r.status_code == 200
    assert _cors(r) == {} and "vary" not in r.headers


async def test_publish_from_a_listed_origin(hub_factory) -> None:
    server: HubServer = await hub_factory(cors_origins=[APP])
    async with server.client() as c, subscribe(c, {"match": "t"}, {"Origin": APP}) as s:
        assert s.response.headers["access-control-allow-origin"] == APP
        body = urlencode({"topic": "t", "data": "cross-origin"})
        r = await c.post("/.well-known/mercure", content=body, headers={
            "Authorization": f"Bearer {PUBLISHER}", "Content-Type": FORM, "Origin": APP})
        assert r.status_code == 200
        assert r.headers["access-control-allow-origin"] == APP
        assert r.headers["access-control-allow-credentials"] == "true"
        assert r.headers["vary"] == "Origin"
        exposed = {h.lower() for h in r.headers["access-control-expose-headers"].split(", ")}
        assert {"link", "mercure-last-event-id", "www-authenticate"} <= exposed
        assert (await s.next()).data == "cross-origin"
        # An error answers with the grant too, so the page can read why.
        r = await c.post("/.well-known/mercure", content=body,
                         headers={"Content-Type": FORM, "Origin": APP})
        assert r.status_code == 401
        assert r.headers["access-control-allow-origin"] == APP
        r = await c.post("/.well-known/mercure", content=body, headers={
            "Authorization": f"Bearer {PUBLISHER}", "Content-Type": FORM, "Origin": EVIL})
        assert r.status_code == 200
        assert _cors(r) == {}


async def test_any_origin_never_with_credentials(hub_factory) -> None:
    server: HubServer = await hub_factory(cors_origins=["*"])
    r = await _preflight(server, EVIL)
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in r.headers
    async with server.client() as c, subscribe(c, {"match": "t"}, {"Origin": EVIL}) as s:
        assert s.response.headers["access-control-allow-origin"] == "*"
        assert "access-control-allow-credentials" not in s.response.headers
        r = await c.get("/.well-known/oauth-protected-resource/.well-known/mercure",
                        headers={"Origin": EVIL, "Cookie": "mercureAuthorization=x"})
        assert r.headers["access-control-allow-origin"] == "*"
        assert "access-control-allow-credentials" not in r.headers


@pytest.mark.parametrize("direct", [True, False], ids=["direct", "asgi"])
async def test_one_access_log_line_per_hub_request_without_the_query(
    hub_factory, caplog: pytest.LogCaptureFixture, direct: bool
) -> None:
    # A short heartbeat: the ASGI path notices a gone subscriber on its next one.
    server: HubServer = await hub_factory(direct=direct, heartbeat_seconds=0.2)
    token = hub_token(subscribe=["*"])
    caplog.set_level(logging.INFO, logger="rill.access")
    async with server.client() as c:
        async with subscribe(c, {"match": "t", "authorization": token}) as s:
            await wait_until(lambda: len(server.hub.registry) == 1)
            assert (await server.publish("t", "logged")).status_code == 200
            assert (await s.next()).data == "logged"
        # The subscription is logged when it ends, as a chat stream.
        await wait_until(lambda: any(r.getMessage().startswith("GET ") for r in caplog.records))
    lines = [r.getMessage() for r in caplog.records if r.name == "rill.access"]
    assert [line.rsplit(" ", 1)[0] for line in lines] == [
        "POST /.well-known/mercure 200", "GET /.well-known/mercure 200"]
    assert all(line.endswith("ms") for line in lines)
    text = caplog.text
    assert token not in text and "authorization" not in text and "match=" not in text
