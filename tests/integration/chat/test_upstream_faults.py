"""A real server in front of a fake OpenAI-compatible upstream: faults end cleanly."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from rill.sse import ServerSentEvent, SSEDecoder
from tests.conftest import RunningServer
from tests.fakes.openai_stream import completion, error_body, opening
from tests.fakes.upstream import FakeUpstream, Pause, Reply, Stall

SECRET_KEY = "sk-test-this-must-never-be-logged-42"


def _config(url: str) -> str:
    return f"""
[[bots]]
id = "gpt"
name = "GPT"
provider = "openai"
model = "fake-model"
base_url = "{url}/v1"
api_key_env = "RILL_TEST_UPSTREAM_KEY"
max_retries = 0
"""


@pytest.fixture
async def upstream_and_server(server_factory) -> AsyncIterator[tuple[list[Reply], FakeUpstream, RunningServer]]:
    replies: list[Reply] = []
    async with FakeUpstream(lambda request: replies.pop(0)) as upstream:
        server = await asyncio.to_thread(
            server_factory,
            config=_config(upstream.url),
            env={"RILL_TEST_UPSTREAM_KEY": SECRET_KEY, "RILL_FIRST_TOKEN_TIMEOUT": "1",
                 "RILL_IDLE_TIMEOUT": "1"},
        )
        yield replies, upstream, server


async def _client(server: RunningServer) -> httpx.AsyncClient:
    async with httpx.AsyncClient(base_url=server.url) as c:
        token = (await c.post("/api/session")).json()["token"]
    return httpx.AsyncClient(base_url=server.url, timeout=20,
                             headers={"Authorization": f"Bearer {token}"})


async def _events(client: httpx.AsyncClient, message: str) -> list[ServerSentEvent]:
    decoder = SSEDecoder()
    out: list[ServerSentEvent] = []
    async with client.stream("POST", "/api/chat", json={"chatbotId": "gpt", "message": message}) as r:
        assert r.status_code == 200
        async for chunk in r.aiter_raw():
            out += decoder.feed(chunk)
    return out


def _text(events: list[ServerSentEvent]) -> str:
    return "".join(e.json()["delta"]["text"] for e in events if e.event == "content_block_delta")


async def _stored(client: httpx.AsyncClient, message_id: str) -> dict[str, object]:
    page = (await client.get("/api/history", params={"chatbotId": "gpt"})).json()
    return next(m for m in page["messages"] if m["id"] == message_id)


async def test_upstream_reply_streams_through(upstream_and_server):
    replies, upstream, server = upstream_and_server
    replies.append(completion(["Hel", "lo ", "wor", "ld"], usage=(11, 4)))
    async with await _client(server) as client:
        events = await _events(client, "hi")
        assert _text(events) == "Hello world"
        delta = next(e.json() for e in events if e.event == "message_delta")
        assert delta["delta"]["stop_reason"] == "end_turn"
        assert delta["usage"]["output_tokens"] == 4
    sent = upstream.requests[0]
    assert sent.headers["authorization"] == f"Bearer {SECRET_KEY}"
    assert sent.json()["messages"][-1] == {"role": "user", "content": "hi"}
    assert SECRET_KEY not in server.logs()


async def test_stalled_upstream_ends_with_timeout_error(upstream_and_server):
    replies, upstream, server = upstream_and_server
    replies.append(Reply.sse([*opening(["partial ", "text"]), Stall()]))
    async with await _client(server) as client:
        events = await _events(client, "stall please")
        names = [e.event for e in events]
        assert names[-4:] == ["error", "content_block_stop", "message_delta", "message_stop"]
        error = next(e.json() for e in events if e.event == "error")
        assert error["error"]["type"] == "timeout_error"
        stored = await _stored(client, events[0].json()["message"]["id"])
        assert stored["status"] == "error" and stored["content"] == "partial text"
    await upstream.wait_client_closed(within=2)


async def test_upstream_error_status_becomes_error_event(upstream_and_server):
    replies, upstream, server = upstream_and_server
    replies.append(error_body(500, "boom with internal details", "server_error"))
    async with await _client(server) as client:
        events = await _events(client, "fail please")
        error = next(e.json() for e in events if e.event == "error")
        assert error["error"]["type"] == "api_error"
        assert "internal details" not in error["error"]["message"]
        stored = await _stored(client, events[0].json()["message"]["id"])
        assert stored["status"] == "error" and stored["stopReason"] == "error"


async def test_cancel_closes_the_upstream_request(upstream_and_server):
    replies, upstream, server = upstream_and_server
    slow = [*opening(["a "]), *[step for i in range(50) for step in (Pause(0.1), opening([f"w{i} "])[1])]]
    replies.append(Reply.sse(slow))
    async with await _client(server) as client:
        decoder = SSEDecoder()
        async with client.stream("POST", "/api/chat", json={"chatbotId": "gpt", "message": "go"}) as r:
            async for chunk in r.aiter_raw():
                events = decoder.feed(chunk)
                if any(e.event == "content_block_delta" for e in events):
                    break
        message_id = (await client.get(
            "/api/history", params={"chatbotId": "gpt"})).json()["messages"][-1]["id"]
        loop = asyncio.get_running_loop()
        asked = loop.time()
        assert (await client.post(f"/api/chat/{message_id}/cancel")).status_code == 202
        closed = await upstream.wait_client_closed(within=2)
        assert closed - asked < 0.5
        for _ in range(50):
            stored = await _stored(client, message_id)
            if stored["status"] != "streaming":
                break
            await asyncio.sleep(0.05)
        assert stored["status"] == "cancelled" and stored["content"].startswith("a ")
