"""Spec § Discovery: protected resource metadata (RFC 9728) and the challenge that points to it."""

from __future__ import annotations

import httpx

from tests.conformance.conftest import COOKIE, ISSUER, Hub

METADATA = "/.well-known/oauth-protected-resource/.well-known/mercure"


def test_metadata_document(strict: Hub) -> None:
    r = httpx.get(strict.url + METADATA)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert body["resource"] == strict.audience
    assert body["authorization_servers"] == [ISSUER]
    assert body["bearer_methods_supported"] == ["header"]
    assert "https://mercure.rocks/authorization-detail" in body[
        "authorization_details_types_supported"]
    # The cookie is no RFC 6750 method: its own member names it.
    assert body["mercure_cookie"] == COOKIE
    assert body["mercure_subscriptions"] is True


def test_default_hub_metadata(default: Hub) -> None:
    body = httpx.get(default.url + METADATA).json()
    assert body["resource"] == f"{default.url}/.well-known/mercure"
    assert body["bearer_methods_supported"] == ["header"]
    assert body["mercure_cookie"] == COOKIE
    assert "mercure_subscriptions" not in body and "authorization_servers" not in body


def test_every_challenge_points_to_the_metadata(strict: Hub) -> None:
    for r in (strict.publish([("topic", "t")]), strict.publish([("topic", "t")], "bad")):
        assert f'resource_metadata="{strict.url}{METADATA}"' in r.headers["www-authenticate"]
