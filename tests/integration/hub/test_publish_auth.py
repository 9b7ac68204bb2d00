"""Publish validation and authorization failures (RFC 9457 bodies, RFC 6750 challenges)."""

from __future__ import annotations

import time
from urllib.parse import urlencode

import jwt
import pytest

from tests.integration.hub.conftest import KEY, HubServer, hub_token, subscribe

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


async def _post(
    server: HubServer,
    body: str | list[tuple[str, str]],
    token: str | None,
    content_type: str = FORM["Content-Type"],
):
    headers = {"Content-Type": content_type}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    content = body if isinstance(body, str) else urlencode(body)
    async with server.client() as c:
        return await c.post("/.well-known/mercure", content=content, headers=headers)


@pytest.mark.parametrize(
    ("form", "status"),
    [
        ([("data", "no topic")], 400),
        ([("topic", "a\nb"), ("data", "x")], 400),
        ([("topic", "a\x00b"), ("data", "x")], 400),
        ([("topic", "a\x85b"), ("data", "x")], 400),
        ([("topic", "t"), ("id", "bad\nid")], 400),
        ([("topic", "t"), ("id", "#fragment")], 400),
        ([("topic", "t"), ("type", "evil\r\ndata: injected")], 400),
        ([("topic", "t"), ("retry", "12a")], 400),
        ([("topic", "t"), ("data", "x" * 2048)], 413),
        ([("topic", "t" * 300)], 413),
        ([("topic", f"t{i}") for i in range(11)], 400),
    ],
)
async def test_publish_validation(hub_factory, form, status) -> None:
    server = await hub_factory(max_data_bytes=1024, max_topic_length=256, max_topics=10)
    r = await _post(server, form, hub_token(publish=["*"]))
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    problem = r.json()
    assert problem["status"] == status and problem["type"].startswith("https://rill.dev/problems/")


async def test_publish_rejects_invalid_utf8_and_wrong_content_type(hub_server: HubServer) -> None:
    r = await _post(hub_server, "topic=t&data=%FF%FE", hub_token(publish=["*"]))
    assert r.status_code == 400
    r = await _post(hub_server, '{"topic": "t"}', hub_token(publish=["*"]), "application/json")
    assert r.status_code == 400


async def test_reserved_namespace_is_refused(hub_server: HubServer) -> None:
    # The spec's answer is 400 (tests/conformance covers the encoded variants).
    for topic in (
        "/.well-known/mercure/subscriptions/exact/a/b",
        "https://elsewhere.example/.well-known/mercure/subscriptions/x",
    ):
        r = await _post(hub_server, [("topic", topic)], hub_token(publish=["*"]))
        assert r.status_code == 400, topic


async def test_publisher_ids_are_honoured_and_generated_ids_unique(hub_server: HubServer) -> None:
    r = await hub_server.publish("t", id="https://example.com/revisions/42")
    assert r.text == "https://example.com/revisions/42"
    assert r.headers["content-type"].startswith("text/plain")
    ids = {(await hub_server.publish("t")).text for _ in range(20)}
    assert len(ids) == 20 and all(i.startswith("urn:uuid:") for i in ids)


async def test_data_with_newlines_cannot_inject_fields(hub_server: HubServer) -> None:
    async with hub_server.client() as c, subscribe(c, {"match": "t"}) as s:
        await hub_server.publish("t", "line1\nid: forged\r\nevent: evil\rdata: x")
        event = await s.next()
        assert event.data == "line1\nid: forged\nevent: evil\ndata: x"
        assert event.event == "message" and event.id.startswith("urn:uuid:")


def _expired() -> str:
    return hub_token(publish=["*"], exp=int(time.time()) - 60)


def _alg_none() -> str:
    return jwt.encode({"mercure": {"publish": ["*"]}}, None, algorithm="none")


@pytest.mark.parametrize(
    ("token", "status", "error"),
    [
        (None, 401, None),
        (hub_token(publish=["*"], key="another-key-another-key-another-key"), 401, "invalid_token"),
        ("not.a.jwt", 401, "invalid_token"),
        (_expired(), 401, "invalid_token"),
        (_alg_none(), 401, "invalid_token"),
        (hub_token(publish=["other/*"]), 403, "insufficient_scope"),
        (hub_token(subscribe=["*"]), 403, "insufficient_scope"),
        (
            hub_token(
                details=[{"type": "mercure", "actions": ["fly"], "topics": [{"match": "*"}]}]
            ),
            # An action the hub does not know grants nothing, and rejects nothing (spec).
            403,
            "insufficient_scope",
        ),
        (
            hub_token(
                details=[
                    {
                        "type": "mercure",
                        "actions": ["publish"],
                        "topics": [{"match": "t", "matchType": "Regex"}],
                    }
                ]
            ),
            401,
            "invalid_token",
        ),
        (hub_token(publish=["*"], headers={"typ": "id+jwt"}), 401, "invalid_token"),
    ],
)
async def test_publish_authorization_failures(hub_server: HubServer, token, status, error) -> None:
    r = await _post(hub_server, [("topic", "t"), ("data", "x")], token)
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    challenge = r.headers["www-authenticate"]
    assert challenge.startswith("Bearer ")
    if error is None:
        assert "error=" not in challenge and "resource_metadata=" in challenge
    else:
        assert f'error="{error}"' in challenge


async def test_authorization_details_grant_publish(hub_server: HubServer) -> None:
    token = hub_token(
        details=[
            {
                "type": "mercure",
                "actions": ["publish"],
                "topics": [{"match": "prices/:s", "matchType": "URLPattern"}],
            }
        ]
    )
    assert (await _post(hub_server, [("topic", "prices/BTC")], token)).status_code == 200
    assert (await _post(hub_server, [("topic", "stock/BTC")], token)).status_code == 403


async def test_audience_and_issuer_are_checked(hub_factory) -> None:
    server = await hub_factory(
        jwt_audience="https://hub.example", jwt_issuer="https://issuer.example"
    )
    good = hub_token(publish=["*"], aud="https://hub.example", iss="https://issuer.example")
    assert (await _post(server, [("topic", "t")], good)).status_code == 200
    for bad in (
        hub_token(publish=["*"], aud="https://other.example", iss="https://issuer.example"),
        hub_token(publish=["*"], aud="https://hub.example", iss="https://evil.example"),
        hub_token(publish=["*"]),
    ):
        r = await _post(server, [("topic", "t")], bad)
        assert r.status_code == 401 and 'error="invalid_token"' in r.headers["www-authenticate"]


async def test_subscribe_authorization_failures(hub_factory) -> None:
    server = await hub_factory(anonymous=False)
    async with server.client() as c:
        r = await c.get("/.well-known/mercure", params={"match": "t"})
        assert r.status_code == 401 and "error=" not in r.headers["www-authenticate"]
        bad = hub_token(subscribe=["*"], key="wrong-wrong-wrong-wrong-wrong-wrong")
        r = await c.get(
            "/.well-known/mercure",
            params={"match": "t"},
            headers={"Authorization": f"Bearer {bad}"},
        )
        assert r.status_code == 401 and 'error="invalid_token"' in r.headers["www-authenticate"]
        r = await c.get("/.well-known/mercure", params={"match": "t", "access_token": _expired()})
        assert r.status_code == 401
    good = hub_token(subscribe=["t"])
    async with (
        server.client(cookies={"mercureAuthorization": good}) as c,
        subscribe(c, {"match": "t"}) as s,
    ):
        assert s.response.status_code == 200
        await server.publish("t", "secret", private=True)
        assert (await s.next()).data == "secret"


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"matchRegex": "t"},
        {"MATCHexact": "t"},
        {"match": "a\x01b"},
        {"match": "x" * 5000},
        {"matchURLPattern": "https://example.com/(unclosed"},
        {"topic": "{unbalanced"},
    ],
)
async def test_subscribe_validation(hub_server: HubServer, params) -> None:
    async with hub_server.client() as c:
        r = await c.get("/.well-known/mercure", params=params)
    assert r.status_code == 400, r.text
    assert r.headers["content-type"] == "application/problem+json"


async def test_too_many_matchers(hub_factory) -> None:
    server = await hub_factory(max_topics=3)
    async with server.client() as c:
        r = await c.get("/.well-known/mercure", params=[("match", f"t{i}") for i in range(4)])
    assert r.status_code == 400


async def test_cookie_publish_needs_same_origin(hub_server: HubServer) -> None:
    token = hub_token(publish=["*"])
    async with hub_server.client(cookies={"mercureAuthorization": token}) as c:
        r = await c.post("/.well-known/mercure", content="topic=t&data=x", headers=FORM)
        assert r.status_code == 403
        r = await c.post(
            "/.well-known/mercure",
            content="topic=t&data=x",
            headers={**FORM, "Origin": "https://evil.example"},
        )
        assert r.status_code == 403
        r = await c.post(
            "/.well-known/mercure",
            content="topic=t&data=x",
            headers={**FORM, "Origin": hub_server.url},
        )
        assert r.status_code == 200


def test_key_is_long_enough() -> None:
    assert len(KEY) >= 32
