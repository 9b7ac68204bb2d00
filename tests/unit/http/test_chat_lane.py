"""The chat lane starts ordinary turns itself and hands everything else to the route.

Whatever the lane does not take must reach FastAPI with the request unchanged, so
the route's errors stay the endpoint's only definition of them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from rill.config import BotConfig, Settings
from rill.http.app import build_services
from rill.http.chat_lane import ChatLane
from rill.http.services import Services


class Route:
    """Stands in for the FastAPI app: records what the lane hands over."""

    def __init__(self, services: Services) -> None:
        self.state = type("State", (), {"services": services})()
        self.calls: list[tuple[dict[str, Any], bytes]] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        message = await receive()
        self.calls.append((scope, message["body"]))
        await send({"type": "http.response.start", "status": 299, "headers": []})
        await send({"type": "http.response.body", "body": b"route"})


@pytest.fixture
async def services(tmp_path: Path) -> AsyncIterator[Services]:
    settings = Settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'rill.db'}",
                        bots=[BotConfig(id="echo", name="Echo", provider="echo", pace=0)])
    built = await build_services(settings)
    await built.chat.start()
    built.heartbeat.start()
    try:
        yield built
    finally:
        await built.chat.close(0)
        await built.heartbeat.close()
        await built.broker.close()
        await built.store.close()


async def call(lane: ChatLane, body: bytes, headers: list[tuple[bytes, bytes]]) -> tuple[int, bytes]:
    scope = {"type": "http", "method": "POST", "path": "/api/chat", "headers": headers}
    sent: list[dict[str, Any]] = []
    delivered = False

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await lane(scope, receive, send)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    return status, b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


def json_headers(token: str | None = None, cookie: str | None = None) -> list[tuple[bytes, bytes]]:
    headers = [(b"content-type", b"application/json")]
    if token is not None:
        headers.append((b"authorization", f"Bearer {token}".encode()))
    if cookie is not None:
        headers.append((b"cookie", cookie.encode()))
    return headers


async def test_an_ordinary_turn_streams_without_the_route(services: Services) -> None:
    route = Route(services)
    lane = ChatLane(route)  # type: ignore[arg-type]
    token = services.issuer.mint("alice")
    body = orjson.dumps({"chatbotId": "echo", "message": "hello lane"})
    status, stream = await call(lane, body, json_headers(token))
    assert (status, route.calls) == (200, [])
    assert b"event: message_start" in stream and b"event: message_stop" in stream
    assert b'"text":"hello "' in stream
    # The session cookie works as the route's does; the last cookie of a name wins.
    cookie = f"{services.settings.session_cookie}=junk; {services.settings.session_cookie}={token}"
    status, stream = await call(lane, body, json_headers(cookie=cookie))
    assert (status, route.calls) == (200, [])


@pytest.mark.parametrize("case", [
    "bad json", "not an object", "missing bot", "wrong type", "form body", "no token",
    "bad token", "basic auth", "other user", "empty message", "regenerate",
])
async def test_anything_unusual_goes_to_the_route_unchanged(services: Services, case: str) -> None:
    route = Route(services)
    lane = ChatLane(route)  # type: ignore[arg-type]
    token = services.issuer.mint("alice")
    good = {"chatbotId": "echo", "message": "hi"}
    body = orjson.dumps(good)
    headers = json_headers(token)
    if case == "bad json":
        body = b'{"chatbotId": "echo", "message": '
    elif case == "not an object":
        body = b"[]"
    elif case == "missing bot":
        body = orjson.dumps({"message": "hi"})
    elif case == "wrong type":
        body = orjson.dumps({**good, "chatbotId": 7})
    elif case == "form body":
        headers = [(b"content-type", b"application/x-www-form-urlencoded"),
                   (b"authorization", f"Bearer {token}".encode())]
    elif case == "no token":
        headers = json_headers()
    elif case == "bad token":
        headers = json_headers(token[:-3] + "abc")
    elif case == "basic auth":
        headers = [(b"content-type", b"application/json"), (b"authorization", b"Basic eDp5")]
    elif case == "other user":
        body = orjson.dumps({**good, "userId": "bob"})
    elif case == "empty message":
        body = orjson.dumps({**good, "message": "  "})
    elif case == "regenerate":
        body = orjson.dumps({"chatbotId": "echo", "regenerate": True, "conversationId": "c"})
    status, answer = await call(lane, body, headers)
    assert (status, answer) == (299, b"route")
    assert [b for _, b in route.calls] == [body]


async def test_errors_after_admission_are_problem_json(services: Services) -> None:
    route = Route(services)
    lane = ChatLane(route)  # type: ignore[arg-type]
    body = orjson.dumps({"chatbotId": "echo", "message": "hi", "conversationId": "conv_nope"})
    status, answer = await call(lane, body, json_headers(services.issuer.mint("alice")))
    problem = orjson.loads(answer)
    assert (status, problem["status"], route.calls) == (404, 404, [])
    assert problem["type"].endswith("/not_found_error")
