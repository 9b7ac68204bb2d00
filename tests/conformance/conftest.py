"""Rill's own Mercure conformance suite, written from the spec (draft-dunglas-mercure-08,
current revision): a real ``rill serve`` per configuration, tokens minted here.

``strict`` runs with every behaviour of earlier revisions off, a resource identifier
(``aud``), an issuer, ``typ: at+jwt`` required and active subscriptions on: what the
spec asks of a hub. ``default`` is Rill out of the box (legacy behaviours on), for the
tests that say what stays compatible. docs/mercure.md maps each MUST to these tests.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import jwt
import pytest

from tests.conftest import RunningServer, free_port, start_server

PUBLISHER_KEY = "conformance-publisher-key-0123456789abcdef"
SUBSCRIBER_KEY = "conformance-subscriber-key-0123456789abcdef"
ISSUER = "https://issuer.conformance.test"
DETAIL_TYPE = "https://mercure.rocks/authorization-detail"
COOKIE = "__Secure-mercure_access_token"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@dataclass
class Hub:
    """A running ``rill serve`` and what its tokens must say."""

    server: RunningServer
    #: The resource identifier the hub checks ``aud`` against (None: not configured).
    audience: str | None
    issuer: str | None

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def hub_url(self) -> str:
        return f"{self.server.url}/.well-known/mercure"

    def token(
        self,
        details: list[dict[str, Any]] | None = None,
        *,
        key: str = PUBLISHER_KEY,
        ttl: float | None = 600,
        typ: str | None = "at+jwt",
        alg: str = "HS256",
        **claims: Any,
    ) -> str:
        """A JWT access token (RFC 9068) as the spec describes it; override any part."""
        body: dict[str, Any] = {"sub": "urn:uuid:conformance", **claims}
        if details is not None:
            body["authorization_details"] = details
        if ttl is not None:
            body.setdefault("exp", int(time.time() + ttl))
        if self.audience is not None:
            body.setdefault("aud", self.audience)
        if self.issuer is not None:
            body.setdefault("iss", self.issuer)
        body = {k: v for k, v in body.items() if v is not None}
        headers = {"typ": typ} if typ is not None else {}
        if alg == "none":
            return jwt.encode(body, None, algorithm="none", headers=headers)
        return jwt.encode(body, key, algorithm=alg, headers=headers)

    def publisher(self, *topics: str, **kwargs: Any) -> str:
        return self.token([detail(["publish"], *(topics or ("*",)))], **kwargs)

    def subscriber(self, *topics: str, **kwargs: Any) -> str:
        kwargs.setdefault("key", SUBSCRIBER_KEY)
        return self.token([detail(["subscribe"], *(topics or ("*",)))], **kwargs)

    def publish(
        self, fields: list[tuple[str, str]], token: str | None = None, **headers: str
    ) -> httpx.Response:
        auth = {"Authorization": f"Bearer {token}"} if token is not None else {}
        return httpx.post(
            self.hub_url, content=urlencode(fields), headers={**FORM, **auth, **headers}, timeout=10
        )


def detail(
    actions: list[Any], *topics: str | dict[str, Any], type: str = DETAIL_TYPE, **extra: Any
) -> dict[str, Any]:
    """One Mercure authorization detail; a plain string topic is an ``exact`` matcher."""
    return {
        "type": type,
        "actions": actions,
        "topics": [t if isinstance(t, dict) else {"match": t} for t in topics],
        **extra,
    }


def pattern(value: str) -> dict[str, str]:
    return {"match": value, "match_type": "urlpattern"}


def start_hub(root: Path, name: str, **hub: str) -> tuple[RunningServer, str]:
    port = free_port()
    resource = f"http://127.0.0.1:{port}/.well-known/mercure"
    env = {
        "RILL_HUB__PUBLISHER_JWT_KEY": PUBLISHER_KEY,
        "RILL_HUB__SUBSCRIBER_JWT_KEY": SUBSCRIBER_KEY,
        "RILL_HUB__HEARTBEAT_SECONDS": "0.5",
        "RILL_HUB__MAX_TOPICS": "20",
        "RILL_HUB__MAX_TOPIC_LENGTH": "512",
        "RILL_HUB__MAX_DATA_BYTES": "65536",
        **{f"RILL_HUB__{k.upper()}": v.replace("{resource}", resource) for k, v in hub.items()},
    }
    return start_server(root / name, env=env, port=port), resource


@pytest.fixture(scope="session")
def strict(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    server, resource = start_hub(
        tmp_path_factory.mktemp("conformance"),
        "strict",
        jwt_audience="{resource}",
        jwt_issuer=ISSUER,
        require_access_token_type="true",
        legacy_tokens="false",
        legacy_cookies="false",
        legacy_parameters="false",
        subscriptions="true",
    )
    yield Hub(server, resource, ISSUER)
    server.stop()


@pytest.fixture(scope="session")
def default(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    server, _ = start_hub(tmp_path_factory.mktemp("conformance"), "default")
    yield Hub(server, None, None)
    server.stop()
