"""CORS only for configured origins, never credentials with ``*``; and no secret, token
or message body in the server's log at info level."""

from __future__ import annotations

import asyncio
import socket
from urllib.parse import urlencode

import httpx

from rill.auth.tokens import TokenIssuer
from tests.conftest import RunningServer
from tests.fakes.openai_stream import completion
from tests.fakes.upstream import FakeUpstream
from tests.reliability.support import poll

ECHO = '[[bots]]\nid = "echo"\nname = "Echo"\nprovider = "echo"\npace = 0\n'


def _preflight(url: str, origin: str, path: str = "/api/history",
               method: str = "GET") -> httpx.Response:
    return httpx.options(f"{url}{path}", timeout=10, headers={
        "Origin": origin, "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": "authorization"})


def test_cors_only_for_configured_origins(server_factory) -> None:
    server = server_factory(config=ECHO, env={"RILL_CORS_ORIGINS": '["http://a.example"]'})
    ok = _preflight(server.url, "http://a.example")
    assert ok.status_code == 200
    assert ok.headers["access-control-allow-origin"] == "http://a.example"
    assert ok.headers.get("access-control-allow-credentials") == "true"
    evil = _preflight(server.url, "http://evil.example")
    assert "access-control-allow-origin" not in evil.headers
    r = httpx.get(f"{server.url}/api/bots", headers={"Origin": "http://evil.example"}, timeout=10)
    assert "access-control-allow-origin" not in r.headers
    r = httpx.get(f"{server.url}/api/bots", headers={"Origin": "http://a.example"}, timeout=10)
    assert r.headers["access-control-allow-origin"] == "http://a.example"
    # The hub answers no CORS grant of its own to foreign origins either.
    with httpx.Client(timeout=5) as c, c.stream(
            "GET", f"{server.url}/.well-known/mercure", params={"match": "t"},
            headers={"Origin": "http://evil.example"}) as s:
        assert s.headers.get("access-control-allow-origin") not in ("*", "http://evil.example")


def _hub_head(server: RunningServer, origin: str) -> bytes:
    """A subscription's head, read off the socket (``rill serve``: the direct path)."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(b"GET /.well-known/mercure?match=t HTTP/1.1\r\nHost: x\r\n"
                     b"Origin: " + origin.encode() + b"\r\n\r\n")
        head = b""
        while b"\r\n\r\n" not in head:
            head += sock.recv(4096)
    return head.split(b"\r\n\r\n")[0].lower()


def test_the_hub_follows_the_same_cors_policy(server_factory) -> None:
    server = server_factory(config=ECHO, env={
        "RILL_CORS_ORIGINS": '["http://a.example"]', "RILL_JWT_SECRET": SECRET})
    ok = _preflight(server.url, "http://a.example", "/.well-known/mercure", "POST")
    assert ok.status_code == 200
    assert ok.headers["access-control-allow-origin"] == "http://a.example"
    assert ok.headers["access-control-allow-credentials"] == "true"
    evil = _preflight(server.url, "http://evil.example", "/.well-known/mercure", "POST")
    assert evil.status_code == 400
    assert "access-control-allow-origin" not in evil.headers
    head = _hub_head(server, "http://a.example")
    assert head.startswith(b"http/1.1 200 ok\r\n")
    assert b"\r\naccess-control-allow-origin: http://a.example\r\n" in head
    assert b"\r\naccess-control-allow-credentials: true\r\n" in head
    assert b"\r\nvary: origin\r\n" in head
    assert b"access-control-" not in _hub_head(server, "http://evil.example")
    publisher = TokenIssuer(SECRET).mint("pub", ttl=600, mercure={"publish": ["*"]})
    r = httpx.post(f"{server.url}/.well-known/mercure", timeout=10,
                   content=urlencode({"topic": "t", "data": "x"}), headers={
                       "Origin": "http://a.example", "Authorization": f"Bearer {publisher}",
                       "Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == "http://a.example"
    assert r.headers["access-control-allow-credentials"] == "true"


def test_wildcard_origin_never_allows_credentials(server_factory) -> None:
    server = server_factory(config=ECHO, env={"RILL_CORS_ORIGINS": '["*"]'})
    r = _preflight(server.url, "http://anything.example")
    assert r.headers.get("access-control-allow-origin") == "*"
    assert r.headers.get("access-control-allow-credentials") != "true"
    r = httpx.get(f"{server.url}/api/bots", timeout=10, headers={
        "Origin": "http://anything.example", "Cookie": "rill_session=x"})
    assert r.headers.get("access-control-allow-credentials") != "true"
    # The hub too: its preflight and a subscription under ``rill serve``.
    r = _preflight(server.url, "http://anything.example", "/.well-known/mercure", "POST")
    assert r.headers.get("access-control-allow-origin") == "*"
    assert r.headers.get("access-control-allow-credentials") != "true"
    head = _hub_head(server, "http://anything.example")
    assert b"\r\naccess-control-allow-origin: *\r\n" in head
    assert b"access-control-allow-credentials" not in head


SECRET = "log-test-jwt-secret-0123456789abcdef-xyz"
UPSTREAM_KEY = "sk-log-test-upstream-key-NEVER-LOG-ME"
BODY_MARKER = "confidential-body-7f3a9c"


async def test_no_secret_token_or_body_in_the_log(server_factory) -> None:
    async with FakeUpstream(lambda request: completion([f"reply {BODY_MARKER}"])) as upstream:
        config = ECHO + (f'[[bots]]\nid = "gpt"\nname = "GPT"\nprovider = "openai"\n'
                         f'model = "m"\nbase_url = "{upstream.url}/v1"\n'
                         'api_key_env = "RILL_TEST_LOG_KEY"\nmax_retries = 0\n')
        server = await asyncio.to_thread(server_factory, config=config, env={
            "RILL_JWT_SECRET": SECRET, "RILL_TEST_LOG_KEY": UPSTREAM_KEY,
            "RILL_LOG_LEVEL": "info"})
        user = TokenIssuer(SECRET).mint("logged-user", ttl=600)
        publisher = TokenIssuer(SECRET).mint("pub", ttl=600, mercure={"publish": ["*"]})
        subscriber = TokenIssuer(SECRET).mint("sub", ttl=600, mercure={"subscribe": ["*"]})
        async with httpx.AsyncClient(base_url=server.url, timeout=20) as c:
            auth = {"Authorization": f"Bearer {user}"}
            for bot in ("echo", "gpt"):
                async with c.stream("POST", "/api/chat", headers=auth, json={
                        "chatbotId": bot, "message": f"please keep {BODY_MARKER} private"}) as r:
                    assert r.status_code == 200
                    await r.aread()
            assert (await c.post("/api/chat", headers=auth,
                                 json={"chatbotId": "nope", "message": BODY_MARKER})).status_code
            async with c.stream("GET", "/.well-known/mercure",
                                params={"match": "t", "authorization": subscriber}) as s:
                assert s.status_code == 200
                r = await c.post("/.well-known/mercure", content=urlencode(
                    {"topic": "t", "data": BODY_MARKER}), headers={
                    "Authorization": f"Bearer {publisher}",
                    "Content-Type": "application/x-www-form-urlencoded"})
                assert r.status_code == 200
            # A refused token must not be echoed either.
            await c.get("/api/me", headers={"Authorization": f"Bearer {user}x"})
        assert upstream.requests, "the upstream was called (so its key was in use)"
    server.stop()
    log = server.logs()
    poll(lambda: log.strip(), within=1, what="a log")
    for secret in (UPSTREAM_KEY, SECRET, user, publisher, subscriber, BODY_MARKER,
                   user.split(".")[2], publisher.split(".")[2]):
        assert secret not in log, f"{secret[:12]}… appears in the server log"


def test_hub_requests_are_in_the_access_log_without_their_query(server_factory) -> None:
    server = server_factory(config=ECHO, env={"RILL_JWT_SECRET": SECRET, "RILL_LOG_LEVEL": "info"})
    publisher = TokenIssuer(SECRET).mint("pub", ttl=600, mercure={"publish": ["*"]})
    subscriber = TokenIssuer(SECRET).mint("sub", ttl=600, mercure={"subscribe": ["*"]})
    with httpx.Client(base_url=server.url, timeout=10) as c, c.stream(
            "GET", "/.well-known/mercure",
            params={"match": "t", "authorization": subscriber}) as s:
        assert s.status_code == 200
        r = c.post("/.well-known/mercure", content=urlencode({"topic": "t", "data": "x"}),
                   headers={"Authorization": f"Bearer {publisher}",
                            "Content-Type": "application/x-www-form-urlencoded"})
        assert r.status_code == 200
        lines = s.iter_lines()
        while next(lines) != "data: x":
            pass

    def hub_lines() -> list[str]:
        return [line.split("rill.access: ", 1)[1] for line in server.logs().splitlines()
                if "rill.access: " in line and "/.well-known/mercure" in line]

    # The subscription's line is written when it ends.
    poll(lambda: len(hub_lines()) == 2, within=5, what="two hub access-log lines")
    found = sorted(line.split("ms ", 1)[0].rsplit(" ", 1)[0] for line in hub_lines())
    assert found == ["GET /.well-known/mercure 200", "POST /.well-known/mercure 200"]
    log = server.logs()
    assert subscriber not in log and "authorization=" not in log and "match=" not in log
