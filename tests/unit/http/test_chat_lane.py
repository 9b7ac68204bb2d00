"""The chat lane and the FastAPI route admit turns by the same rules (http/admission.py).

The lane answers whatever parses; a body that does not parse or validate must reach
FastAPI unchanged, so the route's validation errors stay their only definition.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from rill.config import BotConfig, Settings
from rill.http.app import build_services, create_api
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
    scope = {"type": "http", "method": "POST", "path": "/api/chat", "headers": headers,
             "query_string": b"", "root_path": "", "scheme": "http", "server": ("t", 80)}
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
    "bad json", "not an object", "missing bot", "wrong type", "form body", "lone surrogate",
    "nul in message",
])
async def test_what_does_not_parse_goes_to_the_route_unchanged(
    services: Services, case: str
) -> None:
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
    elif case == "lone surrogate":
        body = b'{"chatbotId": "echo", "message": "a\\ud800b"}'
    elif case == "nul in message":
        body = b'{"chatbotId": "echo", "message": "a\\u0000b"}'
    status, answer = await call(lane, body, headers)
    assert (status, answer) == (299, b"route")
    assert [b for _, b in route.calls] == [body]


@pytest.mark.parametrize("case", [
    "no token", "bad token", "basic auth", "other user", "empty message", "too long",
    "regenerate without conversation", "regenerate with a message", "id that cannot exist",
    "unknown conversation", "unknown bot",
])
async def test_the_lane_answers_as_the_route_does(services: Services, case: str) -> None:
    route = Route(services)
    lane = ChatLane(route)  # type: ignore[arg-type]
    api = create_api(services.settings)
    api.state.services = services
    token = services.issuer.mint("alice")
    good = {"chatbotId": "echo", "message": "hi"}
    fields: dict[str, Any] = dict(good)
    headers = json_headers(token)
    if case == "no token":
        headers = json_headers()
    elif case == "bad token":
        headers = json_headers(token[:-3] + "abc")
    elif case == "basic auth":
        headers = [(b"content-type", b"application/json"), (b"authorization", b"Basic eDp5")]
    elif case == "other user":
        fields["userId"] = "bob"
    elif case == "empty message":
        fields["message"] = "  "
    elif case == "too long":
        fields["message"] = "x" * (services.settings.max_message_chars + 1)
    elif case == "regenerate without conversation":
        fields = {"chatbotId": "echo", "regenerate": True}
    elif case == "regenerate with a message":
        fields = {**good, "regenerate": True, "conversationId": "conv_x"}
    elif case == "id that cannot exist":
        fields["conversationId"] = "conv_nope"
    elif case == "unknown conversation":
        fields["conversationId"] = "conv_01J0000000000000000000000A"
    elif case == "unknown bot":
        fields["chatbotId"] = "nobody"
    body = orjson.dumps(fields)
    by_lane = await call(lane, body, headers)
    by_route = await call(api, body, headers)  # type: ignore[arg-type]
    assert route.calls == []
    assert by_lane[0] >= 400 and by_lane == by_route


async def test_errors_after_admission_are_problem_json(services: Services) -> None:
    route = Route(services)
    lane = ChatLane(route)  # type: ignore[arg-type]
    body = orjson.dumps({"chatbotId": "echo", "message": "hi", "conversationId": "conv_nope"})
    status, answer = await call(lane, body, json_headers(services.issuer.mint("alice")))
    problem = orjson.loads(answer)
    assert (status, problem["status"], route.calls) == (404, 404, [])
    assert problem["type"].endswith("/not_found_error")
