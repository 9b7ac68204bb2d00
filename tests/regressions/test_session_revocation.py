"""Issue 13: ``DELETE /api/session`` cleared the cookie but the token stayed valid for
its 30 days. Signing out now revokes the token: refused at once on this node (the
verified-token memory included), after a restart, and on every node sharing the store."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.conftest import POSTGRES_URL, REDIS_URL

CHAT = {"chatbotId": "echo", "message": "hi"}


def _me(url: str, token: str) -> int:
    return httpx.get(f"{url}/api/me", headers={"Authorization": f"Bearer {token}"},
                     timeout=10).status_code


def _sign_out(url: str, token: str) -> None:
    response = httpx.delete(f"{url}/api/session", headers={"Authorization": f"Bearer {token}"},
                            timeout=10)
    assert response.status_code == 204


def test_a_signed_out_token_is_refused_everywhere_at_once(server_factory) -> None:
    server = server_factory()
    token, other = server.session_token(), server.session_token()
    assert _me(server.url, token) == 200  # now remembered as verified
    _sign_out(server.url, token)
    assert _me(server.url, token) == 401
    chat = httpx.post(f"{server.url}/api/chat", json=CHAT, timeout=10,
                      headers={"Authorization": f"Bearer {token}"})
    assert chat.status_code == 401 and chat.headers["content-type"] == "application/problem+json"
    hub = httpx.get(f"{server.url}/.well-known/mercure", params={"topic": "x"}, timeout=10,
                    cookies={"rill_session": token})
    assert hub.status_code == 401
    assert _me(server.url, other) == 200, "only the signed-out token is revoked"
    # Signing out again, or with a bad token, is harmless.
    _sign_out(server.url, token)
    assert httpx.delete(f"{server.url}/api/session", timeout=10).status_code == 204


def test_signing_out_with_the_cookie_revokes_it(server_factory) -> None:
    server = server_factory()
    with httpx.Client(base_url=server.url, timeout=10) as browser:
        token = browser.post("/api/session").json()["token"]
        assert browser.get("/api/me").status_code == 200
        assert browser.delete("/api/session").status_code == 204
    assert _me(server.url, token) == 401


def test_revocation_survives_a_restart(server_factory, tmp_path) -> None:
    data_dir = tmp_path / "kept"
    server = server_factory(data_dir=data_dir)
    revoked, kept = server.session_token(), server.session_token()
    _sign_out(server.url, revoked)
    server.stop()
    again = server_factory(data_dir=data_dir)
    assert _me(again.url, revoked) == 401
    assert _me(again.url, kept) == 200


@pytest.mark.redis
@pytest.mark.postgres
def test_revocation_reaches_every_node_sharing_the_store(server_factory) -> None:
    env = {"RILL_BROKER_URL": REDIS_URL, "RILL_DATABASE_URL": POSTGRES_URL,
           "RILL_SESSION_SECRET": "revocation-test-secret-0123456789abcdef"}
    first, second = server_factory(env=env), server_factory(env=env)
    token = first.session_token()
    assert _me(second.url, token) == 200  # the second node remembers it as verified
    _sign_out(first.url, token)
    deadline = time.monotonic() + 6
    while _me(second.url, token) == 200:
        assert time.monotonic() < deadline, "the other node still honours the token"
        time.sleep(0.2)
    assert _me(first.url, token) == 401
