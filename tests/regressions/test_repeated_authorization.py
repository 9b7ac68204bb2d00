"""Issue 13: with two ``Authorization`` headers ``/api/me`` took the first and the chat
lane the second. A request carrying more than one is refused with 400, everywhere."""

from __future__ import annotations

import httpx
import pytest

REQUESTS = [
    ("GET", "/api/me", None),
    ("POST", "/api/chat", b'{"chatbotId": "echo", "message": "hi"}'),
    ("GET", "/.well-known/mercure?topic=x", None),
    ("POST", "/.well-known/mercure", b"topic=x&data=y"),
    ("GET", "/api/history?chatbotId=echo", None),
]


@pytest.mark.parametrize(("method", "path", "body"), REQUESTS)
def test_two_authorization_headers_are_refused(rill_server, method: str, path: str,
                                               body: bytes | None) -> None:
    alice, bob = rill_server.session_token(), rill_server.session_token()
    headers = [("Authorization", f"Bearer {alice}"), ("Authorization", f"Bearer {bob}"),
               ("Content-Type", "application/json" if path == "/api/chat"
                else "application/x-www-form-urlencoded")]
    with httpx.Client(base_url=rill_server.url, timeout=5) as client:
        response = client.request(method, path, headers=headers, content=body)
        assert response.status_code == 400, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["status"] == 400
        # One header still works (and the connection was kept usable).
        alone = client.request("GET", "/api/me", headers={"Authorization": f"Bearer {alice}"})
        assert alone.status_code == 200


def test_the_same_token_twice_is_refused_too(rill_server) -> None:
    token = rill_server.session_token()
    response = httpx.get(f"{rill_server.url}/api/me", timeout=5,
                         headers=[("Authorization", f"Bearer {token}")] * 2)
    assert response.status_code == 400
