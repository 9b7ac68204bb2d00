"""Provider faults through a real server: retries before the first token follow
``bot.max_retries``; 429/5xx past the retries, a stall before the first token and a
stream cut mid-reply each end with a clear ``error`` event and a stored ``error``
message holding the partial text. (Stall mid-reply, 500 without retries and cancel
are in tests/integration/chat/test_upstream_faults.py.)"""

from __future__ import annotations

import asyncio

import httpx
import pytest

from rill.sse import SSEDecoder
from tests.fakes.openai_stream import completion, error_body, opening
from tests.fakes.upstream import Cut, FakeUpstream, Reply, Stall


def _config(url: str, retries: int) -> str:
    return (f'[[bots]]\nid = "gpt"\nname = "GPT"\nprovider = "openai"\nmodel = "m"\n'
            f'base_url = "{url}/v1"\napi_key_env = "RILL_TEST_KEY"\nmax_retries = {retries}\n')


async def _turn(server) -> tuple[list, dict]:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as c:
        token = (await c.post("/api/session")).json()["token"]
        c.headers["Authorization"] = f"Bearer {token}"
        decoder = SSEDecoder()
        events: list = []
        async with c.stream("POST", "/api/chat", json={"chatbotId": "gpt", "message": "hi"}) as r:
            assert r.status_code == 200
            async for chunk in r.aiter_raw():
                events += decoder.feed(chunk)
        message_id = events[0].json()["message"]["id"]
        page = (await c.get("/api/history", params={"chatbotId": "gpt"})).json()
        stored = next(m for m in page["messages"] if m["id"] == message_id)
    return events, stored


def _text(events: list) -> str:
    return "".join(e.json()["delta"]["text"] for e in events if e.event == "content_block_delta")


def _error(events: list) -> dict:
    names = [e.event for e in events]
    assert names[-4:] == ["error", "content_block_stop", "message_delta", "message_stop"], names
    return next(e.json() for e in events if e.event == "error")["error"]


@pytest.mark.parametrize(("faults", "retries", "outcome"), [
    ([error_body(429, "slow down", "rate_limit_error")] * 2, 2, "complete"),
    ([error_body(503, "overloaded", "server_error")], 1, "complete"),
    ([error_body(500, "boom", "server_error")] * 3, 2, "overloaded_error|api_error"),
    ([error_body(429, "slow down", "rate_limit_error")] * 2, 1, "overloaded_error|api_error"),
])
async def test_retries_before_the_first_token(server_factory, faults, retries, outcome) -> None:
    replies = [*faults, completion(["fine ", "answer"])]
    async with FakeUpstream(lambda request: replies.pop(0)) as upstream:
        server = await asyncio.to_thread(server_factory, config=_config(upstream.url, retries),
                                         env={"RILL_TEST_KEY": "sk-x"})
        events, stored = await _turn(server)
        attempts = len(upstream.requests)
    if outcome == "complete":
        assert _text(events) == "fine answer" and stored["status"] == "complete"
        assert attempts == len(faults) + 1
    else:
        assert _error(events)["type"] in outcome.split("|")
        assert stored["status"] == "error" and stored["content"] == ""
        assert attempts == retries + 1, "retried exactly max_retries times"


@pytest.mark.parametrize(("body", "kind", "partial"), [
    ([*opening(["half ", "a reply"]), Cut()], "api_error", "half a reply"),
    ([Stall()], "timeout_error", ""),
])
async def test_a_cut_or_silent_stream_ends_with_error_and_partial_text(
        server_factory, body, kind, partial) -> None:
    replies = [Reply.sse(body)]
    async with FakeUpstream(lambda request: replies.pop(0) if replies else Reply.sse([Stall()])
                            ) as upstream:
        server = await asyncio.to_thread(
            server_factory, config=_config(upstream.url, 0),
            env={"RILL_TEST_KEY": "sk-x", "RILL_FIRST_TOKEN_TIMEOUT": "1", "RILL_IDLE_TIMEOUT": "1"})
        events, stored = await _turn(server)
    error = _error(events)
    assert error["type"] in (kind, "api_error", "overloaded_error", "timeout_error")
    assert error["message"]
    assert _text(events) == partial
    assert stored["status"] == "error" and stored["stopReason"] == "error"
    assert stored["content"] == partial, "the partial text is stored"
