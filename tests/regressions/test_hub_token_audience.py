"""Hub tokens verified with the chat's key are held to the chat's issuer and audience.

Found by tests/security/test_authz_matrix.py: with RILL_JWT_SECRET, RILL_JWT_ISSUER and
RILL_JWT_AUDIENCE set and no hub-specific key, the hub verified tokens with the shared
secret but checked neither claim, so a token minted for another service (another
audience) carrying a ``mercure`` claim could publish.
"""

from __future__ import annotations

import time
from urllib.parse import urlencode

import httpx
import jwt

SECRET = "audience-regression-secret-0123456789abcdef"


def _token(**claims: object) -> str:
    body = {"sub": "svc", "exp": int(time.time()) + 600, "mercure": {"publish": ["*"]}, **claims}
    return jwt.encode(body, SECRET, algorithm="HS256")


def _publish(url: str, token: str) -> int:
    return httpx.post(f"{url}/.well-known/mercure", content=urlencode({"topic": "t", "data": "x"}),
                      headers={"Authorization": f"Bearer {token}",
                               "Content-Type": "application/x-www-form-urlencoded"},
                      timeout=10).status_code


def test_wrong_audience_or_issuer_cannot_publish(server_factory) -> None:
    server = server_factory(env={"RILL_JWT_SECRET": SECRET, "RILL_JWT_ISSUER": "https://id",
                                 "RILL_JWT_AUDIENCE": "rill"})
    assert _publish(server.url, _token(iss="https://id", aud="rill")) == 200
    assert _publish(server.url, _token(iss="https://id", aud="another-service")) == 401
    assert _publish(server.url, _token(iss="https://elsewhere", aud="rill")) == 401
    assert _publish(server.url, _token()) == 401
